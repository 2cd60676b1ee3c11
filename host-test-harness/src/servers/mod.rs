//! The gRPC servers guests are tested against: tonic services on a shared accept loop
//! ([`test_server`]), plain or TLS ([`tls`]).

pub mod calculator_server;
pub mod config_server;
pub mod echo_server;
pub mod fault_server;
pub mod interop_server;
mod ping_counter;
pub mod route_guide_server;
pub mod tcp_echo;
pub mod test_server;
pub mod tls;
pub mod user_server;
