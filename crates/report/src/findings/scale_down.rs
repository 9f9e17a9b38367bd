//! How long the HPA took to scale down after the load fell: its scale-down stabilisation
//! window (`behavior.scaleDown.stabilizationWindowSeconds`, 300 s by default) keeps the
//! replicas that long, which a run with stages going down can show.

use super::moment::{self, full_seconds, level};
use super::{Finding, Verdict};
use crate::view::RunView;
use iris_record::cluster::ScalingEventRecord;

const TITLE: &str = "Scale-down after the load fell";

/// A fall of the load while the run still ran: when it began (seconds since the start) and
/// the levels (users, or arrivals/s) before and after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fall {
    pub at_s: f64,
    pub from: f64,
    pub to: f64,
}

/// When the load fell during the run, if it did. With stages, a fall is a stage going down
/// (it starts falling when that stage starts), before the run ended; without, the first full
/// second after the peak below half of it. The end of the run (its users stopped, its last
/// second partial) is never a fall.
pub fn load_fell(run: &RunView) -> Option<Fall> {
    if run.stages.is_empty() {
        timeline_fall(run)
    } else {
        stage_fall(run)
    }
}

fn stage_fall(run: &RunView) -> Option<Fall> {
    let (mut t, mut before) = (0.0, run.start_level());
    for stage in &run.stages {
        if stage.target < before {
            return (t < run.duration_s).then_some(Fall {
                at_s: t,
                from: before,
                to: stage.target,
            });
        }
        t += stage.duration_s;
        before = stage.target;
    }
    None
}

fn timeline_fall(run: &RunView) -> Option<Fall> {
    let seconds: Vec<_> = full_seconds(run).collect();
    let (peak_at, peak) = seconds
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
    seconds[peak_at..]
        .iter()
        .find(|s| level(s) < peak / 2.0)
        .map(|s| Fall {
            at_s: s.t as f64,
            from: peak,
            to: level(s),
        })
}

/// The HPA's first scale-down at or after the fall.
pub fn first_down_after(run: &RunView, fall: &Fall) -> Option<ScalingEventRecord> {
    run.cluster
        .as_ref()?
        .scaling_events
        .iter()
        .find(|e| e.to < e.from && e.t_s >= fall.at_s)
        .cloned()
}

/// Phase 6.3's sentence on scaling down, from the first scale-down, the fall and the first
/// scale-down at or after it; never a negative time.
pub fn scale_down_note(
    first_down_s: Option<f64>,
    fall: Option<Fall>,
    down_after_fall: Option<&ScalingEventRecord>,
) -> Option<String> {
    let first = first_down_s.map(|d| format!("Scaled down first at +{d:.0} s"));
    let Some(fall) = fall else {
        return first.map(|f| f + ".");
    };
    let fell = format!("the load fell (+{:.0} s)", fall.at_s);
    Some(match (first, down_after_fall) {
        (Some(first), Some(e)) if Some(e.t_s) == first_down_s => {
            format!("{first}, {:.0} s after {fell}.", e.t_s - fall.at_s)
        }
        (Some(first), Some(e)) => format!(
            "{first}, before {fell}; after it first at +{:.0} s, {:.0} s later.",
            e.t_s,
            e.t_s - fall.at_s
        ),
        (Some(first), None) => {
            format!("{first}, before {fell}; not again after it before the run ended.")
        }
        (None, _) => format!("No scale-down after {fell} before the run ended."),
    })
}

/// The finding, for a run that watched its cluster and whose load fell during it.
pub fn after_the_load_fell(run: &RunView) -> Option<Finding> {
    run.cluster.as_ref()?;
    let fall = load_fell(run)?;
    let fell = format!(
        "the load fell at +{:.0} s (from {:.0} to {:.0} {})",
        fall.at_s,
        fall.from,
        fall.to,
        run.unit()
    );
    let at = moment::run(run);
    Some(match first_down_after(run, &fall) {
        Some(e) => Finding::new(
            TITLE,
            Verdict::Supported,
            format!(
                "{at}, {fell}; the HPA first scaled down {:.0} s later (+{:.0} s, {} -> {} replicas): \
                 its scale-down stabilisation window (behavior.scaleDown.stabilizationWindowSeconds, \
                 300 s by default) keeps the replicas that long after the load falls",
                e.t_s - fall.at_s,
                e.t_s,
                e.from,
                e.to
            ),
        ),
        None => {
            let after = (run.duration_s - fall.at_s).max(0.0);
            Finding::new(
                TITLE,
                Verdict::NoData,
                format!(
                    "{at}, {fell} and the HPA did not scale down in the {after:.0} s the run \
                     lasted after that: its scale-down stabilisation window (300 s by default) is \
                     longer; a last stage longer than the window shows the scale-down"
                ),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Second;
    use iris_record::cluster::ClusterRecord;
    use iris_record::shape::StageRecord;

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

    fn stage(duration_s: f64, target: f64) -> StageRecord {
        StageRecord { duration_s, target }
    }

    /// A staged run watched on a cluster: `users(t)` at the end of each second, and the last,
    /// partial second (0.1 s, its users stopped) that every run ends with.
    fn staged(
        stages: Vec<StageRecord>,
        users: impl Fn(u64) -> u64,
        events: Vec<ScalingEventRecord>,
    ) -> RunView {
        let duration_s = stages.iter().map(|s| s.duration_s).sum::<f64>() + 0.1;
        let full = duration_s as u64;
        RunView {
            label: "stages".into(),
            duration_s,
            stages,
            timeline: (1..=full)
                .map(|t| second(t, users(t)))
                .chain([second(full + 1, 0)])
                .collect(),
            cluster: Some(ClusterRecord {
                scaling_events: events,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// An open-model run without stages: the arrivals due in each second.
    fn open(duration_s: f64, intended: &[f64]) -> RunView {
        RunView {
            duration_s,
            arrivals: Some(Default::default()),
            timeline: (1..)
                .zip(intended)
                .map(|(t, r)| Second {
                    t,
                    users: 7,
                    intended: Some(*r),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Up to 300 users by 60 s, held until 200 s, then down to 50 until 600 s.
    fn up_and_down(events: Vec<ScalingEventRecord>, length: f64) -> RunView {
        staged(
            vec![
                stage(60.0, 300.0),
                stage(140.0, 300.0),
                stage(0.0, 50.0),
                stage(length - 200.0, 50.0),
            ],
            |t| if t <= 200 { (t * 5).min(300) } else { 50 },
            events,
        )
    }

    /// The run: 100 users, then 300, no stage going down; the cluster scaled up only.
    fn only_up() -> RunView {
        staged(
            vec![
                stage(20.0, 100.0),
                stage(100.0, 100.0),
                stage(20.0, 300.0),
                stage(100.0, 300.0),
            ],
            |t| match t {
                0..=20 => t * 5,
                21..=120 => 100,
                121..=140 => 100 + (t - 120) * 10,
                _ => 300,
            },
            vec![event(25.0, 2, 4), event(130.0, 4, 9)],
        )
    }

    #[test]
    fn the_load_falls_when_a_stage_goes_down() {
        let r = up_and_down(vec![], 600.0);
        assert_eq!(
            load_fell(&r),
            Some(Fall {
                at_s: 200.0,
                from: 300.0,
                to: 50.0
            })
        );
        // A ramp down falls from the stage's start, whatever its length.
        let r = staged(
            vec![stage(10.0, 100.0), stage(10.0, 40.0)],
            |t| if t <= 10 { t * 10 } else { 100 - (t - 10) * 6 },
            vec![],
        );
        assert_eq!(
            load_fell(&r).map(|f| (f.at_s, f.from, f.to)),
            Some((10.0, 100.0, 40.0))
        );
    }

    #[test]
    fn the_end_of_a_run_is_not_a_fall() {
        // Issue 25: the last, partial second (users 0) read as the load falling.
        let r = only_up();
        assert_eq!(r.timeline.last().map(|s| (s.t, s.users)), Some((241, 0)));
        assert_eq!(load_fell(&r), None);
        assert_eq!(after_the_load_fell(&r), None);
        // Nor of a run without stages, closed or open.
        let mut plain = only_up();
        plain.stages.clear();
        assert_eq!(load_fell(&plain), None);
        // The open model's last, partial second has few arrivals due.
        assert_eq!(load_fell(&open(3.2, &[100.0, 100.0, 100.0, 20.0])), None);
        // A run interrupted before its stage going down never fell.
        let mut cut = up_and_down(vec![], 600.0);
        cut.duration_s = 150.3;
        cut.timeline.truncate(151);
        assert_eq!(load_fell(&cut), None);
    }

    #[test]
    fn without_stages_the_load_falls_below_half_its_peak_while_the_run_runs() {
        let mut r = up_and_down(vec![], 600.0);
        r.stages.clear();
        assert_eq!(load_fell(&r).map(|f| (f.at_s, f.to)), Some((201.0, 50.0)));
        // The open model's level is its intended arrivals.
        let open = open(4.0, &[100.0, 100.0, 20.0, 20.0]);
        assert_eq!(load_fell(&open).map(|f| (f.at_s, f.to)), Some((3.0, 20.0)));
    }

    #[test]
    fn the_time_to_scale_down_is_measured_from_the_fall() {
        // A scale-down before the fall is not the one after it.
        let r = up_and_down(
            vec![event(30.0, 2, 6), event(100.0, 6, 5), event(512.0, 5, 2)],
            600.0,
        );
        let f = after_the_load_fell(&r).unwrap();
        assert_eq!(f.verdict, Verdict::Supported);
        assert!(
            f.evidence
                .contains("at 300 -> 50 users, the load fell at +200 s (from 300 to 50 users); the HPA first scaled down 312 s later (+512 s, 5 -> 2 replicas)"),
            "{}",
            f.evidence
        );
    }

    #[test]
    fn the_scaling_note_never_reads_a_negative_time() {
        let fall = Some(Fall {
            at_s: 200.0,
            from: 300.0,
            to: 50.0,
        });
        let down = |t| event(t, 6, 2);
        assert_eq!(scale_down_note(None, None, None), None);
        assert_eq!(
            scale_down_note(Some(80.0), None, None).as_deref(),
            Some("Scaled down first at +80 s.")
        );
        assert_eq!(
            scale_down_note(Some(512.0), fall, Some(&down(512.0))).as_deref(),
            Some("Scaled down first at +512 s, 312 s after the load fell (+200 s).")
        );
        assert_eq!(
            scale_down_note(Some(80.0), fall, Some(&down(512.0))).as_deref(),
            Some(
                "Scaled down first at +80 s, before the load fell (+200 s); after it first at +512 s, 312 s later."
            )
        );
        assert_eq!(
            scale_down_note(Some(80.0), fall, None).as_deref(),
            Some(
                "Scaled down first at +80 s, before the load fell (+200 s); not again after it before the run ended."
            )
        );
        assert_eq!(
            scale_down_note(None, fall, None).as_deref(),
            Some("No scale-down after the load fell (+200 s) before the run ended.")
        );
    }

    #[test]
    fn a_run_that_ended_inside_the_window_says_so() {
        let r = up_and_down(vec![event(30.0, 2, 6)], 300.0);
        let f = after_the_load_fell(&r).unwrap();
        assert_eq!(f.verdict, Verdict::NoData);
        assert!(
            f.evidence.contains("in the 100 s the run lasted"),
            "{}",
            f.evidence
        );
        let mut no_cluster = r;
        no_cluster.cluster = None;
        assert_eq!(after_the_load_fell(&no_cluster), None);
    }
}
