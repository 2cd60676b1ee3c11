//! gRPC-Web (PROTOCOL-WEB.md): its content type, and the trailer block that ends a response
//! body (a frame whose flag has the `0x80` bit set, see
//! [`Decoder::grpc_web`](super::framing::Decoder::grpc_web)), since HTTP/1.1 hosts cannot
//! deliver HTTP trailers.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::status::Status;

/// The content type of gRPC-Web requests and responses with protobuf messages.
pub const CONTENT_TYPE: &str = "application/grpc-web+proto";

/// Parses a gRPC-Web trailer block: `name: value` lines ended by CRLF (a bare LF is accepted),
/// names case-insensitive.
///
/// Errors: `Internal` for a line without `:` or a name or value that is not valid HTTP.
pub fn parse_trailers(block: &[u8]) -> Result<HeaderMap, Status> {
    let mut map = HeaderMap::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let invalid = || {
            Status::internal(format!(
                "protocol error: invalid gRPC-Web trailer line {:?}",
                String::from_utf8_lossy(line)
            ))
        };
        let colon = line.iter().position(|&b| b == b':').ok_or_else(invalid)?;
        let name = HeaderName::from_bytes(line[..colon].trim_ascii()).map_err(|_| invalid())?;
        let value =
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).map_err(|_| invalid())?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn parses_crlf_lines_case_insensitively() {
        let t =
            parse_trailers(b"Grpc-Status: 5\r\ngrpc-message:not%20found\r\nx-a: 1\r\nx-a: 2\r\n")
                .unwrap();
        let status = Status::from_header_map(&t).unwrap();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "not found");
        assert_eq!(t.get_all("x-a").iter().count(), 2);
    }

    #[test]
    fn bad_lines_are_internal() {
        assert_eq!(
            parse_trailers(b"no colon here\r\n").unwrap_err().code(),
            Code::Internal
        );
        assert_eq!(
            parse_trailers(b"bad name: v\r\n").unwrap_err().code(),
            Code::Internal
        );
        assert!(parse_trailers(b"").unwrap().is_empty());
    }
}
