//! The gateway example end to end: a real HTTP client POSTs JSON to `grpc-wasi-harness serve`
//! hosting the gateway component, which calls the real tonic echo server over gRPC.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use grpc_wasi_harness::guest;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::{echo_server, fault_server};
use grpc_wasi_host::proxy;
use grpc_wasi_host::{RunOptions, Runner};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Starts the gateway against `server` with `transport`, granting the server only when `grant`.
fn gateway(runner: &Runner, server: &TestServer, transport: &str, grant: bool) -> proxy::Serving {
    let component = runner.load(&guest::build("gateway").unwrap()).unwrap();
    let mut options = RunOptions {
        env: vec![
            ("GRPC_BACKEND".into(), server.uri()),
            ("GRPC_TRANSPORT".into(), transport.into()),
        ],
        ..RunOptions::default()
    };
    if grant {
        let addr = server.addr().to_string();
        match transport {
            "sockets" => options.network.allow(&addr).unwrap(),
            _ => options.network.allow_http(&addr).unwrap(),
        };
    }
    proxy::start(runner, &component, "127.0.0.1:0".parse().unwrap(), options).unwrap()
}

/// POSTs `body` to `http://ADDR/PATH` with an HTTP/1.1 client; returns status and JSON body.
fn post(
    runner: &Runner,
    serving: &proxy::Serving,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::post(format!("http://{}{path}", serving.addr()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    runner.runtime().block_on(async {
        let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
            .await
            .expect("gateway answered in time")
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    })
}

#[test]
fn json_post_becomes_a_grpc_call_on_each_transport() {
    let runner = Runner::new().unwrap();
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for transport in ["wasi-http", "grpc-web", "sockets"] {
        let serving = gateway(&runner, &server, transport, true);
        let (status, body) = post(&runner, &serving, "/echo", r#"{"message":"héllo"}"#);
        assert_eq!(
            (status, body),
            (200, serde_json::json!({"message": "héllo"})),
            "{transport}"
        );
    }
}

#[test]
fn grpc_errors_become_http_statuses_with_json_bodies() {
    let runner = Runner::new().unwrap();
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let serving = gateway(&runner, &server, "wasi-http", true);
    let (status, body) = post(
        &runner,
        &serving,
        "/echo",
        r#"{"message":"status:5:no such thing"}"#,
    );
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "no such thing"}})
    );
    let (status, body) = post(
        &runner,
        &serving,
        "/echo",
        r#"{"message":"status:14:down"}"#,
    );
    assert_eq!(
        (status, &body["error"]["status"]),
        (503, &serde_json::json!("UNAVAILABLE"))
    );

    let (status, body) = post(&runner, &serving, "/echo", "not json");
    assert_eq!(
        (status, &body["error"]["status"]),
        (400, &serde_json::json!("INVALID_ARGUMENT"))
    );
    let (status, _) = post(&runner, &serving, "/nope", "{}");
    assert_eq!(status, 404);
}

#[test]
fn denied_backend_is_a_403_naming_it() {
    let runner = Runner::new().unwrap();
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let serving = gateway(&runner, &server, "wasi-http", false);
    let (status, body) = post(&runner, &serving, "/echo", r#"{"message":"hi"}"#);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "did not allow outgoing HTTP requests to {}",
            server.addr()
        )),
        "{message}"
    );
}

#[test]
fn a_gateway_instance_ends_after_its_backend_answered_without_taking_the_request() {
    // Over sockets, against a backend that answers at once with SETTINGS_INITIAL_WINDOW_SIZE
    // = 0 and never reads the request: the call succeeds while its request DATA still waits
    // for a window. The handler answers, and its instance must end (its `wstd` loop waits for
    // every task, the connection's included).
    let runner = Runner::new().unwrap();
    let server = fault_server::start_with(
        "127.0.0.1:0".parse().unwrap(),
        fault_server::Config {
            windows: fault_server::Windows::ZERO,
            every_call: Some("unread"),
        },
    )
    .unwrap();
    let serving = gateway(&runner, &server, "sockets", true);
    let (status, body) = post(&runner, &serving, "/echo", r#"{"message":"hi"}"#);
    assert_eq!((status, body), (200, serde_json::json!({"message": "ok"})));
    let answered = std::time::Instant::now();
    while serving.instances_running() > 0 {
        assert!(
            answered.elapsed() < Duration::from_secs(10),
            "the gateway's instance still runs {:?} after it answered",
            answered.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
