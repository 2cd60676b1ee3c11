//! Generates the user service's messages and client from `proto/users.proto`.

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    grpc_wasi_codegen::compile_protos(&["../../proto/users.proto"], &["../../proto"])
}
