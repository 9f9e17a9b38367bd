//! `iris-lab.yaml` -> validated settings. The only module that parses YAML: other modules that
//! read YAML files (scenarios) call [`parse_yaml_file`].
//!
//! Precedence, as kubectl users expect: flag > environment variable > config file > default.
//! (clap folds the environment into the flag, so both beat the file.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::cli::{GlobalArgs, values};
use crate::error::ConfigError;
use crate::output::Format;

/// The config file used when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "iris-lab.yaml";
/// The app name of the guide's deployment.
pub const DEFAULT_APP: &str = "iris-prediction-api";

/// The file as written. Every key is optional; unknown keys are errors (typos are caught).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub app: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    pub kube_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_host")]
    pub host: Option<reqwest::Url>,
    pub format: Option<Format>,
    pub insecure: Option<bool>,
    /// Overrides of the names derived from `app`.
    #[serde(default)]
    pub names: NamesFile,
    #[serde(default)]
    pub serve: ServeFile,
    #[serde(default)]
    pub smoke: SmokeFile,
    #[serde(default)]
    pub report: ReportFile,
    #[serde(default)]
    pub load: LoadFile,
    #[serde(default)]
    pub watch: WatchFile,
    #[serde(default)]
    pub cleanup: CleanupFile,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFile {
    #[serde(default, deserialize_with = "de_duration")]
    pub duration: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub top_interval: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupFile {
    pub replicas: Option<u16>,
    pub yes: Option<bool>,
    pub dry_run: Option<bool>,
    #[serde(default, deserialize_with = "de_duration")]
    pub wait: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamesFile {
    pub deployment: Option<String>,
    pub service: Option<String>,
    pub hpa: Option<String>,
    pub selector: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    pub addr: Option<SocketAddr>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    pub runs_dir: Option<PathBuf>,
    pub template: Option<PathBuf>,
    pub gcp_project: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeFile {
    #[serde(default, deserialize_with = "de_duration")]
    pub timeout: Option<Duration>,
}

/// The `load:` section: every `iris-lab load` flag, by the flag's name with `_` for `-`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    #[serde(default, deserialize_with = "de_users")]
    pub users: Option<u32>,
    #[serde(default, deserialize_with = "de_rate")]
    pub spawn_rate: Option<f64>,
    #[serde(default, deserialize_with = "de_positive_duration")]
    pub duration: Option<Duration>,
    pub user_class: Option<String>,
    pub scenario: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_wait")]
    pub wait: Option<crate::loadgen::Wait>,
    pub out_dir: Option<PathBuf>,
    pub label: Option<String>,
    pub csv: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_percent")]
    pub max_failure_rate: Option<f64>,
    #[serde(default, deserialize_with = "de_millis")]
    pub max_p95: Option<Duration>,
    #[serde(default, deserialize_with = "de_count")]
    pub connection_max_requests: Option<u64>,
    #[serde(default, deserialize_with = "de_positive_duration")]
    pub connection_max_age: Option<Duration>,
    #[serde(default, deserialize_with = "de_positive_duration")]
    pub timeout: Option<Duration>,
    pub no_cluster: Option<bool>,
    #[serde(default, deserialize_with = "de_sample")]
    pub trace_sample: Option<f64>,
}

/// The Kubernetes objects iris-lab looks at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetNames {
    pub deployment: String,
    pub service: String,
    pub hpa: String,
    /// Label selector of the pods, `app=NAME`.
    pub selector: String,
}

impl TargetNames {
    pub fn for_app(app: &str) -> Self {
        Self {
            deployment: app.to_string(),
            service: format!("{app}-service"),
            hpa: format!("{app}-hpa"),
            selector: format!("app={app}"),
        }
    }
}

/// How to reach the cluster; `None` means "as kubectl would choose".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    /// Time limit of each request (not of watches).
    pub request_timeout: Option<Duration>,
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
    /// The file's per-command sections, for each command to merge with its own flags.
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
            request_timeout: global.kube_timeout.or(file.kube_timeout),
        };
        Settings {
            config_path,
            names,
            cluster,
            host: global.host.clone().or_else(|| file.host.clone()),
            format: global
                .format
                .map(Format::from)
                .or(file.format)
                .unwrap_or_default(),
            insecure: global.insecure || file.insecure.unwrap_or(false),
            file,
        }
    }
}

/// Reads and parses the config file.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    let file: Option<ConfigFile> = parse_yaml_file(path)?;
    // An empty file is a valid, empty config.
    Ok(file.unwrap_or_default())
}

/// Reads a YAML file into `T`, with the path, line and column of any error.
pub fn parse_yaml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_yaml(path, &text)
}

/// Parses YAML text that came from `path` (used in error messages only).
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        // serde_yaml appends " at line L column C" to the message: we say it in front.
        let message = e.to_string();
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })
}

/// Deserializes a duration written as the flags take it (`10s`, `5m`, `1h30m`).
pub fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let value: Option<DurationText> = Option::deserialize(d)?;
    value
        .map(|v| {
            let text = match v {
                DurationText::Text(t) => t,
                DurationText::Number(n) => n.to_string(),
            };
            values::parse_duration(&text).map_err(serde::de::Error::custom)
        })
        .transpose()
}

/// A scalar written as text or as a number, parsed by the same function as its flag.
fn de_with<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error> {
    let value: Option<DurationText> = Option::deserialize(d)?;
    value
        .map(|v| {
            let text = match v {
                DurationText::Text(t) => t,
                DurationText::Number(n) => n.to_string(),
            };
            parse(&text).map_err(serde::de::Error::custom)
        })
        .transpose()
}

fn de_users<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    de_with(d, values::parse_users)
}
fn de_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    de_with(d, values::parse_count)
}
fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    de_with(d, values::parse_rate)
}
fn de_positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_with(d, values::parse_positive_duration)
}
fn de_percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    de_with(d, values::parse_percent)
}
fn de_sample<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    de_with(d, values::parse_sample)
}
fn de_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_with(d, values::parse_millis)
}
fn de_wait<'de, D: Deserializer<'de>>(d: D) -> Result<Option<crate::loadgen::Wait>, D::Error> {
    de_with(d, values::parse_wait)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationText {
    Text(String),
    Number(f64),
}

fn de_host<'de, D: Deserializer<'de>>(d: D) -> Result<Option<reqwest::Url>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    value
        .map(|v| values::parse_host(&v).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

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
        assert_eq!(s.file.smoke.timeout, Some(Duration::from_secs(3)));

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
        assert!(err.contains("unknown field `namspace`"), "{err}");

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
             connection_max_age: 30s\n  timeout: 5s\n",
        );
        let l = f.load;
        assert_eq!(l.users, Some(150));
        assert_eq!(l.spawn_rate, Some(10.0));
        assert_eq!(l.duration, Some(Duration::from_secs(300)));
        assert_eq!(l.wait.map(|w| w.max), Some(0.5));
        assert_eq!(l.max_failure_rate, Some(0.01));
        assert_eq!(l.max_p95, Some(Duration::from_millis(500)));
        assert_eq!(l.connection_max_requests, Some(10));
        assert_eq!(l.timeout, Some(Duration::from_secs(5)));
        let err = parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "load:\n  users: 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("at least 1"),
            "{err}"
        );
    }

    #[test]
    fn watch_and_cleanup_sections() {
        let f = file(
            "watch:\n  duration: 5m\n  top_interval: 30s\ncleanup:\n  replicas: 3\n  yes: true\n  \
             dry_run: true\n  wait: 1m\n",
        );
        assert_eq!(f.watch.duration, Some(Duration::from_secs(300)));
        assert_eq!(f.watch.top_interval, Some(Duration::from_secs(30)));
        assert_eq!(f.cleanup.replicas, Some(3));
        assert_eq!(f.cleanup.yes, Some(true));
        assert_eq!(f.cleanup.dry_run, Some(true));
        assert_eq!(f.cleanup.wait, Some(Duration::from_secs(60)));
        let err =
            parse_yaml::<Option<ConfigFile>>(Path::new("x.yaml"), "cleanup:\n  replicas: -2\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 2"), "{err}");
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
