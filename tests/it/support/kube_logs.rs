//! Pods' logs as a kubelet serves them through `pods/{name}/log`, scripted by tests: each
//! line with its time, for the current and the previous instance of a container. Honours
//! `container`, `previous`, `sinceTime`, `sinceSeconds`, `tailLines`, `timestamps` and
//! `limitBytes` in the kubelet's order (time filter, tail, timestamps, byte limit), and answers
//! 400 as the API server does for a previous instance that never was.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;

use super::{KubeApi, State, Target, status};

/// (pod, container, previous) -> lines with their times.
pub(super) type Scripted = BTreeMap<(String, String, bool), Vec<(Timestamp, String)>>;

impl KubeApi {
    /// Appends lines to the log of `pod`'s `container` (its previous instance when `previous`).
    pub fn log(&self, pod: &str, container: &str, previous: bool, lines: &[(Timestamp, &str)]) {
        let mut s = self.lock();
        s.scripted_logs
            .entry((pod.into(), container.into(), previous))
            .or_default()
            .extend(lines.iter().map(|(t, l)| (*t, l.to_string())));
        s.touch();
    }

    /// The log requests made, as path and query.
    pub fn log_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.uri.contains("/log"))
            .map(|r| r.uri)
            .collect()
    }
}

/// Whether the tests scripted a log for this pod.
pub(super) fn scripted(s: &State, t: &Target) -> bool {
    t.key == "pods"
        && t.sub.as_deref() == Some("log")
        && t.name
            .as_ref()
            .is_some_and(|p| s.scripted_logs.keys().any(|(pod, _, _)| pod == p))
}

pub(super) fn serve(s: &State, t: &Target, q: &BTreeMap<String, String>) -> Response {
    let pod = t.name.clone().unwrap_or_default();
    let previous = q.get("previous").is_some_and(|v| v == "true");
    let container = q.get("container").cloned().or_else(|| {
        s.scripted_logs
            .keys()
            .find(|(p, _, _)| *p == pod)
            .map(|(_, c, _)| c.clone())
    });
    let container = container.unwrap_or_default();
    let Some(lines) = s
        .scripted_logs
        .get(&(pod.clone(), container.clone(), previous))
    else {
        let what = if previous {
            "previous terminated container"
        } else {
            "container"
        };
        return status(
            400,
            "BadRequest",
            format!("{what} \"{container}\" in pod \"{pod}\" not found"),
        );
    };
    let since = q
        .get("sinceTime")
        .and_then(|t| t.parse::<Timestamp>().ok())
        .or_else(|| {
            q.get("sinceSeconds")
                .and_then(|s| s.parse::<i64>().ok())
                .map(|s| Timestamp::now() - jiff::SignedDuration::from_secs(s))
        });
    let mut kept: Vec<&(Timestamp, String)> = lines
        .iter()
        .filter(|(at, _)| since.is_none_or(|s| *at >= s))
        .collect();
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        kept = kept.split_off(kept.len().saturating_sub(n));
    }
    let stamps = q.get("timestamps").is_some_and(|v| v == "true");
    let mut text = String::new();
    for (at, line) in kept {
        if stamps {
            text.push_str(&format!("{} ", at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")));
        }
        text.push_str(line);
        text.push('\n');
    }
    if let Some(limit) = q.get("limitBytes").and_then(|n| n.parse::<usize>().ok()) {
        let mut cut = limit.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(text))
        .unwrap_or_default()
}
