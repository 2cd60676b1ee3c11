//! A tonic server for `config.ConfigService` (`proto/config.proto`), for
//! `examples/config-watch`: `GetConfig` answers a key's current value (or `NOT_FOUND`),
//! `WatchConfig` streams the changes of the keys asked for after a version, first those already
//! made, then each new one as it is made.
//!
//! Changes come from [`ConfigServer::set`], from a file ([`ConfigServer::follow_file`]: its
//! `KEY=VALUE` lines, read again whenever it changes) or from a timer
//! ([`ConfigServer::tick`]). [`ConfigServer::break_watches`] ends every open watch with
//! `UNAVAILABLE`, as a server restart or a lost connection would, so a client's
//! reconnect-and-resume can be tested.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::config_proto::config_service_server::{ConfigService, ConfigServiceServer};
use crate::config_proto::{ConfigValue, GetConfigRequest, WatchConfigRequest};
use crate::servers::test_server::{Incoming, Serve, Shutdown, TestServer};

/// The changes a watch may fall behind by before it is ended (the client resumes it).
const BACKLOG: usize = 1024;

/// The configuration: each key's value and version, the last version, and the changes as
/// they are made.
struct Store {
    state: Mutex<State>,
    changes: broadcast::Sender<ConfigValue>,
    /// Bumped by [`ConfigServer::break_watches`]: every open watch ends.
    breaks: watch::Sender<u64>,
    /// Watches started so far.
    watches: AtomicUsize,
}

#[derive(Default)]
struct State {
    values: BTreeMap<String, ConfigValue>,
    version: u64,
}

impl Store {
    /// Sets `key` to `value` at the next version, unless it has that value already; returns
    /// the key's version.
    fn set(&self, key: &str, value: &str) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = state.values.get(key)
            && current.value == value
        {
            return current.version;
        }
        state.version += 1;
        let change = ConfigValue {
            key: key.to_owned(),
            value: value.to_owned(),
            version: state.version,
        };
        state.values.insert(key.to_owned(), change.clone());
        // Sent under the lock, so watches see changes in version order.
        let _ = self.changes.send(change);
        state.version
    }
}

struct ConfigImpl(Arc<Store>);

#[tonic::async_trait]
impl ConfigService for ConfigImpl {
    async fn get_config(
        &self,
        request: Request<GetConfigRequest>,
    ) -> Result<Response<ConfigValue>, Status> {
        let key = request.into_inner().key;
        let state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.values.get(&key) {
            Some(value) => Ok(Response::new(value.clone())),
            None => Err(Status::not_found(format!("no configuration key {key:?}"))),
        }
    }

    type WatchConfigStream = ReceiverStream<Result<ConfigValue, Status>>;

    async fn watch_config(
        &self,
        request: Request<WatchConfigRequest>,
    ) -> Result<Response<Self::WatchConfigStream>, Status> {
        let WatchConfigRequest {
            keys,
            after_version,
        } = request.into_inner();
        let wanted = move |change: &ConfigValue| keys.is_empty() || keys.contains(&change.key);
        // The changes already made and the subscription to the next, under one lock: none is
        // missed or sent twice.
        let (mut backlog, mut changes) = {
            let state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
            let mut made: Vec<ConfigValue> = state
                .values
                .values()
                .filter(|v| v.version > after_version && wanted(v))
                .cloned()
                .collect();
            made.sort_by_key(|v| v.version);
            (made, self.0.changes.subscribe())
        };
        let mut breaks = self.0.breaks.subscribe();
        self.0.watches.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            for change in backlog.drain(..) {
                if tx.send(Ok(change)).await.is_err() {
                    return;
                }
            }
            loop {
                let change = tokio::select! {
                    change = changes.recv() => change,
                    _ = breaks.changed() => {
                        let broken = Status::unavailable("the server broke the watch");
                        let _ = tx.send(Err(broken)).await;
                        return;
                    }
                    () = tx.closed() => return,
                };
                let sent = match change {
                    Ok(change) if !wanted(&change) => continue,
                    Ok(change) => tx.send(Ok(change)).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let behind = Status::unavailable("the watch fell behind; resume it");
                        let _ = tx.send(Err(behind)).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// A running config server; stops when dropped.
pub struct ConfigServer {
    server: TestServer,
    store: Arc<Store>,
    /// Set when dropped: the file follower and the ticker stop.
    stopped: Arc<AtomicBool>,
}

impl ConfigServer {
    /// Starts the server on `addr` (port 0 picks a free one) with `initial` values (versions 1,
    /// 2, … in that order), on its own thread; bound before it returns.
    ///
    /// Errors: the address cannot be bound, or the runtime cannot start.
    pub fn start(addr: SocketAddr, initial: &[(&str, &str)]) -> anyhow::Result<ConfigServer> {
        let store = Arc::new(Store {
            state: Mutex::new(State::default()),
            changes: broadcast::channel(BACKLOG).0,
            breaks: watch::channel(0).0,
            watches: AtomicUsize::new(0),
        });
        for (key, value) in initial {
            store.set(key, value);
        }
        let service = store.clone();
        let serve = move |incoming: Incoming, stop: Shutdown| -> Serve {
            Box::pin(
                tonic::transport::Server::builder()
                    .add_service(ConfigServiceServer::new(ConfigImpl(service)))
                    .serve_with_incoming_shutdown(incoming, stop),
            )
        };
        Ok(ConfigServer {
            server: TestServer::start(addr, "config-server", serve)?,
            store,
            stopped: Arc::default(),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ADDR`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Sets `key` to `value` (a new version, unless the value is the same); returns the key's
    /// version.
    pub fn set(&self, key: &str, value: &str) -> u64 {
        self.store.set(key, value)
    }

    /// How many `WatchConfig` calls have started (their stream is subscribed to changes).
    pub fn watches_started(&self) -> usize {
        self.store.watches.load(Ordering::SeqCst)
    }

    /// Ends every open `WatchConfig` stream with `UNAVAILABLE`.
    pub fn break_watches(&self) {
        self.store.breaks.send_modify(|n| *n += 1);
    }

    /// Applies the `KEY=VALUE` lines of the file at `path` now and whenever its content
    /// changes (read every `every`), until the server stops; other lines are ignored, and a
    /// missing file is read again later.
    pub fn follow_file(&self, path: PathBuf, every: Duration) {
        let (store, stopped) = (self.store.clone(), self.stopped.clone());
        std::thread::spawn(move || {
            let mut seen = None;
            while !stopped.load(Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(&path)
                    && seen.as_ref() != Some(&text)
                {
                    for (key, value) in text.lines().filter_map(|l| l.split_once('=')) {
                        store.set(key.trim(), value.trim());
                    }
                    seen = Some(text);
                }
                std::thread::sleep(every);
            }
        });
    }

    /// Sets `key` to `1`, `2`, `3`, … every `every`, until the server stops.
    pub fn tick(&self, key: &str, every: Duration) {
        let (store, stopped) = (self.store.clone(), self.stopped.clone());
        let key = key.to_owned();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stopped.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                n += 1;
                store.set(&key, &n.to_string());
            }
        });
    }
}

impl Drop for ConfigServer {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}
