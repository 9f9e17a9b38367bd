//! One receiver's queue and task: bounded, so a slow, failing or absent receiver costs the
//! run nothing but the seconds it misses (counted, and stated in the record).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::series::Exposition;
use super::target::{ExportHeader, ExportTarget, Protocol};
use super::{otlp, remote_write};
use iris_record::export::ReceiverRecord;

/// Seconds a queue holds: a receiver a minute behind loses seconds, never the run's time.
pub const QUEUE: usize = 60;
/// Time limit of one request to a receiver.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries of one second on 5xx, 429 or a network error, with backoff from `FIRST_BACKOFF`.
const TRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Counts {
    seconds: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// The sequence number of the last second delivered (1-based; 0: none).
    last_delivered: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A receiver's end of the run: offered each second, closed at the end.
pub struct Pusher {
    target: ExportTarget,
    tx: mpsc::Sender<(u64, Arc<Exposition>)>,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// 5xx, 429 or no answer: worth another try.
    Retry(String),
    /// Any other 4xx: the receiver will not take it.
    Refused(String),
}

impl Pusher {
    /// Starts the receiver's task on the current runtime.
    pub fn start(target: ExportTarget, headers: &[ExportHeader]) -> Result<Self, String> {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers.iter().flat_map(|h| &h.headers) {
            map.append(name.clone(), value.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .default_headers(map)
            .build()
            .map_err(|e| format!("cannot set up the exporter's HTTP client: {e}"))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(send_all(client, target.clone(), rx, counts.clone()));
        Ok(Self {
            target,
            tx,
            counts,
            task,
        })
    }

    /// Queues a second; a full queue drops it (counted). Never waits.
    pub fn offer(&self, exposition: Arc<Exposition>) {
        let n = self.counts.seconds.fetch_add(1, Ordering::Relaxed) + 1;
        if self.tx.try_send((n, exposition)).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lets the queue drain for at most `deadline`; what is left is undelivered.
    pub async fn close(self, deadline: Duration) -> ReceiverRecord {
        let Self {
            target,
            tx,
            counts,
            mut task,
        } = self;
        drop(tx);
        if tokio::time::timeout(deadline, &mut task).await.is_err() {
            task.abort();
        }
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let seconds = get(&counts.seconds);
        let (delivered, dropped, failed) = (
            get(&counts.delivered),
            get(&counts.dropped),
            get(&counts.failed),
        );
        ReceiverRecord {
            protocol: target.protocol.name().to_string(),
            endpoint: target.shown(),
            seconds,
            delivered,
            dropped,
            failed,
            undelivered: seconds.saturating_sub(delivered + dropped + failed),
            last_delivered: seconds > 0 && get(&counts.last_delivered) == seconds,
            last_error: counts
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

async fn send_all(
    client: reqwest::Client,
    target: ExportTarget,
    mut rx: mpsc::Receiver<(u64, Arc<Exposition>)>,
    counts: Arc<Counts>,
) {
    let url = target.endpoint();
    while let Some((n, exposition)) = rx.recv().await {
        let body = match target.protocol {
            Protocol::PrometheusRw => remote_write::body(&exposition),
            Protocol::Otlp => otlp::body(&exposition),
        };
        let mut backoff = FIRST_BACKOFF;
        let mut error = None;
        for attempt in 1..=TRIES {
            match post(&client, target.protocol, &url, body.clone()).await {
                Attempt::Delivered => {
                    error = None;
                    counts.delivered.fetch_add(1, Ordering::Relaxed);
                    counts.last_delivered.store(n, Ordering::Relaxed);
                    break;
                }
                Attempt::Refused(e) => {
                    error = Some(e);
                    break;
                }
                Attempt::Retry(e) => {
                    error = Some(e);
                    if attempt < TRIES {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                }
            }
        }
        if let Some(e) = error {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            *counts.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    }
}

async fn post(
    client: &reqwest::Client,
    protocol: Protocol,
    url: &reqwest::Url,
    body: Vec<u8>,
) -> Attempt {
    let request = client.post(url.clone()).body(body);
    let request = match protocol {
        Protocol::PrometheusRw => request
            .header(http::header::CONTENT_TYPE, remote_write::CONTENT_TYPE)
            .header(
                http::header::CONTENT_ENCODING,
                remote_write::CONTENT_ENCODING,
            )
            .header(remote_write::VERSION_HEADER, remote_write::VERSION),
        Protocol::Otlp => request.header(http::header::CONTENT_TYPE, otlp::CONTENT_TYPE),
    };
    match request.send().await {
        Ok(r) if r.status().is_success() => Attempt::Delivered,
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let said = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>();
            let e = format!(
                "HTTP {}{}",
                status.as_u16(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            );
            if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
                Attempt::Retry(e)
            } else {
                Attempt::Refused(e)
            }
        }
        // reqwest's error names the URL: ours has no credentials in the shown form only, so
        // say the kind of failure, not the error's text.
        Err(e) => Attempt::Retry(network_failure(&e)),
    }
}

fn network_failure(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "the request failed".into()
    }
}
