//! Compiled plugins kept on disk, so that a plugin is compiled once per
//! machine and engine rather than at every start: Cranelift takes most of a
//! second for the built-in regex plugin, loading it back a few milliseconds.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::Digest as _;
use tracing::{debug, warn};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Artifacts kept per plugin name; older ones are removed.
const KEPT_PER_PLUGIN: usize = 3;

/// A directory of compiled components, named by plugin name, the SHA-256 of
/// the plugin's bytes and the engine's compatibility hash.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: PathBuf) -> CompileCache {
        CompileCache { dir }
    }

    /// The component of the plugin whose SHA-256 is `sha256`: loaded from
    /// the cache, or compiled (`compile` gives its artifact) and then
    /// stored. A cache that cannot be read or written costs a compile and a
    /// warning, never the plugin.
    pub fn component(
        &self,
        engine: &Engine,
        name: &str,
        sha256: &str,
        compile: impl FnOnce() -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<Component> {
        let path = self
            .dir
            .join(format!("{name}.{sha256}.{:016x}.cwasm", engine_hash(engine)));
        match load(engine, &path) {
            Ok(Some(component)) => {
                debug!(plugin = name, path = ?path, "Compiled plugin loaded from the cache.");
                return Ok(component);
            }
            Ok(None) => {}
            Err(reason) => warn!(path = ?path, %reason, "Cached plugin unusable; compiling it again."),
        }
        let artifact = compile()?;
        // SAFETY: as in `load`; this artifact was made just now by this binary.
        let component = unsafe { Component::deserialize(engine, &artifact) }?;
        match store(&path, &artifact) {
            Ok(()) => self.prune(name),
            Err(reason) => warn!(
                dir = %self.dir.display(),
                reason = %format!("{reason:#}"),
                "Cannot cache the compiled plugin; it will be compiled again at the next start."
            ),
        }
        Ok(component)
    }

    /// Removes all but the newest artifacts of plugin `name`.
    fn prune(&self, name: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{name}.");
        let mut artifacts: Vec<_> = entries
            .flatten()
            .filter(|entry| {
                let file = entry.file_name();
                let file = file.to_string_lossy();
                // Exactly `name.sha.hash.cwasm`: a plugin named `a` must
                // not prune the artifacts of `a.b`.
                file.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.split('.').count() == 3)
                    && file.ends_with(".cwasm")
            })
            .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
            .collect();
        artifacts.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
        for (_, old) in artifacts.into_iter().skip(KEPT_PER_PLUGIN) {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Artifacts are only valid for an engine with the same version and settings.
fn engine_hash(engine: &Engine) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// The cached component at `path`; `None` when there is none.
fn load(engine: &Engine, path: &Path) -> anyhow::Result<Option<Component>> {
    let file = match std::fs::read(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    // The file is the artifact's SHA-256, then the artifact.
    let (digest, artifact) = file
        .split_at_checked(32)
        .ok_or_else(|| anyhow::anyhow!("file too short"))?;
    anyhow::ensure!(
        sha2::Sha256::digest(artifact).as_slice() == digest,
        "checksum mismatch (a damaged file)"
    );
    // SAFETY: `deserialize` trusts its input to be an artifact wasmtime made.
    // This one was written by `store` below (the checksum rules out a torn
    // or damaged file), in a directory of the user running logproc; wasmtime
    // itself refuses artifacts of another version or configuration.
    let component = unsafe { Component::deserialize(engine, artifact)? };
    Ok(Some(component))
}

/// Writes `artifact`, after its checksum, to `path`, whole or
/// not at all, so that concurrent starts never see a half-written one.
fn store(path: &Path, artifact: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(path.parent().expect("cache paths have a directory"))?;
    crate::atomic_file::write(path, &[&sha2::Sha256::digest(artifact), artifact])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::builtin::builtin_plugins;
    use crate::plugin::sha256_hex;

    fn artifacts(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        files
    }

    /// `bytes` with a custom section appended: the same component, other bytes.
    fn variant(bytes: &[u8], tag: u8) -> Vec<u8> {
        let mut bytes = bytes.to_vec();
        bytes.extend([0, 3, 2, b'v', tag]);
        bytes
    }

    #[test]
    fn compiles_once_then_loads_and_recompiles_what_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().join("cache"));
        let engine = Engine::default();
        let [(_, json), (_, regex)] = builtin_plugins();
        let compile = |bytes: &[u8]| {
            let component = cache
                .component(&engine, "p", &sha256_hex(bytes), || engine.precompile_component(bytes))
                .unwrap();
            component.serialize().unwrap().len()
        };
        let regex_size = compile(regex);
        let files = artifacts(&dir.path().join("cache"));
        assert_eq!(files.len(), 1);

        // What is cached is what is used: put json's artifact in regex's place.
        let json_size = compile(json);
        let json_file = artifacts(&dir.path().join("cache"))
            .into_iter()
            .find(|file| *file != files[0])
            .unwrap();
        std::fs::copy(&json_file, &files[0]).unwrap();
        assert_eq!(compile(regex), json_size);

        // A damaged file (the checksum no longer matches) is compiled again
        // and replaced.
        let mut damaged = std::fs::read(&files[0]).unwrap();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0xff;
        std::fs::write(&files[0], &damaged).unwrap();
        assert_eq!(compile(regex), regex_size);
        assert_eq!(compile(regex), regex_size);
        std::fs::write(&files[0], b"short").unwrap();
        assert_eq!(compile(regex), regex_size);
        assert_ne!(std::fs::read(&files[0]).unwrap(), b"short");
    }

    #[test]
    fn keeps_the_newest_three_versions_of_each_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().to_path_buf());
        let engine = Engine::default();
        let [(_, json), _] = builtin_plugins();
        // A plugin whose name extends another's is not pruned with it.
        let other = variant(json, 0);
        cache
            .component(&engine, "p.x", &sha256_hex(&other), || {
                engine.precompile_component(&other)
            })
            .unwrap();
        let mut shas = Vec::new();
        for tag in 1..=5 {
            let bytes = variant(json, tag);
            shas.push(sha256_hex(&bytes));
            cache
                .component(&engine, "p", shas.last().unwrap(), || {
                    engine.precompile_component(&bytes)
                })
                .unwrap();
            // Age each version by its number, so that "newest" does not
            // depend on the file system's clock resolution.
            let written = artifacts(dir.path())
                .into_iter()
                .find(|file| file.to_string_lossy().contains(shas.last().unwrap().as_str()))
                .unwrap();
            let age = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(tag));
            std::fs::File::options()
                .write(true)
                .open(written)
                .unwrap()
                .set_modified(age)
                .unwrap();
        }
        let names: Vec<String> = artifacts(dir.path())
            .iter()
            .map(|file| file.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().any(|name| name.starts_with("p.x.")));
        for (i, sha) in shas.iter().enumerate() {
            let kept = names.iter().any(|name| name.starts_with(&format!("p.{sha}.")));
            assert_eq!(kept, i >= 2, "version {i}: {names:?}");
        }
    }
}
