//! Starting and stopping the real service, and reading its API.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a condition may take before a test fails. Generous: the machine
/// may be busy with other tests.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// `logproc`, cut off from the user's own settings and files: no
/// `LOGPROC_` variable of the caller's, an empty plugin directory (not the
/// repository's `./plugins-runtime`) unless a test names one with
/// `--plugin-dir`, and a compile cache in the target directory instead of
/// the user's.
pub fn logproc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_logproc"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LOGPROC_") {
            command.env_remove(name);
        }
    }
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    command
        .env("LOGPROC_PLUGINS__DIR", scratch.join("no-plugins"))
        .env("LOGPROC_PLUGINS__CACHE_DIR", scratch.join("compile-cache"))
        // Test data is of 2025: a restart keeps its minutes (the retention
        // test sets its own).
        .env("LOGPROC_STORAGE__RETENTION", "0");
    command
}

/// Tests that hold on every storage backend: `name => body` makes a module
/// `name` with one test per backend, each calling `body(Dirs::on(backend))`.
macro_rules! on_every_backend {
    ($($name:ident => $body:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sled() {
                super::$body($crate::helpers::Dirs::on("sled"))
            }
            #[test]
            fn sqlite() {
                super::$body($crate::helpers::Dirs::on("sqlite"))
            }
            #[test]
            fn postgres() {
                // None: no PostgreSQL here (a loud skip, or a failure in CI).
                if let Some(dirs) = $crate::helpers::Dirs::on_postgres() {
                    super::$body(dirs)
                }
            }
        }
    )*};
}
pub(crate) use on_every_backend;

/// A data dir and a watch dir under one temporary directory, and the
/// storage backend the service keeps its counts in.
pub struct Dirs {
    pub root: tempfile::TempDir,
    pub backend: &'static str,
    /// The database server of the postgres backend.
    pub postgres: Option<crate::pg::Postgres>,
}

impl Dirs {
    pub fn new() -> Dirs {
        Dirs::on("sled")
    }

    /// Dirs for a service on `backend` (`storage.backend`).
    pub fn on(backend: &'static str) -> Dirs {
        let dirs = Dirs {
            root: tempfile::tempdir().expect("temp dir"),
            backend,
            postgres: None,
        };
        std::fs::create_dir(dirs.watch()).unwrap();
        dirs
    }

    /// Dirs for a service on a PostgreSQL server of its own; `None` when
    /// there is no PostgreSQL here (see [`crate::pg::Postgres::start`]).
    pub fn on_postgres() -> Option<Dirs> {
        let postgres = crate::pg::Postgres::start()?;
        Some(Dirs {
            postgres: Some(postgres),
            ..Dirs::on("postgres")
        })
    }
    /// The watch dir, as the service names it (resolved, absolute).
    pub fn watch(&self) -> PathBuf {
        std::fs::canonicalize(self.root.path()).unwrap().join("logs")
    }
    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }
    pub fn watched(&self, name: &str) -> PathBuf {
        self.watch().join(name)
    }
    /// The service's plugin directory (`--plugin-dir`), created empty.
    pub fn plugin_dir(&self) -> PathBuf {
        let dir = self.root.path().join("plugins-runtime");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// A response as [`App::post_with`] reads it.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// A running `logproc serve`.
pub struct App {
    child: Child,
    pub addr: SocketAddr,
    agent: ureq::Agent,
    /// Every line the service has logged so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl App {
    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `logproc serve` on port 0 over `dirs`, with `extra` arguments,
    /// and waits until it listens.
    pub fn spawn(dirs: &Dirs, extra: &[&str]) -> App {
        let mut command = App::serve_command(dirs, extra);
        command.args(["--listen", "127.0.0.1:0"]);
        App::start(command)
    }

    /// Like [`App::spawn`], but on the address the configuration names.
    pub fn spawn_listening(dirs: &Dirs, extra: &[&str]) -> App {
        App::start(App::serve_command(dirs, extra))
    }

    /// `logproc serve` over `dirs` with `extra` arguments, not started.
    pub fn serve_command(dirs: &Dirs, extra: &[&str]) -> Command {
        let mut command = logproc();
        command
            .env("LOGPROC_STORAGE__BACKEND", dirs.backend)
            .envs(
                dirs.postgres
                    .iter()
                    .map(|postgres| ("LOGPROC_STORAGE__URL", postgres.url())),
            )
            .args(["serve", "--data-dir"])
            .arg(dirs.data())
            .arg("--watch-dir")
            .arg(dirs.watch())
            .arg("--plugin-dir")
            .arg(dirs.plugin_dir())
            .args(extra);
        command
    }

    /// Like [`App::spawn`], but run from `dirs.root` with relative paths.
    pub fn spawn_relative(dirs: &Dirs) -> App {
        let mut command = logproc();
        command.current_dir(dirs.root.path()).args([
            "serve",
            "--data-dir",
            "data",
            "--watch-dir",
            "./logs",
            "--plugin-dir",
            "plugins-runtime",
            "--listen",
            "127.0.0.1:0",
        ]);
        App::start(command)
    }

    pub fn start(mut command: Command) -> App {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start logproc");
        let (lines_tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_writer = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[logproc] {line}");
                log_writer.lock().unwrap().push(line.clone());
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("logproc exited or did not report its address");
            if line.contains("Listening.") {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap();
                break addr.parse().unwrap();
            }
        };
        // No request waits forever: a test fails instead of hanging.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
            .build()
            .into();
        App {
            child,
            addr,
            agent,
            log,
        }
    }

    /// Waits until the service has logged a line containing every one of
    /// `parts`, and returns it.
    pub fn wait_for_log(&self, parts: &[&str]) -> String {
        wait_for(&format!("a log line with {parts:?}"), || {
            let log = self.log.lock().unwrap();
            log.iter()
                .find(|line| parts.iter().all(|part| line.contains(part)))
                .cloned()
        })
    }

    /// How many lines logged so far contain every one of `parts`.
    pub fn log_lines(&self, parts: &[&str]) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|line| parts.iter().all(|part| line.contains(part)))
            .count()
    }

    /// A request to `path` with `method` and, if given, a bearer token:
    /// (status, JSON body).
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut request = ureq::http::Request::builder().method(method).uri(self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let request = request.body(body.to_vec()).unwrap();
        let (status, mut body) = self.call(self.agent.run(request));
        (status, body.read_json().expect("JSON body"))
    }

    /// GET `path`: (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let (status, mut body) = self.call(self.agent.get(self.url(path)).call());
        (status, body.read_json().expect("JSON body"))
    }

    /// GET `path`: (status, body text).
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let (status, mut body) = self.call(self.agent.get(self.url(path)).call());
        (status, body.read_to_string().expect("text body"))
    }

    /// POST `body` to `path`: (status, JSON body).
    pub fn post(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let (status, mut body) = self.call(self.agent.post(self.url(path)).send(body));
        (status, body.read_json().expect("JSON body"))
    }

    /// PUT `body` to `path` with `token` as bearer: (status, JSON body).
    pub fn put(&self, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut request = self.agent.put(self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let (status, mut body) = self.call(request.send(body));
        (status, body.read_json().expect("JSON body"))
    }

    /// DELETE `path` with `token` as bearer: (status, JSON body).
    pub fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.agent.delete(self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let (status, mut body) = self.call(request.call());
        (status, body.read_json().expect("JSON body"))
    }

    /// POST `body` to `path` with `headers`: the whole response, its body
    /// as bytes (shippers' protocols answer in protobuf, or nothing).
    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut request = self.agent.post(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send(body).expect("request");
        let (parts, mut body) = response.into_parts();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.read_to_vec().expect("a body"),
        }
    }

    /// Sends `request` (a whole HTTP/1.1 request, as written) on a new
    /// connection and returns the response as read until the service
    /// closes it.
    pub fn raw(&self, request: &[u8]) -> String {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        stream.write_all(request).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn call(&self, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, ureq::Body) {
        let response = response.expect("request");
        (response.status().as_u16(), response.into_body())
    }

    pub fn stats(&self) -> Value {
        let (status, body) = self.get("/stats");
        assert_eq!(status, 200);
        body
    }

    /// Polls `/stats` until `done` holds, and returns that document.
    pub fn wait_for_stats(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        wait_for(what, || Some(self.stats()).filter(|stats| done(stats)))
    }

    /// Waits until `file` is counted to its end (its checkpoint equals its
    /// size), and returns `/stats` as committed with that checkpoint.
    pub fn wait_until_read(&self, file: &Path) -> Value {
        self.wait_until_offset(file, std::fs::metadata(file).unwrap().len())
    }

    /// Waits until the checkpoint of `file` (found by its device and inode,
    /// whatever its name) is `offset`, and returns `/stats` as committed with it.
    pub fn wait_until_offset(&self, file: &Path, offset: u64) -> Value {
        let identity = file_identity(file);
        wait_for(&format!("{} ({identity}) read to {offset}", file.display()), || {
            let (_, sources) = self.get("/sources");
            let done = sources
                .as_array()?
                .iter()
                .any(|entry| entry["file"] == identity.as_str() && entry["offset"] == offset);
            done.then_some(())
        });
        self.stats()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(self) -> ExitStatus {
        self.signal("TERM")
    }

    /// Sends SIGKILL (a crash) and waits for the process to end.
    pub fn kill(self) -> ExitStatus {
        self.signal("KILL")
    }

    fn signal(mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid)
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns a value, failing the test after [`PATIENCE`].
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Builds the plugin crate in `crate_dir` (relative to the repository) for
/// wasm32-wasip2 with `env` set, and copies its component to `to`. The
/// host's build script uses the same target dir (`plugins/` in the target
/// directory, which CARGO_TARGET_DIR moves), so the SDK is built already.
pub fn build_component(crate_dir: &str, name: &str, env: &[(&str, &str)], to: &Path) {
    // Tests build in parallel, and builds with another `env` overwrite the
    // same output: build and copy in one go.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _building = BUILDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("plugins");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join(crate_dir).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .envs(env.iter().copied())
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {crate_dir} failed");
    std::fs::copy(target_dir.join(format!("wasm32-wasip2/release/{name}.wasm")), to).unwrap();
}

/// How `/sources` names a file: by device and inode.
pub fn file_identity(file: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(file).unwrap();
    format!("file:{}:{}", metadata.dev(), metadata.ino())
}

/// Appends `text` to `path`.
pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// The number after `field` in `/proc/PID/FILE` (`status`, `io`).
pub fn proc_number(pid: u32, file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    let line = text.lines().find(|line| line.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The peak resident memory of `pid`, in kB.
pub fn peak_resident_kb(pid: u32) -> u64 {
    proc_number(pid, "status", "VmHWM:")
}

/// Whether `works` holds, after installing Debian's `package` if it did
/// not (as root, with apt; one install at a time, apt's lists fetched if
/// the install fails without them). When it still does not, a loud skip,
/// or a failure if the environment variable `required_by` is set.
pub fn debian_tool(package: &str, required_by: &str, works: impl Fn() -> bool) -> bool {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if works() {
        return true;
    }
    let install = format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 {package}"
    );
    let _ = Command::new("sh")
        .args(["-c", &format!("{install} || (apt-get update && {install})")])
        .output();
    if works() {
        return true;
    }
    let message = format!("{package} is missing and could not be installed (Debian: apt-get install {package})");
    assert!(
        std::env::var_os(required_by).is_none(),
        "{message} ({required_by} is set)"
    );
    eprintln!("SKIPPED: {message}");
    false
}
