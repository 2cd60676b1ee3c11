//! `protoc-gen-grpc-wasi`: the protoc plugin.
//!
//! Reads a `google.protobuf.compiler.CodeGeneratorRequest` on stdin and writes a
//! `CodeGeneratorResponse` on stdout (protoc's plugin protocol, `plugin.proto`) holding one
//! file a proto package: prost messages plus grpc-wasi client stubs. Parameter
//! (`--grpc-wasi_opt`): `no_client` generates the messages only. A failure is reported in the
//! response's `error` field, as protoc expects, and the exit status stays 0.
//!
//! ```text
//! protoc --plugin=protoc-gen-grpc-wasi=PATH --grpc-wasi_out=src/gen echo.proto
//! ```

use std::io::{Read, Write};

use prost::Message;
use prost_types::FileDescriptorSet;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

fn respond(request: CodeGeneratorRequest) -> CodeGeneratorResponse {
    let mut response = CodeGeneratorResponse {
        supported_features: Some(Feature::Proto3Optional as u64),
        ..Default::default()
    };
    let mut build_client = true;
    for opt in request.parameter().split(',').filter(|o| !o.is_empty()) {
        match opt.trim() {
            "no_client" => build_client = false,
            other => {
                response.error = Some(format!("unknown option {other:?} (known: no_client)"));
                return response;
            }
        }
    }
    let fds = FileDescriptorSet {
        file: request.proto_file,
    };
    match grpc_wasi_codegen::generate(&fds, &request.file_to_generate, build_client) {
        Ok(files) => {
            let mut files: Vec<_> = files.into_iter().collect();
            files.sort();
            response.file = files
                .into_iter()
                .map(|(name, content)| File {
                    name: Some(name),
                    content: Some(content),
                    ..Default::default()
                })
                .collect();
        }
        Err(e) => response.error = Some(e.to_string()),
    }
    response
}

fn main() -> std::io::Result<()> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let response = match CodeGeneratorRequest::decode(input.as_slice()) {
        Ok(request) => respond(request),
        Err(e) => CodeGeneratorResponse {
            error: Some(format!("invalid CodeGeneratorRequest on stdin: {e}")),
            ..Default::default()
        },
    };
    std::io::stdout().write_all(&response.encode_to_vec())
}
