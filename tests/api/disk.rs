//! A full data disk (a real one: a small tmpfs mounted on the data
//! directory): commits fail, the service says so, takes no more, and goes
//! on by itself once there is room; nothing acknowledged is lost or counted
//! twice, counts never go back, and a start on a full disk changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{App, Dirs, wait_for};
use crate::truth::{Truth, json_lines};

/// A tmpfs of `mib` MiB mounted on a directory, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// Mounts it; `None` (the test is skipped, and says so) unless the
    /// tests run as root, as they do on the project's machines and CI.
    fn mount(dir: &Path, mib: u64) -> Option<SmallDisk> {
        // SAFETY: geteuid reads the process's user id.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: mounting a small tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs on {}", dir.display());
        Some(SmallDisk { dir: dir.to_path_buf() })
    }

    /// Fills the disk to its last byte with a file of its own.
    fn fill(&self) {
        use std::io::Write as _;
        let mut filler = std::fs::File::create(self.dir.join("filler")).unwrap();
        let chunk = vec![0u8; 1 << 20];
        loop {
            if let Err(error) = filler.write_all(&chunk) {
                assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
                break;
            }
        }
        // The last partial chunk, byte by byte.
        while filler.write_all(&[0]).is_ok() {}
    }

    /// Makes room again.
    fn free(&self) {
        std::fs::remove_file(self.dir.join("filler")).unwrap();
    }

    /// Every file under the disk but the filler, with its bytes.
    fn contents(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut contents = BTreeMap::new();
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.file_name() != Some("filler".as_ref()) {
                    contents.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        contents
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[test]
fn a_full_data_disk_stops_intake_then_the_service_recovers_by_itself() {
    let dirs = Dirs::new();
    let Some(disk) = SmallDisk::mount(&dirs.data(), 48) else {
        return;
    };
    let config = dirs.root.path().join("disk.yaml");
    std::fs::write(
        &config,
        "storage:\n  min_free_mib: 4\nwatch:\n  poll_interval_ms: 100\n",
    )
    .unwrap();
    let spawn = || App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let app = spawn();
    let mut truth = Truth::default();
    let acknowledged = json_lines(2_000, 60, &mut truth);
    assert_eq!(app.post("/ingest?parser=json", acknowledged.as_bytes()).0, 200);

    // The disk fills; lines keep coming from a file.
    disk.fill();
    truth.unnamed = Some("during");
    let file = dirs.watched("during.jsonl");
    let mut written = String::new();
    for seed in 61..71 {
        let lines = json_lines(2_000, seed, &mut truth);
        crate::helpers::append(&file, &lines);
        written += &lines;
        if app.get("/healthz").0 == 503 {
            break;
        }
    }
    let health = wait_for("/healthz to say commits fail", || {
        let (status, health) = app.get("/healthz");
        (status == 503).then_some(health)
    });
    assert_eq!(health["status"], "unhealthy", "{health}");
    let reason = health["reason"].as_str().unwrap();
    assert!(
        reason.contains("commits fail") && reason.contains("No space left"),
        "{reason}"
    );
    // Ingest says at once to come back; no count that a restart would lose
    // is shown.
    let response = app.raw(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.to_ascii_lowercase().contains("retry-after:"), "{response}");
    assert_eq!(app.get("/stats").0, 503);
    // A file that comes meanwhile waits to be read.
    truth.unnamed = Some("new");
    let new = dirs.watched("new.jsonl");
    std::fs::write(&new, json_lines(500, 71, &mut truth)).unwrap();
    app.wait_for_log(&["new.jsonl", "will read the file once it can"]);

    // Room again: every line is counted once, without a restart.
    disk.free();
    app.wait_until_offset(&file, written.len() as u64);
    let stats = app.wait_until_read(&new);
    assert_eq!(app.get("/healthz").0, 200);
    assert_eq!(stats, truth.stats());
    app.wait_for_log(&["Commits go through again"]);
    assert!(app.terminate().success());

    // A start on a full disk is refused, and changes nothing.
    disk.fill();
    let before = disk.contents();
    let output = App::serve_command(
        &dirs,
        &["--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("MiB free; the store needs at least 4 MiB"), "{stderr}");
    assert!(disk.contents() == before, "the failed start changed the data directory");
    disk.free();
    let app = spawn();
    assert_eq!(app.stats(), truth.stats());
}
