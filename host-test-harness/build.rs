//! Compiles the echo, RouteGuide and interop test services for the tonic test servers (no system protoc:
//! `protox` parses).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    let fds = protox::compile(
        [
            "echo.proto",
            "routeguide/route_guide.proto",
            "grpc/testing/test.proto",
        ],
        [proto_dir],
    )?;
    println!("cargo:rerun-if-changed={proto_dir}");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
