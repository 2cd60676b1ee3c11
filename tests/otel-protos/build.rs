//! Generates the OpenTelemetry collector services and their messages, and the module tree
//! (`include_file`).

fn main() -> Result<(), grpc_wasi_codegen::Error> {
    let services = ["logs", "metrics", "trace"]
        .map(|s| format!("../../proto/opentelemetry/proto/collector/{s}/v1/{s}_service.proto"));
    let profiles = "../../proto/opentelemetry/proto/collector/profiles/v1development/\
                    profiles_service.proto";
    let mut protos = services.to_vec();
    protos.push(profiles.to_owned());
    grpc_wasi_codegen::configure()
        .include_file("mod.rs")
        .compile_protos(&protos, &["../../proto"])
}
