//! Builds the default parser plugins (`plugins/`) for `wasm32-wasip2` and
//! leaves them in OUT_DIR, where `src/plugin/builtin.rs` embeds them, so that a
//! plain `cargo build` on a fresh machine yields a complete service.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// (artifact built by the plugin workspace, name embedded in the host)
const PLUGINS: [(&str, &str); 2] = [("json.wasm", "json.wasm"), ("regex_parser.wasm", "regex.wasm")];

fn main() {
    for path in [
        "plugins/Cargo.toml",
        "plugins/Cargo.lock",
        "plugins/levels",
        "plugins/sdk",
        "plugins/json",
        "plugins/regex",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    ensure_target_installed();

    // One plugin target dir for every host profile (debug, release, clippy),
    // so each profile does not rebuild the plugins from scratch.
    let target_dir = shared_target_dir(&out_dir).join("plugins");
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--release", "--locked", "--target", TARGET, "--manifest-path"])
        .arg(manifest_dir.join("plugins/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The host's build settings are not the guest's.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_MAKEFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo to build the plugins: {error}"));
    if !status.success() {
        panic!("building the parser plugins in plugins/ failed (see the errors above)");
    }
    for (built, embedded) in PLUGINS {
        let from = target_dir.join(TARGET).join("release").join(built);
        std::fs::copy(&from, out_dir.join(embedded))
            .unwrap_or_else(|error| panic!("cannot copy {}: {error}", from.display()));
    }
}

/// The plugins need the `wasm32-wasip2` standard library, which a fresh
/// rustup install lacks and does not fetch by itself: add it, or say exactly
/// what to run.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    if sysroot.is_some_and(|root| root.join("lib/rustlib").join(TARGET).exists()) {
        return;
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        add.arg("--toolchain").arg(toolchain);
    }
    println!("cargo:warning=installing the {TARGET} target with `rustup target add {TARGET}`");
    match add.status() {
        Ok(status) if status.success() => {}
        _ => panic!(
            "the {TARGET} target is missing and could not be installed; run `rustup target add {TARGET}` and build again"
        ),
    }
}

/// `target/` (or CARGO_TARGET_DIR) from OUT_DIR = `<target>/<profile>/build/<pkg>-<hash>/out`.
fn shared_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .nth(4)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.to_path_buf())
}
