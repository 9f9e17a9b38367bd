//! The one model of the HorizontalPodAutoscaler (autoscaling/v2), as the documentation and
//! kube-controller-manager's podautoscaler describe it. Pure and clock-free: every function takes
//! the time (`now_s`, model seconds from any origin) and the state it needs, so a simulated
//! cluster, a replay of a recorded run and a prediction drive the same code. Imports no room.
//!
//! - [`Spec::from_k8s`]: an `autoscaling/v2` `HorizontalPodAutoscalerSpec` with every default
//!   resolved (`minReplicas` 1, 80% CPU without metrics; each unset part of `behavior` from the
//!   documented defaults: scale-up without stabilization, the larger of +100% and +4 pods per
//!   15 s; scale-down with the controller's 300 s window, -100% per 15 s; tolerance 0.1).
//!   An unset `behavior` is treated as wholly default (the controller's older path without
//!   `behavior` differs only in corner cases: it allows max(2 x current, 4) per sync and may
//!   hold a scale-down above `current`).
//! - [`resource_replicas`]: one resource metric's proposal, `ceil(ready x current / target)`
//!   (utilization truncated to a whole percent first, as the controller does), unchanged within
//!   the tolerance; pending pods and, for CPU, pods not yet ready (inside the 5 min CPU
//!   initialization period: unready, or their sample began before they became ready; after it:
//!   unready and never ready within the 30 s initial readiness delay) are set aside, as are pods
//!   without metrics; then, if any were set aside, the conservative re-computation: on a
//!   scale-up they count as using 0%, on a scale-down pods without metrics count as using 100%
//!   of their request (or the target if higher), and no change if that reverses the direction
//!   or falls within the tolerance.
//! - [`stabilize`] and [`limit_rate`]: `behavior` over the recommendation history and the
//!   scale events (policies Pods/Percent per period, `selectPolicy` Max/Min/Disabled), then
//!   `minReplicas`..`maxReplicas`.
//! - [`Autoscaler`]: one HPA stepping through time with that history.
//!
//! Driving it step by step (a simulated cluster, a replay):
//!
//! ```
//! use iris_hpa::{Autoscaler, ControllerSettings, PodView, Phase, Readiness, Spec, Usage};
//! # use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
//! # let k8s_spec: HorizontalPodAutoscalerSpec = serde_json::from_value(serde_json::json!({
//! #     "scaleTargetRef": {"kind": "Deployment", "name": "iris"}, "minReplicas": 2,
//! #     "maxReplicas": 15, "metrics": [{"type": "Resource", "resource": {"name": "cpu",
//! #     "target": {"type": "Utilization", "averageUtilization": 60}}}]})).unwrap();
//! let settings = ControllerSettings::default(); // 15 s sync, tolerance 0.1, ...
//! let mut hpa = Autoscaler::new(Spec::from_k8s(&k8s_spec, &settings), settings);
//! let pod = |name: &str, cpu_milli| PodView {
//!     name: name.into(),
//!     phase: Phase::Running,
//!     deleting: false,
//!     start_s: Some(-600.0),
//!     ready: Some(Readiness { ready: true, since_s: -590.0 }),
//!     cpu_request_milli: Some(500),
//!     memory_request_milli: Some(512 << 20),
//!     usage: Some(Usage { cpu_milli, memory_milli: 0, timestamp_s: -1.0, window_s: 15.0 }),
//! };
//! let mut replicas = 2;
//! let mut now_s = 0.0;
//! while now_s <= 60.0 {
//!     if hpa.due(now_s) {
//!         // The pods' usage at this moment (here: 450m each, 90% of request vs 60%).
//!         let pods: Vec<PodView> =
//!             (0..replicas).map(|i| pod(&format!("p{i}"), 450)).collect();
//!         let decision = hpa.sync(now_s, replicas, &pods);
//!         if decision.rescale() {
//!             replicas = decision.desired; // the driver applies it (creates the pods)
//!         }
//!     }
//!     now_s += 1.0;
//! }
//! // 2 -> 3 (ceil(2 x 90/60)) at 0 s, then 3 x 1.5 = 5 at 15 s, 8 at 30 s, 12 at 45 s, 15 at 60 s.
//! assert_eq!(replicas, 15);
//! ```

mod behavior;
mod controller;
mod k8s;
mod quantity;
mod replicas;
mod spec;

pub use behavior::{
    Bounds, Events, Limit, Recommendation, ScaleEvent, limit_rate, scale_down_limit,
    scale_up_limit, stabilize,
};
pub use controller::{Autoscaler, Decision, MetricOutcome};
pub use k8s::{model_seconds, pod_request_milli, pod_view};
pub use quantity::{milli_value, value_in as quantity_in};
pub use replicas::{
    MetricError, MetricProposal, Phase, PodView, Readiness, Tolerances, Usage, resource_replicas,
};
pub use spec::{
    ControllerSettings, Metric, Policy, PolicyKind, Resource, Rules, Select, Spec, Target,
    default_scale_down, default_scale_up,
};

#[cfg(test)]
mod tests;
