//! `serve`'s connection limits over real sockets on 127.0.0.1: a silent client, a half-sent
//! head and an idle keep-alive connection are closed on time; a well-behaved client is not
//! disturbed; past the connection cap, new connections wait instead of breaking anything.

use crate::support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iris_lab::server::{Limits, Model};

const HEAD: Duration = Duration::from_millis(300);
const IDLE: Duration = Duration::from_millis(1200);
/// Scheduling slack on a busy 2-core machine: closing may come this much late.
const SLACK: Duration = Duration::from_secs(3);

const REQUEST: &[u8] = b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 82\r\n\r\n{\"sepal_length\": 5.1, \"sepal_width\": 3.5, \"petal_length\": 1.4, \"petal_width\": 0.2}";

fn model() -> Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::train().expect("train")).clone()
}

/// `serve` with `limits` on 127.0.0.1:0 in a runtime of its own; stops when the handle drops.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(limits: Limits) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let model = model();
        let thread = support::on_own_runtime(move || async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            iris_lab::server::serve_with(listener, model, limits, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        // Bounds every read below: a server that never closes fails the test, not hangs it.
        s.set_read_timeout(Some(HEAD + IDLE + SLACK)).unwrap();
        s
    }

    /// Stops the server and returns how long `serve` took to return.
    fn stop(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().expect("running").send(());
        let result = self.thread.take().expect("running").join().expect("join");
        result.expect("serve returned an error");
        started.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn limits(head: Duration, idle: Duration, max_connections: u32) -> Limits {
    Limits {
        head_timeout: head,
        idle_timeout: idle,
        max_connections,
    }
}

/// Reads one whole response (head + Content-Length body); panics on anything else.
fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).expect("read a response");
        assert!(n > 0, "closed before a whole response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// Blocks until the server closes `s` (EOF or reset) and returns how long that took from
/// `since`; panics if data arrives or the read times out instead.
fn wait_for_close(s: &mut TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => since.elapsed(),
        Ok(n) => panic!("data instead of a close: {:?}", &buf[..n]),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => since.elapsed(),
        Err(e) => panic!("still open after {:?}: {e}", since.elapsed()),
    }
}

fn assert_within(elapsed: Duration, limit: Duration) {
    assert!(
        elapsed >= limit.mul_f64(0.9),
        "closed after {elapsed:?}, before the {limit:?} limit"
    );
    assert!(
        elapsed < limit + SLACK,
        "closed after {elapsed:?}, long past the {limit:?} limit"
    );
}

#[test]
fn a_connection_that_never_sends_is_closed_after_the_head_limit() {
    let server = Server::start(limits(HEAD, IDLE, 16));
    let started = Instant::now();
    let mut s = server.connect();
    assert_within(wait_for_close(&mut s, started), HEAD);
}

#[test]
fn a_half_sent_head_is_closed_after_the_head_limit() {
    let server = Server::start(limits(HEAD, IDLE, 16));
    let mut s = server.connect();
    let started = Instant::now();
    s.write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-")
        .unwrap();
    assert_within(wait_for_close(&mut s, started), HEAD);
}

#[test]
fn a_body_sent_halfway_is_closed_after_the_head_limit() {
    let server = Server::start(limits(HEAD, IDLE, 16));
    let mut s = server.connect();
    let (head, body) = REQUEST.split_at(REQUEST.len() - 40);
    s.write_all(head).unwrap();
    let started = Instant::now();
    s.write_all(&body[..1]).unwrap();
    assert_within(wait_for_close(&mut s, started), HEAD);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_limit() {
    let server = Server::start(limits(HEAD, IDLE, 16));
    let mut s = server.connect();
    s.write_all(REQUEST).unwrap();
    assert!(read_response(&mut s).starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    // The idle limit, not the shorter head limit, applies between requests.
    assert_within(wait_for_close(&mut s, answered), IDLE);
}

#[test]
fn the_head_limit_of_a_later_request_counts_from_its_first_byte() {
    let server = Server::start(limits(HEAD, IDLE, 16));
    let mut s = server.connect();
    s.write_all(REQUEST).unwrap();
    assert!(read_response(&mut s).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    s.write_all(b"GET /health HTTP/1.1\r\nho").unwrap();
    // A trickle of bytes does not extend it (slowloris).
    s.write_all(b"s").unwrap();
    let elapsed = wait_for_close(&mut s, started);
    assert_within(elapsed, HEAD);
    assert!(
        elapsed < IDLE,
        "closed after {elapsed:?}: the idle limit applied"
    );
}

#[test]
fn a_well_behaved_client_keeps_its_connection_past_both_limits() {
    let server = Server::start(limits(Duration::from_millis(200), IDLE, 16));
    let mut s = server.connect();
    let started = Instant::now();
    let mut answered = 0;
    // Requests 100 ms apart on one connection, for longer than the head limit.
    while started.elapsed() < Duration::from_millis(700) {
        s.write_all(REQUEST).unwrap();
        let response = read_response(&mut s);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        answered += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answered >= 3, "{answered} answers");
}

#[test]
fn past_the_cap_new_connections_wait_until_one_closes() {
    let long = Duration::from_secs(30);
    let server = Server::start(limits(long, long, 2));
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(REQUEST).unwrap();
            assert!(read_response(&mut s).starts_with("HTTP/1.1 200"));
            s
        })
        .collect();
    // The third connects (the kernel's backlog) but is not served while two are open.
    let mut third = server.connect();
    third.write_all(REQUEST).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let err = third.read(&mut byte).expect_err("served past the cap");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // One closes: the waiting connection is accepted and answered.
    held.pop();
    third.set_read_timeout(Some(SLACK)).unwrap();
    assert!(read_response(&mut third).starts_with("HTTP/1.1 200"));
    assert!(server.stop() < SLACK);
}

#[test]
fn stopping_closes_silent_and_idle_connections_and_finishes() {
    let long = Duration::from_secs(30);
    let server = Server::start(limits(long, long, 16));
    let mut silent = server.connect();
    let mut idle = server.connect();
    idle.write_all(REQUEST).unwrap();
    assert!(read_response(&mut idle).starts_with("HTTP/1.1 200"));
    let took = server.stop();
    assert!(took < SLACK, "serve took {took:?} to stop");
    let now = Instant::now();
    wait_for_close(&mut silent, now);
    wait_for_close(&mut idle, now);
}
