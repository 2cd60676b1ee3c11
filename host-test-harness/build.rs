//! Compiles the echo, RouteGuide, calculator, config, users and interop test services for the tonic
//! test servers (no system protoc: `protox` parses).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    let fds = protox::compile(
        [
            "echo.proto",
            "routeguide/route_guide.proto",
            "grpc/testing/test.proto",
            "calculator.proto",
            "config.proto",
            "users.proto",
        ],
        [proto_dir],
    )?;
    println!("cargo:rerun-if-changed={proto_dir}");
    // The descriptors the echo server's reflection services serve.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("echo_descriptors.bin"),
        prost::Message::encode_to_vec(&protox::compile(["echo.proto"], [proto_dir])?),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
