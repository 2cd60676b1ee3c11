//! Generates the interop test service stubs from `proto/grpc/testing/test.proto`.

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    grpc_wasi_codegen::compile_protos(&["../../proto/grpc/testing/test.proto"], &["../../proto"])
}
