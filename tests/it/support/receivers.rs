//! Receivers of a run's series: a real Prometheus (Debian's `prometheus`, installed by
//! `.ci/run`) on a free loopback port with its remote-write receiver and a scrape job, and an
//! OTLP/HTTP receiver whose bodies the published OpenTelemetry schema decodes (Python's
//! `opentelemetry-proto`, in the venv `.ci/run` makes).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A port nothing listens on right now (for a server that must be named before it starts).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// GET over plain HTTP/1.0: (status, body).
pub fn http_get(addr: &str, path_and_query: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A Prometheus server, killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts one scraping `scrape` (host:port) every second as job `iris-lab`, with its
    /// remote-write receiver; None (said loudly) where Debian's `prometheus` is not installed.
    pub fn start(scrape: &str) -> Option<Self> {
        if Command::new("prometheus")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!(
                "SKIPPED: `prometheus` is not installed (Debian package `prometheus`; .ci/run installs it)"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: iris-lab\n    static_configs:\n      - targets: ['{scrape}']\n"
            ),
        )
        .expect("write config");
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn prometheus");
        let p = Self {
            child,
            addr,
            _dir: dir,
        };
        let end = Instant::now() + Duration::from_secs(60);
        while http_get(&p.addr, "/-/ready").map(|r| r.0) != Some(200) {
            assert!(Instant::now() < end, "prometheus not ready within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(p)
    }

    pub fn remote_write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// An instant query: each series' labels and value.
    pub fn query(&self, expr: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let url = reqwest::Url::parse_with_params("http://x/api/v1/query", &[("query", expr)])
            .expect("url");
        let data = self.data(&format!("{}?{}", url.path(), url.query().unwrap_or("")));
        data["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|s| {
                let labels = serde_json::from_value(s["metric"].clone()).unwrap_or_default();
                let v = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (labels, v)
            })
            .collect()
    }

    /// A range query over [start, end] (Unix seconds) at `step` seconds: how many series
    /// have points.
    pub fn query_range(&self, expr: &str, start: f64, end: f64, step: f64) -> usize {
        let url = reqwest::Url::parse_with_params(
            "http://x/api/v1/query_range",
            &[
                ("query", expr),
                ("start", &start.to_string()),
                ("end", &end.to_string()),
                ("step", &step.to_string()),
            ],
        )
        .expect("url");
        let data = self.data(&format!("{}?{}", url.path(), url.query().unwrap_or("")));
        data["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|s| s["values"].as_array().is_some_and(|v| !v.is_empty()))
                    .count()
            })
            .unwrap_or(0)
    }

    fn data(&self, path: &str) -> Value {
        let (status, body) = http_get(&self.addr, path).expect("prometheus answers");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{path}: {body}");
        v["data"].clone()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OTLP/HTTP receiver on 127.0.0.1:0: keeps each body POSTed to /v1/metrics, answers 200.
pub struct OtlpReceiver {
    pub url: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl OtlpReceiver {
    pub fn start() -> Self {
        let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let kept = bodies.clone();
        let router = axum::Router::new().route(
            "/v1/metrics",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let kept = kept.clone();
                    async move {
                        let protobuf = headers
                            .get("content-type")
                            .is_some_and(|v| v == "application/x-protobuf");
                        if !protobuf {
                            return axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
                        }
                        kept.lock().unwrap().push(body.to_vec());
                        axum::http::StatusCode::OK
                    }
                },
            ),
        );
        Self {
            url: super::serve::spawn_router(router),
            bodies,
        }
    }

    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().clone()
    }
}

/// The venv's Python with `opentelemetry-proto`; None (said loudly) where it is missing.
pub fn otel_python() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let python = PathBuf::from(home).join(".cache/iris-lab/otel-venv/bin/python");
    let ok = Command::new(&python)
        .args([
            "-c",
            "import opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: no {} with opentelemetry-proto (.ci/run makes that venv)",
            python.display()
        );
        return None;
    }
    Some(python)
}

/// An OTLP body decoded by the published schema (tests/it/support/otlp_decode.py).
pub fn decode_otlp(python: &PathBuf, body: &[u8]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("body.pb");
    std::fs::write(&file, body).expect("write body");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/support/otlp_decode.py"
    );
    let out = Command::new(python)
        .arg(script)
        .arg(&file)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "the published schema did not decode the body: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("decoder's JSON")
}
