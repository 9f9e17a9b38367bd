//! `iris-lab.yaml` -> validated settings. YAML itself is parsed in [`crate::yaml`] (the only
//! module that does).
//!
//! Precedence, as kubectl users expect: flag > environment variable > config file > default.
//! (clap folds the environment into the flag, so both beat the file.)

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{
    CleanupArgs, CompareArgs, GlobalArgs, Layered, LoadArgs, ReportArgs, ServeArgs, SmokeArgs,
    WatchArgs, WebArgs,
};
use crate::cluster::{ClusterOptions, TargetNames};
use crate::output::Format;
use crate::units::{Host, HumanDuration};
use crate::yaml::ConfigError;
use crate::yaml::parse_yaml_file;

/// The config file used when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "iris-lab.yaml";
/// The app name of the guide's deployment.
pub const DEFAULT_APP: &str = "iris-prediction-api";

/// The file as written. Every key is optional; unknown keys are errors (typos are caught).
/// Each command's section is that command's own options type, the one its flags fill.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub app: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub kube_timeout: Option<HumanDuration>,
    pub host: Option<Host>,
    pub format: Option<Format>,
    pub insecure: Option<bool>,
    /// Overrides of the names derived from `app`.
    #[serde(default)]
    pub names: NamesFile,
    #[serde(default)]
    pub serve: ServeArgs,
    #[serde(default)]
    pub smoke: SmokeArgs,
    #[serde(default)]
    pub report: ReportArgs,
    #[serde(default)]
    pub load: LoadArgs,
    #[serde(default)]
    pub watch: WatchArgs,
    #[serde(default)]
    pub cleanup: CleanupArgs,
    #[serde(default)]
    pub compare: CompareArgs,
    #[serde(default)]
    pub web: WebArgs,
    /// `iris-lab sim`'s settings, the keys of its flags.
    #[serde(default)]
    pub sim: crate::cli::SimArgs,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamesFile {
    pub deployment: Option<String>,
    pub service: Option<String>,
    pub hpa: Option<String>,
    pub selector: Option<String>,
}

/// Settings after merging flags, environment, the config file and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file that was read, if any.
    pub config_path: Option<PathBuf>,
    pub names: TargetNames,
    pub cluster: ClusterOptions,
    pub host: Option<reqwest::Url>,
    pub format: Format,
    pub insecure: bool,
    /// The file's per-command sections, for each command to merge with its own flags
    /// ([`Settings::layer`]).
    pub file: ConfigFile,
}

impl Settings {
    /// Reads the config file (the given one, else `./iris-lab.yaml` when present) and merges.
    pub fn resolve(global: &GlobalArgs) -> Result<Self, ConfigError> {
        let (config_path, file) = match &global.config {
            Some(path) => (Some(path.clone()), load(path)?),
            None => {
                let default = Path::new(DEFAULT_CONFIG_FILE);
                if default.is_file() {
                    (Some(default.to_path_buf()), load(default)?)
                } else {
                    (None, ConfigFile::default())
                }
            }
        };
        Ok(Self::merge(global, file, config_path))
    }

    /// Pure merge of flags over a parsed file.
    pub fn merge(global: &GlobalArgs, file: ConfigFile, config_path: Option<PathBuf>) -> Self {
        let names = match &global.app {
            // An app named on the command line means that app: derive every name from it.
            Some(app) => TargetNames::for_app(app),
            None => {
                let derived = TargetNames::for_app(file.app.as_deref().unwrap_or(DEFAULT_APP));
                TargetNames {
                    deployment: file.names.deployment.clone().unwrap_or(derived.deployment),
                    service: file.names.service.clone().unwrap_or(derived.service),
                    hpa: file.names.hpa.clone().unwrap_or(derived.hpa),
                    selector: file.names.selector.clone().unwrap_or(derived.selector),
                }
            }
        };
        let cluster = ClusterOptions {
            kubeconfig: global
                .kubeconfig
                .clone()
                .or_else(|| file.kubeconfig.clone()),
            context: global.context.clone().or_else(|| file.context.clone()),
            namespace: global.namespace.clone().or_else(|| file.namespace.clone()),
            request_timeout: global.kube_timeout.or(file.kube_timeout).map(|s| s.0),
        };
        Settings {
            config_path,
            names,
            cluster,
            host: global
                .host
                .clone()
                .or_else(|| file.host.clone())
                .map(|h| h.0),
            format: global.format.or(file.format).unwrap_or_default(),
            insecure: global.insecure || file.insecure.unwrap_or(false),
            file,
        }
    }
}

impl Settings {
    /// `--runs-dir`, else the config file's `report.runs_dir`, else where `load` writes.
    pub fn runs_dir(&self, flag: Option<&PathBuf>) -> PathBuf {
        flag.cloned()
            .or_else(|| self.file.report.runs_dir.clone())
            .unwrap_or_else(|| PathBuf::from(crate::record::DEFAULT_OUT_DIR))
    }

    /// `--gcp-project` (or `GOOGLE_CLOUD_PROJECT`), else the config file's `report.gcp_project`.
    pub fn gcp_project(&self, flag: Option<&String>) -> Option<String> {
        flag.cloned()
            .or_else(|| self.file.report.gcp_project.clone())
    }

    /// A command's options: its flags (environment folded in by clap) over its section of the
    /// file, chosen by `section`. The one place where flags and file meet.
    pub fn layer<T: Layered + Clone>(&self, flags: &T, section: impl Fn(&ConfigFile) -> &T) -> T {
        flags.clone().over(section(&self.file).clone())
    }
}

/// Reads and parses the config file.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    let file: Option<ConfigFile> = parse_yaml_file(path)?;
    // An empty file is a valid, empty config.
    Ok(file.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Count, Millis, Percent, PositiveDuration, Rate, Replicas, Users};
    use crate::yaml::parse_yaml;
    use clap::Parser;
    use std::time::Duration;

    fn global(args: &[&str]) -> GlobalArgs {
        let argv = std::iter::once("iris-lab")
            .chain(args.iter().copied())
            .chain(["guide"]);
        crate::cli::Cli::try_parse_from(argv).unwrap().global
    }

    fn file(yaml: &str) -> ConfigFile {
        parse_yaml::<Option<ConfigFile>>(Path::new("t.yaml"), yaml)
            .unwrap()
            .unwrap_or_default()
    }

    #[test]
    fn defaults_are_the_guides_names() {
        let s = Settings::merge(&global(&[]), ConfigFile::default(), None);
        assert_eq!(s.names.deployment, "iris-prediction-api");
        assert_eq!(s.names.service, "iris-prediction-api-service");
        assert_eq!(s.names.hpa, "iris-prediction-api-hpa");
        assert_eq!(s.names.selector, "app=iris-prediction-api");
        assert_eq!(s.format, Format::Text);
        assert!(!s.insecure);
        assert_eq!(s.cluster, ClusterOptions::default());
    }

    #[test]
    fn the_file_sets_what_a_flag_can_and_flags_win() {
        let f = file(
            "app: iris\nnamespace: ml\ncontext: gke\nhost: 10.0.0.1\nformat: json\n\
             insecure: true\nkube_timeout: 7s\nnames:\n  service: iris-lb\nsmoke:\n  timeout: 3s\n",
        );
        let s = Settings::merge(&global(&[]), f.clone(), None);
        assert_eq!(s.names.deployment, "iris");
        assert_eq!(s.names.service, "iris-lb");
        assert_eq!(s.names.hpa, "iris-hpa");
        assert_eq!(s.cluster.namespace.as_deref(), Some("ml"));
        assert_eq!(s.cluster.context.as_deref(), Some("gke"));
        assert_eq!(s.cluster.request_timeout, Some(Duration::from_secs(7)));
        assert_eq!(s.host.as_ref().unwrap().as_str(), "http://10.0.0.1/");
        assert_eq!(s.format, Format::Json);
        assert!(s.insecure);
        assert_eq!(
            s.file.smoke.timeout,
            Some(HumanDuration(Duration::from_secs(3)))
        );

        let s = Settings::merge(
            &global(&[
                "--app",
                "other",
                "-n",
                "prod",
                "--host",
                "http://h:1",
                "--format",
                "text",
            ]),
            f,
            None,
        );
        assert_eq!(s.names.service, "other-service");
        assert_eq!(s.cluster.namespace.as_deref(), Some("prod"));
        assert_eq!(s.host.unwrap().as_str(), "http://h:1/");
        assert_eq!(s.format, Format::Text);
    }

    #[test]
    fn a_broken_file_gives_line_and_column() {
        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "app: a\nnamespace: [\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("config file x.yaml, line "), "{msg}");
        assert!(msg.contains("column"), "{msg}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_with_position() {
        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "app: a\nnamspace: b\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            err.contains("unknown key `namspace`: did you mean `namespace`?"),
            "{err}"
        );

        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "smoke:\n  timeout: soon\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("invalid duration"), "{err}");

        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "host: ftp://x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not http"), "{err}");
    }

    #[test]
    fn the_load_section_takes_every_load_flag() {
        let f = file(
            "load:\n  users: 150\n  spawn_rate: 10\n  duration: 5m\n  user_class: HighLoadUser\n  \
             scenario: s.yaml\n  wait: 0.1..0.5\n  out_dir: runs\n  label: base\n  csv: out/r\n  \
             max_failure_rate: 1%\n  max_p95: 500\n  connection_max_requests: 10\n  \
             connection_max_age: 30s\n  timeout: 5s\n  arrival_rate: 50\n  max_in_flight: 20\n  \
             queue: true\n  stages: 1m:150,2m:0\n",
        );
        let l = f.load;
        assert_eq!(l.arrival_rate, Some(Rate(50.0)));
        assert_eq!((l.max_in_flight, l.queue), (Some(Count(20)), true));
        assert_eq!(l.stages.map(|s| s.total()), Some(Duration::from_secs(180)));
        assert_eq!(l.users, Some(Users(150)));
        assert_eq!(l.spawn_rate, Some(Rate(10.0)));
        assert_eq!(l.duration, Some(PositiveDuration(Duration::from_secs(300))));
        assert_eq!(l.wait.map(|w| w.max), Some(0.5));
        assert_eq!(l.max_failure_rate, Some(Percent(0.01)));
        assert_eq!(l.max_p95, Some(Millis(Duration::from_millis(500))));
        assert_eq!(l.connection_max_requests, Some(Count(10)));
        assert_eq!(l.timeout, Some(PositiveDuration(Duration::from_secs(5))));
        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "load:\n  users: 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("at least 1"),
            "{err}"
        );
    }

    #[test]
    fn the_serve_section_takes_its_limits() {
        let f = file(
            "serve:\n  addr: 0.0.0.0:8000\n  head_timeout: 10s\n  idle_timeout: 75s\n  \
             max_connections: 100\n",
        );
        assert_eq!(
            f.serve.head_timeout.map(|d| d.0),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            f.serve.idle_timeout.map(|d| d.0),
            Some(Duration::from_secs(75))
        );
        assert_eq!(f.serve.max_connections.map(|c| c.0), Some(100));
        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "serve:\n  idle_timeout: 0s\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn the_sim_section_has_sims_flags_which_win_and_no_other_keys() {
        let f = parse_yaml::<Option<ConfigFile>>(
            Path::new("x.yaml"),
            "sim:\n  rps_per_core: 200\n  ready_after: 10s\n  max_replicas: 8\n  time_scale: 0.5\n  \
             no_metrics: true\n  api_addr: 127.0.0.1:6443\n",
        )
        .unwrap()
        .unwrap();
        let s = Settings::merge(&global(&[]), f, None);
        let argv = ["iris-lab", "sim", "--max-replicas", "5"];
        let crate::cli::Command::Sim(flags) =
            crate::cli::Cli::try_parse_from(argv).unwrap().command
        else {
            panic!("not sim")
        };
        let sim = s.layer(&flags, |f| &f.sim);
        assert_eq!(sim.rps_per_core, Some(200.0));
        assert_eq!(
            sim.ready_after,
            Some(HumanDuration(Duration::from_secs(10)))
        );
        assert_eq!(sim.max_replicas, Some(5), "a flag wins");
        assert_eq!(sim.time_scale, Some(0.5));
        assert!(sim.no_metrics);
        assert_eq!(sim.api_addr, Some("127.0.0.1:6443".parse().unwrap()));
        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "sim:\n  rps_per_cor: 200\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("x.yaml")
                && err.contains("sim: unknown key `rps_per_cor`: did you mean `rps_per_core`?"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "sim:\n  ready_after: soon\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("ready_after") || err.contains("soon"), "{err}");
    }

    #[test]
    fn watch_and_cleanup_sections() {
        let f = file(
            "watch:\n  duration: 5m\n  top_interval: 30s\ncleanup:\n  replicas: 3\n  yes: true\n  \
             dry_run: true\n  wait: 1m\n",
        );
        assert_eq!(
            f.watch.duration,
            Some(HumanDuration(Duration::from_secs(300)))
        );
        assert_eq!(
            f.watch.top_interval,
            Some(HumanDuration(Duration::from_secs(30)))
        );
        assert_eq!(f.cleanup.replicas, Some(Replicas(3)));
        assert!(f.cleanup.yes);
        assert!(f.cleanup.dry_run);
        assert_eq!(f.cleanup.wait, Some(HumanDuration(Duration::from_secs(60))));
        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "cleanup:\n  replicas: -2\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn each_commands_flags_layer_over_its_own_section() {
        let f = file(
            "load:\n  users: 150\n  label: file\n  no_cluster: true\ncleanup:\n  replicas: 3\n\
             report:\n  runs_dir: from-file\n",
        );
        let s = Settings::merge(&global(&[]), f, None);
        let cli = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(std::iter::once("iris-lab").chain(args.iter().copied()))
                .unwrap()
                .command
        };
        let crate::cli::Command::Load(flags) = cli(&["load", "--label", "flag"]) else {
            panic!("not load")
        };
        let load = s.layer(flags.as_ref(), |f| &f.load);
        assert_eq!(
            load.users,
            Some(Users(150)),
            "the file fills what no flag set"
        );
        assert_eq!(load.label.as_deref(), Some("flag"), "a flag wins");
        assert!(
            load.no_cluster,
            "a switch is on when either layer turns it on"
        );
        let crate::cli::Command::Cleanup(flags) = cli(&["cleanup", "--replicas", "0"]) else {
            panic!("not cleanup")
        };
        assert_eq!(s.layer(&flags, |f| &f.cleanup).replicas, Some(Replicas(0)));
        let crate::cli::Command::Cleanup(flags) = cli(&["cleanup"]) else {
            panic!("not cleanup")
        };
        assert_eq!(s.layer(&flags, |f| &f.cleanup).replicas, Some(Replicas(3)));
        let crate::cli::Command::Report(flags) = cli(&["report"]) else {
            panic!("not report")
        };
        let report = s.layer(&flags, |f| &f.report);
        assert_eq!(report.runs_dir, Some(PathBuf::from("from-file")));
    }

    #[test]
    fn the_web_section_takes_webs_flags_and_flags_win() {
        let f = file(
            "web:\n  addr: 0.0.0.0:9000\n  web_token: s3cret\n  out_dir: page-runs\n  \
             csv: out/web\n  no_cluster: true\n",
        );
        let s = Settings::merge(&global(&[]), f, None);
        let crate::cli::Command::Web(flags) =
            crate::cli::Cli::try_parse_from(["iris-lab", "web", "--addr", "127.0.0.1:8090"])
                .unwrap()
                .command
        else {
            panic!("not web")
        };
        let web = s.layer(&flags, |f| &f.web);
        assert_eq!(
            web.addr,
            Some("127.0.0.1:8090".parse().unwrap()),
            "a flag wins"
        );
        assert_eq!(web.web_token.as_deref(), Some("s3cret"));
        assert_eq!(web.out_dir, Some(PathBuf::from("page-runs")));
        assert_eq!(web.csv, Some(PathBuf::from("out/web")));
        assert!(web.no_cluster);
        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "web:\n  port: 8089\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("web: unknown key `port`"),
            "{err}"
        );
        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "web:\n  addr: localhost\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_file_section_takes_no_key_its_command_has_no_flag_for() {
        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "report:\n  runs: [a]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("report: unknown key `runs`: did you mean `runs_dir`?"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        assert!(file("").app.is_none());
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let err = load(Path::new("/nonexistent/iris-lab.yaml")).unwrap_err();
        assert!(err.to_string().contains("could not read config file"));
    }
}
