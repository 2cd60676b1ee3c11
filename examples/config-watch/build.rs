//! Generates the config service's messages and client from `proto/config.proto`.

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    grpc_wasi_codegen::compile_protos(&["../../proto/config.proto"], &["../../proto"])
}
