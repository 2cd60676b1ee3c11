//! [`Status`] and [`Code`]: the outcome of every call.
//!
//! Source: gRPC status codes (`doc/statuscodes.md`), and PROTOCOL-HTTP2.md: `grpc-status`,
//! `grpc-message` (percent-encoded UTF-8), `grpc-status-details-bin`, and the table
//! "HTTP to gRPC Status Code Mapping" for responses that are not HTTP 200.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use percent_encoding::percent_decode;

use crate::metadata::{MetadataMap, base64_engine};

/// A gRPC status code: all 17 codes of `doc/statuscodes.md`, with their wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Code {
    /// 0: not an error.
    Ok = 0,
    /// 1: the operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// 2: unknown error, or a status from another error space.
    Unknown = 2,
    /// 3: the client specified an invalid argument.
    InvalidArgument = 3,
    /// 4: the deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// 5: some requested entity was not found.
    NotFound = 5,
    /// 6: the entity the client tried to create already exists.
    AlreadyExists = 6,
    /// 7: the caller does not have permission to execute the operation.
    PermissionDenied = 7,
    /// 8: some resource has been exhausted (quota, message size limit, …).
    ResourceExhausted = 8,
    /// 9: the system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// 10: the operation was aborted, typically by a concurrency issue.
    Aborted = 10,
    /// 11: the operation was attempted past the valid range.
    OutOfRange = 11,
    /// 12: the operation is not implemented or supported by the server.
    Unimplemented = 12,
    /// 13: internal error: an invariant of the protocol or the system is broken.
    Internal = 13,
    /// 14: the service is currently unavailable; retrying may succeed.
    Unavailable = 14,
    /// 15: unrecoverable data loss or corruption.
    DataLoss = 15,
    /// 16: the request does not have valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// The code with wire value `value`; values outside 0..=16 are [`Code::Unknown`], as the
    /// spec says a client must treat them.
    pub fn from_i32(value: i32) -> Code {
        match value {
            0 => Code::Ok,
            1 => Code::Cancelled,
            2 => Code::Unknown,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => Code::Unknown,
        }
    }

    /// Parses a `grpc-status` header value: ASCII digits only (PROTOCOL-HTTP2: `Status →
    /// "grpc-status" 1*DIGIT`, so no sign, space or other text). `None` if it is not such a
    /// number in 0..=16.
    pub fn from_bytes(value: &[u8]) -> Option<Code> {
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = value.iter().fold(0i32, |n, d| {
            n.saturating_mul(10).saturating_add(i32::from(d - b'0'))
        });
        (0..=16).contains(&n).then(|| Code::from_i32(n))
    }

    /// The code named `name`, the canonical name ([`Code::name`]) in any case
    /// (`"UNAVAILABLE"`, `"unavailable"`), as the service config writes codes. `None` for
    /// another name.
    pub fn from_name(name: &str) -> Option<Code> {
        (0..=16)
            .map(Code::from_i32)
            .find(|code| code.name().eq_ignore_ascii_case(name))
    }

    /// The wire value, as sent in `grpc-status`.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The canonical name, as in `google/rpc/code.proto`: `"OK"`, `"NOT_FOUND"`, …
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The HTTP status a gateway answers with for this code, per the "HTTP Mapping" of
    /// `google/rpc/code.proto` (as grpc-gateway uses): `OK` → 200, `CANCELLED` → 499,
    /// `INVALID_ARGUMENT`/`FAILED_PRECONDITION`/`OUT_OF_RANGE` → 400, `UNAUTHENTICATED` → 401,
    /// `PERMISSION_DENIED` → 403, `NOT_FOUND` → 404, `ALREADY_EXISTS`/`ABORTED` → 409,
    /// `RESOURCE_EXHAUSTED` → 429, `UNIMPLEMENTED` → 501, `UNAVAILABLE` → 503,
    /// `DEADLINE_EXCEEDED` → 504, `UNKNOWN`/`INTERNAL`/`DATA_LOSS` → 500.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Cancelled => 499,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::ResourceExhausted => 429,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::DeadlineExceeded => 504,
            Code::Unknown | Code::Internal | Code::DataLoss => 500,
        }
    }

    /// The code for a stream that the server reset (RST_STREAM) or a connection it closed
    /// (GOAWAY) with the HTTP/2 error code `error_code` (RFC 9113 §7), per PROTOCOL-HTTP2's
    /// "HTTP2 Transport Mapping" (RST_STREAM error code mapping): `NO_ERROR` (0x0),
    /// `PROTOCOL_ERROR` (0x1), `INTERNAL_ERROR` (0x2), `FLOW_CONTROL_ERROR` (0x3),
    /// `SETTINGS_TIMEOUT` (0x4), `STREAM_CLOSED` (0x5), `FRAME_SIZE_ERROR` (0x6),
    /// `COMPRESSION_ERROR` (0x9), `CONNECT_ERROR` (0xa) → `Internal`; `REFUSED_STREAM` (0x7) →
    /// `Unavailable`; `CANCEL` (0x8) → `Cancelled`; `ENHANCE_YOUR_CALM` (0xb) →
    /// `ResourceExhausted`; `INADEQUATE_SECURITY` (0xc) → `PermissionDenied`;
    /// `HTTP_1_1_REQUIRED` (0xd) and codes the RFC does not define → `Unknown`. (The
    /// transports report a GOAWAY with `NO_ERROR`, a graceful shutdown, as `Unavailable`.)
    pub fn from_http2_error_code(error_code: u32) -> Code {
        match error_code {
            0x0..=0x6 | 0x9 | 0xa => Code::Internal,
            0x7 => Code::Unavailable,
            0x8 => Code::Cancelled,
            0xb => Code::ResourceExhausted,
            0xc => Code::PermissionDenied,
            _ => Code::Unknown,
        }
    }

    /// The code for an HTTP/2 error code the server sent, in a GOAWAY (`go_away`) or a
    /// RST_STREAM: [`Code::from_http2_error_code`], but a GOAWAY with `NO_ERROR` (a graceful
    /// shutdown; the call may be retried on a new connection) → `Unavailable`. One rule for
    /// every transport that sees the code.
    pub(crate) fn from_http2_frame(error_code: u32, go_away: bool) -> Code {
        if go_away && error_code == 0 {
            Code::Unavailable
        } else {
            Code::from_http2_error_code(error_code)
        }
    }

    /// A short English description of the code ("The operation was cancelled", …).
    pub fn description(self) -> &'static str {
        match self {
            Code::Ok => "The operation completed successfully",
            Code::Cancelled => "The operation was cancelled",
            Code::Unknown => "Unknown error",
            Code::InvalidArgument => "Client specified an invalid argument",
            Code::DeadlineExceeded => "Deadline expired before operation could complete",
            Code::NotFound => "Some requested entity was not found",
            Code::AlreadyExists => "Some entity that we attempted to create already exists",
            Code::PermissionDenied => {
                "The caller does not have permission to execute the specified operation"
            }
            Code::ResourceExhausted => "Some resource has been exhausted",
            Code::FailedPrecondition => {
                "The system is not in a state required for the operation's execution"
            }
            Code::Aborted => "The operation was aborted",
            Code::OutOfRange => "Operation was attempted past the valid range",
            Code::Unimplemented => "Operation is not implemented or not supported",
            Code::Internal => "Internal error",
            Code::Unavailable => "The service is currently unavailable",
            Code::DataLoss => "Unrecoverable data loss or corruption",
            Code::Unauthenticated => "The request does not have valid authentication credentials",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The outcome of a gRPC call that did not succeed (or, with [`Code::Ok`], one that did).
///
/// Carries the [`Code`], the `grpc-message` text (already percent-decoded), the raw
/// `grpc-status-details-bin` bytes, the trailing metadata that came with it, and, for failures
/// the client saw itself (connection refused, HTTP/2 reset, …), the transport's error as
/// [`Error::source`].
#[derive(Clone)]
pub struct Status(Box<Inner>);

#[derive(Clone)]
struct Inner {
    code: Code,
    message: String,
    details: Bytes,
    metadata: MetadataMap,
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with `code` and `message`, no details and no metadata.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status(Box::new(Inner {
            code,
            message: message.into(),
            details: Bytes::new(),
            metadata: MetadataMap::new(),
            source: None,
        }))
    }

    constructors! {
        /// A [`Code::Ok`] status.
        ok => Ok,
        /// A [`Code::Cancelled`] status.
        cancelled => Cancelled,
        /// A [`Code::Unknown`] status.
        unknown => Unknown,
        /// A [`Code::InvalidArgument`] status.
        invalid_argument => InvalidArgument,
        /// A [`Code::DeadlineExceeded`] status.
        deadline_exceeded => DeadlineExceeded,
        /// A [`Code::NotFound`] status.
        not_found => NotFound,
        /// A [`Code::AlreadyExists`] status.
        already_exists => AlreadyExists,
        /// A [`Code::PermissionDenied`] status.
        permission_denied => PermissionDenied,
        /// A [`Code::ResourceExhausted`] status.
        resource_exhausted => ResourceExhausted,
        /// A [`Code::FailedPrecondition`] status.
        failed_precondition => FailedPrecondition,
        /// A [`Code::Aborted`] status.
        aborted => Aborted,
        /// A [`Code::OutOfRange`] status.
        out_of_range => OutOfRange,
        /// A [`Code::Unimplemented`] status.
        unimplemented => Unimplemented,
        /// A [`Code::Internal`] status.
        internal => Internal,
        /// A [`Code::Unavailable`] status.
        unavailable => Unavailable,
        /// A [`Code::DataLoss`] status.
        data_loss => DataLoss,
        /// A [`Code::Unauthenticated`] status.
        unauthenticated => Unauthenticated,
    }

    /// The status code.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The status message (`grpc-message`, percent-decoded; invalid UTF-8 replaced by U+FFFD).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The raw `grpc-status-details-bin` bytes (a serialized `google.rpc.Status`), empty when
    /// the server sent none.
    pub fn details(&self) -> &[u8] {
        &self.0.details
    }

    /// The trailing metadata that came with the status (without the `grpc-status`,
    /// `grpc-message` and `grpc-status-details-bin` entries).
    pub fn metadata(&self) -> &MetadataMap {
        &self.0.metadata
    }

    /// Mutable access to the metadata.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.0.metadata
    }

    /// Attaches the underlying error (shown by [`Error::source`]).
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Status {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// Reads the status a server sent in trailers (or in the headers of a Trailers-Only
    /// response).
    ///
    /// Returns `None` when `headers` has no `grpc-status`. A `grpc-status` that is not a
    /// number in 0..=16 gives [`Code::Unknown`] with a message that quotes it. `grpc-message`
    /// is percent-decoded as PROTOCOL-HTTP2 requires; bad escapes are kept as written and
    /// invalid UTF-8 becomes U+FFFD, never an error. The other headers become
    /// [`Status::metadata`].
    pub fn from_header_map(headers: &HeaderMap) -> Option<Status> {
        let raw = headers.get("grpc-status")?;
        let message = headers
            .get("grpc-message")
            .map(|v| {
                percent_decode(v.as_bytes())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let mut status = match Code::from_bytes(raw.as_bytes()) {
            Some(code) => Status::new(code, message),
            None => Status::unknown(format!(
                "invalid grpc-status {:?} (message: {message:?})",
                String::from_utf8_lossy(raw.as_bytes())
            )),
        };
        if let Some(details) = headers.get("grpc-status-details-bin") {
            // Details that do not decode are dropped: the code and message still stand.
            if let Ok(bytes) = base64_engine().decode(details.as_bytes()) {
                status.0.details = Bytes::from(bytes);
            }
        }
        status.0.metadata = MetadataMap::from_headers(headers.clone());
        Some(status)
    }

    /// The status for a response whose HTTP status is not 200, per PROTOCOL-HTTP2's "HTTP to
    /// gRPC Status Code Mapping": 400 → `Internal`, 401 → `Unauthenticated`, 403 →
    /// `PermissionDenied`, 404 → `Unimplemented`, 429/502/503/504 → `Unavailable`, any other →
    /// `Unknown`. The message names the HTTP status.
    pub fn from_http_status(status: http::StatusCode) -> Status {
        let code = match status.as_u16() {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        };
        Status::new(
            code,
            format!("HTTP status {status} instead of 200 OK in a gRPC response"),
        )
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Status");
        d.field("code", &self.0.code)
            .field("message", &self.0.message);
        if !self.0.details.is_empty() {
            d.field("details", &self.0.details);
        }
        if !self.0.metadata.is_empty() {
            d.field("metadata", &self.0.metadata);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status: {:?}, message: {:?}",
            self.code(),
            self.message()
        )
    }
}

/// `Internal`, so an interceptor can `?` a refused key or value: the call fails before it is
/// sent (grpc-go fails a call with an invalid header the same way).
impl From<crate::metadata::InvalidMetadata> for Status {
    fn from(e: crate::metadata::InvalidMetadata) -> Self {
        Status::internal(e.to_string())
    }
}

/// `Internal`, so an interceptor can `?` a value that does not parse, as with tonic.
impl From<crate::metadata::InvalidMetadataValue> for Status {
    fn from(e: crate::metadata::InvalidMetadataValue) -> Self {
        Status::internal(e.to_string())
    }
}

/// Never made: lets a conversion that cannot fail (`Endpoint` into `Endpoint`, say) stand
/// where a fallible one into `Status` is expected.
impl From<std::convert::Infallible> for Status {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl Error for Status {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|e| e.as_ref() as &(dyn Error + 'static))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn trailers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn all_codes_round_trip() {
        for n in 0..=16 {
            assert_eq!(Code::from_i32(n).as_i32(), n);
            assert_eq!(
                Code::from_bytes(n.to_string().as_bytes()),
                Some(Code::from_i32(n))
            );
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_bytes(b"17"), None);
        assert_eq!(Code::from_bytes(b"003"), Some(Code::InvalidArgument));
        assert_eq!(Code::from_bytes(b"16"), Some(Code::Unauthenticated));
        assert_eq!(Code::from_bytes(b"0"), Some(Code::Ok));
        assert_eq!(Code::from_bytes(b" 1"), None);
    }

    #[test]
    fn no_grpc_status_is_none() {
        assert!(Status::from_header_map(&trailers(&[("grpc-message", b"x")])).is_none());
    }

    #[test]
    fn message_is_percent_decoded_utf8() {
        let s = Status::from_header_map(&trailers(&[
            ("grpc-status", b"3"),
            ("grpc-message", b"caf%C3%A9 %E2%9C%93 100%25"),
            ("x-extra", b"kept"),
        ]))
        .unwrap();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "café ✓ 100%");
        assert_eq!(s.metadata().get("x-extra"), Some("kept"));
        assert!(s.metadata().get("grpc-status").is_none());
    }

    #[test]
    fn bad_percent_encoding_and_utf8_never_fail() {
        let s = Status::from_header_map(&trailers(&[
            ("grpc-status", b"13"),
            ("grpc-message", b"bad %ZZ and %FF end %"),
        ]))
        .unwrap();
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(s.message(), "bad %ZZ and \u{FFFD} end %");
    }

    #[test]
    fn invalid_grpc_status_is_unknown() {
        for sign in [&b"+3"[..], b"-0", b" 3", b"3 ", b"", b"3.0", b"99999999999"] {
            let s = Status::from_header_map(&trailers(&[("grpc-status", sign)])).unwrap();
            assert_eq!(
                s.code(),
                Code::Unknown,
                "{:?}",
                String::from_utf8_lossy(sign)
            );
        }
        let s = Status::from_header_map(&trailers(&[("grpc-status", b"abc")])).unwrap();
        assert_eq!(s.code(), Code::Unknown);
        assert!(s.message().contains("abc"));
    }

    #[test]
    fn details_are_base64_decoded() {
        let s = Status::from_header_map(&trailers(&[
            ("grpc-status", b"5"),
            ("grpc-status-details-bin", b"AQID"),
        ]))
        .unwrap();
        assert_eq!(s.details(), [1, 2, 3]);
    }

    #[test]
    fn http_status_table() {
        let cases = [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (500, Code::Unknown),
            (302, Code::Unknown),
        ];
        for (http, code) in cases {
            let s = Status::from_http_status(http::StatusCode::from_u16(http).unwrap());
            assert_eq!(s.code(), code, "HTTP {http}");
            assert!(s.message().contains(&http.to_string()));
        }
    }
}
