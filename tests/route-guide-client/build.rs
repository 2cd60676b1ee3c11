//! Generates the RouteGuide client from `proto/routeguide/route_guide.proto`.

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    grpc_wasi_codegen::compile_protos(
        &["../../proto/routeguide/route_guide.proto"],
        &["../../proto"],
    )
}
