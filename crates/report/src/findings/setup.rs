//! Connection set-up: new connections kept waiting to be accepted or served (the accept queue
//! of a saturated worker, a load balancer adding backends). Only a wait that new connections
//! have and the other requests of the same second do not is set-up: when the server is
//! saturated every request waits, the new connections' first ones among them.

use super::moment;
use super::{Finding, Verdict};
use crate::view::{RunView, Second};

/// New connections count as slow to set up in a second when their connect time plus the
/// wait for their first byte (medians) exceeds the first-byte wait of all requests of that
/// second (median) by this many ms ...
pub const SLOW_SETUP_MS: f64 = 100.0;
/// ... and by this factor.
pub const SLOW_SETUP_RATIO: f64 = 1.5;

/// One second's new connections against all its requests, in ms (medians).
#[derive(Debug, Clone, Copy, PartialEq)]
struct SetUp {
    t: u64,
    new_connections: u64,
    connect: f64,
    new_wait: f64,
    all_wait: f64,
}

impl SetUp {
    /// What new connections waited more than the other requests of their second.
    fn excess(&self) -> f64 {
        self.connect + self.new_wait - self.all_wait
    }

    fn slow(&self) -> bool {
        let new = self.connect + self.new_wait;
        self.excess() >= SLOW_SETUP_MS && new >= SLOW_SETUP_RATIO * self.all_wait
    }
}

/// The seconds of a run that opened connections. A second without its own first-byte median
/// (no request finished in it) is compared with the run's.
fn set_ups(run: &RunView) -> Vec<SetUp> {
    let run_wait = run
        .phases
        .as_ref()
        .and_then(|p| p.waiting)
        .map_or(0.0, |w| w.p50_ms);
    moment::full_seconds(run)
        .filter(|s| s.new_connections.unwrap_or(0) > 0)
        .map(|s: &Second| SetUp {
            t: s.t,
            new_connections: s.new_connections.unwrap_or(0),
            connect: s.connect_p50_ms.unwrap_or(0.0),
            new_wait: s.new_waiting_p50_ms.unwrap_or(0.0),
            all_wait: s.waiting_p50_ms.unwrap_or(run_wait),
        })
        .collect()
}

/// The second of `seconds` whose new connections waited the most beyond the others.
fn worst(seconds: &[SetUp]) -> Option<SetUp> {
    seconds
        .iter()
        .copied()
        .max_by(|a, b| a.excess().total_cmp(&b.excess()))
}

/// The slow seconds of one run, as a sentence.
fn slow_in(run: &RunView) -> Option<String> {
    let slow: Vec<SetUp> = set_ups(run).into_iter().filter(SetUp::slow).collect();
    let (first, last, w) = (slow.first()?, slow.last()?, worst(&slow)?);
    let n: u64 = slow.iter().map(|s| s.new_connections).sum();
    Some(format!(
        "{}, from +{} s to +{} s, {n} new connections waited longer than the other requests of \
         their second: at worst (+{} s, {}) {:.1} ms to connect and {:.1} ms to their first byte, \
         against {:.1} ms to first byte for all requests of that second (medians)",
        moment::at(run, first.t as f64, last.t as f64),
        first.t.saturating_sub(1),
        last.t,
        w.t,
        moment::at_second(run, w.t as f64).trim_start_matches("at "),
        w.connect,
        w.new_wait,
        w.all_wait,
    ))
}

/// New connections waiting long to be accepted or to get their first byte, beyond what the
/// other requests of the same second waited.
pub fn connection_setup(runs: &[RunView]) -> Finding {
    const TITLE: &str = "Connection set-up";
    let measured: Vec<&RunView> = runs
        .iter()
        .filter(|r| r.timeline.iter().any(|s| s.new_connections.is_some()))
        .collect();
    if measured.is_empty() {
        return Finding::new(
            TITLE,
            Verdict::NoData,
            "no request phases in these runs (records from before them)".into(),
        );
    }
    let slow: Vec<String> = measured.iter().filter_map(|r| slow_in(r)).collect();
    if slow.is_empty() {
        let closest = measured
            .iter()
            .filter_map(|r| Some((*r, worst(&set_ups(r))?)))
            .max_by(|a, b| a.1.excess().total_cmp(&b.1.excess()));
        let closest = match closest {
            Some((r, w)) => format!(
                "; closest {} at +{} s: {:.1} ms to connect and first byte against {:.1} ms",
                moment::at_second(r, w.t as f64),
                w.t,
                w.connect + w.new_wait,
                w.all_wait
            ),
            None => String::new(),
        };
        return Finding::new(
            TITLE,
            Verdict::NotSupported,
            format!(
                "new connections were accepted and served as promptly as the other requests of \
                 their second: in no second did their connect and first-byte wait exceed all \
                 requests' first-byte wait by {SLOW_SETUP_MS:.0} ms and {SLOW_SETUP_RATIO}x \
                 (medians){closest}"
            ),
        );
    }
    Finding::new(
        TITLE,
        Verdict::Supported,
        format!(
            "{}: the server accepted or served new connections late (the accept queue of a saturated worker, or a load balancer adding backends); run more workers per pod, add replicas earlier (a lower HPA target or a higher minReplicas), or with --connection-max-requests make users reconnect so that new pods get their share",
            slow.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breakdown::{Pair, PhaseBreakdown};

    fn second(t: u64, new: u64, connect: f64, wait: f64, all: f64) -> Second {
        Second {
            t,
            users: 300,
            new_connections: Some(new),
            connect_p50_ms: (new > 0).then_some(connect),
            new_waiting_p50_ms: (new > 0).then_some(wait),
            waiting_p50_ms: Some(all),
            ..Default::default()
        }
    }

    fn run(timeline: Vec<Second>) -> RunView {
        RunView {
            users: 300,
            duration_s: timeline.len() as f64 + 0.2,
            timeline,
            phases: Some(PhaseBreakdown {
                waiting: Some(Pair {
                    p50_ms: 5.0,
                    p95_ms: 20.0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn new_connections_kept_waiting_are_a_finding_with_the_period_and_figures() {
        let mut timeline: Vec<Second> = (1..=20).map(|t| second(t, 0, 0.0, 0.0, 5.0)).collect();
        timeline[0] = second(1, 10, 0.3, 4.0, 5.0);
        timeline[5] = second(6, 40, 0.4, 900.0, 6.0);
        timeline[7] = second(8, 25, 150.0, 20.0, 8.0);
        let f = connection_setup(&[run(timeline)]);
        assert_eq!(f.verdict, Verdict::Supported, "{}", f.evidence);
        assert!(
            f.evidence
                .contains("at 300 users, from +5 s to +8 s, 65 new connections"),
            "{}",
            f.evidence
        );
        assert!(
            f.evidence.contains(
                "at worst (+6 s, 300 users) 0.4 ms to connect and 900.0 ms to their first byte, against 6.0 ms"
            ),
            "{}",
            f.evidence
        );
        assert!(
            f.evidence.contains("more workers per pod")
                && f.evidence.contains("--connection-max-requests")
        );
    }

    #[test]
    fn a_saturated_server_that_keeps_every_request_waiting_is_not_slow_set_up() {
        // Issue 25: during a ramp every request waited ~645 ms, new connections and old alike.
        let timeline: Vec<Second> = (1..=30)
            .map(|t| match t {
                21 => second(t, 30, 0.4, 700.0, 600.0),
                20..=25 => second(t, 30, 0.4, 643.0, 647.0),
                _ => second(t, 0, 0.0, 0.0, 4.0),
            })
            .collect();
        let f = connection_setup(&[run(timeline)]);
        assert_eq!(f.verdict, Verdict::NotSupported, "{}", f.evidence);
        assert!(
            f.evidence.contains(
                "closest at 300 users at +21 s: 700.4 ms to connect and first byte against 600.0 ms"
            ),
            "{}",
            f.evidence
        );
        // Clearly longer than the others of the same second is slow, however long they wait.
        let mut timeline: Vec<Second> = (1..=5).map(|t| second(t, 2, 0.3, 650.0, 640.0)).collect();
        timeline[2] = second(3, 20, 0.3, 1100.0, 640.0);
        assert_eq!(
            connection_setup(&[run(timeline)]).verdict,
            Verdict::Supported
        );
    }

    #[test]
    fn prompt_connections_or_no_phases_say_so() {
        let timeline = (1..=5).map(|t| second(t, 2, 0.3, 12.0, 5.0)).collect();
        let f = connection_setup(&[run(timeline)]);
        assert_eq!(f.verdict, Verdict::NotSupported, "{}", f.evidence);
        assert!(
            f.evidence
                .contains("12.3 ms to connect and first byte against 5.0 ms"),
            "{}",
            f.evidence
        );
        let f = connection_setup(&[RunView::default()]);
        assert_eq!(f.verdict, Verdict::NoData);
    }
}
