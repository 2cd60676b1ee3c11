//! A tonic server for `calculator.Calculator` (`proto/calculator.proto`), for
//! `examples/calculator`: `Add` answers `a + b`, or `INVALID_ARGUMENT` when the sum does not
//! fit an int32.

use std::net::SocketAddr;

use tonic::{Request, Response, Status};

use crate::calculator_proto::calculator_server::{Calculator, CalculatorServer};
use crate::calculator_proto::{AddRequest, AddResponse};
use crate::servers::test_server::{Incoming, Serve, Shutdown, TestServer};

struct CalculatorImpl;

#[tonic::async_trait]
impl Calculator for CalculatorImpl {
    async fn add(&self, request: Request<AddRequest>) -> Result<Response<AddResponse>, Status> {
        let AddRequest { a, b } = request.into_inner();
        let result = a.checked_add(b).ok_or_else(|| {
            Status::invalid_argument(format!("{a} + {b} does not fit in an int32"))
        })?;
        Ok(Response::new(AddResponse { result }))
    }
}

/// Starts the calculator server on `addr` (port 0 picks a free one), on its own thread; bound
/// before it returns.
///
/// Errors: the address cannot be bound, or the runtime cannot start.
pub fn start(addr: SocketAddr) -> anyhow::Result<TestServer> {
    TestServer::start(addr, "calculator-server", serve)
}

fn serve(incoming: Incoming, stop: Shutdown) -> Serve {
    Box::pin(
        tonic::transport::Server::builder()
            .add_service(CalculatorServer::new(CalculatorImpl))
            .serve_with_incoming_shutdown(incoming, stop),
    )
}
