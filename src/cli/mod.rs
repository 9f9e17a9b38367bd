//! Each command's options, defined once: one struct per command serves clap (the flags) and
//! serde (the config file's section of that command), with value types from [`crate::units`].
//! [`Layered`] merges the flags (environment folded in by clap) over the file's section; each
//! command then resolves defaults once into the options it runs on.

pub mod compare;
pub mod demo;
pub mod doctor;
pub mod load;
pub mod predict;
pub mod report;
pub mod sim;
pub mod trace;
pub mod web;
pub mod worker;

pub use compare::CompareArgs;
pub use demo::DemoArgs;
pub use doctor::DoctorArgs;
pub use predict::PredictArgs;
pub use report::ReportArgs;
pub use sim::SimArgs;
pub use trace::TraceArgs;

pub use load::LoadArgs;
pub use web::WebArgs;
pub use worker::WorkerArgs;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::output::Format;
use crate::units::{Count, Host, HumanDuration, PositiveDuration, Replicas};

/// One layer of settings over a lower one: what the upper layer sets wins, field by field.
pub trait Layered {
    fn over(self, lower: Self) -> Self;
}

impl<T> Layered for Option<T> {
    fn over(self, lower: Self) -> Self {
        self.or(lower)
    }
}

/// A switch is on when any layer turns it on (a flag cannot say "off").
impl Layered for bool {
    fn over(self, lower: Self) -> Self {
        self || lower
    }
}

/// A list given on the command line replaces the lower one.
impl<T> Layered for Vec<T> {
    fn over(self, lower: Self) -> Self {
        if self.is_empty() { lower } else { self }
    }
}

/// Implements [`Layered`] for a struct by naming each of its fields once.
macro_rules! layered {
    ($t:ty { $($field:ident),* $(,)? }) => {
        impl $crate::cli::Layered for $t {
            fn over(self, lower: Self) -> Self {
                Self { $($field: $crate::cli::Layered::over(self.$field, lower.$field)),* }
            }
        }
    };
}
pub(crate) use layered;

/// Load-test an Iris prediction API on Kubernetes, phase by phase, from one binary.
#[derive(Debug, Parser)]
#[command(name = "iris-lab", version, about, long_about = None)]
#[command(after_help = "Run `iris-lab guide` for the seven phases of the testing guide.")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command shares; accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file [default: ./iris-lab.yaml when it exists]; flags win over it.
    #[arg(long, global = true, env = "IRIS_LAB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// App name: Deployment NAME, Service NAME-service, HPA NAME-hpa, selector app=NAME
    /// [default: iris-prediction-api].
    #[arg(long, global = true, env = "IRIS_LAB_APP", value_name = "NAME")]
    pub app: Option<String>,

    /// Path to the kubeconfig file (KUBECONFIG is honoured when absent).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use [default: the current context].
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Kubernetes namespace [default: the context's namespace, else `default`].
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// Time limit of each request to the Kubernetes API (not of watches) [default: 20s].
    #[arg(long, global = true, value_name = "DURATION")]
    pub kube_timeout: Option<HumanDuration>,

    /// Base URL of the Iris API, e.g. http://34.1.2.3 (a bare host gets http://).
    #[arg(long, global = true, env = "IRIS_LAB_HOST", value_name = "URL")]
    pub host: Option<Host>,

    /// Output format of results [default: text].
    #[arg(long, global = true, env = "IRIS_LAB_FORMAT", value_enum)]
    pub format: Option<Format>,

    /// Skip TLS certificate verification for an https host.
    #[arg(long, global = true)]
    pub insecure: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Phase 1.1-1.2: check the Deployment, its pods, the Service's external IP and the HPA.
    Verify,
    /// The guide's troubleshooting: Service, reachability, firewall, HPA, pods, nodes; each
    /// check PASS/WARN/FAIL with its evidence and the fix.
    Doctor(DoctorArgs),
    /// Phase 1.3: call GET /, GET /health and POST /predict and check each against the contract.
    Smoke(SmokeArgs),
    /// Phases 2-4: load-test the API with Locust's user classes and save a run record.
    Load(Box<LoadArgs>),
    /// Phases 3.3/4.4: stream pod, HPA and event changes, and pod CPU/memory, until Ctrl-C (or
    /// --duration).
    Watch(WatchArgs),
    /// Phases 5-6: comparison table, timing breakdown, bottlenecks and charts, as markdown (or
    /// JSON, or one HTML page).
    Report(ReportArgs),
    /// Phase 6: predict the replicas, the time to reach them and the degradation of another
    /// load, from the capacity and start-up measured in saved runs.
    Predict(PredictArgs),
    /// Phase 7.3: did a change make it better? Two runs (or directories) compared with
    /// confidence intervals; --fail-on gates CI.
    Compare(Box<CompareArgs>),
    /// Phase 5 from Cloud Trace: fetch runs' spans, save them beside the records, analyse them.
    Trace(TraceArgs),
    /// Phase 7: scale the Deployment back down (asks first).
    Cleanup(CleanupArgs),
    /// Run the reference Iris prediction API (same contract as the real one).
    Serve(ServeArgs),
    /// Phases 2-4 in the browser: Locust's web UI with the cluster beside the load.
    Web(WebArgs),
    /// The whole guide on a simulated cluster, ending in the report (--no-cluster: on the
    /// reference API alone, the cluster's phases skipped).
    Demo(DemoArgs),
    /// A simulated cluster on 127.0.0.1 (Kubernetes API, pods that serve, an HPA) to try
    /// every command on, until Ctrl-C.
    Sim(SimArgs),
    /// Print the testing guide, or one phase of it (1-7).
    Guide(GuideArgs),
    /// One worker of `load --workers N` (started by `load`, not by hand).
    #[command(hide = true)]
    Worker(Box<WorkerArgs>),
}

/// `watch` flags and the config file's `watch:` section.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchArgs {
    /// Stop after this long, e.g. 5m [default: until Ctrl-C].
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<HumanDuration>,

    /// How often to print the pod CPU/memory table [default: 15s]; 0 turns it off.
    #[arg(long, value_name = "DURATION")]
    pub top_interval: Option<HumanDuration>,
}

layered!(WatchArgs {
    duration,
    top_interval
});

/// `cleanup` flags and the config file's `cleanup:` section.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanupArgs {
    /// Replicas to scale to [default: the HPA's minReplicas, else 2].
    #[arg(long, value_name = "N")]
    pub replicas: Option<Replicas>,

    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Show what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How long to wait for the pods to settle [default: 2m]; 0 does not wait.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<HumanDuration>,
}

layered!(CleanupArgs {
    replicas,
    yes,
    dry_run,
    wait
});

/// `serve` flags and the config file's `serve:` section.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8000].
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<SocketAddr>,

    /// Time a client has to send a request head, counted from the connection's accept or the
    /// head's first byte, and again for its body; then the connection is closed [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub head_timeout: Option<PositiveDuration>,

    /// Time a keep-alive connection may sit idle between requests before it is closed
    /// [default: 5s, as uvicorn].
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<PositiveDuration>,

    /// Connections open at once; further ones wait in the listen backlog [default: 4096,
    /// lowered to fit the open-file limit].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<Count>,

    /// Hold every response back this long, e.g. 20ms: a slower server, to try `compare` and
    /// its gate on [default: 0s].
    #[arg(long, value_name = "DURATION")]
    pub delay: Option<HumanDuration>,
}

layered!(ServeArgs {
    addr,
    head_timeout,
    idle_timeout,
    max_connections,
    delay
});

/// `smoke` flags and the config file's `smoke:` section.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmokeArgs {
    /// Time limit for each request, e.g. 10s, 500ms [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,
}

layered!(SmokeArgs { timeout });

#[derive(Debug, Clone, Args)]
pub struct GuideArgs {
    /// Phase number 1-7; all phases when absent.
    #[arg(value_parser = clap::value_parser!(u8).range(1..=7))]
    pub phase: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("iris-lab").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shared_flags_go_before_or_after_the_subcommand() {
        let before = parse(&["--kubeconfig", "K", "-n", "ns", "smoke"]).unwrap();
        let after = parse(&["smoke", "--kubeconfig", "K", "--namespace", "ns"]).unwrap();
        for cli in [before, after] {
            assert_eq!(cli.global.kubeconfig, Some(PathBuf::from("K")));
            assert_eq!(cli.global.namespace.as_deref(), Some("ns"));
        }
    }

    #[test]
    fn kube_timeout_is_a_duration() {
        let cli = parse(&["verify", "--kube-timeout", "5s"]).unwrap();
        assert_eq!(
            cli.global.kube_timeout,
            Some(HumanDuration(Duration::from_secs(5)))
        );
        assert!(parse(&["verify", "--kube-timeout", "never"]).is_err());
    }

    #[test]
    fn host_flag_is_validated() {
        let cli = parse(&["smoke", "--host", "127.0.0.1:9"]).unwrap();
        assert_eq!(cli.global.host.unwrap().0.as_str(), "http://127.0.0.1:9/");
        assert!(parse(&["smoke", "--host", "ftp://x"]).is_err());
    }

    #[test]
    fn format_flag_takes_text_or_json() {
        let cli = parse(&["smoke", "--format", "json"]).unwrap();
        assert_eq!(cli.global.format, Some(Format::Json));
        assert!(parse(&["smoke", "--format", "xml"]).is_err());
    }

    #[test]
    fn smoke_timeout_takes_a_duration() {
        let cli = parse(&["smoke", "--timeout", "500ms"]).unwrap();
        let Command::Smoke(args) = cli.command else {
            panic!("not smoke")
        };
        assert_eq!(
            args.timeout,
            Some(HumanDuration(Duration::from_millis(500)))
        );
        assert!(parse(&["smoke", "--timeout", "soon"]).is_err());
    }

    #[test]
    fn serve_addr_is_a_socket_address() {
        let cli = parse(&["serve", "--addr", "127.0.0.1:0"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.addr, Some("127.0.0.1:0".parse().unwrap()));
        assert!(parse(&["serve", "--addr", "localhost"]).is_err());
    }

    #[test]
    fn serve_limits_are_positive() {
        let cli = parse(&[
            "serve",
            "--head-timeout",
            "200ms",
            "--idle-timeout",
            "1s",
            "--max-connections",
            "8",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(
            args.head_timeout.map(|d| d.0),
            Some(Duration::from_millis(200))
        );
        assert_eq!(args.idle_timeout.map(|d| d.0), Some(Duration::from_secs(1)));
        assert_eq!(args.max_connections.map(|c| c.0), Some(8));
        assert!(parse(&["serve", "--head-timeout", "0s"]).is_err());
        assert!(parse(&["serve", "--max-connections", "0"]).is_err());
    }

    #[test]
    fn watch_takes_a_duration_and_a_top_interval() {
        let cli = parse(&["watch", "--duration", "3s", "--top-interval", "1s"]).unwrap();
        let Command::Watch(args) = cli.command else {
            panic!("not watch")
        };
        assert_eq!(args.duration, Some(HumanDuration(Duration::from_secs(3))));
        assert_eq!(
            args.top_interval,
            Some(HumanDuration(Duration::from_secs(1)))
        );
        assert!(parse(&["watch", "--duration", "later"]).is_err());
    }

    #[test]
    fn cleanup_flags() {
        let cli = parse(&[
            "cleanup",
            "--replicas",
            "3",
            "-y",
            "--dry-run",
            "--wait",
            "0",
        ])
        .unwrap();
        let Command::Cleanup(args) = cli.command else {
            panic!("not cleanup")
        };
        assert_eq!(args.replicas, Some(Replicas(3)));
        assert!(args.yes && args.dry_run);
        assert_eq!(args.wait, Some(HumanDuration(Duration::ZERO)));
        assert!(parse(&["cleanup", "--replicas", "-1"]).is_err());
        assert!(parse(&["cleanup", "--replicas", "two"]).is_err());
    }

    #[test]
    fn verify_takes_the_shared_flags() {
        let cli = parse(&["verify", "--context", "gke", "-n", "ml", "--app", "iris"]).unwrap();
        assert!(matches!(cli.command, Command::Verify));
        assert_eq!(cli.global.context.as_deref(), Some("gke"));
    }

    #[test]
    fn guide_phase_is_1_to_7() {
        assert!(parse(&["guide", "7"]).is_ok());
        assert!(parse(&["guide", "8"]).is_err());
        assert!(parse(&["guide", "0"]).is_err());
    }
}
