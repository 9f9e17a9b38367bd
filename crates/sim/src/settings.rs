//! Every figure the simulated cluster invents, as a named setting with its default. The
//! durations are the ones a real cluster shows (the guide's 30-45 s pod start-up, the HPA's
//! 15 s sync period, metrics-server's 15 s windows); `time_scale` compresses all of them at
//! once (the demo runs at 0.2) and [`SimSettings::named`] says both in the report's header.

use std::time::Duration;

use serde::Serialize;

/// What one pod serves and how the objects look (the guide's Deployment and HPA).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimSettings {
    /// Requests per second that one core serves (every request costs 1/this core-seconds).
    pub rps_per_core: f64,
    /// CPU a pod uses with no requests, in millicores.
    pub idle_millicores: f64,
    /// The pods' CPU request and limit, in millicores: utilization is usage over the request;
    /// a pod serves at most `rps_per_core x limit / 1000` requests per second.
    pub cpu_request_m: u32,
    pub cpu_limit_m: u32,
    /// Memory request and limit, and what a pod uses: a base plus some per request waiting
    /// or in service.
    pub memory_request_mi: u32,
    pub memory_limit_mi: u32,
    pub memory_base_mi: f64,
    pub memory_per_queued_kib: f64,
    /// Pod start-up, from its creation: scheduled, container started, Ready.
    pub scheduled_after: Duration,
    pub started_after: Duration,
    pub ready_after: Duration,
    /// A deleted pod stops taking new connections at once and stops serving after this
    /// (the guide's preStop sleep of 15 s).
    pub terminating_for: Duration,
    /// The Deployment's replicas when the cluster starts.
    pub replicas: i32,
    /// The HPA: min, max, CPU target (% of request), and its controller's timings.
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub target_cpu_pct: i32,
    pub sync_period: Duration,
    /// metrics-server's scrape window (also the PodMetrics `window`).
    pub metrics_window: Duration,
    /// `behavior`: stabilization windows (scale-up 0 s, scale-down 300 s by default).
    pub scale_up_stabilization: Duration,
    pub scale_down_stabilization: Duration,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` and
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub cpu_initialization_period: Duration,
    pub initial_readiness_delay: Duration,
    /// Multiplies every duration above (1 = real time; the demo uses 0.2).
    pub time_scale: f64,
    /// Faults, for trying `verify` on what goes wrong on GKE.
    pub faults: Faults,
}

/// What can be made to go wrong.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    /// The Service's external address stays `<pending>`.
    pub pending_address: bool,
    /// This many pods crash at start (CrashLoopBackOff) instead of serving.
    pub crashing_pods: u32,
    /// metrics.k8s.io does not answer (metrics-server missing): the HPA has no metrics.
    pub no_metrics: bool,
}

/// The scale the demo runs at: 35 s of pod start-up become 7 s.
pub const DEMO_TIME_SCALE: f64 = 0.2;

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            // Measured: the Python server of shared/peers (uvicorn, one worker) served 405-423
            // requests per second of its own CPU time (utime+stime) under 20 closed-loop users
            // of IrisPredictionAPIUser's and HighLoadUser's task mix (README, "The simulated
            // cluster"). At 400, the guide's reported 304 and 449 requests/s need 6.3 and 9.4
            // pods at its 60% of 200m: its "2 -> 4-6" and "2 -> 8-12".
            rps_per_core: 400.0,
            idle_millicores: 2.0,
            cpu_request_m: 200,
            cpu_limit_m: 1000,
            memory_request_mi: 128,
            memory_limit_mi: 512,
            memory_base_mi: 96.0,
            memory_per_queued_kib: 64.0,
            scheduled_after: Duration::from_secs(1),
            started_after: Duration::from_secs(15),
            ready_after: Duration::from_secs(35),
            terminating_for: Duration::from_secs(15),
            replicas: 2,
            min_replicas: 2,
            max_replicas: 15,
            target_cpu_pct: 60,
            sync_period: Duration::from_secs(15),
            metrics_window: Duration::from_secs(15),
            scale_up_stabilization: Duration::ZERO,
            scale_down_stabilization: Duration::from_secs(300),
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
            time_scale: 1.0,
            faults: Faults::default(),
        }
    }
}

impl SimSettings {
    /// The defaults at the demo's time scale.
    pub fn demo() -> Self {
        Self {
            time_scale: DEMO_TIME_SCALE,
            ..Self::default()
        }
    }

    /// A duration of the settings as the simulation runs it (scaled).
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }

    /// Seconds of CPU one request costs.
    pub fn cpu_s_per_request(&self) -> f64 {
        1.0 / self.rps_per_core
    }

    /// The most requests per second one pod serves (at its CPU limit).
    pub fn pod_max_rps(&self) -> f64 {
        self.rps_per_core * f64::from(self.cpu_limit_m) / 1000.0
    }

    /// Checks the settings make sense together; says what is wrong otherwise.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            (v.is_finite() && v > 0.0)
                .then_some(())
                .ok_or_else(|| format!("{name} must be a positive number, not {v}"))
        };
        positive("the pod capacity (requests/s per core)", self.rps_per_core)?;
        positive("the time scale", self.time_scale)?;
        if self.cpu_request_m == 0 || self.cpu_limit_m < self.cpu_request_m {
            return Err(format!(
                "the CPU request ({}m) must be positive and at most the limit ({}m)",
                self.cpu_request_m, self.cpu_limit_m
            ));
        }
        if !(self.scheduled_after <= self.started_after && self.started_after <= self.ready_after) {
            return Err(
                "pod start-up delays must not decrease: scheduled <= started <= ready".into(),
            );
        }
        if self.min_replicas < 1 || self.max_replicas < self.min_replicas {
            return Err(format!(
                "the HPA needs 1 <= min replicas ({}) <= max replicas ({})",
                self.min_replicas, self.max_replicas
            ));
        }
        if self.target_cpu_pct < 1 {
            return Err("the HPA's CPU target must be at least 1%".into());
        }
        if self.sync_period.is_zero() || self.metrics_window.is_zero() {
            return Err("the HPA's sync period and the metrics window must be positive".into());
        }
        Ok(())
    }

    /// Every invented figure by name, with its value (durations as set and as run).
    pub fn named(&self) -> Vec<NamedSetting> {
        let d = |name: &'static str, v: Duration| NamedSetting {
            name,
            value: if (self.time_scale - 1.0).abs() < f64::EPSILON {
                fmt_s(v)
            } else {
                format!("{} (runs as {})", fmt_s(v), fmt_s(self.scaled(v)))
            },
        };
        let v = |name: &'static str, value: String| NamedSetting { name, value };
        vec![
            v("time_scale", format!("{}", self.time_scale)),
            v(
                "pod_capacity",
                format!(
                    "{} requests/s per core ({} at the {}m limit)",
                    self.rps_per_core,
                    self.pod_max_rps(),
                    self.cpu_limit_m
                ),
            ),
            v("idle_cpu", format!("{}m", self.idle_millicores)),
            v(
                "cpu_request_limit",
                format!("{}m / {}m", self.cpu_request_m, self.cpu_limit_m),
            ),
            v(
                "memory",
                format!(
                    "request {}Mi / limit {}Mi; use {}Mi + {} KiB per request queued or in service",
                    self.memory_request_mi,
                    self.memory_limit_mi,
                    self.memory_base_mi,
                    self.memory_per_queued_kib
                ),
            ),
            d("pod_scheduled_after", self.scheduled_after),
            d("pod_started_after", self.started_after),
            d("pod_ready_after", self.ready_after),
            d("pod_terminating_for", self.terminating_for),
            v(
                "hpa",
                format!(
                    "min {} / max {} replicas, CPU target {}%",
                    self.min_replicas, self.max_replicas, self.target_cpu_pct
                ),
            ),
            d("hpa_sync_period", self.sync_period),
            d("metrics_window", self.metrics_window),
            d("scale_up_stabilization", self.scale_up_stabilization),
            d("scale_down_stabilization", self.scale_down_stabilization),
            d("cpu_initialization_period", self.cpu_initialization_period),
            d("initial_readiness_delay", self.initial_readiness_delay),
        ]
    }
}

/// One setting for the report's header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedSetting {
    pub name: &'static str,
    pub value: String,
}

fn fmt_s(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_the_demo_compresses_time() {
        assert_eq!(SimSettings::default().validate(), Ok(()));
        let demo = SimSettings::demo();
        assert_eq!(demo.validate(), Ok(()));
        assert_eq!(demo.scaled(demo.ready_after), Duration::from_secs(7));
        let named = demo.named();
        let ready = named.iter().find(|n| n.name == "pod_ready_after").unwrap();
        assert_eq!(ready.value, "35 s (runs as 7 s)");
        assert_eq!(SimSettings::default().pod_max_rps(), 400.0);
    }

    #[test]
    fn settings_that_contradict_each_other_are_refused() {
        let bad = SimSettings {
            min_replicas: 5,
            max_replicas: 3,
            ..SimSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("min replicas (5)"));
        let bad = SimSettings {
            ready_after: Duration::from_secs(1),
            ..SimSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("must not decrease"));
    }
}
