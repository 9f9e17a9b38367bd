//! `serve` on port 0 as a process, then `smoke` against it as a process.

use crate::support;

use assert_cmd::Command;
use predicates::prelude::*;
use support::ServeProcess;

fn iris_lab() -> Command {
    let mut cmd = support::command();
    cmd.env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_FORMAT")
        .env_remove("IRIS_LAB_CONFIG")
        .timeout(std::time::Duration::from_secs(30));
    cmd
}

#[test]
fn smoke_passes_every_check_against_serve() {
    let server = ServeProcess::start();
    iris_lab()
        .args(["smoke", "--host", &server.url])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("GET /"))
        .stdout(predicate::str::contains("GET /health"))
        .stdout(predicate::str::contains("POST /predict"))
        .stdout(predicate::str::contains("version 2.0.0"))
        .stdout(predicate::str::contains("setosa"))
        .stdout(predicate::str::contains("3/3 checks passed"));
}

#[test]
fn smoke_json_lists_every_check() {
    let server = ServeProcess::start();
    let out = iris_lab()
        .args(["--format", "json", "smoke"])
        .env("IRIS_LAB_HOST", &server.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], true);
    let endpoints: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["GET /", "GET /health", "POST /predict"]);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == 200)
    );
}

#[test]
fn serve_logs_its_held_out_accuracy() {
    let mut server = ServeProcess::start();
    let status = server.signal_and_wait(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("held-out accuracy 0.9"), "{stderr}");
}

#[test]
fn serve_exits_0_on_sigterm_after_finishing_requests() {
    let mut server = ServeProcess::start();
    // A keep-alive connection with a request answered before the signal...
    let mut conn = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = std::io::Read::read(&mut conn, &mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // ...does not keep the server from stopping.
    let status = server.signal_and_wait(libc::SIGTERM);
    assert_eq!(status.code(), Some(0));
    assert!(std::net::TcpStream::connect(server.addr).is_err());
}

#[test]
fn serve_reports_a_taken_address() {
    let server = ServeProcess::start();
    iris_lab()
        .args(["serve", "--addr", &server.addr.to_string()])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: could not listen on"))
        .stderr(predicate::str::contains("in use"));
}

/// Reads until the server closes the connection; how long that took. Bounded by a read timeout.
fn wait_for_close(conn: &mut std::net::TcpStream) -> std::time::Duration {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match std::io::Read::read(conn, &mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
}

#[test]
fn serve_takes_its_limits_from_flags() {
    let server = ServeProcess::start_with(&["--idle-timeout", "300ms"], &[]);
    let mut conn = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut conn, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    // The response, then the close once the connection has been idle for 300 ms.
    let elapsed = wait_for_close(&mut conn);
    assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn serve_takes_its_limits_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("iris-lab.yaml");
    std::fs::write(
        &config,
        "serve:\n  head_timeout: 300ms\n  max_connections: 3\n",
    )
    .unwrap();
    let mut server =
        ServeProcess::start_with(&[], &[("IRIS_LAB_CONFIG", config.to_str().unwrap())]);
    // A connection that never sends is closed once the head limit passes.
    let mut conn = std::net::TcpStream::connect(server.addr).unwrap();
    let elapsed = wait_for_close(&mut conn);
    assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(server.signal_and_wait(libc::SIGINT).code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("limits: request head 300ms, keep-alive idle 5s, at most 3 connections"),
        "{stderr}"
    );
}
