//! The Length-Prefixed-Message decoder on arbitrary bytes, cut into arbitrary pieces, in gRPC
//! and gRPC-Web modes, with compressed messages decompressed under a small limit: it must
//! never panic, never yield a message over the limit, and account for every byte.

#![no_main]

use grpc_wasi::CompressionEncoding;
use grpc_wasi::codec::compression::decompress;
use grpc_wasi::codec::framing::Decoder;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mut decoder = Decoder::new(LIMIT);
    decoder.grpc_web(control & 1 != 0);
    decoder.accept_compressed(control & 2 != 0);
    // Chunk sizes from the control byte: 1..=32 bytes per push.
    let chunk = usize::from(control >> 3) + 1;
    let mut consumed = 0;
    for piece in rest.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.decode() {
                Ok(Some(frame)) => {
                    assert!(frame.data.len() <= LIMIT);
                    consumed += 5 + frame.data.len();
                    if frame.compressed {
                        for encoding in [
                            CompressionEncoding::Gzip,
                            CompressionEncoding::Deflate,
                            CompressionEncoding::Zstd,
                        ] {
                            if let Ok(out) = decompress(encoding, &frame.data, LIMIT) {
                                assert!(out.len() <= LIMIT);
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    if decoder.finish().is_ok() {
        assert_eq!(consumed, rest.len());
    }
});
