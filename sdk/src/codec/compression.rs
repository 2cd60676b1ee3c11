//! Message compression: the `grpc-encoding` algorithms (gRPC `doc/compression.md`).
//!
//! `gzip` (RFC 1952) and `deflate` (the zlib format, RFC 1950, as gRPC uses the name) come from
//! the pure-Rust backend of `flate2`; `zstd` (RFC 8878) from `ruzstd`. Each is behind the cargo
//! feature of its name; an encoding whose feature is off is never offered and never accepted.

use crate::status::Status;

/// A message compression algorithm, as named in `grpc-encoding` / `grpc-accept-encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionEncoding {
    /// `gzip` (feature `gzip`).
    Gzip,
    /// `deflate`: the zlib format (feature `deflate`).
    Deflate,
    /// `zstd` (feature `zstd`).
    Zstd,
}

impl CompressionEncoding {
    /// The name on the wire: `"gzip"`, `"deflate"` or `"zstd"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompressionEncoding::Gzip => "gzip",
            CompressionEncoding::Deflate => "deflate",
            CompressionEncoding::Zstd => "zstd",
        }
    }

    /// The encoding a header names, if it is one of the three (`identity` is not).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "gzip" => Some(CompressionEncoding::Gzip),
            "deflate" => Some(CompressionEncoding::Deflate),
            "zstd" => Some(CompressionEncoding::Zstd),
            _ => None,
        }
    }

    /// Whether this build can compress and decompress it (its cargo feature is on).
    pub fn is_enabled(self) -> bool {
        match self {
            CompressionEncoding::Gzip => cfg!(feature = "gzip"),
            CompressionEncoding::Deflate => cfg!(feature = "deflate"),
            CompressionEncoding::Zstd => cfg!(feature = "zstd"),
        }
    }

    fn not_enabled(self) -> Status {
        Status::unimplemented(format!(
            "{} compression is not in this build: enable grpc-wasi's `{}` feature",
            self.as_str(),
            self.as_str()
        ))
    }
}

/// A set of encodings (those a client accepts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EncodingSet(u8);

impl EncodingSet {
    const ALL: [CompressionEncoding; 3] = [
        CompressionEncoding::Gzip,
        CompressionEncoding::Deflate,
        CompressionEncoding::Zstd,
    ];

    fn bit(encoding: CompressionEncoding) -> u8 {
        1 << (encoding as u8)
    }

    /// Adds `encoding`.
    pub(crate) fn insert(&mut self, encoding: CompressionEncoding) {
        self.0 |= Self::bit(encoding);
    }

    /// Whether `encoding` is in the set.
    pub(crate) fn contains(self, encoding: CompressionEncoding) -> bool {
        self.0 & Self::bit(encoding) != 0
    }

    /// Both sets' encodings.
    pub(crate) fn union(self, other: EncodingSet) -> EncodingSet {
        EncodingSet(self.0 | other.0)
    }

    /// The `grpc-accept-encoding` value (`gzip,zstd`), `None` for the empty set.
    pub(crate) fn header_value(self) -> Option<String> {
        let names: Vec<&str> = Self::ALL
            .into_iter()
            .filter(|e| self.contains(*e))
            .map(CompressionEncoding::as_str)
            .collect();
        (!names.is_empty()).then(|| names.join(","))
    }
}

/// Appends `data` compressed with `encoding` to `out`.
///
/// Errors: `Unimplemented` if the encoding's feature is off; `Internal` if compression fails.
pub fn compress(
    encoding: CompressionEncoding,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Status> {
    if !encoding.is_enabled() {
        return Err(encoding.not_enabled());
    }
    codecs::compress(encoding, data, out)
        .map_err(|e| Status::internal(format!("{} compression failed: {e}", encoding.as_str())))
}

/// Decompresses `data`, refusing output over `max_len` bytes.
///
/// Errors: `ResourceExhausted` once the output passes `max_len` (decompression stops there:
/// a small message cannot inflate into a huge allocation); `Internal` for data that is not
/// valid in `encoding`; `Unimplemented` if the encoding's feature is off.
pub fn decompress(
    encoding: CompressionEncoding,
    data: &[u8],
    max_len: usize,
) -> Result<Vec<u8>, Status> {
    if !encoding.is_enabled() {
        return Err(encoding.not_enabled());
    }
    // One byte over the limit is enough to know the limit is passed.
    let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    let out = codecs::decompress(encoding, data, limit).map_err(|e| {
        Status::internal(format!(
            "invalid {}-compressed message: {e}",
            encoding.as_str()
        ))
    })?;
    if out.len() > max_len {
        return Err(Status::resource_exhausted(format!(
            "decompressed message is larger than the decoding limit of {max_len} bytes"
        )));
    }
    Ok(out)
}

/// The algorithms this build has; callers check [`CompressionEncoding::is_enabled`] first.
mod codecs {
    #[cfg(any(feature = "gzip", feature = "deflate", feature = "zstd"))]
    use std::io::Read;
    #[cfg(any(feature = "gzip", feature = "deflate"))]
    use std::io::Write;
    use std::io::{Error, Result};

    use super::CompressionEncoding;

    pub(super) fn compress(
        encoding: CompressionEncoding,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match encoding {
            #[cfg(feature = "gzip")]
            CompressionEncoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                encoder.write_all(data)?;
                encoder.finish().map(drop)
            }
            #[cfg(feature = "deflate")]
            CompressionEncoding::Deflate => {
                let mut encoder = flate2::write::ZlibEncoder::new(out, flate2::Compression::fast());
                encoder.write_all(data)?;
                encoder.finish().map(drop)
            }
            #[cfg(feature = "zstd")]
            CompressionEncoding::Zstd => {
                ruzstd::encoding::compress(data, out, ruzstd::encoding::CompressionLevel::Fastest);
                Ok(())
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (data, out);
                Err(Error::other("not in this build"))
            }
        }
    }

    pub(super) fn decompress(
        encoding: CompressionEncoding,
        data: &[u8],
        limit: u64,
    ) -> Result<Vec<u8>> {
        #[allow(unused_mut)]
        let mut out = Vec::new();
        let read = match encoding {
            #[cfg(feature = "gzip")]
            CompressionEncoding::Gzip => flate2::read::GzDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out),
            #[cfg(feature = "deflate")]
            CompressionEncoding::Deflate => flate2::read::ZlibDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out),
            #[cfg(feature = "zstd")]
            CompressionEncoding::Zstd => {
                let mut source = data;
                ruzstd::decoding::StreamingDecoder::new(&mut source)
                    .map_err(Error::other)
                    .and_then(|decoder| decoder.take(limit).read_to_end(&mut out))
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (data, limit);
                Err(Error::other("not in this build"))
            }
        };
        read.map(|_: usize| out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    const ALL: [CompressionEncoding; 3] = [
        CompressionEncoding::Gzip,
        CompressionEncoding::Deflate,
        CompressionEncoding::Zstd,
    ];

    #[test]
    fn encoding_sets() {
        let mut set = EncodingSet::default();
        assert_eq!(set.header_value(), None);
        set.insert(CompressionEncoding::Zstd);
        let mut other = EncodingSet::default();
        other.insert(CompressionEncoding::Gzip);
        let both = set.union(other);
        assert!(
            both.contains(CompressionEncoding::Gzip)
                && !both.contains(CompressionEncoding::Deflate)
        );
        assert_eq!(both.header_value().as_deref(), Some("gzip,zstd"));
    }

    #[test]
    fn names_round_trip() {
        for e in ALL {
            assert_eq!(CompressionEncoding::from_name(e.as_str()), Some(e));
        }
        assert_eq!(CompressionEncoding::from_name("identity"), None);
    }

    #[test]
    fn round_trip_and_limit() {
        let data = vec![b'a'; 100_000];
        for e in ALL.into_iter().filter(|e| e.is_enabled()) {
            let mut packed = Vec::new();
            compress(e, &data, &mut packed).unwrap();
            assert!(packed.len() < 1_000, "{e:?}: {} bytes", packed.len());
            assert_eq!(decompress(e, &packed, data.len()).unwrap(), data, "{e:?}");
            let err = decompress(e, &packed, data.len() - 1).unwrap_err();
            assert_eq!(err.code(), Code::ResourceExhausted, "{e:?}");
            assert_eq!(
                decompress(e, b"not compressed", 100).unwrap_err().code(),
                Code::Internal
            );
        }
    }

    #[test]
    fn disabled_encodings_say_which_feature() {
        for e in ALL.into_iter().filter(|e| !e.is_enabled()) {
            let err = compress(e, b"x", &mut Vec::new()).unwrap_err();
            assert_eq!(err.code(), Code::Unimplemented);
            assert!(err.message().contains(e.as_str()));
        }
    }
}
