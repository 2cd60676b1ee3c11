//! Trailer and status parsing on arbitrary bytes: `grpc-status`, `grpc-message`
//! (percent-decoding), `grpc-status-details-bin` (base64, google.rpc.Status), gRPC-Web trailer
//! blocks, `grpc-timeout` values and metadata keys: never a panic.

#![no_main]

use grpc_wasi::{MetadataMap, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.splitn(4, |&b| b == 0).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();

    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("grpc-status", part(0)),
        ("grpc-message", part(1)),
        ("grpc-status-details-bin", part(2)),
    ] {
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    if let Some(status) = Status::from_header_map(&headers) {
        let _ = status.message().len();
        let _ = status.error_details();
    }

    if let Ok(trailers) = grpc_wasi::codec::grpc_web::parse_trailers(part(3)) {
        let _ = Status::from_header_map(&trailers);
    }

    let text = String::from_utf8_lossy(data);
    let _ = grpc_wasi::timeout::decode(&text);
    let mut metadata = MetadataMap::new();
    let (key, value) = text.split_once('=').unwrap_or((&text, ""));
    let _ = metadata.insert(key, value);
    let _ = metadata.insert_bin(key, value.as_bytes());
    let _ = metadata.get_bin(key);
});
