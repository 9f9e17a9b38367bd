//! `predict`'s result as lines or JSON.

use super::{Format, to_json};
use iris_report::autoscaling::predict::Prediction;

pub fn render_prediction(p: &Prediction, format: Format) -> String {
    if format == Format::Json {
        return to_json(p);
    }
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.1}{unit}"));
    let mut out = format!("load: {:.1} requests/s (from {})\n", p.rps, p.based_on);
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
    if let Some(e) = p.replay_mean_abs_error_replicas {
        out.push_str(&format!(
            "model check: replaying {} through the model, replicas off by {e:.2} on average\n",
            p.based_on
        ));
    }
    out
}
