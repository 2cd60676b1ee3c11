//! Health checking: the `grpc.health.v1` client against tonic-health, and client-side health
//! checking (gRFC A17) under `round_robin`: a server whose health service says NOT_SERVING
//! gets no calls.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;

use grpc_wasi_e2e::{Mode, backends_grant, calls_seen, loopback_echo_servers, run_scenario};
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_host::NetworkPolicy;

fn start(addr: SocketAddr) -> TestServer {
    echo_server::start(addr).unwrap()
}

/// One unary call of `message` (an echo server hook) on `server`.
fn say(server: &TestServer, message: &str) -> String {
    run_scenario(
        Mode::Sockets,
        &[&server.uri(), "say"],
        &[("MESSAGE", message)],
        Mode::Sockets.grant(server.addr()),
    )
}

#[test]
fn check_and_watch_against_tonic_health() {
    let server = start("127.0.0.1:0".parse().unwrap());
    let out = run_scenario(
        Mode::Sockets,
        &[&server.uri(), "health"],
        &[],
        Mode::Sockets.grant(server.addr()),
    );
    assert_eq!(
        out,
        "ok: check Serving, unknown Some(NotFound), watch Some(Serving) Some(NotServing) \
         Some(Serving)"
    );
}

/// Three echo servers on one port of 127.0.0.1, .2 and .3, behind the name `backends.test`.
fn three() -> (Vec<TestServer>, u16, NetworkPolicy) {
    let (servers, _, port) = loopback_echo_servers(None);
    (servers, port, backends_grant(port))
}

/// `scenario` on a round-robin channel over `backends.test`, health-checked for `service`.
fn balanced(port: u16, policy: NetworkPolicy, scenario: &[&str], service: &str) -> String {
    let config = format!(
        r#"{{"loadBalancingConfig": [{{"round_robin": {{}}}}],
            "healthCheckConfig": {{"serviceName": "{service}"}}}}"#
    );
    let env = [
        ("CONNECT", "lazy"),
        ("SERVICE_CONFIG", config.as_str()),
        ("HEALTH_CHECK", "1"),
    ];
    let target = format!("dns:///backends.test:{port}");
    let args: Vec<&str> = std::iter::once(target.as_str())
        .chain(scenario.iter().copied())
        .collect();
    run_scenario(Mode::Sockets, &args, &env, policy)
}

fn calls(server: &TestServer) -> usize {
    calls_seen(server, "rr")
}

#[test]
fn round_robin_skips_a_server_whose_health_is_not_serving() {
    let (servers, port, policy) = three();
    assert_eq!(say(&servers[1], "health:NOT_SERVING"), "ok: reply \"ok\"");
    assert_eq!(
        balanced(
            port,
            policy,
            &["balanced", "300"],
            "grpc.examples.echo.Echo"
        ),
        "ok: 300 calls"
    );
    let got: Vec<usize> = servers.iter().map(calls).collect();
    assert_eq!(got[1], 0, "{got:?}");
    for n in [got[0], got[2]] {
        assert!((135..=165).contains(&n), "{got:?}");
    }
}

#[test]
fn calls_fail_when_no_server_is_serving_the_checked_service() {
    let (_servers, port, policy) = three();
    // tonic-health answers a Watch of a service it does not know with NOT_FOUND.
    let out = balanced(port, policy, &["unary"], "no.such.Service");
    assert!(
        out.starts_with("status: 14 ") && out.contains("no server is SERVING \"no.such.Service\""),
        "{out}"
    );
}
