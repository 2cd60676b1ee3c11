//! [`Grpc`]: the client core the generated stubs call, one method per RPC kind.
//!
//! Every kind is the same call underneath: request headers, a body of Length-Prefixed-Messages,
//! a response whose messages are read as a [`Streaming`]. A unary response is a stream that must
//! hold exactly one message (PROTOCOL-HTTP2, "Responses").

#[cfg(feature = "log")]
mod call_log;
mod hedging;
pub(crate) mod retry;
mod streaming;

use streaming::ResponseMessages;
pub use streaming::Streaming;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use futures_lite::StreamExt;
use http::uri::PathAndQuery;
use prost::Message;

use http::HeaderValue;

use crate::codec::compression::{CompressionEncoding, EncodingSet};
use crate::codec::{self, framing::DEFAULT_MAX_DECODING_MESSAGE_SIZE};
use crate::metadata::MetadataMap;
use crate::request::{CallOptions, IntoStreamMessage, Request};
use crate::response::Response;
use crate::runtime::Deadline;
use crate::service_config::{HedgingPolicy, RetryPolicy};
use crate::status::Status;
use crate::timeout;
use crate::transport::{Channel, RequestBody, ResponseBody};
use retry::{Pushback, ReplayBody};
use std::time::Duration;

/// A gRPC client over a [`Channel`], for any service: generated clients wrap one.
///
/// Limits: received messages over [`Grpc::max_decoding_message_size`] bytes (default 4 MiB)
/// fail with `ResourceExhausted` before they are buffered; sent messages over
/// [`Grpc::max_encoding_message_size`] (default unlimited) fail the same way before they are
/// sent.
#[derive(Clone)]
pub struct Grpc {
    channel: Channel,
    max_decoding_message_size: usize,
    max_encoding_message_size: usize,
    interceptor: Option<Rc<RefCell<dyn Interceptor>>>,
    send_compressed: Option<CompressionEncoding>,
    accept_compressed: EncodingSet,
}

/// What every call of a client passes through before it is sent, as tonic's
/// `service::Interceptor`: it sees the request's metadata and options (the message is `()`),
/// may change them (add an `authorization` header, say), or refuse the call by returning a
/// [`Status`], which the call then fails with before anything is sent.
///
/// Any `FnMut(Request<()>) -> Result<Request<()>, Status>` closure is one (name the
/// parameter's type, `|mut req: Request<()>|`, as with tonic), and so is any type that
/// implements the trait. Clones of a client share its interceptor (one value, called in
/// the order calls start).
///
/// ```
/// use grpc_wasi::{Request, Status, client::Interceptor, metadata::MetadataValue};
/// struct Auth { token: MetadataValue<grpc_wasi::metadata::Ascii>, calls: u64 }
/// impl Interceptor for Auth {
///     fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
///         self.calls += 1;
///         request.metadata_mut().insert("authorization", &self.token)?;
///         Ok(request)
///     }
/// }
/// let auth = Auth { token: "Bearer t0k3n".parse()?, calls: 0 };
/// # let _ = auth;
/// # Ok::<(), Status>(())
/// ```
pub trait Interceptor {
    /// Intercepts one call. Errors: the status the call fails with instead of being sent.
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status>;
}

impl<F> Interceptor for F
where
    F: FnMut(Request<()>) -> Result<Request<()>, Status>,
{
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self(request)
    }
}

impl fmt::Debug for Grpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grpc")
            .field("channel", &self.channel)
            .field("max_decoding_message_size", &self.max_decoding_message_size)
            .field("max_encoding_message_size", &self.max_encoding_message_size)
            .field("interceptor", &self.interceptor.is_some())
            .field("send_compressed", &self.send_compressed)
            .field("accept_compressed", &self.accept_compressed)
            .finish()
    }
}

impl Grpc {
    /// A client sending its calls on `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            max_decoding_message_size: DEFAULT_MAX_DECODING_MESSAGE_SIZE,
            max_encoding_message_size: usize::MAX,
            interceptor: None,
            send_compressed: None,
            accept_compressed: EncodingSet::default(),
        }
    }

    /// A client whose every call first goes through `interceptor` (see [`Interceptor`]): it
    /// gets the call's metadata and options as a `Request<()>` and returns them, changed or
    /// not. An error it returns ends the call before anything is sent, with that status.
    pub fn with_interceptor<F>(channel: Channel, interceptor: F) -> Self
    where
        F: Interceptor + 'static,
    {
        Self {
            interceptor: Some(Rc::new(RefCell::new(interceptor))),
            ..Self::new(channel)
        }
    }

    /// Sets the largest message, in bytes, this client accepts (default 4 MiB).
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_decoding_message_size = limit;
        self
    }

    /// Sets the largest message, in bytes, this client sends (default unlimited).
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.max_encoding_message_size = limit;
        self
    }

    /// Runs the interceptor, if any, on the request's metadata and options.
    fn intercept(
        &self,
        metadata: MetadataMap,
        options: CallOptions,
    ) -> Result<(MetadataMap, CallOptions), Status> {
        crate::reactor::check_reactor()?;
        let Some(interceptor) = &self.interceptor else {
            return Ok((metadata, options));
        };
        // Calls run their interceptor one at a time and to its end (it is not async), so the
        // borrow is free unless the interceptor itself starts a call on this client.
        let mut interceptor = interceptor.try_borrow_mut().map_err(|_| {
            Status::failed_precondition("an interceptor started a call on its own client")
        })?;
        let request = Request::from_call_parts(metadata, options, ());
        let (metadata, options, ()) = interceptor.call(request)?.into_call_parts();
        Ok((metadata, options))
    }

    /// What applies to a call of `path`: its options with the client's defaults filled in
    /// (the shortest of the call's, the channel's and the method config's deadlines, the
    /// call's send encoding or else the client's, the encodings both accept), the smaller of
    /// the client's and the method config's message size limits, and the method config's
    /// retry policy.
    fn call_policy(&self, path: &PathAndQuery, call: CallOptions) -> CallPolicy {
        let config = self.channel.method_config(path.path());
        let shortest = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = shortest(call.timeout, self.channel.default_timeout());
        let timeout = shortest(timeout, config.and_then(|c| c.timeout));
        let limit = |client: usize, config: Option<usize>| config.map_or(client, |c| c.min(client));
        CallPolicy {
            options: CallOptions {
                timeout,
                wait_for_ready: call
                    .wait_for_ready
                    .or(config.and_then(|c| c.wait_for_ready)),
                send_compressed: call.send_compressed.or(self.send_compressed),
                accept_compressed: call.accept_compressed.union(self.accept_compressed),
            },
            max_encoding_message_size: limit(
                self.max_encoding_message_size,
                config.and_then(|c| c.max_request_message_bytes),
            ),
            max_decoding_message_size: limit(
                self.max_decoding_message_size,
                config.and_then(|c| c.max_response_message_bytes),
            ),
            retry: config.and_then(|c| c.retry_policy.clone()),
            hedging: config.and_then(|c| c.hedging_policy.clone()),
        }
    }

    /// Compresses request messages with `encoding` (`grpc-encoding`; default: none). Calls
    /// fail with `Unimplemented` if this build lacks the encoding's feature.
    pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.send_compressed = Some(encoding);
        self
    }

    /// Accepts responses compressed with `encoding`, offered in `grpc-accept-encoding`; call
    /// once per encoding. A response compressed with an encoding not accepted fails with
    /// `Internal`.
    pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.accept_compressed.insert(encoding);
        self
    }

    /// A unary call: one request message, one response message.
    ///
    /// `path` is `/package.Service/Method`. Errors: any [`Status`]: the server's, or the
    /// client's own for transport and protocol failures (see [`Streaming::message`]);
    /// `Internal` if the response holds no message or more than one. The response metadata
    /// holds the initial and the trailing metadata.
    pub async fn unary<M1, M2>(
        &mut self,
        request: Request<M1>,
        path: PathAndQuery,
    ) -> Result<Response<M2>, Status>
    where
        M1: Message,
        M2: Message + Default,
    {
        let response = self.server_streaming(request, path).await?;
        single_message(response).await
    }

    /// A server-streaming call: one request message, a stream of response messages.
    ///
    /// Errors: as [`Grpc::unary`] for the response head; the stream reports the rest.
    pub async fn server_streaming<M1, M2>(
        &mut self,
        request: Request<M1>,
        path: PathAndQuery,
    ) -> Result<Response<Streaming<M2>>, Status>
    where
        M1: Message,
        M2: Message + Default,
    {
        let (metadata, options, message) = request.into_call_parts();
        let (metadata, options) = self.intercept(metadata, options)?;
        let policy = self.call_policy(&path, options);
        let max = policy.max_encoding_message_size;
        let encoded = codec::encode(&message, max, policy.options.send_compressed)?;
        let (metadata, messages) = self
            .call(&path, metadata, policy, RequestBody::Once(encoded))
            .await?;
        Ok(Response::from_parts(metadata, Streaming::new(messages)))
    }

    /// A client-streaming call: a stream of request messages, sent as they are produced; one
    /// response message.
    ///
    /// The stream's items are messages or [`StreamMessage`](crate::StreamMessage)s, which
    /// turn compression off for single messages of a compressed call.
    ///
    /// Errors: as [`Grpc::unary`]; a request message over the encoding limit ends the call
    /// with `ResourceExhausted`.
    pub async fn client_streaming<S, M1, M2>(
        &mut self,
        request: Request<S>,
        path: PathAndQuery,
    ) -> Result<Response<M2>, Status>
    where
        S: futures_core::Stream<Item: IntoStreamMessage<Message = M1>> + 'static,
        M1: Message + 'static,
        M2: Message + Default,
    {
        let response = self.streaming(request, path).await?;
        single_message(response).await
    }

    /// A bidirectional-streaming call, full duplex: request messages are sent as they are
    /// produced while response messages are read.
    ///
    /// The returned future resolves when the response headers arrive (PROTOCOL-HTTP2's
    /// Response-Headers), as tonic's does. Many servers (grpc-go, grpcio, grpc-js) send them
    /// only with their first response message, so a ping-pong client that waits for the
    /// call before producing its first request waits for ever: make the first request
    /// available to the stream before awaiting the call (request messages are sent while the
    /// call waits for the headers).
    ///
    /// Errors: as [`Grpc::client_streaming`].
    pub async fn streaming<S, M1, M2>(
        &mut self,
        request: Request<S>,
        path: PathAndQuery,
    ) -> Result<Response<Streaming<M2>>, Status>
    where
        S: futures_core::Stream<Item: IntoStreamMessage<Message = M1>> + 'static,
        M1: Message + 'static,
        M2: Message + Default,
    {
        let (metadata, options, messages) = request.into_call_parts();
        let (metadata, options) = self.intercept(metadata, options)?;
        let policy = self.call_policy(&path, options);
        let (max, compression) = (
            policy.max_encoding_message_size,
            policy.options.send_compressed,
        );
        let encoded = messages.map(move |item| {
            let item = item.into_stream_message();
            let compression = compression.filter(|_| item.compression());
            codec::encode(item.get_ref(), max, compression)
        });
        let body = RequestBody::Stream(Box::pin(encoded));
        let (metadata, messages) = self.call(&path, metadata, policy, body).await?;
        Ok(Response::from_parts(metadata, Streaming::new(messages)))
    }

    /// Starts a call and reads the response head: the response metadata and the response's
    /// messages, not yet decoded (this part does not depend on the message types, so it is
    /// compiled once). With a retry policy, attempts that fail with a retryable code before
    /// the call is committed are made again (gRFC A6; see [`retry`]), all within the call's
    /// one deadline.
    #[cfg(feature = "log")]
    async fn call(
        &mut self,
        path: &PathAndQuery,
        metadata: MetadataMap,
        policy: CallPolicy,
        body: RequestBody,
    ) -> Result<(MetadataMap, ResponseMessages), Status> {
        if !log::log_enabled!(log::Level::Debug) {
            return self.attempts(path, metadata, policy, body).await;
        }
        let sent = match &body {
            RequestBody::Once(message) => {
                Some(message.len().saturating_sub(codec::framing::HEADER_LEN))
            }
            RequestBody::Stream(_) => None,
        };
        let log = call_log::CallLog::start(path, sent);
        match self.attempts(path, metadata, policy, body).await {
            Ok((metadata, messages)) => Ok((metadata, messages.logged(log))),
            Err(status) => {
                log.ended(Err(&status));
                Err(status)
            }
        }
    }

    /// [`Grpc::call`] without the `log` feature: its attempts, with no future around them.
    #[cfg(not(feature = "log"))]
    fn call<'a>(
        &'a mut self,
        path: &'a PathAndQuery,
        metadata: MetadataMap,
        policy: CallPolicy,
        body: RequestBody,
    ) -> impl Future<Output = Result<(MetadataMap, ResponseMessages), Status>> + 'a {
        self.attempts(path, metadata, policy, body)
    }

    /// The attempts of a call: the first, and those its retry or hedging policy makes (with
    /// the `log` feature, [`Grpc::call`] logs them as one call).
    async fn attempts(
        &mut self,
        path: &PathAndQuery,
        metadata: MetadataMap,
        policy: CallPolicy,
        body: RequestBody,
    ) -> Result<(MetadataMap, ResponseMessages), Status> {
        let options = policy.options;
        let timeout = options.timeout;
        let limits = (timeout, options.wait_for_ready.unwrap_or(false));
        let mut headers = metadata.into_headers();
        if let Some(encoding) = options.send_compressed {
            headers.insert("grpc-encoding", HeaderValue::from_static(encoding.as_str()));
        }
        if let Some(names) = options.accept_compressed.header_value() {
            let value = HeaderValue::try_from(names)
                .map_err(|e| Status::internal(format!("grpc-accept-encoding: {e}")))?;
            headers.insert("grpc-accept-encoding", value);
        }
        let mut deadline = None;
        if let Some(timeout) = timeout {
            let value = http::HeaderValue::try_from(timeout::encode(timeout))
                .map_err(|e| Status::internal(format!("grpc-timeout: {e}")))?;
            headers.insert("grpc-timeout", value);
            deadline = Some(Deadline::after(timeout));
        }
        // A request stream is kept for another attempt only under a retry policy; one message
        // always is (it costs a reference count). Hedging sends one message only (a request
        // stream under a hedging policy is one attempt).
        let replayable = policy.retry.is_some() || matches!(body, RequestBody::Once(_));
        if !replayable {
            let head = self
                .attempt(path, headers, body, limits, &mut deadline)
                .await;
            return response(head?, deadline, &policy);
        }
        if let (Some(hedging), RequestBody::Once(message)) = (&policy.hedging, &body) {
            let hedged = hedging::hedged(&self.channel, path, &headers, message, hedging, limits);
            let head = match &mut deadline {
                Some(deadline) => deadline.run(hedged).await,
                None => hedged.await,
            };
            return response(head?, deadline, &policy);
        }
        let body = ReplayBody::new(body, self.channel.retry_kept());
        // Attempts counted against maxAttempts; every stream sent, transparent retries too.
        let (mut attempt, mut sent) = (0u32, 0u32);
        let mut transparent_retry = true;
        loop {
            let mut attempt_headers = headers.clone();
            if attempt > 0 {
                attempt_headers.insert("grpc-previous-rpc-attempts", HeaderValue::from(attempt));
            }
            let head = self
                .attempt(
                    path,
                    attempt_headers,
                    body.attempt(sent),
                    limits,
                    &mut deadline,
                )
                .await;
            sent += 1;
            // A6's transparent retry: a stream the server never processed (REFUSED_STREAM, or
            // refused by a graceful GOAWAY) is sent again once, at once, not as an attempt.
            if let Err(status) = &head
                && transparent_retry
                && crate::transport::never_processed(status)
            {
                transparent_retry = false;
                continue;
            }
            let Some(retry_policy) = &policy.retry else {
                return response(head?, deadline, &policy);
            };
            let Some((status, pushback)) = retry::uncommitted_failure(&head) else {
                if let Some(throttle) = self.channel.throttle() {
                    throttle.success();
                }
                return response(head?, deadline, &policy);
            };
            if !retry_policy.is_retryable(status.code()) {
                return response(head?, deadline, &policy);
            }
            let throttle = self.channel.throttle();
            if let Some(throttle) = throttle {
                throttle.failure();
            }
            let retry = attempt + 1;
            let out_of_attempts = retry >= retry_policy.max_attempts;
            let throttled = throttle.is_some_and(|t| !t.allows_retry());
            let delay = match pushback {
                Pushback::Stop => None,
                Pushback::After(delay) => Some(delay),
                Pushback::None => Some(retry::backoff(
                    retry_policy,
                    retry,
                    crate::runtime::random_unit(),
                )),
            };
            let Some(delay) = delay.filter(|_| !out_of_attempts && !throttled && body.replayable())
            else {
                return response(head?, deadline, &policy);
            };
            debug!(
                "{path}: attempt {} failed with {:?}; retrying in {delay:?}",
                attempt + 1,
                status.code()
            );
            drop(head);
            let wait = crate::time::sleep(delay);
            match &mut deadline {
                Some(deadline) => {
                    deadline
                        .run(async {
                            wait.await;
                            Ok(())
                        })
                        .await?
                }
                None => wait.await,
            }
            attempt = retry;
        }
    }

    /// One attempt of a call: its request, up to the response head, within the deadline.
    async fn attempt(
        &self,
        path: &PathAndQuery,
        headers: http::HeaderMap,
        body: RequestBody,
        (timeout, wait_for_ready): (Option<Duration>, bool),
        deadline: &mut Option<Deadline>,
    ) -> retry::Head {
        let call = self
            .channel
            .call(path, headers, body, timeout, wait_for_ready);
        match deadline {
            Some(deadline) => deadline.run(call).await,
            None => call.await,
        }
    }
}

/// The call's response from its head: a Trailers-Only response's status, or the stream of its
/// messages, decoded as `policy` says (its size limit, the encodings the call accepts).
fn response(
    (parts, body): (http::response::Parts, ResponseBody),
    deadline: Option<Deadline>,
    policy: &CallPolicy,
) -> Result<(MetadataMap, ResponseMessages), Status> {
    if parts.status != http::StatusCode::OK {
        return Err(Status::from_http_status(parts.status));
    }
    if let Some(status) = Status::from_header_map(&parts.headers) {
        // Trailers-Only: the headers carry the status and there is no body.
        let metadata = status.metadata().clone();
        return Ok((metadata, ResponseMessages::trailers_only(status, deadline)));
    }
    let content_type = parts.headers.get(http::header::CONTENT_TYPE);
    if !content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/grpc")) {
        return Err(Status::unknown(format!(
            "the server answered with content-type {content_type:?}, not application/grpc"
        )));
    }
    // The response's grpc-encoding: one this call accepts, or the name of one it doesn't.
    let accepted = policy.options.accept_compressed;
    let encoding = match parts.headers.get("grpc-encoding").map(|v| v.to_str()) {
        None | Some(Ok("identity")) => Ok(None),
        Some(Ok(name)) => match CompressionEncoding::from_name(name) {
            Some(e) if accepted.contains(e) => Ok(Some(e)),
            _ => Err(name.to_owned()),
        },
        Some(Err(_)) => Err("(not ASCII)".to_owned()),
    };
    let metadata = MetadataMap::from_headers(parts.headers);
    let max = policy.max_decoding_message_size;
    let messages = ResponseMessages::new(body, max, deadline, encoding);
    Ok((metadata, messages))
}

/// What applies to one call: see [`Grpc::call_policy`].
struct CallPolicy {
    options: CallOptions,
    max_encoding_message_size: usize,
    max_decoding_message_size: usize,
    retry: Option<RetryPolicy>,
    hedging: Option<HedgingPolicy>,
}

/// Reads the one message of a unary response, then its trailers.
async fn single_message<M: Message + Default>(
    response: Response<Streaming<M>>,
) -> Result<Response<M>, Status> {
    let (mut metadata, mut stream) = response.into_parts();
    let message = stream
        .message()
        .await?
        .ok_or_else(|| Status::internal("protocol error: the response holds no message"))?;
    let compressed = stream.message_compressed();
    if stream.message().await?.is_some() {
        return Err(Status::internal(
            "protocol error: more than one response message for a unary response",
        ));
    }
    if let Some(trailers) = stream.into_trailers().await? {
        metadata.extend(trailers);
    }
    Ok(Response::from_parts(metadata, message).with_message_compressed(compressed))
}
