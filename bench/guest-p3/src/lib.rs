//! bench-guest-p3: `bench-guest`'s workloads in a WASI 0.3 command, on grpc-wasi's `wasip3`
//! runtime and transport (gRPC over `wasi:http/client@0.3.0`).
//!
//! Usage: `bench-guest-p3 URI TRANSPORT WORKLOAD COUNT SIZE`, as `bench-guest` (TRANSPORT
//! `wasi-http` or `grpc-web`; `sockets` is WASI 0.2's, not in this build). It exports
//! `wasi:cli/run@0.3.0`, an async function, and awaits the calls there: a WASI 0.3 import may
//! only wait inside an async export.
//!
//! Exits 1 with the status on stderr if a call fails.

use grpc_wasi::{Channel, Transport};

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
        let transport: Transport = transport.parse().map_err(|status| eprintln!("{status}"))?;
        let endpoint = Channel::from_shared(uri.clone())
            .map_err(|status| eprintln!("{status}"))?
            .transport(transport);
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
