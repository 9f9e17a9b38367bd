//! `iris-lab web` as a child process on 127.0.0.1:0 (or another address), and a small client
//! of its control API.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `iris-lab web --addr ADDR --no-cluster --out-dir DIR/runs --csv DIR/run`, stopped (SIGINT,
/// then kill) on drop.
pub struct WebProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
}

impl WebProcess {
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &["--addr", "127.0.0.1:0"])
    }

    pub fn start_with(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(super::binary())
            .arg("web")
            .args(args)
            .args(["--no-cluster", "--out-dir"])
            .arg(dir.join("runs"))
            .arg("--csv")
            .arg(dir.join("run"))
            .current_dir(dir)
            .env_remove("IRIS_LAB_CONFIG")
            .env_remove("IRIS_LAB_HOST")
            .env_remove("IRIS_LAB_WEB_TOKEN")
            .env("KUBECONFIG", dir.join("no-kubeconfig"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn iris-lab web");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the web line");
        let url = first
            .trim()
            .strip_prefix("web: ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        Self { child, url }
    }

    /// The same URL on 127.0.0.1 (for a server bound to 0.0.0.0).
    pub fn loopback_url(&self) -> String {
        self.url.replace("0.0.0.0", "127.0.0.1")
    }
}

impl Drop for WebProcess {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST {url}swarm` with a form; (status, JSON answer).
pub async fn swarm(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{url}swarm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .send()
        .await
        .expect("POST /swarm");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON answer"))
}

/// `a=1&b=2`, encoded as a browser's form is.
pub fn form_body(form: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form/").expect("url");
    url.query_pairs_mut().extend_pairs(form);
    url.query().unwrap_or_default().to_string()
}

pub async fn get_json(url: &str) -> Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

/// Polls `GET {url}api/state` until `ready` holds (at most `limit`).
pub async fn wait_state(url: &str, limit: Duration, ready: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let state = get_json(&format!("{url}api/state")).await;
        if ready(&state) {
            return state;
        }
        assert!(
            start.elapsed() < limit,
            "state not reached within {limit:?}: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Spawns `command` (a `load ... --web ADDR`, stderr piped by this function) and reads the
/// run's page URL from its stderr; the rest of stderr is drained.
pub fn spawn_with_page(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn iris-lab load --web");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = loop {
        let line = lines.next().expect("the page's line").expect("stderr");
        if let Some(url) = line.strip_prefix("web: the run's page is at ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}
