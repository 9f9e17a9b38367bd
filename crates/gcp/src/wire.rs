//! The Cloud Trace API v1 wire format (`ListTracesResponse`, Google's JSON error `Status`) ->
//! typed traces. Anything from the network is checked: a span with a bad id or time is skipped
//! and counted, never trusted and never a panic.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use iris_trace::{Span, Trace, is_trace_id};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    traces: Vec<WireTrace>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTrace {
    trace_id: String,
    #[serde(default)]
    spans: Vec<WireSpan>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSpan {
    /// A decimal string of a 64-bit number.
    span_id: String,
    #[serde(default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    name: String,
    start_time: String,
    end_time: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// One page of `projects.traces.list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPage {
    pub traces: Vec<Trace>,
    /// Absent or empty: the last page.
    pub next_page_token: Option<String>,
    /// Traces or spans that could not be read (bad ids or times).
    pub skipped: usize,
}

/// Parses one page; an error is the reason in a few words.
pub fn parse_page(body: &[u8]) -> Result<ParsedPage, String> {
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut skipped = 0;
    let mut traces = Vec::with_capacity(page.traces.len());
    for t in page.traces {
        let trace_id = t.trace_id.to_ascii_lowercase();
        if !is_trace_id(&trace_id) {
            skipped += 1;
            continue;
        }
        let total = t.spans.len();
        let spans: Vec<Span> = t.spans.into_iter().filter_map(span).collect();
        skipped += total - spans.len();
        traces.push(Trace { trace_id, spans });
    }
    Ok(ParsedPage {
        traces,
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        skipped,
    })
}

fn span(w: WireSpan) -> Option<Span> {
    let start: Timestamp = w.start_time.parse().ok()?;
    let end: Timestamp = w.end_time.parse().ok()?;
    if end < start {
        return None;
    }
    let parent_id = match w.parent_span_id.as_deref() {
        None | Some("") | Some("0") => None,
        Some(p) => Some(p.parse().ok()?),
    };
    Some(Span {
        span_id: w.span_id.parse().ok()?,
        parent_id,
        name: w.name,
        start,
        end,
        labels: w.labels,
    })
}

/// The message of Google's JSON error body (`{"error": {"code", "message", "status"}}`), one
/// line and bounded, as " (STATUS: message)"; empty when the body is not one.
pub fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Status,
    }
    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        message: String,
        #[serde(default)]
        status: String,
    }
    let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(body) else {
        return String::new();
    };
    let mut text: String = match (error.status.is_empty(), error.message.is_empty()) {
        (true, true) => return String::new(),
        (false, true) => error.status,
        (true, false) => error.message,
        (false, false) => format!("{}: {}", error.status, error.message),
    };
    text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = text.char_indices().nth(300) {
        text.truncate(cut);
        text.push_str("...");
    }
    format!(" ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_page_of_the_api_is_read_with_decimal_span_ids() {
        let body = br#"{
          "traces": [{
            "projectId": "p",
            "traceId": "0AF7651916CD43DD8448EB211C80319C",
            "spans": [
              {"spanId": "18446744073709551615", "kind": "RPC_SERVER", "name": "prediction_request",
               "startTime": "2026-01-01T00:00:00.000100Z", "endTime": "2026-01-01T00:00:00.004100Z",
               "parentSpanId": "12", "labels": {"/http/status_code": "200"}},
              {"spanId": "x", "name": "bad", "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"},
              {"spanId": "3", "name": "backwards", "startTime": "2026-01-01T00:00:01Z", "endTime": "2026-01-01T00:00:00Z"}
            ]
          }, {"traceId": "nope"}],
          "nextPageToken": "page-2"
        }"#;
        let page = parse_page(body).unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("page-2"));
        assert_eq!(page.skipped, 3);
        let t = &page.traces[0];
        assert_eq!(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.spans.len(), 1);
        assert_eq!(t.spans[0].span_id, u64::MAX);
        assert_eq!(t.spans[0].parent_id, Some(12));
        assert!((t.spans[0].duration_ms() - 4.0).abs() < 1e-9);
        assert_eq!(t.spans[0].status_code(), Some(200));
        let last = parse_page(br#"{"nextPageToken": ""}"#).unwrap();
        assert_eq!((last.traces.len(), last.next_page_token), (0, None));
    }

    #[test]
    fn google_error_bodies_become_one_bounded_line() {
        let body = br#"{"error": {"code": 403, "message": "Permission\n denied", "status": "PERMISSION_DENIED"}}"#;
        assert_eq!(
            error_message(body),
            " (PERMISSION_DENIED: Permission denied)"
        );
        assert_eq!(error_message(b"<html>"), "");
        let long = format!(r#"{{"error": {{"message": "{}"}}}}"#, "x".repeat(1000));
        assert!(error_message(long.as_bytes()).len() < 320);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_page(&body);
            let _ = error_message(&body);
        }

        #[test]
        fn any_span_id_and_window_round_trips(
            id in any::<u64>(),
            parent in any::<u64>(),
            start in 0i64..4_000_000_000,
            dur_us in 0i64..10_000_000,
            trace in any::<u128>().prop_filter("not zero", |t| *t != 0),
        ) {
            let s = Timestamp::from_second(start).unwrap();
            let e = s + jiff::SignedDuration::from_micros(dur_us);
            let body = serde_json::json!({"traces": [{"traceId": format!("{trace:032x}"), "spans": [
                {"spanId": id.to_string(), "parentSpanId": parent.to_string(), "name": "n",
                 "startTime": s.to_string(), "endTime": e.to_string()}]}]});
            let page = parse_page(body.to_string().as_bytes()).unwrap();
            let span = &page.traces[0].spans[0];
            prop_assert_eq!(span.span_id, id);
            prop_assert_eq!(span.parent_id, (parent != 0).then_some(parent));
            prop_assert_eq!((span.start, span.end), (s, e));
            prop_assert_eq!(&page.traces[0].trace_id, &format!("{trace:032x}"));
        }
    }
}
