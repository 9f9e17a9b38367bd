//! A server too busy to accept connections (issue 8, part 1): requests that wait on a
//! connection the server never served are told apart from requests that time out on a
//! connection it did serve. Real sockets on 127.0.0.1, runs of about a second.

use crate::support;

use std::time::Duration;

use iris_lab::api::Failure;
use iris_lab::pipeline as load;
use iris_lab::record::RunRecord;
use support::{Recorder, options, url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HEALTHY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"status\":\"healthy\"}";

/// Three HighLoadUsers for a second, with a 300 ms timeout.
async fn one_second_of_3_users(host: reqwest::Url) -> RunRecord {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 3, 1.0, "HighLoadUser");
    opts.plan.load.timeout = Duration::from_millis(300);
    load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_in_the_listen_queue_time_out_as_new_connections() {
    // The kernel completes the handshakes (the listen queue holds them); nobody accepts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = url(listener.local_addr().unwrap());
    let r = one_second_of_3_users(host).await;
    drop(listener);
    assert!(r.aggregate.failures >= 3, "{:?}", r.failures);
    assert_eq!(r.aggregate.failures, r.aggregate.requests);
    assert!(
        r.failures
            .iter()
            .all(|f| f.reason == Failure::TimeoutNewConnection),
        "{:?}",
        r.failures
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stalls_accepted_connections_gives_plain_timeouts() {
    // Answers the first request of each connection, then never again.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = url(listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(HEALTHY).await;
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    let r = one_second_of_3_users(host).await;
    assert!(r.aggregate.failures >= 3, "{:?}", r.failures);
    assert!(r.aggregate.requests > r.aggregate.failures);
    // The first request on each connection is answered (a body /predict rejects as
    // incomplete); only later ones time out, and not as new connections.
    let reasons: Vec<&Failure> = r.failures.iter().map(|f| &f.reason).collect();
    assert!(reasons.contains(&&Failure::Timeout), "{reasons:?}");
    assert!(
        !reasons.contains(&&Failure::TimeoutNewConnection),
        "{reasons:?}"
    );
}
