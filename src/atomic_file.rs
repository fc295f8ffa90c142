//! Files replaced whole: written beside their final name, flushed, then
//! renamed over it, so that a reader (or a crash) sees the old file or the
//! new one, never half of one.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with the concatenation of `parts`, durably.
pub fn write(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // The process id keeps concurrent writers of one path apart.
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        for part in parts {
            file.write_all(part)?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()
}
