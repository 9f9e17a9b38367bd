//! The Cloud Trace API v1 `projects.traces.list` endpoint: the traces of a time window, page by
//! page (`nextPageToken`), bounded in count, retrying 429/503 a bounded number of times with
//! backoff that honours `Retry-After`.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::{StatusCode, Url};

use super::auth::Credentials;
use super::wire::{self, ParsedPage};
use super::{GcpError, deepest};
use iris_trace::Trace;

/// The API's base URL unless `IRIS_LAB_CLOUD_TRACE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://cloudtrace.googleapis.com";
pub const BASE_URL_ENV: &str = "IRIS_LAB_CLOUD_TRACE_URL";
/// Attempts of one page request when the API answers 429 or 503.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest wait between attempts, whatever `Retry-After` asks.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// The API's largest page.
const PAGE_SIZE: usize = 1000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What to list.
#[derive(Debug, Clone, Copy)]
pub struct ListQuery<'a> {
    pub project: &'a str,
    pub start: Timestamp,
    pub end: Timestamp,
    /// A Cloud Trace filter, e.g. `root:prediction_request`; "" for none.
    pub filter: &'a str,
    pub max_traces: usize,
}

/// The traces listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub traces: Vec<Trace>,
    /// Stopped at `max_traces` with more pages left.
    pub reached_max: bool,
    /// Traces or spans that could not be read.
    pub skipped: usize,
}

pub struct TraceApi {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
}

impl TraceApi {
    /// A client of the API at `IRIS_LAB_CLOUD_TRACE_URL`, else Google's.
    pub fn new(credentials: Credentials) -> Result<TraceApi, GcpError> {
        let base = std::env::var(BASE_URL_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base = Url::parse(base.trim()).map_err(|e| GcpError::BadBaseUrl(e.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(GcpError::BadBaseUrl(base.to_string()));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("iris-lab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GcpError::Unreachable {
                url: base.to_string(),
                detail: deepest(&e),
            })?;
        Ok(TraceApi {
            http,
            base,
            credentials,
        })
    }

    /// Lists the traces of the window, following page tokens until the last page or
    /// `max_traces`.
    pub async fn list(&self, q: &ListQuery<'_>) -> Result<Listed, GcpError> {
        let mut listed = Listed {
            traces: Vec::new(),
            reached_max: false,
            skipped: 0,
        };
        let mut token: Option<String> = None;
        loop {
            let remaining = q.max_traces.saturating_sub(listed.traces.len());
            let page = self
                .page(q, token.as_deref(), remaining.clamp(1, PAGE_SIZE))
                .await?;
            listed.skipped += page.skipped;
            listed.traces.extend(page.traces);
            if listed.traces.len() >= q.max_traces {
                listed.reached_max =
                    page.next_page_token.is_some() || listed.traces.len() > q.max_traces;
                listed.traces.truncate(q.max_traces);
                return Ok(listed);
            }
            match page.next_page_token {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => return Ok(listed),
            }
        }
    }

    fn url(&self, q: &ListQuery<'_>, page_token: Option<&str>, page_size: usize) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["v1", "projects", q.project, "traces"]);
        }
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("view", "COMPLETE")
                .append_pair("startTime", &q.start.to_string())
                .append_pair("endTime", &q.end.to_string())
                .append_pair("pageSize", &page_size.to_string());
            if !q.filter.is_empty() {
                query.append_pair("filter", q.filter);
            }
            if let Some(t) = page_token {
                query.append_pair("pageToken", t);
            }
        }
        url
    }

    /// One page, retrying 429 and 503.
    async fn page(
        &self,
        q: &ListQuery<'_>,
        page_token: Option<&str>,
        page_size: usize,
    ) -> Result<ParsedPage, GcpError> {
        let url = self.url(q, page_token, page_size);
        let mut attempt = 1;
        loop {
            let token = self.credentials.token().await?;
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| GcpError::Unreachable {
                    // The URL holds no secret: the token travels in a header.
                    url: self.base.to_string(),
                    detail: deepest(&e),
                })?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let body = response.bytes().await.map_err(|e| GcpError::Unreachable {
                url: self.base.to_string(),
                detail: deepest(&e),
            })?;
            if status.is_success() {
                return wire::parse_page(&body).map_err(GcpError::BadResponse);
            }
            let message = wire::error_message(&body);
            let retryable = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            if retryable && attempt < MAX_ATTEMPTS {
                tokio::time::sleep(backoff(attempt, retry_after)).await;
                attempt += 1;
                continue;
            }
            return Err(self.status_error(status, q.project, attempt, message));
        }
    }

    fn status_error(
        &self,
        status: StatusCode,
        project: &str,
        attempts: u32,
        message: String,
    ) -> GcpError {
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => GcpError::Denied {
                status: status.as_u16(),
                account: self.credentials.account().to_string(),
                project: project.to_string(),
                message,
            },
            StatusCode::NOT_FOUND => GcpError::NoProject {
                project: project.to_string(),
                message,
            },
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                GcpError::Throttled {
                    status: status.as_u16(),
                    attempts,
                    message,
                }
            }
            _ => GcpError::Status {
                status: status.as_u16(),
                message,
            },
        }
    }
}

/// `Retry-After` in seconds (the API sends seconds; an HTTP date is read too).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = when.duration_since(Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The wait before attempt `attempt + 1`: `Retry-After` when given, else 1, 2, 4, 8 s; never more
/// than [`MAX_WAIT`].
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or_else(|| Duration::from_secs(1 << attempt.saturating_sub(1).min(5)))
        .min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_honours_retry_after_and_is_bounded() {
        assert_eq!(backoff(1, None), Duration::from_secs(1));
        assert_eq!(backoff(3, None), Duration::from_secs(4));
        assert_eq!(
            backoff(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_WAIT);
        assert_eq!(backoff(40, None), MAX_WAIT);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_url_names_the_project_window_filter_and_page() {
        let api = TraceApi {
            http: reqwest::Client::new(),
            base: Url::parse("http://127.0.0.1:9/base/").unwrap(),
            credentials: Credentials::from_token("t".into(), "me"),
        };
        let q = ListQuery {
            project: "my-proj",
            start: "2026-01-01T00:00:00Z".parse().unwrap(),
            end: "2026-01-01T00:01:00Z".parse().unwrap(),
            filter: "root:prediction_request",
            max_traces: 10,
        };
        assert_eq!(
            api.url(&q, Some("p2"), 10).as_str(),
            "http://127.0.0.1:9/base/v1/projects/my-proj/traces?view=COMPLETE&startTime=2026-01-01T00%3A00%3A00Z&endTime=2026-01-01T00%3A01%3A00Z&pageSize=10&filter=root%3Aprediction_request&pageToken=p2"
        );
    }
}
