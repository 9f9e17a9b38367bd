//! Phase 6 that answers the guide's question: is the autoscaling right, and what should change?
//! Per run: what one pod serves ([`capacity`]), the anatomy of every scale-up ([`anatomy`]),
//! memory pressure ([`memory`]), the replicas its steady load needs, a replay of its load
//! through the HPA model ([`simulate`]) and recommendations with their predicted effect.

pub mod anatomy;
pub mod capacity;
pub mod memory;
pub mod predict;
pub mod recommend;
pub mod simulate;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use serde::{Deserialize, Serialize};

use crate::view::RunView;
pub use anatomy::{ScaleUp, Spread};
pub use capacity::{Capacity, NoFit};
use iris_hpa::{ControllerSettings, Spec};
pub use memory::Memory;
pub use recommend::{Recommendation, Setting};
pub use simulate::{PodModel, SimSecond};

/// How well the model reproduced the run's replicas from its measured load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// Mean over the run's seconds of |simulated - measured| replicas.
    pub mean_abs_error_replicas: f64,
    pub max_abs_error_replicas: u32,
    pub final_simulated: i32,
    pub final_measured: u32,
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
    /// The pod model the replay and the recommendations used.
    pub pod_model: Option<PodModel>,
    pub recommendations: Vec<Recommendation>,
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

fn replay(run: &RunView, spec: &Spec, model: &PodModel) -> Option<Replay> {
    let measured: Vec<(f64, u32)> = run
        .timeline
        .iter()
        .map(|s| Some((s.requests as f64, s.replicas?)))
        .collect::<Option<_>>()?;
    let initial = measured.first()?.1 as i32;
    let load: Vec<f64> = measured.iter().map(|m| m.0).collect();
    let sim = simulate::simulate(spec, ControllerSettings::default(), model, initial, &load);
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

/// The whole analysis of one run.
pub fn analyse(run: &RunView) -> Autoscaling {
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
    let settings = ControllerSettings::default();
    let spec = hpa_spec(run, &settings);
    let target = spec
        .as_ref()
        .and_then(Spec::cpu_target_percent)
        .map(f64::from);
    let capacity = capacity::capacity(run, target);
    let scale_ups = anatomy::scale_ups(run);
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
        .and_then(|(s, m)| replay(run, s, m));
    let mut out = Autoscaling {
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
        ..Autoscaling::default()
    };
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

#[cfg(test)]
pub mod tests;
