//! Our reference server on port 0, as a process or in-process, and tiny misbehaving servers
//! for `smoke`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `iris-lab serve --addr 127.0.0.1:0` as a child process, killed on drop.
pub struct ServeProcess {
    pub child: Child,
    pub url: String,
    pub addr: SocketAddr,
}

impl ServeProcess {
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// With more `serve` flags and environment variables (e.g. `IRIS_LAB_CONFIG`).
    pub fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(super::binary())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("IRIS_LAB_CONFIG")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn iris-lab serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the listening line");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .expect("address in the listening line");
        Self { child, url, addr }
    }

    /// Sends a signal (`libc::SIGINT`, ...) and waits (bounded) for the exit status.
    pub fn signal_and_wait(&mut self, signal: i32) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill failed");
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not exit within 5 s of signal {signal}");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an axum router on 127.0.0.1:0 in a background runtime; returns its base URL.
/// The runtime lives until the test process ends.
pub fn spawn_router(router: axum::Router) -> String {
    spawn_serving(|listener| async move { axum::serve(listener, router).await.expect("serve") })
}

/// The reference API in-process on 127.0.0.1:0, served as `serve` serves it.
pub fn spawn_reference_api() -> String {
    let model = iris_lab::server::Model::train().expect("train");
    spawn_serving(|listener| async move {
        iris_lab::server::serve(listener, model, std::future::pending())
            .await
            .expect("serve")
    })
}

/// Runs `serve` on a listener bound to 127.0.0.1:0 in a background runtime that lives until
/// the test process ends; returns the base URL.
fn spawn_serving<F, Fut>(serve: F) -> String
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    on_own_runtime(move || async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        tx.send(listener.local_addr().expect("addr"))
            .expect("send addr");
        serve(listener).await;
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server start");
    format!("http://{addr}")
}

/// Runs `task` on a new thread, on a one-worker runtime of its own.
pub fn on_own_runtime<T, F, Fut>(task: F) -> std::thread::JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(task())
    })
}

/// A server that accepts connections and never answers; returns its base URL.
pub fn spawn_silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        // Bounded: at most 64 connections are held, then the thread ends.
        for stream in listener.incoming().take(64) {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
    });
    format!("http://{addr}")
}

/// A loopback port with nothing listening on it.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}
