//! The real binary as a child process: started with chosen flags (and, when asked, a lowered
//! open-file limit), its JSON logs read back, stopped with SIGTERM, killed when dropped.
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Binary {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Binary {
    /// `serve` with `args`, plus `--log-format json` and `--listen 127.0.0.1:0` unless `args`
    /// set them; `open_files` lowers
    /// RLIMIT_NOFILE (soft and hard) for the child only.
    pub fn start(args: &[&str], open_files: Option<u64>) -> Binary {
        Self::start_with_env(args, &[], open_files)
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)], open_files: Option<u64>) -> Binary {
        let dir = tempfile::tempdir().expect("temp dir");
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_clientstatus"));
        command
            .arg("serve")
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        if !args.contains(&"--log-format") {
            command.args(["--log-format", "json"]);
        }
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        if let Some(limit) = open_files {
            let limit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Binary {
            child: command.spawn().expect("start the binary"),
            stdout,
            stderr,
            _dir: dir,
        }
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The JSON log lines so far.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits (up to 20 s) for a log line whose message is `message`.
    pub async fn wait_for_log(&self, message: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self
                .logs()
                .into_iter()
                .find(|l| l["fields"]["message"] == message)
            {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no {message:?} log line; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where the server listens for gRPC, from its "clientstatus listening" line.
    pub async fn addr(&self) -> SocketAddr {
        let line = self.wait_for_log("clientstatus listening").await;
        line["fields"]["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line}"))
    }

    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// The exit status, waiting up to `within`.
    pub async fn exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A tokens file with one `manager` token, `s3cret`, for `principal`.
pub fn tokens_file(dir: &std::path::Path, principal: &str) -> PathBuf {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(b"s3cret")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join("tokens.toml");
    std::fs::write(
        &path,
        format!(
            "[[tokens]]\nprincipal = \"{principal}\"\nroles = [\"manager\"]\nsha256 = \"{hash}\"\n"
        ),
    )
    .expect("tokens");
    path
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
