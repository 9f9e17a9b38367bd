//! What a worker tells its controller: one JSON object per line on stdout (read from a pipe,
//! or from the pod's log through the Kubernetes API), each tagged `"line"`. Other lines (a
//! log stream may mix in stderr) are not protocol lines and are skipped.

use serde::{Deserialize, Serialize};

use iris_record::RunRecord;
use iris_stats::merge::SecondShare;

/// Every protocol line starts so (serde writes the tag first).
const PREFIX: &str = "{\"line\":";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum WorkerLine {
    /// The target resolved and answered: the worker waits for the start time.
    Ready { index: u32, users: u32 },
    /// The users started, `skew_ms` after the common start time.
    Started { skew_ms: f64 },
    /// A closed second, with its histogram.
    Second(Box<SecondShare>),
    /// The worker's record, with its histograms: the last line.
    Record(Box<RunRecord>),
    /// The worker could not run.
    Failed { error: String },
}

impl WorkerLine {
    /// The line as sent, without its newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            serde_json::json!({"line": "failed", "error": format!("could not encode: {e}")})
                .to_string()
        })
    }
}

/// Reads one line: None when it is not a protocol line, an error when it is one that does
/// not decode.
pub fn parse_line(text: &str) -> Option<Result<WorkerLine, serde_json::Error>> {
    let text = text.trim();
    text.starts_with(PREFIX).then(|| serde_json::from_str(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_round_trip_and_other_lines_are_skipped() {
        for line in [
            WorkerLine::Ready { index: 2, users: 7 },
            WorkerLine::Started { skew_ms: 1.5 },
            WorkerLine::Failed {
                error: "cannot reach x".into(),
            },
        ] {
            let text = line.to_line();
            assert!(!text.contains('\n'));
            let back = parse_line(&format!("{text}\n")).unwrap().unwrap();
            assert_eq!(back.to_line(), text);
        }
        assert!(parse_line("thread main panicked").is_none());
        assert!(parse_line("{\"kind\":\"ready\"}").is_none());
        assert!(
            parse_line("{\"line\":\"second\",\"point\":1}")
                .unwrap()
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(s in ".{0,300}") {
            let _ = parse_line(&s);
            let _ = parse_line(&format!("{PREFIX}{s}"));
        }
    }
}
