//! tonic's RouteGuide example client (`tests/route-guide-client`: tonic's
//! `examples/src/routeguide/client.rs` with its imports changed to grpc-wasi's and
//! `#[tokio::main]` to `#[grpc_wasi::main]`) runs in the harness against a RouteGuide server
//! and does all four calls as it does natively. The server listens where the example
//! connects, `[::1]:10000`; the stock wasmtime CLI runs the same guest in `runtimes.rs`.

#![allow(clippy::unwrap_used, clippy::panic)]

use grpc_wasi_e2e::route_guide::{ROUTE_GUIDE_ADDR, check_route_guide_output};
use grpc_wasi_e2e::{Mode, run_guest};
use grpc_wasi_harness::servers::route_guide_server;

#[test]
fn tonics_route_guide_client_runs_in_a_guest() {
    let _server = route_guide_server::start(ROUTE_GUIDE_ADDR.parse().unwrap()).unwrap();
    let network = Mode::Sockets.grant(ROUTE_GUIDE_ADDR.parse().unwrap());
    let output = run_guest("route-guide-client", Mode::Sockets, &[], &[], network);
    assert_eq!(output.exit_code, 0, "{output:?}");
    check_route_guide_output(&output.stdout);
}
