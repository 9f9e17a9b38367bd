//! `predict`'s result as lines or JSON.

use super::{Format, to_json};
use iris_analysis::autoscaling::TimingSource;
use iris_analysis::autoscaling::predict::Prediction;

pub fn render_prediction(p: &Prediction, format: Format) -> String {
    if format == Format::Json {
        return to_json(p);
    }
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.1}{unit}"));
    let mut out = format!(
        "load: {:.1} requests/s, from run {} ({}, {} users, {:.1} requests/s steady)\n",
        p.rps, p.based_on, p.based_on_user_class, p.based_on_users, p.based_on_rps
    );
    out.push_str(&format!(
        "HPA: minReplicas {}, maxReplicas {}, CPU target {}\n",
        p.min_replicas,
        p.max_replicas,
        p.target_cpu_pct
            .map_or("-".to_string(), |t| format!("{t}%"))
    ));
    out.push_str(&format!(
        "one pod: {} at the target ({:.2} millicores per request/s above {:.0}m idle), Ready {:.0} s after the HPA's decision\n",
        opt(p.rps_per_pod_at_target, " requests/s"),
        p.pod_model.millicores_per_rps,
        p.pod_model.idle_millicores,
        p.pod_model.startup_s
    ));
    out.push_str(&format!(
        "predicted: {} replicas{}, {} s of degradation (more than {:.1} requests/s per ready pod)\n",
        p.replicas,
        p.seconds_to_replicas
            .map_or(String::new(), |s| format!(", all Ready after {s} s")),
        p.degradation_s,
        p.pod_model.overload_rps_per_pod
    ));
    if let (Some(n), Some(ok)) = (p.replicas_needed, p.max_replicas_suffices) {
        out.push_str(&format!(
            "needed at the target: {n} pods; maxReplicas {}: {}\n",
            p.max_replicas,
            if ok { "enough" } else { "too few" }
        ));
    }
    out.push_str(&format!(
        "controller: {} s sync period, {} s metrics window ({})\n",
        p.timing.sync_period_s,
        p.timing.metrics_window_s,
        match p.timing.source {
            TimingSource::Simulated => "the simulated cluster's",
            TimingSource::Defaults => "the controller's defaults",
        }
    ));
    if let Some(e) = p.replay_mean_abs_error_replicas {
        out.push_str(&format!(
            "model check: replaying {} through the model, replicas off by {e:.2} on average\n",
            p.based_on
        ));
    }
    if let Some(caveat) = &p.replay_caveat {
        out.push_str(&format!("warning: {caveat}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_the_base_run_the_controller_and_the_caveat() {
        let p = Prediction {
            based_on: "demo, 300 users".into(),
            based_on_user_class: "HighLoadUser".into(),
            based_on_users: 300,
            based_on_rps: 426.1,
            rps: 852.2,
            replay_caveat: Some("the model's replay of demo, 300 users is off by 4.27".into()),
            ..Prediction::default()
        };
        let text = render_prediction(&p, Format::Text);
        assert!(
            text.starts_with(
                "load: 852.2 requests/s, from run demo, 300 users (HighLoadUser, 300 users, 426.1 requests/s steady)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "controller: 15 s sync period, 15 s metrics window (the controller's defaults)"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("warning: the model's replay of demo, 300 users is off by 4.27\n"),
            "{text}"
        );
    }
}
