//! The open model's arrivals of worker records: each worker made its stripe of one schedule
//! (`loadgen::Stripe`), so the counts, slots and per-second rates add up, the schedule's rate is
//! every worker's, and the service time merges as any endpoint row (exactly, by its histogram).

use super::{MergeError, merge_endpoint};
use iris_record::shape::{ArrivalRecord, ArrivalSecond};
use iris_record::{EndpointRecord, RunRecord};

pub(super) fn arrivals(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let measured: Vec<&ArrivalRecord> = parts.iter().filter_map(|r| r.arrivals.as_ref()).collect();
    let Some(first) = measured.first() else {
        m.arrivals = None;
        return Ok(());
    };
    let sum = |f: fn(&ArrivalRecord) -> f64| measured.iter().map(|a| f(a)).sum::<f64>();
    let services: Vec<&EndpointRecord> =
        measured.iter().filter_map(|a| a.service.as_ref()).collect();
    m.arrivals = Some(ArrivalRecord {
        rate: first.rate,
        max_in_flight: measured.iter().map(|a| a.max_in_flight).sum(),
        queue: first.queue,
        intended: measured.iter().map(|a| a.intended).sum(),
        sent: measured.iter().map(|a| a.sent).sum(),
        dropped: measured.iter().map(|a| a.dropped).sum(),
        intended_rate: sum(|a| a.intended_rate),
        achieved_rate: sum(|a| a.achieved_rate),
        dropped_per_s: sum(|a| a.dropped_per_s),
        service: if services.is_empty() {
            None
        } else {
            Some(merge_endpoint(&services, m.duration_s)?)
        },
    });
    Ok(())
}

/// One second's arrivals of the workers: the counts add up; the service p99 is the largest of
/// the workers' (at least the merged one; exact would need the second's service histograms).
pub fn merge_second(parts: &[&ArrivalSecond]) -> Option<ArrivalSecond> {
    if parts.is_empty() {
        return None;
    }
    Some(ArrivalSecond {
        intended: parts.iter().map(|a| a.intended).sum(),
        sent: parts.iter().map(|a| a.sent).sum(),
        dropped: parts.iter().map(|a| a.dropped).sum(),
        service_p99_ms: parts
            .iter()
            .filter_map(|a| a.service_p99_ms)
            .reduce(f64::max),
    })
}
