//! Builds guest components from this workspace for `wasm32-wasip2`.
//!
//! Guests are built with the `guest` profile (size-optimised release: `opt-level = "s"`, LTO,
//! stripped) into their own target directory, `target/guests`: a cargo started from a build
//! script, test or `cargo run` must not share the outer build's target directory, whose lock
//! the outer cargo may hold.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context as _, bail};

/// The workspace this harness belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where guest builds go: `target/guests` (or `$CARGO_TARGET_DIR/guests`).
fn guest_target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("guests")
}

static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// Builds the guest `package` (a workspace member: a command, or a library component) with its default features and
/// returns the path of its `.wasm`. See [`build_with_features`].
pub fn build(package: &str) -> anyhow::Result<PathBuf> {
    build_with_features(package, &[])
}

/// Builds the binary guest `package` with `features` (cargo features of that package, on top
/// of its defaults) and returns the path of its `.wasm`: `target/guests/PACKAGE.wasm`, or
/// `PACKAGE+FEATURE+….wasm` with features.
///
/// Built once a process; later calls return the same path. Cargo's own up-to-date checks make
/// a rebuild cheap when nothing changed. Installs the `wasm32-wasip2` target with rustup when
/// it is missing. Errors: cargo fails (its output is shown), or the target cannot be installed.
pub fn build_with_features(package: &str, features: &[&str]) -> anyhow::Result<PathBuf> {
    let name = std::iter::once(package)
        .chain(features.iter().copied())
        .collect::<Vec<_>>()
        .join("+");
    let mut built = BUILT
        .lock()
        .map_err(|_| anyhow::anyhow!("guest build lock poisoned"))?;
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(&name) {
        return Ok(path.clone());
    }
    let output = cargo_build(package, features, &guest_target_dir(), None)?;
    // Builds of the same package with other features overwrite `output`: keep a copy.
    let path = guest_target_dir().join(format!("{name}.wasm"));
    std::fs::copy(&output, &path)
        .with_context(|| format!("copying {} to {}", output.display(), path.display()))?;
    built.insert(name, path.clone());
    Ok(path)
}

/// Runs `cargo build` of the binary guest `package` with the `guest` profile into
/// `target_dir`, with `rustflags` for the wasm target if given; returns the path of the
/// `.wasm` it wrote. Errors: as [`build_with_features`].
fn cargo_build(
    package: &str,
    features: &[&str],
    target_dir: &Path,
    rustflags: Option<&str>,
) -> anyhow::Result<PathBuf> {
    ensure_wasm_target()?;
    let mut cargo = cargo();
    cargo
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--locked", "--profile", "guest"])
        .args(["--target", "wasm32-wasip2", "--package", package])
        .arg("--target-dir")
        .arg(target_dir);
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    if let Some(flags) = rustflags {
        cargo.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", flags);
    }
    let status = cargo
        .status()
        .with_context(|| format!("running cargo to build guest {package}"))?;
    if !status.success() {
        bail!("building guest {package} for wasm32-wasip2 failed ({status})");
    }
    // A binary is named as its package, a library component (`cdylib`) as its crate.
    let dir = target_dir.join("wasm32-wasip2/guest");
    let binary = dir.join(format!("{package}.wasm"));
    Ok(if binary.exists() {
        binary
    } else {
        dir.join(format!("{}.wasm", package.replace('-', "_")))
    })
}

/// The WebAssembly features rustc uses for `wasm32-wasip2`, which `wasm-opt` must be told
/// about: the module carries no target-features section for it to detect them from.
const WASM_OPT_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
    "--enable-reference-types",
];

/// Builds the binary guest `package` with its default features, shrunk by binaryen's
/// `wasm-opt -Oz`, and returns the path of the component: `target/guests-shrunk/PACKAGE.wasm`.
///
/// `wasm-opt` reads core modules, not components, so the guest is linked without its component
/// wrapper (`-C link-arg=--skip-wit-component`, into `target/guests-shrunk`), optimised, and
/// wrapped again with `wit-component`, which is what rustc's `wasm-component-ld` linker does.
/// Returns `Ok(None)` when `wasm-opt` is not on `PATH` (`apt-get install binaryen`).
/// Errors: the build fails, `wasm-opt` fails, or the optimised module is not a valid component.
pub fn build_shrunk(package: &str) -> anyhow::Result<Option<PathBuf>> {
    if Command::new("wasm-opt").arg("--version").output().is_err() {
        return Ok(None);
    }
    let target_dir = guest_target_dir().with_file_name("guests-shrunk");
    let core = cargo_build(
        package,
        &[],
        &target_dir,
        Some("-C link-arg=--skip-wit-component"),
    )?;
    let optimised = target_dir.join(format!("{package}.core-opt.wasm"));
    let output = Command::new("wasm-opt")
        .arg("-Oz")
        .args(WASM_OPT_FEATURES)
        .arg(&core)
        .arg("-o")
        .arg(&optimised)
        .output()
        .context("running wasm-opt")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_lines: Vec<&str> = stderr.lines().take(20).collect();
        bail!(
            "wasm-opt -Oz {} failed ({}):\n{}",
            core.display(),
            output.status,
            first_lines.join("\n")
        );
    }
    let module =
        std::fs::read(&optimised).with_context(|| format!("reading {}", optimised.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .with_context(|| format!("making a component of {}", optimised.display()))?;
    let path = target_dir.join(format!("{package}.wasm"));
    std::fs::write(&path, component).with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(path))
}

/// A `cargo` command without the variables an outer cargo set for its own build.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let outer = key.starts_with("CARGO_")
            && key != "CARGO_HOME"
            && key != "CARGO_NET_OFFLINE"
            && !key.starts_with("CARGO_REGISTRIES_");
        if outer || key == "RUSTFLAGS" || key == "RUSTC_WRAPPER" || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Installs `wasm32-wasip2` for the workspace's toolchain if its standard library is absent.
fn ensure_wasm_target() -> anyhow::Result<()> {
    let output = Command::new("rustc")
        .current_dir(workspace_root())
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
        .context("running rustc")?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && Path::new(&libdir).exists() {
        return Ok(());
    }
    let status = Command::new("rustup")
        .current_dir(workspace_root())
        .args(["target", "add", "wasm32-wasip2"])
        .status()
        .context("running rustup to add the wasm32-wasip2 target")?;
    if !status.success() {
        bail!("rustup target add wasm32-wasip2 failed ({status})");
    }
    Ok(())
}
