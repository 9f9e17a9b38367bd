//! The comparison tables of Phase 6.1: the guide's own four rows and an extended set, one column
//! per run, plus a Difference column when there are exactly two runs.

use super::table::Table;
use super::view::RunView;

/// How a difference between two runs is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diff {
    /// Relative change in %: times and rates.
    Percent,
    /// Absolute change: counts of pods.
    Absolute,
    /// Change in percentage points: rates that are already percentages.
    Points,
}

struct Metric {
    name: &'static str,
    value: fn(&RunView) -> Option<f64>,
    format: fn(f64) -> String,
    diff: Diff,
    /// Said in a cell when `value` is None.
    missing: &'static str,
}

const NO_CLUSTER: &str = "no cluster data";

impl Metric {
    /// Cluster metrics are the ones with their own words for a missing value (the others say
    /// "-", or that the run had no steady state).
    fn is_cluster(&self) -> bool {
        !matches!(self.missing, "-" | NO_STEADY_STATE)
    }
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}
fn secs(v: f64) -> String {
    format!("{v:.0} s")
}
fn pct(v: f64) -> String {
    format!("{v:.2}%")
}
fn rate(v: f64) -> String {
    format!("{v:.1}")
}
fn count(v: f64) -> String {
    format!("{v:.0}")
}

const GUIDE_ROWS: [Metric; 4] = [
    Metric {
        name: "Avg Response Time",
        value: |r| Some(r.avg_ms),
        format: ms,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "Max Pods Scaled",
        value: |r| r.cluster.as_ref().map(|c| f64::from(c.max_pods)),
        format: count,
        diff: Diff::Absolute,
        missing: NO_CLUSTER,
    },
    Metric {
        name: "Failure Rate",
        value: |r| Some(r.failure_rate * 100.0),
        format: pct,
        diff: Diff::Points,
        missing: "-",
    },
    Metric {
        name: "RPS Peak",
        value: |r| Some(r.peak_rps),
        format: rate,
        diff: Diff::Percent,
        missing: "-",
    },
];

const NO_STEADY_STATE: &str = "no steady state";

const EXTENDED_ROWS: [Metric; 18] = [
    Metric {
        name: "Total Requests",
        value: |r| Some(r.requests as f64),
        format: count,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "Average RPS",
        value: |r| Some(r.avg_rps),
        format: rate,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "Theoretical Max RPS",
        value: |r| r.theoretical_max_rps,
        format: rate,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "p50 Response Time",
        value: |r| Some(r.p50_ms),
        format: ms,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "p95 Response Time",
        value: |r| Some(r.p95_ms),
        format: ms,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "p99 Response Time",
        value: |r| Some(r.p99_ms),
        format: ms,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "Max Response Time",
        value: |r| Some(r.max_ms),
        format: ms,
        diff: Diff::Percent,
        missing: "-",
    },
    Metric {
        name: "Steady-state Requests",
        value: |r| r.steady_state.as_ref().map(|s| s.requests as f64),
        format: count,
        diff: Diff::Percent,
        missing: NO_STEADY_STATE,
    },
    Metric {
        name: "Steady-state RPS",
        value: |r| r.steady_state.as_ref().map(|s| s.rps),
        format: rate,
        diff: Diff::Percent,
        missing: NO_STEADY_STATE,
    },
    Metric {
        name: "Steady-state Failure Rate",
        value: |r| r.steady_state.as_ref().map(|s| s.failure_ratio() * 100.0),
        format: pct,
        diff: Diff::Points,
        missing: NO_STEADY_STATE,
    },
    Metric {
        name: "Steady-state p50 Response Time",
        value: |r| r.steady_state.as_ref().and_then(|s| s.p50_ms),
        format: ms,
        diff: Diff::Percent,
        missing: NO_STEADY_STATE,
    },
    Metric {
        name: "Steady-state p95 Response Time",
        value: |r| r.steady_state.as_ref().and_then(|s| s.p95_ms),
        format: ms,
        diff: Diff::Percent,
        missing: NO_STEADY_STATE,
    },
    Metric {
        name: "Steady-state p99 Response Time",
        value: |r| r.steady_state.as_ref().and_then(|s| s.p99_ms),
        format: ms,
        diff: Diff::Percent,
        missing: NO_STEADY_STATE,
    },
    Metric {
        name: "Time to First Scale-up",
        value: |r| r.cluster.as_ref().and_then(|c| c.first_scale_up_s),
        format: secs,
        diff: Diff::Percent,
        missing: "no scale-up",
    },
    Metric {
        name: "Pod Startup Latency (median)",
        value: |r| r.cluster.as_ref().and_then(|c| c.pod_startup_median_s),
        format: secs,
        diff: Diff::Percent,
        missing: "no new pods",
    },
    Metric {
        name: "Pod Startup Latency (max)",
        value: |r| r.cluster.as_ref().and_then(|c| c.pod_startup_max_s),
        format: secs,
        diff: Diff::Percent,
        missing: "no new pods",
    },
    Metric {
        name: "Peak CPU (% of request)",
        value: |r| r.cluster.as_ref().and_then(|c| c.peak_cpu_pct),
        format: |v| format!("{v:.0}%"),
        diff: Diff::Points,
        missing: "no metrics",
    },
    Metric {
        name: "Peak Memory (% of limit)",
        value: |r| super::autoscaling::memory::memory(r).and_then(|m| m.peak_pct_of_limit),
        format: |v| format!("{v:.0}%"),
        diff: Diff::Points,
        missing: "no limit or metrics",
    },
];

/// The note under a table with a Difference column.
pub const DIFFERENCE_NOTE: &str = "Difference: the second run against the first; in % for times and rates, \
absolute for pods, in percentage points (pp) for failure rates and CPU.";

/// Column headers: `150 Users`, the load's path for stages (`100 -> 300 users`) or its rate
/// in the open model (`200 arrivals/s`), with the label when two runs would share a header.
pub fn column_names(runs: &[RunView]) -> Vec<String> {
    let name = |r: &RunView| {
        if r.stages.is_empty() && r.arrivals.is_none() {
            format!("{} Users", r.users)
        } else {
            r.load_text()
        }
    };
    runs.iter()
        .map(|r| {
            let own = name(r);
            let same = runs.iter().filter(|o| name(o) == own).count() > 1;
            if same {
                format!("{own} ({})", r.label)
            } else {
                own
            }
        })
        .collect()
}

/// The guide's Phase 6.1 table.
pub fn guide_table(runs: &[RunView]) -> Table {
    table(runs, &GUIDE_ROWS)
}

/// More rows for the same runs.
pub fn extended_table(runs: &[RunView]) -> Table {
    table(runs, &EXTENDED_ROWS)
}

fn table(runs: &[RunView], metrics: &[Metric]) -> Table {
    let with_diff = runs.len() == 2;
    let mut headers = vec!["Metric".to_string()];
    headers.extend(column_names(runs));
    if with_diff {
        headers.push("Difference".into());
    }
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|m| {
            let values: Vec<Option<f64>> = runs.iter().map(|r| (m.value)(r)).collect();
            let mut row = vec![m.name.to_string()];
            row.extend(values.iter().zip(runs).map(|(v, r)| match v {
                Some(v) => (m.format)(*v),
                // A cluster metric of a run that watched no cluster: say that, not "none".
                None if m.is_cluster() && r.cluster.is_none() => NO_CLUSTER.to_string(),
                None => m.missing.to_string(),
            }));
            if with_diff {
                row.push(difference(values[0], values[1], m.diff));
            }
            row
        })
        .collect();
    Table::new(headers, rows)
}

fn difference(a: Option<f64>, b: Option<f64>, kind: Diff) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return "-".into();
    };
    match kind {
        Diff::Percent if a == 0.0 => "n/a".into(),
        Diff::Percent => format!("{:+.1}%", (b - a) / a * 100.0),
        Diff::Absolute => format!("{:+.0}", b - a),
        Diff::Points => format!("{:+.2} pp", b - a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::cluster::ClusterRecord;

    fn run(users: u64, avg: f64, pods: Option<u32>, failure_rate: f64, peak: f64) -> RunView {
        RunView {
            users,
            label: format!("run{users}"),
            avg_ms: avg,
            failure_rate,
            peak_rps: peak,
            cluster: pods.map(|max_pods| ClusterRecord {
                max_pods,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn two_runs_get_the_guides_table_with_differences() {
        let t = guide_table(&[
            run(150, 245.0, Some(6), 0.0028, 304.2),
            run(300, 456.0, Some(12), 0.0261, 448.7),
        ]);
        assert_eq!(
            t.headers,
            ["Metric", "150 Users", "300 Users", "Difference"]
        );
        assert_eq!(
            t.rows[0],
            ["Avg Response Time", "245 ms", "456 ms", "+86.1%"]
        );
        assert_eq!(t.rows[1], ["Max Pods Scaled", "6", "12", "+6"]);
        assert_eq!(t.rows[2], ["Failure Rate", "0.28%", "2.61%", "+2.33 pp"]);
        assert_eq!(t.rows[3], ["RPS Peak", "304.2", "448.7", "+47.5%"]);
        assert!(
            t.markdown.starts_with(
                "| Metric | 150 Users | 300 Users | Difference |\n|---|---|---|---|\n"
            )
        );
    }

    #[test]
    fn one_run_has_no_difference_and_missing_cluster_data_is_said() {
        let t = guide_table(&[run(150, 20.0, None, 0.0, 100.0)]);
        assert_eq!(t.headers, ["Metric", "150 Users"]);
        assert_eq!(t.rows[1], ["Max Pods Scaled", "no cluster data"]);
        let t = extended_table(&[
            run(150, 20.0, None, 0.0, 100.0),
            run(300, 20.0, Some(2), 0.0, 1.0),
        ]);
        let scale_up = t
            .rows
            .iter()
            .find(|r| r[0] == "Time to First Scale-up")
            .unwrap();
        assert_eq!(scale_up[1..], ["no cluster data", "no scale-up", "-"]);
    }

    #[test]
    fn five_runs_get_five_columns() {
        let runs: Vec<RunView> = (1..=5)
            .map(|i| run(i * 100, 10.0, None, 0.0, 1.0))
            .collect();
        let t = extended_table(&runs);
        assert_eq!(t.headers.len(), 6);
        assert!(t.rows.iter().all(|r| r.len() == 6));
    }

    #[test]
    fn same_user_counts_are_told_apart_by_label() {
        assert_eq!(
            column_names(&[run(150, 1.0, None, 0.0, 1.0), run(150, 1.0, None, 0.0, 1.0)]),
            ["150 Users (run150)", "150 Users (run150)"]
        );
    }

    #[test]
    fn staged_and_open_runs_are_named_by_their_load_not_their_peak() {
        use iris_record::shape::StageRecord;
        let stage = |target| StageRecord {
            duration_s: 10.0,
            target,
        };
        let mut staged = run(300, 1.0, None, 0.0, 1.0);
        staged.stages = vec![stage(100.0), stage(100.0), stage(300.0)];
        let mut open = run(500, 1.0, None, 0.0, 1.0);
        open.arrivals = Some(crate::view::ArrivalView {
            rate: 200.0,
            ..Default::default()
        });
        assert_eq!(
            column_names(&[run(300, 1.0, None, 0.0, 1.0), staged, open]),
            ["300 Users", "100 -> 300 users", "200 arrivals/s"]
        );
    }

    #[test]
    fn differences_of_zero_baselines_are_not_divided() {
        assert_eq!(difference(Some(0.0), Some(5.0), Diff::Percent), "n/a");
        assert_eq!(difference(None, Some(5.0), Diff::Absolute), "-");
    }
}
