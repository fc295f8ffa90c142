//! Start-up and shutdown of `logproc serve`.

use crate::helpers::{App, Dirs, logproc};

#[test]
fn a_second_service_on_the_same_data_dir_stops_with_a_clear_error() {
    let dirs = Dirs::new();
    let _first = App::spawn(&dirs, &[]);
    let stderr = refused_start(&dirs);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
}

#[test]
fn sigterm_when_idle_exits_zero() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    assert!(app.terminate().success());
}

/// Runs `logproc serve` on `dirs` expecting it to refuse to start; returns its stderr.
fn refused_start(dirs: &Dirs) -> String {
    let output = logproc()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dirs.data())
        .arg("--watch-dir")
        .arg(dirs.watch())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    stderr
}

/// A store with counts in it, written by a run of the service.
fn store_with_counts(dirs: &Dirs) {
    let file = dirs.watched("a.jsonl");
    std::fs::write(&file, "{\"level\":\"INFO\",\"service\":\"auth\",\"message\":\"hi\"}\n").unwrap();
    let app = App::spawn(dirs, &[]);
    assert_eq!(app.wait_until_read(&file)["lines"], 1);
    assert!(app.terminate().success());
}

#[test]
fn a_store_of_another_format_is_refused_with_a_clear_message() {
    let dirs = Dirs::new();
    store_with_counts(&dirs);
    {
        let db = sled::open(dirs.data()).unwrap();
        db.insert(b"v/format", &99u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let stderr = refused_start(&dirs);
    assert!(
        stderr.contains("was written by a newer logproc (store format 99); this logproc reads format 3"),
        "{stderr}"
    );
    // A store from before format numbers: data, no format key, no marker.
    {
        let db = sled::open(dirs.data()).unwrap();
        db.remove(b"v/format").unwrap();
        db.flush().unwrap();
    }
    std::fs::remove_file(dirs.data().join("logproc-store")).unwrap();
    let stderr = refused_start(&dirs);
    assert!(
        stderr.contains("was written by an older logproc (store format 1)"),
        "{stderr}"
    );
}

#[test]
fn a_damaged_store_is_refused_never_silently_emptied() {
    let dirs = Dirs::new();
    store_with_counts(&dirs);
    // Garbage over sled's whole database file: sled alone would open it
    // empty, as if a crash had torn it.
    let db = dirs.data().join("db");
    let len = std::fs::metadata(&db).unwrap().len() as usize;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let garbage: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&db, garbage).unwrap();
    let stderr = refused_start(&dirs);
    assert!(
        stderr.contains("is damaged or was written by an incompatible version"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Restore it from a backup, or move it aside"),
        "{stderr}"
    );
}
