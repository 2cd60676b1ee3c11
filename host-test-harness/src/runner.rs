//! Runs `wasi:cli/command` components in wasmtime 48 with WASI 0.2, granting exactly the
//! network access asked for.
//!
//! Permissions: every `--allow HOST:PORT` lets the guest open TCP connections to that address
//! (a DNS name is resolved here, once, and name lookup is granted to the guest only when some
//! allowed host is a name). Everything else is denied: other addresses, listening, UDP.
//! Denied connects fail in the guest with `wasi:sockets` `access-denied`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

/// Most bytes of stdout or stderr kept from one run.
const OUTPUT_CAPACITY: usize = 16 * 1024 * 1024;

/// What a guest may reach on the network.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    addrs: HashSet<SocketAddr>,
    name_lookup: bool,
}

impl NetworkPolicy {
    /// Nothing allowed.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows TCP connections to `spec`: `IP:PORT`, `[IPv6]:PORT` or `NAME:PORT`.
    ///
    /// A name is resolved now, and allows every address it resolves to; it also grants the
    /// guest name lookup. Errors: `spec` has no port, or a name that does not resolve.
    pub fn allow(&mut self, spec: &str) -> anyhow::Result<&mut Self> {
        let (host, port) = spec
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("--allow {spec:?}: expected HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .with_context(|| format!("--allow {spec:?}: invalid port"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.addrs.insert(SocketAddr::new(ip, port));
            return Ok(self);
        }
        let resolved: Vec<_> = (bare, port)
            .to_socket_addrs()
            .with_context(|| format!("--allow {spec:?}: cannot resolve {bare:?}"))?
            .collect();
        if resolved.is_empty() {
            bail!("--allow {spec:?}: {bare:?} resolves to no address");
        }
        self.addrs.extend(resolved);
        self.name_lookup = true;
        Ok(self)
    }

    fn permits(&self, addr: SocketAddr, reason: SocketAddrUse) -> bool {
        match reason {
            SocketAddrUse::TcpConnect => self.addrs.contains(&addr),
            // The implicit bind to the wildcard address that `connect` performs.
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ => false,
        }
    }
}

/// How to run one guest.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Arguments after `argv[0]` (which is the component's file name).
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Network permissions.
    pub network: NetworkPolicy,
    /// Pass the guest's stdout/stderr through to this process instead of capturing them.
    pub inherit_stdio: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit code: 0, the code given to `exit`, or 1 for an `Err` from `run`.
    pub exit_code: i32,
    /// Captured stdout (empty with `inherit_stdio`).
    pub stdout: String,
    /// Captured stderr (empty with `inherit_stdio`).
    pub stderr: String,
}

struct Host {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A wasmtime engine with WASI 0.2 linked in; compile components once with
/// [`Runner::load`], run them many times.
#[derive(Clone)]
pub struct Runner {
    engine: Engine,
    linker: Arc<Linker<Host>>,
}

impl Runner {
    /// A runner with async WASI 0.2. Errors: wasmtime cannot be configured on this machine.
    pub fn new() -> anyhow::Result<Runner> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Ok(Runner {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// Compiles the component at `path`. Errors: not a readable, valid component.
    pub fn load(&self, path: &Path) -> anyhow::Result<Component> {
        Component::from_file(&self.engine, path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading component {}", path.display()))
    }

    /// Instantiates `component` and calls its `wasi:cli/run`, on the current tokio runtime.
    ///
    /// Errors: instantiation fails (missing imports), or the guest traps (its message and
    /// backtrace are in the error). A guest that exits with a code is not an error.
    pub async fn run(
        &self,
        component: &Component,
        options: &RunOptions,
    ) -> anyhow::Result<RunOutput> {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let mut builder = WasiCtx::builder();
        let mut argv = vec!["guest.wasm".to_owned()];
        argv.extend(options.args.iter().cloned());
        builder.args(&argv);
        for (k, v) in &options.env {
            builder.env(k, v);
        }
        if options.inherit_stdio {
            builder.inherit_stdio();
        } else {
            builder.stdout(stdout.clone()).stderr(stderr.clone());
        }
        let policy = Arc::new(options.network.clone());
        // TCP as such is on; the address check below decides which connections go through.
        builder.allow_tcp(true);
        builder.allow_ip_name_lookup(policy.name_lookup);
        builder.socket_addr_check(move |addr, reason| {
            let permitted = policy.permits(addr, reason);
            Box::pin(async move { permitted })
        });
        let host = Host {
            ctx: builder.build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, host);
        let command = Command::instantiate_async(&mut store, component, &self.linker).await?;
        let exit_code = match command.wasi_cli_run().call_run(&mut store).await {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => exit.0,
                None => return Err(anyhow::Error::from(e).context("the guest trapped")),
            },
        };
        let text = |pipe: &MemoryOutputPipe| String::from_utf8_lossy(&pipe.contents()).into_owned();
        Ok(RunOutput {
            exit_code,
            stdout: text(&stdout),
            stderr: text(&stderr),
        })
    }

    /// [`Runner::run`] on a new multi-threaded tokio runtime, for callers without one.
    pub fn run_blocking(
        &self,
        component: &Component,
        options: &RunOptions,
    ) -> anyhow::Result<RunOutput> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(self.run(component, options))
    }
}
