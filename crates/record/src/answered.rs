//! A run in which no request got an answer is not a run with 0 ms latencies: why nothing
//! answered, read from the record alone (pure), for `load`'s exit and the report.

use serde::Serialize;

use super::RunRecord;
use iris_api::Failure;

/// Why no request of a run got an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAnswer {
    /// Connections were made (or no request ended at all) but nothing answered in time.
    NeverAnswered,
    /// Connections were refused or could not be made.
    Refused,
    /// The host's name did not resolve.
    Unresolved,
    /// The TLS handshake failed.
    Tls,
    /// The server closed the connections before answering.
    Closed,
}

impl NoAnswer {
    /// What happened, as the middle of a sentence about the host.
    pub fn why(self) -> &'static str {
        match self {
            Self::NeverAnswered => "accepted connections but never answered",
            Self::Refused => "refused the connections (nothing listens there?)",
            Self::Unresolved => "could not be resolved (DNS)",
            Self::Tls => "failed the TLS handshake",
            Self::Closed => "closed the connections without answering",
        }
    }
}

/// The transport failures (no HTTP response came) and what each says about the host.
fn transport(f: &Failure) -> Option<NoAnswer> {
    match f {
        Failure::Connect => Some(NoAnswer::Refused),
        Failure::Dns => Some(NoAnswer::Unresolved),
        Failure::Tls => Some(NoAnswer::Tls),
        Failure::Timeout | Failure::TimeoutNewConnection => Some(NoAnswer::NeverAnswered),
        Failure::Disconnected => Some(NoAnswer::Closed),
        _ => None,
    }
}

/// The transport failures of a run, by what they say about the host.
fn unanswered(r: &RunRecord) -> Vec<(NoAnswer, u64)> {
    let mut by_reason: Vec<(NoAnswer, u64)> = Vec::new();
    for f in &r.failures {
        if let Some(why) = transport(&f.reason) {
            match by_reason.iter_mut().find(|(w, _)| *w == why) {
                Some((_, n)) => *n += f.count,
                None => by_reason.push((why, f.count)),
            }
        }
    }
    by_reason
}

/// `Some` when users ran and no request of the run got an HTTP response (whatever its
/// status): the most frequent transport failure says why, and with none (every request still
/// waiting when the run ended) the host never answered.
pub fn no_answer(r: &RunRecord) -> Option<NoAnswer> {
    let by_reason = unanswered(r);
    let unanswered: u64 = by_reason.iter().map(|(_, n)| n).sum();
    if r.aggregate.requests > unanswered || r.users_started == 0 {
        return None;
    }
    Some(
        by_reason
            .iter()
            .max_by_key(|(_, n)| *n)
            .map_or(NoAnswer::NeverAnswered, |(w, _)| *w),
    )
}

/// Whether the host was asked and did not answer: a transport failure, or users still
/// waiting for an answer after the run's grace period (`abandoned`). A run stopped before its
/// users' first requests could end asked nothing in vain: it is short, not failed.
pub fn asked_in_vain(r: &RunRecord, abandoned: usize) -> bool {
    abandoned > 0 || !unanswered(r).is_empty()
}

/// The one line `load` ends with when nothing answered.
pub fn no_answer_line(r: &RunRecord, why: NoAnswer) -> String {
    format!(
        "no request completed: {} {} during the {:.0} s run (request timeout {:.0} s); `iris-lab doctor` checks the address, DNS, TCP, TLS and HTTP, and the Service and pods behind it",
        r.target,
        why.why(),
        r.duration_s,
        r.params.timeout_s
    )
}
