//! `iris-lab load` flags and their value parsers.

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use crate::units::{
    Count, HumanDuration, Millis, Percent, PositiveDuration, Rate, Share, Stages, Users, Wait,
};

/// Phases 2-4: run virtual users with Locust's semantics against the API.
///
/// The same struct is the config file's `load:` section (each key the flag's name with `_` for
/// `-`): one definition, one parser per value, merged in [`super::Layered`].
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadArgs {
    /// Number of concurrent virtual users (each with its own keep-alive connection).
    #[arg(short = 'u', long, value_name = "N")]
    pub users: Option<Users>,

    /// Users started per second, evenly spaced [default: 10].
    #[arg(short = 'r', long, value_name = "R")]
    pub spawn_rate: Option<Rate>,

    /// How long the run lasts from the first user's start, e.g. 90s, 5m, 1h30m [default: 5m].
    #[arg(short = 't', long, value_name = "D")]
    pub duration: Option<PositiveDuration>,

    /// User class: IrisPredictionAPIUser, HighLoadUser, StressTestUser, or one from --scenario
    /// [default: IrisPredictionAPIUser, or the scenario's only class].
    #[arg(long, value_name = "NAME")]
    pub user_class: Option<String>,

    /// YAML file defining user classes (tasks, weights, bodies, checks, wait, on_start).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Wait between tasks in seconds, uniform in A..B (overrides the class); 0 = no think time.
    #[arg(long, value_name = "A..B")]
    pub wait: Option<Wait>,

    /// Directory for run records [default: ./iris-lab-runs].
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Free text saved with the run, e.g. "baseline, 2 pods".
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Also write Locust's CSV files: PREFIX_stats.csv, PREFIX_stats_history.csv,
    /// PREFIX_failures.csv, PREFIX_exceptions.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,

    /// Exit 1 (after saving) when the failure rate exceeds P, e.g. 1% or 0.5%.
    #[arg(long, value_name = "P")]
    pub max_failure_rate: Option<Percent>,

    /// Exit 1 (after saving) when the aggregated p95 exceeds MS, e.g. 500, 500ms, 1.5s.
    #[arg(long, value_name = "MS")]
    pub max_p95: Option<Millis>,

    /// Reconnect after N requests on one connection, so new pods behind a Service get users.
    #[arg(long, value_name = "N")]
    pub connection_max_requests: Option<Count>,

    /// Reconnect when a connection is older than D, e.g. 30s.
    #[arg(long, value_name = "D")]
    pub connection_max_age: Option<PositiveDuration>,

    /// Time limit of each request, connecting included [default: 30s].
    #[arg(long, value_name = "D")]
    pub timeout: Option<PositiveDuration>,

    /// Share of requests whose `traceparent` asks the server to sample (trace) them, chosen at
    /// random per request: a fraction or a percentage, e.g. 0.05 or 5% [default: 1%].
    #[arg(long, value_name = "F")]
    pub trace_sample: Option<Share>,

    /// Open model: start R requests per second at fixed times (k6's arrival rate), whatever
    /// the responses do, instead of --users in a closed loop. Each arrival runs one task of the
    /// class, chosen by weight; on-start tasks are not run, and --users, --spawn-rate and the
    /// wait do not apply. Latencies count from each arrival's intended time (corrected), with
    /// the service time (from the send) beside them.
    #[arg(long, value_name = "R")]
    pub arrival_rate: Option<Rate>,

    /// With --arrival-rate: requests in flight at most (one connection each); an arrival that
    /// finds none free is dropped and counted [default: 500].
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<Count>,

    /// With --arrival-rate: an arrival that finds no free slot waits for one instead of being
    /// dropped (its latency still counts from its intended time).
    #[arg(long)]
    pub queue: bool,

    /// Load shape: ramp linearly to each target over each duration, e.g.
    /// 1m:150,3m:150,1m:300,3m:300,2m:0. Targets are users (from 0), or with --arrival-rate
    /// arrivals per second (from that rate). The run ends after the last stage (--duration
    /// does not apply); going down stops users between tasks, never mid-request.
    #[arg(long, value_name = "D:N,...")]
    pub stages: Option<Stages>,

    /// Do not watch the cluster during the run (by default it is watched when reachable).
    #[arg(long)]
    pub no_cluster: bool,

    /// How often to sample the pods' CPU and memory (metrics.k8s.io) while watching the
    /// cluster [default: 15s, metrics-server's resolution]; 0 turns it off.
    #[arg(long, value_name = "DURATION")]
    pub top_interval: Option<HumanDuration>,

    /// Split the load (the users, or the open model's arrivals) over N workers (2 or more)
    /// started at one time and merge their results exactly; with --local they are processes
    /// on this machine.
    #[arg(long, value_name = "N")]
    pub workers: Option<Count>,

    /// Run the --workers as local processes instead of a Kubernetes Job.
    #[arg(long)]
    pub local: bool,

    /// The iris-lab image the worker pods run (built from the Dockerfile), for --workers
    /// without --local.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// CPU of each worker pod, requests = limits (a Guaranteed pod), e.g. 2 or 1500m.
    #[arg(long, value_name = "QUANTITY")]
    pub worker_cpu: Option<String>,

    /// Memory of each worker pod, requests = limits, e.g. 1Gi.
    #[arg(long, value_name = "QUANTITY")]
    pub worker_memory: Option<String>,

    /// Run worker pods only on nodes with these labels (e.g. to keep them off the API's
    /// nodes): KEY=VALUE[,KEY=VALUE...].
    #[arg(long, value_name = "LABELS")]
    pub worker_node_selector: Option<String>,

    /// Time from creating the Job to the common start, for scheduling and image pulls
    /// [default: 60s].
    #[arg(long, value_name = "D")]
    pub worker_start_delay: Option<PositiveDuration>,

    /// With --workers as pods (no --local): print the worker Job and the Role the run needs as
    /// YAML, and create nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Create the worker Job without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Also serve the run's live page (Statistics, Charts, Failures, Cluster), Locust's web UI,
    /// at ADDR [default: 127.0.0.1:8089]; the terminal output stays as it is.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8089")]
    pub web: Option<std::net::SocketAddr>,

    /// With --web beyond loopback: the token changes from the page need (else one is made).
    #[arg(long, value_name = "TOKEN", env = "IRIS_LAB_WEB_TOKEN")]
    pub web_token: Option<String>,

    /// Serve the run's series for Prometheus at http://ADDR/metrics while it runs (the page
    /// of --web serves them too).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Push the run's series each second: prometheus-rw=URL (remote write 1.0) or otlp=URL
    /// (OTLP/HTTP, to URL/v1/metrics); repeatable.
    #[arg(long, value_name = "KIND=URL")]
    pub export: Vec<crate::export::ExportTarget>,

    /// A header for the --export receivers (their auth), `Name: value`, or @FILE with one per
    /// line; repeatable; never printed or saved.
    #[arg(
        long,
        value_name = "HEADER",
        env = "IRIS_LAB_EXPORT_HEADER",
        hide_env_values = true
    )]
    pub export_header: Vec<crate::export::ExportHeader>,
}

super::layered!(LoadArgs {
    users,
    spawn_rate,
    duration,
    user_class,
    scenario,
    wait,
    out_dir,
    label,
    csv,
    max_failure_rate,
    max_p95,
    connection_max_requests,
    connection_max_age,
    timeout,
    trace_sample,
    arrival_rate,
    max_in_flight,
    queue,
    stages,
    no_cluster,
    top_interval,
    workers,
    local,
    image,
    worker_cpu,
    worker_memory,
    worker_node_selector,
    worker_start_delay,
    dry_run,
    yes,
    web,
    web_token,
    metrics_addr,
    export,
    export_header,
});

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[test]
    fn no_cluster_is_a_switch() {
        assert!(!parse(&["--users", "1"]).unwrap().no_cluster);
        assert!(parse(&["--users", "1", "--no-cluster"]).unwrap().no_cluster);
    }

    fn parse(args: &[&str]) -> Result<LoadArgs, clap::Error> {
        let cli =
            Cli::try_parse_from(["iris-lab", "load"].into_iter().chain(args.iter().copied()))?;
        match cli.command {
            Command::Load(a) => Ok(*a),
            _ => panic!("not load"),
        }
    }

    fn err(args: &[&str]) -> String {
        parse(args).unwrap_err().to_string()
    }

    #[test]
    fn every_flag_parses() {
        let a = parse(&[
            "--users",
            "150",
            "--spawn-rate",
            "2.5",
            "--duration",
            "1h30m",
            "--user-class",
            "HighLoadUser",
            "--scenario",
            "s.yaml",
            "--wait",
            "0.1..0.5",
            "--out-dir",
            "runs",
            "--label",
            "x",
            "--csv",
            "out/run",
            "--max-failure-rate",
            "1%",
            "--max-p95",
            "500ms",
            "--connection-max-requests",
            "10",
            "--connection-max-age",
            "30s",
            "--timeout",
            "5s",
            "--arrival-rate",
            "2.5",
            "--max-in-flight",
            "30",
            "--queue",
            "--stages",
            "30s:10,1m:0",
        ])
        .unwrap();
        assert_eq!(a.arrival_rate, Some(Rate(2.5)));
        assert_eq!((a.max_in_flight, a.queue), (Some(Count(30)), true));
        assert_eq!(a.stages.map(|s| s.0.len()), Some(2));
        assert_eq!(a.users, Some(Users(150)));
        assert_eq!(a.spawn_rate, Some(Rate(2.5)));
        assert_eq!(
            a.duration,
            Some(PositiveDuration(Duration::from_secs(5400)))
        );
        assert_eq!(a.wait, Some(Wait::new(0.1, 0.5).unwrap()));
        assert_eq!(a.max_failure_rate, Some(Percent(0.01)));
        assert_eq!(a.max_p95, Some(Millis(Duration::from_millis(500))));
        assert_eq!(a.connection_max_requests, Some(Count(10)));
        assert_eq!(
            a.connection_max_age,
            Some(PositiveDuration(Duration::from_secs(30)))
        );
        assert_eq!(a.timeout, Some(PositiveDuration(Duration::from_secs(5))));
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert!(err(&["--users", "0"]).contains("--users"));
        assert!(err(&["--users=-3"]).contains("--users"));
        assert!(err(&["--spawn-rate", "0"]).contains("--spawn-rate"));
        assert!(err(&["--wait", "2..1"]).contains("--wait"));
        assert!(err(&["--max-failure-rate", "101%"]).contains("--max-failure-rate"));
        assert!(err(&["--duration", "0s"]).contains("--duration"));
        assert!(err(&["--connection-max-requests", "0"]).contains("--connection-max-requests"));
        assert!(err(&["--arrival-rate=-1"]).contains("--arrival-rate"));
        assert!(err(&["--stages", "5m"]).contains("--stages"));
    }
}
