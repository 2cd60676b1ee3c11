//! `Channel::balance_list`: gRPC's `round_robin` over a static list of servers, against tonic
//! echo servers that count the calls they get (the `fail:0:…` hook), one of them down for the
//! first seconds.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use grpc_wasi_e2e::{Mode, echo_server_later, run_scenario};
use grpc_wasi_harness::echo_server;
use grpc_wasi_harness::runner::NetworkPolicy;
use grpc_wasi_harness::test_server::TestServer;

/// Access to exactly `addrs`.
fn grant(addrs: &[SocketAddr]) -> NetworkPolicy {
    let mut policy = NetworkPolicy::deny_all();
    for addr in addrs {
        policy.allow(&addr.to_string()).unwrap();
    }
    policy
}

/// `calls` calls `pace_ms` apart over a balanced channel to `addrs`.
fn balanced(addrs: &[SocketAddr], calls: usize, pace_ms: u64) -> String {
    let backends: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
    let backends = backends.join(",");
    let pace = pace_ms.to_string();
    let env = [
        ("CONNECT", "lazy"),
        ("BACKENDS", backends.as_str()),
        ("PACE_MS", pace.as_str()),
    ];
    let first = format!("http://{}", addrs[0]);
    let calls = calls.to_string();
    run_scenario(
        Mode::Sockets,
        &[&first, "balanced", &calls],
        &env,
        grant(addrs),
    )
}

/// How many balanced calls `server` got.
fn calls(server: &TestServer) -> usize {
    let env = [("MESSAGE", "calls?:rr")];
    let out = run_scenario(
        Mode::Sockets,
        &[&server.uri(), "say"],
        &env,
        Mode::Sockets.grant(server.addr()),
    );
    out.strip_prefix("ok: reply \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"))
}

fn start() -> TestServer {
    echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

#[test]
fn round_robin_spreads_calls_evenly_over_three_servers() {
    let servers = [start(), start(), start()];
    let addrs: Vec<SocketAddr> = servers.iter().map(TestServer::addr).collect();
    assert_eq!(balanced(&addrs, 300, 0), "ok: 300 calls");
    for server in &servers {
        let got = calls(server);
        assert!(
            (90..=110).contains(&got),
            "{got} of 300 calls at {}",
            server.addr()
        );
    }
}

#[test]
fn a_server_that_is_down_is_skipped_and_used_once_it_is_up() {
    let (a, b) = (start(), start());
    // A free port, with nothing on it for the first 1.5 s.
    let (late, starting) = echo_server_later(Duration::from_millis(1500));
    // 200 calls 20 ms apart: about 4 s, every one of them answered.
    assert_eq!(
        balanced(&[a.addr(), b.addr(), late], 200, 20),
        "ok: 200 calls"
    );
    let c = starting.join().unwrap();
    let (at_a, at_b, at_c) = (calls(&a), calls(&b), calls(&c));
    assert_eq!(at_a + at_b + at_c, 200);
    // The late server is picked again once its connection backoff has passed.
    assert!(at_c > 0, "a={at_a} b={at_b} c={at_c}");
    assert!(at_a.abs_diff(at_b) <= 2, "a={at_a} b={at_b} c={at_c}");
}
