//! Memory pressure, the guide's second bottleneck: each run's peak memory against the pods'
//! limit and request, its growth with the requests served, restarts and OOM kills.

use super::{Finding, Verdict};
use crate::autoscaling::memory::{Memory, PRESSURE_PCT_OF_LIMIT, memory};
use crate::view::RunView;

const TITLE: &str = "Memory pressure";

fn mib(bytes: f64) -> String {
    format!("{:.0} MiB", bytes / 1048576.0)
}

fn evidence(run: &RunView, m: &Memory) -> String {
    let mut parts = Vec::new();
    if let Some(peak) = m.peak_bytes {
        let of = |pct: Option<f64>, total: Option<f64>, what: &str| {
            pct.zip(total)
                .map(|(p, t)| format!(", {p:.0}% of the {} {what}", mib(t)))
                .unwrap_or_default()
        };
        parts.push(format!(
            "at {} users memory peaked at {} per pod{}{}",
            run.users,
            mib(peak),
            of(m.peak_pct_of_limit, m.limit_bytes, "limit"),
            of(m.peak_pct_of_request, m.request_bytes, "request"),
        ));
    }
    if let Some(g) = m.bytes_per_1000_requests {
        parts.push(format!(
            "it grew {:+.1} KiB per 1000 requests served",
            g / 1024.0
        ));
    }
    let ooms: Vec<String> = m
        .restart_events
        .iter()
        .filter(|r| r.reason.as_deref() == Some("OOMKilled"))
        .map(|r| format!("{} at +{:.0} s", r.pod, r.t_s))
        .collect();
    parts.push(match (m.restarts, ooms.is_empty()) {
        (0, _) => "no restarts".to_string(),
        (n, true) => format!("{n} restarts, none OOMKilled"),
        (n, false) => format!("{n} restarts, OOMKilled: {}", ooms.join(", ")),
    });
    parts.join("; ")
}

/// One finding over the runs with pod metrics.
pub fn memory_pressure(runs: &[RunView]) -> Finding {
    let measured: Vec<(&RunView, Memory)> = runs
        .iter()
        .filter_map(|r| memory(r).filter(|m| m.peak_bytes.is_some()).map(|m| (r, m)))
        .collect();
    if measured.is_empty() {
        return Finding::new(
            TITLE,
            Verdict::NoData,
            "no pod memory metrics in the runs (metrics.k8s.io during `load`)".into(),
        );
    }
    let pressed = measured.iter().any(|(_, m)| {
        m.oom_kills > 0
            || m.peak_pct_of_limit
                .is_some_and(|p| p >= PRESSURE_PCT_OF_LIMIT)
    });
    let text: Vec<String> = measured.iter().map(|(r, m)| evidence(r, m)).collect();
    let verdict = if pressed {
        Verdict::Supported
    } else {
        Verdict::NotSupported
    };
    Finding::new(TITLE, verdict, text.join(". "))
}
