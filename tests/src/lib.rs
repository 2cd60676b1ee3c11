//! Helpers for the end-to-end tests in `tests/`: guests (built for `wasm32-wasip2` once a test
//! process, compiled by wasmtime once), run against a real server with exactly the addresses
//! a test allows.

// Test support: a panic here is how a failing step fails the calling test.
#![allow(clippy::panic)]

pub mod external;
pub mod route_guide;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use grpc_wasi_harness::guest;
use grpc_wasi_harness::servers::fault_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::tls::TestPki;
use grpc_wasi_host::HttpVersion;
use grpc_wasi_host::{NetworkPolicy, RunOptions, RunOutput, Runner};
use wasmtime::component::Component;

/// A guest run that takes longer than this is a failure (a hang is a bug, never a wait).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The runner every test of a process shares; its `wasi:http` trusts [`pki`]'s CA.
fn runner() -> &'static Runner {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    RUNNER.get_or_init(|| {
        Runner::trusting(&[pki().ca_pem.clone().into_bytes()])
            .unwrap_or_else(|e| panic!("wasmtime: {e:#}"))
    })
}

/// The test process's throw-away PKI (made once a process).
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().unwrap_or_else(|e| panic!("test PKI: {e:#}")))
}

/// A folder holding [`pki`]'s CA certificate as `ca.pem`, for guests that read it through
/// wasi:filesystem (made once a process, under `target/`).
pub fn pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = guest::workspace_root()
            .join("target")
            .join(format!("test-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("ca.pem"), &pki().ca_pem))
            .unwrap_or_else(|e| panic!("writing the test CA to {}: {e}", dir.display()));
        dir
    })
}

/// The guest `package` with `features` (on top of its defaults), built and compiled once a
/// process.
fn component(package: &str, features: &[&str]) -> Component {
    static COMPONENTS: Mutex<BTreeMap<String, Component>> = Mutex::new(BTreeMap::new());
    let key = std::iter::once(package)
        .chain(features.iter().copied())
        .collect::<Vec<_>>()
        .join("+");
    let mut components = COMPONENTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(component) = components.get(&key) {
        return component.clone();
    }
    let component = guest::build_with_features(package, features)
        .and_then(|wasm| runner().load(&wasm))
        .unwrap_or_else(|e| panic!("preparing guest {key}: {e:#}"));
    components.insert(key, component.clone());
    component
}

/// Builds and compiles the guest `package` now, if this process has not yet, so that a test
/// timing a run times the run alone.
pub fn prepare(package: &str) {
    component(package, &[]);
}

/// Runs the guest `package` with `args` and `env` in `mode` with exactly `network` granted.
///
/// Panics (failing the test) if the guest traps or runs past [`RUN_TIMEOUT`].
pub fn run_guest(
    package: &str,
    mode: Mode,
    args: &[&str],
    env: &[(&str, &str)],
    network: NetworkPolicy,
) -> RunOutput {
    run_guest_with_dirs(package, mode, args, env, network, &[])
}

/// [`run_guest`], with the host folders `dirs` readable by the guest at the paths given.
pub fn run_guest_with_dirs(
    package: &str,
    mode: Mode,
    args: &[&str],
    env: &[(&str, &str)],
    network: NetworkPolicy,
    dirs: &[(PathBuf, String)],
) -> RunOutput {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("TRANSPORT".into(), mode.transport().into()));
    let options = RunOptions {
        args: args.iter().map(|a| a.to_string()).collect(),
        env,
        network,
        http_version: mode.http_version(),
        dirs: dirs.to_vec(),
        ..RunOptions::default()
    };
    run_guest_options(package, &options)
}

/// Runs the guest `package` as `options` say (in the harness's runner, within
/// [`RUN_TIMEOUT`]). Panics (failing the test) if the guest traps or runs past it.
pub fn run_guest_options(package: &str, options: &RunOptions) -> RunOutput {
    run_guest_with_features(package, &[], options)
}

/// [`run_guest_options`] for the guest built with `features` (cargo features of `package`).
pub fn run_guest_with_features(
    package: &str,
    features: &[&str],
    options: &RunOptions,
) -> RunOutput {
    runner()
        .run_blocking(&component(package, features), options, Some(RUN_TIMEOUT))
        .unwrap_or_else(|e| panic!("guest {package} {:?}: {e:#}", options.args))
}

/// A free port of 127.0.0.1 with nothing on it for `delay`, then the echo server: its address
/// and the thread that starts it (join it for the server, which stops when dropped).
/// Panics if the port cannot be found or the server cannot start: this is a test helper.
pub fn echo_server_later(
    delay: Duration,
) -> (std::net::SocketAddr, std::thread::JoinHandle<TestServer>) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("a free port: {e}"));
    let starting = std::thread::spawn(move || {
        std::thread::sleep(delay);
        grpc_wasi_harness::servers::echo_server::start(addr).unwrap_or_else(|e| panic!("{e:#}"))
    });
    (addr, starting)
}

/// Starts the harness's fault server (a broken HTTP/2 server, see
/// `grpc_wasi_harness::servers::fault_server`) on a free port of 127.0.0.1; it stops when dropped.
/// Panics if it cannot start: this is a test helper.
pub fn fault_server() -> TestServer {
    fault_server_with(fault_server::Config::DEFAULT)
}

/// [`fault_server`], configured by `config`.
pub fn fault_server_with(config: fault_server::Config) -> TestServer {
    let addr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    fault_server::start_with(addr, config).unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`fault_server`], speaking TLS with [`pki`]'s server certificate.
pub fn fault_server_tls() -> TestServer {
    let addr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    let tls = grpc_wasi_harness::servers::tls::ServerTls::new(&pki().server);
    fault_server::start_tls(addr, &tls).unwrap_or_else(|e| panic!("{e:#}"))
}

/// How the guest reaches the server in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `Transport::Sockets`, with TCP access to the server's address.
    Sockets,
    /// `Transport::WasiHttp`, with `wasi:http` access to the server (HTTP/2 host).
    WasiHttp,
    /// `Transport::GrpcWeb`, with `wasi:http` access to the server (HTTP/1.1 host).
    GrpcWeb,
}

impl Mode {
    /// The guest's `TRANSPORT` value.
    pub fn transport(self) -> &'static str {
        match self {
            Mode::Sockets => "sockets",
            Mode::WasiHttp => "wasi-http",
            Mode::GrpcWeb => "grpc-web",
        }
    }

    /// The permissions that let this mode reach `addr`, and nothing else.
    pub fn grant(self, addr: std::net::SocketAddr) -> NetworkPolicy {
        let mut policy = NetworkPolicy::deny_all();
        let granted = match self {
            Mode::Sockets => policy.allow(&addr.to_string()).map(|_| ()),
            Mode::WasiHttp | Mode::GrpcWeb => policy.allow_http(&addr.to_string()).map(|_| ()),
        };
        granted.unwrap_or_else(|e| panic!("{e:#}"));
        policy
    }

    /// The HTTP version of the host's `wasi:http` in this mode.
    pub fn http_version(self) -> HttpVersion {
        match self {
            Mode::GrpcWeb => HttpVersion::Http1,
            _ => HttpVersion::Http2,
        }
    }
}

/// Runs `e2e-guest ARGS...` in `mode` with exactly `network` granted; returns its one-line
/// verdict (`ok: …`, `status: CODE MESSAGE` or `check failed: …`).
///
/// Panics (failing the test) if the guest traps, exits non-zero, or runs past
/// [`RUN_TIMEOUT`].
pub fn run_scenario(
    mode: Mode,
    args: &[&str],
    env: &[(&str, &str)],
    network: NetworkPolicy,
) -> String {
    let output = run_guest("e2e-guest", mode, args, env, network);
    assert_eq!(
        output.exit_code, 0,
        "guest {args:?} exited with {}\nstdout:\n{}\nstderr:\n{}",
        output.exit_code, output.stdout, output.stderr
    );
    output.stdout.trim_end().to_owned()
}

/// Runs `scenario` with `env` over sockets against `server` on a thread of its own; returns
/// once the server has accepted the guest's connection (or the guest has ended). Building the
/// guest, on first use, may take minutes.
pub fn connected_guest(
    server: &TestServer,
    scenario: &[&str],
    env: &[(&str, &str)],
) -> std::thread::JoinHandle<String> {
    let (addr, uri) = (server.addr(), server.uri());
    let args: Vec<String> = std::iter::once(uri)
        .chain(scenario.iter().map(|a| a.to_string()))
        .collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let guest = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_scenario(Mode::Sockets, &args, &env, Mode::Sockets.grant(addr))
    });
    while server.connections_accepted() == 0 && !guest.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    guest
}

/// A listener on a free port of 127.0.0.1 that accepts one connection and then says nothing
/// (it never reads past the kernel's buffer, never writes): a server that stalls. The thread
/// returns the accepted stream, so it stays open until the handle is joined.
pub fn silent_listener() -> (
    std::net::SocketAddr,
    std::thread::JoinHandle<std::io::Result<std::net::TcpStream>>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let held = std::thread::spawn(move || listener.accept().map(|(stream, _)| stream));
    (addr, held)
}

/// The name tests put several servers behind (see [`backends_grant`]).
pub const BACKENDS: &str = "backends.test";

/// Echo servers on one free port of 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback on
/// Linux), the third only after `late` if given (join the handle for it); and that port.
/// Panics if a server cannot start: this is a test helper.
pub fn loopback_echo_servers(
    late: Option<Duration>,
) -> (
    Vec<TestServer>,
    Option<std::thread::JoinHandle<TestServer>>,
    u16,
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("a free port: {e}"))
        .port();
    let start = move |last: u8| {
        let addr = std::net::SocketAddr::from(([127, 0, 0, last], port));
        grpc_wasi_harness::servers::echo_server::start(addr).unwrap_or_else(|e| panic!("{e:#}"))
    };
    let mut servers = vec![start(1), start(2)];
    let starting = match late {
        None => {
            servers.push(start(3));
            None
        }
        Some(delay) => Some(std::thread::spawn(move || {
            std::thread::sleep(delay);
            start(3)
        })),
    };
    (servers, starting, port)
}

/// Access to [`BACKENDS`]`:PORT`, the name answered with 127.0.0.1, .2 and .3 (the harness's
/// fixed answer) and those addresses at `port` granted.
pub fn backends_grant(port: u16) -> NetworkPolicy {
    let mut policy = NetworkPolicy::deny_all();
    policy
        .resolve(&format!("{BACKENDS}=127.0.0.1,127.0.0.2,127.0.0.3"))
        .and_then(|policy| policy.allow(&format!("{BACKENDS}:{port}")))
        .unwrap_or_else(|e| panic!("{e:#}"));
    policy
}

/// How many calls with the tag `tag` `server` has seen (the echo server's `calls?:` hook).
pub fn calls_seen(server: &TestServer, tag: &str) -> usize {
    let message = format!("calls?:{tag}");
    let out = run_scenario(
        Mode::Sockets,
        &[&server.uri(), "say"],
        &[("MESSAGE", &message)],
        Mode::Sockets.grant(server.addr()),
    );
    out.strip_prefix("ok: reply \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"))
}
