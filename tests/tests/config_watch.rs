//! `examples/config-watch` against the harness's config server: the configuration read at
//! start, each change applied once and in order, a watch the server breaks resumed from the
//! last version seen (no change missed or applied twice), and changes driven by a file.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use grpc_wasi_e2e::{Mode, run_guest_options};
use grpc_wasi_harness::servers::config_server::ConfigServer;
use grpc_wasi_host::{RunOptions, RunOutput};

/// Runs `config-watch URI ARGS...` against `server` on a thread of its own.
fn config_watch(server: &ConfigServer, args: &[&str]) -> std::thread::JoinHandle<RunOutput> {
    let options = RunOptions {
        args: std::iter::once(server.uri())
            .chain(args.iter().map(|a| a.to_string()))
            .collect(),
        network: Mode::Sockets.grant(server.addr()),
        ..RunOptions::default()
    };
    std::thread::spawn(move || run_guest_options("config-watch", &options))
}

/// Waits until `server` has seen `n` watches start (the first run may build the guest).
fn wait_for_watches(server: &ConfigServer, n: usize) {
    let start = Instant::now();
    while server.watches_started() < n {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "{} of {n} watches started",
            server.watches_started()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reads_at_start_applies_each_change_once_and_resumes_a_broken_watch() {
    let server = ConfigServer::start(
        "127.0.0.1:0".parse().unwrap(),
        &[("color", "blue"), ("size", "10")],
    )
    .unwrap();
    let guest = config_watch(&server, &["color", "size", "missing", "--changes", "4"]);
    wait_for_watches(&server, 1);
    assert_eq!(server.set("color", "red"), 3);
    assert_eq!(server.set("size", "11"), 4);
    // Not watched: never printed.
    assert_eq!(server.set("other", "x"), 5);
    server.break_watches();
    wait_for_watches(&server, 2);
    assert_eq!(server.set("color", "green"), 6);
    assert_eq!(server.set("size", "12"), 7);
    let out = guest.join().unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "color=blue (version 1)\nsize=10 (version 2)\nmissing unset\n\
         changed color=red (version 3)\nchanged size=11 (version 4)\n\
         changed color=green (version 6)\nchanged size=12 (version 7)\n"
    );
    assert!(
        out.stderr.contains(
            "watch broken: UNAVAILABLE: the server broke the watch; resuming after version"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn changes_written_to_the_servers_file_reach_the_component() {
    let server = ConfigServer::start("127.0.0.1:0".parse().unwrap(), &[("color", "blue")]).unwrap();
    let file = std::env::temp_dir().join(format!("config-watch-{}.txt", std::process::id()));
    std::fs::write(&file, "color = blue\n").unwrap();
    server.follow_file(file.clone(), Duration::from_millis(20));
    let guest = config_watch(&server, &["color", "--changes", "1"]);
    wait_for_watches(&server, 1);
    std::fs::write(&file, "color = purple\nignored line\n").unwrap();
    let out = guest.join().unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "color=blue (version 1)\nchanged color=purple (version 2)\n"
    );
}

#[test]
fn an_unreachable_server_fails_the_start_with_its_status() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let options = RunOptions {
        args: vec![format!("http://{addr}"), "color".into()],
        network: Mode::Sockets.grant(addr),
        ..RunOptions::default()
    };
    let out = run_guest_options("config-watch", &options);
    assert_eq!(out.exit_code, 1);
    assert!(
        out.stderr.starts_with("error: UNAVAILABLE: "),
        "{}",
        out.stderr
    );
}
