//! A real tonic server for `grpc.examples.echo.Echo`, run on its own thread and runtime. It
//! speaks gRPC over HTTP/2 and, through tonic-web, gRPC-Web over HTTP/1.1 and HTTP/2, and
//! accepts and sends gzip, deflate and zstd messages.
//!
//! Behaviour (the echo semantics of grpc-go's example server, plus hooks tests use to make the
//! server do something particular; a hook is chosen by the request message's prefix):
//!
//! - `UnaryEcho`: replies with the request message. Hooks:
//!   - `status:CODE:TEXT` → fails with gRPC code `CODE` (a number) and message `TEXT`;
//!   - `barrier:N:TAG` → waits until `N` calls with the same `TAG` are in flight at once (at
//!     most 10 s, else `DeadlineExceeded`), then replies `peer=ADDR`, the client's address:
//!     proof that calls were concurrent and which connection carried them;
//!   - `sleep:MS:TAG` → waits `MS` milliseconds, then replies `TAG`; a call dropped before
//!     (the client cancelled it) is recorded as cancelled under `TAG`;
//!   - `cancelled?:TAG` → replies `yes` if a call tagged `TAG` was cancelled, else `no`;
//!   - `rich` → fails with `RESOURCE_EXHAUSTED`, "slow down", and the details (in
//!     `grpc-status-details-bin`) ErrorInfo{reason QUOTA, domain echo.example, metadata
//!     limit=10}, RetryInfo{2.5 s} and BadRequest{field message: "too long"};
//!   - `header?:NAME` → replies with the request's header `NAME` (its values joined by `,`;
//!     empty if none);
//!   - `fail:N:CODE:TAG[:PUSHBACK_MS]` → fails the first `N` calls with `TAG` with gRPC code
//!     `CODE` (with `grpc-retry-pushback-ms: PUSHBACK_MS` if given), then replies
//!     `calls=C previous-attempts=P gaps-ms=[…]`: the calls with `TAG` so far, the
//!     `grpc-previous-rpc-attempts` of this one (`none` without), the ms between the calls;
//!   - `calls?:TAG` → replies with the number of calls `TAG` has seen;
//!   - `slow-first:MS:TAG` → the first call with `TAG` waits `MS` milliseconds (recorded as
//!     cancelled under `TAG` if the client cancels it meanwhile), later ones none; each then
//!     replies `calls=C previous-attempts=P` as `fail:` does (a call is recorded under `TAG`);
//!   - `health:SERVING` / `health:NOT_SERVING` → sets what the server's health service says
//!     of `grpc.examples.echo.Echo`, then replies `ok`.
//! - `ServerStreamingEcho`: replies with `TEXT 0`, `TEXT 1`, … : 3 messages, or `N` for a
//!   request `repeat:N:TEXT`; for `forever:TAG`, one message every 10 ms until the client
//!   cancels, which is recorded under `TAG`; for `fail-after-first:TAG`, `first` then
//!   `UNAVAILABLE` (a call is recorded under `TAG`, as `fail:` does).
//! - `ClientStreamingEcho`: replies once, with the request messages joined by `,`; when the
//!   first message starts with `sum:`, with the total size in bytes of all the messages; when
//!   it is a `fail:` hook, as `UnaryEcho`'s once the stream ended (the reply: the messages,
//!   then the hook's); when it is `track:TAG`, a request stream that does not end cleanly (the
//!   client aborted it, or the call was dropped) is recorded as cancelled under `TAG`
//!   (`cancelled?:TAG`).
//! - `BidirectionalStreamingEcho`: replies to each request message with the same message as
//!   soon as it arrives (full duplex).
//!
//! Beside it: `grpc.health.v1.Health` (tonic-health; `""` and `grpc.examples.echo.Echo`
//! SERVING at start) and server reflection (tonic-reflection) of `echo.proto` and
//! `health.proto`, `grpc.reflection.v1` and `v1alpha` (or only `v1alpha`, [`start_with`]).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::{Stream, StreamExt};
use tokio::sync::Barrier;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::echo_server::{Echo, EchoServer as EchoService};
use crate::proto::{EchoRequest, EchoResponse};
use crate::servers::test_server::{Incoming, Serve, Shutdown, TestServer};
use crate::servers::tls::ServerTls;

/// How long a `barrier:` call waits for the others.
const BARRIER_TIMEOUT: Duration = Duration::from_secs(10);

struct EchoImpl {
    /// What the health service says.
    health: tonic_health::server::HealthReporter,
    barriers: Mutex<HashMap<String, Arc<Barrier>>>,
    cancelled: Arc<Mutex<HashSet<String>>>,
    /// The calls seen of each `fail:` / `fail-after-first:` tag, with when each came.
    attempts: Mutex<HashMap<String, Vec<std::time::Instant>>>,
}

/// Records `tag` as cancelled when dropped before [`CancelGuard::finish`].
struct CancelGuard {
    tag: String,
    cancelled: Arc<Mutex<HashSet<String>>>,
    finished: bool,
}

impl CancelGuard {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished
            && let Ok(mut cancelled) = self.cancelled.lock()
        {
            cancelled.insert(std::mem::take(&mut self.tag));
        }
    }
}

fn reply(message: impl Into<String>) -> EchoResponse {
    EchoResponse {
        message: message.into(),
    }
}

/// A request's `grpc-previous-rpc-attempts`, `none` without one.
fn previous_attempts(headers: &http::HeaderMap) -> &str {
    headers
        .get("grpc-previous-rpc-attempts")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
}

/// A `fail:N:CODE:TAG[:PUSHBACK_MS]` hook's parts.
struct FailHook<'a> {
    n: usize,
    code: i32,
    tag: &'a str,
    pushback: Option<&'a str>,
}

impl<'a> FailHook<'a> {
    fn parse(rest: &'a str) -> Result<FailHook<'a>, Status> {
        let mut parts = rest.splitn(3, ':');
        let bad =
            || Status::invalid_argument("fail:N:CODE:TAG[:PUSHBACK_MS] needs numbers N, CODE");
        let n = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let code = parts.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let rest = parts.next().unwrap_or_default();
        let (tag, pushback) = match rest.split_once(':') {
            Some((tag, pushback)) => (tag, Some(pushback)),
            None => (rest, None),
        };
        Ok(FailHook {
            n,
            code,
            tag,
            pushback,
        })
    }
}

impl EchoImpl {
    /// Records a call of `tag`; returns how many there have been, and the gaps between them
    /// in ms.
    fn attempt(&self, tag: &str) -> Result<(usize, Vec<u128>), Status> {
        let mut attempts = self
            .attempts
            .lock()
            .map_err(|_| Status::internal("poisoned"))?;
        let times = attempts.entry(tag.to_owned()).or_default();
        times.push(std::time::Instant::now());
        let gaps = times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis())
            .collect();
        Ok((times.len(), gaps))
    }

    /// The `fail:` hook: fails the first `n` calls of its tag with its code (and pushback),
    /// then says how many calls came, the `grpc-previous-rpc-attempts` the last one carried,
    /// and the gaps between them.
    fn fail_hook(&self, hook: &FailHook<'_>, headers: &http::HeaderMap) -> Result<String, Status> {
        let (calls, gaps) = self.attempt(hook.tag)?;
        if calls <= hook.n {
            let mut status =
                Status::new(tonic::Code::from_i32(hook.code), format!("failure {calls}"));
            if let Some(pushback) = hook.pushback
                && let Ok(value) = pushback.parse()
            {
                status
                    .metadata_mut()
                    .insert("grpc-retry-pushback-ms", value);
            }
            return Err(status);
        }
        let previous = previous_attempts(headers);
        Ok(format!(
            "calls={calls} previous-attempts={previous} gaps-ms={gaps:?}"
        ))
    }

    /// Waits `ms` milliseconds; recorded as cancelled under `tag` if dropped before.
    async fn sleep(&self, ms: u64, tag: &str) {
        let guard = CancelGuard {
            tag: tag.to_owned(),
            cancelled: self.cancelled.clone(),
            finished: false,
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
        guard.finish();
    }

    /// How many calls the tag `tag` has seen.
    fn calls(&self, tag: &str) -> Result<usize, Status> {
        let attempts = self
            .attempts
            .lock()
            .map_err(|_| Status::internal("poisoned"))?;
        Ok(attempts.get(tag).map_or(0, Vec::len))
    }

    async fn barrier(&self, n: usize, tag: &str) -> Result<(), Status> {
        let barrier = {
            let mut barriers = self
                .barriers
                .lock()
                .map_err(|_| Status::internal("poisoned"))?;
            barriers
                .entry(tag.to_owned())
                .or_insert_with(|| Arc::new(Barrier::new(n)))
                .clone()
        };
        tokio::time::timeout(BARRIER_TIMEOUT, barrier.wait())
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "barrier {tag:?}: {n} calls were not in flight at once within {BARRIER_TIMEOUT:?}"
                ))
            })?;
        Ok(())
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for EchoImpl {
    async fn unary_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<EchoResponse>, Status> {
        let peer = request.remote_addr();
        let headers = request.metadata().clone().into_headers();
        let message = request.into_inner().message;
        if message == "rich" {
            let mut details = tonic_types::ErrorDetails::with_error_info(
                "QUOTA",
                "echo.example",
                [("limit".to_owned(), "10".to_owned())],
            );
            details.set_retry_info(Some(Duration::from_millis(2500)));
            details.add_bad_request_violation("message", "too long");
            return Err(<Status as tonic_types::StatusExt>::with_error_details(
                tonic::Code::ResourceExhausted,
                "slow down",
                details,
            ));
        }
        if let Some(rest) = message.strip_prefix("fail:") {
            let hook = FailHook::parse(rest)?;
            return Ok(Response::new(reply(self.fail_hook(&hook, &headers)?)));
        }
        if let Some(rest) = message.strip_prefix("slow-first:") {
            let (ms, tag) = rest
                .split_once(':')
                .and_then(|(ms, tag)| Some((ms.parse::<u64>().ok()?, tag)))
                .ok_or_else(|| Status::invalid_argument("slow-first:MS:TAG needs a number MS"))?;
            let (calls, _) = self.attempt(tag)?;
            if calls == 1 {
                self.sleep(ms, tag).await;
            }
            let previous = previous_attempts(&headers);
            return Ok(Response::new(reply(format!(
                "calls={calls} previous-attempts={previous}"
            ))));
        }
        if let Some(tag) = message.strip_prefix("calls?:") {
            return Ok(Response::new(reply(self.calls(tag)?.to_string())));
        }
        if let Some(status) = message.strip_prefix("health:") {
            use tonic_health::ServingStatus as S;
            let status = match status {
                "SERVING" => S::Serving,
                "NOT_SERVING" => S::NotServing,
                _ => {
                    return Err(Status::invalid_argument(
                        "health:SERVING or health:NOT_SERVING",
                    ));
                }
            };
            self.health.set_service_status(ECHO_SERVICE, status).await;
            return Ok(Response::new(reply("ok".to_owned())));
        }
        if let Some(name) = message.strip_prefix("header?:") {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            return Ok(Response::new(reply(values.join(","))));
        }
        if let Some(tag) = message.strip_prefix("cancelled?:") {
            let cancelled = self
                .cancelled
                .lock()
                .map_err(|_| Status::internal("poisoned"))?;
            let answer = if cancelled.contains(tag) { "yes" } else { "no" };
            return Ok(Response::new(reply(answer)));
        }
        if let Some(rest) = message.strip_prefix("sleep:") {
            let (ms, tag) = rest.split_once(':').unwrap_or((rest, ""));
            let ms = ms
                .parse()
                .map_err(|_| Status::invalid_argument("sleep:MS:TAG needs a number MS"))?;
            self.sleep(ms, tag).await;
            return Ok(Response::new(reply(tag)));
        }
        if let Some(rest) = message.strip_prefix("status:") {
            let (code, text) = rest.split_once(':').unwrap_or((rest, ""));
            let code = code.parse::<i32>().unwrap_or(2);
            return Err(Status::new(tonic::Code::from_i32(code), text));
        }
        if let Some(rest) = message.strip_prefix("barrier:") {
            let (n, tag) = rest.split_once(':').unwrap_or((rest, ""));
            let n = n
                .parse()
                .map_err(|_| Status::invalid_argument("barrier:N:TAG needs a number N"))?;
            self.barrier(n, tag).await?;
            let peer = peer.map(|p| p.to_string()).unwrap_or_default();
            return Ok(Response::new(reply(format!("peer={peer}"))));
        }
        Ok(Response::new(reply(message)))
    }

    type ServerStreamingEchoStream = ResponseStream;

    async fn server_streaming_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::ServerStreamingEchoStream>, Status> {
        let message = request.into_inner().message;
        if let Some(tag) = message.strip_prefix("fail-after-first:") {
            // A response that fails once it has begun: not to be retried.
            self.attempt(tag)?;
            let items = [
                Ok(reply("first")),
                Err(Status::unavailable("failed after the first message")),
            ];
            return Ok(Response::new(Box::pin(futures_lite::stream::iter(items))));
        }
        if let Some(tag) = message.strip_prefix("forever:") {
            let guard = CancelGuard {
                tag: tag.to_owned(),
                cancelled: self.cancelled.clone(),
                finished: false,
            };
            let ticks = tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(
                Duration::from_millis(10),
            ));
            let stream = ticks.enumerate().map(move |(i, _)| {
                let _alive = &guard;
                Ok(reply(format!("tick {i}")))
            });
            return Ok(Response::new(Box::pin(stream)));
        }
        let (count, text) = match message.strip_prefix("repeat:") {
            Some(rest) => {
                let (n, text) = rest.split_once(':').unwrap_or((rest, ""));
                let n: usize = n
                    .parse()
                    .map_err(|_| Status::invalid_argument("repeat:N:TEXT needs a number N"))?;
                (n, text.to_owned())
            }
            None => (3, message),
        };
        let stream =
            futures_lite::stream::iter(0..count).map(move |i| Ok(reply(format!("{text} {i}"))));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn client_streaming_echo(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let mut stream = request.into_inner();
        let mut messages = Vec::new();
        let mut total = 0;
        let mut sum_only = false;
        let mut tracked: Option<CancelGuard> = None;
        while let Some(request) = stream.next().await {
            let message = request?.message;
            if total == 0
                && let Some(tag) = message.strip_prefix("track:")
            {
                tracked = Some(CancelGuard {
                    tag: tag.to_owned(),
                    cancelled: self.cancelled.clone(),
                    finished: false,
                });
            }
            sum_only |= total == 0 && message.starts_with("sum:");
            total += message.len();
            if !sum_only {
                messages.push(message);
            }
        }
        if let Some(guard) = tracked {
            // tonic ends a request stream the client reset (RST_STREAM CANCEL) as if it had
            // ended cleanly, and hyper drops the handler of a reset stream the next time the
            // handler waits. Waiting once tells the two apart: a reset call ends here, and its
            // guard records it; a stream that really ended goes on.
            tokio::task::yield_now().await;
            guard.finish();
        }
        if let Some(rest) = messages.first().and_then(|m| m.strip_prefix("fail:")) {
            // The `fail:` hook, decided once the whole request stream has come.
            let hook = FailHook::parse(rest)?;
            let outcome = self.fail_hook(&hook, &headers)?;
            return Ok(Response::new(reply(format!(
                "{} {outcome}",
                messages.join(",")
            ))));
        }
        let answer = if sum_only {
            total.to_string()
        } else {
            messages.join(",")
        };
        Ok(Response::new(reply(answer)))
    }

    type BidirectionalStreamingEchoStream = ResponseStream;

    async fn bidirectional_streaming_echo(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::BidirectionalStreamingEchoStream>, Status> {
        let stream = request
            .into_inner()
            .map(|request| request.map(|r| reply(r.message)));
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The echo service accepting, and answering in, every encoding the client offers.
fn compressing(service: EchoService<EchoImpl>) -> EchoService<EchoImpl> {
    use tonic::codec::CompressionEncoding as E;
    [E::Gzip, E::Deflate, E::Zstd]
        .into_iter()
        .fold(service, |service, e| {
            service.accept_compressed(e).send_compressed(e)
        })
}

/// Starts the echo server on `addr` (port 0 picks a free one), on its own thread.
///
/// Bound before it returns: clients may connect at once. Errors: the address cannot be bound,
/// or the runtime cannot start.
pub fn start(addr: SocketAddr) -> anyhow::Result<TestServer> {
    TestServer::start(addr, "echo-server", serve)
}

/// The reflection services a server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reflection {
    /// `grpc.reflection.v1` and `grpc.reflection.v1alpha` (what [`start`] serves).
    Both,
    /// Only `grpc.reflection.v1alpha`, as older servers.
    V1AlphaOnly,
}

/// [`start`], with the reflection services `reflection` says.
///
/// Errors: as [`start`]'s.
pub fn start_with(addr: SocketAddr, reflection: Reflection) -> anyhow::Result<TestServer> {
    match reflection {
        Reflection::Both => start(addr),
        Reflection::V1AlphaOnly => TestServer::start(addr, "echo-server", serve_v1alpha),
    }
}

/// Starts the echo server speaking TLS as `tls` says (its URI is `https://`); otherwise as
/// [`start`]. Errors: also a TLS configuration rustls cannot use.
pub fn start_tls(addr: SocketAddr, tls: &ServerTls) -> anyhow::Result<TestServer> {
    TestServer::start_tls(addr, "echo-server", tls, serve)
}

/// The echo service's full name, as the health service knows it.
const ECHO_SERVICE: &str = "grpc.examples.echo.Echo";

fn serve(incoming: Incoming, stop: Shutdown) -> Serve {
    serve_reflection(incoming, stop, Reflection::Both)
}

fn serve_v1alpha(incoming: Incoming, stop: Shutdown) -> Serve {
    serve_reflection(incoming, stop, Reflection::V1AlphaOnly)
}

fn serve_reflection(incoming: Incoming, stop: Shutdown, reflection: Reflection) -> Serve {
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::ECHO_DESCRIPTORS)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // The descriptors are the build's own: an error here is a bug, shown, and the server then
    // runs without that reflection service (so the reflection tests fail, saying why).
    fn built<S>(service: Result<S, tonic_reflection::server::Error>) -> Option<S> {
        service
            .inspect_err(|e| eprintln!("echo server: reflection: {e}"))
            .ok()
    }
    let v1 = match reflection {
        Reflection::Both => built(reflection_builder().build_v1()),
        Reflection::V1AlphaOnly => None,
    };
    let v1alpha = built(reflection_builder().build_v1alpha());
    Box::pin(async move {
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        health
            .set_service_status(ECHO_SERVICE, tonic_health::ServingStatus::Serving)
            .await;
        let echo = EchoImpl {
            health,
            barriers: Mutex::default(),
            cancelled: Arc::default(),
            attempts: Mutex::default(),
        };
        tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(tonic_web::GrpcWebLayer::new())
            .add_service(compressing(EchoService::new(echo)))
            .add_service(health_service)
            .add_optional_service(v1alpha)
            .add_optional_service(v1)
            .serve_with_incoming_shutdown(incoming, stop)
            .await
    })
}
