//! `iris-lab predict`: another load through the HPA model with the capacity and start-up
//! measured in saved runs: the steady replicas, the time to reach them, the degradation window
//! and whether `maxReplicas` suffices.

use serde::{Deserialize, Serialize};

use super::{Autoscaling, PodModel, analyse_all, hpa_spec, simulate};
use crate::view::RunView;
use iris_hpa::{Metric, Spec, Target};

/// The load and the HPA settings to predict for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PredictInput {
    /// Closed model: this many users of the run's class (or `user_class`).
    pub users: Option<u64>,
    pub user_class: Option<String>,
    /// Open model: requests/s.
    pub arrival_rate: Option<f64>,
    pub min_replicas: Option<i32>,
    pub max_replicas: Option<i32>,
    pub target_cpu_pct: Option<i32>,
    /// How long the load lasts.
    pub duration_s: u64,
}

/// What the model predicts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The run whose capacity, start-up and HPA spec the prediction uses.
    pub based_on: String,
    /// Its user class, users and the steady requests/s that `--users` scales from.
    #[serde(default)]
    pub based_on_user_class: String,
    #[serde(default)]
    pub based_on_users: u64,
    #[serde(default)]
    pub based_on_rps: f64,
    pub rps: f64,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub target_cpu_pct: Option<i32>,
    pub rps_per_pod_at_target: Option<f64>,
    /// Steady replicas the HPA settles on, and when they are all Ready.
    pub replicas: i32,
    pub seconds_to_replicas: Option<u64>,
    /// Seconds with more load per ready pod than one serves well.
    pub degradation_s: u64,
    /// ceil(rps / rps per pod at target), and whether maxReplicas covers it.
    pub replicas_needed: Option<u32>,
    pub max_replicas_suffices: Option<bool>,
    pub pod_model: PodModel,
    /// How well the model reproduced the base run's own replicas.
    pub replay_mean_abs_error_replicas: Option<f64>,
    /// Set when that replay is off by more than one replica: the prediction is rough.
    #[serde(default)]
    pub replay_caveat: Option<String>,
    /// The controller's settings and metrics window the model ran with (the base run's cluster).
    #[serde(default)]
    pub timing: super::Timing,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PredictError {
    #[error("no saved runs to predict from: run `iris-lab load` against the cluster first")]
    NoRuns,
    #[error("no run supports a prediction: {0}")]
    NoModel(String),
    #[error("no run of user class {0} to scale users from; use --arrival-rate or another class")]
    NoClass(String),
    #[error("say what load to predict: --users N or --arrival-rate R")]
    NoLoad,
}

impl PredictError {
    /// A mistake in the flags (exit 2) rather than missing data (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::NoLoad)
    }
}

/// The requests/s `input` asks for, scaled from `run` for users.
fn load_rps(run: &RunView, a: &Autoscaling, input: &PredictInput) -> Option<f64> {
    match (input.arrival_rate, input.users) {
        (Some(rate), _) => Some(rate),
        (None, Some(users)) if run.users > 0 => {
            Some(a.steady_rps / run.users as f64 * users as f64)
        }
        _ => None,
    }
}

/// The run's HPA spec with the flags' min, max and CPU target.
fn with_overrides(mut spec: Spec, input: &PredictInput) -> Spec {
    if let Some(min) = input.min_replicas {
        spec.min_replicas = min;
    }
    if let Some(max) = input.max_replicas {
        spec.max_replicas = max;
    }
    if let Some(pct) = input.target_cpu_pct {
        for m in &mut spec.metrics {
            if let Metric::Resource {
                target: Target::Utilization { percent },
                ..
            } = m
            {
                *percent = pct;
            }
        }
    }
    spec
}

/// The prediction from the best-suited run (the user class asked for, the most users).
pub fn predict(runs: &[RunView], input: &PredictInput) -> Result<Prediction, PredictError> {
    if input.users.is_none() && input.arrival_rate.is_none() {
        return Err(PredictError::NoLoad);
    }
    if runs.is_empty() {
        return Err(PredictError::NoRuns);
    }
    let candidates: Vec<&RunView> = runs
        .iter()
        .filter(|r| {
            input.arrival_rate.is_some()
                || input.user_class.as_ref().is_none_or(|c| *c == r.user_class)
        })
        .collect();
    if candidates.is_empty() {
        return Err(PredictError::NoClass(
            input.user_class.clone().unwrap_or_default(),
        ));
    }
    let mut reasons = Vec::new();
    let mut best: Option<(&RunView, Autoscaling, PodModel)> = None;
    let analyses = analyse_all(runs);
    for (run, a) in runs.iter().zip(analyses) {
        if !candidates.iter().any(|c| std::ptr::eq(*c, run)) {
            continue;
        }
        if let Some(model) = a.pod_model.clone() {
            if best.as_ref().is_none_or(|(b, _, _)| run.users >= b.users) {
                best = Some((run, a, model));
            }
        } else {
            let why = a
                .no_data
                .clone()
                .or(a.capacity.no_fit_text.clone())
                .unwrap_or_else(|| "no pod started, so no start-up time".into());
            reasons.push(format!("{}: {why}", run.label));
        }
    }
    let (run, a, model) = best.ok_or_else(|| PredictError::NoModel(reasons.join("; ")))?;
    let spec = hpa_spec(run, &a.timing.controller())
        .map(|s| with_overrides(s, input))
        .ok_or_else(|| PredictError::NoModel(format!("{}: the run saw no HPA", run.label)))?;
    let rps = load_rps(run, &a, input).ok_or(PredictError::NoLoad)?;
    let load = vec![rps; input.duration_s.max(1) as usize];
    let sim = simulate::simulate(&spec, &a.timing, &model, spec.min_replicas, &load);
    let outcome = simulate::outcome(&sim);
    let target = spec.cpu_target_percent();
    let at_target = target.map(|t| {
        ((model.cpu_request_millis * f64::from(t) / 100.0 - model.idle_millicores)
            / model.millicores_per_rps)
            .max(0.0)
    });
    let needed = at_target
        .filter(|c| *c > 0.0)
        .map(|c| (rps / c).ceil().max(1.0) as u32);
    Ok(Prediction {
        based_on: run.label.clone(),
        based_on_user_class: run.user_class.clone(),
        based_on_users: run.users,
        based_on_rps: a.steady_rps,
        replay_caveat: a.replay.and_then(|r| r.caveat(&run.label)),
        timing: a.timing,
        rps,
        min_replicas: spec.min_replicas,
        max_replicas: spec.max_replicas,
        target_cpu_pct: target,
        rps_per_pod_at_target: at_target,
        replicas: outcome.replicas,
        seconds_to_replicas: outcome.seconds_to_replicas,
        degradation_s: outcome.degradation_s,
        replicas_needed: needed,
        max_replicas_suffices: needed.map(|n| spec.max_replicas.max(0) as u32 >= n),
        pod_model: model,
        replay_mean_abs_error_replicas: a.replay.map(|r| r.mean_abs_error_replicas),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_the_load_needs_twice_the_pods() {
        let run = super::super::fixtures::story();
        let input = |users| PredictInput {
            users: Some(users),
            duration_s: 600,
            ..PredictInput::default()
        };
        // The story's 100 users make 100 requests/s (steady rate = its average here): 4 pods.
        let p = predict(std::slice::from_ref(&run), &input(100)).unwrap();
        assert_eq!((p.replicas_needed, p.replicas), (Some(4), 4), "{p:?}");
        let p = predict(std::slice::from_ref(&run), &input(200)).unwrap();
        assert_eq!(p.replicas_needed, Some(8));
        assert!((p.replicas - 8).abs() <= 1, "{p:?}");
        assert!(p.seconds_to_replicas.is_some());
        assert_eq!(p.max_replicas_suffices, Some(true));
        let p = predict(
            std::slice::from_ref(&run),
            &PredictInput {
                max_replicas: Some(3),
                ..input(200)
            },
        )
        .unwrap();
        // 180 requests/s over 3 pods: 60 each, past the knee (50) for the whole run.
        assert_eq!((p.replicas, p.max_replicas_suffices), (3, Some(false)));
        assert!(p.degradation_s > 500, "{p:?}");
        assert_eq!(
            predict(&[run], &PredictInput::default()).unwrap_err(),
            PredictError::NoLoad
        );
        assert_eq!(predict(&[], &input(1)).unwrap_err(), PredictError::NoRuns);
    }

    #[test]
    fn the_prediction_names_its_run_and_says_when_the_replay_is_off() {
        let mut run = super::super::fixtures::story();
        run.label = "story".into();
        run.user_class = "HighLoadUser".into();
        let input = PredictInput {
            users: Some(200),
            duration_s: 300,
            ..PredictInput::default()
        };
        let p = predict(std::slice::from_ref(&run), &input).unwrap();
        assert_eq!(
            (p.based_on.as_str(), p.based_on_user_class.as_str()),
            ("story", "HighLoadUser")
        );
        assert_eq!(p.based_on_users, 100);
        // The story's steady rate is its average (no steady state, no scale-up caught up).
        assert!((p.based_on_rps - 90.0).abs() < 1e-9, "{p:?}");
        assert_eq!(p.replay_caveat, None, "{p:?}");
        // The cluster went to 8 replicas where the model (4 pods' worth of load) says 4.
        for s in run.timeline.iter_mut().filter(|s| s.t >= 60) {
            s.replicas = Some(8);
        }
        let p = predict(std::slice::from_ref(&run), &input).unwrap();
        let caveat = p.replay_caveat.expect("a caveat");
        assert!(
            caveat.starts_with("the model's replay of story is off by 2."),
            "{caveat}"
        );
    }
}
