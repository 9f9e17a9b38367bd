//! `iris-lab sim`: the simulated cluster until Ctrl-C, with its kubeconfig written and the
//! commands to try printed.

use std::path::PathBuf;

use crate::cli::SimArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::server::Model;
use crate::signals;
use crate::sim::{Addresses, Faults, Sim, SimSettings};

/// Where the kubeconfig goes unless told otherwise.
pub const DEFAULT_KUBECONFIG: &str = "iris-lab-sim.kubeconfig";

/// The settings from the flags over the defaults. Pure.
pub fn settings(args: &SimArgs) -> SimSettings {
    let d = SimSettings::default();
    let span = |v: Option<crate::units::HumanDuration>, def| v.map_or(def, |s| s.0);
    let positive = |v: Option<crate::units::PositiveDuration>, def| v.map_or(def, |s| s.0);
    SimSettings {
        rps_per_core: args.rps_per_core.unwrap_or(d.rps_per_core),
        cpu_request_m: args.cpu_request.unwrap_or(d.cpu_request_m),
        cpu_limit_m: args.cpu_limit.unwrap_or(d.cpu_limit_m),
        scheduled_after: span(args.scheduled_after, d.scheduled_after),
        started_after: span(args.started_after, d.started_after),
        ready_after: span(args.ready_after, d.ready_after),
        terminating_for: span(args.terminating_for, d.terminating_for),
        replicas: args.replicas.unwrap_or(d.replicas),
        min_replicas: args.min_replicas.unwrap_or(d.min_replicas),
        max_replicas: args.max_replicas.unwrap_or(d.max_replicas),
        target_cpu_pct: args.target_cpu.unwrap_or(d.target_cpu_pct),
        sync_period: positive(args.sync_period, d.sync_period),
        metrics_window: positive(args.metrics_window, d.metrics_window),
        scale_up_stabilization: span(args.scale_up_stabilization, d.scale_up_stabilization),
        scale_down_stabilization: span(args.scale_down_stabilization, d.scale_down_stabilization),
        time_scale: args.time_scale.unwrap_or(d.time_scale),
        faults: Faults {
            pending_address: args.pending_address,
            crashing_pods: args.crashing_pods.unwrap_or(0),
            no_metrics: args.no_metrics,
        },
        ..d
    }
}

pub async fn run(settings_: &Settings, args: &SimArgs) -> Result<Outcome, Error> {
    let sim_settings = settings(args);
    let model = Model::train()?;
    let defaults = Addresses::default();
    let at = Addresses {
        api: args.api_addr.unwrap_or(defaults.api),
        front: args.service_addr.unwrap_or(defaults.front),
    };
    let cluster = Sim::start(sim_settings, settings_.names.clone(), model, at).await?;
    // Handlers first: a Ctrl-C right after the banner must stop the cluster in order.
    let shutdown = signals::shutdown();
    let path = args
        .write_kubeconfig
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_KUBECONFIG));
    if let Err(e) = cluster.write_kubeconfig(&path) {
        cluster.stop().await;
        return Err(e.into());
    }
    let service =
        (!cluster.settings().faults.pending_address).then(|| format!("http://{}", cluster.front));
    output::write_stdout(&output::render_sim_started(
        &path,
        &cluster.api_url(),
        service.as_deref(),
        &cluster.settings().named(),
        output::Style::for_stdout(),
    ))?;
    shutdown.await;
    cluster.stop().await;
    output::note("iris-lab sim: stopped");
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::HumanDuration;
    use std::time::Duration;

    #[test]
    fn flags_replace_their_settings_only() {
        let args = SimArgs {
            ready_after: Some(HumanDuration(Duration::from_secs(9))),
            max_replicas: Some(6),
            no_metrics: true,
            ..SimArgs::default()
        };
        let s = settings(&args);
        assert_eq!(s.ready_after, Duration::from_secs(9));
        assert_eq!(s.max_replicas, 6);
        assert!(s.faults.no_metrics);
        let d = SimSettings::default();
        assert_eq!(
            SimSettings {
                ready_after: d.ready_after,
                max_replicas: d.max_replicas,
                faults: Faults::default(),
                ..s
            },
            d
        );
    }
}
