//! The echo guest in runtimes other than the harness: jco (`jco run`, Node's preview2-shim),
//! over sockets and over gRPC-Web. `.ci/run` installs jco with npm into `target/jco`; set
//! `GRPC_WASI_JCO` to use another. Without jco these tests say so and pass, except in CI
//! (`CI` set), where a missing jco fails them.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grpc_wasi_harness::{echo_server, guest};

/// The most a guest run in another runtime may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The jco command, if installed.
fn jco() -> Option<PathBuf> {
    let path = std::env::var_os("GRPC_WASI_JCO")
        .map(PathBuf::from)
        .unwrap_or_else(|| guest::workspace_root().join("target/jco/node_modules/.bin/jco"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "jco is not installed at {} (.ci/run installs it: npm install --prefix target/jco \
         @bytecodealliance/jco)",
        path.display()
    );
    eprintln!("jco not installed at {}: skipped", path.display());
    None
}

/// Runs `program args`, killing it past [`RUN_LIMIT`]; its exit success and stdout.
fn run_limited(program: &PathBuf, args: &[String]) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
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
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    (status.success(), stdout)
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
    assert_eq!(run_limited(&jco, &args), (true, FOUR_CALLS.to_owned()));
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
    assert_eq!(run_limited(&jco, &args), (true, FOUR_CALLS.to_owned()));
}
