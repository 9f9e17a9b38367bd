//! `iris-lab sim` flags: where it listens, where its kubeconfig goes, and every setting of the
//! simulated cluster (pods' capacity and start-up, the HPA, the time scale, faults); the config
//! file's `sim:` section has the same keys (flags win).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use crate::units::{HumanDuration, PositiveDuration};

/// A simulated cluster on 127.0.0.1 until Ctrl-C: the guide's Deployment, LoadBalancer Service
/// and HPA, pods that really serve and start at set delays; try every command on it.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimArgs {
    /// Write the cluster's kubeconfig to FILE [default: ./iris-lab-sim.kubeconfig].
    #[arg(long, value_name = "FILE")]
    pub write_kubeconfig: Option<PathBuf>,

    /// Address of the Kubernetes API [default: 127.0.0.1:0, a free port].
    #[arg(long, value_name = "ADDR")]
    pub api_addr: Option<SocketAddr>,

    /// Address of the LoadBalancer Service (its external IP and port) [default: 127.0.0.1:0].
    #[arg(long, value_name = "ADDR")]
    pub service_addr: Option<SocketAddr>,

    /// Requests per second one core of a pod serves [default: 400, measured on the Python server].
    #[arg(long, value_name = "RPS")]
    pub rps_per_core: Option<f64>,

    /// The pods' CPU request in millicores [default: 200].
    #[arg(long, value_name = "MILLICORES")]
    pub cpu_request: Option<u32>,

    /// The pods' CPU limit in millicores: a pod serves at most rps-per-core x limit [default: 1000].
    #[arg(long, value_name = "MILLICORES")]
    pub cpu_limit: Option<u32>,

    /// Time from a pod's creation to its scheduling [default: 1s].
    #[arg(long, value_name = "DURATION")]
    pub scheduled_after: Option<HumanDuration>,

    /// Time from a pod's creation to its container's start [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub started_after: Option<HumanDuration>,

    /// Time from a pod's creation to Ready [default: 35s, the guide's 30-45 s].
    #[arg(long, value_name = "DURATION")]
    pub ready_after: Option<HumanDuration>,

    /// Time a deleted pod keeps serving its connections (preStop) [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub terminating_for: Option<HumanDuration>,

    /// The Deployment's replicas at start [default: 2].
    #[arg(long, value_name = "N")]
    pub replicas: Option<i32>,

    /// The HPA's minReplicas [default: 2].
    #[arg(long, value_name = "N")]
    pub min_replicas: Option<i32>,

    /// The HPA's maxReplicas [default: 15].
    #[arg(long, value_name = "N")]
    pub max_replicas: Option<i32>,

    /// The HPA's CPU target, percent of request [default: 60].
    #[arg(long, value_name = "PERCENT")]
    pub target_cpu: Option<i32>,

    /// The HPA controller's sync period [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub sync_period: Option<PositiveDuration>,

    /// metrics-server's window [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub metrics_window: Option<PositiveDuration>,

    /// behavior.scaleUp.stabilizationWindowSeconds [default: 0s].
    #[arg(long, value_name = "DURATION")]
    pub scale_up_stabilization: Option<HumanDuration>,

    /// behavior.scaleDown.stabilizationWindowSeconds [default: 5m].
    #[arg(long, value_name = "DURATION")]
    pub scale_down_stabilization: Option<HumanDuration>,

    /// Multiplies every duration (0.2 runs 35 s of start-up in 7 s) [default: 1].
    #[arg(long, value_name = "FACTOR")]
    pub time_scale: Option<f64>,

    /// Fault: the Service's external IP stays <pending>.
    #[arg(long)]
    pub pending_address: bool,

    /// Fault: this many pods crash at start (CrashLoopBackOff).
    #[arg(long, value_name = "N")]
    pub crashing_pods: Option<u32>,

    /// Fault: no metrics-server (metrics.k8s.io answers 503, the HPA has no metrics).
    #[arg(long)]
    pub no_metrics: bool,
}

super::layered!(SimArgs {
    write_kubeconfig,
    api_addr,
    service_addr,
    rps_per_core,
    cpu_request,
    cpu_limit,
    scheduled_after,
    started_after,
    ready_after,
    terminating_for,
    replicas,
    min_replicas,
    max_replicas,
    target_cpu,
    sync_period,
    metrics_window,
    scale_up_stabilization,
    scale_down_stabilization,
    time_scale,
    pending_address,
    crashing_pods,
    no_metrics,
});

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<SimArgs, clap::Error> {
        let argv = ["iris-lab", "sim"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            Command::Sim(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn settings_and_faults() {
        let a = parse(&[
            "--ready-after",
            "10s",
            "--max-replicas",
            "8",
            "--time-scale",
            "0.5",
            "--no-metrics",
            "--crashing-pods",
            "1",
        ])
        .unwrap();
        assert_eq!(a.ready_after.unwrap().0, std::time::Duration::from_secs(10));
        assert_eq!(a.max_replicas, Some(8));
        assert_eq!(a.time_scale, Some(0.5));
        assert!(a.no_metrics && !a.pending_address);
        assert_eq!(a.crashing_pods, Some(1));
        assert!(parse(&["--ready-after", "soon"]).is_err());
    }
}
