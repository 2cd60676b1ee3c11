//! gRPC health checking (feature `health`): the `grpc.health.v1.Health` client
//! (`grpc/health/v1/health.proto`, gRPC's "Health Checking Protocol" document,
//! `doc/health-checking.md`), and client-side health checking of a balanced channel's servers
//! (gRFC A17).
//!
//! ```no_run
//! # async fn f() -> Result<(), grpc_wasi::Status> {
//! use grpc_wasi::health::{HealthCheckRequest, HealthClient, ServingStatus};
//! let mut health = HealthClient::connect("http://127.0.0.1:50051").await?;
//! let request = HealthCheckRequest { service: "grpc.examples.echo.Echo".into() };
//! let reply = health.check(request.clone()).await?.into_inner();
//! println!("{:?}", reply.status());
//! let mut changes = health.watch(request).await?.into_inner();
//! while let Some(reply) = changes.message().await? {
//!     if reply.status() == ServingStatus::NotServing { break; }
//! }
//! # Ok(()) }
//! ```
//!
//! Client-side health checking: a channel that balances over several servers (`round_robin`
//! over a name's addresses, or [`Channel::balance_list`](crate::Channel::balance_list)) sends
//! calls only to servers whose health service says SERVING for the service config's
//! `healthCheckConfig.serviceName`, when its endpoint has [`Endpoint::health_check`]:
//!
//! ```no_run
//! # async fn f() -> Result<(), grpc_wasi::Status> {
//! let channel = grpc_wasi::Endpoint::from_static("dns:///backends.example:50051")
//!     .service_config(r#"{"loadBalancingConfig": [{"round_robin": {}}],
//!                        "healthCheckConfig": {"serviceName": "grpc.examples.echo.Echo"}}"#)?
//!     .health_check()
//!     .connect()
//!     .await?;
//! # let _ = channel; Ok(()) }
//! ```

mod checking;

/// The `grpc.health.v1` messages and client, generated from `proto/grpc/health/v1/health.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    include!("grpc_health_v1.rs");
}

pub use pb::health_check_response::ServingStatus;
pub use pb::health_client::HealthClient;
pub use pb::{HealthCheckRequest, HealthCheckResponse};

use crate::transport::Endpoint;

impl Endpoint {
    /// Turns on client-side health checking (gRFC A17) for the servers this endpoint's channel
    /// balances over, as grpc-go does once its health package is imported: with a service
    /// config that has `healthCheckConfig` (its `serviceName`, `""` for the server's overall
    /// health) and a `round_robin` channel (a name's addresses under the service config's
    /// `round_robin`, or [`Channel::balance_list`](crate::Channel::balance_list), which takes
    /// this from its first endpoint).
    ///
    /// Each server gets a `Watch` call once its channel is first used; it takes calls only
    /// after an answer of SERVING, and not after any other answer, or while the watch fails
    /// (it is made again after the connection backoff: 1 s, ×1.6, up to 120 s, ±20 %). A server without the health
    /// service (`UNIMPLEMENTED`) is taken as serving, as A17 says. Calls wait while no server
    /// has answered yet; when every server that can be reached is not serving, a call fails
    /// with `Unavailable` ("no server is SERVING …"), and a wait-for-ready call waits, within
    /// its deadline. `pick_first` channels are not health-checked (A17).
    pub fn health_check(self) -> Endpoint {
        self.with_health_check(checking::start)
    }
}
