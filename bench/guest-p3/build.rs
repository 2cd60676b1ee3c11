//! Generates the echo service's client stub from `proto/echo.proto`.

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    grpc_wasi_codegen::compile_protos(&["../../proto/echo.proto"], &["../../proto"])
}
