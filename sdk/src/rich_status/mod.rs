//! Rich error details (feature `rich-status`): a status's `grpc-status-details-bin` decoded
//! into `google.rpc.Status` (`google/rpc/status.proto`), and its details into the standard
//! messages of `google/rpc/error_details.proto`.
//!
//! ```no_run
//! # fn f(status: grpc_wasi::Status) -> Result<(), grpc_wasi::Status> {
//! use grpc_wasi::rich_status::ErrorDetail;
//! for detail in status.error_details()? {
//!     match detail {
//!         ErrorDetail::RetryInfo(retry) => println!("retry after {:?}", retry.retry_delay),
//!         ErrorDetail::BadRequest(bad) => println!("{} bad fields", bad.field_violations.len()),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```

/// The `google.rpc` messages, generated from `proto/google/rpc/*.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    include!("google_rpc.rs");
}

use prost::Message;

pub use pb::{
    BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure, QuotaFailure,
    RequestInfo, ResourceInfo, RetryInfo,
};

use crate::status::Status;

/// One entry of `google.rpc.Status.details`, decoded by its type URL.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorDetail {
    /// `google.rpc.ErrorInfo`: the reason, domain and metadata of the error.
    ErrorInfo(ErrorInfo),
    /// `google.rpc.RetryInfo`: how long to wait before retrying.
    RetryInfo(RetryInfo),
    /// `google.rpc.DebugInfo`: stack entries and detail.
    DebugInfo(DebugInfo),
    /// `google.rpc.QuotaFailure`: the quota violations.
    QuotaFailure(QuotaFailure),
    /// `google.rpc.PreconditionFailure`: the failed preconditions.
    PreconditionFailure(PreconditionFailure),
    /// `google.rpc.BadRequest`: the invalid request fields.
    BadRequest(BadRequest),
    /// `google.rpc.RequestInfo`: the request id and serving data.
    RequestInfo(RequestInfo),
    /// `google.rpc.ResourceInfo`: the resource being accessed.
    ResourceInfo(ResourceInfo),
    /// `google.rpc.Help`: links to documentation.
    Help(Help),
    /// `google.rpc.LocalizedMessage`: a message safe to show the user.
    LocalizedMessage(LocalizedMessage),
    /// A detail of another type, left as it came.
    Other(prost_types::Any),
}

const TYPE_URL_PREFIX: &str = "type.googleapis.com/google.rpc.";

impl ErrorDetail {
    /// Decodes `any` if its type URL (`type.googleapis.com/google.rpc.NAME`) names one of the
    /// standard details; any other type is [`ErrorDetail::Other`].
    ///
    /// Errors: `Internal` when the type is a standard one but the bytes do not decode as it.
    pub fn from_any(any: prost_types::Any) -> Result<ErrorDetail, Status> {
        fn decode<M: Message + Default>(any: &prost_types::Any) -> Result<M, Status> {
            M::decode(any.value.as_slice()).map_err(|e| {
                Status::internal(format!(
                    "invalid {} in grpc-status-details-bin: {e}",
                    any.type_url
                ))
            })
        }
        let Some(name) = any.type_url.strip_prefix(TYPE_URL_PREFIX) else {
            return Ok(ErrorDetail::Other(any));
        };
        Ok(match name {
            "ErrorInfo" => ErrorDetail::ErrorInfo(decode(&any)?),
            "RetryInfo" => ErrorDetail::RetryInfo(decode(&any)?),
            "DebugInfo" => ErrorDetail::DebugInfo(decode(&any)?),
            "QuotaFailure" => ErrorDetail::QuotaFailure(decode(&any)?),
            "PreconditionFailure" => ErrorDetail::PreconditionFailure(decode(&any)?),
            "BadRequest" => ErrorDetail::BadRequest(decode(&any)?),
            "RequestInfo" => ErrorDetail::RequestInfo(decode(&any)?),
            "ResourceInfo" => ErrorDetail::ResourceInfo(decode(&any)?),
            "Help" => ErrorDetail::Help(decode(&any)?),
            "LocalizedMessage" => ErrorDetail::LocalizedMessage(decode(&any)?),
            _ => ErrorDetail::Other(any),
        })
    }
}

impl Status {
    /// The `google.rpc.Status` in this status's `grpc-status-details-bin`; `None` if the server
    /// sent none.
    ///
    /// Errors: `Internal` when the details are not a valid `google.rpc.Status`.
    pub fn rpc_status(&self) -> Result<Option<pb::Status>, Status> {
        if self.details().is_empty() {
            return Ok(None);
        }
        pb::Status::decode(self.details()).map(Some).map_err(|e| {
            Status::internal(format!(
                "invalid google.rpc.Status in grpc-status-details-bin: {e}"
            ))
        })
    }

    /// The standard error details this status carries, in the order the server sent them
    /// (empty when there are none).
    ///
    /// Errors: as [`Status::rpc_status`] and [`ErrorDetail::from_any`].
    pub fn error_details(&self) -> Result<Vec<ErrorDetail>, Status> {
        let Some(status) = self.rpc_status()? else {
            return Ok(Vec::new());
        };
        status
            .details
            .into_iter()
            .map(ErrorDetail::from_any)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    fn any<M: Message>(name: &str, m: &M) -> prost_types::Any {
        prost_types::Any {
            type_url: format!("{TYPE_URL_PREFIX}{name}"),
            value: m.encode_to_vec(),
        }
    }

    #[test]
    fn decodes_standard_and_other_details() {
        let info = ErrorInfo {
            reason: "QUOTA".into(),
            domain: "example.com".into(),
            metadata: [("k".to_owned(), "v".to_owned())].into(),
        };
        let retry = RetryInfo {
            retry_delay: Some(prost_types::Duration {
                seconds: 2,
                nanos: 0,
            }),
        };
        let other = prost_types::Any {
            type_url: "type.example.com/Custom".into(),
            value: vec![1, 2],
        };
        let rpc = pb::Status {
            code: 8,
            message: "slow down".into(),
            details: vec![
                any("ErrorInfo", &info),
                any("RetryInfo", &retry),
                other.clone(),
            ],
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
        let encoded = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            rpc.encode_to_vec(),
        );
        headers.insert("grpc-status-details-bin", encoded.parse().unwrap());
        let status = Status::from_header_map(&headers).unwrap();
        assert_eq!(status.rpc_status().unwrap(), Some(rpc));
        assert_eq!(
            status.error_details().unwrap(),
            vec![
                ErrorDetail::ErrorInfo(info),
                ErrorDetail::RetryInfo(retry),
                ErrorDetail::Other(other)
            ]
        );
    }

    #[test]
    fn no_details_and_bad_details() {
        assert_eq!(Status::internal("x").error_details().unwrap(), vec![]);
        let bad = prost_types::Any {
            type_url: format!("{TYPE_URL_PREFIX}BadRequest"),
            value: vec![0xff, 0xff],
        };
        assert_eq!(
            ErrorDetail::from_any(bad).unwrap_err().code(),
            Code::Internal
        );
    }
}
