//! The host logs every grant it refused (`log` target `grpc_wasi_host`, level warn): what the
//! guest asked for, and the grant that would allow it. The harness's CLI prints these on
//! stderr; here a logger of this test process collects them.

use std::sync::{Mutex, Once};

use grpc_wasi_e2e::{Mode, run_scenario};
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_host::NetworkPolicy;

/// Collects the host's log lines as `LEVEL message`.
struct Collect(Mutex<Vec<String>>);

impl log::Log for Collect {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "grpc_wasi_host"
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }

    fn flush(&self) {}
}

static LOGGED: Collect = Collect(Mutex::new(Vec::new()));

/// The host's log lines so far that contain `needle`.
fn logged(needle: &str) -> Vec<String> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // The only logger of this process: were it not, nothing is collected and the
        // assertions below fail.
        if log::set_logger(&LOGGED).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
    let lines = LOGGED.0.lock().unwrap_or_else(|e| e.into_inner());
    lines
        .iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}

#[test]
fn each_refused_grant_is_logged_with_the_grant_that_would_allow_it() {
    logged("");
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.addr();
    let port = addr.port();

    // A TCP connect to an address not granted.
    let out = run_scenario(
        Mode::Sockets,
        &[&server.uri(), "unary"],
        &[],
        NetworkPolicy::deny_all(),
    );
    assert!(out.starts_with("status: 7 "), "{out}");
    assert_eq!(
        logged(&format!("TCP connect to {addr}")),
        [format!(
            "WARN refused a TCP connect to {addr}: not granted \
             (grant it with --allow {addr}, NetworkPolicy::allow)"
        )]
    );

    // A lookup of a name not granted (another one is).
    let mut policy = NetworkPolicy::deny_all();
    policy.allow(&format!("localhost:{port}")).unwrap();
    let uri = format!("http://Refused.Example.:{port}");
    let out = run_scenario(Mode::Sockets, &[&uri, "unary"], &[], policy);
    assert!(out.starts_with("status: 14 name lookup"), "{out}");
    assert_eq!(
        logged("Refused.Example."),
        [
            "WARN refused a lookup of \"Refused.Example.\": the name is not granted \
          (grant it with --allow refused.example:PORT, NetworkPolicy::allow)"
        ]
    );

    // A wasi:http request to an authority not granted; the address is (so only the
    // request is refused).
    let mut policy = NetworkPolicy::deny_all();
    policy.allow(&addr.to_string()).unwrap();
    let out = run_scenario(Mode::WasiHttp, &[&server.uri(), "unary"], &[], policy);
    assert!(out.starts_with("status: 7 "), "{out}");
    assert_eq!(
        logged("wasi:http request"),
        [format!(
            "WARN refused a wasi:http request to http://{addr}/grpc.examples.echo.Echo/UnaryEcho: \
             \"{addr}\" is not granted (grant it with --allow-http HOST:PORT, \
             NetworkPolicy::allow_http)"
        )]
    );

    // A granted call is refused nothing.
    let before = logged("refused").len();
    let out = run_scenario(
        Mode::Sockets,
        &[&server.uri(), "unary"],
        &[],
        Mode::Sockets.grant(addr),
    );
    assert_eq!(out, r#"ok: reply "hello""#);
    assert_eq!(logged("refused").len(), before, "{:?}", logged(""));
}
