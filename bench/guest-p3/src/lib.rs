//! bench-guest-p3: `bench-guest`'s workloads in a WASI 0.3 command, on grpc-wasi's `wasip3`
//! runtime and transports (gRPC over `wasi:http/client@0.3.0`, and with the `sockets` feature
//! HTTP/2 over `wasi:sockets@0.3.0`).
//!
//! Usage: `bench-guest-p3 URI TRANSPORT WORKLOAD COUNT SIZE`, as `bench-guest` (TRANSPORT
//! `wasi-http` or `grpc-web`, and `sockets` when built with the `sockets` feature). It exports
//! `wasi:cli/run@0.3.0`, an async function, and awaits the calls there: a WASI 0.3 import may
//! only wait inside an async export. Built with the `tls` feature, an `https://` URI over
//! sockets trusts the CA in the environment variable `TLS_CA` (PEM).
//!
//! Exits 1 with the status on stderr if a call fails.

#[path = "../../guest/src/workloads.rs"]
mod workloads;

struct BenchGuest;

wasip3::cli::command::export!(BenchGuest);

impl wasip3::exports::cli::run::Guest for BenchGuest {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().collect();
        let [_, uri, transport, workload, count, size] = args.as_slice() else {
            eprintln!("usage: bench-guest-p3 URI TRANSPORT WORKLOAD COUNT SIZE");
            return Err(());
        };
        let endpoint =
            workloads::endpoint(uri, transport).map_err(|status| eprintln!("{status}"))?;
        let count = count.parse().unwrap_or(1).max(1);
        let size = size.parse().unwrap_or(0);
        match grpc_wasi::wasip3::run(workloads::run(endpoint, workload, count, size)).await {
            Ok(figures) => {
                println!("{figures}");
                Ok(())
            }
            Err(status) => {
                eprintln!("{workload}: {status}");
                Err(())
            }
        }
    }
}
