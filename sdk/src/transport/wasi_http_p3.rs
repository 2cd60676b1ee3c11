//! gRPC and gRPC-Web over `wasi:http/client@0.3.0` (WASI 0.3, feature `wasip3`), driven
//! through the `wasip3` bindings: the same calls as the WASI 0.2 `wasi_http` module, with the
//! Component Model's own async in place of `wasi:io`.
//!
//! A request is `wasi:http/types.request` with its body as a `stream<u8>` the guest writes and
//! its trailers as a `future` (none: gRPC requests have no trailers); `client.send` resolves
//! with the response head while the body is still being written, so bidirectional streaming is
//! full duplex wherever the host's HTTP connection is (HTTP/2). The response body is read from
//! its `stream<u8>`, and the trailers (gRPC) or the body's trailer frame (gRPC-Web) give the
//! status. Errors come as `wasi:http` 0.3 `error-code`s: from `send`, and for the body from
//! the trailers' future.

use std::cell::RefCell;
use std::future::{Future, IntoFuture, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::uri::{Authority, PathAndQuery};
use wasip3::http::types::{ErrorCode, Fields, Method, Request, RequestOptions, Response, Scheme};
use wasip3::wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamResult, StreamWriter};
use wasip3::{wit_future, wit_stream};

use super::RequestBody;
use super::bursts::Bursts;
use super::wasi_http_shared::{field_entries, header_map, nanos, response_parts, set_request_head};
use crate::runtime::{Task, spawn};
use crate::status::Status;

/// A body's trailers, as `wasi:http@0.3.0` hands them over.
type Trailers = Result<Option<Fields>, ErrorCode>;

/// Bytes asked of the response body stream per read: 64 KiB.
const READ_SIZE: usize = 64 * 1024;

/// Ready messages are gathered into stream writes of about 256 KiB, as over WASI 0.2.
const BURST_SIZE: usize = 256 * 1024;

/// Sends one call through `wasi:http/client.send` to `authority` (`host:port`; over TLS, made
/// by the host, when `https`) and waits for the response head.
///
/// Errors: the `wasi:http` error code as a [`Status`] (see `status_from_http_error`), or the
/// request body stream's own error if producing the request failed first.
pub(crate) async fn call(
    https: bool,
    authority: &Authority,
    path: &PathAndQuery,
    headers: &HeaderMap,
    body: RequestBody,
    timeout: Option<Duration>,
) -> Result<(http::response::Parts, WasiHttpBody), Status> {
    let fields = Fields::from_list(&field_entries(headers))
        .map_err(|e| Status::internal(format!("the host refused the request headers: {e:?}")))?;
    // The deadline also bounds the host's wait for the response head.
    let options = timeout.map(|timeout| {
        let options = RequestOptions::new();
        // A host that does not support a timeout refuses it; the local deadline still holds.
        let _ = options.set_first_byte_timeout(Some(nanos(timeout)));
        options
    });
    let (body_writer, contents) = wit_stream::new::<u8>();
    // Dropped unwritten (the call was cancelled before its body ended), the trailers' writer
    // gives the host an error, so it aborts the request instead of taking it as complete.
    let (trailers_writer, trailers) = wit_future::new::<Trailers>(|| Err(cancelled()));
    let (request, transmitted) = Request::new(fields, Some(contents), trailers, options);
    set_request_head!(request, https, authority, path);

    let send_error = Rc::new(RefCell::new(None));
    // The host reads the body once the request is on its way, so the body is written while
    // `send` waits for the response head, in this task; only a body not all written by then
    // (a stream still producing) gets a task of its own (as over WASI 0.2, a task run costs).
    let trailers_writer = Rc::new(RefCell::new(Some(trailers_writer)));
    let mut head = Send {
        send: Some(Box::pin(wasip3::http::client::send(request))),
        trailers: trailers_writer.clone(),
    };
    let mut sending = Box::pin(send_body(
        body_writer,
        trailers_writer,
        body,
        send_error.clone(),
    ));
    let mut sent = false;
    let head = poll_fn(|cx| {
        if !sent {
            sent = sending.as_mut().poll(cx).is_ready();
        }
        head.poll(cx)
    })
    .await;
    let sender = (!sent).then(|| spawn(sending));
    let response = match head {
        Ok(response) => response,
        Err(code) => {
            return Err(send_error
                .take()
                .unwrap_or_else(|| status_from_head_error(code, authority.as_str())));
        }
    };
    let parts = response_parts(
        response.get_status_code(),
        response.get_headers().copy_all(),
    )?;
    // The guest's side of reading the response: kept until the body is dropped (a host may
    // stop sending the body once it resolves), then dropped, which reports the default, `ok`.
    let (read_result, read) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (stream, trailers) = Response::consume_body(response, read);
    let body = WasiHttpBody {
        state: BodyState::Reading(Some(stream), None),
        trailers: Some(trailers),
        _read_result: read_result,
        _transmitted: transmitted,
        _sender: sender,
        send_error,
        authority: authority.clone(),
    };
    Ok((parts, body))
}

/// The error a cancelled call's request ends with, in its trailers' place.
fn cancelled() -> ErrorCode {
    ErrorCode::InternalError(Some(
        "the call was cancelled before its request ended".into(),
    ))
}

/// The request's trailers, until they are written (by the body's end, or by a cancelled
/// [`Send`]).
type TrailersWriter = Rc<RefCell<Option<FutureWriter<Trailers>>>>;

/// `wasi:http/client.send`'s future.
type SendFuture = Pin<Box<dyn Future<Output = Result<Response, ErrorCode>>>>;

/// `wasi:http/client.send` in progress. Dropped before it resolved (the call was cancelled:
/// its deadline passed), it ends the request with [`cancelled`] in its trailers' place and
/// cancels `send` only once the host has taken that, in a task of its own: cancelled at once,
/// the host could tear down its side of the trailers first and take the body as complete.
struct Send {
    send: Option<SendFuture>,
    trailers: TrailersWriter,
}

impl Send {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, ErrorCode>> {
        let Some(send) = self.send.as_mut() else {
            return Poll::Ready(Err(cancelled()));
        };
        let response = ready!(send.as_mut().poll(cx));
        self.send = None;
        Poll::Ready(response)
    }
}

impl Drop for Send {
    fn drop(&mut self) {
        let Some(send) = self.send.take() else {
            return;
        };
        let Some(trailers) = self.trailers.borrow_mut().take() else {
            return;
        };
        wasip3::spawn_local(async move {
            let _ = trailers.write(Err(cancelled())).await;
            drop(send);
        });
    }
}

/// Writes the request body, then ends it (no trailers). A body whose message stream failed
/// ends with an `internal-error` in its trailers' place, which aborts the request.
async fn send_body(
    mut writer: StreamWriter<u8>,
    trailers: TrailersWriter,
    request: RequestBody,
    error: Rc<RefCell<Option<Status>>>,
) {
    let sent = match request {
        RequestBody::Once(bytes) => write(&mut writer, bytes).await,
        RequestBody::Stream(messages) => {
            let mut bursts = Bursts::new(messages, BURST_SIZE);
            loop {
                match bursts.next().await {
                    Some(Ok(burst)) => {
                        if write(&mut writer, burst.bytes).await.is_err() {
                            break Err(());
                        }
                    }
                    Some(Err(status)) => {
                        *error.borrow_mut() = Some(status);
                        break Err(());
                    }
                    None => break Ok(()),
                }
            }
        }
    };
    drop(writer);
    let end = match sent {
        Ok(()) => Ok(None),
        Err(()) => Err(ErrorCode::InternalError(Some(
            "the request's message stream failed".into(),
        ))),
    };
    // Taken already when the call was cancelled; the host may have stopped reading (the call
    // ended): nothing more to do then.
    let trailers = trailers.borrow_mut().take();
    if let Some(trailers) = trailers {
        let _ = trailers.write(end).await;
    }
}

/// Writes all of `bytes` to the request body. Errors: the host stopped reading.
async fn write(writer: &mut StreamWriter<u8>, bytes: Bytes) -> Result<(), ()> {
    let rest = writer.write_all(bytes.to_vec()).await;
    if rest.is_empty() { Ok(()) } else { Err(()) }
}

/// A read of the response body in progress: it owns the reader and gives it back.
type Read = Pin<Box<dyn Future<Output = (StreamReader<u8>, StreamResult, Vec<u8>)>>>;

/// The response body of a `wasi:http` 0.3 call.
pub(crate) struct WasiHttpBody {
    state: BodyState,
    trailers: Option<FutureReader<Trailers>>,
    /// How reading the response went, for the host: resolved (`ok`) when this body is dropped.
    _read_result: FutureWriter<Result<(), ErrorCode>>,
    /// How sending the request went, as the host reports it: kept unread while the call is
    /// open, so the host's end stays open too.
    _transmitted: FutureReader<Result<(), ErrorCode>>,
    /// The request body sender, if the body was not all sent at once; dropping it (with this
    /// body) cancels it.
    _sender: Option<Task<()>>,
    send_error: Rc<RefCell<Option<Status>>>,
    /// The server's `host:port`, for error messages.
    authority: Authority,
}

enum BodyState {
    /// The body's reader, or the read in progress that holds it.
    Reading(Option<StreamReader<u8>>, Option<Read>),
    /// The body ended: waiting for the trailers.
    Trailers(Pin<Box<dyn Future<Output = Trailers>>>),
    Done,
}

impl WasiHttpBody {
    fn error(&self, status: Status) -> Status {
        self.send_error.take().unwrap_or(status)
    }

    /// The next chunk of the body, `None` at its end.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        loop {
            let BodyState::Reading(reader, read) = &mut self.state else {
                return Poll::Ready(None);
            };
            let read = match read {
                Some(read) => read,
                None => {
                    let Some(mut reader) = reader.take() else {
                        return Poll::Ready(None);
                    };
                    read.insert(Box::pin(async move {
                        let (result, chunk) = reader.read(Vec::with_capacity(READ_SIZE)).await;
                        (reader, result, chunk)
                    }))
                }
            };
            let (reader_back, result, chunk) = ready!(read.as_mut().poll(cx));
            match result {
                StreamResult::Complete(_) if chunk.is_empty() => {
                    self.state = BodyState::Reading(Some(reader_back), None);
                }
                StreamResult::Complete(_) => {
                    self.state = BodyState::Reading(Some(reader_back), None);
                    return Poll::Ready(Some(Ok(Bytes::from(chunk))));
                }
                // The host dropped its end: the body is over, the trailers say how.
                StreamResult::Dropped | StreamResult::Cancelled => {
                    drop(reader_back);
                    let trailers = self.trailers.take().map(IntoFuture::into_future);
                    self.state = match trailers {
                        Some(trailers) => BodyState::Trailers(Box::pin(trailers)),
                        None => BodyState::Done,
                    };
                    return if chunk.is_empty() {
                        Poll::Ready(None)
                    } else {
                        Poll::Ready(Some(Ok(Bytes::from(chunk))))
                    };
                }
            }
        }
    }

    /// The trailers, once the body has ended; `None` if there were none.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let BodyState::Trailers(trailers) = &mut self.state else {
            return Poll::Ready(Ok(None));
        };
        let result = ready!(trailers.as_mut().poll(cx));
        self.state = BodyState::Done;
        Poll::Ready(match result {
            Ok(trailers) => Ok(trailers.map(|t| header_map(t.copy_all()))),
            Err(code) => Err(self.error(status_from_http_error(code, self.authority.as_str()))),
        })
    }
}

// The error codes' statuses: one mapping for WASI 0.2's and 0.3's `error-code`.
super::wasi_http_shared::error_code_statuses!(ErrorCode);
