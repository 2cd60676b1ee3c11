//! What the two `wasi:http` transports (WASI 0.2's `wasi_http`, WASI 0.3's `wasi_http_p3`)
//! share: the request head's fields and timeout, the response head, and what errors become (the
//! [`Status`] of an `error-code`, of an HTTP/2 error code a host's text names, and of a server's
//! refusal of gRPC over HTTP/1.1).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::status::Status;

/// `headers` as `wasi:http` `fields` entries (name, value).
pub(crate) fn field_entries(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// `timeout` in the nanoseconds of `wasi:http` `request-options` (saturating).
pub(crate) fn nanos(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX)
}

/// The response head of HTTP status `status` and `fields` entries (those that are not valid
/// HTTP are skipped). Errors: `Internal` for a status that is not an HTTP status.
pub(crate) fn response_parts(
    status: u16,
    fields: Vec<(String, Vec<u8>)>,
) -> Result<http::response::Parts, Status> {
    let status = http::StatusCode::from_u16(status)
        .map_err(|_| Status::internal(format!("invalid HTTP status {status}")))?;
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = status;
    parts.headers = header_map(fields);
    Ok(parts)
}

/// The headers of `fields` entries (those that are not valid HTTP are skipped).
pub(crate) fn header_map(fields: Vec<(String, Vec<u8>)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Sets a `wasi:http` request's head for a gRPC call: `POST`, the scheme (`https` when
/// `$https`), the authority and the path. Both WASI versions' request resources have these
/// setters (`Method` and `Scheme` are the caller's bindings' types). Returns from the caller
/// with `Internal` if the host refuses one.
macro_rules! set_request_head {
    ($request:expr, $https:expr, $authority:expr, $path:expr) => {{
        let request = &$request;
        let scheme = if $https { Scheme::Https } else { Scheme::Http };
        let invalid = |what: &str| {
            $crate::status::Status::internal(format!("the host refused the request {what}"))
        };
        request
            .set_method(&Method::Post)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some($authority.as_str()))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some($path.as_str()))
            .map_err(|()| invalid("path"))?;
    }};
}

pub(crate) use set_request_head;

/// An HTTP/2 error code the server sent, as a host's `internal-error` text names it.
#[derive(Debug, PartialEq)]
pub(crate) enum Http2Error {
    /// RST_STREAM with this error code.
    Reset(u32),
    /// GOAWAY with this error code.
    GoAway(u32),
}

/// The HTTP/2 error code a host's `internal-error` text names, if it does:
/// `RST_STREAM error code 0xN` or `GOAWAY error code 0xN` (hexadecimal), anywhere in the text.
///
/// `wasi:http` 0.2's `error-code` has no case for a stream reset or a GOAWAY (hosts built on
/// wasmtime-wasi-http report every HTTP/2 error as `HTTP-protocol-error`), so a host that wants
/// a guest to see the code has only `internal-error`'s text to carry it; grpc-wasi-harness
/// writes it this way (`host-test-harness/src/h2c.rs`).
pub(crate) fn http2_error_in(text: &str) -> Option<Http2Error> {
    let code_after = |frame: &str| {
        let at = text.find(frame)? + frame.len();
        let rest = text[at..].strip_prefix(" error code 0x")?;
        let end = rest
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len());
        u32::from_str_radix(&rest[..end], 16).ok()
    };
    code_after("RST_STREAM")
        .map(Http2Error::Reset)
        .or_else(|| code_after("GOAWAY").map(Http2Error::GoAway))
}

/// What a call over `Transport::WasiHttp` adds to an error that an HTTP/1.1-only host's
/// `wasi:http` causes: an HTTP/2-only server's answer that is not HTTP/1.1
/// (`HTTP-protocol-error`), or a server's refusal of gRPC over HTTP/1.1 (see
/// [`status_for_http1_refusal`]). Not added to an `HTTP-protocol-error` in the response body
/// or trailers, which a host that speaks HTTP/2 gives too (for a reset stream, say).
pub(crate) const HTTP1_ONLY_HINT: &str = "(the host's wasi:http may speak HTTP/1.1 only, as \
    wasmtime run/serve and jco do: try Transport::GrpcWeb against a server that speaks \
    gRPC-Web, or Transport::Sockets)";

/// The status of a gRPC response (not gRPC-Web) whose HTTP status is `status`, if it is one a
/// server answers gRPC over HTTP/1.1 with (400 Bad Request, as tonic does; 426 Upgrade
/// Required; 505 HTTP Version Not Supported): PROTOCOL-HTTP2's mapped code, with
/// [`HTTP1_ONLY_HINT`] in its message. `None` for any other status.
pub(crate) fn status_for_http1_refusal(status: http::StatusCode) -> Option<Status> {
    if !matches!(status.as_u16(), 400 | 426 | 505) {
        return None;
    }
    let mapped = Status::from_http_status(status);
    Some(Status::new(
        mapped.code(),
        format!("{} {HTTP1_ONLY_HINT}", mapped.message()),
    ))
}

/// Defines `status_from_head_error` and `status_from_http_error` for `$E`, a `wasi:http`
/// `error-code` type: WASI 0.2's (`wasip2`) and 0.3's (`wasip3`) have the same cases.
macro_rules! error_code_statuses {
    ($E:ident) => {
        /// [`status_from_http_error`] for an error that came instead of the response head: an
        /// `HTTP-protocol-error` there is what an HTTP/1.1-only host's wasi:http gives for an
        /// HTTP/2-only server, so its message adds [`HTTP1_ONLY_HINT`].
        fn status_from_head_error(code: $E, authority: &str) -> $crate::status::Status {
            if matches!(code, $E::HttpProtocolError) {
                return $crate::status::Status::internal(format!(
                    "HTTP request to {authority} failed: {code:?} {}",
                    $crate::transport::wasi_http_shared::HTTP1_ONLY_HINT
                ))
                .with_source(code);
            }
            status_from_http_error(code, authority)
        }

        /// Maps a `wasi:http` error code to a [`Status`].
        ///
        /// `HTTP-request-denied` → `PermissionDenied` naming the authority; `connection-refused`,
        /// DNS and destination errors, `connection-terminated`, `connection-limit-reached`,
        /// `HTTP-response-incomplete` and TLS errors → `Unavailable`; the timeout codes →
        /// `DeadlineExceeded`; an `internal-error` whose text names an HTTP/2 error code the server
        /// sent (see [`http2_error_in`]) → that code's, as on the sockets transport
        /// ([`Code::from_http2_frame`]); anything else
        /// → `Internal`. The error code is the status's source.
        pub(crate) fn status_from_http_error(code: $E, authority: &str) -> $crate::status::Status {
            use $E as E;
            let status: $crate::status::Status = match &code {
                E::HttpRequestDenied => $crate::status::Status::permission_denied(format!(
                    "the host did not allow outgoing HTTP requests to {authority} (wasi:http \
                     HTTP-request-denied; grpc-wasi-harness: --allow-http {authority}; Spin: \
                     allowed_outbound_hosts; wasmCloud: allowedHosts)"
                )),
                E::ConnectionRefused => $crate::status::Status::unavailable(format!("connection to {authority} refused")),
                E::DnsTimeout
                | E::ConnectionTimeout
                | E::ConnectionReadTimeout
                | E::ConnectionWriteTimeout
                | E::HttpResponseTimeout => {
                    $crate::status::Status::deadline_exceeded(format!("HTTP request to {authority} timed out: {code:?}"))
                }
                E::DnsError(_)
                | E::DestinationNotFound
                | E::DestinationUnavailable
                | E::DestinationIpProhibited
                | E::DestinationIpUnroutable
                | E::ConnectionTerminated
                | E::ConnectionLimitReached
                | E::HttpResponseIncomplete
                | E::TlsProtocolError
                | E::TlsCertificateError
                | E::TlsAlertReceived(_) => {
                    $crate::status::Status::unavailable(format!("HTTP request to {authority} failed: {code:?}"))
                }
                E::InternalError(Some(text))
                    if let Some(error) = $crate::transport::wasi_http_shared::http2_error_in(text) =>
                {
                    let code = match error {
                        $crate::transport::wasi_http_shared::Http2Error::GoAway(n) => $crate::status::Code::from_http2_frame(n, true),
                        $crate::transport::wasi_http_shared::Http2Error::Reset(n) => $crate::status::Code::from_http2_frame(n, false),
                    };
                    $crate::status::Status::new(code, format!("HTTP request to {authority} failed: {text}"))
                }
                _ => $crate::status::Status::internal(format!("HTTP request to {authority} failed: {code:?}")),
            };
            status.with_source(code)
        }
    };
}

pub(crate) use error_code_statuses;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http2_error_codes_are_read_from_a_hosts_text() {
        let text = "HTTP/2 RST_STREAM error code 0x7 (REFUSED_STREAM) from the server";
        assert_eq!(http2_error_in(text), Some(Http2Error::Reset(7)));
        let text = "HTTP/2 GOAWAY error code 0xb (ENHANCE_YOUR_CALM) from the server";
        assert_eq!(http2_error_in(text), Some(Http2Error::GoAway(0xb)));
        assert_eq!(
            http2_error_in("RST_STREAM error code 0x1f"),
            Some(Http2Error::Reset(0x1f))
        );
        for text in [
            "",
            "RST_STREAM",
            "RST_STREAM error code 7",
            "GOAWAY error code 0x",
            "http2 error",
        ] {
            assert_eq!(http2_error_in(text), None, "{text}");
        }
        assert_eq!(http2_error_in("RST_STREAM error code 0xffffffffff"), None);
    }
}
