//! The HPA controller's settings and metrics-server's window as a run's record knows them, so
//! the replay, the recommendations and `predict` run the cluster's controller rather than the
//! defaults: a simulated cluster says its settings (at its time scale) in its Deployment's
//! annotation, which the record keeps; a real cluster's kube-controller-manager flags cannot
//! be read (GKE does not expose them), so they are the documented defaults, with the metrics
//! window its PodMetrics reported.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use iris_hpa::ControllerSettings;
use iris_record::cluster::{ClusterRecord, SimulatedSetting};

/// metrics-server's default window (when the samples do not say theirs).
pub const DEFAULT_METRICS_WINDOW_S: f64 = 15.0;

/// Where the settings come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimingSource {
    /// The simulated cluster's own settings, from the record.
    Simulated,
    /// The controller's documented defaults (a real cluster's flags are not readable).
    #[default]
    Defaults,
}

/// The controller's settings and the metrics window the model runs with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub source: TimingSource,
    pub sync_period_s: f64,
    pub tolerance: f64,
    pub cpu_initialization_period_s: f64,
    pub initial_readiness_delay_s: f64,
    pub downscale_stabilization_s: f64,
    /// The window (and resolution) of metrics-server's samples.
    pub metrics_window_s: f64,
    /// A simulated cluster's time scale (1 = real time).
    pub time_scale: Option<f64>,
    /// A simulated cluster's set start-up, creation -> Ready, as it ran.
    pub pod_ready_after_s: Option<f64>,
}

impl Default for Timing {
    fn default() -> Self {
        Self::from_controller(
            &ControllerSettings::default(),
            DEFAULT_METRICS_WINDOW_S,
            TimingSource::Defaults,
        )
    }
}

impl Timing {
    fn from_controller(c: &ControllerSettings, window_s: f64, source: TimingSource) -> Self {
        Self {
            source,
            sync_period_s: c.sync_period.as_secs_f64(),
            tolerance: c.tolerance,
            cpu_initialization_period_s: c.cpu_initialization_period.as_secs_f64(),
            initial_readiness_delay_s: c.initial_readiness_delay.as_secs_f64(),
            downscale_stabilization_s: c.downscale_stabilization.as_secs_f64(),
            metrics_window_s: window_s,
            time_scale: None,
            pod_ready_after_s: None,
        }
    }

    /// The HPA model's settings.
    pub fn controller(&self) -> ControllerSettings {
        let d = |s: f64| Duration::from_secs_f64(s.max(0.0));
        ControllerSettings {
            sync_period: d(self.sync_period_s).max(Duration::from_millis(1)),
            tolerance: self.tolerance,
            cpu_initialization_period: d(self.cpu_initialization_period_s),
            initial_readiness_delay: d(self.initial_readiness_delay_s),
            downscale_stabilization: d(self.downscale_stabilization_s),
        }
    }

    /// The guide's 30-45 s reaction on this cluster: scaled by a simulated cluster's time
    /// scale, else as the guide says.
    pub fn guide_reaction_s(&self, guide: (f64, f64)) -> (f64, f64) {
        let k = self.time_scale.unwrap_or(1.0);
        (guide.0 * k, guide.1 * k)
    }

    /// The yardstick in words ("the guide's 30-45 s, 6-9 s at the simulation's time scale 0.2").
    pub fn guide_reaction_text(&self, guide: (f64, f64)) -> String {
        let (lo, hi) = self.guide_reaction_s(guide);
        match self.time_scale {
            Some(k) if (k - 1.0).abs() > f64::EPSILON => format!(
                "the guide's {:.0}-{:.0} s, {} at the simulation's time scale {k}",
                guide.0,
                guide.1,
                range_s(lo, hi)
            ),
            _ => format!("the guide's {:.0}-{:.0} s", guide.0, guide.1),
        }
    }
}

fn range_s(lo: f64, hi: f64) -> String {
    let f = |v: f64| {
        if (v - v.round()).abs() < 0.05 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    format!("{}-{} s", f(lo), f(hi))
}

/// Seconds of a simulated setting's value as it ran: "15 s (runs as 3 s)" -> 3, "0 s" -> 0.
fn as_run_s(value: &str) -> Option<f64> {
    let ran = value
        .split_once("(runs as ")
        .map_or(value, |(_, rest)| rest.trim_end_matches(')'));
    ran.trim().strip_suffix(" s")?.trim().parse().ok()
}

fn setting<'a>(settings: &'a [SimulatedSetting], name: &str) -> Option<&'a str> {
    settings
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value.as_str())
}

/// The settings a run's cluster ran its HPA with.
pub fn timing(cluster: &ClusterRecord) -> Timing {
    let window = super::capacity::metrics_window_s(&cluster.samples);
    let defaults = ControllerSettings::default();
    let Some(sim) = cluster.simulated.as_deref() else {
        return Timing::from_controller(&defaults, window, TimingSource::Defaults);
    };
    let secs = |name: &str, default: Duration| {
        setting(sim, name)
            .and_then(as_run_s)
            .unwrap_or(default.as_secs_f64())
    };
    let mut t = Timing::from_controller(&defaults, window, TimingSource::Simulated);
    t.sync_period_s = secs("hpa_sync_period", defaults.sync_period);
    t.cpu_initialization_period_s = secs(
        "cpu_initialization_period",
        defaults.cpu_initialization_period,
    );
    t.initial_readiness_delay_s = secs("initial_readiness_delay", defaults.initial_readiness_delay);
    t.downscale_stabilization_s =
        secs("scale_down_stabilization", defaults.downscale_stabilization);
    if cluster.samples.iter().all(|s| s.window_s.is_none()) {
        t.metrics_window_s = secs(
            "metrics_window",
            Duration::from_secs_f64(DEFAULT_METRICS_WINDOW_S),
        );
    }
    t.time_scale = setting(sim, "time_scale").and_then(|v| v.trim().parse().ok());
    t.pod_ready_after_s = setting(sim, "pod_ready_after").and_then(as_run_s);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> Vec<SimulatedSetting> {
        pairs
            .iter()
            .map(|(n, v)| SimulatedSetting {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect()
    }

    #[test]
    fn a_simulated_cluster_runs_its_controller_at_its_time_scale() {
        // What `SimSettings::demo().named()` writes (see sim::settings).
        let cluster = ClusterRecord {
            simulated: Some(named(&[
                ("time_scale", "0.2"),
                ("pod_ready_after", "35 s (runs as 7 s)"),
                ("hpa_sync_period", "15 s (runs as 3 s)"),
                ("metrics_window", "15 s (runs as 3 s)"),
                ("scale_down_stabilization", "300 s (runs as 60 s)"),
                ("cpu_initialization_period", "300 s (runs as 60 s)"),
                ("initial_readiness_delay", "30 s (runs as 6 s)"),
            ])),
            ..ClusterRecord::default()
        };
        let t = timing(&cluster);
        assert_eq!(t.source, TimingSource::Simulated);
        assert_eq!(
            (t.sync_period_s, t.metrics_window_s, t.pod_ready_after_s),
            (3.0, 3.0, Some(7.0))
        );
        let c = t.controller();
        assert_eq!(c.sync_period, Duration::from_secs(3));
        assert_eq!(c.cpu_initialization_period, Duration::from_secs(60));
        assert_eq!(c.initial_readiness_delay, Duration::from_secs(6));
        assert_eq!(c.downscale_stabilization, Duration::from_secs(60));
        assert_eq!(t.guide_reaction_s((30.0, 45.0)), (6.0, 9.0));
        assert_eq!(
            t.guide_reaction_text((30.0, 45.0)),
            "the guide's 30-45 s, 6-9 s at the simulation's time scale 0.2"
        );
    }

    #[test]
    fn a_real_cluster_has_the_defaults_with_its_metrics_window() {
        let t = timing(&ClusterRecord {
            samples: vec![iris_record::cluster::PodSampleRecord {
                window_s: Some(30.0),
                ..Default::default()
            }],
            ..ClusterRecord::default()
        });
        assert_eq!(t.source, TimingSource::Defaults);
        assert_eq!(t.controller(), ControllerSettings::default());
        assert_eq!(t.metrics_window_s, 30.0);
        assert_eq!(t.guide_reaction_text((30.0, 45.0)), "the guide's 30-45 s");
    }
}
