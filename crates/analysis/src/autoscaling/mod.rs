//! Phase 6 that answers the guide's question: is the autoscaling right, and what should change?
//! Per run: what one pod serves ([`capacity`]), the anatomy of every scale-up ([`anatomy`]),
//! memory pressure ([`memory`]), the replicas its steady load needs, a replay of its load
//! through the HPA model ([`simulate`]) and recommendations with their predicted effect.

pub mod anatomy;
pub mod capacity;
pub mod memory;
pub mod pool;
pub mod predict;
pub mod recommend;
pub mod simulate;
pub mod timing;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use serde::{Deserialize, Serialize};

use crate::view::RunView;
pub use anatomy::{ScaleUp, Spread};
pub use capacity::{Capacity, NoFit};
use iris_hpa::{ControllerSettings, Spec};
pub use memory::Memory;
pub use recommend::{Recommendation, Setting};
pub use simulate::{PodModel, SimSecond};
pub use timing::{Timing, TimingSource};

/// How well the model reproduced the run's replicas from its measured load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// Mean over the run's seconds of |simulated - measured| replicas.
    pub mean_abs_error_replicas: f64,
    pub max_abs_error_replicas: u32,
    pub final_simulated: i32,
    pub final_measured: u32,
}

/// A replay off by more than this many replicas on average is stated beside every answer
/// that rests on the model.
pub const REPLAY_TRUSTED_REPLICAS: f64 = 1.0;

impl Replay {
    /// The caveat for answers resting on the model, when its replay of the run is off by more
    /// than [`REPLAY_TRUSTED_REPLICAS`] on average.
    pub fn caveat(&self, run: &str) -> Option<String> {
        (self.mean_abs_error_replicas > REPLAY_TRUSTED_REPLICAS).then(|| {
            format!(
                "the model's replay of {run} is off by {:.2} replicas on average (max {}), so its figures are rough",
                self.mean_abs_error_replicas, self.max_abs_error_replicas
            )
        })
    }
}

/// The autoscaling analysis of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Autoscaling {
    pub capacity: Capacity,
    pub scale_ups: Vec<ScaleUp>,
    /// Median and max reaction (load rose -> new pods Ready) over the scale-ups.
    pub reaction: Option<Spread>,
    /// Requests/s of the load the HPA settles on: from the last scale-up's pods all Ready
    /// (the cluster caught up) when enough of the run is left after it, else from the last
    /// user's start, else of the whole run.
    pub steady_rps: f64,
    /// The second `steady_rps` is measured from (absent: the whole run).
    #[serde(default)]
    pub steady_from_s: Option<f64>,
    /// Whether that is after the last scale-up's pods were all Ready.
    #[serde(default)]
    pub steady_after_scale_up: bool,
    /// ceil(steady rps / rps per pod at target).
    pub steady_replicas_needed: Option<u32>,
    pub replicas_reached: Option<u32>,
    pub max_replicas: Option<u32>,
    /// Whether `maxReplicas` covers what the steady load needs.
    pub max_replicas_suffices: Option<bool>,
    pub memory: Option<Memory>,
    pub replay: Option<Replay>,
    /// The replay's caveat, stated beside every answer resting on the model.
    #[serde(default)]
    pub replay_caveat: Option<String>,
    /// The pod model the replay and the recommendations used.
    pub pod_model: Option<PodModel>,
    pub recommendations: Vec<Recommendation>,
    /// Is the autoscaling right: the verdict in words (runs with a scale-up).
    #[serde(default)]
    pub verdict: Option<String>,
    /// What the reactions are judged against: the guide's 30-45 s, scaled on a simulated
    /// cluster by its time scale, in words.
    #[serde(default)]
    pub reaction_yardstick: String,
    /// The controller's settings and metrics window the model ran with.
    #[serde(default)]
    pub timing: Timing,
    /// Why there is no analysis at all ("no cluster data").
    pub no_data: Option<String>,
}

/// The HPA's spec the run saw, else one from the figures older records kept.
pub fn hpa_spec(run: &RunView, settings: &ControllerSettings) -> Option<Spec> {
    let cluster = run.cluster.as_ref()?;
    let k8s = cluster.hpa_spec.clone().or_else(|| {
        serde_json::from_value::<HorizontalPodAutoscalerSpec>(serde_json::json!({
            "scaleTargetRef": {"kind": "Deployment", "name": cluster.deployment},
            "minReplicas": cluster.min_replicas?,
            "maxReplicas": cluster.max_replicas?,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": cluster.cpu_target_pct?}}}]
        }))
        .ok()
    })?;
    Some(Spec::from_k8s(&k8s, settings))
}

/// The pods as the simulation models them, from the fit and the measured start-up.
pub fn pod_model(run: &RunView, capacity: &Capacity, ups: &[ScaleUp]) -> Option<PodModel> {
    let cluster = run.cluster.as_ref()?;
    let startup = Spread::of(
        cluster
            .pods_started
            .iter()
            .filter_map(|p| p.ready_after_s)
            .collect(),
    )?;
    let decision = Spread::of(
        ups.iter()
            .filter_map(|u| u.segments.decision_to_created_s)
            .collect(),
    )
    .map_or(0.0, |s| s.median_s);
    let (a, b) = (capacity.idle_millicores?, capacity.millicores_per_rps?);
    let request = capacity.cpu_request_millis?;
    let limit = cluster
        .pod_resources
        .as_ref()
        .and_then(|r| r.cpu_limit_millis());
    Some(PodModel {
        idle_millicores: a,
        millicores_per_rps: b,
        cpu_request_millis: request,
        cpu_limit_millis: limit,
        startup_s: decision + startup.median_s,
        overload_rps_per_pod: capacity
            .knee_rps_per_pod
            .or(capacity.rps_per_pod_at_limit)
            .unwrap_or((request - a) / b),
    })
}

fn replay(run: &RunView, spec: &Spec, model: &PodModel, timing: &Timing) -> Option<Replay> {
    let measured: Vec<(f64, u32)> = run
        .timeline
        .iter()
        .map(|s| Some((s.requests as f64, s.replicas?)))
        .collect::<Option<_>>()?;
    let initial = measured.first()?.1 as i32;
    let load: Vec<f64> = measured.iter().map(|m| m.0).collect();
    let sim = simulate::simulate(spec, timing, model, initial, &load);
    let errors: Vec<u32> = sim
        .iter()
        .zip(&measured)
        .map(|(s, m)| s.replicas.abs_diff(m.1 as i32))
        .collect();
    Some(Replay {
        mean_abs_error_replicas: errors.iter().map(|e| f64::from(*e)).sum::<f64>()
            / errors.len().max(1) as f64,
        max_abs_error_replicas: errors.iter().copied().max().unwrap_or(0),
        final_simulated: sim.last()?.replicas,
        final_measured: measured.last()?.1,
    })
}

/// Seconds of a run after its last scale-up's pods were Ready that make a load of their own.
const CAUGHT_UP_MIN_S: usize = 5;

/// The load the HPA settles on, and from when it is measured.
struct SteadyLoad {
    rps: f64,
    from_s: Option<f64>,
    after_scale_up: bool,
}

/// The requests/s the cluster settles on. Until the new pods serve, a closed-loop load is held
/// back by the saturated pods (users wait for slow answers), so the seconds from the last
/// user's start understate what the HPA ends up serving: when the last scale-up's pods were
/// all Ready with at least [`CAUGHT_UP_MIN_S`] whole seconds of the run left, those seconds
/// are the load; else the steady state; else the whole run.
fn steady_load(run: &RunView, scale_ups: &[ScaleUp]) -> SteadyLoad {
    let spawned = run.steady_state.as_ref().map(|s| s.from_s);
    let fallback = SteadyLoad {
        rps: run.steady_state.as_ref().map_or(run.avg_rps, |s| s.rps),
        from_s: spawned,
        after_scale_up: false,
    };
    let Some(ready) = scale_ups.last().and_then(|u| u.all_ready_s) else {
        return fallback;
    };
    let from = ready.max(spawned.unwrap_or(0.0));
    let until = run.duration_s.floor();
    let seconds: Vec<f64> = run
        .timeline
        .iter()
        .filter(|s| s.t as f64 - 1.0 >= from && s.t as f64 <= until)
        .map(|s| s.requests as f64)
        .collect();
    if seconds.len() < CAUGHT_UP_MIN_S {
        return fallback;
    }
    SteadyLoad {
        rps: seconds.iter().sum::<f64>() / seconds.len() as f64,
        from_s: Some(from),
        after_scale_up: true,
    }
}

/// The analysis of every run of a report, each with the capacity of its pods fitted over the
/// runs of the same pods ([`pool`]).
pub fn analyse_all(runs: &[RunView]) -> Vec<Autoscaling> {
    runs.iter()
        .zip(pool::pools(runs))
        .map(|(run, pool)| analyse_pooled(run, pool.as_ref()))
        .collect()
}

/// The whole analysis of one run, from its own samples.
pub fn analyse(run: &RunView) -> Autoscaling {
    analyse_pooled(run, None)
}

/// The run's capacity: its own fit, or the pool's when runs of the same pods give one.
fn run_capacity(run: &RunView, target: Option<f64>, pool: Option<&pool::Pool>) -> Capacity {
    let mut capacity = capacity::capacity(run, target);
    if let Some(pool) = pool {
        let limit = run
            .cluster
            .as_ref()
            .and_then(|c| c.pod_resources.as_ref())
            .and_then(|r| r.cpu_limit_millis());
        pool::adopt(&mut capacity, pool, limit);
    }
    capacity
}

/// Is the autoscaling right for this run? From the pods the steady load needs at the target,
/// what the HPA reached, `maxReplicas` and the reactions against the yardstick; `None` without
/// a scale-up or a count of pods needed.
fn verdict(a: &Autoscaling) -> Option<String> {
    if a.scale_ups.is_empty() {
        return None;
    }
    let needed = a.steady_replicas_needed?;
    let reached = a.replicas_reached?;
    let band = a.timing.guide_reaction_s(anatomy::GUIDE_REACTION_S);
    let slow = a.reaction.filter(|r| r.median_s > band.1);
    let text = if a.max_replicas_suffices == Some(false) {
        format!(
            "too few replicas: maxReplicas {} caps the HPA below the {needed} pods the steady load needs",
            a.max_replicas.unwrap_or(0)
        )
    } else if reached < needed {
        format!("short: the HPA reached {reached} of the {needed} pods the steady load needs")
    } else if let Some(r) = slow {
        format!(
            "right size, slow: the HPA reached the {needed} pods the steady load needs, reacting in {:.0} s (median) against {}",
            r.median_s, a.reaction_yardstick
        )
    } else {
        format!(
            "right: the HPA reached the {needed} pods the steady load needs ({reached} at the most){}",
            a.reaction.map_or(String::new(), |r| format!(
                ", reacting in {:.0} s (median) against {}",
                r.median_s, a.reaction_yardstick
            ))
        )
    };
    Some(text)
}

/// The whole analysis of one run, with the pool of its pods' samples when there is one.
fn analyse_pooled(run: &RunView, pool: Option<&pool::Pool>) -> Autoscaling {
    let Some(cluster) = &run.cluster else {
        return Autoscaling {
            no_data: Some(
                run.cluster_missed
                    .clone()
                    .unwrap_or_else(|| "no cluster data".into()),
            ),
            steady_rps: run.avg_rps,
            ..Autoscaling::default()
        };
    };
    let timing = timing::timing(cluster);
    let spec = hpa_spec(run, &timing.controller());
    let target = spec
        .as_ref()
        .and_then(Spec::cpu_target_percent)
        .map(f64::from);
    let capacity = run_capacity(run, target, pool);
    let mut scale_ups = anatomy::scale_ups(run);
    let band = timing.guide_reaction_s(anatomy::GUIDE_REACTION_S);
    for up in &mut scale_ups {
        up.within_guide = up.reaction_s.map(|r| r <= band.1);
    }
    let steady = steady_load(run, &scale_ups);
    let steady_rps = steady.rps;
    let needed = capacity
        .rps_per_pod_at_target
        .filter(|c| *c > 0.0)
        .map(|c| (steady_rps / c).ceil().max(1.0) as u32);
    let max_replicas = spec.as_ref().map(|s| s.max_replicas.max(0) as u32);
    let pod_model = pod_model(run, &capacity, &scale_ups);
    let replay = spec
        .as_ref()
        .zip(pod_model.as_ref())
        .and_then(|(s, m)| replay(run, s, m, &timing));
    let replay_caveat = replay.and_then(|r| r.caveat("this run"));
    let mut out = Autoscaling {
        replay_caveat,
        reaction: Spread::of(scale_ups.iter().filter_map(|u| u.reaction_s).collect()),
        steady_rps,
        steady_from_s: steady.from_s,
        steady_after_scale_up: steady.after_scale_up,
        steady_replicas_needed: needed,
        replicas_reached: Some(cluster.max_pods),
        max_replicas,
        max_replicas_suffices: needed.zip(max_replicas).map(|(n, m)| m >= n),
        memory: memory::memory(run),
        replay,
        pod_model,
        capacity,
        scale_ups,
        reaction_yardstick: timing.guide_reaction_text(anatomy::GUIDE_REACTION_S),
        timing,
        ..Autoscaling::default()
    };
    out.verdict = verdict(&out);
    let load: Vec<f64> = run.timeline.iter().map(|s| s.requests as f64).collect();
    let initial = run.timeline.first().and_then(|s| s.replicas);
    out.recommendations = spec
        .as_ref()
        .map(|s| {
            let initial_replicas = initial.map_or(s.min_replicas, |r| r as i32);
            recommend::recommend(
                &out,
                s,
                recommend::Load {
                    rps: &load,
                    initial_replicas,
                },
            )
        })
        .unwrap_or_default();
    out
}

/// Runs made up for tests, also for the rendering's tests (feature `fixtures`).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod tests;
