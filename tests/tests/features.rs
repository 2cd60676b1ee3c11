//! A component imports only the WASI interfaces of the transports it was built with, so a
//! sockets-only guest runs where no `wasi:http` is offered (stock `wasmtime run` without
//! `-S http`), and a transport left out fails with a clear status instead of a trap.

#![allow(clippy::unwrap_used)]

use grpc_wasi_harness::guest;
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_host::{RunOptions, Runner};

fn imports(runner: &Runner, wasm: &std::path::Path) -> Vec<String> {
    let component = runner.load(wasm).unwrap();
    component
        .component_type()
        .imports(runner.engine())
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn transports_bring_only_their_imports() {
    let runner = Runner::new().unwrap();
    let sockets_only = imports(&runner, &guest::build("echo-client").unwrap());
    assert!(
        sockets_only
            .iter()
            .any(|i| i.starts_with("wasi:sockets/tcp@")),
        "{sockets_only:?}"
    );
    assert!(
        !sockets_only.iter().any(|i| i.starts_with("wasi:http/")),
        "{sockets_only:?}"
    );

    let with_http = imports(
        &runner,
        &guest::build_with_features("echo-client", &["wasi-http"]).unwrap(),
    );
    assert!(
        with_http
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@")),
        "{with_http:?}"
    );
}

#[test]
fn only_wasip3_brings_wasi_0_3_imports() {
    let runner = Runner::new().unwrap();
    let wasi_0_2 = imports(&runner, &guest::build("bench-guest").unwrap());
    assert!(
        !wasi_0_2.iter().any(|i| i.contains("@0.3.")),
        "{wasi_0_2:?}"
    );
    // bench-guest-p3: grpc-wasi with `wasip3` and without `sockets`.
    let wasi_0_3 = imports(&runner, &guest::build("bench-guest-p3").unwrap());
    for wanted in ["wasi:http/client@0.3.", "wasi:clocks/monotonic-clock@0.3."] {
        assert!(
            wasi_0_3.iter().any(|i| i.starts_with(wanted)),
            "{wanted}: {wasi_0_3:?}"
        );
    }
    assert!(
        !wasi_0_3.iter().any(|i| i.starts_with("wasi:sockets/")),
        "{wasi_0_3:?}"
    );
}

#[test]
fn a_transport_left_out_is_a_clear_status() {
    let runner = Runner::new().unwrap();
    let component = runner.load(&guest::build("echo-client").unwrap()).unwrap();
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let options = RunOptions {
        args: vec!["--transport".into(), "wasi-http".into(), server.uri()],
        ..RunOptions::default()
    };
    let output = runner.run_blocking(&component, &options, None).unwrap();
    assert_eq!(output.exit_code, 1);
    assert!(
        output.stderr.contains(
            "Unimplemented, message: \"Transport::WasiHttp is not in this build: enable \
             grpc-wasi's `wasi-http` feature\""
        ),
        "{}",
        output.stderr
    );
}

#[test]
fn tls_brings_only_wasi_0_2_imports_and_no_http() {
    let runner = Runner::new().unwrap();
    let plain = imports(&runner, &guest::build("echo-client").unwrap());
    let tls = imports(
        &runner,
        &guest::build_with_features("echo-client", &["tls"]).unwrap(),
    );
    assert!(tls.iter().all(|i| i.contains("@0.2.")), "{tls:?}");
    assert!(!tls.iter().any(|i| i.starts_with("wasi:http/")), "{tls:?}");
    assert!(
        tls.iter().any(|i| i.starts_with("wasi:random/random@")),
        "{tls:?}"
    );
    assert!(
        tls.iter().any(|i| i.starts_with("wasi:sockets/tcp@")),
        "{tls:?}"
    );
    assert!(plain.iter().all(|i| i.contains("@0.2.")), "{plain:?}");
}

#[test]
fn https_over_sockets_without_tls_is_a_clear_status() {
    let runner = Runner::new().unwrap();
    let component = runner.load(&guest::build("echo-client").unwrap()).unwrap();
    let options = RunOptions {
        args: vec!["https://127.0.0.1:1".into()],
        ..RunOptions::default()
    };
    let output = runner.run_blocking(&component, &options, None).unwrap();
    assert_eq!(output.exit_code, 1);
    assert!(
        output
            .stderr
            .contains("https (TLS) on the sockets transport needs grpc-wasi's `tls` feature"),
        "{}",
        output.stderr
    );
}
