//! Issue 20's acceptance: `load` against a cluster whose pods really serve at a known capacity
//! (support/scaling_cluster.rs: real servers behind a kube-proxy-like front, CPU from what each
//! pod served, the test's own HPA), then `report --format json` and `predict`. The analysis
//! must find what the cluster is by construction: the rate one pod serves at the CPU target
//! (within 15%), the pods' start-up segments (within 2 s), and the replicas the HPA settled on
//! (within 1), for the measured load and, predicted, for twice that load, which the test also
//! runs.

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use support::scaling_cluster::{ScalingCluster, Truth};
use support::*;

/// Users of the measured load: about 100 requests/s with 0.2-0.3 s waits, 4-5 pods' worth.
const USERS: u32 = 26;
const RUN: &str = "32s";

struct Done {
    cluster: ScalingCluster,
    record: PathBuf,
    stderr: String,
}

/// One `load` of `users` on a fresh cluster, the users started over 10 s.
fn run(users: u32) -> Done {
    let cluster = ScalingCluster::start(Truth::GUIDE);
    let (u, rate) = (users.to_string(), (f64::from(users) / 10.0).to_string());
    let out = cluster
        .lab
        .cmd(&[
            "load",
            "--host",
            &cluster.front,
            "--users",
            &u,
            "--spawn-rate",
            &rate,
            "--duration",
            RUN,
            "--wait",
            "0.2..0.3",
            "--connection-max-age",
            "1s",
            "--top-interval",
            "1s",
        ])
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let record = run_files(cluster.lab.dir.path(), "json")
        .pop()
        .expect("a run record");
    Done {
        cluster,
        record,
        stderr,
    }
}

fn report(done: &Done) -> Value {
    let out = iris_lab(done.cluster.lab.dir.path())
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("report JSON");
    json["autoscaling"][0].clone()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_analysis_finds_what_a_really_serving_cluster_is() {
    let truth = Truth::GUIDE;
    // The measured load and twice it, side by side, each on its own cluster.
    let twice = std::thread::spawn(|| run(2 * USERS));
    let once = run(USERS);
    let twice = twice.join().expect("the run at twice the load");
    let a = report(&once);
    let context = format!(
        "HPA decisions {:?}, served {:?}\n{}\n{a:#}",
        once.cluster.decisions(),
        once.cluster.served(),
        once.stderr
    );

    // What one pod serves at the CPU target.
    let at_target = num(&a["capacity"]["rps_per_pod_at_target"]);
    let truth_at_target = truth.rps_per_pod_at_target();
    assert!(
        (at_target / truth_at_target - 1.0).abs() <= 0.15,
        "{at_target} requests/s per pod at target, truth {truth_at_target}: {context}"
    );

    // The pods' start-up, segment by segment, against the set delays.
    let ups = a["scale_ups"].as_array().expect("scale-ups");
    assert!(!ups.is_empty(), "no scale-up: {context}");
    let set = [
        ("created_to_scheduled", truth.scheduled_after.as_secs_f64()),
        (
            "scheduled_to_started",
            (truth.started_after - truth.scheduled_after).as_secs_f64(),
        ),
        (
            "started_to_ready",
            (truth.ready_after - truth.started_after).as_secs_f64(),
        ),
    ];
    for up in ups {
        for (segment, delay) in set {
            let median = num(&up["segments"][segment]["median_s"]);
            assert!(
                (median - delay).abs() <= 2.0,
                "{segment}: {median} s, set {delay} s: {up:#}"
            );
        }
    }

    // The replicas the measured load needs against what the HPA settled on.
    let settled = once.cluster.settled_replicas();
    let needed = a["steady_replicas_needed"]
        .as_u64()
        .expect("replicas needed") as u32;
    assert!(
        needed.abs_diff(settled) <= 1,
        "needed {needed}, the HPA settled on {settled}: {context}"
    );

    let b = report(&twice);
    let twice_rps = num(&b["steady_rps"]);
    let settled_twice = twice.cluster.settled_replicas();
    // And the run at twice the load, analysed on its own.
    let needed_twice = b["steady_replicas_needed"].as_u64().expect("needed") as u32;
    eprintln!(
        "twice the load {twice_rps:.1} requests/s; at target {at_target:.1} (truth {truth_at_target:.1}, {:.1} at twice the load); needed {needed} \
         settled {settled}; at twice the load needed {needed_twice}, settled \
         {settled_twice}; segments {:?}",
        num(&b["capacity"]["rps_per_pod_at_target"]),
        ups.iter().map(|u| &u["segments"]).collect::<Vec<_>>()
    );
    assert!(
        needed_twice.abs_diff(settled_twice) <= 1,
        "needed {needed_twice} at twice the load, settled {settled_twice}: {b:#}"
    );
    predict_at_twice(&once, &twice);
}

/// Issue 20: `predict` at twice the load within 1 replica of the HPA that ran it. The load is
/// the twice run's own settled load (`steady_rps`: from its last scale-up's pods Ready, when
/// the cluster caught up): from the last user's start it would include the seconds when the
/// first pods were saturated and held the closed-loop users back (predicted 8 against 10).
fn predict_at_twice(once: &Done, twice: &Done) {
    // Predicted at twice the load, against the HPA of the run at twice the load. The load is
    // the one that run really had (its steady requests/s): users do not give twice the
    // requests/s exactly on a busy machine, and the check is of the model, not of the machine.
    let b = report(twice);
    let twice_rps = num(&b["steady_rps"]);
    let out = iris_lab(once.cluster.lab.dir.path())
        .args(["predict", "--format", "json", "--arrival-rate"])
        .arg(format!("{twice_rps:.1}"))
        .arg(&once.record)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let p: Value = serde_json::from_str(&stdout).expect("predict JSON");
    let predicted = p["replicas"].as_i64().expect("replicas") as u32;
    let settled_twice = twice.cluster.settled_replicas();
    eprintln!(
        "predicted at {twice_rps:.1} requests/s (from {} s): {predicted} replicas, the HPA \
         settled on {settled_twice}",
        b["steady_from_s"]
    );
    assert!(
        predicted.abs_diff(settled_twice) <= 1,
        "predicted {predicted} at twice the load, the HPA settled on {settled_twice} (decisions {:?}): {p:#}",
        twice.cluster.decisions()
    );
}
