//! Generates the calculator's messages and client from `proto/calculator.proto`.

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    grpc_wasi_codegen::compile_protos(&["../../proto/calculator.proto"], &["../../proto"])
}
