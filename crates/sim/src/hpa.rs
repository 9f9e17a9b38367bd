//! The HorizontalPodAutoscaler controller of the simulated cluster: every sync period it reads
//! the HPA, the Deployment's scale, the pods and their PodMetrics from the store, lets the one
//! model of the autoscaling room ([`iris_hpa::Autoscaler`]) decide, scales the Deployment,
//! and writes the HPA's status, conditions and Events as kube-controller-manager does. No
//! algorithm of its own: the documented one lives in `hpa`.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::objects::{self, NAMESPACE};
use super::settings::SimSettings;
use super::world::{DEPLOYMENTS, HPAS, POD_METRICS, World};
use iris_hpa::{
    Autoscaler, ControllerSettings, Decision, Limit, MetricOutcome, Spec, Usage, milli_value,
    model_seconds, pod_view,
};

/// kube-controller-manager's HPA flags at the simulation's time scale.
pub fn controller_settings(s: &SimSettings) -> ControllerSettings {
    ControllerSettings {
        sync_period: s.scaled(s.sync_period),
        cpu_initialization_period: s.scaled(s.cpu_initialization_period),
        initial_readiness_delay: s.scaled(s.initial_readiness_delay),
        downscale_stabilization: s.scaled(s.scale_down_stabilization),
        ..ControllerSettings::default()
    }
}

/// Runs the HPA controller until the world stops: one sync per period, the first one period
/// after the start.
pub async fn controller(world: Arc<World>) {
    let settings = controller_settings(&world.settings);
    let origin = Timestamp::now();
    let mut model: Option<Autoscaler> = None;
    let mut tick = tokio::time::interval(settings.sync_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = world.stop.cancelled() => return,
            _ = tick.tick() => sync(&world, &mut model, settings, origin),
        }
    }
}

/// The pods' samples from metrics.k8s.io, by pod name, as the model reads them.
fn usages(world: &World, origin: Timestamp) -> Vec<(String, Usage)> {
    let (items, _) = world.store.list(POD_METRICS, Some(NAMESPACE), |_| true);
    items
        .iter()
        .filter_map(|m| {
            let name = m["metadata"]["name"].as_str()?.to_string();
            let usage = &m["containers"][0]["usage"];
            let at: Timestamp = m["timestamp"].as_str()?.parse().ok()?;
            let window = m["window"]
                .as_str()?
                .trim_end_matches('s')
                .parse::<f64>()
                .ok()?;
            Some((
                name,
                Usage {
                    cpu_milli: milli_value(usage["cpu"].as_str()?)?,
                    memory_milli: milli_value(usage["memory"].as_str()?)?,
                    timestamp_s: model_seconds(origin, at),
                    window_s: window,
                },
            ))
        })
        .collect()
}

fn sync(
    world: &World,
    model: &mut Option<Autoscaler>,
    settings: ControllerSettings,
    origin: Timestamp,
) {
    let names = &world.names;
    let Some(hpa_json) = world.store.get(HPAS, NAMESPACE, &names.hpa) else {
        return;
    };
    let Ok(hpa) = serde_json::from_value::<HorizontalPodAutoscaler>(hpa_json.clone()) else {
        return;
    };
    let Some(mut deployment) = world.store.get(DEPLOYMENTS, NAMESPACE, &names.deployment) else {
        return;
    };
    let autoscaler = model.get_or_insert_with(|| {
        Autoscaler::new(
            Spec::from_k8s(&hpa.spec.clone().unwrap_or_default(), &settings),
            settings,
        )
    });
    let current = deployment["spec"]["replicas"].as_i64().unwrap_or(0) as i32;
    let usages = usages(world, origin);
    let pods: Vec<Pod> = world.pods();
    let views: Vec<_> = pods
        .iter()
        .map(|p| {
            let name = p.metadata.name.as_deref().unwrap_or("");
            let usage = usages.iter().find(|(n, _)| n == name).map(|(_, u)| *u);
            pod_view(p, usage, origin)
        })
        .collect();
    let decision = autoscaler.sync(model_seconds(origin, Timestamp::now()), current, &views);
    let hpa_ref = (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        names.hpa.as_str(),
    );
    if decision.rescale() {
        deployment["spec"]["replicas"] = json!(decision.desired);
        world.store.put(deployment);
        let direction = if decision.desired > current {
            "above"
        } else {
            "below"
        };
        // Without a recommendation the HPA only brought the replicas within min..max.
        let why = match (decision.recommendation, decision.limit) {
            (None, Some(Limit::TooFewReplicas)) => {
                "Current number of replicas below Spec.MinReplicas".to_string()
            }
            (None, Some(Limit::TooManyReplicas)) => {
                "Current number of replicas above Spec.MaxReplicas".to_string()
            }
            _ => format!("cpu resource utilization (percentage of request) {direction} target"),
        };
        world.event(
            hpa_ref,
            "Normal",
            "SuccessfulRescale",
            &format!("New size: {}; reason: {why}", decision.desired),
            "horizontal-pod-autoscaler",
        );
    }
    if let Some(failure) = failure(&decision) {
        world.event(
            hpa_ref,
            "Warning",
            "FailedGetResourceMetric",
            &failure,
            "horizontal-pod-autoscaler",
        );
    }
    let mut hpa_json = hpa_json;
    hpa_json["status"] = status(&hpa_json["status"], &decision);
    world.store.put(hpa_json);
}

/// What the controller says when the CPU metric could not be computed.
fn failure(decision: &Decision) -> Option<String> {
    decision.metrics.iter().find_map(|m| match m {
        MetricOutcome::Failed { error } => Some(format!("failed to get cpu utilization: {error}")),
        MetricOutcome::Proposed(_) => None,
    })
}

fn limit_text(limit: Limit) -> (&'static str, &'static str) {
    match limit {
        Limit::TooManyReplicas => (
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        ),
        Limit::TooFewReplicas => (
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        ),
        Limit::ScaleUpLimit => (
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        ),
        Limit::ScaleDownLimit => (
            "ScaleDownLimit",
            "the desired replica count is decreasing faster than the maximum scale rate",
        ),
        Limit::ScaleDownStabilized => (
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
        ),
        Limit::ScaleUpStabilized => (
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation",
        ),
        Limit::ScalingDisabled => (
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        ),
    }
}

/// The HPA's status after a sync: replicas, the CPU metric, conditions as the controller
/// writes them.
fn status(old: &Value, d: &Decision) -> Value {
    let t = objects::now();
    let condition = |kind: &str, ok: bool, reason: &str, message: &str| {
        json!({"type": kind, "status": if ok {"True"} else {"False"}, "reason": reason,
               "message": message, "lastTransitionTime": t})
    };
    let mut conditions = vec![if d.rescale() {
        condition(
            "AbleToScale",
            true,
            "SucceededRescale",
            &format!(
                "the HPA controller was able to update the target scale to {}",
                d.desired
            ),
        )
    } else {
        condition(
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
        )
    }];
    let proposal = d.metrics.iter().find_map(|m| match m {
        MetricOutcome::Proposed(p) => Some(p),
        MetricOutcome::Failed { .. } => None,
    });
    let metrics = match proposal {
        Some(p) => {
            conditions.push(condition("ScalingActive", true, "ValidMetricFound",
                "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"));
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": p.utilization_pct,
                "averageValue": format!("{}m", p.average_milli)}}}])
        }
        None => {
            let message = failure(d).unwrap_or_else(|| "the metrics were not consulted".into());
            conditions.push(condition(
                "ScalingActive",
                false,
                "FailedGetResourceMetric",
                &format!("the HPA was unable to compute the replica count: {message}"),
            ));
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {}}}])
        }
    };
    conditions.push(match d.limit {
        Some(limit) => {
            let (reason, message) = limit_text(limit);
            condition("ScalingLimited", true, reason, message)
        }
        None => condition(
            "ScalingLimited",
            false,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        ),
    });
    let last_scale = if d.rescale() {
        json!(t)
    } else {
        old["lastScaleTime"].clone()
    };
    json!({
        "currentReplicas": d.current,
        "desiredReplicas": d.desired,
        "currentMetrics": metrics,
        "conditions": conditions,
        "lastScaleTime": last_scale
    })
}

/// How long the HPA needs before it has read the pods' CPU once: the first sync after two
/// metrics windows.
pub fn first_metrics_within(s: &SimSettings) -> Duration {
    s.scaled(s.metrics_window * 2 + s.sync_period * 2)
}
