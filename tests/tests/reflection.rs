//! The reflection client against tonic-reflection: `grpc.reflection.v1`, and a server with
//! only `grpc.reflection.v1alpha` (the fallback).

#![allow(clippy::unwrap_used)]

use grpc_wasi_e2e::{Mode, run_scenario};
use grpc_wasi_harness::servers::echo_server::{self, Reflection};

fn reflect(reflection: Reflection) -> String {
    let server = echo_server::start_with("127.0.0.1:0".parse().unwrap(), reflection).unwrap();
    run_scenario(
        Mode::Sockets,
        &[&server.uri(), "reflection"],
        &[],
        Mode::Sockets.grant(server.addr()),
    )
}

#[test]
fn lists_services_and_fetches_files_over_v1() {
    let out = reflect(Reflection::Both);
    assert!(out.starts_with("ok: Some(V1) services ["), "{out}");
    assert!(out.contains("\"grpc.examples.echo.Echo\""), "{out}");
    assert!(out.contains("\"grpc.health.v1.Health\""), "{out}");
    assert!(
        out.ends_with("files [\"echo.proto\"] unknown Some(NotFound)"),
        "{out}"
    );
}

#[test]
fn falls_back_to_v1alpha() {
    let out = reflect(Reflection::V1AlphaOnly);
    assert!(out.starts_with("ok: Some(V1Alpha) services ["), "{out}");
    assert!(out.contains("\"grpc.examples.echo.Echo\""), "{out}");
    assert!(
        out.ends_with("files [\"echo.proto\"] unknown Some(NotFound)"),
        "{out}"
    );
}
