//! Second processes: a worker test of this executable, or any program (the
//! C samples), run with a time limit and their output kept for the failure
//! message.

use std::fs::File;
use std::io::{Read, Seek};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A generous bound for a worker, so a hang is a failure, not a stuck CI job.
pub const WORKER_LIMIT: Duration = Duration::from_secs(300);

/// A running child process whose stdout and stderr go to files (never to
/// pipes, which a chatty child could fill while nobody reads them).
pub struct ChildProcess {
    name: String,
    child: Child,
    stdout: File,
    stderr: File,
}

/// How a [`ChildProcess`] ended.
pub struct Finished {
    /// The exit status, or `None` when it was killed after the limit.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }
}

impl ChildProcess {
    /// Starts `command`, named `name` in messages. The child keeps a log of
    /// its own: it does not inherit this process's `AZCLOUDHSM_LOG_FILE`
    /// and `AZCLOUDHSM_LOG`.
    pub fn spawn(name: &str, command: &mut Command) -> ChildProcess {
        let stdout = tempfile::tempfile().expect("a file for the child's stdout");
        let stderr = tempfile::tempfile().expect("a file for the child's stderr");
        let child = command
            .env_remove("AZCLOUDHSM_LOG_FILE")
            .env_remove("AZCLOUDHSM_LOG")
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().expect("clone the stdout file"))
            .stderr(stderr.try_clone().expect("clone the stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        ChildProcess {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    /// Kills the child with SIGKILL now and waits for it; `status` then
    /// shows the signal (no exit code) unless it had exited already.
    pub fn kill_and_wait(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for the killed child");
        Finished {
            status: Some(status),
            stdout: read_all(&mut self.stdout),
            stderr: read_all(&mut self.stderr),
        }
    }

    /// Waits for the child, killing it once it has run longer than `limit`.
    pub fn wait(mut self, limit: Duration) -> Finished {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Finished {
            status,
            stdout: read_all(&mut self.stdout),
            stderr: read_all(&mut self.stderr),
        }
    }
}

fn read_all(file: &mut File) -> String {
    let mut bytes = Vec::new();
    file.rewind().expect("rewind the output file");
    file.read_to_end(&mut bytes).expect("read the output file");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs this test executable again as a child process running only the
/// worker test `name` (an `#[ignore]`d test, hence `--include-ignored`),
/// with `env` set.
pub fn spawn_worker(name: &str, env: &[(&str, String)]) -> ChildProcess {
    let exe = std::env::current_exe().expect("the test executable");
    let mut command = Command::new(exe);
    command.args([
        "--exact",
        name,
        "--nocapture",
        "--include-ignored",
        "--test-threads=1",
    ]);
    for (key, value) in env {
        command.env(key, value);
    }
    ChildProcess::spawn(name, &mut command)
}

/// Waits for a worker and returns its stdout. Panics with the worker's
/// output when it fails, runs longer than `limit`, or did not run at all.
pub fn wait_worker(worker: ChildProcess, limit: Duration) -> String {
    let name = worker.name.clone();
    let finished = worker.wait(limit);
    let output = format!("{}{}", finished.stdout, finished.stderr);
    match finished.status {
        None => panic!("worker {name} ran longer than {limit:?}:\n{output}"),
        Some(status) => assert!(
            status.success(),
            "worker {name} failed ({status}):\n{output}"
        ),
    }
    // The harness prints "running 1 test" / "1 passed": make sure the worker ran.
    assert!(
        finished.stdout.contains("1 passed"),
        "worker {name} did not run:\n{output}"
    );
    finished.stdout
}

/// [`spawn_worker`] then [`wait_worker`].
pub fn run_worker(name: &str, env: &[(&str, String)], limit: Duration) -> String {
    wait_worker(spawn_worker(name, env), limit)
}

/// The value of a worker's environment variable; a worker run without it
/// (for example by `cargo test -- --include-ignored`) fails loudly.
pub fn worker_env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!("this test is a worker of a two-process test and needs {key}; do not run ignored tests directly")
    })
}
