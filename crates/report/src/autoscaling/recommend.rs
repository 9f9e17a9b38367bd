//! Recommendations for the HPA's settings (issue 20, section 5): `minReplicas`, the CPU target,
//! `maxReplicas` and the scale-up policy. Each says what it would change and why, with the
//! numbers behind it, and its predicted effect: the run's own load replayed through the HPA
//! model ([`super::simulate`]) once with the setting as it is and once as suggested. "No change
//! needed" is an answer too, with the numbers that show it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::simulate::{self, PodModel, SimSecond};
use super::{Autoscaling, anatomy::GUIDE_REACTION_S};
use iris_hpa::{ControllerSettings, Metric, Policy, PolicyKind, Select, Spec, Target};

/// A new scale-up is worth suggesting when it brings the pods Ready at least one sync sooner.
const WORTH_S: u64 = 15;
/// The documented default scale-up allows 4 pods per 15 s: a suggestion gives at least that.
const DEFAULT_POLICY_PODS: i32 = 4;
/// `maxReplicas` suggested over what the steady load needs.
const HEADROOM: f64 = 1.2;
/// A target is suggested that keeps a pod at this share of its latency knee.
const KNEE_SHARE: f64 = 0.8;

/// The HPA setting a recommendation is about (serialised as the names users know).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Setting {
    #[serde(rename = "minReplicas")]
    MinReplicas,
    #[serde(rename = "maxReplicas")]
    MaxReplicas,
    #[serde(rename = "target CPU utilization")]
    TargetCpuUtilization,
    #[serde(rename = "scaleUp policy")]
    ScaleUpPolicy,
    /// No recommendation could be made (no capacity fit or no start-up time).
    #[default]
    #[serde(rename = "none")]
    None,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MinReplicas => "minReplicas",
            Self::MaxReplicas => "maxReplicas",
            Self::TargetCpuUtilization => "target CPU utilization",
            Self::ScaleUpPolicy => "scaleUp policy",
            Self::None => "none",
        })
    }
}

/// A suggested `behavior.scaleUp`: a `Pods` policy added beside the current ones
/// (`selectPolicy: Max`) and the stabilization window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleUpRules {
    pub pods: i32,
    pub period_s: u64,
    pub stabilization_window_s: u64,
}

/// The run's load through the model with one set of HPA settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    pub peak_replicas: i32,
    /// The second the Ready pods first reached the effect's `goal_replicas`.
    pub goal_ready_s: Option<u64>,
    /// Seconds with more load per Ready pod than one serves well.
    pub degradation_s: u64,
    /// Syncs at which the scale-up policies or window held the replicas below the metrics.
    pub held_syncs: u32,
}

/// The predicted effect: the replay as the settings are and as suggested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub goal_replicas: i32,
    pub now: Replayed,
    pub then: Replayed,
}

/// A change worth making, or "no change needed", with the numbers behind it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub setting: Setting,
    /// Whether a change is suggested; false reads "no change needed".
    #[serde(default)]
    pub change: bool,
    pub current: Option<f64>,
    pub suggested: Option<f64>,
    /// The suggested scale-up rules, for [`Setting::ScaleUpPolicy`].
    #[serde(default)]
    pub scale_up: Option<ScaleUpRules>,
    /// The model's replay with the suggested setting.
    #[serde(default)]
    pub predicted: Option<Effect>,
    /// What it changes and why, in words with the numbers.
    pub effect: String,
}

/// The run's load and how many replicas it started with.
#[derive(Debug, Clone, Copy)]
pub struct Load<'a> {
    pub rps: &'a [f64],
    pub initial_replicas: i32,
}

struct Ctx<'a> {
    a: &'a Autoscaling,
    spec: &'a Spec,
    model: &'a PodModel,
    load: Load<'a>,
}

impl Ctx<'_> {
    fn replay(&self, spec: &Spec) -> Vec<SimSecond> {
        let initial = self
            .load
            .initial_replicas
            .max(spec.min_replicas)
            .min(spec.max_replicas);
        simulate::simulate(
            spec,
            ControllerSettings::default(),
            self.model,
            initial,
            self.load.rps,
        )
    }

    /// The replay now and with `changed`, judged at `goal` replicas (else the current peak).
    fn effect(&self, changed: &Spec, goal: Option<i32>) -> Effect {
        let now = self.replay(self.spec);
        let then = self.replay(changed);
        let goal = goal.unwrap_or_else(|| peak(&now));
        Effect {
            goal_replicas: goal,
            now: replayed(&now, goal),
            then: replayed(&then, goal),
        }
    }

    fn per_pod(&self) -> f64 {
        self.a.capacity.rps_per_pod_at_target.unwrap_or(0.0)
    }
}

fn peak(seconds: &[SimSecond]) -> i32 {
    seconds.iter().map(|s| s.replicas).max().unwrap_or(0)
}

fn replayed(seconds: &[SimSecond], goal: i32) -> Replayed {
    Replayed {
        peak_replicas: peak(seconds),
        goal_ready_s: seconds.iter().find(|s| s.ready >= goal).map(|s| s.t),
        degradation_s: seconds.iter().filter(|s| s.degraded).count() as u64,
        held_syncs: seconds.iter().filter(|s| s.held_by_scale_up_rules).count() as u32,
    }
}

fn secs(s: Option<u64>) -> String {
    s.map_or_else(|| "never".into(), |s| format!("+{s} s"))
}

fn keep(setting: Setting, current: Option<f64>, why: String) -> Recommendation {
    Recommendation {
        setting,
        current,
        effect: format!("no change needed: {why}"),
        ..Recommendation::default()
    }
}

/// Recommendations from one run's analysis, each checked through the model.
pub fn recommend(a: &Autoscaling, spec: &Spec, load: Load) -> Vec<Recommendation> {
    let Some(model) = &a.pod_model else {
        let why = a
            .capacity
            .no_fit_text
            .clone()
            .unwrap_or_else(|| "no pod started during the run, so no start-up time".into());
        return vec![Recommendation {
            effect: format!("no recommendation without a capacity fit and a start-up time: {why}"),
            ..Recommendation::default()
        }];
    };
    let steady;
    let load = if load.rps.is_empty() {
        steady = vec![a.steady_rps; 600];
        Load {
            rps: &steady,
            initial_replicas: spec.min_replicas,
        }
    } else {
        load
    };
    let ctx = Ctx {
        a,
        spec,
        model,
        load,
    };
    vec![
        min_replicas(&ctx),
        target_cpu(&ctx),
        max_replicas(&ctx),
        scale_up_policy(&ctx),
    ]
}

/// The pods the steady load needs, else "no change needed" saying there is no such count.
fn needed(ctx: &Ctx, setting: Setting, current: Option<f64>) -> Result<u32, Box<Recommendation>> {
    ctx.a.steady_replicas_needed.ok_or_else(|| {
        Box::new(keep(
            setting,
            current,
            "no CPU target to size the pods against, so no count of pods the load needs".into(),
        ))
    })
}

/// The replay's degradation and peak, as suggested and as it is.
fn degraded_and_peak(e: &Effect) -> String {
    format!(
        "the replay predicts {} s degraded instead of {} s, peaking at {} replicas instead of {}",
        e.then.degradation_s, e.now.degradation_s, e.then.peak_replicas, e.now.peak_replicas
    )
}

fn min_replicas(ctx: &Ctx) -> Recommendation {
    let (a, spec) = (ctx.a, ctx.spec);
    let min = spec.min_replicas.max(0) as u32;
    let current = Some(f64::from(min));
    let needed = match needed(ctx, Setting::MinReplicas, current) {
        Ok(n) => n,
        Err(keep) => return *keep,
    };
    let rps = a.steady_rps;
    if a.scale_ups.is_empty() || needed <= min {
        return keep(
            Setting::MinReplicas,
            current,
            format!(
                "{min} pods carry the steady {rps:.0} requests/s, which needs {needed} at {:.1} requests/s each",
                ctx.per_pod()
            ),
        );
    }
    let max = spec.max_replicas.max(0) as u32;
    if needed > max {
        return keep(
            Setting::MinReplicas,
            current,
            format!("the load needs {needed} pods, over maxReplicas {max}: raise that first"),
        );
    }
    let mut changed = spec.clone();
    changed.min_replicas = needed as i32;
    let e = ctx.effect(&changed, Some(needed as i32));
    Recommendation {
        setting: Setting::MinReplicas,
        change: true,
        current,
        suggested: Some(f64::from(needed)),
        scale_up: None,
        predicted: Some(e),
        effect: format!(
            "absorbs this load ({rps:.0} requests/s = {needed} pods at {:.1} requests/s each) without scaling: predicted degradation {} s instead of {} s, {needed} pods Ready from {} instead of {}",
            ctx.per_pod(),
            e.then.degradation_s,
            e.now.degradation_s,
            secs(e.then.goal_ready_s),
            secs(e.now.goal_ready_s)
        ),
    }
}

/// `spec` with its CPU utilization target at `pct`.
fn with_target(spec: &Spec, pct: i32) -> Spec {
    let mut changed = spec.clone();
    for m in &mut changed.metrics {
        if let Metric::Resource {
            target: Target::Utilization { percent },
            ..
        } = m
        {
            *percent = pct;
        }
    }
    changed
}

fn target_cpu(ctx: &Ctx) -> Recommendation {
    let c = &ctx.a.capacity;
    let current = c.cpu_target_pct;
    let (Some(target), Some(at_target)) = (current, c.rps_per_pod_at_target) else {
        return keep(
            Setting::TargetCpuUtilization,
            current,
            "the HPA has no CPU utilization target to assess".into(),
        );
    };
    let Some(knee) = c.knee_rps_per_pod else {
        return keep(
            Setting::TargetCpuUtilization,
            current,
            format!(
                "p95 never doubled in this run, so no latency knee to keep under; at {target:.0}% a pod takes {at_target:.1} requests/s"
            ),
        );
    };
    if at_target <= knee {
        return keep(
            Setting::TargetCpuUtilization,
            current,
            format!(
                "at {target:.0}% a pod takes {at_target:.1} requests/s, under the latency knee ({knee:.1} requests/s per pod) by {:.0}%",
                (1.0 - at_target / knee) * 100.0
            ),
        );
    }
    let m = ctx.model;
    let suggested = ((m.idle_millicores + m.millicores_per_rps * KNEE_SHARE * knee)
        / m.cpu_request_millis
        * 100.0)
        .floor()
        .max(1.0);
    let e = ctx.effect(&with_target(ctx.spec, suggested as i32), None);
    Recommendation {
        setting: Setting::TargetCpuUtilization,
        change: true,
        current,
        suggested: Some(suggested),
        scale_up: None,
        predicted: Some(e),
        effect: format!(
            "at {target:.0}% a pod takes {at_target:.1} requests/s, past the latency knee ({knee:.1}); at {suggested:.0}% it takes 80% of the knee; {}",
            degraded_and_peak(&e)
        ),
    }
}

fn max_replicas(ctx: &Ctx) -> Recommendation {
    let (a, spec) = (ctx.a, ctx.spec);
    let max = spec.max_replicas.max(0) as u32;
    let current = Some(f64::from(max));
    let needed = match needed(ctx, Setting::MaxReplicas, current) {
        Ok(n) => n,
        Err(keep) => return *keep,
    };
    let rps = a.steady_rps;
    if needed <= max {
        return keep(
            Setting::MaxReplicas,
            current,
            format!(
                "the steady {rps:.0} requests/s need {needed} pods at {:.1} requests/s each; {max} leaves {} pods of headroom",
                ctx.per_pod(),
                max - needed
            ),
        );
    }
    let suggested = (f64::from(needed) * HEADROOM).ceil();
    let mut changed = spec.clone();
    changed.max_replicas = suggested as i32;
    let e = ctx.effect(&changed, Some(needed as i32));
    Recommendation {
        setting: Setting::MaxReplicas,
        change: true,
        current,
        suggested: Some(suggested),
        scale_up: None,
        predicted: Some(e),
        effect: format!(
            "{rps:.0} requests/s need {needed} pods at the CPU target ({:.1} requests/s each); {max} caps it, so pods run above target; {suggested:.0} leaves 20% headroom: {}",
            ctx.per_pod(),
            degraded_and_peak(&e)
        ),
    }
}

/// The largest step up the metrics asked for at one sync in the replay.
fn largest_step(seconds: &[SimSecond], max: i32) -> i32 {
    let mut before = seconds.first().map_or(0, |s| s.replicas);
    let mut step = 0;
    for s in seconds {
        if let Some(wanted) = s.wanted {
            step = step.max(wanted.min(max) - before);
        }
        before = s.replicas;
    }
    step
}

fn scale_up_policy(ctx: &Ctx) -> Recommendation {
    let now = ctx.replay(ctx.spec);
    let reaction = ctx.a.reaction.map_or_else(
        || "no scale-up measured".to_string(),
        |r| {
            format!(
                "reaction median {:.0} s against the guide's {:.0}-{:.0} s",
                r.median_s, GUIDE_REACTION_S.0, GUIDE_REACTION_S.1
            )
        },
    );
    let startup = ctx.model.startup_s;
    let held = now.iter().filter(|s| s.held_by_scale_up_rules).count();
    if held == 0 {
        return keep(
            Setting::ScaleUpPolicy,
            None,
            format!(
                "in the replay the scale-up policies never held the HPA below what the metrics asked for ({reaction}; a new pod takes {startup:.0} s from the decision to Ready)"
            ),
        );
    }
    let rules = ScaleUpRules {
        pods: largest_step(&now, ctx.spec.max_replicas).max(DEFAULT_POLICY_PODS),
        period_s: 15,
        stabilization_window_s: 0,
    };
    let mut changed = ctx.spec.clone();
    changed.scale_up.stabilization_window = Duration::ZERO;
    changed.scale_up.select = Select::Max;
    changed.scale_up.policies.push(Policy {
        kind: PolicyKind::Pods,
        value: rules.pods,
        period: Duration::from_secs(rules.period_s),
    });
    let e = ctx.effect(&changed, None);
    let sooner = e
        .now
        .goal_ready_s
        .unwrap_or(u64::MAX)
        .saturating_sub(e.then.goal_ready_s.unwrap_or(u64::MAX));
    let numbers = format!(
        "the policies held the HPA back at {held} syncs of the replay; with {} pods per {} s and no stabilization window all {} pods are Ready at {} instead of {}, {} s degraded instead of {} s",
        rules.pods,
        rules.period_s,
        e.goal_replicas,
        secs(e.then.goal_ready_s),
        secs(e.now.goal_ready_s),
        e.then.degradation_s,
        e.now.degradation_s
    );
    if sooner < WORTH_S && e.then.degradation_s >= e.now.degradation_s {
        return keep(
            Setting::ScaleUpPolicy,
            None,
            format!("{numbers}: under one sync period ({WORTH_S} s) gained ({reaction})"),
        );
    }
    Recommendation {
        setting: Setting::ScaleUpPolicy,
        change: true,
        current: None,
        suggested: None,
        scale_up: Some(rules),
        predicted: Some(e),
        effect: format!("{numbers} ({reaction})"),
    }
}

#[cfg(test)]
mod tests {
    //! Over the story of [`super::super::tests`] (pods of `20 + 4 x requests/s` millicores,
    //! 200m requested; a rise from 20 to 100 requests/s; a knee at 50 requests/s per pod), with
    //! one HPA setting changed at a time.
    use super::*;
    use crate::autoscaling::{analyse, tests::story};
    use crate::view::RunView;

    fn recs(run: &RunView) -> Vec<Recommendation> {
        analyse(run).recommendations
    }

    fn find(recs: &[Recommendation], setting: Setting) -> &Recommendation {
        recs.iter()
            .find(|r| r.setting == setting)
            .unwrap_or_else(|| panic!("no {setting} in {recs:#?}"))
    }

    fn unchanged(recs: &[Recommendation], setting: Setting) {
        let r = find(recs, setting);
        assert!(!r.change, "{r:#?}");
        assert!(r.effect.starts_with("no change needed: "), "{}", r.effect);
        assert_eq!((r.suggested, r.predicted), (None, None), "{r:#?}");
    }

    fn with_cluster(edit: impl FnOnce(&mut iris_record::cluster::ClusterRecord)) -> RunView {
        let mut run = story();
        edit(run.cluster.as_mut().unwrap());
        run
    }

    #[test]
    fn one_recommendation_per_setting_serialised_by_its_name() {
        let r = recs(&story());
        let names: Vec<String> = r
            .iter()
            .map(|r| {
                serde_json::to_value(r.setting)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .into()
            })
            .collect();
        assert_eq!(
            names,
            [
                "minReplicas",
                "target CPU utilization",
                "maxReplicas",
                "scaleUp policy"
            ]
        );
        for (r, name) in r.iter().zip(&names) {
            assert_eq!(&r.setting.to_string(), name);
        }
    }

    #[test]
    fn min_replicas_fires_when_the_run_scaled_for_a_load_within_max() {
        let r = recs(&story());
        let min = find(&r, Setting::MinReplicas);
        assert!(min.change);
        assert_eq!((min.current, min.suggested), (Some(2.0), Some(4.0)));
        let e = min.predicted.expect("a replay");
        // From 4 pods the replay never has more than 25 requests/s per pod.
        assert_eq!((e.goal_replicas, e.then.degradation_s), (4, 0));
        assert_eq!(e.then.goal_ready_s, Some(0));
        assert!(e.now.goal_ready_s.unwrap() > 40, "{e:?}");
        assert!(
            min.effect.contains("25.0 requests/s each"),
            "{}",
            min.effect
        );
        // Already 4: no change.
        let r = recs(&with_cluster(|c| c.min_replicas = Some(4)));
        unchanged(&r, Setting::MinReplicas);
        assert!(
            find(&r, Setting::MinReplicas)
                .effect
                .contains("which needs 4")
        );
    }

    #[test]
    fn max_replicas_fires_when_the_load_needs_more_pods() {
        unchanged(&recs(&story()), Setting::MaxReplicas);
        let r = recs(&with_cluster(|c| c.max_replicas = Some(3)));
        let max = find(&r, Setting::MaxReplicas);
        assert!(max.change, "{max:#?}");
        // 4 needed, 20% headroom: 5.
        assert_eq!((max.current, max.suggested), (Some(3.0), Some(5.0)));
        let e = max.predicted.unwrap();
        assert_eq!((e.now.peak_replicas, e.then.peak_replicas), (3, 4));
        assert_eq!(e.now.goal_ready_s, None, "3 pods never make the 4 needed");
        assert!(e.then.goal_ready_s.is_some());
        // minReplicas cannot help while maxReplicas caps the load.
        unchanged(&r, Setting::MinReplicas);
    }

    #[test]
    fn the_target_fires_when_a_pod_at_target_is_past_the_latency_knee() {
        let r = recs(&story());
        unchanged(&r, Setting::TargetCpuUtilization);
        assert!(
            find(&r, Setting::TargetCpuUtilization)
                .effect
                .contains("25.0 requests/s, under the latency knee (50.0"),
        );
        // At 120% of 200m a pod takes (240 - 20) / 4 = 55 requests/s, past the knee (50).
        let r = recs(&with_cluster(|c| c.cpu_target_pct = Some(120)));
        let t = find(&r, Setting::TargetCpuUtilization);
        assert!(t.change, "{t:#?}");
        // 80% of the knee: 20 + 4 x 40 = 180m, 90% of the request.
        assert_eq!((t.current, t.suggested), (Some(120.0), Some(90.0)));
        let e = t.predicted.unwrap();
        assert!(e.then.peak_replicas > e.now.peak_replicas, "{e:?}");
    }

    #[test]
    fn the_scale_up_policy_fires_only_when_it_held_the_hpa_back() {
        let r = recs(&story());
        unchanged(&r, Setting::ScaleUpPolicy);
        assert!(
            find(&r, Setting::ScaleUpPolicy)
                .effect
                .contains("never held the HPA")
        );
        // One pod per minute: 2 -> 3, and a minute later 4.
        let run = with_cluster(|c| {
            c.hpa_spec = Some(
                serde_json::from_value(serde_json::json!({
                    "scaleTargetRef": {"kind": "Deployment", "name": "iris"},
                    "minReplicas": 2, "maxReplicas": 15,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": 60}}}],
                    "behavior": {"scaleUp": {"policies": [
                        {"type": "Pods", "value": 1, "periodSeconds": 60}]}}
                }))
                .unwrap(),
            )
        });
        let r = recs(&run);
        let p = find(&r, Setting::ScaleUpPolicy);
        assert!(p.change, "{p:#?}");
        assert_eq!(
            p.scale_up,
            Some(ScaleUpRules {
                pods: 4,
                period_s: 15,
                stabilization_window_s: 0
            })
        );
        let e = p.predicted.unwrap();
        assert_eq!(e.goal_replicas, 4);
        assert!(e.now.held_syncs > 0 && e.then.held_syncs == 0, "{e:?}");
        let (now, then) = (e.now.goal_ready_s.unwrap(), e.then.goal_ready_s.unwrap());
        assert!(now >= then + 45, "{e:?}");
        assert!(p.effect.contains("held the HPA back"), "{}", p.effect);
    }

    #[test]
    fn without_a_model_there_is_one_none_that_says_why() {
        let mut run = story();
        run.cluster.as_mut().unwrap().pods_started.clear();
        let r = recs(&run);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].setting, Setting::None);
        assert!(r[0].effect.contains("no start-up time"), "{}", r[0].effect);
    }
}
