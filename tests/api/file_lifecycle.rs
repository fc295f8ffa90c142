//! Files over their life: rotated under names that are read too, compressed,
//! deleted and forgotten, dropped by the thousand.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::helpers::{App, Dirs, append, on_every_backend, wait_for};
use crate::truth::{Truth, json_lines, text_lines};

/// A configuration file under `dirs.root` with `yaml` in it.
fn config(dirs: &Dirs, yaml: &str) -> String {
    let path = dirs.root.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `text` as one gzip member.
fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// The `/sources` entries, as (path, offset).
fn sources(app: &App) -> Vec<(String, u64)> {
    let (_, sources) = app.get("/sources");
    let entries = sources.as_array().unwrap().iter();
    entries
        .map(|entry| {
            (
                entry["source"].as_str().unwrap().to_owned(),
                entry["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

on_every_backend!(
    rotated_files_whose_names_match_a_route_are_not_read_again => rotated_files_whose_names_match_a_route_are_not_read_again,
    a_deleted_files_checkpoint_is_forgotten_and_its_counts_stay => a_deleted_files_checkpoint_is_forgotten_and_its_counts_stay,
    gzip_files_are_read_decompressed_once_even_while_being_written => gzip_files_are_read_decompressed_once_even_while_being_written,
    a_gzip_file_cut_back_to_fewer_members_is_read_again_from_its_start => a_gzip_file_cut_back_to_fewer_members_is_read_again_from_its_start,
);

fn rotated_files_whose_names_match_a_route_are_not_read_again(dirs: Dirs) {
    // Every rotated name (app.log.1, app.log.2, ...) matches this route too.
    let config = config(&dirs, "routes:\n  - glob: \"app.log*\"\n    parser: regex\n");
    let mut truth = Truth::for_files("app");
    let file = dirs.watched("app.log");
    std::fs::write(&file, text_lines(500, 100, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &["--config", &config]);
    assert_eq!(app.wait_until_read(&file), truth.stats());

    let rotated = |n: usize| dirs.watched(&format!("app.log.{n}"));
    for round in 1..=3 {
        // logrotate's order: shift the old ones, move app.log, start anew.
        append(&file, &text_lines(50, 100 + round as u64, &mut truth));
        for n in (1..round).rev() {
            std::fs::rename(rotated(n), rotated(n + 1)).unwrap();
        }
        std::fs::rename(&file, rotated(1)).unwrap();
        std::fs::write(&file, text_lines(100 + round, 110 + round as u64, &mut truth)).unwrap();
        app.wait_until_read(&file);
        for n in 1..=round {
            app.wait_until_read(&rotated(n));
        }
        assert_eq!(app.stats(), truth.stats(), "round {round}");
        // One checkpoint per file, under its current name, also for the
        // files renamed without new lines.
        let mut names: Vec<String> = (1..=round).map(|n| path_string(&rotated(n))).collect();
        names.push(path_string(&file));
        names.sort();
        wait_for("/sources to name each file where it is", || {
            let listed: Vec<String> = sources(&app).into_iter().map(|(path, _)| path).collect();
            (listed == names).then_some(())
        });
    }

    // After a restart every file resumes at its checkpoint: a line appended
    // to each is the only thing counted.
    assert!(app.terminate().success());
    let app = App::spawn(&dirs, &["--config", &config]);
    for path in [file.clone(), rotated(1), rotated(2), rotated(3)] {
        append(&path, &text_lines(1, 120, &mut truth));
        app.wait_until_read(&path);
    }
    assert_eq!(app.stats(), truth.stats());
    assert_eq!(sources(&app).len(), 4);
}

fn path_string(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn a_deleted_files_checkpoint_is_forgotten_and_its_counts_stay(dirs: Dirs) {
    let config = config(&dirs, "watch:\n  poll_interval_ms: 50\n  forget_after_ms: 300\n");
    let mut truth = Truth::default();
    let (first, second) = (dirs.watched("first.jsonl"), dirs.watched("second.jsonl"));
    truth.unnamed = Some("first");
    std::fs::write(&first, json_lines(300, 130, &mut truth)).unwrap();
    truth.unnamed = Some("second");
    std::fs::write(&second, json_lines(200, 131, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &["--config", &config]);
    app.wait_until_read(&first);
    app.wait_until_read(&second);

    std::fs::remove_file(&first).unwrap();
    let second_name = second.to_str().unwrap().to_owned();
    wait_for("the deleted file's checkpoint to go", || {
        (sources(&app) == [(second_name.clone(), std::fs::metadata(&second).unwrap().len())]).then_some(())
    });
    assert_eq!(app.stats(), truth.stats());

    // Deleted while the service was down: forgotten after the same delay.
    assert!(app.terminate().success());
    std::fs::remove_file(&second).unwrap();
    let app = App::spawn(&dirs, &["--config", &config]);
    wait_for("the checkpoint to go", || sources(&app).is_empty().then_some(()));
    assert_eq!(app.stats(), truth.stats());
}

fn gzip_files_are_read_decompressed_once_even_while_being_written(dirs: Dirs) {
    let mut truth = Truth::for_files("old");
    // Routed by the name without .gz; two members, as `cat a.gz b.gz` makes.
    let json = dirs.watched("old.jsonl.gz");
    let json_text = [json_lines(3_000, 140, &mut truth), json_lines(2_000, 141, &mut truth)];
    let mut body = gzip(&json_text[0]);
    body.extend(gzip(&json_text[1]));
    std::fs::write(&json, body).unwrap();
    // A gzip file still being written: first half of its bytes, then the rest.
    let text = dirs.watched("old.log.gz");
    let text_body = text_lines(20_000, 142, &mut truth);
    let compressed = gzip(&text_body);
    let (head, tail) = compressed.split_at(compressed.len() / 2);
    std::fs::write(&text, head).unwrap();

    let app = App::spawn(&dirs, &[]);
    let json_len = json_text.iter().map(String::len).sum::<usize>() as u64;
    app.wait_until_offset(&json, json_len);
    let text_name = text.to_str().unwrap().to_owned();
    wait_for("part of the cut gzip file", || {
        let offset = sources(&app).into_iter().find(|(path, _)| *path == text_name)?.1;
        (offset > 0).then_some(())
    });
    append_bytes(&text, tail);
    assert_eq!(app.wait_until_offset(&text, text_body.len() as u64), truth.stats());

    // After a restart, a member appended to a read file is all that counts.
    assert!(app.terminate().success());
    let app = App::spawn(&dirs, &[]);
    let more = json_lines(500, 143, &mut truth);
    append_bytes(&json, &gzip(&more));
    assert_eq!(
        app.wait_until_offset(&json, json_len + more.len() as u64),
        truth.stats()
    );
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn ten_thousand_files_dropped_at_once_are_each_read_once() {
    const FILES: usize = 10_000;
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    // Written straight into the directory, each raising create, modify and
    // close events: far more than an inotify queue holds (16384 by default),
    // so the watcher must notice the overflow and rescan.
    let mut truth = Truth::default();
    for i in 0..FILES {
        truth.unnamed = Some(format!("f{i}").leak());
        std::fs::write(
            dirs.watched(&format!("f{i}.jsonl")),
            json_lines(3, 1_000 + i as u64, &mut truth),
        )
        .unwrap();
    }
    let stats = app.wait_for_stats("every file counted", |stats| {
        stats["lines"].as_u64().unwrap() >= truth.lines()
    });
    assert_eq!(stats, truth.stats());
    let sources = sources(&app);
    assert_eq!(sources.len(), FILES);
    assert!(
        sources
            .iter()
            .all(|(path, offset)| std::fs::metadata(path).unwrap().len() == *offset)
    );
}

fn a_gzip_file_cut_back_to_fewer_members_is_read_again_from_its_start(dirs: Dirs) {
    let mut truth = Truth::for_files("members");
    let file = dirs.watched("members.jsonl.gz");
    let first = json_lines(2_000, 150, &mut truth);
    let first_gz = gzip(&first);
    let mut body = first_gz.clone();
    body.extend(gzip(&json_lines(1_000, 151, &mut truth)));
    std::fs::write(&file, body).unwrap();
    let app = App::spawn(&dirs, &[]);
    let name = path_string(&file);
    wait_for("both members read", || {
        let offset = sources(&app).into_iter().find(|(path, _)| *path == name)?.1;
        (offset > first.len() as u64).then_some(())
    });
    // Cut back to its first member, in place: it now holds less than its
    // checkpoint says, so it is read again from its start.
    let handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    handle.set_len(first_gz.len() as u64).unwrap();
    drop(handle);
    json_lines(2_000, 150, &mut truth);
    assert_eq!(app.wait_until_offset(&file, first.len() as u64), truth.stats());
}

#[test]
fn runs_of_empty_lines_cost_little_and_decompression_is_bounded() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("bounded.yaml");
    std::fs::write(&config, "watch:\n  max_decompressed_bytes: 100000000\n").unwrap();
    let mut truth = Truth::for_files("newlines");
    // 64 MiB of empty lines (LF and CRLF) between lines that count: 64 KB
    // of gzip, read without a line in a batch for each (16 M lines).
    let blank = "\n".repeat(16 << 20) + &"\r\n".repeat(8 << 20);
    let text = [
        json_lines(100, 150, &mut truth),
        blank.clone(),
        json_lines(100, 151, &mut truth),
        blank,
    ]
    .concat();
    let file = dirs.watched("newlines.jsonl.gz");
    std::fs::write(&file, gzip(&text)).unwrap();
    // One that decompresses past the limit: the lines before it count.
    truth.unnamed = Some("bomb");
    let head = json_lines(50, 152, &mut truth);
    let bomb = dirs.watched("bomb.jsonl.gz");
    std::fs::write(&bomb, gzip(&(head + &"\n".repeat(128 << 20)))).unwrap();

    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    app.wait_until_offset(&file, text.len() as u64);
    app.wait_for_log(&["bomb.jsonl.gz", "more than watch.max_decompressed_bytes"]);
    // Read to the limit: its lines, then empty ones.
    assert_eq!(app.wait_until_offset(&bomb, 100_000_000), truth.stats());
}
