//! Phase 1.3: one call to each endpoint, judged against the contract (the engine of `smoke`).

use std::time::Duration;

use serde::Serialize;

use crate::{ApiClient, Exchange, TransportError};
use iris_api::checks::{check_health, check_predict, check_root};
use iris_api::{Failure, Features};

/// The default time limit of each smoke request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One row of the smoke table.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeCheck {
    /// `GET /`, `GET /health`, `POST /predict`.
    pub endpoint: String,
    /// HTTP status, absent when no response came.
    pub status: Option<u16>,
    pub latency_ms: f64,
    pub passed: bool,
    /// On success what was seen; on failure what was wrong.
    pub detail: String,
    /// No answer came within the timeout.
    #[serde(skip)]
    pub timed_out: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SmokeReport {
    pub host: String,
    pub passed: bool,
    pub checks: Vec<SmokeCheck>,
}

/// Runs the three checks in the guide's order and returns every row, pass or fail.
pub async fn run(client: &ApiClient) -> SmokeReport {
    let root = judge("GET /", client.get("/").await, |x| {
        check_root(x.status, &x.body).map(|r| format!("version {} ({})", r.version, r.status))
    });
    // A host that let the first request time out would let the others time out too: say so
    // rather than wait as long again twice.
    if root.timed_out {
        let skipped = |endpoint: &str| SmokeCheck {
            endpoint: endpoint.to_string(),
            status: None,
            latency_ms: 0.0,
            passed: false,
            detail: "not tried: the host did not answer GET /".into(),
            timed_out: false,
        };
        let checks = vec![root, skipped("GET /health"), skipped("POST /predict")];
        return SmokeReport {
            host: client.base().to_string(),
            passed: false,
            checks,
        };
    }
    let health = judge("GET /health", client.get("/health").await, |x| {
        check_health(x.status, &x.body)
            .map(|h| format!("{}, model_test_time {}", h.status, h.model_test_time))
    });
    let sample = Features::GUIDE_SAMPLE;
    let predict = judge(
        "POST /predict",
        client.post_json("/predict", &sample).await,
        |x| {
            check_predict(x.status, &x.body).map(|p| {
                format!(
                    "{} (p={}), inference_time {}, total_time {}",
                    p.predicted_species, p.prediction_probability, p.inference_time, p.total_time
                )
            })
        },
    );
    let checks = vec![root, health, predict];
    SmokeReport {
        host: client.base().to_string(),
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

fn judge(
    endpoint: &str,
    result: Result<Exchange, TransportError>,
    check: impl FnOnce(&Exchange) -> Result<String, Failure>,
) -> SmokeCheck {
    match result {
        Ok(exchange) => {
            let verdict = check(&exchange);
            SmokeCheck {
                endpoint: endpoint.to_string(),
                status: Some(exchange.status),
                latency_ms: exchange.latency.as_secs_f64() * 1e3,
                passed: verdict.is_ok(),
                timed_out: false,
                detail: verdict.unwrap_or_else(|failure| {
                    let mut text = failure.to_string();
                    if failure.is_response() {
                        text.push_str(": ");
                        text.push_str(&snippet(&exchange.body));
                    }
                    text
                }),
            }
        }
        Err(e) => SmokeCheck {
            endpoint: endpoint.to_string(),
            status: None,
            latency_ms: e.latency.as_secs_f64() * 1e3,
            passed: false,
            detail: format!("{}: {}", e.failure, e.detail),
            timed_out: matches!(e.failure, Failure::Timeout | Failure::TimeoutNewConnection),
        },
    }
}

/// The start of a body, on one line, for a failure's detail.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "empty body".into();
    }
    match one_line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_short_single_lines() {
        assert_eq!(
            snippet(b"<html>\n  <body>oops</body>\n</html>"),
            "<html> <body>oops</body> </html>"
        );
        assert_eq!(snippet(b""), "empty body");
        assert!(snippet(&[b'x'; 500]).ends_with("..."));
    }
}
