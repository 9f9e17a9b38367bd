//! How long the HPA took to scale down after the load fell: its scale-down stabilisation
//! window (`behavior.scaleDown.stabilizationWindowSeconds`, 300 s by default) keeps the
//! replicas that long, which a run with stages going down can show.

use super::{Finding, Verdict};
use crate::report::view::{RunView, Second};

const TITLE: &str = "Scale-down after the load fell";

/// The load asked for in a second: arrivals due in the open model, users otherwise.
fn level(s: &Second) -> f64 {
    s.intended.unwrap_or(s.users as f64)
}

/// The first second, after the load's peak, at which it fell below half the peak: (its time,
/// the peak, the level then).
pub fn load_fell(timeline: &[Second]) -> Option<(u64, f64, f64)> {
    let (peak_at, peak) = timeline
        .iter()
        .enumerate()
        .map(|(i, s)| (i, level(s)))
        .fold(None, |best: Option<(usize, f64)>, (i, l)| match best {
            Some((_, b)) if b >= l => best,
            _ => Some((i, l)),
        })?;
    if peak <= 0.0 {
        return None;
    }
    timeline[peak_at..]
        .iter()
        .find(|s| level(s) < peak / 2.0)
        .map(|s| (s.t, peak, level(s)))
}

/// The finding, for a run that watched its cluster and whose load fell during it.
pub fn after_the_load_fell(run: &RunView) -> Option<Finding> {
    let c = run.cluster.as_ref()?;
    let (fell_at, peak, then) = load_fell(&run.timeline)?;
    let unit = if run.arrivals.is_some() {
        "arrivals/s"
    } else {
        "users"
    };
    let fell = format!("the load fell at +{fell_at} s (from {peak:.0} to {then:.0} {unit})");
    let down = c
        .scaling_events
        .iter()
        .find(|e| e.to < e.from && e.t_s >= fell_at as f64);
    Some(match down {
        Some(e) => Finding::new(
            TITLE,
            Verdict::Supported,
            format!(
                "at {}, {fell}; the HPA first scaled down {:.0} s later (+{:.0} s, {} -> {} replicas): \
                 its scale-down stabilisation window (behavior.scaleDown.stabilizationWindowSeconds, \
                 300 s by default) keeps the replicas that long after the load falls",
                run.label,
                e.t_s - fell_at as f64,
                e.t_s,
                e.from,
                e.to
            ),
        ),
        None => {
            let after = run.duration_s - fell_at as f64;
            Finding::new(
                TITLE,
                Verdict::NoData,
                format!(
                    "at {}, {fell} and the HPA did not scale down in the {after:.0} s the run \
                     lasted after that: its scale-down stabilisation window (300 s by default) is \
                     longer; a last stage longer than the window shows the scale-down",
                    run.label
                ),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::cluster::{ClusterRecord, ScalingEventRecord};

    fn second(t: u64, users: u64) -> Second {
        Second {
            t,
            users,
            ..Default::default()
        }
    }

    fn event(t_s: f64, from: u32, to: u32) -> ScalingEventRecord {
        ScalingEventRecord {
            t_s,
            from,
            to,
            reason: "cpu".into(),
        }
    }

    fn run(events: Vec<ScalingEventRecord>, duration_s: f64) -> RunView {
        RunView {
            label: "stages".into(),
            duration_s,
            // Up to 300 users by 60 s, held until 200 s, then down to 50.
            timeline: (1..=duration_s as u64)
                .map(|t| second(t, if t <= 200 { (t * 5).min(300) } else { 50 }))
                .collect(),
            cluster: Some(ClusterRecord {
                scaling_events: events,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_load_falls_when_it_drops_below_half_its_peak() {
        let r = run(vec![], 600.0);
        assert_eq!(load_fell(&r.timeline), Some((201, 300.0, 50.0)));
        assert_eq!(load_fell(&[second(1, 0)]), None);
        assert_eq!(
            load_fell(&(1..9).map(|t| second(t, 10)).collect::<Vec<_>>()),
            None
        );
        // The open model's level is its intended arrivals.
        let open: Vec<Second> = [100.0, 100.0, 20.0]
            .iter()
            .enumerate()
            .map(|(i, r)| Second {
                t: i as u64 + 1,
                users: 7,
                intended: Some(*r),
                ..Default::default()
            })
            .collect();
        assert_eq!(load_fell(&open), Some((3, 100.0, 20.0)));
    }

    #[test]
    fn the_time_to_scale_down_is_measured_from_the_fall() {
        let r = run(vec![event(30.0, 2, 6), event(512.0, 6, 2)], 600.0);
        let f = after_the_load_fell(&r).unwrap();
        assert_eq!(f.verdict, Verdict::Supported);
        assert!(
            f.evidence
                .contains("the load fell at +201 s (from 300 to 50 users); the HPA first scaled down 311 s later (+512 s, 6 -> 2 replicas)"),
            "{}",
            f.evidence
        );
    }

    #[test]
    fn a_run_that_ended_inside_the_window_says_so() {
        let r = run(vec![event(30.0, 2, 6)], 300.0);
        let f = after_the_load_fell(&r).unwrap();
        assert_eq!(f.verdict, Verdict::NoData);
        assert!(
            f.evidence.contains("in the 99 s the run lasted"),
            "{}",
            f.evidence
        );
        let mut no_cluster = r;
        no_cluster.cluster = None;
        assert_eq!(after_the_load_fell(&no_cluster), None);
    }
}
