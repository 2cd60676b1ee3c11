//! Compiles the echo service for the tonic test server (no system protoc: `protox` parses).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    let fds = protox::compile(["echo.proto"], [proto_dir])?;
    println!("cargo:rerun-if-changed={proto_dir}");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
