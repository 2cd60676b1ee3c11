//! gRPC and gRPC-Web over `wasi:http/outgoing-handler` 0.2, driven through the `wasi`
//! bindings directly.
//!
//! The request body is written by its own task, message by message as the caller produces
//! them, and finished with `outgoing-body.finish`; the response head and body are read while
//! it is still being written, so bidirectional streaming is full duplex wherever the host's
//! HTTP connection is (HTTP/2). Trailers come from `future-trailers` (gRPC) or from the
//! trailer frame in the body (gRPC-Web).

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::uri::{Authority, PathAndQuery};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureTrailers, IncomingBody, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme, http_error_code,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::RequestBody;
use super::bursts::Bursts;
use super::wasi_http_shared::{field_entries, header_map, nanos, response_parts, set_request_head};
use super::wasi_io::{ReadSize, Readiness, poll_read, poll_write_all, stream_error};
use crate::runtime::{Task, spawn_unless_ready};
use crate::status::Status;

/// Sends one call through `wasi:http/outgoing-handler.handle` to `authority` (`host:port`;
/// over TLS, made by the host, when `https`) and waits for the response head.
///
/// Errors: the `wasi:http` error code as a [`Status`] (see [`status_from_http_error`]), or
/// the request body stream's own error if producing the request failed first.
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
    let request = OutgoingRequest::new(fields);
    set_request_head!(request, https, authority, path);
    let outgoing_body = request
        .body()
        .map_err(|()| Status::internal("the host refused the request body"))?;
    // The deadline also bounds the host's wait for the response head.
    let options = timeout.map(|timeout| {
        let options = RequestOptions::new();
        // A host that does not support a timeout refuses it; the local deadline still holds.
        let _ = options.set_first_byte_timeout(Some(nanos(timeout)));
        options
    });
    let response = outgoing_handler::handle(request, options)
        .map_err(|e| status_from_head_error(e, authority.as_str()))?;

    let send_error = Rc::new(RefCell::new(None));
    // A one-message body is usually accepted at once: it is written, flushed and finished
    // by this first poll. Only a body that must wait gets a task of its own (each task run
    // costs the reactor a `poll` over every pending pollable).
    let sender = spawn_unless_ready(send_body(outgoing_body, body, send_error.clone())).await;

    let result = {
        let mut readiness = Readiness::default();
        loop {
            match response.get() {
                None => readiness.ready(|| response.subscribe()).await,
                Some(result) => break result,
            }
        }
    };
    let response = match result {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => {
            return Err(send_error
                .take()
                .unwrap_or_else(|| status_from_head_error(code, authority.as_str())));
        }
        Err(()) => return Err(Status::internal("wasi:http response already taken")),
    };
    let parts = response_parts(response.status(), response.headers().entries())?;
    let incoming = response
        .consume()
        .map_err(|()| Status::internal("wasi:http response body already taken"))?;
    let stream = incoming
        .stream()
        .map_err(|()| Status::internal("wasi:http response body stream already taken"))?;
    let body = WasiHttpBody {
        state: BodyState::Reading {
            readiness: Readiness::default(),
            stream,
            body: incoming,
            _response: response,
        },
        _sender: sender,
        send_error,
        authority: authority.clone(),
    };
    Ok((parts, body))
}

/// Ready messages are gathered into host writes of about 256 KiB: each write is a chunk the
/// host hands to its HTTP client, and wasmtime holds two chunks at most.
const BURST_SIZE: usize = 256 * 1024;

/// Writes the request body, then finishes it. A body whose message stream failed is dropped
/// unfinished, which aborts the request.
async fn send_body(body: OutgoingBody, request: RequestBody, error: Rc<RefCell<Option<Status>>>) {
    let Ok(stream) = body.write() else {
        return;
    };
    let mut readiness = Readiness::default();
    let sent = match request {
        RequestBody::Once(bytes) => write_message(&stream, &mut readiness, bytes).await,
        RequestBody::Stream(messages) => {
            let mut bursts = Bursts::new(messages, BURST_SIZE);
            loop {
                match bursts.next().await {
                    Some(Ok(burst)) => {
                        if write_message(&stream, &mut readiness, burst.bytes)
                            .await
                            .is_err()
                        {
                            break Err(());
                        }
                        // Flush only when the producer has nothing more right now: a prompt
                        // send for ping-pong exchanges, no flush per message in a burst.
                        if burst.idle && flush(&stream, &mut readiness).await.is_err() {
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
    let flushed = match sent {
        Ok(()) => flush(&stream, &mut readiness).await,
        Err(()) => Err(()),
    };
    drop(readiness);
    drop(stream);
    if flushed.is_ok() {
        let _ = OutgoingBody::finish(body, None);
    }
}

async fn write_message(
    stream: &OutputStream,
    readiness: &mut Readiness,
    mut bytes: Bytes,
) -> Result<(), ()> {
    poll_fn(|cx| poll_write_all(stream, readiness, &mut bytes, cx))
        .await
        .map_err(|_| ())
}

/// Asks the host to send what was written and waits until it has.
async fn flush(stream: &OutputStream, readiness: &mut Readiness) -> Result<(), ()> {
    stream.flush().map_err(|_| ())?;
    loop {
        if stream.check_write().map_err(|_| ())? > 0 {
            return Ok(());
        }
        readiness.ready(|| stream.subscribe()).await;
    }
}

/// The response body of a `wasi:http` call.
pub(crate) struct WasiHttpBody {
    state: BodyState,
    /// The request body sender, if the body was not all sent at once; dropping it (with this
    /// body) cancels it.
    _sender: Option<Task<()>>,
    send_error: Rc<RefCell<Option<Status>>>,
    /// The server's `host:port`, for error messages.
    authority: Authority,
}

/// Variant fields are dropped in order: pollables, then streams, then their parents.
enum BodyState {
    Reading {
        readiness: Readiness,
        stream: InputStream,
        body: IncomingBody,
        _response: IncomingResponse,
    },
    Trailers {
        readiness: Readiness,
        future: FutureTrailers,
        _response: IncomingResponse,
    },
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
        let BodyState::Reading {
            readiness, stream, ..
        } = &mut self.state
        else {
            return Poll::Ready(None);
        };
        match ready!(poll_read(stream, readiness, &mut ReadSize::fixed(), cx)) {
            Ok(Some(bytes)) => Poll::Ready(Some(Ok(Bytes::from(bytes)))),
            Ok(None) => {
                if let BodyState::Reading {
                    readiness,
                    stream,
                    body,
                    _response,
                } = std::mem::replace(&mut self.state, BodyState::Done)
                {
                    drop(readiness);
                    drop(stream);
                    let future = IncomingBody::finish(body);
                    self.state = BodyState::Trailers {
                        readiness: Readiness::default(),
                        future,
                        _response,
                    };
                }
                Poll::Ready(None)
            }
            Err(e) => {
                let status = match &e {
                    StreamError::LastOperationFailed(error) => http_error_code(error)
                        .map(|code| status_from_http_error(code, self.authority.as_str())),
                    StreamError::Closed => None,
                };
                let status = status.unwrap_or_else(|| {
                    let e = stream_error(e);
                    Status::unavailable(format!(
                        "reading the response body from {} failed: {e}",
                        self.authority
                    ))
                    .with_source(e)
                });
                self.state = BodyState::Done;
                Poll::Ready(Some(Err(self.error(status))))
            }
        }
    }

    /// The trailers, once the body has ended; `None` if there were none.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let BodyState::Trailers {
            readiness, future, ..
        } = &mut self.state
        else {
            return Poll::Ready(Ok(None));
        };
        let result = loop {
            match future.get() {
                None => ready!(readiness.poll_ready(cx, || future.subscribe())),
                Some(result) => break result,
            }
        };
        self.state = BodyState::Done;
        Poll::Ready(match result {
            Ok(Ok(trailers)) => Ok(trailers.map(|t| header_map(t.entries()))),
            Ok(Err(code)) => Err(self.error(status_from_http_error(code, self.authority.as_str()))),
            Err(()) => Err(Status::internal("wasi:http trailers already taken")),
        })
    }
}

// The error codes' statuses: one mapping for WASI 0.2's and 0.3's `error-code`.
super::wasi_http_shared::error_code_statuses!(ErrorCode);
