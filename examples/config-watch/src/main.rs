//! A component that needs external configuration: `config-watch URI KEY... [--changes N]`
//! reads each KEY with `config.ConfigService/GetConfig` at start (a 5 s deadline each), then
//! applies every change of those keys as `WatchConfig` streams it in.
//!
//! The watch is a long-lived server-streaming call with a deadline of its own (60 s): when it
//! passes, the watch is made again. When the stream breaks (the server restarts, the connection
//! is lost, the server ends it with an error), the component waits (100 ms, doubling up to 5 s,
//! back to 100 ms once a change arrives) and watches again from the last version it has seen,
//! so no change is missed and none is applied twice.
//!
//! stdout: `KEY=VALUE (version V)` for each key at start (`KEY unset` for one the server does
//! not have), then `changed KEY=VALUE (version V)` for each change. stderr: each broken watch
//! and its resumption. With `--changes N` it exits 0 after N changes; without, it runs until
//! stopped. A failed start (the server unreachable, a bad URI) exits 1 with the status.

use std::process::ExitCode;
use std::time::Duration;

use grpc_wasi::{Channel, Code, Request, Status};

mod config {
    #![allow(missing_docs, clippy::all)]
    grpc_wasi::include_proto!("config");
}

use config::config_service_client::ConfigServiceClient;
use config::{GetConfigRequest, WatchConfigRequest};

/// Deadline of each `GetConfig`.
const GET_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline of each `WatchConfig`; the watch is made again when it passes.
const WATCH_DEADLINE: Duration = Duration::from_secs(60);
/// The wait before watching again after a broken watch: doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

struct Args {
    uri: String,
    keys: Vec<String>,
    /// Exit after this many changes.
    changes: Option<u64>,
}

fn parse_args() -> Option<Args> {
    let mut args = std::env::args().skip(1);
    let uri = args.next()?;
    let (mut keys, mut changes) = (Vec::new(), None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--changes" => changes = Some(args.next()?.parse().ok()?),
            _ => keys.push(arg),
        }
    }
    (!keys.is_empty()).then_some(Args { uri, keys, changes })
}

#[grpc_wasi::main]
async fn main() -> ExitCode {
    let Some(args) = parse_args() else {
        eprintln!("usage: config-watch URI KEY... [--changes N]");
        return ExitCode::FAILURE;
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => {
            eprintln!("error: {}: {}", status.code().name(), status.message());
            ExitCode::FAILURE
        }
    }
}

/// Reads the keys, then applies their changes (see the crate docs). Errors: a `GetConfig`
/// that fails otherwise than `NOT_FOUND`, or a bad URI.
async fn run(args: Args) -> Result<(), Status> {
    let channel = Channel::from_shared(args.uri)?.connect_lazy();
    let mut client = ConfigServiceClient::new(channel);
    // The last version applied: the watch resumes after it.
    let mut last = 0;
    for key in &args.keys {
        let mut request = Request::new(GetConfigRequest { key: key.clone() });
        request.set_timeout(GET_DEADLINE);
        match client.get_config(request).await {
            Ok(value) => {
                let value = value.into_inner();
                println!("{}={} (version {})", value.key, value.value, value.version);
                last = last.max(value.version);
            }
            Err(status) if status.code() == Code::NotFound => println!("{key} unset"),
            Err(status) => return Err(status),
        }
    }
    let mut applied = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if args.changes.is_some_and(|n| applied >= n) {
            return Ok(());
        }
        let mut request = Request::new(WatchConfigRequest {
            keys: args.keys.clone(),
            after_version: last,
        });
        request.set_timeout(WATCH_DEADLINE);
        let ended = match client.watch_config(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(change)) => {
                            // A resumed watch may repeat what the last one sent.
                            if change.version <= last {
                                continue;
                            }
                            println!(
                                "changed {}={} (version {})",
                                change.key, change.value, change.version
                            );
                            last = change.version;
                            applied += 1;
                            backoff = FIRST_BACKOFF;
                            if args.changes.is_some_and(|n| applied >= n) {
                                return Ok(());
                            }
                        }
                        Ok(None) => break Ok(()),
                        Err(status) => break Err(status),
                    }
                }
            }
            Err(status) => Err(status),
        };
        match ended {
            // The watch's own deadline, or the server ended it: watch again at once.
            Ok(()) => {}
            Err(status) if status.code() == Code::DeadlineExceeded => {}
            Err(status) => {
                eprintln!(
                    "watch broken: {}: {}; resuming after version {last} in {} ms",
                    status.code().name(),
                    status.message(),
                    backoff.as_millis()
                );
                grpc_wasi::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
