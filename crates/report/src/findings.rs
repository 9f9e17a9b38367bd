//! Phase 6.2: bottleneck findings, each computed from the runs with the evidence that
//! supports it. The guide lists four usual suspects; when the data does not support one, the
//! finding says so instead of repeating it.

use serde::Serialize;

use super::view::{RunView, Second};

mod keep_alive;
mod memory;
mod moment;
mod scale_down;
mod setup;
pub use scale_down::{Fall, first_down_after, load_fell, scale_down_note};
pub use setup::{SLOW_SETUP_MS, SLOW_SETUP_RATIO};

/// How far the data supports a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Supported,
    NotSupported,
    /// The runs lack the data to tell (no cluster data, no server timings).
    NoData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub title: String,
    pub verdict: Verdict,
    pub evidence: String,
}

impl Finding {
    fn new(title: &str, verdict: Verdict, evidence: String) -> Self {
        Self {
            title: title.into(),
            verdict,
            evidence,
        }
    }
}

/// The window after a scale-up in which failures count as "during scaling".
pub const SCALING_WINDOW_S: f64 = 40.0;

/// All findings for runs ordered by users.
pub fn findings(runs: &[RunView]) -> Vec<Finding> {
    let mut out = vec![
        model_inference(runs),
        pod_startup(runs),
        cpu_saturation(runs),
        network_and_queueing(runs),
        setup::connection_setup(runs),
        memory::memory_pressure(runs),
    ];
    out.extend(runs.iter().filter_map(hit_max_replicas));
    out.extend(runs.iter().filter_map(failures_after_scale_up));
    out.extend(runs.iter().filter_map(keep_alive::keep_alive_imbalance));
    out.extend(runs.iter().filter_map(load_was_the_limit));
    out.extend(runs.iter().filter_map(scale_down::after_the_load_fell));
    out
}

/// Suspect 1: model inference slows down under load.
fn model_inference(runs: &[RunView]) -> Finding {
    const TITLE: &str = "Model inference";
    let timed: Vec<(&RunView, _)> = runs
        .iter()
        .filter_map(|r| r.timing.as_ref().map(|t| (r, t)))
        .collect();
    match timed.as_slice() {
        [] => Finding::new(
            TITLE,
            Verdict::NoData,
            "no server-reported timings (`inference_time`) in these runs".into(),
        ),
        [(r, t)] => {
            let (model, _, _) = t.shares();
            let verdict = if model >= 0.3 {
                Verdict::Supported
            } else {
                Verdict::NotSupported
            };
            Finding::new(
                TITLE,
                verdict,
                format!(
                    "at {}, inference took {:.1} ms (p50) of {:.1} ms end to end: {:.0}% of the median latency",
                    r.load_text(),
                    t.inference_p50_ms,
                    t.e2e_p50_ms,
                    model * 100.0
                ),
            )
        }
        [(first, a), .., (last, b)] => {
            let ratio = if a.inference_p95_ms > 0.0 {
                b.inference_p95_ms / a.inference_p95_ms
            } else {
                1.0
            };
            if ratio >= 1.5 {
                Finding::new(
                    TITLE,
                    Verdict::Supported,
                    format!(
                        "model inference p95 rose {ratio:.1}x from {} to {} ({:.1} ms -> {:.1} ms)",
                        first.load_text(),
                        last.load_text(),
                        a.inference_p95_ms,
                        b.inference_p95_ms
                    ),
                )
            } else {
                Finding::new(
                    TITLE,
                    Verdict::NotSupported,
                    format!(
                        "model inference p95 stayed at {:.1} ms -> {:.1} ms from {} to {} while end-to-end p95 went {:.0} ms -> {:.0} ms: the model is not what slowed requests down",
                        a.inference_p95_ms,
                        b.inference_p95_ms,
                        first.load_text(),
                        last.load_text(),
                        a.e2e_p95_ms,
                        b.e2e_p95_ms
                    ),
                )
            }
        }
    }
}

/// p95 over the seconds in [from, to).
fn window_p95(timeline: &[Second], from: f64, to: f64) -> Option<f64> {
    timeline
        .iter()
        .filter(|s| (s.t as f64) >= from && (s.t as f64) < to)
        .filter_map(|s| s.p95_ms)
        .reduce(f64::max)
}

fn median_p95(timeline: &[Second], from: f64, to: f64) -> Option<f64> {
    let mut v: Vec<f64> = timeline
        .iter()
        .filter(|s| (s.t as f64) >= from && (s.t as f64) < to)
        .filter_map(|s| s.p95_ms)
        .collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Suspect 2: new pods take long to become ready, and latency suffers until they do.
fn pod_startup(runs: &[RunView]) -> Finding {
    const TITLE: &str = "Pod startup time";
    let Some((run, cluster)) = runs
        .iter()
        .rev()
        .filter_map(|r| r.cluster.as_ref().map(|c| (r, c)))
        .find(|(_, c)| c.pod_startup_median_s.is_some())
    else {
        let verdict = Verdict::NoData;
        let why = if runs.iter().any(|r| r.cluster.is_some()) {
            "no pod was started during the runs"
        } else {
            "no cluster data in these runs"
        };
        return Finding::new(TITLE, verdict, why.into());
    };
    let median = cluster.pod_startup_median_s.unwrap_or_default();
    let max = cluster.pod_startup_max_s.unwrap_or(median);
    let first_new = cluster
        .pods_started
        .iter()
        .map(|p| p.created_s)
        .reduce(f64::min);
    let first_ready = cluster
        .pods_started
        .iter()
        .filter_map(|p| p.observed_ready_s)
        .reduce(f64::min);
    let (during, after) = match (first_new, first_ready) {
        (Some(c), Some(r)) => (
            window_p95(&run.timeline, c, r).map(|d| (d, c, r)),
            median_p95(&run.timeline, r, f64::MAX),
        ),
        _ => (None, None),
    };
    let mut evidence = format!(
        "at {}, new pods took {median:.0} s (median, max {max:.0} s) to become ready",
        run.load_text()
    );
    let slow_latency = match (during, after) {
        (Some((d, from, to)), Some(a)) => {
            evidence.push_str(&format!(
                "; p95 latency reached {d:.0} ms while they started (+{from:.0} s to +{to:.0} s, {}) and was {a:.0} ms (median) after",
                moment::at(run, from, to)
            ));
            d > 1.5 * a
        }
        _ => false,
    };
    let verdict = if median >= 20.0 || slow_latency {
        Verdict::Supported
    } else {
        Verdict::NotSupported
    };
    Finding::new(TITLE, verdict, evidence)
}

/// `at 100 users (+42 s)`: the load at the first full second that `is` is true of, or the
/// run's load (`at 100 -> 300 users`) when no second says (the figure came from elsewhere).
fn when(run: &RunView, is: impl Fn(&Second) -> bool) -> String {
    match moment::full_seconds(run).find(|s| is(s)) {
        Some(s) => format!("{} (+{} s)", moment::at_second(run, s.t as f64), s.t),
        None => moment::run(run),
    }
}

/// Suspect 3: CPU saturation against the HPA target.
fn cpu_saturation(runs: &[RunView]) -> Finding {
    const TITLE: &str = "CPU saturation";
    let Some((run, peak, target)) = runs.iter().rev().find_map(|r| {
        let c = r.cluster.as_ref()?;
        Some((r, c.peak_cpu_pct?, c.cpu_target_pct))
    }) else {
        return Finding::new(
            TITLE,
            Verdict::NoData,
            "no pod CPU data (cluster not watched, or metrics-server gave none)".into(),
        );
    };
    let at = when(run, |s| s.cpu_pct.is_some_and(|c| c >= peak - 0.5));
    match target {
        Some(t) if peak >= f64::from(t) => Finding::new(
            TITLE,
            Verdict::Supported,
            format!("{at}, CPU peaked at {peak:.0}% of request against the HPA target of {t}%"),
        ),
        Some(t) => Finding::new(
            TITLE,
            Verdict::NotSupported,
            format!("{at}, CPU peaked at {peak:.0}% of request, below the HPA target of {t}%"),
        ),
        None => Finding::new(
            TITLE,
            Verdict::NoData,
            format!("{at}, CPU peaked at {peak:.0}% of request; the HPA target is unknown"),
        ),
    }
}

/// Suspect 4: the network and queueing in front of the handler.
fn network_and_queueing(runs: &[RunView]) -> Finding {
    const TITLE: &str = "Network and queueing";
    let Some((run, t)) = runs
        .iter()
        .rev()
        .find_map(|r| r.timing.as_ref().map(|t| (r, t)))
    else {
        return Finding::new(
            TITLE,
            Verdict::NoData,
            "no server-reported timings (`total_time`) in these runs".into(),
        );
    };
    let (_, _, network) = t.shares();
    let verdict = if network >= 0.5 {
        Verdict::Supported
    } else {
        Verdict::NotSupported
    };
    Finding::new(
        TITLE,
        verdict,
        format!(
            "at {}, {:.0}% of the median latency was outside the handler: {:.1} ms end to end against {:.1} ms of server `total_time`",
            run.load_text(),
            network * 100.0,
            t.e2e_p50_ms,
            t.server_p50_ms
        ),
    )
}

fn hit_max_replicas(run: &RunView) -> Option<Finding> {
    let c = run.cluster.as_ref()?;
    let max = c.max_replicas?;
    (c.max_pods >= max).then(|| {
        let at = when(run, |s| s.replicas.is_some_and(|r| r >= max));
        Finding::new(
            "Replicas hit maxReplicas",
            Verdict::Supported,
            format!("{at}, the HPA reached maxReplicas ({max}) and could not add more pods"),
        )
    })
}

fn failures_after_scale_up(run: &RunView) -> Option<Finding> {
    let c = run.cluster.as_ref()?;
    if run.failures == 0 || c.scaling_events.is_empty() {
        return None;
    }
    let ups: Vec<f64> = c
        .scaling_events
        .iter()
        .filter(|e| e.to > e.from)
        .map(|e| e.t_s)
        .collect();
    let in_window = |t: f64| ups.iter().any(|&u| t >= u && t < u + SCALING_WINDOW_S);
    let total: u64 = run.timeline.iter().map(|s| s.failures).sum();
    let near: u64 = run
        .timeline
        .iter()
        .filter(|s| in_window(s.t as f64))
        .map(|s| s.failures)
        .sum();
    // The share of the run's time: its full seconds (not the partial one it ended with).
    let seconds = moment::full_seconds(run).count();
    let seconds_near = moment::full_seconds(run)
        .filter(|s| in_window(s.t as f64))
        .count();
    if total == 0 || ups.is_empty() {
        return None;
    }
    let share = near as f64 / total as f64;
    let time_share = seconds_near as f64 / seconds.max(1) as f64;
    (share >= 0.5 && share > time_share).then(|| {
        Finding::new(
            "Failures during scale-up",
            Verdict::Supported,
            format!(
                "at {}, {:.0}% of failures ({near} of {total}) fell in the {SCALING_WINDOW_S:.0} s after a scale-up, which covers {:.0}% of the run",
                run.load_text(), share * 100.0, time_share * 100.0
            ),
        )
    })
}

fn load_was_the_limit(run: &RunView) -> Option<Finding> {
    let max = run.theoretical_max_rps?;
    // A staged run's bound is that of the users of each second, on average (its users changed).
    let who = if run.stages.is_empty() {
        format!("{} {}s can", run.users, run.user_class)
    } else {
        format!("the {}s of each second could, on average,", run.user_class)
    };
    (max > 0.0 && run.avg_rps >= 0.9 * max).then(|| {
        Finding::new(
            "The load, not the service, set the rate",
            Verdict::Supported,
            format!(
                "at {}, {:.1} requests/s of the at most {max:.1} that {who} ask for: the service kept up, a higher rate needs more users or less wait",
                run.load_text(), run.avg_rps
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::TimingBreakdown;
    use iris_record::cluster::{ClusterRecord, PodStartRecord, ScalingEventRecord};

    fn timing(e2e: f64, server: f64, inference_p95: f64) -> TimingBreakdown {
        TimingBreakdown {
            e2e_p50_ms: e2e,
            e2e_p95_ms: e2e * 2.0,
            server_p50_ms: server,
            server_p95_ms: server * 2.0,
            inference_p50_ms: inference_p95 / 2.0,
            inference_p95_ms: inference_p95,
        }
    }

    fn run(users: u64) -> RunView {
        RunView {
            users,
            user_class: "IrisPredictionAPIUser".into(),
            ..Default::default()
        }
    }

    fn by_title<'a>(f: &'a [Finding], title: &str) -> &'a Finding {
        f.iter()
            .find(|f| f.title == title)
            .unwrap_or_else(|| panic!("no finding {title}: {f:?}"))
    }

    #[test]
    fn inference_tripling_is_a_supported_finding() {
        let mut a = run(150);
        a.timing = Some(timing(50.0, 3.0, 2.0));
        let mut b = run(300);
        b.timing = Some(timing(200.0, 9.0, 6.0));
        let f = findings(&[a, b]);
        let m = by_title(&f, "Model inference");
        assert_eq!(m.verdict, Verdict::Supported);
        assert!(
            m.evidence.contains("rose 3.0x from 150 users to 300 users"),
            "{}",
            m.evidence
        );
        assert_eq!(
            by_title(&f, "Network and queueing").verdict,
            Verdict::Supported
        );
    }

    #[test]
    fn a_flat_inference_time_is_said_not_to_be_the_bottleneck() {
        let mut a = run(150);
        a.timing = Some(timing(50.0, 3.0, 2.0));
        let mut b = run(300);
        b.timing = Some(timing(400.0, 3.0, 2.1));
        let f = findings(&[a, b]);
        let m = by_title(&f, "Model inference");
        assert_eq!(m.verdict, Verdict::NotSupported);
        assert!(m.evidence.contains("is not what slowed"));
    }

    #[test]
    fn runs_without_cluster_data_say_so() {
        let f = findings(&[run(150)]);
        assert_eq!(by_title(&f, "Pod startup time").verdict, Verdict::NoData);
        assert!(
            by_title(&f, "Pod startup time")
                .evidence
                .contains("no cluster data")
        );
        assert_eq!(by_title(&f, "CPU saturation").verdict, Verdict::NoData);
    }

    #[test]
    fn slow_pods_and_failures_after_scale_up_are_found_with_their_numbers() {
        let mut r = run(300);
        r.failures = 100;
        r.duration_s = 120.0;
        r.timeline = (0..120)
            .map(|t| Second {
                t,
                users: 300,
                failures: if (30..50).contains(&t) { 5 } else { 0 },
                p95_ms: Some(if (30..68).contains(&t) { 900.0 } else { 200.0 }),
                ..Default::default()
            })
            .collect();
        r.cluster = Some(ClusterRecord {
            max_pods: 6,
            max_replicas: Some(6),
            cpu_target_pct: Some(60),
            peak_cpu_pct: Some(95.0),
            pod_startup_median_s: Some(38.0),
            pod_startup_max_s: Some(41.0),
            scaling_events: vec![ScalingEventRecord {
                t_s: 30.0,
                from: 2,
                to: 6,
                reason: "cpu above target".into(),
            }],
            pods_started: (0..4)
                .map(|i| PodStartRecord {
                    pod: format!("p{i}"),
                    created_s: 30.0,
                    observed_ready_s: Some(68.0),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
        let f = findings(&[r]);
        let startup = by_title(&f, "Pod startup time");
        assert_eq!(startup.verdict, Verdict::Supported);
        assert!(
            startup.evidence.contains("38 s (median, max 41 s)"),
            "{}",
            startup.evidence
        );
        assert!(
            startup.evidence.contains(
                "900 ms while they started (+30 s to +68 s, at 300 users) and was 200 ms"
            ),
            "{}",
            startup.evidence
        );
        let during = by_title(&f, "Failures during scale-up");
        assert!(
            during
                .evidence
                .contains("100% of failures (100 of 100) fell in the 40 s after a scale-up, which covers 33% of the run"),
            "{}",
            during.evidence
        );
        assert_eq!(by_title(&f, "CPU saturation").verdict, Verdict::Supported);
        assert!(
            by_title(&f, "Replicas hit maxReplicas")
                .evidence
                .contains("maxReplicas (6)")
        );
    }

    /// Issue 25's run: 100 users for 120 s, then 300; pods started at 100 users (+25 s, ready
    /// at +45 s), CPU peaked and the HPA hit maxReplicas at 300 users.
    fn staged_run() -> RunView {
        use iris_record::shape::StageRecord;
        let stage = |duration_s, target| StageRecord { duration_s, target };
        let mut r = run(300);
        r.duration_s = 240.1;
        r.stages = vec![
            stage(20.0, 100.0),
            stage(100.0, 100.0),
            stage(20.0, 300.0),
            stage(100.0, 300.0),
        ];
        r.timeline = (1..=241)
            .map(|t| Second {
                t,
                users: match t {
                    241 => 0,
                    0..=20 => t * 5,
                    21..=120 => 100,
                    121..=140 => 100 + (t - 120) * 10,
                    _ => 300,
                },
                p95_ms: Some(if (25..45).contains(&t) { 774.0 } else { 120.0 }),
                cpu_pct: Some(if t == 150 { 97.0 } else { 50.0 }),
                replicas: Some(if t >= 160 { 15 } else { 4 }),
                ..Default::default()
            })
            .collect();
        r.cluster = Some(ClusterRecord {
            max_pods: 15,
            max_replicas: Some(15),
            cpu_target_pct: Some(60),
            peak_cpu_pct: Some(97.0),
            pod_startup_median_s: Some(20.0),
            pod_startup_max_s: Some(20.0),
            pods_started: vec![PodStartRecord {
                pod: "p".into(),
                created_s: 25.0,
                observed_ready_s: Some(45.0),
                ..Default::default()
            }],
            ..Default::default()
        });
        r
    }

    #[test]
    fn findings_about_a_moment_of_a_staged_run_name_its_users_then() {
        let f = findings(&[staged_run()]);
        let startup = &by_title(&f, "Pod startup time").evidence;
        assert!(
            startup.starts_with("at 100 -> 300 users, new pods took 20 s")
                && startup.contains(
                    "p95 latency reached 774 ms while they started (+25 s to +45 s, at 100 users)"
                ),
            "{startup}"
        );
        let cpu = &by_title(&f, "CPU saturation").evidence;
        assert!(
            cpu.starts_with("at 300 users (+150 s), CPU peaked at 97%"),
            "{cpu}"
        );
        let max = &by_title(&f, "Replicas hit maxReplicas").evidence;
        assert!(
            max.starts_with("at 300 users (+160 s), the HPA reached maxReplicas (15)"),
            "{max}"
        );
        // The end of the run is not the load falling.
        assert!(f.iter().all(|f| !f.title.contains("load fell")), "{f:?}");
    }

    #[test]
    fn a_run_at_its_theoretical_maximum_was_limited_by_the_load() {
        let mut r = run(150);
        r.avg_rps = 118.0;
        r.theoretical_max_rps = Some(120.0);
        assert!(
            findings(&[r])
                .iter()
                .any(|f| f.title.starts_with("The load"))
        );
    }
}
