//! Golden-file tests of the generated code, by all three routes: the library's `generate`,
//! the build.rs API, and real `protoc` running the `protoc-gen-grpc-wasi` plugin.
//!
//! Re-record the golden files with `GRPC_WASI_BLESS=1 cargo test -p grpc-wasi-codegen`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: &[(&str, &str, &str)] = &[
    // (proto file, include dir, package)
    ("echo.proto", "../proto", "grpc.examples.echo"),
    ("shop.proto", "tests/protos", "acme.shop.v1"),
    ("keyword.proto", "tests/protos", "async"),
    ("clash.proto", "tests/protos", "clash"),
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden_path(package: &str) -> PathBuf {
    manifest_dir()
        .join("tests/golden")
        .join(format!("{package}.rs"))
}

fn check_against_golden(route: &str, package: &str, generated: &str) {
    let path = golden_path(package);
    if std::env::var_os("GRPC_WASI_BLESS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (record it with GRPC_WASI_BLESS=1)", path.display()));
    assert!(
        golden == generated,
        "{route}: generated code for {package} differs from {}; if the change is intended, \
         re-record with GRPC_WASI_BLESS=1\n--- generated ---\n{generated}",
        path.display()
    );
}

fn read_dir_files(dir: &Path) -> HashMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn library_generate_matches_golden() {
    for (proto, include, package) in CASES {
        let root = manifest_dir();
        let fds = protox::compile([root.join(include).join(proto)], [root.join(include)]).unwrap();
        let files = grpc_wasi_codegen::generate(&fds, &[proto.to_string()], true).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        check_against_golden("generate", package, &files[&format!("{package}.rs")]);
    }
}

#[test]
fn build_rs_api_matches_golden() {
    for (proto, include, package) in CASES {
        let out = tempfile::tempdir().unwrap();
        let root = manifest_dir();
        grpc_wasi_codegen::configure()
            .out_dir(out.path())
            .emit_rerun_if_changed(false)
            .compile_protos(&[root.join(include).join(proto)], &[root.join(include)])
            .unwrap();
        let files = read_dir_files(out.path());
        check_against_golden("compile_protos", package, &files[&format!("{package}.rs")]);
    }
}

#[test]
fn protoc_plugin_matches_golden() {
    for (proto, include, package) in CASES {
        let (output, files) = run_plugin(include, &[*proto], "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "protoc failed for {proto}: {stderr}"
        );
        assert_eq!(files.len(), 1, "{:?}", files.keys());
        check_against_golden("protoc plugin", package, &files[&format!("{package}.rs")]);
    }
}

#[test]
fn protoc_plugin_reports_bad_options() {
    let (output, _) = run_plugin("../proto", &["echo.proto"], "bogus");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown option \"bogus\""), "{stderr}");
}

#[test]
fn missing_proto_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let err = grpc_wasi_codegen::configure()
        .out_dir(out.path())
        .emit_rerun_if_changed(false)
        .compile_protos(&["nope.proto"], &["tests/protos"])
        .unwrap_err();
    assert!(err.to_string().contains("nope.proto"), "{err}");
}

/// The SDK ships some packages pre-generated (so users' builds need no protoc and no
/// protox): each must be what this generator makes of its files under `proto/`.
#[test]
fn sdk_shipped_packages_are_up_to_date() {
    // (protos, package, with clients, the SDK's file)
    let shipped: &[(&[&str], &str, bool, &str)] = &[
        (
            &["google/rpc/status.proto", "google/rpc/error_details.proto"],
            "google.rpc",
            false,
            "rich_status/google_rpc.rs",
        ),
        (
            &["grpc/health/v1/health.proto"],
            "grpc.health.v1",
            true,
            "health/grpc_health_v1.rs",
        ),
        (
            &["grpc/reflection/v1/reflection.proto"],
            "grpc.reflection.v1",
            true,
            "reflection/grpc_reflection_v1.rs",
        ),
        (
            &["grpc/reflection/v1alpha/reflection.proto"],
            "grpc.reflection.v1alpha",
            true,
            "reflection/grpc_reflection_v1alpha.rs",
        ),
    ];
    let root = manifest_dir().join("../proto");
    for (protos, package, clients, file) in shipped {
        let out = tempfile::tempdir().unwrap();
        let protos: Vec<PathBuf> = protos.iter().map(|p| root.join(p)).collect();
        grpc_wasi_codegen::configure()
            .build_client(*clients)
            .out_dir(out.path())
            .emit_rerun_if_changed(false)
            .compile_protos(&protos, &[&root])
            .unwrap();
        let generated = std::fs::read_to_string(out.path().join(format!("{package}.rs"))).unwrap();
        let path = manifest_dir().join("../sdk/src").join(file);
        if std::env::var_os("GRPC_WASI_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (record it with GRPC_WASI_BLESS=1)", path.display())
        });
        assert!(
            current == generated,
            "{} is stale: re-record with GRPC_WASI_BLESS=1",
            path.display()
        );
    }
}

/// `protoc` running the plugin in `include` on `protos` with `--grpc-wasi_opt=opt`: its
/// output, and the files written.
fn run_plugin(
    include: &str,
    protos: &[&str],
    opt: &str,
) -> (std::process::Output, HashMap<String, String>) {
    let protoc = protoc_bin_vendored::protoc_bin_path().unwrap();
    let well_known = protoc_bin_vendored::include_path().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&protoc)
        .current_dir(manifest_dir().join(include))
        .arg(format!(
            "--plugin=protoc-gen-grpc-wasi={}",
            env!("CARGO_BIN_EXE_protoc-gen-grpc-wasi")
        ))
        .arg(format!("--grpc-wasi_out={}", out.path().display()))
        .arg(format!("--grpc-wasi_opt={opt}"))
        .arg("-I.")
        .arg(format!("-I{}", well_known.display()))
        .args(protos)
        .output()
        .unwrap();
    (output, read_dir_files(out.path()))
}

#[test]
fn editions_files_are_a_clear_error_on_every_route() {
    // The plugin: protoc parses the file; the plugin answers with an error, never a panic.
    let (output, files) = run_plugin("tests/protos", &["editions.proto"], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && files.is_empty(), "{stderr}");
    assert!(stderr.contains("protobuf editions"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    // build.rs: protox refuses the `edition` line; the error says why.
    let out = tempfile::tempdir().unwrap();
    let err = grpc_wasi_codegen::configure()
        .out_dir(out.path())
        .emit_rerun_if_changed(false)
        .compile_protos(&["tests/protos/editions.proto"], &["tests/protos"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("protobuf editions"), "{err}");
    // The library, given an editions descriptor.
    let fds = prost_types::FileDescriptorSet {
        file: vec![prost_types::FileDescriptorProto {
            name: Some("e.proto".into()),
            syntax: Some("editions".into()),
            ..Default::default()
        }],
    };
    let err = grpc_wasi_codegen::generate(&fds, &["e.proto".into()], true).unwrap_err();
    assert!(
        err.to_string().starts_with("e.proto: protobuf editions"),
        "{err}"
    );
}

#[test]
fn protoc_plugin_writes_the_include_file() {
    let (output, files) = run_plugin(
        "tests/protos",
        &["shop.proto", "keyword.proto", "clash.proto"],
        "include_file=mod.rs",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        files["mod.rs"],
        "// @generated by grpc-wasi-codegen: the generated packages.
pub mod acme {
    pub mod shop {
        pub mod v1 {
            include!(\"acme.shop.v1.rs\");
        }
    }
}
pub mod r#async {
    include!(\"async.rs\");
}
pub mod clash {
    include!(\"clash.rs\");
}
"
    );
    assert_eq!(files.len(), 4, "{:?}", files.keys());
}

#[test]
fn include_file_nests_packages_inside_packages() {
    let files = ["a.b.rs", "a.b.c.rs", "a.bz.rs", "_.rs"].map(String::from);
    assert_eq!(
        grpc_wasi_codegen::include_file(&files),
        "// @generated by grpc-wasi-codegen: the generated packages.
include!(\"_.rs\");
pub mod a {
    pub mod b {
        include!(\"a.b.rs\");
        pub mod c {
            include!(\"a.b.c.rs\");
        }
    }
    pub mod bz {
        include!(\"a.bz.rs\");
    }
}
"
    );
}

#[test]
fn what_prost_build_panics_on_is_an_error() {
    // Enum values whose Rust names collide (`FOO_BAR` and `FOO__BAR` are both `FooBar`): prost-build
    // panics.
    use prost_types::{EnumDescriptorProto, EnumValueDescriptorProto, FileDescriptorProto};
    let value = |name: &str, number| EnumValueDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        ..Default::default()
    };
    let fds = prost_types::FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("e.proto".into()),
            package: Some("e".into()),
            syntax: Some("proto3".into()),
            enum_type: vec![EnumDescriptorProto {
                name: Some("E".into()),
                value: vec![value("FOO_BAR", 0), value("FOO__BAR", 1)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let err = grpc_wasi_codegen::generate(&fds, &["e.proto".into()], true).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("code generation failed: Generated enum variant names overlap"),
        "{err}"
    );
}
