//! Crashes: the real binary SIGKILLed at random moments while files grow
//! and rotate, restarted each time; at the end every line is counted exactly
//! once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::helpers::{App, Dirs, append, on_every_backend};
use crate::truth::{Rng, Truth, json_lines, text_lines};

/// Kills in one run. `CRASH_TEST_KILLS` raises it for a longer soak (not
/// `LOGPROC_...`: the service would take that for a setting and refuse it).
pub fn kills() -> usize {
    std::env::var("CRASH_TEST_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

on_every_backend!(every_line_is_counted_once_across_sigkills => counted_once_across_sigkills);

fn counted_once_across_sigkills(dirs: Dirs) {
    let files = vec![dirs.watched("a.jsonl"), dirs.watched("b.log"), dirs.watched("c.jsonl")];
    let stop = Arc::new(AtomicBool::new(false));
    let config = crash_config(&dirs);
    let writer = spawn_writer(files.clone(), 2, stop.clone());

    let mut rng = Rng::new(5);
    for _ in 0..kills() {
        let app = App::spawn(&dirs, &["--config", &config]);
        // A random moment in this life: the crash is the point, not a condition to wait for.
        std::thread::sleep(Duration::from_millis(50 + rng.below(600) as u64));
        assert!(!app.kill().success());
    }
    stop.store(true, Ordering::Relaxed);
    let truth = writer.join().unwrap();

    let app = App::spawn(&dirs, &["--config", &config]);
    let written: Vec<_> = std::fs::read_dir(dirs.watch())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(written.len() > files.len(), "files were rotated");
    for file in &written {
        app.wait_until_read(file);
    }
    assert_eq!(app.stats(), truth.stats());
}

/// Small batches and fast commits put many commits in each life. Routes
/// match the rotated names too (a.jsonl.3, b.log.7): a file rotated while
/// the service is down is then still found. Returns the file's path.
pub fn crash_config(dirs: &Dirs) -> String {
    let config = dirs.root.path().join("crash.yaml");
    std::fs::write(
        &config,
        "pipeline:\n  batch_lines: 50\nstorage:\n  commit_interval_ms: 10\nroutes:\n  \
         - {glob: \"a.jsonl*\", parser: json}\n  - {glob: \"b.log*\", parser: regex}\n  \
         - {glob: \"c.jsonl\", parser: json}\n",
    )
    .unwrap();
    config.to_str().unwrap().to_owned()
}

/// A writer that appends to every file (text to `.log` files, JSON to the
/// others) until told to stop, splitting some lines across two writes,
/// rotates one of the first `rotating` files now and then (by rename, as
/// logrotate does), and tallies what it wrote.
pub fn spawn_writer(files: Vec<PathBuf>, rotating: usize, stop: Arc<AtomicBool>) -> JoinHandle<Truth> {
    std::thread::spawn(move || {
        let mut truth = Truth::default();
        let mut rng = Rng::new(77);
        let mut seed = 0;
        // Lines without a service count under their file's name without
        // extensions.
        let stems: Vec<&'static str> = files
            .iter()
            .map(|file| {
                let name = file.file_name().unwrap().to_str().unwrap();
                &*name.split('.').next().unwrap().to_owned().leak()
            })
            .collect();
        while !stop.load(Ordering::Relaxed) {
            for (file, stem) in files.iter().zip(&stems) {
                seed += 1;
                truth.unnamed = Some(stem);
                let chunk = match file.extension().is_some_and(|extension| extension == "log") {
                    true => text_lines(40, seed, &mut truth),
                    false => json_lines(40, seed, &mut truth),
                };
                // Write a part, then the rest: the reader may see a partial line.
                let split = rng.below(chunk.len());
                let split = (0..=split).rev().find(|&at| chunk.is_char_boundary(at)).unwrap();
                append(file, &chunk[..split]);
                append(file, &chunk[split..]);
            }
            if rotating > 0 && rng.below(8) == 0 {
                let file = &files[rng.below(rotating)];
                let rotated = format!("{}.{seed}", file.display());
                std::fs::rename(file, rotated).unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        truth
    })
}
