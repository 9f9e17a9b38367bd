//! The analysis against a run whose truth the test builds itself (not through the HPA model):
//! pods that use `20 + 4 x requests/s` millicores, a rise from 20 to 100 requests/s at 40 s, the
//! HPA (the story's, written by hand) going 2 -> 4 at 60 s, new pods created at 61 s and Ready
//! 14 s later, p95 doubling while each pod takes more than 30 requests/s.

use super::*;
use crate::view::Second;
use iris_record::cluster::{
    ClusterRecord, ContainerResources, PodResources, PodSampleRecord, PodStartRecord,
    ScalingEventRecord,
};

const IDLE: f64 = 20.0;
const PER_RPS: f64 = 4.0;

fn rps_at(t: u64) -> f64 {
    if t < 40 { 20.0 } else { 100.0 }
}

fn ready_at(t: u64) -> u32 {
    if t < 75 { 2 } else { 4 }
}

pub fn story() -> RunView {
    let mut timeline = Vec::new();
    for t in 1..=180u64 {
        let per_pod = rps_at(t) / f64::from(ready_at(t));
        timeline.push(Second {
            t,
            requests: rps_at(t) as u64,
            rps: rps_at(t),
            failures: u64::from(t == 50),
            p95_ms: Some(if per_pod > 30.0 { 40.0 } else { 10.0 }),
            replicas: Some(if t < 60 { 2 } else { 4 }),
            ready_pods: Some(ready_at(t)),
            cpu_pct: Some((IDLE + PER_RPS * per_pod) / 200.0 * 100.0),
            cpu_target_pct: Some(60.0),
            ..Second::default()
        });
    }
    let mut samples = Vec::new();
    for k in 1..=12u64 {
        let t = k * 15;
        // The window's rate, from the per-second counts.
        let rate = ((t - 14)..=t).map(rps_at).sum::<f64>() / 15.0;
        let pods = if t >= 75 { 4 } else { 2 };
        for p in 0..pods {
            let new = p >= 2;
            let cpu = if new && t < 90 {
                IDLE
            } else {
                IDLE + PER_RPS * rate / f64::from(ready_at(t).min(pods))
            };
            samples.push(PodSampleRecord {
                t_s: t as f64,
                pod: format!("pod-{p}"),
                cpu_millis: cpu,
                cpu_pct_of_request: Some(cpu / 2.0),
                memory_bytes: (100 << 20) as f64 + t as f64 * 1024.0,
                window_s: None,
                window_end_s: None,
            });
        }
    }
    let mib = 1048576.0;
    RunView {
        users: 100,
        avg_rps: 90.0,
        timeline,
        cluster: Some(ClusterRecord {
            min_replicas: Some(2),
            max_replicas: Some(15),
            cpu_target_pct: Some(60),
            max_pods: 4,
            scaling_events: vec![ScalingEventRecord {
                t_s: 60.0,
                from: 2,
                to: 4,
                reason: "cpu above target".into(),
            }],
            pods_started: (2..4)
                .map(|p| PodStartRecord {
                    pod: format!("pod-{p}"),
                    created_s: 61.0,
                    scheduled_after_s: Some(2.0),
                    started_after_s: Some(8.0),
                    ready_after_s: Some(14.0),
                    observed_ready_s: Some(75.0),
                })
                .collect(),
            samples,
            pod_resources: Some(PodResources {
                containers: vec![ContainerResources {
                    container: "app".into(),
                    cpu_request_millis: Some(200.0),
                    cpu_limit_millis: Some(1000.0),
                    memory_request_bytes: Some(128.0 * mib),
                    memory_limit_bytes: Some(512.0 * mib),
                }],
            }),
            ..ClusterRecord::default()
        }),
        ..RunView::default()
    }
}

#[test]
fn the_fit_recovers_what_one_pod_serves() {
    let a = analyse(&story());
    let c = &a.capacity;
    assert_eq!(c.no_fit, None);
    assert!(c.points.len() >= 8, "{:?}", c.points);
    assert!(
        c.points.iter().all(|p| p.t_s != 75.0),
        "75 s: new pods not ready a whole window"
    );
    assert!((c.millicores_per_rps.unwrap() - PER_RPS).abs() < 1e-6);
    assert!((c.idle_millicores.unwrap() - IDLE).abs() < 1e-6);
    assert!(c.r_squared.unwrap() > 0.999);
    // 60% of 200m = 120m = 20 + 4 x 25.
    assert!((c.rps_per_pod_at_target.unwrap() - 25.0).abs() < 1e-6);
    assert!((c.rps_per_pod_at_limit.unwrap() - 245.0).abs() < 1e-6);
    assert_eq!(c.knee_rps_per_pod, Some(50.0));
    // 100 requests/s at 25 per pod: 4 pods, within maxReplicas 15.
    assert_eq!(a.steady_replicas_needed, Some(4));
    assert_eq!(a.max_replicas_suffices, Some(true));
}

#[test]
fn the_scale_up_is_taken_apart_segment_by_segment() {
    let a = analyse(&story());
    assert_eq!(a.scale_ups.len(), 1);
    let up = &a.scale_ups[0];
    let s = &up.segments;
    assert_eq!(up.load_rose_s, Some(40.0));
    assert_eq!(s.load_to_cpu_above_target_s, Some(0.0));
    assert_eq!(s.cpu_to_decision_s, Some(20.0));
    assert_eq!(s.decision_to_created_s, Some(1.0));
    assert_eq!(s.created_to_scheduled.unwrap().median_s, 2.0);
    assert_eq!(s.scheduled_to_started.unwrap().max_s, 6.0);
    assert_eq!(s.started_to_ready.unwrap().median_s, 6.0);
    assert_eq!(up.all_ready_s, Some(75.0));
    assert_eq!(s.ready_to_latency_back_s, Some(0.0));
    assert_eq!(up.reaction_s, Some(35.0));
    assert_eq!(up.within_guide, Some(true));
    assert_eq!((up.degradation_s, up.degradation_failures), (35, 1));
}

#[test]
fn the_replay_reproduces_the_replicas_and_advice_follows() {
    let a = analyse(&story());
    let replay = a.replay.expect("a replay");
    assert_eq!(replay.final_simulated, 4);
    assert!(replay.mean_abs_error_replicas < 0.2, "{replay:?}");
    // It scaled for a load that 4 pods carry: minReplicas 4 absorbs it.
    let min = a
        .recommendations
        .iter()
        .find(|r| r.setting == Setting::MinReplicas)
        .expect("a minReplicas recommendation");
    assert_eq!(min.suggested, Some(4.0));
    assert!(
        min.effect.contains("predicted degradation 0 s"),
        "{}",
        min.effect
    );
    let m = a.memory.unwrap();
    assert!(
        (m.peak_pct_of_limit.unwrap()
            - 100.0 * (100.0 * 1048576.0 + 180.0 * 1024.0) / (512.0 * 1048576.0))
            .abs()
            < 1e-9
    );
}

#[test]
fn runs_without_what_a_fit_needs_say_why() {
    let mut run = story();
    // One replica count and a flat load: no slope.
    let cluster = run.cluster.as_mut().unwrap();
    cluster.samples.retain(|s| s.t_s <= 30.0);
    let a = analyse(&run);
    assert_eq!(a.capacity.no_fit, Some(NoFit::TooFewPoints { points: 2 }));
    assert_eq!(a.capacity.rps_per_pod_at_target, None);
    assert_eq!(a.steady_replicas_needed, None);
    run.cluster = None;
    let a = analyse(&run);
    assert_eq!(a.no_data.as_deref(), Some("no cluster data"));
    let mut flat = story();
    for s in &mut flat.timeline {
        s.requests = 20;
    }
    let samples = &mut flat.cluster.as_mut().unwrap().samples;
    samples.retain(|s| s.t_s < 75.0);
    let a = analyse(&flat);
    assert!(
        matches!(a.capacity.no_fit, Some(NoFit::NoSpread { .. })),
        "{:?}",
        a.capacity.no_fit
    );
}

/// The sum of a scale-up's segments up to the last new pod Ready.
fn segments_sum(up: &super::ScaleUp) -> f64 {
    let s = &up.segments;
    let path = s.last_pod.as_ref().expect("the last pod's path");
    [
        s.load_to_cpu_above_target_s,
        s.cpu_to_decision_s,
        s.decision_to_created_s,
        path.created_to_scheduled_s,
        path.scheduled_to_started_s,
        path.started_to_ready_s,
    ]
    .iter()
    .flatten()
    .sum()
}

#[test]
fn every_scale_up_adds_up_to_its_reaction_on_the_300_user_fixture() {
    // Its pods were seen Ready (`observed_ready_s` 6 s) before their own Ready conditions
    // (created at 2.5 s + 38-44 s): the reaction was 4 s while its segments summed to over 40.
    let text = include_str!("../../../../tests/fixtures/runs/300u-cluster.json");
    let record = iris_record::parse(text).expect("the fixture");
    let run = crate::from_record::run_view(&record, "300u-cluster.json");
    let a = analyse(&run);
    assert!(!a.scale_ups.is_empty());
    for up in &a.scale_ups {
        let reaction = up.reaction_s.expect("a reaction");
        assert!(
            (segments_sum(up) - reaction).abs() < 1e-9,
            "{reaction} s against {up:?}"
        );
        // The last pod: created at 2.5 s, Ready 44 s later.
        assert_eq!(up.all_ready_s, Some(46.5));
    }
    let median = a.reaction.expect("a reaction").median_s;
    assert!(median > 40.0, "{median}");
}

#[test]
fn the_story_adds_up_too() {
    let a = analyse(&story());
    let up = &a.scale_ups[0];
    assert_eq!(segments_sum(up), up.reaction_s.unwrap());
}

#[test]
fn the_steady_load_is_what_the_cluster_serves_once_its_new_pods_are_ready() {
    // The steady state from the last user's start (10 s) averages 90 requests/s over seconds
    // when two pods held the load back; from 75 s, with the new pods Ready, it is 100.
    let mut run = story();
    run.duration_s = 180.0;
    run.steady_state = Some(iris_record::SteadyState {
        from_s: 10.0,
        duration_s: 170.0,
        requests: 15_300,
        failures: 0,
        rps: 90.0,
        avg_ms: 10.0,
        p50_ms: None,
        p95_ms: None,
        p99_ms: None,
        histogram: None,
        max_ms: None,
    });
    let a = analyse(&run);
    assert_eq!(
        (a.steady_rps, a.steady_from_s, a.steady_after_scale_up),
        (100.0, Some(75.0), true)
    );
    // Four whole seconds left after the pods were Ready are too few: the steady state it is.
    run.duration_s = 79.5;
    let a = analyse(&run);
    assert_eq!(
        (a.steady_rps, a.steady_from_s, a.steady_after_scale_up),
        (90.0, Some(10.0), false)
    );
}
