//! [`GuestState`]: the store data of one guest instance (WASI 0.2 with the network policy,
//! `wasi:http` over [`OutgoingHttp2`]), and [`add_to_linker`], which links what it serves.

use std::sync::Arc;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::name_lookup::{self, NameLookup};
use crate::outgoing_http::{Hooks, OutgoingHttp2};
use crate::policy::NetworkPolicy;

/// The store data (`wasmtime::Store<GuestState<D>>`) of one guest instance: its WASI context,
/// resource table and `wasi:http` context, the [`NetworkPolicy`] every socket address, name
/// lookup and `wasi:http` request is checked against, and the embedder's own `data`.
///
/// One per instance: a fresh store per call (as `wasmtime serve` does per request) keeps no
/// state from one call to the next.
pub struct GuestState<D = ()> {
    ctx: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: Hooks,
    policy: Arc<NetworkPolicy>,
    /// The embedder's state for this instance (limits, counters, its own host functions').
    pub data: D,
}

impl<D> GuestState<D> {
    /// The state of a guest that gets what `wasi` gives it (args, env, stdio, folders) and
    /// the network `policy` grants: TCP is turned on in `wasi` and each socket address is
    /// checked against `policy`, name lookups go through the granted-names `ip-name-lookup`
    /// (so `wasi`'s own lookup setting is overridden), and `wasi:http` requests go out through
    /// `outgoing` once `policy` allows their authority.
    ///
    /// `policy` may be shared (`Arc<NetworkPolicy>`): a host that makes an instance per call
    /// gives each the same one, uncopied.
    pub fn new(
        mut wasi: WasiCtxBuilder,
        policy: impl Into<Arc<NetworkPolicy>>,
        outgoing: &OutgoingHttp2,
        data: D,
    ) -> Self {
        let policy = policy.into();
        // TCP as such is on; the address check decides which connections go through.
        wasi.allow_tcp(true);
        // On for wasmtime's resolver; `name_lookup` passes it only the granted names.
        wasi.allow_ip_name_lookup(true);
        let check = policy.clone();
        wasi.socket_addr_check(move |addr, reason| {
            let permitted = check.permits(addr, reason);
            Box::pin(async move { permitted })
        });
        GuestState {
            ctx: wasi.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: outgoing.hooks(policy.clone()),
            policy,
            data,
        }
    }

    /// The network policy this guest runs under.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// What the granted-names `ip-name-lookup` works on.
    fn name_lookup(&mut self) -> NameLookup<'_> {
        NameLookup {
            sockets: WasiSocketsCtxView {
                ctx: self.ctx.sockets(),
                table: &mut self.table,
            },
            granted: &self.policy.names,
            fixed: &self.policy.fixed,
        }
    }
}

impl<D: Send> WasiHttpView for GuestState<D> {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl<D: Send> WasiView for GuestState<D> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Links WASI 0.2 (async), the granted-names `wasi:sockets/ip-name-lookup` in place of
/// wasmtime's, and `wasi:http/outgoing-handler` and `types` into `linker`: every import a
/// grpc-wasi guest on any transport needs (WASI 0.2: `wasi:cli`, `wasi:io`, `wasi:clocks`,
/// `wasi:random`, `wasi:filesystem`, `wasi:sockets` and `wasi:http` 0.2.x), and of WASI 0.3
/// `wasi:cli`, `wasi:clocks`, `wasi:random`, `wasi:sockets` (its `ip-name-lookup` the
/// granted-names one too) and `wasi:http` 0.3.0 (wasmtime 48's experimental WASIp3: the engine
/// needs `Config::wasm_component_model_async`). The host functions
/// are async: instantiate with `instantiate_async` and call exports with their `_async` or
/// `bindgen!(exports: { default: async })` forms, on a tokio runtime (wasmtime-wasi's sockets
/// and [`OutgoingHttp2`] need one).
///
/// Errors: an interface cannot be linked (a name already defined in `linker`, or a wasmtime
/// version other than the one this crate is built with).
pub fn add_to_linker<D: Send + 'static>(linker: &mut Linker<GuestState<D>>) -> anyhow::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    name_lookup::add_to_linker(linker, GuestState::name_lookup)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    // WASI 0.3: what a `wasi:cli/run@0.3.0` command with `wasi:http@0.3.0` and
    // `wasi:sockets@0.3.0` imports (its name lookup the granted-names one); not
    // `wasi:filesystem@0.3.0`.
    wasmtime_wasi::p3::cli::add_to_linker(linker)?;
    name_lookup::add_p3_to_linker(linker, GuestState::name_lookup)?;
    wasmtime_wasi::p3::clocks::add_to_linker(linker)?;
    wasmtime_wasi::p3::random::add_to_linker(linker)?;
    wasmtime_wasi_http::p3::add_to_linker(linker)?;
    Ok(())
}
