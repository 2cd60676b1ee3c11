//! `protoc-gen-grpc-wasi`: the protoc plugin.
//!
//! Reads a `google.protobuf.compiler.CodeGeneratorRequest` on stdin and writes a
//! `CodeGeneratorResponse` on stdout (protoc's plugin protocol, `plugin.proto`) holding one
//! file a proto package: prost messages plus grpc-wasi client stubs. Options
//! (`--grpc-wasi_opt`, comma-separated): `no_client` generates the messages only;
//! `include_file=NAME` also writes `NAME` (`mod.rs`, say), the module tree of the generated
//! packages, as protoc-gen-prost's option of that name. Every failure, a panic included, is
//! reported in the response's `error` field, as protoc expects, and the exit status stays 0.
//!
//! ```text
//! protoc --plugin=protoc-gen-grpc-wasi=PATH --grpc-wasi_out=src/gen \
//!     --grpc-wasi_opt=include_file=mod.rs echo.proto
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
    let mut include_file = None;
    for opt in request.parameter().split(',').filter(|o| !o.is_empty()) {
        match opt.trim().split_once('=') {
            None if opt.trim() == "no_client" => build_client = false,
            Some(("include_file", name)) if !name.is_empty() => {
                include_file = Some(name.to_owned())
            }
            _ => {
                response.error = Some(format!(
                    "unknown option {opt:?} (known: no_client, include_file=NAME)"
                ));
                return response;
            }
        }
    }
    let fds = FileDescriptorSet {
        file: request.proto_file,
    };
    match grpc_wasi_codegen::generate(&fds, &request.file_to_generate, build_client) {
        Ok(mut files) => {
            if let Some(name) = include_file {
                let tree = grpc_wasi_codegen::include_file(files.keys());
                files.insert(name, tree);
            }
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
    // `generate` turns a panic of prost-build into an error, which goes in the response for
    // protoc to show: the panic message would only repeat it, with a backtrace hint.
    std::panic::set_hook(Box::new(|_| {}));
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
