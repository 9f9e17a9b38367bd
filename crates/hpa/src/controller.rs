//! The stateful part: one HPA's controller stepping through model time ([`Autoscaler`]). It
//! keeps what the real controller keeps between syncs (recommendations for the stabilization
//! windows, scale events for the policies) and nothing else.

use serde::Serialize;

use super::behavior::{
    Bounds, Events, Limit, Recommendation, ScaleEvent, keep_events, keep_recommendations,
    limit_rate, stabilize,
};
use super::replicas::{MetricError, MetricProposal, PodView, Tolerances, resource_replicas};
use super::spec::{ControllerSettings, Metric, Spec};

/// What one metric gave at a sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MetricOutcome {
    Proposed(MetricProposal),
    Failed { error: MetricError },
}

/// One sync's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub t_s: f64,
    /// The target's `spec.replicas` before the sync.
    pub current: i32,
    /// What the HPA sets (`status.desiredReplicas`); equal to `current` when it does not scale.
    pub desired: i32,
    /// The largest proposal of the metrics, before `behavior`; `None` when the metrics could not
    /// be used (all failed, or some failed on a scale-down) or were not consulted.
    pub recommendation: Option<i32>,
    /// After the stabilization windows.
    pub stabilized: Option<i32>,
    /// What held `desired` away from the recommendation.
    pub limit: Option<Limit>,
    pub metrics: Vec<MetricOutcome>,
}

impl Decision {
    /// Whether the HPA changes the target's replicas.
    pub fn rescale(&self) -> bool {
        self.desired != self.current
    }

    /// The first metric's utilization, percent of request, as `kubectl get hpa` shows it.
    pub fn utilization_pct(&self) -> Option<i32> {
        self.metrics.iter().find_map(|m| match m {
            MetricOutcome::Proposed(p) => p.utilization_pct,
            MetricOutcome::Failed { .. } => None,
        })
    }
}

/// One HPA's controller. Drive it with [`Autoscaler::sync`] every sync period
/// ([`Autoscaler::next_sync_s`]) and apply each rescaling decision to the target; the model
/// assumes the change it decides is made (it records it as a scale event at once).
#[derive(Debug, Clone)]
pub struct Autoscaler {
    spec: Spec,
    settings: ControllerSettings,
    recommendations: Vec<Recommendation>,
    up_events: Vec<ScaleEvent>,
    down_events: Vec<ScaleEvent>,
    last_sync_s: Option<f64>,
}

impl Autoscaler {
    pub fn new(spec: Spec, settings: ControllerSettings) -> Self {
        Self {
            spec,
            settings,
            recommendations: Vec::new(),
            up_events: Vec::new(),
            down_events: Vec::new(),
            last_sync_s: None,
        }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn settings(&self) -> &ControllerSettings {
        &self.settings
    }

    /// When the next sync is due: at once before the first, then one sync period after the
    /// last.
    pub fn next_sync_s(&self) -> Option<f64> {
        self.last_sync_s
            .map(|t| t + self.settings.sync_period.as_secs_f64())
    }

    /// Whether a sync is due at `now_s`.
    pub fn due(&self, now_s: f64) -> bool {
        self.next_sync_s().is_none_or(|t| now_s >= t)
    }

    /// One sync at `now_s` with the target's `spec.replicas` (`current`) and its pods.
    pub fn sync(&mut self, now_s: f64, current: i32, pods: &[PodView]) -> Decision {
        self.last_sync_s = Some(now_s);
        let mut decision = Decision {
            t_s: now_s,
            current,
            desired: current,
            recommendation: None,
            stabilized: None,
            limit: None,
            metrics: Vec::new(),
        };
        let (min, max) = (self.spec.min_replicas, self.spec.max_replicas);
        if current == 0 && min != 0 {
            // Scaled to zero by hand: autoscaling is off until someone scales it up.
            return decision;
        }
        if current > max || current < min {
            decision.desired = current.clamp(min, max);
            decision.limit = Some(if current > max {
                Limit::TooManyReplicas
            } else {
                Limit::TooFewReplicas
            });
            self.record_event(now_s, current, decision.desired);
            return decision;
        }
        decision.metrics = self.evaluate_metrics(now_s, current, pods);
        let Some(recommendation) = recommend(&decision.metrics, current) else {
            return decision;
        };
        decision.recommendation = Some(recommendation);
        self.normalize(&mut decision, recommendation);
        self.record_event(now_s, current, decision.desired);
        decision
    }

    fn evaluate_metrics(&self, now_s: f64, current: i32, pods: &[PodView]) -> Vec<MetricOutcome> {
        let tolerances = Tolerances {
            up: self.spec.scale_up.tolerance,
            down: self.spec.scale_down.tolerance,
        };
        self.spec
            .metrics
            .iter()
            .map(|metric| match metric {
                Metric::Resource { resource, target } => {
                    let got = resource_replicas(
                        current,
                        *resource,
                        *target,
                        pods,
                        now_s,
                        tolerances,
                        &self.settings,
                    );
                    match got {
                        Ok(p) => MetricOutcome::Proposed(p),
                        Err(error) => MetricOutcome::Failed { error },
                    }
                }
                Metric::Unsupported { description } => MetricOutcome::Failed {
                    error: MetricError::Unsupported {
                        description: description.clone(),
                    },
                },
            })
            .collect()
    }

    fn normalize(&mut self, decision: &mut Decision, recommendation: i32) {
        let now_s = decision.t_s;
        let (up, down) = (&self.spec.scale_up, &self.spec.scale_down);
        let (stabilized, stabilized_by) = stabilize(
            now_s,
            decision.current,
            recommendation,
            &self.recommendations,
            up,
            down,
        );
        self.recommendations.push(Recommendation {
            t_s: now_s,
            replicas: recommendation,
        });
        keep_recommendations(&mut self.recommendations, now_s, up, down);
        let events = Events {
            up: &self.up_events,
            down: &self.down_events,
        };
        let bounds = Bounds {
            min_replicas: self.spec.min_replicas,
            max_replicas: self.spec.max_replicas,
            up,
            down,
        };
        let (desired, limited_by) = limit_rate(now_s, decision.current, stabilized, events, bounds);
        decision.stabilized = Some(stabilized);
        decision.desired = desired;
        decision.limit = limited_by.or(stabilized_by);
    }

    fn record_event(&mut self, now_s: f64, from: i32, to: i32) {
        if to > from {
            keep_events(&mut self.up_events, now_s, &self.spec.scale_up);
            self.up_events.push(ScaleEvent {
                t_s: now_s,
                change: to - from,
            });
        } else if to < from {
            keep_events(&mut self.down_events, now_s, &self.spec.scale_down);
            self.down_events.push(ScaleEvent {
                t_s: now_s,
                change: from - to,
            });
        }
    }
}

/// The largest proposal; `None` when every metric failed, or some failed and the others ask for
/// fewer replicas (the controller does not scale down on partial metrics).
fn recommend(metrics: &[MetricOutcome], current: i32) -> Option<i32> {
    let proposals: Vec<i32> = metrics
        .iter()
        .filter_map(|m| match m {
            MetricOutcome::Proposed(p) => Some(p.replicas),
            MetricOutcome::Failed { .. } => None,
        })
        .collect();
    let failed = metrics.len() - proposals.len();
    let best = proposals.into_iter().max()?;
    (failed == 0 || best >= current).then_some(best)
}
