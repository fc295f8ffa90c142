//! A throwaway PostgreSQL server per test: a copy of a cluster made once
//! with `initdb` (kept in the target directory), started on a free loopback
//! port, stopped when dropped. PostgreSQL refuses to run as root, so as
//! root it runs as the `postgres` system user.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::helpers::PATIENCE;

/// The password of the cluster's `logproc` user (a space, so that URLs
/// must encode it).
const PASSWORD: &str = "test pw";

/// Set (by `.ci/run`) to make a missing PostgreSQL a failure, not a skip.
const REQUIRED: &str = "REQUIRE_POSTGRES_TESTS";

/// A running server, stopped when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    port: u16,
    server: Option<Child>,
}

impl Postgres {
    /// A new server, or `None` (after saying so loudly) when this machine
    /// has no PostgreSQL and [`REQUIRED`] is unset.
    pub fn start() -> Option<Postgres> {
        let template = match template() {
            Ok(template) => template,
            Err(why) if std::env::var_os(REQUIRED).is_some() => panic!("{REQUIRED} is set, but {why}"),
            Err(why) => {
                eprintln!(
                    "\n*** SKIPPED: a PostgreSQL test ({why}). Install PostgreSQL's server (Debian: apt-get install postgresql) to run it. ***\n"
                );
                return None;
            }
        };
        let dir = tempfile::Builder::new().prefix("logproc-pg-").tempdir().unwrap();
        let data = dir.path().join("data");
        run(Command::new("cp").arg("-a").arg(&template.data).arg(&data));
        if let Some((uid, gid)) = template.owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut postgres = Postgres {
            dir,
            bin: template.bin.clone(),
            owner: template.owner,
            port: free_port(),
            server: None,
        };
        postgres.resume();
        Some(postgres)
    }

    /// The URL of the test database.
    pub fn url(&self) -> String {
        format!(
            "postgres://logproc:{}@127.0.0.1:{}/logproc",
            PASSWORD.replace(' ', "%20"),
            self.port
        )
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (a fast shutdown: open connections are cut).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SAFETY: signals a child this struct started and has not reaped.
            unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
            server.wait().unwrap();
        }
    }

    /// Starts the stopped server again, on the same port, and waits until
    /// it takes connections.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "the server runs already");
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            // A test kills logproc, never the machine: the server's own
            // durability is not under test, and fsync makes it slow.
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl in the child before exec; the server dies with the
        // test's thread even if the test aborts without dropping this.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.server = Some(command.spawn().expect("start postgres"));
        let deadline = Instant::now() + PATIENCE;
        while !self.ready() {
            assert!(Instant::now() < deadline, "postgres did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `sql` with `psql` (a real client), returning its unaligned,
    /// tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let output = self
            .command("psql")
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", &self.url(), "-c", sql])
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "psql failed on {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn ready(&self) -> bool {
        self.command("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .status()
            .is_ok_and(|status| status.success())
    }

    /// A PostgreSQL program, run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        command_as(&self.bin.join(program), self.owner)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cluster made by `initdb`, copied for each server.
struct Template {
    data: PathBuf,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
}

/// The template cluster, made once per machine (and PostgreSQL version).
fn template() -> Result<&'static Template, String> {
    static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
    TEMPLATE.get_or_init(make_template).as_ref().map_err(Clone::clone)
}

fn make_template() -> Result<Template, String> {
    let bin = server_bin().ok_or("no PostgreSQL server binaries (initdb, postgres) were found")?;
    // SAFETY: geteuid has no preconditions.
    let owner = match unsafe { libc::geteuid() } {
        0 => Some(system_user("postgres").ok_or("running as root, and there is no `postgres` user to run the server")?),
        _ => None,
    };
    let version = bin
        .parent()
        .and_then(Path::file_name)
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let data = scratch.join(format!("postgres-template-{version}"));
    if data.join("PG_VERSION").exists() {
        return Ok(Template { data, bin, owner });
    }
    // initdb writes into a directory the owner can reach: a temp one.
    let work = tempfile::Builder::new().prefix("logproc-initdb-").tempdir().unwrap();
    let password_file = work.path().join("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(work.path(), Some(uid), Some(gid)).unwrap();
        std::os::unix::fs::chown(&password_file, Some(uid), Some(gid)).unwrap();
    }
    let made = work.path().join("data");
    let status = command_as(&bin.join("initdb"), owner)
        .arg("-D")
        .arg(&made)
        .args([
            "-U",
            "logproc",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", password_file.display()))
        .stdout(Stdio::null())
        .status()
        .map_err(|error| format!("initdb: {error}"))?;
    if !status.success() {
        return Err(format!("initdb failed: {status}"));
    }
    // The test database, made in single-user mode (no server to start).
    let mut single = command_as(&bin.join("postgres"), owner)
        .args(["--single", "-D"])
        .arg(&made)
        .arg("postgres")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("postgres --single: {error}"))?;
    use std::io::Write as _;
    single
        .stdin
        .take()
        .unwrap()
        .write_all(b"CREATE DATABASE logproc;\n")
        .unwrap();
    let status = single.wait().unwrap();
    if !status.success() {
        return Err(format!("creating the test database failed: {status}"));
    }
    let partial = scratch.join(format!("postgres-template-{version}.{}", std::process::id()));
    run(Command::new("cp").arg("-a").arg(&made).arg(&partial));
    std::fs::rename(&partial, &data)
        .or_else(|_| std::fs::remove_dir_all(&partial))
        .unwrap();
    Ok(Template { data, bin, owner })
}

/// The newest PostgreSQL's server binaries: Debian's
/// /usr/lib/postgresql/N/bin, or the directory of `initdb` on the PATH.
fn server_bin() -> Option<PathBuf> {
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    debian.sort();
    debian.pop().map(|(_, bin)| bin).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
    })
}

/// The uid and gid of the user `name`.
fn system_user(name: &str) -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; it is
    // read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    // SAFETY: checked non-null above.
    (!entry.is_null()).then(|| unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}

fn command_as(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(program);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    // A directory the owner may enter (the test's may be root's).
    command.current_dir("/tmp");
    command
}

fn run(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?}: {status}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
