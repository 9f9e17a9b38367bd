//! A load, second by second, through the HPA model ([`iris_hpa::Autoscaler`]) and pods with
//! the fitted capacity: each pod's CPU is `idle + millicores_per_rps x its requests/s` (capped at
//! its limit), metrics-server samples it every 15 s over the 15 s before, new pods become Ready
//! the measured start-up time after the HPA's decision. Used to replay a measured run (how well
//! the model reproduces its replicas), to predict another load and to test recommendations.

use serde::{Deserialize, Serialize};

use iris_hpa::{Autoscaler, ControllerSettings, Limit, Phase, PodView, Readiness, Spec, Usage};

/// metrics-server's resolution and window.
const METRICS_EVERY_S: u64 = 15;

/// What the simulation assumes of the pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodModel {
    pub idle_millicores: f64,
    pub millicores_per_rps: f64,
    pub cpu_request_millis: f64,
    pub cpu_limit_millis: Option<f64>,
    /// Decision -> Ready of a new pod.
    pub startup_s: f64,
    /// Above this rate per ready pod a second counts as degraded.
    pub overload_rps_per_pod: f64,
}

/// One simulated second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimSecond {
    pub t: u64,
    pub rps: f64,
    /// The target's replicas (what the HPA set) and the pods Ready.
    pub replicas: i32,
    pub ready: i32,
    pub degraded: bool,
    /// At a sync: what the metrics asked for, before `behavior` and the min/max clamp.
    #[serde(default)]
    pub wanted: Option<i32>,
    /// At a sync: the scale-up policies or the scale-up stabilization window held the
    /// replicas below what the metrics asked for.
    #[serde(default)]
    pub held_by_scale_up_rules: bool,
}

#[derive(Debug, Clone)]
struct SimPod {
    name: String,
    ready_t: f64,
    /// CPU millicores of each second since it was created.
    cpu: Vec<f64>,
}

impl SimPod {
    fn view(&self, now: f64, model: &PodModel) -> PodView {
        let running = now >= self.ready_t;
        let sample_t = (now as u64 / METRICS_EVERY_S * METRICS_EVERY_S) as f64;
        let window = METRICS_EVERY_S as usize;
        let lived = self.cpu.len();
        // Seconds of CPU before the sample time.
        let upto = lived.saturating_sub((now - sample_t) as usize);
        let usage = (running && upto >= window).then(|| Usage {
            cpu_milli: (self.cpu[upto - window..upto].iter().sum::<f64>() / window as f64) as i64,
            memory_milli: 0,
            timestamp_s: sample_t,
            window_s: METRICS_EVERY_S as f64,
        });
        PodView {
            name: self.name.clone(),
            phase: if running {
                Phase::Running
            } else {
                Phase::Pending
            },
            deleting: false,
            start_s: running.then_some(self.ready_t),
            ready: running.then_some(Readiness {
                ready: true,
                since_s: self.ready_t,
            }),
            cpu_request_milli: Some(model.cpu_request_millis as i64),
            memory_request_milli: Some(0),
            usage,
        }
    }
}

/// Runs `load` (requests/s of each second) from `initial` ready replicas.
pub fn simulate(
    spec: &Spec,
    settings: ControllerSettings,
    model: &PodModel,
    initial: i32,
    load: &[f64],
) -> Vec<SimSecond> {
    let mut hpa = Autoscaler::new(spec.clone(), settings);
    let mut serial = 0;
    let mut pods: Vec<SimPod> = (0..initial.max(0))
        .map(|_| {
            serial += 1;
            SimPod {
                name: format!("pod-{serial}"),
                ready_t: f64::NEG_INFINITY,
                cpu: vec![model.idle_millicores; METRICS_EVERY_S as usize * 2],
            }
        })
        .collect();
    let mut replicas = initial;
    let mut out = Vec::with_capacity(load.len());
    for (t, &rps) in load.iter().enumerate() {
        let now = t as f64;
        let ready = pods.iter().filter(|p| p.ready_t <= now).count() as i32;
        let per_pod = if ready > 0 {
            rps / f64::from(ready)
        } else {
            f64::INFINITY
        };
        let busy = model.idle_millicores + model.millicores_per_rps * per_pod;
        let busy = model.cpu_limit_millis.map_or(busy, |l| busy.min(l));
        for p in &mut pods {
            p.cpu.push(if p.ready_t <= now { busy } else { 0.0 });
        }
        let (mut wanted, mut held) = (None, false);
        if hpa.due(now) {
            let views: Vec<PodView> = pods.iter().map(|p| p.view(now, model)).collect();
            let decision = hpa.sync(now, replicas, &views);
            wanted = decision.recommendation;
            held = matches!(
                decision.limit,
                Some(Limit::ScaleUpLimit | Limit::ScaleUpStabilized)
            );
            if decision.desired > replicas {
                for _ in replicas..decision.desired {
                    serial += 1;
                    pods.push(SimPod {
                        name: format!("pod-{serial}"),
                        ready_t: now + model.startup_s,
                        cpu: Vec::new(),
                    });
                }
            } else if decision.desired < replicas {
                pods.truncate(decision.desired.max(0) as usize);
            }
            replicas = decision.desired;
        }
        out.push(SimSecond {
            t: t as u64,
            rps,
            replicas,
            ready,
            degraded: per_pod > model.overload_rps_per_pod,
            wanted,
            held_by_scale_up_rules: held,
        });
    }
    out
}

/// What a steady load leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Replicas at the end of the simulation.
    pub replicas: i32,
    /// Seconds until those replicas were all Ready (from the load's start).
    pub seconds_to_replicas: Option<u64>,
    /// Seconds with more load per ready pod than it serves well.
    pub degradation_s: u64,
}

pub fn outcome(seconds: &[SimSecond]) -> Outcome {
    let Some(last) = seconds.last() else {
        return Outcome::default();
    };
    Outcome {
        replicas: last.replicas,
        seconds_to_replicas: seconds
            .iter()
            .find(|s| s.ready >= last.replicas)
            .map(|s| s.t),
        degradation_s: seconds.iter().filter(|s| s.degraded).count() as u64,
    }
}
