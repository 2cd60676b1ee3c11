//! `examples/plugin-host` embedding `echo-plugin`: each call in a fresh instance (the plugin's
//! call counter is 1 every time), the plugin's gRPC call to the one granted backend, and each
//! limit stopping a plugin that misbehaves while the host goes on serving: fuel, memory, time,
//! and the network grant.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use grpc_wasi_harness::guest;
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_host::NetworkPolicy;
use plugin_host::{CallError, Limits, PluginHost};

/// The plugin, loaded to call `backend` with `grant` granted.
fn plugin(backend: &str, grant: Option<&str>, limits: Limits) -> PluginHost {
    let wasm = guest::build("echo-plugin").unwrap();
    let mut policy = NetworkPolicy::deny_all();
    if let Some(addr) = grant {
        policy.allow(addr).unwrap();
    }
    PluginHost::load(&wasm, backend, policy, limits).unwrap()
}

#[test]
fn every_call_gets_a_fresh_instance_and_a_misbehaving_plugin_is_stopped() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.addr().to_string();
    let limits = Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let host = plugin(&server.uri(), Some(&addr), limits);
    for input in ["hello", "again"] {
        let output = host.transform(input).unwrap();
        let expected = format!("{} (call 1 of this instance)", input.to_uppercase());
        assert_eq!(output, Ok(expected));
    }
    let spin = host.transform("spin");
    assert!(matches!(spin, Err(CallError::OutOfFuel)), "{spin:?}");
    let grow = host.transform("grow");
    assert!(matches!(grow, Err(CallError::OutOfMemory)), "{grow:?}");
    // The host is unharmed, and the next call starts afresh.
    assert_eq!(
        host.transform("after").unwrap(),
        Ok("AFTER (call 1 of this instance)".to_owned())
    );
}

#[test]
fn the_plugin_reaches_only_the_granted_backend() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let host = plugin(&server.uri(), None, Limits::default());
    let message = host.transform("hello").unwrap().unwrap_err();
    assert!(
        message.starts_with(&format!(
            "status: PermissionDenied, message: \"the host did not grant access to {}",
            server.addr()
        )) || message.contains(&format!(
            "the host did not grant access to {}",
            server.addr()
        )),
        "{message}"
    );
}

#[test]
fn a_call_past_its_time_limit_is_stopped() {
    // A backend that accepts the connection and never answers.
    let (addr, _held) = grpc_wasi_e2e::silent_listener();
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let host = plugin(&format!("http://{addr}"), Some(&addr.to_string()), limits);
    let result = host.transform("hello");
    assert!(matches!(result, Err(CallError::TimedOut)), "{result:?}");
}
