//! # grpc-wasi-host
//!
//! What a wasmtime embedder needs to run grpc-wasi guests (WASI 0.2, `wasm32-wasip2`) with
//! exactly the network access it grants, and with gRPC over `wasi:http` working:
//!
//! - [`NetworkPolicy`]: the allow-list: TCP connects to listed addresses, lookups of listed
//!   names only (no other query reaches a resolver: `wasi:sockets/ip-name-lookup`, WASI 0.2's
//!   and 0.3's, is replaced by one that answers granted names alone, names compared as DNS
//!   does, after IDNA),
//!   `wasi:http` requests to listed authorities; every refusal logged (`log` target
//!   `grpc_wasi_host`);
//! - [`OutgoingHttp2`]: the `wasi:http` outgoing side speaking HTTP/2 (h2c for `http://`, ALPN
//!   `h2` for `https://`), which gRPC needs and wasmtime's own (HTTP/1.1) does not speak;
//! - [`GuestState`] and [`add_to_linker`]: the store data of one instance and the linker
//!   entries for all of the above;
//! - [`Runner`] runs `wasi:cli/command` components (as `wasmtime run`), and [`proxy::start`]
//!   serves `wasi:http/incoming-handler` components (as `wasmtime serve`), both built on them.
//!
//! An embedder with its own component world links these and gives each instance its state:
//!
//! ```no_run
//! use grpc_wasi_host::{GuestState, NetworkPolicy, OutgoingHttp2};
//! use wasmtime::component::{Component, Linker};
//! use wasmtime::{Engine, Store};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let engine = Engine::default();
//! let mut linker = Linker::<GuestState>::new(&engine);
//! grpc_wasi_host::add_to_linker(&mut linker)?;
//! let mut policy = NetworkPolicy::deny_all();
//! policy.allow_http("127.0.0.1:50051")?.allow("127.0.0.1:50051")?;
//! let outgoing = OutgoingHttp2::new()?; // once; its connections are shared by every guest
//! let wasi = wasmtime_wasi::WasiCtx::builder();
//! let mut store = Store::new(&engine, GuestState::new(wasi, policy, &outgoing, ()));
//! let component = Component::from_file(&engine, "plugin.wasm")?;
//! let instance = linker.instantiate_async(&mut store, &component).await?;
//! # let _ = instance; Ok(()) }
//! ```

mod command;
mod h2c;
mod name_lookup;
mod outgoing_http;
pub mod pem;
pub mod policy;
pub mod proxy;
mod state;

pub use command::{RunOptions, RunOutput, Runner};
pub use outgoing_http::{HttpVersion, OutgoingHttp2};
pub use policy::NetworkPolicy;
pub use state::{GuestState, add_to_linker};
