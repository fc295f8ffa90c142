//! Compiling plugins in a process of their own. Cranelift cannot be stopped
//! and its memory grows with a function's size (measured: 190 MB for one
//! 750 KB function; a component of nested blocks compiled for minutes), so
//! a hostile component compiled in the service would take its memory and a
//! core for as long as it likes. A child process (this same binary, run
//! with [`CHILD_ARG`]) has a data limit and is killed at the deadline.

use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use wasmtime::Engine;

/// The first argument that makes `logproc` a compiler child: it reads a
/// component on stdin and writes its compiled artifact to stdout.
pub const CHILD_ARG: &str = "__compile-plugin";

/// This binary, to run as a compiler child: `/proc/self/exe` where there is
/// one, which still runs the service's own binary after a package upgrade
/// has replaced or deleted its file.
pub fn this_binary() -> std::io::Result<std::path::PathBuf> {
    let proc_exe = Path::new("/proc/self/exe");
    match proc_exe.exists() {
        true => Ok(proc_exe.to_path_buf()),
        false => std::env::current_exe(),
    }
}

/// Most of the child's error output kept.
const MAX_ERROR_BYTES: u64 = 64 * 1024;

/// Why a compilation in a child failed.
#[derive(Debug)]
pub enum ChildError {
    /// The component is not valid (wasmtime's message).
    Invalid(String),
    /// It needed more memory than allowed.
    OutOfMemory,
    /// It took longer than allowed; the child was killed.
    Timeout,
    /// The child could not be run, or ended unexpectedly.
    Failed(String),
}

/// Compiles `bytes` into an artifact for `Component::deserialize` in a child
/// process of `exe`, limited to `memory_bytes` of data and `timeout`.
pub fn compile_in_child(
    exe: &Path,
    bytes: &[u8],
    memory_bytes: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ChildError> {
    let mut command = Command::new(exe);
    command
        .arg(CHILD_ARG)
        .arg(memory_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe. The child is killed when this
    // thread ends, so no compiler outlives a service that stops or gives
    // up on it.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|error| ChildError::Failed(format!("cannot run {}: {error}", exe.display())))?;
    let (mut stdin, mut stdout, stderr) = (
        child.stdin.take().expect("piped"),
        child.stdout.take().expect("piped"),
        child.stderr.take().expect("piped"),
    );
    // Each pipe on a thread of its own, so that none fills up and blocks the
    // child; the artifact is complete when stdout closes.
    let input = bytes.to_vec();
    std::thread::spawn(move || stdin.write_all(&input));
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.take(MAX_ERROR_BYTES).read_to_string(&mut text);
        text
    });
    let (done, output) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let mut artifact = Vec::new();
        let _ = done.send(stdout.read_to_end(&mut artifact).map(|_| artifact));
    });
    let artifact = output.recv_timeout(timeout);
    if artifact.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ChildError::Timeout);
    }
    let status = child
        .wait()
        .map_err(|error| ChildError::Failed(format!("cannot wait for the compiler: {error}")))?;
    let errors = errors.join().unwrap_or_default();
    match artifact {
        Ok(Ok(artifact)) if status.success() => Ok(artifact),
        _ if errors.contains("memory allocation of") => Err(ChildError::OutOfMemory),
        _ if status.code() == Some(1) => Err(ChildError::Invalid(errors.trim().to_owned())),
        _ => Err(ChildError::Failed(format!(
            "the compiler ended with {status}: {}",
            errors.trim()
        ))),
    }
}

/// The child's side: limits its data to the size given as argument, then
/// compiles stdin. Exit 1 with wasmtime's message on stderr when the
/// component is invalid.
pub fn child_main(memory_bytes: &str) -> ExitCode {
    let Ok(memory_bytes) = memory_bytes.parse::<u64>() else {
        eprintln!("usage: logproc {CHILD_ARG} MEMORY_BYTES < component.wasm > artifact");
        return ExitCode::from(2);
    };
    // RLIMIT_DATA counts the private writable memory (heap, mmap, thread
    // stacks), not address space merely reserved as RLIMIT_AS would.
    let limit = libc::rlimit {
        rlim_cur: memory_bytes,
        rlim_max: memory_bytes,
    };
    // SAFETY: setrlimit only reads the struct passed.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
        eprintln!(
            "cannot limit the compiler's memory: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::from(3);
    }
    let mut bytes = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("cannot read the component: {error}");
        return ExitCode::from(3);
    }
    let artifact = Engine::new(&super::engine_config()).and_then(|engine| engine.precompile_component(&bytes));
    match artifact {
        Ok(artifact) => match std::io::stdout().write_all(&artifact) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("cannot write the artifact: {error}");
                ExitCode::from(3)
            }
        },
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}
