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

/// Builds the binary guest `package` (a workspace member) with its default features and
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
    ensure_wasm_target()?;
    let target_dir = guest_target_dir();
    let mut cargo = cargo();
    cargo
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--locked", "--profile", "guest"])
        .args(["--target", "wasm32-wasip2", "--package", package])
        .arg("--target-dir")
        .arg(&target_dir);
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    let status = cargo
        .status()
        .with_context(|| format!("running cargo to build guest {package}"))?;
    if !status.success() {
        bail!("building guest {package} for wasm32-wasip2 failed ({status})");
    }
    let output = target_dir
        .join("wasm32-wasip2/guest")
        .join(format!("{package}.wasm"));
    // Builds of the same package with other features overwrite `output`: keep a copy.
    let path = target_dir.join(format!("{name}.wasm"));
    std::fs::copy(&output, &path)
        .with_context(|| format!("copying {} to {}", output.display(), path.display()))?;
    built.insert(name, path.clone());
    Ok(path)
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
