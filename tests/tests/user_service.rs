//! `examples/user-service` end to end: a real HTTP client calls `grpc-wasi-harness serve`
//! hosting the component, which calls the harness's tonic user server: each route on each
//! transport, gRPC errors with rich details as RFC 9457 problem bodies, and the HTTP errors of
//! the component's own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use grpc_wasi_harness::guest;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::user_server;
use grpc_wasi_host::{HttpVersion, RunOptions, Runner, proxy};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

/// Serves the component against `backend` over `transport`, granted only the backend; for
/// `grpc-web`, the host's wasi:http speaks HTTP/1.1, as most runtimes' do.
fn user_service(runner: &Runner, backend: &TestServer, transport: &str) -> proxy::Serving {
    let component = runner.load(&guest::build("user-service").unwrap()).unwrap();
    let mut options = RunOptions {
        env: vec![
            ("GRPC_BACKEND".into(), backend.uri()),
            ("GRPC_TRANSPORT".into(), transport.into()),
        ],
        ..RunOptions::default()
    };
    if transport == "grpc-web" {
        options.http_version = HttpVersion::Http1;
    }
    let addr = backend.addr().to_string();
    match transport {
        "sockets" => options.network.allow(&addr).unwrap(),
        _ => options.network.allow_http(&addr).unwrap(),
    };
    proxy::start(runner, &component, "127.0.0.1:0".parse().unwrap(), options).unwrap()
}

/// The answer to one request: status, `content-type`, `location` and the JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    location: Option<String>,
    body: serde_json::Value,
}

/// Sends `method PATH` with `body` (JSON, if any) to the served component.
fn send(runner: &Runner, serving: &proxy::Serving, method: &str, path: &str, body: &str) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", serving.addr()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    runner.runtime().block_on(async {
        let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
            .await
            .expect("the component answered in time")
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (status, content_type, location) = (
            response.status().as_u16(),
            header("content-type").unwrap_or_default(),
            header("location"),
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        Answer {
            status,
            content_type,
            location,
            body,
        }
    })
}

#[test]
fn users_are_read_created_and_listed_on_each_transport() {
    let runner = Runner::new().unwrap();
    for transport in ["wasi-http", "grpc-web", "sockets"] {
        let backend = user_server::start(
            "127.0.0.1:0".parse().unwrap(),
            &[("Ada", "ada@example.com")],
        )
        .unwrap();
        let serving = user_service(&runner, &backend, transport);
        let ada = send(&runner, &serving, "GET", "/users/1", "");
        assert_eq!(ada.status, 200, "{transport}: {ada:?}");
        assert_eq!(ada.content_type, "application/json");
        assert_eq!(
            ada.body,
            json!({"id": "1", "name": "Ada", "email": "ada@example.com"})
        );
        let new = r#"{"name": "Grace", "email": "grace@example.com"}"#;
        let created = send(&runner, &serving, "POST", "/users", new);
        assert_eq!(created.status, 201, "{transport}: {created:?}");
        assert_eq!(created.location.as_deref(), Some("/users/2"));
        assert_eq!(
            created.body,
            json!({"id": "2", "name": "Grace", "email": "grace@example.com"})
        );
        let all = send(&runner, &serving, "GET", "/users", "");
        assert_eq!(all.status, 200, "{transport}: {all:?}");
        assert_eq!(
            all.body,
            json!([
                {"id": "1", "name": "Ada", "email": "ada@example.com"},
                {"id": "2", "name": "Grace", "email": "grace@example.com"},
            ])
        );
    }
}

#[test]
fn grpc_errors_with_rich_details_become_problem_bodies() {
    let runner = Runner::new().unwrap();
    let backend = user_server::start("127.0.0.1:0".parse().unwrap(), &[]).unwrap();
    let serving = user_service(&runner, &backend, "wasi-http");
    let missing = send(&runner, &serving, "GET", "/users/42", "");
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(missing.content_type, "application/problem+json");
    assert_eq!(
        missing.body,
        json!({
            "type": "about:blank",
            "title": "NOT_FOUND",
            "status": 404,
            "detail": "user \"42\" not found",
            "resource": {
                "type": "users.User",
                "name": "42",
                "description": "no user has the id \"42\"",
            },
        })
    );
    let invalid = send(
        &runner,
        &serving,
        "POST",
        "/users",
        r#"{"name": " ", "email": "x"}"#,
    );
    assert_eq!(invalid.status, 400, "{invalid:?}");
    assert_eq!(invalid.content_type, "application/problem+json");
    assert_eq!(
        invalid.body,
        json!({
            "type": "about:blank",
            "title": "INVALID_ARGUMENT",
            "status": 400,
            "detail": "the user is not valid",
            "invalid-params": [
                {"name": "name", "reason": "must not be empty"},
                {"name": "email", "reason": "must contain '@'"},
            ],
        })
    );
    // The backend gone: UNAVAILABLE is a 503 problem.
    drop(backend);
    let down = send(&runner, &serving, "GET", "/users/1", "");
    assert_eq!(
        (down.status, &down.body["title"]),
        (503, &json!("UNAVAILABLE")),
        "{down:?}"
    );
}

#[test]
fn the_components_own_http_errors_are_problems_too() {
    let runner = Runner::new().unwrap();
    let backend = user_server::start("127.0.0.1:0".parse().unwrap(), &[]).unwrap();
    let serving = user_service(&runner, &backend, "wasi-http");
    for (method, path, body, status) in [
        ("GET", "/nowhere", "", 404),
        ("GET", "/usersx", "", 404),
        ("GET", "/users/1/x", "", 404),
        ("DELETE", "/users", "", 405),
        ("PUT", "/users/1", "", 405),
        ("POST", "/users", "not json", 400),
    ] {
        let answer = send(&runner, &serving, method, path, body);
        assert_eq!(answer.status, status, "{method} {path}: {answer:?}");
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body["status"], json!(status), "{method} {path}");
    }
}
