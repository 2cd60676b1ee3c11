//! The smallest complete grpc-wasi client: `calculator.wasm URI A B` calls
//! `calculator.Calculator/Add` at `URI` and prints the sum alone on a line.
//!
//! A failed call prints its status on stderr (`error: INVALID_ARGUMENT: …`, the server's
//! answer to a sum past int32) and exits with 1, as do bad arguments (with the usage).

use std::process::ExitCode;

mod calculator {
    #![allow(missing_docs, clippy::all)]
    grpc_wasi::include_proto!("calculator");
}

use calculator::AddRequest;
use calculator::calculator_client::CalculatorClient;

#[grpc_wasi::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, uri, a, b] => a
            .parse::<i32>()
            .ok()
            .zip(b.parse::<i32>().ok())
            .map(|ab| (uri, ab)),
        _ => None,
    };
    let Some((uri, (a, b))) = parsed else {
        eprintln!("usage: calculator URI A B   (A and B are int32 numbers)");
        return ExitCode::FAILURE;
    };
    let sum = async {
        let mut client = CalculatorClient::connect(uri.clone()).await?;
        let reply = client.add(AddRequest { a, b }).await?;
        Ok::<_, grpc_wasi::Status>(reply.into_inner().result)
    };
    match sum.await {
        Ok(result) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("error: {}: {}", status.code().name(), status.message());
            ExitCode::FAILURE
        }
    }
}
