//! Programs the tests run that are not this project's: tools `.ci/run` installs under
//! `target/` (found by [`installed`]) and servers written on other gRPC implementations
//! ([`ExternalServer`]).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use grpc_wasi_harness::guest;

/// A tool's path: `$env_var`, or `default` under the workspace root, if it exists. Without
/// it a test says so and passes (`None`), except in CI (`CI` set), where it fails: `install`
/// says how `.ci/run` installs it.
pub fn installed(env_var: &str, default: &str, install: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| guest::workspace_root().join(default));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is not installed (.ci/run installs it: {install})",
        path.display()
    );
    eprintln!("{} not installed: skipped", path.display());
    None
}

/// A server in a child process that listens on 127.0.0.1, prints `listening on PORT` on its
/// first line of stdout, and stops when its stdin closes; killed when dropped.
pub struct ExternalServer {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl ExternalServer {
    /// Starts `command` and waits for its `listening on PORT` line.
    ///
    /// Panics if it cannot start or exits before it listens.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        let stdin = child.stdin.take();
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let port: u16 = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{command:?} did not start: printed {line:?}"));
        Self {
            child,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ExternalServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
