//! `Channel::balance_list`: gRPC's `round_robin` over a static list of servers, against tonic
//! echo servers that count the calls they get (the `fail:0:…` hook), one of them down for the
//! first seconds.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grpc_wasi_e2e::{
    Mode, backends_grant, calls_seen, echo_server_later, loopback_echo_servers, run_scenario,
};
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_host::NetworkPolicy;

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
    calls_seen(server, "rr")
}

fn start() -> TestServer {
    echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Each of `servers` got 100 ± 10 of 300 calls.
#[track_caller]
fn assert_even_thirds(servers: &[TestServer]) {
    for server in servers {
        let got = calls(server);
        assert!(
            (90..=110).contains(&got),
            "{got} of 300 calls at {}",
            server.addr()
        );
    }
}

#[test]
fn round_robin_spreads_calls_evenly_over_three_servers() {
    let servers = [start(), start(), start()];
    let addrs: Vec<SocketAddr> = servers.iter().map(TestServer::addr).collect();
    assert_eq!(balanced(&addrs, 300, 0), "ok: 300 calls");
    assert_even_thirds(&servers);
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

/// `calls` calls `pace_ms` apart on a channel to `target` (the name `backends.test`, answered
/// with the three addresses) under `service_config`.
fn over_name(target: &str, port: u16, calls: usize, pace_ms: u64, service_config: &str) -> String {
    let policy = backends_grant(port);
    let pace = pace_ms.to_string();
    let env = [
        ("CONNECT", "lazy"),
        ("PACE_MS", pace.as_str()),
        ("SERVICE_CONFIG", service_config),
    ];
    let calls = calls.to_string();
    run_scenario(Mode::Sockets, &[target, "balanced", &calls], &env, policy)
}

const ROUND_ROBIN: &str = r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#;

#[test]
fn round_robin_spreads_calls_over_the_addresses_of_one_name() {
    let (servers, _, port) = loopback_echo_servers(None);
    // The gRPC target syntax, the name spelled as the guest likes.
    let target = format!("dns:///Backends.Test.:{port}");
    assert_eq!(
        over_name(&target, port, 300, 0, ROUND_ROBIN),
        "ok: 300 calls"
    );
    assert_even_thirds(&servers);
}

#[test]
fn pick_first_sends_every_call_to_the_first_address_of_the_name() {
    let (servers, _, port) = loopback_echo_servers(None);
    let target = format!("http://backends.test:{port}");
    assert_eq!(over_name(&target, port, 30, 0, "{}"), "ok: 30 calls");
    let got: Vec<usize> = servers.iter().map(calls).collect();
    assert_eq!(got, [30, 0, 0]);
}

#[test]
fn round_robin_over_a_name_skips_an_address_that_is_down_and_uses_it_once_up() {
    let (servers, starting, port) = loopback_echo_servers(Some(Duration::from_millis(1500)));
    let target = format!("dns:///backends.test:{port}");
    // 200 calls 20 ms apart: about 4 s, every one answered.
    assert_eq!(
        over_name(&target, port, 200, 20, ROUND_ROBIN),
        "ok: 200 calls"
    );
    let late = starting.unwrap().join().unwrap();
    let (a, b, c) = (calls(&servers[0]), calls(&servers[1]), calls(&late));
    assert_eq!(a + b + c, 200);
    assert!(c > 0, "a={a} b={b} c={c}");
    // Even between the two up from the start, but for the turns lost each time the list of
    // ready addresses changed (the late server's failed attempts and its coming up).
    assert!(a.abs_diff(b) <= 6, "a={a} b={b} c={c}");
}

#[test]
fn a_fixed_answer_grants_nothing_without_an_allow() {
    let mut policy = NetworkPolicy::deny_all();
    policy.resolve("backends.test=127.0.0.1").unwrap();
    let env = [("SERVICE_CONFIG", ROUND_ROBIN)];
    let out = run_scenario(
        Mode::Sockets,
        &["dns:///backends.test:50051", "unary"],
        &env,
        policy,
    );
    assert!(
        out.starts_with("status: 14 ") && out.contains("name lookup of \"backends.test\" failed"),
        "{out}"
    );
}

#[test]
fn pick_first_with_shuffle_address_list_spreads_clients_over_the_addresses() {
    let (servers, _, port) = loopback_echo_servers(None);
    let target = format!("http://backends.test:{port}");
    let shuffled = r#"{"loadBalancingConfig": [{"pick_first": {"shuffleAddressList": true}}]}"#;
    // Eight clients: all eight on the first address has odds of 1 in 6561.
    for _ in 0..8 {
        assert_eq!(over_name(&target, port, 1, 0, shuffled), "ok: 1 calls");
    }
    let got: Vec<usize> = servers.iter().map(calls).collect();
    assert_eq!(got.iter().sum::<usize>(), 8);
    assert!(got[0] < 8, "{got:?}");
}

#[test]
fn round_robin_resolves_the_name_again_after_a_connection_fails() {
    // Built and compiled first, so that the guest's first lookup comes before the change.
    grpc_wasi_e2e::prepare("e2e-guest");
    let (mut servers, _, port) = loopback_echo_servers(None);
    let ip = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);
    // The name answers .1 and .2 at first; .3 is granted but not in the answer.
    let answer = Arc::new(Mutex::new(vec![ip(1), ip(2)]));
    let mut policy = NetworkPolicy::deny_all();
    policy.resolve_to("backends.test", answer.clone()).unwrap();
    policy.allow(&format!("backends.test:{port}")).unwrap();
    policy.allow(&format!("127.0.0.3:{port}")).unwrap();
    let env: Vec<(String, String)> = [
        ("CONNECT", "lazy"),
        ("PACE_MS", "200"),
        ("SERVICE_CONFIG", ROUND_ROBIN),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let target = format!("dns:///backends.test:{port}");
    // 180 calls 200 ms apart: 36 s, past the 30 s before a name is resolved again.
    let run = std::thread::spawn(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_scenario(Mode::Sockets, &[&target, "balanced", "180"], &env, policy)
    });
    // 3 s in: the name now answers .2 and .3, and .1 stops, so its connection fails.
    std::thread::sleep(Duration::from_secs(3));
    *answer.lock().unwrap() = vec![ip(2), ip(3)];
    drop(servers.remove(0));
    assert_eq!(run.join().unwrap(), "ok: 180 calls");
    let (at_2, at_3) = (calls(&servers[0]), calls(&servers[1]));
    // Until the name is resolved again (30 s after the first time, not at once) .2 takes
    // every call; then .2 and .3 share the last 6 s (about 15 calls each; more if calls were
    // slow, but far from the 85 an immediate resolution would give).
    assert!((5..=60).contains(&at_3), ".2: {at_2}, .3: {at_3}");
    assert!(at_2 > 100, ".2: {at_2}, .3: {at_3}");
}
