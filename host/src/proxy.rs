//! Hosts a `wasi:http/incoming-handler` component behind an HTTP server (HTTP/1.1 and
//! HTTP/2), as `wasmtime serve` does: one fresh instance per request, with the same
//! permissions as [`Runner::run`](crate::Runner::run) for its own outgoing traffic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, anyhow};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::watch;
use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::command::{RunOptions, Runner};
use crate::policy::NetworkPolicy;
use crate::state::GuestState;

/// Most bytes of a request's guest output kept (and dropped) when not inherited.
const OUTPUT_CAPACITY: usize = 1024 * 1024;

/// A running server; stops when dropped.
pub struct Serving {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    running: Arc<AtomicUsize>,
}

impl Serving {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many instances are running: each request's runs until its `incoming-handler`
    /// call returns, which for a `wstd` guest is when its last task has ended (after the
    /// response, possibly).
    pub fn instances_running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Serves until the process is interrupted.
    pub fn wait_for_ctrl_c(&self, runner: &Runner) -> anyhow::Result<()> {
        runner.runtime().block_on(tokio::signal::ctrl_c())?;
        Ok(())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

struct Server {
    runner: Runner,
    pre: ProxyPre<GuestState>,
    options: RunOptions,
    /// `options.network`, shared by every request's instance.
    policy: Arc<NetworkPolicy>,
    running: Arc<AtomicUsize>,
}

/// Counts a running instance until dropped.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn new(count: &Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Binds `listen` (port 0 picks a free one) and serves `component` on the runner's runtime.
///
/// `options` gives each instance its env and outgoing permissions (args are ignored). Errors:
/// the component is not a `wasi:http/proxy` component, or the address cannot be bound.
pub fn start(
    runner: &Runner,
    component: &Component,
    listen: SocketAddr,
    options: RunOptions,
) -> anyhow::Result<Serving> {
    let pre = runner
        .linker()
        .instantiate_pre(component)
        .map_err(anyhow::Error::from)
        .and_then(|pre| ProxyPre::new(pre).map_err(anyhow::Error::from))
        .context("the component does not export wasi:http/incoming-handler")?;
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let running = Arc::new(AtomicUsize::new(0));
    let server = Arc::new(Server {
        runner: runner.clone(),
        pre,
        policy: Arc::new(options.network.clone()),
        options,
        running: running.clone(),
    });
    let (shutdown, mut stop) = watch::channel(false);
    let _guard = runner.runtime().enter();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    runner.runtime().spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
                _ = stop.wait_for(|stop| *stop) => return,
            };
            let server = server.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let server = server.clone();
                    async move { server.handle(request).await }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Serving {
        addr,
        shutdown,
        running,
    })
}

impl Server {
    async fn handle(
        &self,
        request: hyper::Request<Incoming>,
    ) -> anyhow::Result<hyper::Response<HyperOutgoingBody>> {
        let out = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let host = self
            .runner
            .guest_state(&self.options, self.policy.clone(), &out, &out)?;
        let mut store = Store::new(self.runner.engine(), host);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let response = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        let running = Running::new(&self.running);
        let task = tokio::spawn(async move {
            let _running = running;
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(store, request, response)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(anyhow!("the guest answered with an error: {e:?}")),
            Err(_) => Err(match task.await {
                Ok(Ok(())) => anyhow!("the guest never set a response"),
                Ok(Err(e)) => anyhow::Error::from(e).context("the guest trapped"),
                Err(e) => anyhow::Error::from(e),
            }),
        }
    }
}
