//! Faults during a run (`sim --fault KIND@TIME`): at its time from the cluster's start (scaled)
//! each strikes as on a real cluster and leaves the Events a real one writes:
//! - pod-kill: a Ready pod dies without grace: the front resets its open connections, the
//!   kubelet says `Killing`, the pod is gone at once and the ReplicaSet replaces it;
//! - pod-delete: the graceful path of `kubectl delete pod`: out of the endpoints first, preStop
//!   for `terminating_for`, then its connections are closed between requests;
//! - rollout: `kubectl rollout restart`: a new ReplicaSet's pods replace the old ones with the
//!   Deployment's defaults (25% surge, 25% unavailable), `ScalingReplicaSet` at each step;
//! - oom: a pod's container is OOMKilled (its connections reset, `OOMKilling` on the node,
//!   `restartCount` + 1 with `lastState.terminated.reason: OOMKilled`) and restarts in place.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::objects::{self, NAMESPACE};
use super::pod::{PodLoad, RunningPod};
use super::settings::FaultKind;
use super::world::{self, Blow, DEPLOYMENTS, World};

/// What one fault did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultDone {
    pub kind: FaultKind,
    /// Seconds since the cluster's start when it struck (as run).
    pub at_s: f64,
    /// The pods it struck (a rollout: the pods it replaced).
    pub pods: Vec<String>,
    /// Connections the front reset (a pod killed or OOMKilled).
    pub connections_reset: u64,
}

/// Strikes each fault of the settings at its time, until the cluster stops.
pub async fn inject(world: Arc<World>, start: Instant) {
    let mut faults = world.settings.faults.during.clone();
    faults.sort_by_key(|f| f.at);
    for fault in faults {
        let at = start + world.settings.scaled(fault.at);
        tokio::select! {
            () = world.stop.cancelled() => return,
            () = tokio::time::sleep_until(at) => {}
        }
        let struck = start.elapsed().as_secs_f64();
        let (pods, connections_reset) = match fault.kind {
            FaultKind::PodKill => kill(&world, Blow::Kill),
            FaultKind::Oom => kill(&world, Blow::Oom),
            FaultKind::PodDelete => delete(&world),
            FaultKind::Rollout => (rollout(&world).await, 0),
        };
        let done = FaultDone {
            kind: fault.kind,
            at_s: struck,
            pods,
            connections_reset,
        };
        world
            .faults_done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(done);
    }
}

/// A Ready pod, at random.
fn ready_pod(world: &World) -> Option<String> {
    let names = world.endpoints.names();
    (!names.is_empty()).then(|| names[rand::rng().random_range(0..names.len())].clone())
}

/// A pod killed or OOMKilled: its connections reset, its kubelet told.
fn kill(world: &World, blow: Blow) -> (Vec<String>, u64) {
    let Some(pod) = ready_pod(world) else {
        return (Vec::new(), 0);
    };
    let reset = world.endpoints.kill(&pod);
    match blow {
        Blow::Kill => world.event(
            ("v1", "Pod", &pod),
            "Normal",
            "Killing",
            "Stopping container iris-api-container",
            "kubelet",
        ),
        Blow::Oom => oom_killed(world, &pod),
    }
    let line = world
        .blows
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&pod)
        .cloned();
    if let Some(line) = line {
        let _ = line.send(blow);
    }
    (vec![pod], reset)
}

/// The kernel's OOM kill as the node reports it, and the pod's status after it.
fn oom_killed(world: &World, pod: &str) {
    world.event(
        ("v1", "Node", objects::NODE),
        "Warning",
        "OOMKilling",
        &format!(
            "Memory cgroup out of memory: Killed process 1 (iris-lab) total-vm:{}kB, pod {pod}",
            u64::from(world.settings.memory_limit_mi) * 1024
        ),
        "kernel-monitor",
    );
    let t = objects::now();
    world.change_pod(pod, |p| {
        objects::set_condition(p, "ContainersReady", false, &t);
        objects::set_condition(p, "Ready", false, &t);
        if let Some(c) = p["status"]["containerStatuses"].get_mut(0) {
            let restarts = c["restartCount"].as_i64().unwrap_or(0) + 1;
            let started = c["state"]["running"]["startedAt"].clone();
            c["ready"] = json!(false);
            c["started"] = json!(false);
            c["restartCount"] = json!(restarts);
            c["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                "startedAt": started, "finishedAt": t}});
            c["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
        }
    });
}

/// The kubelet's restart of an OOMKilled container: running again a second later (scaled),
/// Ready after the app's start-up (container start to Ready of a new pod), back in the
/// endpoints. `None` when it could not listen or the cluster stopped.
pub(super) async fn restart_after_oom(world: &Arc<World>, name: &str) -> Option<RunningPod> {
    let s = &world.settings;
    let restart = s.scaled(Duration::from_secs(1));
    let app_start = s.scaled(s.ready_after.saturating_sub(s.started_after));
    tokio::select! {
        () = world.stop.cancelled() => return None,
        () = tokio::time::sleep(restart) => {}
    }
    let load = Arc::new(PodLoad::new(
        s.rps_per_core,
        f64::from(s.cpu_limit_m) / 1000.0,
    ));
    let running = RunningPod::start(world.model.clone(), load.clone())
        .await
        .ok()?;
    let t = objects::now();
    world.change_pod(name, |p| {
        if let Some(c) = p["status"]["containerStatuses"].get_mut(0) {
            c["started"] = json!(true);
            c["state"] = json!({"running": {"startedAt": t}});
        }
    });
    world.container_started(name, load);
    tokio::select! {
        () = world.stop.cancelled() => return Some(running),
        () = tokio::time::sleep(app_start) => {}
    }
    let t = objects::now();
    world.change_pod(name, |p| {
        objects::set_condition(p, "ContainersReady", true, &t);
        objects::set_condition(p, "Ready", true, &t);
        if let Some(c) = p["status"]["containerStatuses"].get_mut(0) {
            c["ready"] = json!(true);
        }
    });
    world.endpoints.add(name, running.addr);
    Some(running)
}

/// `kubectl delete pod` of a Ready pod: the graceful path.
fn delete(world: &World) -> (Vec<String>, u64) {
    let Some(pod) = ready_pod(world) else {
        return (Vec::new(), 0);
    };
    world::delete_pod(world, &pod);
    (vec![pod], 0)
}

/// maxSurge and maxUnavailable of 25% each, as the Deployment controller resolves them
/// (surge rounded up, unavailable down; never both zero).
pub fn rolling_steps(replicas: usize) -> (usize, usize) {
    let surge = replicas.div_ceil(4);
    let unavailable = replicas / 4;
    if surge == 0 && unavailable == 0 {
        (1, 0)
    } else {
        (surge, unavailable)
    }
}

/// `kubectl rollout restart`: the old pods replaced by a new ReplicaSet's, within maxSurge
/// and maxUnavailable; returns the pods replaced. Bounded: it gives up when the cluster stops.
async fn rollout(world: &Arc<World>) -> Vec<String> {
    let names = &world.names;
    let replicas = world
        .store
        .get(DEPLOYMENTS, NAMESPACE, &names.deployment)
        .and_then(|d| d["spec"]["replicas"].as_u64())
        .unwrap_or(1) as usize;
    let (surge, unavailable) = rolling_steps(replicas);
    let old_rs = world.replica_set_name();
    let hash: u32 = rand::rng().random_range(0x1000_0000..0xffff_ffff);
    let new_rs = format!("{}-{hash:x}", names.deployment);
    let mut old: Vec<String> = live_pods(world);
    let replaced = old.clone();
    world.rolling.store(true, Ordering::Relaxed);
    *world.replica_set.lock().unwrap_or_else(|e| e.into_inner()) = new_rs.clone();
    let mut created = 0;
    let deployment = ("apps/v1", "Deployment", names.deployment.as_str());
    let scaled = |what: &str, rs: &str, from: usize, to: usize| {
        world.event(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled {what} replica set {rs} from {from} to {to}"),
            "deployment-controller",
        );
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !old.is_empty() {
        tokio::select! {
            () = world.stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let live = live_pods(world).len();
        let more = (replicas + surge)
            .saturating_sub(live)
            .min(replicas - created);
        if more > 0 {
            scaled("up", &new_rs, created, created + more);
            for _ in 0..more {
                world::create_pod(world, false);
            }
            created += more;
        }
        let ready = world.endpoints.len();
        let may_go = ready.saturating_sub(replicas - unavailable).min(old.len());
        if may_go > 0 {
            scaled("down", &old_rs, old.len(), old.len() - may_go);
            for pod in old.drain(..may_go) {
                world::delete_pod(world, &pod);
                world.event(
                    ("apps/v1", "ReplicaSet", &old_rs),
                    "Normal",
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pod}"),
                    "replicaset-controller",
                );
            }
        }
    }
    world.rolling.store(false, Ordering::Relaxed);
    replaced
}

/// The app's pods not being deleted.
fn live_pods(world: &World) -> Vec<String> {
    world
        .pods()
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_steps_are_the_deployment_defaults() {
        // 25% of 2 = 0.5: surge 1 (up), unavailable 0 (down).
        assert_eq!(rolling_steps(2), (1, 0));
        assert_eq!(rolling_steps(4), (1, 1));
        assert_eq!(rolling_steps(10), (3, 2));
        assert_eq!(rolling_steps(0), (1, 0));
    }
}
