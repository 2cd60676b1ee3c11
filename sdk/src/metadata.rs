//! [`MetadataMap`]: gRPC custom metadata, sent as HTTP/2 headers.
//!
//! Source: PROTOCOL-HTTP2.md, "Custom-Metadata": keys are lowercase `0-9 a-z _ - .`, keys that
//! start with `grpc-` are reserved; keys ending in `-bin` carry binary values, base64-encoded
//! on the wire (sent unpadded, accepted padded or not); other values are printable ASCII
//! (0x20–0x7E). A key may have several values, kept in order.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::{HeaderMap, HeaderName, HeaderValue};

/// The base64 flavour of `-bin` metadata: standard alphabet, written without padding, read
/// with or without it.
pub(crate) fn base64_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Headers that belong to the protocol, not to the application: never shown as metadata,
/// never accepted from the application.
const PROTOCOL_HEADERS: &[&str] = &["content-type", "te", "user-agent", "content-length"];

/// Why a key or value was refused by a [`MetadataMap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMetadata {
    key: String,
    reason: &'static str,
}

impl fmt::Display for InvalidMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid metadata {:?}: {}", self.key, self.reason)
    }
}

impl std::error::Error for InvalidMetadata {}

/// gRPC metadata: a multimap from lowercase keys to ASCII or binary (`-bin`) values.
///
/// ```
/// let mut md = grpc_wasi::MetadataMap::new();
/// md.insert("authorization", "Bearer t0k3n").unwrap();
/// md.insert_bin("trace-bin", &[0, 1, 2]).unwrap();
/// assert_eq!(md.get("authorization"), Some("Bearer t0k3n"));
/// assert_eq!(md.get_bin("trace-bin"), Some(vec![0, 1, 2]));
/// assert!(md.insert("grpc-timeout", "1S").is_err()); // reserved
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct MetadataMap {
    headers: HeaderMap,
}

impl MetadataMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metadata carried by received `headers` (response headers or trailers): everything
    /// but the `grpc-*` protocol headers and `content-type`, `te`, `user-agent`,
    /// `content-length`.
    pub fn from_headers(mut headers: HeaderMap) -> Self {
        let drop: Vec<HeaderName> = headers
            .keys()
            .filter(|k| is_protocol_key(k.as_str()))
            .cloned()
            .collect();
        for k in drop {
            headers.remove(k);
        }
        Self { headers }
    }

    /// The entries as HTTP headers (binary values base64-encoded).
    pub fn as_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The entries as HTTP headers (binary values base64-encoded), consuming the map: no
    /// copy, as a request's headers are built from its metadata (PROTOCOL-HTTP2,
    /// "Custom-Metadata"). Never fails.
    pub fn into_headers(self) -> HeaderMap {
        self.headers
    }

    /// The number of values (a key with two values counts twice).
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// True when the map holds no entry.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Sets the ASCII value of `key`, replacing any values it had.
    ///
    /// Errors: [`InvalidMetadata`] if `key` is not a valid lowercase key, is reserved
    /// (`grpc-*`, `content-type`, `te`, …), ends in `-bin` (use [`MetadataMap::insert_bin`]),
    /// or `value` has characters outside printable ASCII.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), InvalidMetadata> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds an ASCII value to `key`, keeping the values it had. Errors as
    /// [`MetadataMap::insert`].
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), InvalidMetadata> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Sets the binary value of `key` (which must end in `-bin`), replacing any it had.
    ///
    /// Errors: [`InvalidMetadata`] if `key` is invalid or reserved, or does not end in `-bin`.
    pub fn insert_bin(&mut self, key: &str, value: &[u8]) -> Result<(), InvalidMetadata> {
        let (name, value) = bin_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds a binary value to `key`, keeping the values it had. Errors as
    /// [`MetadataMap::insert_bin`].
    pub fn append_bin(&mut self, key: &str, value: &[u8]) -> Result<(), InvalidMetadata> {
        let (name, value) = bin_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// The first ASCII value of `key`; `None` if there is none, if `key` is a `-bin` key, or if
    /// the value received is not printable ASCII.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).next()
    }

    /// Every ASCII value of `key`, in the order received or added.
    pub fn get_all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        let values = if key.ends_with("-bin") {
            None
        } else {
            Some(self.headers.get_all(key).iter())
        };
        values.into_iter().flatten().filter_map(|v| v.to_str().ok())
    }

    /// The first binary value of `key` (a `-bin` key), base64-decoded; `None` if absent or not
    /// valid base64.
    pub fn get_bin(&self, key: &str) -> Option<Vec<u8>> {
        self.get_all_bin(key).next()
    }

    /// Every binary value of `key`, decoded; values that are not valid base64 are skipped.
    pub fn get_all_bin<'a>(&'a self, key: &str) -> impl Iterator<Item = Vec<u8>> + 'a {
        let values = if key.ends_with("-bin") {
            Some(self.headers.get_all(key).iter())
        } else {
            None
        };
        values
            .into_iter()
            .flatten()
            .filter_map(|v| base64_engine().decode(v.as_bytes()).ok())
    }

    /// Removes every value of `key`; returns true if there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        self.headers.remove(key).is_some()
    }

    /// The distinct keys, in no set order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.headers.keys().map(HeaderName::as_str)
    }

    /// Adds every entry of `other` to `self`, after the values `self` already has.
    pub fn extend(&mut self, other: MetadataMap) {
        let mut key = None;
        for (k, v) in other.headers {
            // `HeaderMap::into_iter` names a key only at its first value.
            if let Some(k) = k {
                key = Some(k);
            }
            if let Some(k) = &key {
                self.headers.append(k.clone(), v);
            }
        }
    }
}

impl fmt::Debug for MetadataMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.headers.iter().map(|(k, v)| (k.as_str(), v)))
            .finish()
    }
}

fn is_protocol_key(key: &str) -> bool {
    key.starts_with("grpc-") || PROTOCOL_HEADERS.contains(&key)
}

fn checked_key(key: &str) -> Result<HeaderName, InvalidMetadata> {
    let invalid = |reason| InvalidMetadata {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("keys cannot be empty"));
    }
    if !key
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'-' | b'.'))
    {
        return Err(invalid("keys are lowercase 0-9 a-z _ - . only"));
    }
    if is_protocol_key(key) {
        return Err(invalid("the key is reserved for the gRPC protocol"));
    }
    HeaderName::from_bytes(key.as_bytes()).map_err(|_| invalid("not a valid header name"))
}

fn ascii_entry(key: &str, value: &str) -> Result<(HeaderName, HeaderValue), InvalidMetadata> {
    let name = checked_key(key)?;
    let invalid = |reason| InvalidMetadata {
        key: key.to_owned(),
        reason,
    };
    if key.ends_with("-bin") {
        return Err(invalid(
            "-bin keys take binary values: use insert_bin/append_bin",
        ));
    }
    if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(invalid("ASCII values are printable ASCII (0x20-0x7E) only"));
    }
    let value = HeaderValue::from_str(value).map_err(|_| invalid("not a valid header value"))?;
    Ok((name, value))
}

fn bin_entry(key: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), InvalidMetadata> {
    let name = checked_key(key)?;
    let invalid = |reason| InvalidMetadata {
        key: key.to_owned(),
        reason,
    };
    if !key.ends_with("-bin") {
        return Err(invalid("binary values need a key that ends in -bin"));
    }
    let encoded = base64_engine().encode(value);
    let value = HeaderValue::from_str(&encoded).map_err(|_| invalid("not a valid header value"))?;
    Ok((name, value))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let mut md = MetadataMap::new();
        for bad in [
            "",
            "Upper",
            "sp ace",
            "grpc-status",
            "grpc-foo",
            "te",
            "content-type",
            ":path",
        ] {
            assert!(md.insert(bad, "v").is_err(), "{bad:?} accepted");
        }
        assert!(md.insert("x-bin", "v").is_err());
        assert!(md.insert_bin("x", b"v").is_err());
        assert!(md.insert("ok", "tab\there").is_err());
        assert!(md.insert("ok", "é").is_err());
        assert!(md.is_empty());
    }

    #[test]
    fn several_values_per_key_in_order() {
        let mut md = MetadataMap::new();
        md.append("k", "1").unwrap();
        md.append("k", "2").unwrap();
        assert_eq!(md.get_all("k").collect::<Vec<_>>(), ["1", "2"]);
        md.insert("k", "3").unwrap();
        assert_eq!(md.get_all("k").collect::<Vec<_>>(), ["3"]);
        assert!(md.remove("k"));
        assert!(md.get("k").is_none());
    }

    #[test]
    fn binary_values_are_unpadded_base64_on_the_wire() {
        let mut md = MetadataMap::new();
        md.insert_bin("trace-bin", &[0xff, 0x00]).unwrap();
        assert_eq!(md.as_headers()["trace-bin"], "/wA");
        assert_eq!(md.get_bin("trace-bin"), Some(vec![0xff, 0x00]));
        assert_eq!(md.get("trace-bin"), None);

        let mut h = HeaderMap::new();
        h.insert("padded-bin", HeaderValue::from_static("/wA="));
        h.insert("grpc-status", HeaderValue::from_static("0"));
        h.insert("content-type", HeaderValue::from_static("application/grpc"));
        let md = MetadataMap::from_headers(h);
        assert_eq!(md.get_bin("padded-bin"), Some(vec![0xff, 0x00]));
        assert_eq!(md.len(), 1);
    }
}
