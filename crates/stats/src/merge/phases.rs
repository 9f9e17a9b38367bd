//! The request phases of worker records, merged exactly: each phase's histogram is added into
//! one of the same precision as a single collector keeps (client phases 2 digits, the server's
//! figures 3), so the merged distributions are those of one collector fed every request.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{MergeError, add_encoded};
use crate::phases::new_phase_histogram;
use crate::{distribution, new_histogram};
use iris_record::{Distribution, EndpointPhases, PhaseDistributions, PhasesRecord, RunRecord};

/// The record's `phases`: absent when no worker measured them (records older than phases).
pub(super) fn phases(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let measured: Vec<&PhasesRecord> = parts.iter().filter_map(|r| r.phases.as_ref()).collect();
    if measured.is_empty() {
        m.phases = None;
        return Ok(());
    }
    let mut by_endpoint: BTreeMap<(&str, &str), Vec<&PhaseDistributions>> = BTreeMap::new();
    for e in measured.iter().flat_map(|p| &p.endpoints) {
        by_endpoint
            .entry((e.name.as_str(), e.method.as_str()))
            .or_default()
            .push(&e.phases);
    }
    let endpoints = by_endpoint
        .into_iter()
        .map(|((name, method), parts)| {
            Ok(EndpointPhases {
                method: method.to_string(),
                name: name.to_string(),
                phases: merge_distributions(&parts)?,
            })
        })
        .collect::<Result<Vec<_>, MergeError>>()?;
    let aggregates: Vec<&PhaseDistributions> = measured.iter().map(|p| &p.aggregate).collect();
    m.phases = Some(PhasesRecord {
        // Each worker resolved the name once: the slowest is what a worker waited.
        resolution: measured
            .iter()
            .filter_map(|p| p.resolution.clone())
            .max_by(|a, b| a.ms.total_cmp(&b.ms)),
        endpoints,
        aggregate: merge_distributions(&aggregates)?,
    });
    Ok(())
}

fn merge_distributions(parts: &[&PhaseDistributions]) -> Result<PhaseDistributions, MergeError> {
    let client = |what: &str, get: fn(&PhaseDistributions) -> &Option<Distribution>| {
        merge_one(what, parts.iter().map(|p| get(p)), new_phase_histogram())
    };
    let server = |what: &str, get: fn(&PhaseDistributions) -> &Option<Distribution>| {
        merge_one(what, parts.iter().map(|p| get(p)), new_histogram())
    };
    Ok(PhaseDistributions {
        connect: client("connect phase", |p| &p.connect)?,
        tls: client("TLS phase", |p| &p.tls)?,
        sending: client("sending phase", |p| &p.sending)?,
        waiting: client("waiting phase", |p| &p.waiting)?,
        receiving: client("receiving phase", |p| &p.receiving)?,
        server: server("server total time", |p| &p.server)?,
        model: server("model time", |p| &p.model)?,
    })
}

fn merge_one<'a>(
    what: &str,
    parts: impl Iterator<Item = &'a Option<Distribution>>,
    mut sum: Histogram<u64>,
) -> Result<Option<Distribution>, MergeError> {
    for d in parts.flatten() {
        add_encoded(&mut sum, what, &d.histogram)?;
    }
    Ok(distribution(&sum))
}
