//! [`MetadataMap`]: gRPC custom metadata, sent as HTTP/2 headers.
//!
//! Source: PROTOCOL-HTTP2.md, "Custom-Metadata": keys are lowercase `0-9 a-z _ - .`, keys that
//! start with `grpc-` are reserved; keys ending in `-bin` carry binary values, base64-encoded
//! on the wire (sent unpadded, accepted padded or not); other values are printable ASCII
//! (0x20–0x7E). A key may have several values, kept in order.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

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

/// Why a [`MetadataValue`] could not be made: an ASCII value with a character outside
/// printable ASCII (0x20–0x7E), PROTOCOL-HTTP2's `ASCII-Value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMetadataValue {
    reason: &'static str,
}

impl fmt::Display for InvalidMetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid metadata value: {}", self.reason)
    }
}

impl std::error::Error for InvalidMetadataValue {}

mod sealed {
    pub trait Sealed {}
}

/// The two kinds of metadata value: [`Ascii`] and [`Binary`] (PROTOCOL-HTTP2,
/// "Custom-Metadata"), as tonic's `ValueEncoding`.
pub trait ValueEncoding: sealed::Sealed {}

/// Printable-ASCII values, under keys that do not end in `-bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ascii {}

/// Binary values, under keys that end in `-bin`; base64 on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binary {}

impl sealed::Sealed for Ascii {}
impl sealed::Sealed for Binary {}
impl ValueEncoding for Ascii {}
impl ValueEncoding for Binary {}

/// One metadata value, checked when made, as tonic's `MetadataValue`: an
/// [`AsciiMetadataValue`] (`"Bearer t0k3n".parse()?`) or a [`BinaryMetadataValue`]
/// ([`MetadataValue::from_bytes`]). [`MetadataMap::insert`] and [`MetadataMap::insert_bin`]
/// take them as they take `&str` and `&[u8]`.
///
/// ```
/// use grpc_wasi::metadata::{AsciiMetadataValue, BinaryMetadataValue, MetadataValue};
/// let token: MetadataValue<_> = "Bearer t0k3n".parse()?;
/// let trace = BinaryMetadataValue::from_bytes(&[0xff, 0]);
/// let mut md = grpc_wasi::MetadataMap::new();
/// md.insert("authorization", token)?;
/// md.insert_bin("trace-bin", trace)?;
/// assert_eq!(md.get("authorization"), Some("Bearer t0k3n"));
/// assert!("tab\there".parse::<AsciiMetadataValue>().is_err());
/// # Ok::<(), grpc_wasi::Status>(())
/// ```
pub struct MetadataValue<VE: ValueEncoding> {
    // As sent: ASCII values as they are, binary values base64-encoded.
    value: HeaderValue,
    encoding: PhantomData<VE>,
}

/// A printable-ASCII metadata value.
pub type AsciiMetadataValue = MetadataValue<Ascii>;

/// A binary metadata value (for `-bin` keys).
pub type BinaryMetadataValue = MetadataValue<Binary>;

impl<VE: ValueEncoding> MetadataValue<VE> {
    fn wrap(value: HeaderValue) -> Self {
        MetadataValue {
            value,
            encoding: PhantomData,
        }
    }

    /// The value as sent on the wire (a binary value base64-encoded, unpadded).
    pub fn as_encoded_bytes(&self) -> &[u8] {
        self.value.as_bytes()
    }
}

impl MetadataValue<Ascii> {
    /// A value from a string literal, as tonic's `MetadataValue::from_static`.
    ///
    /// # Panics
    /// If `value` is not printable ASCII: a literal that does not compile into a valid value
    /// is a programming error (as `http::HeaderValue::from_static`). Use `parse` for values
    /// made at run time.
    pub fn from_static(value: &'static str) -> Self {
        match ascii_value(value) {
            Ok(value) => value,
            #[allow(clippy::panic)]
            Err(e) => panic!("{e}: {value:?}"),
        }
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        // Only printable ASCII gets in (`ascii_value`).
        self.value.to_str().unwrap_or_default()
    }

    /// The value, as tonic's `to_str` (which can fail there; here a value is checked when made,
    /// so this is always `Ok`).
    ///
    /// Errors: none.
    pub fn to_str(&self) -> Result<&str, InvalidMetadataValue> {
        Ok(self.as_str())
    }
}

impl MetadataValue<Binary> {
    /// A binary value holding `value` (any bytes), as tonic's `from_bytes`.
    pub fn from_bytes(value: &[u8]) -> Self {
        let encoded = base64_engine().encode(value);
        // Base64 is printable ASCII.
        let value = HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static(""));
        Self::wrap(value)
    }

    /// The bytes the value holds (decoded from base64).
    pub fn to_bytes(&self) -> Vec<u8> {
        base64_engine()
            .decode(self.value.as_bytes())
            .unwrap_or_default()
    }
}

fn ascii_value(value: &str) -> Result<MetadataValue<Ascii>, InvalidMetadataValue> {
    let invalid = InvalidMetadataValue {
        reason: "ASCII values are printable ASCII (0x20-0x7E) only",
    };
    if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(invalid);
    }
    let value = HeaderValue::from_str(value).map_err(|_| invalid)?;
    Ok(MetadataValue::wrap(value))
}

impl FromStr for MetadataValue<Ascii> {
    type Err = InvalidMetadataValue;

    /// Errors: [`InvalidMetadataValue`] for a character outside printable ASCII.
    fn from_str(value: &str) -> Result<Self, InvalidMetadataValue> {
        ascii_value(value)
    }
}

impl TryFrom<&str> for MetadataValue<Ascii> {
    type Error = InvalidMetadataValue;

    /// Errors: as `parse`.
    fn try_from(value: &str) -> Result<Self, InvalidMetadataValue> {
        ascii_value(value)
    }
}

impl TryFrom<String> for MetadataValue<Ascii> {
    type Error = InvalidMetadataValue;

    /// Errors: as `parse`.
    fn try_from(value: String) -> Result<Self, InvalidMetadataValue> {
        ascii_value(&value)
    }
}

impl TryFrom<&String> for MetadataValue<Ascii> {
    type Error = InvalidMetadataValue;

    /// Errors: as `parse`.
    fn try_from(value: &String) -> Result<Self, InvalidMetadataValue> {
        ascii_value(value)
    }
}

macro_rules! ascii_from_integer {
    ($($int:ty),*) => {$(
        impl From<$int> for MetadataValue<Ascii> {
            fn from(n: $int) -> Self {
                MetadataValue::wrap(HeaderValue::from(n))
            }
        }

        impl IntoMetadataValue<Ascii> for $int {
            fn into_metadata_value(self) -> Result<MetadataValue<Ascii>, InvalidMetadataValue> {
                Ok(self.into())
            }
        }
    )*};
}
ascii_from_integer!(u16, i16, u32, i32, u64, i64, usize, isize);

impl From<&[u8]> for MetadataValue<Binary> {
    fn from(value: &[u8]) -> Self {
        MetadataValue::from_bytes(value)
    }
}

impl<VE: ValueEncoding> Clone for MetadataValue<VE> {
    fn clone(&self) -> Self {
        Self::wrap(self.value.clone())
    }
}

impl<VE: ValueEncoding> PartialEq for MetadataValue<VE> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<VE: ValueEncoding> Eq for MetadataValue<VE> {}

impl<VE: ValueEncoding> fmt::Debug for MetadataValue<VE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl fmt::Display for MetadataValue<Ascii> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`MetadataMap::insert`] (`VE` = [`Ascii`]: `&str`, `String`, integers,
/// [`AsciiMetadataValue`])
/// and [`MetadataMap::insert_bin`] (`VE` = [`Binary`]: `&[u8]`, `Vec<u8>`, byte arrays,
/// [`BinaryMetadataValue`]) take as a value.
pub trait IntoMetadataValue<VE: ValueEncoding> {
    /// The checked value. Errors: [`InvalidMetadataValue`] for an ASCII value with a character
    /// outside printable ASCII.
    fn into_metadata_value(self) -> Result<MetadataValue<VE>, InvalidMetadataValue>;
}

impl<VE: ValueEncoding> IntoMetadataValue<VE> for MetadataValue<VE> {
    fn into_metadata_value(self) -> Result<MetadataValue<VE>, InvalidMetadataValue> {
        Ok(self)
    }
}

impl<VE: ValueEncoding> IntoMetadataValue<VE> for &MetadataValue<VE> {
    fn into_metadata_value(self) -> Result<MetadataValue<VE>, InvalidMetadataValue> {
        Ok(self.clone())
    }
}

impl IntoMetadataValue<Ascii> for &str {
    fn into_metadata_value(self) -> Result<MetadataValue<Ascii>, InvalidMetadataValue> {
        ascii_value(self)
    }
}

impl IntoMetadataValue<Ascii> for String {
    fn into_metadata_value(self) -> Result<MetadataValue<Ascii>, InvalidMetadataValue> {
        ascii_value(&self)
    }
}

impl IntoMetadataValue<Ascii> for &String {
    fn into_metadata_value(self) -> Result<MetadataValue<Ascii>, InvalidMetadataValue> {
        ascii_value(self)
    }
}

impl IntoMetadataValue<Binary> for &[u8] {
    fn into_metadata_value(self) -> Result<MetadataValue<Binary>, InvalidMetadataValue> {
        Ok(MetadataValue::from_bytes(self))
    }
}

impl<const N: usize> IntoMetadataValue<Binary> for &[u8; N] {
    fn into_metadata_value(self) -> Result<MetadataValue<Binary>, InvalidMetadataValue> {
        Ok(MetadataValue::from_bytes(self))
    }
}

impl IntoMetadataValue<Binary> for Vec<u8> {
    fn into_metadata_value(self) -> Result<MetadataValue<Binary>, InvalidMetadataValue> {
        Ok(MetadataValue::from_bytes(&self))
    }
}

impl IntoMetadataValue<Binary> for &Vec<u8> {
    fn into_metadata_value(self) -> Result<MetadataValue<Binary>, InvalidMetadataValue> {
        Ok(MetadataValue::from_bytes(self))
    }
}

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

    /// Sets the ASCII value of `key`, replacing any values it had. `value` is a `&str`,
    /// `String` or [`AsciiMetadataValue`] (tonic's `insert` takes the last).
    ///
    /// Errors: [`InvalidMetadata`] (which `?` turns into an `Internal` [`Status`]) if `key`
    /// is not a valid lowercase key, is reserved (`grpc-*`, `content-type`, `te`, …), ends in
    /// `-bin` (use [`MetadataMap::insert_bin`]), or `value` has characters outside printable
    /// ASCII. tonic's returns the value replaced and panics on a bad key instead.
    ///
    /// [`Status`]: crate::Status
    pub fn insert(
        &mut self,
        key: &str,
        value: impl IntoMetadataValue<Ascii>,
    ) -> Result<(), InvalidMetadata> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds an ASCII value to `key`, keeping the values it had. Errors as
    /// [`MetadataMap::insert`].
    pub fn append(
        &mut self,
        key: &str,
        value: impl IntoMetadataValue<Ascii>,
    ) -> Result<(), InvalidMetadata> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Sets the binary value of `key` (which must end in `-bin`), replacing any it had.
    /// `value` is bytes (`&[u8]`, `Vec<u8>`, `&[u8; N]`) or a [`BinaryMetadataValue`].
    ///
    /// Errors: [`InvalidMetadata`] if `key` is invalid or reserved, or does not end in `-bin`.
    pub fn insert_bin(
        &mut self,
        key: &str,
        value: impl IntoMetadataValue<Binary>,
    ) -> Result<(), InvalidMetadata> {
        let (name, value) = bin_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds a binary value to `key`, keeping the values it had. Errors as
    /// [`MetadataMap::insert_bin`].
    pub fn append_bin(
        &mut self,
        key: &str,
        value: impl IntoMetadataValue<Binary>,
    ) -> Result<(), InvalidMetadata> {
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

fn ascii_entry(
    key: &str,
    value: impl IntoMetadataValue<Ascii>,
) -> Result<(HeaderName, HeaderValue), InvalidMetadata> {
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
    let value = value.into_metadata_value().map_err(|e| invalid(e.reason))?;
    Ok((name, value.value))
}

fn bin_entry(
    key: &str,
    value: impl IntoMetadataValue<Binary>,
) -> Result<(HeaderName, HeaderValue), InvalidMetadata> {
    let name = checked_key(key)?;
    let invalid = |reason| InvalidMetadata {
        key: key.to_owned(),
        reason,
    };
    if !key.ends_with("-bin") {
        return Err(invalid("binary values need a key that ends in -bin"));
    }
    let value = value.into_metadata_value().map_err(|e| invalid(e.reason))?;
    Ok((name, value.value))
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
