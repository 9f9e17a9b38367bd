//! Findings about a moment of a run name that moment's load: the users (or arrivals/s) of the
//! seconds it covers, not the run's peak, and never the last, partial second in which the
//! users were already stopping.

use crate::view::{RunView, Second};

/// The load asked for in a second: arrivals due in the open model, users otherwise.
pub fn level(s: &Second) -> f64 {
    s.intended.unwrap_or(s.users as f64)
}

/// The seconds the run lasted in full: the last point of a timeline closes the part of a
/// second in which the run stopped (its users already gone), which says nothing of the load.
pub fn full_seconds(run: &RunView) -> impl Iterator<Item = &Second> {
    let end = run.duration_s;
    run.timeline.iter().filter(move |s| s.t as f64 <= end)
}

/// `at 100 users`, `at 100 to 300 users`, `at 200 arrivals/s`: the load at the end of the full
/// seconds that overlap `[from, to]` (seconds since the start; a point's users are those at
/// the end of its second); the run's load when none does.
pub fn at(run: &RunView, from: f64, to: f64) -> String {
    let levels = full_seconds(run)
        .filter(|s| s.t as f64 >= from && (s.t as f64 - 1.0) < to)
        .map(level)
        .fold(None, |acc: Option<(f64, f64)>, l| match acc {
            Some((lo, hi)) => Some((lo.min(l), hi.max(l))),
            None => Some((l, l)),
        });
    let unit = run.unit();
    match levels {
        Some((lo, hi)) if (hi - lo).abs() < 0.5 => format!("at {lo:.0} {unit}"),
        Some((lo, hi)) => format!("at {lo:.0} to {hi:.0} {unit}"),
        None => format!("at {}", run.load_text()),
    }
}

/// [`at`] one moment.
pub fn at_second(run: &RunView, t: f64) -> String {
    at(run, t, t)
}

/// The whole run: `at 150 users`, `at 100 -> 300 users` for stages.
pub fn run(run: &RunView) -> String {
    format!("at {}", run.load_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::ArrivalView;
    use iris_record::shape::StageRecord;

    fn staged() -> RunView {
        RunView {
            users: 300,
            duration_s: 40.2,
            stages: vec![
                StageRecord {
                    duration_s: 20.0,
                    target: 100.0,
                },
                StageRecord {
                    duration_s: 20.0,
                    target: 300.0,
                },
            ],
            // 5 users more each second to 100, then 10 more each second to 300, then the
            // partial second of the stop.
            timeline: (1..=41)
                .map(|t| Second {
                    t,
                    users: match t {
                        41 => 0,
                        t if t <= 20 => t * 5,
                        t => 100 + (t - 20) * 10,
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_moment_is_named_by_its_own_load() {
        let r = staged();
        assert_eq!(at_second(&r, 10.0), "at 50 users");
        assert_eq!(at(&r, 19.5, 22.0), "at 100 to 120 users");
        assert_eq!(run(&r), "at 100 -> 300 users");
        // The partial last second (users already stopped) is not a moment of the load.
        assert_eq!(at(&r, 40.0, 41.0), "at 300 users");
        assert_eq!(at_second(&r, 99.0), "at 100 -> 300 users");
        assert_eq!(full_seconds(&r).count(), 40);
    }

    #[test]
    fn the_open_model_names_arrivals() {
        let r = RunView {
            users: 500,
            duration_s: 3.0,
            arrivals: Some(ArrivalView {
                rate: 50.0,
                ..Default::default()
            }),
            stages: vec![StageRecord {
                duration_s: 3.0,
                target: 200.0,
            }],
            timeline: (1..=3)
                .map(|t| Second {
                    t,
                    users: 7,
                    intended: Some(50.0 * t as f64),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        assert_eq!(at_second(&r, 1.5), "at 100 arrivals/s");
        assert_eq!(run(&r), "at 50 -> 200 arrivals/s");
    }
}
