//! `examples/calculator` against the harness's tonic calculator server: a sum, the server's
//! INVALID_ARGUMENT for a sum past int32, and bad arguments.

#![allow(clippy::unwrap_used)]

use grpc_wasi_e2e::{Mode, run_guest};
use grpc_wasi_harness::servers::calculator_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_host::RunOutput;

fn add(server: &TestServer, a: &str, b: &str) -> RunOutput {
    run_guest(
        "calculator",
        Mode::Sockets,
        &[&server.uri(), a, b],
        &[],
        Mode::Sockets.grant(server.addr()),
    )
}

#[test]
fn adds_and_reports_the_servers_invalid_argument() {
    let server = calculator_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let sum = add(&server, "2", "-5");
    assert_eq!((sum.exit_code, sum.stdout.as_str()), (0, "-3\n"), "{sum:?}");
    let overflow = add(&server, "2147483647", "1");
    assert_eq!(overflow.exit_code, 1, "{overflow:?}");
    assert_eq!(overflow.stdout, "");
    assert_eq!(
        overflow.stderr,
        "error: INVALID_ARGUMENT: 2147483647 + 1 does not fit in an int32\n"
    );
    let not_a_number = add(&server, "2", "x");
    assert_eq!(not_a_number.exit_code, 1, "{not_a_number:?}");
    assert!(
        not_a_number.stderr.starts_with("usage: calculator URI A B"),
        "{not_a_number:?}"
    );
}
