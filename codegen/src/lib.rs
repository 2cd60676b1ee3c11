//! # grpc-wasi-codegen
//!
//! Generates [prost](https://docs.rs/prost) messages and grpc-wasi client stubs from `.proto`
//! files, two ways:
//!
//! - from `build.rs`, with no system `protoc` (the `.proto` files are parsed by `protox`):
//!
//!   ```no_run
//!   // build.rs
//!   fn main() -> Result<(), grpc_wasi_codegen::Error> {
//!       grpc_wasi_codegen::compile_protos(&["proto/echo.proto"], &["proto"])?;
//!       Ok(())
//!   }
//!   ```
//!
//!   then, in the crate: `mod echo { grpc_wasi::include_proto!("grpc.examples.echo"); }`
//!   (the argument is the proto package);
//!
//! - as a protoc plugin: `protoc --plugin=protoc-gen-grpc-wasi=PATH --grpc-wasi_out=DIR
//!   echo.proto` writes one file per proto package (`grpc.examples.echo.rs`).
//!
//! Each service `Foo` becomes a module `foo_client` with a `FooClient` (names as tonic-build
//! gives them): `FooClient::new(channel)`, one async method per RPC in snake_case. Proto
//! comments become rustdoc.

mod client;
mod docs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use client::ClientGenerator;
use prost_types::FileDescriptorSet;

/// The error of code generation: a `.proto` that does not parse or resolve, or a failure to
/// write the output.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Compiles `protos` (searched for in `includes`) into `OUT_DIR`, one `PACKAGE.rs` a proto
/// package, and tells cargo to rerun when they change. Shorthand for
/// `configure().compile_protos(protos, includes)`.
///
/// Errors: a `.proto` that cannot be found, parsed or resolved (the message names the file and
/// line); `OUT_DIR` unset (not in a build script) or not writable.
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    configure().compile_protos(protos, includes)
}

/// A [`Builder`] with the defaults: output to `OUT_DIR`, client stubs on, `cargo:rerun-if-changed`
/// lines on.
pub fn configure() -> Builder {
    Builder {
        out_dir: None,
        build_client: true,
        emit_rerun_if_changed: true,
        include_file: None,
    }
}

/// Options for code generation; made by [`configure`].
#[derive(Debug, Clone)]
pub struct Builder {
    out_dir: Option<PathBuf>,
    build_client: bool,
    emit_rerun_if_changed: bool,
    include_file: Option<String>,
}

impl Builder {
    /// Writes the generated files to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Generates client stubs (default `true`); `false` generates the messages only.
    pub fn build_client(mut self, enable: bool) -> Self {
        self.build_client = enable;
        self
    }

    /// Also writes `name` (`mod.rs`, say) beside the generated files: the module tree of every
    /// package generated ([`include_file`]), so one `include!(concat!(env!("OUT_DIR"),
    /// "/mod.rs"));` brings them all in, as tonic-build's `include_file`.
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.include_file = Some(name.into());
        self
    }

    /// Prints `cargo:rerun-if-changed` for every `.proto` read (default `true`).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.emit_rerun_if_changed = enable;
        self
    }

    /// Parses `protos` with `protox` (imports searched for in `includes`) and writes the code.
    ///
    /// Errors: as [`compile_protos`].
    pub fn compile_protos(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let fds = protox::compile(protos, includes).map_err(|e| with_editions_hint(e.into()))?;
        if self.emit_rerun_if_changed {
            for proto in protos {
                println!("cargo:rerun-if-changed={}", proto.as_ref().display());
            }
            for include in includes {
                println!("cargo:rerun-if-changed={}", include.as_ref().display());
            }
        }
        let out_dir = match self.out_dir {
            Some(dir) => dir,
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?),
        };
        // Every file's package, each in the file `include_proto!` looks for (see `file_name`).
        let names: Vec<String> = fds.file.iter().map(|f| f.name().to_owned()).collect();
        let mut files = generate(&fds, &names, self.build_client)?;
        if let Some(name) = self.include_file {
            let tree = include_file(files.keys());
            files.insert(name, tree);
        }
        for (file, code) in files {
            let path = out_dir.join(file);
            std::fs::write(&path, code).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// The prost-build configuration both the build.rs API and the plugin use.
fn prost_config(build_client: bool) -> prost_build::Config {
    let mut config = prost_build::Config::new();
    if build_client {
        config.service_generator(Box::new(ClientGenerator));
    }
    config
}

/// Generates the code for the files named in `files_to_generate` of `fds`: a map from output
/// file name (`PACKAGE.rs`, or `_.rs` for files without a package) to its contents.
///
/// This is what the protoc plugin writes. Errors (never a panic): an invalid descriptor (a type
/// that does not resolve, names prost-build cannot map to Rust); a file that uses editions (`edition = "2023"`), which prost-build, and so this
/// generator, does not support (proto2 and proto3 only).
pub fn generate(
    fds: &FileDescriptorSet,
    files_to_generate: &[String],
    build_client: bool,
) -> Result<HashMap<String, String>, Error> {
    if let Some(file) = fds.file.iter().find(|f| f.syntax() == "editions") {
        return Err(format!("{}: {EDITIONS_UNSUPPORTED}", file.name()).into());
    }
    // Every file goes in, so types from imports resolve; only the packages of the files to
    // generate come out.
    let module_of = |f: &prost_types::FileDescriptorProto| {
        prost_build::Module::from_protobuf_package_name(f.package())
    };
    let wanted: Vec<_> = fds
        .file
        .iter()
        .filter(|f| {
            files_to_generate
                .iter()
                .any(|n| Some(n.as_str()) == f.name.as_deref())
        })
        .map(module_of)
        .collect();
    let requests = fds.file.iter().map(|f| (module_of(f), f.clone())).collect();
    // prost-build panics on some descriptors (enum values whose Rust names collide, say):
    // that is an error here, not a crash of the build script or the plugin.
    let generated = std::panic::catch_unwind(move || prost_config(build_client).generate(requests));
    let modules = generated.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        format!("code generation failed: {message}")
    })??;
    Ok(modules
        .into_iter()
        .filter(|(module, _)| wanted.contains(module))
        .map(|(module, code)| (file_name(&module), docs::escape_html(&code)))
        .collect())
}

/// Why an `edition = "2023"` file is refused.
const EDITIONS_UNSUPPORTED: &str = "protobuf editions (`edition = \"2023\"`) are not \
     supported: grpc-wasi-codegen generates messages with prost-build 0.14, which knows \
     `syntax = \"proto2\"` and `syntax = \"proto3\"` only (an editions file usually converts \
     to one of them with its features as options)";

/// `error`, with [`EDITIONS_UNSUPPORTED`] added when it is protox refusing an `edition`
/// declaration (protox parses proto2 and proto3 only).
fn with_editions_hint(error: Error) -> Error {
    let text = error.to_string();
    if text.contains("edition") {
        return format!("{text}\n{EDITIONS_UNSUPPORTED}").into();
    }
    error
}

/// The include file for the generated `files` (`PACKAGE.rs` names, as [`generate`] returns):
/// nested `pub mod` blocks, one a package part (keywords as raw identifiers), each package's
/// file `include!`d in its module, and a file without a package (`_.rs`) at the top. Placed
/// beside the files, it brings them all in with one `include!`.
pub fn include_file<'a>(files: impl IntoIterator<Item = &'a String>) -> String {
    let mut packages: Vec<&str> = files
        .into_iter()
        .filter_map(|f| f.strip_suffix(".rs"))
        .collect();
    packages.sort_unstable();
    let mut out = String::from("// @generated by grpc-wasi-codegen: the generated packages.\n");
    let mut open: Vec<String> = Vec::new();
    for package in packages {
        let parts: Vec<String> = if package == "_" {
            Vec::new()
        } else {
            prost_build::Module::from_protobuf_package_name(package)
                .parts()
                .map(str::to_owned)
                .collect()
        };
        let common = open.iter().zip(&parts).take_while(|(a, b)| a == b).count();
        while open.len() > common {
            open.pop();
            out.push_str(&format!("{}}}\n", "    ".repeat(open.len())));
        }
        for part in &parts[common..] {
            out.push_str(&format!("{}pub mod {part} {{\n", "    ".repeat(open.len())));
            open.push(part.clone());
        }
        out.push_str(&format!(
            "{}include!(\"{package}.rs\");\n",
            "    ".repeat(open.len())
        ));
    }
    while let Some(_part) = open.pop() {
        out.push_str(&format!("{}}}\n", "    ".repeat(open.len())));
    }
    out
}

/// The file a package's code goes in: the proto package as written, `.rs` appended (`_.rs`
/// without a package), which is what `include_proto!("package")` looks for. prost's own name
/// for it spells keyword parts as Rust raw identifiers (`r#async.rs`).
fn file_name(module: &prost_build::Module) -> String {
    let parts: Vec<&str> = module
        .parts()
        .map(|part| part.strip_prefix("r#").unwrap_or(part))
        .collect();
    if parts.is_empty() {
        return "_.rs".to_owned();
    }
    format!("{}.rs", parts.join("."))
}
