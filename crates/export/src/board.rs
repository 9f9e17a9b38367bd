//! The latest exposition of each run in this process, for `GET /metrics`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::series::Exposition;
use super::text;

/// Runs kept for scrapes: a page's runs beyond these are gone from /metrics (their records
/// stay).
const RUNS_KEPT: usize = 16;

#[derive(Default)]
struct Inner {
    runs: VecDeque<Arc<Exposition>>,
    /// Publications so far, and the publication the last scrape served.
    published: u64,
    scraped: Option<u64>,
    last_scrape: Option<Instant>,
    scrape_interval: Option<Duration>,
}

/// Shared by the exporter (publish, each second) and the server (scrape).
#[derive(Default)]
pub struct Board {
    inner: Mutex<Inner>,
    scraped: Notify,
}

impl Board {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's values as of its last closed second replace its earlier ones.
    pub fn publish(&self, exposition: Arc<Exposition>) {
        let mut inner = self.lock();
        let run_id = exposition.run_id();
        inner.runs.retain(|e| e.run_id() != run_id);
        inner.runs.push_back(exposition);
        while inner.runs.len() > RUNS_KEPT {
            inner.runs.pop_front();
        }
        inner.published += 1;
    }

    /// The scrape's content type and body, in the format `accept` asks for.
    pub fn scrape(&self, accept: Option<&str>) -> (&'static str, String) {
        let runs: Vec<Arc<Exposition>> = {
            let mut inner = self.lock();
            let now = Instant::now();
            inner.scrape_interval = inner.last_scrape.map(|t| now - t);
            inner.last_scrape = Some(now);
            inner.scraped = Some(inner.published);
            inner.runs.iter().cloned().collect()
        };
        self.scraped.notify_waiters();
        if text::wants_openmetrics(accept) {
            (
                text::OPENMETRICS_CONTENT_TYPE,
                text::encode_openmetrics(&runs),
            )
        } else {
            (text::TEXT_CONTENT_TYPE, text::encode_text(&runs))
        }
    }

    /// After a run: when someone scrapes, waits until it scraped the final values once (at
    /// most twice its interval, and `cap`). Says whether they were scraped (None: nobody
    /// scraped during the run).
    pub async fn wait_final_scrape(&self, cap: Duration) -> Option<bool> {
        let (interval, target) = {
            let inner = self.lock();
            inner.last_scrape?;
            (
                inner.scrape_interval.unwrap_or(Duration::from_secs(1)),
                inner.published,
            )
        };
        let wait = (interval * 2).clamp(Duration::from_secs(1), cap);
        let done = async {
            loop {
                let notified = self.scraped.notified();
                if self.lock().scraped >= Some(target) {
                    return;
                }
                notified.await;
            }
        };
        Some(tokio::time::timeout(wait, done).await.is_ok())
    }
}
