//! Runs `wasi:cli/command` components in wasmtime 48 with WASI 0.2 (`wasi:http` included),
//! and WASI 0.3 commands (those exporting `wasi:cli/run@0.3.0`, with `wasi:http@0.3.0`),
//! granting exactly the network access asked for.
//!
//! Permissions are the run's [`NetworkPolicy`] (the harness's `--allow`, `--allow-http`,
//! `--resolve`). Denied connects fail in the guest with `wasi:sockets` `access-denied`, denied
//! lookups with `permanent-resolver-failure` (no query reaches a resolver), denied requests
//! with `wasi:http` `HTTP-request-denied`; each refusal is logged (see [`crate::policy`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, ProfilingStrategy, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx};

use crate::outgoing_http::{HttpVersion, OutgoingHttp2};
use crate::policy::NetworkPolicy;
use crate::state::{GuestState, add_to_linker};

/// Whether `component` is a WASI 0.3 command: it exports `wasi:cli/run@0.3.x`.
fn exports_p3_run(engine: &Engine, component: &Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with("wasi:cli/run@0.3."))
}

/// Most bytes of stdout or stderr kept from one run.
const OUTPUT_CAPACITY: usize = 16 * 1024 * 1024;

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

/// A wasmtime engine with WASI 0.2 and `wasi:http` linked in, the tokio runtime guests run on
/// and the HTTP clients they share; compile components once with [`Runner::load`], run them
/// many times.
#[derive(Clone)]
pub struct Runner {
    engine: Engine,
    linker: Arc<Linker<GuestState>>,
    runtime: Arc<tokio::runtime::Runtime>,
    outgoing: OutgoingHttp2,
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
        // WASI 0.3's async functions, streams and futures (the Component Model's async ABI).
        config.wasm_component_model_async(true);
        if std::env::var_os("GRPC_WASI_PERFMAP").is_some() {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Runner {
            engine,
            linker: Arc::new(linker),
            runtime: Arc::new(runtime),
            outgoing: OutgoingHttp2::trusting(ca_pems)?,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with WASI 0.2, the granted-names lookup and `wasi:http` ([`add_to_linker`]).
    pub fn linker(&self) -> &Linker<GuestState> {
        &self.linker
    }

    /// The tokio runtime guests run on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// The store data of one guest instance: WASI with `options`' args, env, stdin and
    /// folders, the network `policy` (`options.network`, shared), `wasi:http` through the
    /// runner's [`OutgoingHttp2`] at `options.http_version`. Output goes to `stdout`/`stderr`,
    /// or to this process's with `inherit_stdio`. Errors: a `dirs` folder cannot be opened.
    pub(crate) fn guest_state(
        &self,
        options: &RunOptions,
        policy: Arc<NetworkPolicy>,
        stdout: &MemoryOutputPipe,
        stderr: &MemoryOutputPipe,
    ) -> anyhow::Result<GuestState> {
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
        let outgoing = self.outgoing.speaking(options.http_version);
        Ok(GuestState::new(builder, policy, &outgoing, ()))
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
        let policy = Arc::new(options.network.clone());
        let host = self.guest_state(options, policy, &stdout, &stderr)?;
        let mut store = Store::new(&self.engine, host);
        let ran = if exports_p3_run(&self.engine, component) {
            let command = wasmtime_wasi::p3::bindings::Command::instantiate_async(
                &mut store,
                component,
                &self.linker,
            )
            .await?;
            // WASI 0.3's `run` is an async function: it runs inside the store's event loop.
            store
                .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
                .await
                .and_then(|ran| ran)
        } else {
            let command = Command::instantiate_async(&mut store, component, &self.linker).await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        let exit_code = match ran {
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

    /// [`Runner::run`] as a task on the runner's tokio runtime, waited for from this thread,
    /// for callers outside a runtime.
    ///
    /// The guest runs on one of the runtime's worker threads, the threads that also poll the
    /// I/O driver and run the `wasi:http` requests and connections it starts, so a socket
    /// becoming ready wakes the guest without a hop to another thread. (Run from `block_on`
    /// on the calling thread instead, the guest sleeps while a worker polls its sockets and
    /// every wake crosses threads: the bench guest's bidi round trip, medians of alternating
    /// runs, went from 133 to 114 µs over `wasi:sockets` and from 167 to 132 µs over
    /// `wasi:http` when it moved to a worker.)
    ///
    /// Errors: as [`Runner::run`], a run longer than `timeout` (if given), and a panic in the
    /// host while it ran.
    pub fn run_blocking(
        &self,
        component: &Component,
        options: &RunOptions,
        timeout: Option<Duration>,
    ) -> anyhow::Result<RunOutput> {
        let (runner, component, options) = (self.clone(), component.clone(), options.clone());
        let run = self.runtime.spawn(async move {
            match timeout {
                Some(t) => tokio::time::timeout(t, runner.run(&component, &options))
                    .await
                    .map_err(|_| anyhow!("the guest did not finish within {t:?}"))?,
                None => runner.run(&component, &options).await,
            }
        });
        self.runtime.block_on(run)?
    }
}
