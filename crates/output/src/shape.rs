//! The load's shape in the summary: the open model's heading and arrivals (intended and
//! achieved rates, drops, service time beside the corrected latency), and the stages.

use super::fmt_ms;
use iris_record::shape::ArrivalRecord;
use iris_record::{EndpointRecord, Percentile, RunRecord};

/// The heading of an open-model run, which has arrivals instead of users.
pub(super) fn open_heading(r: &RunRecord, a: &ArrivalRecord) -> String {
    format!(
        "Load test of {}: open model, {} arrivals/s{} running {} tasks, at most {} in flight ({}), \
         for {:.1} s",
        r.target,
        a.rate,
        if r.params.stages.is_empty() {
            ""
        } else {
            " then the stages"
        },
        r.params.user_class,
        a.max_in_flight,
        if a.queue {
            "queue when full"
        } else {
            "drop when full"
        },
        r.duration_s,
    )
}

/// The stages a run followed, on one line, or nothing.
pub(super) fn stages_line(r: &RunRecord) -> String {
    if r.params.stages.is_empty() {
        return String::new();
    }
    let unit = if r.arrivals.is_some() { "/s" } else { " users" };
    let stages: Vec<String> = r
        .params
        .stages
        .iter()
        .map(|s| format!("{} s to {}{unit}", s.duration_s, s.target))
        .collect();
    format!("Stages: {}\n", stages.join(", "))
}

/// Which latency the tables show, before them.
pub(super) fn latency_label(r: &RunRecord) -> &'static str {
    if r.arrivals.is_some() {
        "\nResponse times below are corrected: from each arrival's intended time, as a population \
         of clients would see them (service time from the send: see Arrivals)\n"
    } else {
        ""
    }
}

/// Intended and achieved rates, drops, and the service time beside the corrected latency.
pub(super) fn arrivals(r: &RunRecord) -> String {
    let Some(a) = &r.arrivals else {
        return String::new();
    };
    let mut out = format!(
        "\nArrivals: {} intended ({:.1}/s), {} sent ({:.1}/s achieved), {} dropped ({:.1}/s) for \
         want of a free slot of {}\n",
        a.intended,
        a.intended_rate,
        a.sent,
        a.achieved_rate,
        a.dropped,
        a.dropped_per_s,
        a.max_in_flight,
    );
    out.push_str(&latency_line(
        "Latency, corrected (from the intended time):",
        &r.aggregate,
    ));
    if let Some(service) = &a.service {
        out.push_str(&latency_line(
            "Latency, service (from the send):           ",
            service,
        ));
    }
    out
}

/// One labelled line of a row's latencies.
fn latency_line(label: &str, e: &EndpointRecord) -> String {
    let pct = |p| e.percentile(p).map_or_else(|| "-".to_string(), fmt_ms);
    format!(
        "{label} avg {}, p50 {}, p95 {}, p99 {}, max {}\n",
        fmt_ms(e.avg_ms),
        pct(Percentile::P50),
        pct(Percentile::P95),
        pct(Percentile::P99),
        fmt_ms(e.max_ms),
    )
}
