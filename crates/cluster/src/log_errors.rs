//! Error lines in pods' logs, grouped by message: the parser of log lines read with
//! `timestamps=true` (the kubelet's RFC 3339 prefix), the test of what is an error (uvicorn
//! and Python logging levels, tracebacks and their exception line, 5xx access lines, JSON logs'
//! `level`/`severity`), the message's normal form (numbers, ids and addresses replaced) and the
//! grouping with pods, count, first and last time. Pure: anything from the network is text
//! here, never trusted, never a panic.

use std::collections::BTreeMap;

use jiff::Timestamp;

use iris_record::pod_errors::ErrorGroup;

/// The longest example line kept, in characters.
const EXAMPLE_CHARS: usize = 300;
/// The longest message kept, in characters.
const MESSAGE_CHARS: usize = 200;
/// Groups kept at most (the most frequent).
pub const MAX_GROUPS: usize = 50;

/// Splits the kubelet's timestamp off a line: `2026-12-04T16:00:00.123456789Z text`.
pub fn split_timestamp(line: &str) -> Option<(Timestamp, &str)> {
    let (stamp, rest) = line.split_once(' ')?;
    let at = stamp.parse::<Timestamp>().ok()?;
    Some((at, rest))
}

const ERROR_LEVELS: [&str; 5] = ["error", "critical", "fatal", "alert", "emergency"];

/// A JSON log line's message when it is at an error level (or answered 5xx).
fn json_error(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object()?;
    let field = |names: &[&str]| {
        names.iter().find_map(|n| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v)
        })
    };
    let level = field(&["level", "severity", "levelname", "log.level"])
        .and_then(|l| l.as_str())
        .map(str::to_ascii_lowercase);
    let status = field(&["status", "status_code", "httpStatus"]).and_then(|s| s.as_u64());
    let error = level.is_some_and(|l| ERROR_LEVELS.contains(&l.as_str()))
        || status.is_some_and(|s| (500..600).contains(&s));
    if !error {
        return None;
    }
    let message = field(&["message", "msg", "event", "error"])
        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
        .unwrap_or_else(|| text.to_string());
    Some(message)
}

/// `... "POST /predict HTTP/1.1" 500 ...`: an access line of a server error.
fn access_5xx(text: &str) -> bool {
    let Some(i) = text.find(" HTTP/") else {
        return false;
    };
    let rest = &text[i + 6..];
    let Some(q) = rest.find('"') else {
        return false;
    };
    let status = rest[q + 1..].trim_start();
    let digits: String = status.chars().take(3).collect();
    digits.len() == 3
        && digits.starts_with('5')
        && digits.chars().all(|c| c.is_ascii_digit())
        && status[3..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_digit())
}

/// `ValueError: ...`, `sklearn.exceptions.NotFittedError: ...`: the last line of a traceback.
fn exception_line(text: &str) -> bool {
    let Some((name, _)) = text.split_once(": ") else {
        return false;
    };
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && (name.ends_with("Error") || name.ends_with("Exception"))
}

/// The message of an error line, or `None` for any other line.
pub fn error_message(text: &str) -> Option<String> {
    let text = text.trim_end_matches(['\r', '\n']);
    if let Some(m) = json_error(text) {
        return Some(m);
    }
    let trimmed = text.trim_start();
    let upper: String = trimmed
        .chars()
        .take(12)
        .collect::<String>()
        .to_ascii_uppercase();
    let leveled = ["ERROR", "CRITICAL", "FATAL", "PANIC"].iter().any(|l| {
        upper.starts_with(l)
            && upper[l.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '=' && c != '_')
    });
    let tagged = [
        "[ERROR]",
        " ERROR ",
        " ERROR:",
        " CRITICAL ",
        "level=error",
        "\"level\":\"error\"",
    ]
    .iter()
    .any(|t| text.contains(t));
    let error = leveled
        || tagged
        || trimmed.starts_with("Traceback (most recent call last)")
        || exception_line(trimmed)
        || access_5xx(text);
    error.then(|| trimmed.to_string())
}

/// The message with what varies between occurrences replaced: hex ids (8+ hex digits with a
/// digit) by `ID`, numbers by `N`; whitespace collapsed; at most 200 characters.
pub fn normalize(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let hexish = word.len() >= 8
            && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            && word.chars().any(|c| c.is_ascii_digit());
        if hexish {
            out.push_str("ID");
            continue;
        }
        let mut in_number = false;
        for c in word.chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    out.push('N');
                }
                in_number = true;
            } else {
                in_number = false;
                out.push(c);
            }
        }
    }
    out.chars().take(MESSAGE_CHARS).collect()
}

/// The line with credentials hidden: `Bearer X`, and the values of `token=`, `password=`,
/// `api_key=`, `secret=`, `authorization:`.
pub fn redact(line: &str) -> String {
    let mut out = Vec::new();
    let mut hide_next = false;
    for word in line.split(' ') {
        if hide_next {
            out.push("***".to_string());
            // `Authorization: Bearer X`: the scheme and its credential.
            hide_next = matches!(word.to_ascii_lowercase().as_str(), "bearer" | "basic");
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower == "bearer" || lower == "authorization:" {
            hide_next = true;
            out.push(word.to_string());
            continue;
        }
        let keyed = [
            "token=",
            "password=",
            "passwd=",
            "api_key=",
            "apikey=",
            "secret=",
            "access_token=",
        ]
        .iter()
        .find_map(|k| lower.find(k).map(|i| i + k.len()));
        match keyed {
            Some(i) => out.push(format!("{}***", &word[..i])),
            None => out.push(word.to_string()),
        }
    }
    out.join(" ")
}

/// Error lines of a run's window, grouped as they are read.
#[derive(Debug, Clone)]
pub struct Grouper {
    start: Timestamp,
    from: Timestamp,
    to: Timestamp,
    groups: BTreeMap<String, ErrorGroup>,
    pub lines: u64,
    pub error_lines: u64,
}

impl Grouper {
    /// Seconds count from `start`; lines outside `from..=to` are not counted.
    pub fn new(start: Timestamp, from: Timestamp, to: Timestamp) -> Self {
        Grouper {
            start,
            from,
            to,
            groups: BTreeMap::new(),
            lines: 0,
            error_lines: 0,
        }
    }

    /// One line as read with `timestamps=true`, from `pod`. A line without a readable
    /// timestamp is not counted.
    pub fn add(&mut self, pod: &str, line: &str) {
        let Some((at, text)) = split_timestamp(line) else {
            return;
        };
        if at < self.from || at > self.to {
            return;
        }
        self.lines += 1;
        let Some(message) = error_message(text) else {
            return;
        };
        self.error_lines += 1;
        let t = at.duration_since(self.start).as_secs_f64();
        let key = normalize(&redact(&message));
        let group = self
            .groups
            .entry(key.clone())
            .or_insert_with(|| ErrorGroup {
                message: key,
                example: redact(text.trim()).chars().take(EXAMPLE_CHARS).collect(),
                count: 0,
                first_s: t,
                last_s: t,
                pods: BTreeMap::new(),
            });
        group.count += 1;
        group.first_s = group.first_s.min(t);
        group.last_s = group.last_s.max(t);
        *group.pods.entry(pod.to_string()).or_default() += 1;
    }

    /// The groups, most frequent first (then earliest), at most [`MAX_GROUPS`].
    pub fn finish(self) -> Vec<ErrorGroup> {
        let mut groups: Vec<ErrorGroup> = self.groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_s.total_cmp(&b.first_s)));
        groups.truncate(MAX_GROUPS);
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn error_lines_of_the_usual_servers_are_found() {
        for line in [
            "ERROR:    Exception in ASGI application",
            "INFO:     10.4.0.1:51234 - \"POST /predict HTTP/1.1\" 500 Internal Server Error",
            "Traceback (most recent call last):",
            "ValueError: Input X contains NaN.",
            "sklearn.exceptions.NotFittedError: This LogisticRegression instance is not fitted yet",
            "2026-12-04 16:00:00,123 ERROR app.predict: model failed",
            r#"{"severity": "ERROR", "message": "prediction failed", "trace": "abc"}"#,
            r#"{"level": "info", "status": 503, "msg": "overloaded"}"#,
        ] {
            assert!(error_message(line).is_some(), "{line}");
        }
        for line in [
            "INFO:     10.4.0.1:51234 - \"POST /predict HTTP/1.1\" 200 OK",
            "INFO:     Application startup complete.",
            "WARNING: slow request",
            r#"{"level": "info", "msg": "ok"}"#,
            "errors=0 requests=100",
            "INFO:     10.4.0.1:51234 - \"GET /health HTTP/1.1\" 5000",
        ] {
            assert!(error_message(line).is_none(), "{line}");
        }
        assert_eq!(
            error_message(r#"{"severity": "ERROR", "message": "prediction failed"}"#).unwrap(),
            "prediction failed"
        );
    }

    #[test]
    fn lines_group_by_message_with_pods_counts_and_times() {
        let start: Timestamp = "2026-12-04T16:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-12-04T16:01:00Z".parse().unwrap();
        let mut g = Grouper::new(start, start, end);
        let access = |s: u32, port: u32, code: u32| {
            format!(
                "2026-12-04T16:00:{s:02}.5Z INFO:     10.4.0.1:{port} - \"POST /predict HTTP/1.1\" {code} Internal Server Error"
            )
        };
        g.add("pod-a", &access(5, 40001, 500));
        g.add("pod-b", &access(9, 40002, 500));
        g.add("pod-a", &access(20, 40003, 500));
        g.add("pod-a", &access(21, 40004, 200));
        g.add(
            "pod-a",
            "2026-12-04T16:00:30Z ValueError: Input X contains NaN.",
        );
        g.add("pod-a", "2026-12-04T15:59:59Z ERROR: before the run");
        g.add("pod-a", "no timestamp ERROR");
        assert_eq!((g.lines, g.error_lines), (5, 4));
        let groups = g.finish();
        assert_eq!(groups.len(), 2);
        let top = &groups[0];
        assert_eq!(
            top.message,
            "INFO: N.N.N.N:N - \"POST /predict HTTP/N.N\" N Internal Server Error"
        );
        assert_eq!((top.count, top.first_s, top.last_s), (3, 5.5, 20.5));
        assert_eq!(
            top.pods,
            BTreeMap::from([("pod-a".into(), 2), ("pod-b".into(), 1)])
        );
        assert_eq!(groups[1].first_s, 30.0);
    }

    #[test]
    fn credentials_never_reach_the_record() {
        let line = "ERROR: call failed Authorization: Bearer ya29.secret token=abc123 user=x";
        let r = redact(line);
        assert_eq!(
            r,
            "ERROR: call failed Authorization: *** *** token=*** user=x"
        );
        assert!(!normalize(&r).contains("secret"));
    }

    proptest! {
        #[test]
        fn any_line_is_parsed_without_panicking(line in "\\PC{0,200}") {
            let _ = split_timestamp(&line);
            let _ = error_message(&line);
            let _ = redact(&line);
            let n = normalize(&line);
            prop_assert!(n.chars().count() <= MESSAGE_CHARS);
            prop_assert!(!n.chars().any(|c| c.is_ascii_digit()));
        }

        #[test]
        fn normal_forms_are_stable(line in "[ -~]{0,120}") {
            let once = normalize(&line);
            prop_assert_eq!(normalize(&once), once.clone());
        }

        #[test]
        fn every_error_line_is_in_exactly_one_group(
            lines in prop::collection::vec((0u32..60, prop_oneof![
                Just("ERROR: boom 1".to_string()), Just("ERROR: boom 22".to_string()),
                Just("INFO: fine".to_string()), "[ -~]{0,40}"]), 0..40)
        ) {
            let start: Timestamp = "2026-12-04T16:00:00Z".parse().unwrap();
            let end: Timestamp = "2026-12-04T16:01:00Z".parse().unwrap();
            let mut g = Grouper::new(start, start, end);
            for (s, text) in &lines {
                g.add("p", &format!("2026-12-04T16:00:{s:02}Z {text}"));
            }
            let errors = g.error_lines;
            prop_assert_eq!(g.lines, lines.len() as u64);
            let groups = g.finish();
            prop_assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), errors);
            for grp in &groups {
                prop_assert!(grp.first_s <= grp.last_s);
                prop_assert_eq!(grp.pods.values().sum::<u64>(), grp.count);
            }
        }
    }
}
