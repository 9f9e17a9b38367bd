//! Waiting on child processes by their state, never by sleeping: an exit within a limit, a line
//! on stderr, the seconds a run has measured.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Kills the process `pid` (SIGKILL), for a child that outlived its limit.
fn kill(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Waits for the child's exit and output (reading its pipes meanwhile); kills it and fails the
/// test when it takes longer than `limit`.
pub fn output_within(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("the child's output"),
        Err(_) => {
            kill(pid);
            panic!("process {pid} did not exit within {limit:?}");
        }
    }
}

/// Waits for the child's exit status; kills it and fails the test after `limit`.
pub fn exit_within(child: Child, limit: Duration) -> ExitStatus {
    output_within(child, limit).status
}

/// A child's stderr, read line by line on a thread as it comes: a test waits for a line, then
/// gets the whole text at the end.
pub struct StderrLines {
    lines: mpsc::Receiver<String>,
    reader: JoinHandle<String>,
}

impl StderrLines {
    /// Takes the child's (piped) stderr.
    pub fn take(child: &mut Child) -> Self {
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        Self { lines, reader }
    }

    /// Waits until a line containing `needle` arrives; fails the test after `limit`.
    pub fn wait_for(&self, needle: &str, limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("no line with {needle:?} on stderr within {limit:?}"),
            }
        }
    }

    /// Everything the child wrote to stderr (after it has exited).
    pub fn text(self) -> String {
        self.reader.join().expect("stderr reader")
    }
}

/// Waits until the run under `dir` (its `iris-lab-runs/*.jsonl` timeline) has measured at least
/// `seconds` seconds, checking the file a few times a second; fails the test after 15 s.
pub fn wait_for_measured_seconds(dir: &Path, seconds: usize) -> PathBuf {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(path) = run_files(dir, "jsonl").pop() {
            let n = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .count();
            if n >= seconds {
                return path;
            }
        }
        assert!(
            Instant::now() < end,
            "the run measured fewer than {seconds} s within 15 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The files with extension `ext` in `dir/iris-lab-runs`, sorted.
pub fn run_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join("iris-lab-runs")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}
