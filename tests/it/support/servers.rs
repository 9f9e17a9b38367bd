//! Servers for the load tests, all on 127.0.0.1 port 0: the reference API in-process, a fake
//! API that counts connections and can misbehave, and raw TCP servers that drop or stall.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use iris_lab::loadgen::UserClass;
use iris_lab::pipeline::{Monitor, RunPlan, RunSite};
use iris_lab::stats::Snapshot;
use iris_lab::units::Wait;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

pub const PREDICT_OK: &str = r#"{"predicted_species": "setosa", "prediction_probability": 0.9791, "inference_time": "0.0012s", "total_time": "0.0030s"}"#;
pub const PREDICT_MISSING: &str = r#"{"predicted_species": "setosa", "prediction_probability": 0.9791, "inference_time": "0.0012s"}"#;

/// The reference API, in this process.
pub async fn reference_api() -> reqwest::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let model = iris_lab::server::Model::train().unwrap();
    tokio::spawn(iris_lab::server::serve(
        listener,
        model,
        std::future::pending(),
    ));
    url(addr)
}

pub fn url(addr: SocketAddr) -> reqwest::Url {
    format!("http://{addr}").parse().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Healthy,
    /// Every 10th request gets a 500.
    TenPercent500,
    /// `/predict` answers without `total_time`.
    MissingField,
    /// Every response takes this many milliseconds.
    Slow(u64),
    /// From request number `after` on, the server stalls once for `ms` milliseconds: every
    /// request it has or gets during that time is answered when the stall ends.
    StallOnce {
        after: u64,
        ms: u64,
    },
}

/// What the fake API saw: the paths each connection (peer address) carried, in order.
#[derive(Default)]
pub struct Seen {
    pub by_connection: Mutex<HashMap<SocketAddr, Vec<String>>>,
    pub requests: AtomicU64,
    /// Responses written in full.
    pub answered: AtomicU64,
    /// When the `StallOnce` stall ends, once it began.
    pub stall_until: Mutex<Option<tokio::time::Instant>>,
    pub traceparents: Mutex<Vec<String>>,
}

impl Seen {
    pub fn connections(&self) -> usize {
        self.by_connection.lock().unwrap().len()
    }
}

struct FakeState {
    mode: Mode,
    seen: Arc<Seen>,
}

async fn fake(
    State(state): State<Arc<FakeState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> Response {
    let n = state.seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    state
        .seen
        .by_connection
        .lock()
        .unwrap()
        .entry(peer)
        .or_default()
        .push(uri.path().to_string());
    if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        let mut t = state.seen.traceparents.lock().unwrap();
        if t.len() < 1000 {
            t.push(tp.to_string());
        }
    }
    match state.mode {
        Mode::Slow(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Mode::StallOnce { after, ms } => {
            let until = {
                let mut until = state.seen.stall_until.lock().unwrap();
                if n == after {
                    *until = Some(tokio::time::Instant::now() + Duration::from_millis(ms));
                }
                *until
            };
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
        }
        _ => {}
    }
    state.seen.answered.fetch_add(1, Ordering::SeqCst);
    if state.mode == Mode::TenPercent500 && n % 10 == 0 {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"detail": "Prediction failed: boom"}"#,
        )
            .into_response();
    }
    let json = |body: &'static str| ([("content-type", "application/json")], body).into_response();
    match uri.path() {
        "/health" => json(
            r#"{"status": "healthy", "timestamp": 1.0, "model_loaded": true, "model_test_time": "0.0010s"}"#,
        ),
        "/predict" if state.mode == Mode::MissingField => json(PREDICT_MISSING),
        "/predict" => json(PREDICT_OK),
        "/" => json(r#"{"message": "hi", "version": "2.0.0", "status": "running"}"#),
        _ => "<html>docs</html>".into_response(),
    }
}

pub async fn fake_api(mode: Mode) -> (reqwest::Url, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .fallback(any(fake))
        .with_state(Arc::new(FakeState {
            mode,
            seen: seen.clone(),
        }));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    (url(addr), seen)
}

/// Accepts connections, reads the request, then closes without answering.
pub async fn dropping_server() -> reqwest::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await;
            });
        }
    });
    url(addr)
}

/// Accepts connections and never answers (for at most 60 s).
pub async fn stalling_server() -> reqwest::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(60), async {
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await;
            });
        }
    });
    url(addr)
}

/// An in-process run: its plan and its site.
pub struct TestRun {
    pub plan: RunPlan,
    pub site: RunSite,
}

/// An in-process run: short, fast, into a temp dir, no signals caught, no cluster.
pub fn options(
    host: reqwest::Url,
    out: &std::path::Path,
    users: u32,
    secs: f64,
    class: &str,
) -> TestRun {
    let plan = RunPlan::builder(UserClass::builtin(class).unwrap())
        .users(users)
        .spawn_rate(10_000.0)
        .duration(Duration::from_secs_f64(secs))
        .timeout(Duration::from_secs(5))
        .trace_sample(0.0)
        .out_dir(out)
        .build()
        .unwrap();
    let site = RunSite {
        signals: false,
        ..RunSite::new(host)
    };
    TestRun { plan, site }
}

pub fn wait(min: f64, max: f64) -> Wait {
    Wait::new(min, max).unwrap()
}

/// A monitor that keeps the snapshots it got.
#[derive(Default)]
pub struct Recorder {
    pub snapshots: Vec<Snapshot>,
}

impl Monitor for Recorder {
    fn update(&mut self, s: &Snapshot) {
        self.snapshots.push(s.clone());
    }
    fn interrupted(&mut self) {}
    fn finish(&mut self) {}
}

/// How a [`misbehaving_server`] is slow, in one phase of each request.
#[derive(Debug, Clone, Copy)]
pub enum Misbehaviour {
    /// Leaves each connection in the accept queue this long: the client's connect is fast
    /// (the kernel completes it), its wait for the first byte is long.
    AcceptLate(Duration),
    /// Reads the request, waits this long, then sends the head in two pieces.
    SlowHead(Duration),
    /// Sends the head at once, then the body in 4 pieces over this long.
    TricklingBody(Duration),
}

/// A raw HTTP/1.1 server answering every request with `200 {"ok": true}` and closing the
/// connection (each request opens a new one), slow in the way `how` says.
pub async fn misbehaving_server(how: Misbehaviour) -> reqwest::Url {
    use tokio::io::AsyncWriteExt;
    const BODY: &[u8] = br#"{"ok": true, "x": 1}"#;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            if let Misbehaviour::AcceptLate(delay) = how {
                tokio::time::sleep(delay).await;
            }
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    BODY.len()
                );
                let (a, b) = head.as_bytes().split_at(10);
                if let Misbehaviour::SlowHead(delay) = how {
                    tokio::time::sleep(delay).await;
                }
                let _ = socket.write_all(a).await;
                let _ = socket.flush().await;
                let _ = socket.write_all(b).await;
                let _ = socket.flush().await;
                match how {
                    Misbehaviour::TricklingBody(delay) => {
                        for piece in BODY.chunks(BODY.len().div_ceil(4)) {
                            tokio::time::sleep(delay / 4).await;
                            let _ = socket.write_all(piece).await;
                            let _ = socket.flush().await;
                        }
                    }
                    _ => {
                        let _ = socket.write_all(BODY).await;
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    url(addr)
}
