//! Runs `wasi:cli/command` components in wasmtime 48 with WASI 0.2 (`wasi:http` included),
//! granting exactly the network access asked for.
//!
//! Permissions: every `--allow HOST:PORT` lets the guest open TCP connections to that address
//! (a DNS name is resolved here, once, to the addresses it allows, and the guest may look up
//! that name and no other); every `--allow-http HOST:PORT` lets it send `wasi:http` requests to
//! that authority. Everything else is denied: other addresses and authorities, lookups of
//! other names, listening, UDP. Denied connects fail in the guest with `wasi:sockets`
//! `access-denied`, denied lookups with `permanent-resolver-failure` (no query reaches a
//! resolver; see [`crate::name_lookup`]), denied requests with `wasi:http`
//! `HTTP-request-denied`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, ProfilingStrategy, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::name_lookup::{self, FixedAnswers, GrantedNames, NameLookup};
use crate::outgoing_http::{Hooks, HttpClients, HttpVersion};

/// Most bytes of stdout or stderr kept from one run.
const OUTPUT_CAPACITY: usize = 16 * 1024 * 1024;

/// What a guest may reach on the network.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    addrs: HashSet<SocketAddr>,
    names: GrantedNames,
    fixed: FixedAnswers,
    http_authorities: HashSet<String>,
}

impl NetworkPolicy {
    /// Nothing allowed.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows TCP connections to `spec`: `IP:PORT`, `[IPv6]:PORT` or `NAME:PORT`.
    ///
    /// A name is resolved now, and allows every address it resolves to; the guest may look up
    /// that name (however it cases it, with or without a trailing dot), and only granted names.
    /// Errors: `spec` has no port, or a name that does not resolve or is not a valid host.
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
        let fixed = name_lookup::domain(bare)
            .and_then(|d| self.fixed.get(&d))
            .map(|answer| answer.lock().map(|ips| ips.clone()).unwrap_or_default());
        let resolved: Vec<_> = match fixed {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            None => (bare, port)
                .to_socket_addrs()
                .with_context(|| format!("--allow {spec:?}: cannot resolve {bare:?}"))?
                .collect(),
        };
        if resolved.is_empty() {
            bail!("--allow {spec:?}: {bare:?} resolves to no address");
        }
        let domain = name_lookup::domain(bare)
            .ok_or_else(|| anyhow!("--allow {spec:?}: {bare:?} is not a host name"))?;
        self.addrs.extend(resolved);
        self.names.insert(domain);
        Ok(self)
    }

    /// Gives `name` a fixed answer (`--resolve NAME=IP[,IP...]`): its lookups, by the guest
    /// once granted and by a later [`NetworkPolicy::allow`] of it, return `ips` in this order
    /// without a query. Grants nothing by itself.
    ///
    /// Errors: `spec` is not `NAME=IP[,IP...]`, or NAME is not a host name.
    pub fn resolve(&mut self, spec: &str) -> anyhow::Result<&mut Self> {
        let (name, ips) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--resolve {spec:?}: expected NAME=IP[,IP...]"))?;
        let domain = name_lookup::domain(name)
            .ok_or_else(|| anyhow!("--resolve {spec:?}: {name:?} is not a host name"))?;
        let ips = ips
            .split(',')
            .map(|ip| ip.trim_matches(['[', ']']).parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("--resolve {spec:?}: expected IP addresses after '='"))?;
        self.fixed.insert(domain, Arc::new(Mutex::new(ips)));
        Ok(self)
    }

    /// Gives `name` the fixed answer `answer`, as [`NetworkPolicy::resolve`], shared with the
    /// caller: a change to it is what later lookups return (the addresses a guest may connect
    /// to stay those granted by [`NetworkPolicy::allow`]).
    ///
    /// Errors: `name` is not a host name.
    pub fn resolve_to(
        &mut self,
        name: &str,
        answer: Arc<Mutex<Vec<IpAddr>>>,
    ) -> anyhow::Result<&mut Self> {
        let domain =
            name_lookup::domain(name).ok_or_else(|| anyhow!("{name:?} is not a host name"))?;
        self.fixed.insert(domain, answer);
        Ok(self)
    }

    /// Allows `wasi:http` requests to `authority`, `HOST:PORT` as the guest names it.
    ///
    /// Errors: `authority` has no port.
    pub fn allow_http(&mut self, authority: &str) -> anyhow::Result<&mut Self> {
        let authority: http::uri::Authority = authority
            .parse()
            .with_context(|| format!("--allow-http {authority:?}: expected HOST:PORT"))?;
        let Some(port) = authority.port_u16() else {
            bail!("--allow-http {authority}: expected HOST:PORT");
        };
        if authority.as_str().contains('@') {
            bail!("--allow-http {authority}: expected HOST:PORT, without userinfo");
        }
        // Stored as `permits_http` looks it up: the host lower-cased, the port as a number.
        self.http_authorities
            .insert(format!("{}:{port}", authority.host()).to_ascii_lowercase());
        Ok(self)
    }

    /// Whether a `wasi:http` request to `uri` is allowed (its port defaults by scheme). An
    /// authority with userinfo (`user@host`) never is.
    pub(crate) fn permits_http(&self, uri: &http::Uri) -> bool {
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return false;
        }
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
                443
            } else {
                80
            });
        self.http_authorities
            .contains(&format!("{host}:{port}").to_ascii_lowercase())
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
    /// The HTTP version the host's `wasi:http` speaks to servers.
    pub http_version: HttpVersion,
    /// Pass the guest's stdout/stderr through to this process instead of capturing them.
    pub inherit_stdio: bool,
    /// Give the guest this process's stdin (`--stdin`); without it the guest's stdin is empty.
    pub inherit_stdin: bool,
    /// The guest's stdin, when not inherited (default: empty).
    pub stdin: Vec<u8>,
    /// Host folders the guest may read, each with the path it sees it at (`wasmtime run
    /// --dir HOST::GUEST`): read-only.
    pub dirs: Vec<(std::path::PathBuf, String)>,
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

pub(crate) struct Host {
    ctx: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: Hooks,
    policy: Arc<NetworkPolicy>,
}

impl Host {
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

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A wasmtime engine with WASI 0.2 and `wasi:http` linked in, the tokio runtime guests run on
/// and the HTTP clients they share; compile components once with [`Runner::load`], run them
/// many times.
#[derive(Clone)]
pub struct Runner {
    engine: Engine,
    linker: Arc<Linker<Host>>,
    runtime: Arc<tokio::runtime::Runtime>,
    clients: HttpClients,
}

impl Runner {
    /// A runner with async WASI 0.2, whose `wasi:http` trusts Mozilla's roots for
    /// `https://`. Errors: wasmtime cannot be configured on this machine.
    ///
    /// With `GRPC_WASI_PERFMAP` set in the environment, compiled guest code is listed in
    /// `/tmp/perf-PID.map`, so `perf record` / `perf report` name guest functions (build the
    /// guest unstripped to see Rust names).
    pub fn new() -> anyhow::Result<Runner> {
        Runner::trusting(&[])
    }

    /// A runner whose `wasi:http` also trusts the CA certificates in `ca_pems` (PEM) for
    /// `https://`, over HTTP/2 and HTTP/1.1 alike (`--ca-cert`). Errors: as [`Runner::new`],
    /// and a PEM without a valid certificate.
    pub fn trusting(ca_pems: &[Vec<u8>]) -> anyhow::Result<Runner> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        if std::env::var_os("GRPC_WASI_PERFMAP").is_some() {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        name_lookup::add_to_linker(&mut linker, Host::name_lookup)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Runner {
            engine,
            linker: Arc::new(linker),
            runtime: Arc::new(runtime),
            clients: HttpClients::new(ca_pems)?,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with WASI 0.2 and `wasi:http`.
    pub(crate) fn linker(&self) -> &Linker<Host> {
        &self.linker
    }

    /// The tokio runtime guests run on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// The host state of one guest instance: WASI with `options`' args, env and permissions.
    /// Output goes to `stdout`/`stderr`, or to this process's with `inherit_stdio`.
    pub(crate) fn host(
        &self,
        options: &RunOptions,
        stdout: &MemoryOutputPipe,
        stderr: &MemoryOutputPipe,
    ) -> anyhow::Result<Host> {
        let mut builder = WasiCtx::builder();
        for (host, guest) in &options.dirs {
            builder
                .preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("--dir {}", host.display()))?;
        }
        let mut argv = vec!["guest.wasm".to_owned()];
        argv.extend(options.args.iter().cloned());
        builder.args(&argv);
        for (k, v) in &options.env {
            builder.env(k, v);
        }
        if options.inherit_stdin {
            builder.inherit_stdin();
        } else if !options.stdin.is_empty() {
            builder.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(
                options.stdin.clone(),
            ));
        }
        if options.inherit_stdio {
            builder.inherit_stdout().inherit_stderr();
        } else {
            builder.stdout(stdout.clone()).stderr(stderr.clone());
        }
        let policy = Arc::new(options.network.clone());
        // TCP as such is on; the address check below decides which connections go through.
        builder.allow_tcp(true);
        // On for wasmtime's resolver; `name_lookup` passes it only the granted names.
        builder.allow_ip_name_lookup(true);
        let check = policy.clone();
        builder.socket_addr_check(move |addr, reason| {
            let permitted = check.permits(addr, reason);
            Box::pin(async move { permitted })
        });
        Ok(Host {
            ctx: builder.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: Hooks::new(&self.clients, policy.clone(), options.http_version),
            policy,
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
        let host = self.host(options, &stdout, &stderr)?;
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

    /// [`Runner::run`] on the runner's tokio runtime, for callers outside one.
    ///
    /// Errors: as [`Runner::run`], and a run longer than `timeout` (if given).
    pub fn run_blocking(
        &self,
        component: &Component,
        options: &RunOptions,
        timeout: Option<Duration>,
    ) -> anyhow::Result<RunOutput> {
        self.runtime.block_on(async {
            match timeout {
                Some(t) => tokio::time::timeout(t, self.run(component, options))
                    .await
                    .map_err(|_| anyhow!("the guest did not finish within {t:?}"))?,
                None => self.run(component, options).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn http_grants_refuse_userinfo_and_accept_any_spelling_of_the_port() {
        let mut policy = NetworkPolicy::deny_all();
        policy.allow_http("127.0.0.1:50051").unwrap();
        let permits = |uri: &str| policy.permits_http(&uri.parse().unwrap());
        assert!(permits("http://127.0.0.1:50051/x"));
        assert!(permits("http://127.0.0.1:050051/x"));
        assert!(!permits("http://user@127.0.0.1:50051/x"));
        assert!(!permits("http://user:pw@127.0.0.1:50051/x"));
        assert!(!permits("http://127.0.0.2:50051/x"));
        let mut spelled = NetworkPolicy::deny_all();
        spelled.allow_http("LOCALHOST:050051").unwrap();
        assert!(spelled.permits_http(&"http://localhost:50051/x".parse().unwrap()));
        assert!(
            NetworkPolicy::deny_all()
                .allow_http("u@127.0.0.1:1")
                .is_err()
        );
    }

    #[test]
    fn a_fixed_answer_grants_exactly_its_addresses_at_the_allowed_port() {
        let mut policy = NetworkPolicy::deny_all();
        policy.resolve("Backends.Test.=127.0.0.2,[::1]").unwrap();
        policy.allow("backends.test:7").unwrap();
        let connect = |addr: &str| policy.permits(addr.parse().unwrap(), SocketAddrUse::TcpConnect);
        assert!(connect("127.0.0.2:7"));
        assert!(connect("[::1]:7"));
        assert!(!connect("127.0.0.1:7"));
        assert!(!connect("127.0.0.2:8"));
        assert!(policy.names.contains("backends.test"));
        for bad in [
            "backends.test",
            "backends.test=",
            "backends.test=x",
            "=127.0.0.1",
        ] {
            assert!(NetworkPolicy::deny_all().resolve(bad).is_err(), "{bad}");
        }
    }
}
