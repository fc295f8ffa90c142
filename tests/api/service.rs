//! Start-up and shutdown of `logproc serve`.

use crate::helpers::{App, Dirs, logproc};

#[test]
fn a_second_service_on_the_same_data_dir_stops_with_a_clear_error() {
    let dirs = Dirs::new();
    let _first = App::spawn(&dirs, &[]);
    let output = logproc()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dirs.data())
        .arg("--watch-dir")
        .arg(dirs.watch())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
}

#[test]
fn sigterm_when_idle_exits_zero() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    assert!(app.terminate().success());
}
