//! Error types at each boundary and the exit codes they map to.
//!
//! `main` prints an error as one line: the error itself followed by its cause chain,
//! `error: could not read config file ./iris-lab.yaml: No such file or directory`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, the same for every command.
pub mod exit {
    /// Everything ran and every check passed.
    pub const SUCCESS: u8 = 0;
    /// The command ran but something it checked failed, or it could not finish.
    pub const FAILURE: u8 = 1;
    /// Bad flags, bad config: nothing was attempted.
    pub const USAGE: u8 = 2;
    /// Stopped by Ctrl-C / SIGTERM (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

/// The outcome of a command that ran to the end: which exit code it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed,
    Interrupted,
}

impl Outcome {
    pub fn from_passed(passed: bool) -> Self {
        if passed { Self::Success } else { Self::Failed }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Success => exit::SUCCESS,
            Self::Failed => exit::FAILURE,
            Self::Interrupted => exit::INTERRUPTED,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(o.code())
    }
}

/// Problems with the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Why a run record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not a run record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("schema version {found} is not supported (this iris-lab reads version {supported})")]
    Version { found: u32, supported: u32 },
}

/// Everything a command can fail with before or instead of producing its result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A value that parsed but makes no sense, found after clap: exit 2.
    #[error("{0}")]
    Usage(String),

    /// Neither `--host` nor a cluster to read the Service's external IP from.
    #[error(
        "no API host: pass --host URL (or IRIS_LAB_HOST, or `host:` in iris-lab.yaml), or give iris-lab \
         a cluster so it can read the Service's external IP (--kubeconfig, --context, -n); {reason}"
    )]
    NoHost { reason: String },

    #[error("could not listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),

    #[error("could not write {what}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not resolve {host}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not set up TLS")]
    Tls(#[source] rustls::Error),

    #[error(
        "could not read the runs directory {dir}: run `iris-lab load` first, or name record files"
    )]
    RunsDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no run records in {dir}: run `iris-lab load` first, or name record files")]
    NoRuns { dir: PathBuf },

    #[error("could not read template {path}")]
    Template {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Report(#[from] crate::report::ReportError),

    #[error("could not read run record {path}")]
    Record {
        path: PathBuf,
        #[source]
        source: RecordError,
    },

    #[error("cannot reach {host}: {failure}{hint}", hint = unreachable_hint(failure))]
    Unreachable {
        host: String,
        failure: crate::api::Failure,
    },

    #[error("the load engine stopped unexpectedly")]
    Engine(#[source] tokio::task::JoinError),

    #[error("the command stopped unexpectedly")]
    Task(#[source] tokio::task::JoinError),

    #[error("server failed")]
    Serve(#[source] std::io::Error),

    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),

    #[error(transparent)]
    Model(#[from] crate::server::model::ModelError),

    #[error(transparent)]
    Cluster(#[from] ClusterError),

    #[error(transparent)]
    Gcp(#[from] crate::gcp::GcpError),

    /// `cleanup` without confirmation where none can be asked for.
    #[error("{0}")]
    NotConfirmed(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) | Error::NoHost { .. } | Error::NotConfirmed(_) => {
                exit::USAGE
            }
            Error::Cluster(e) if e.is_config() => exit::USAGE,
            _ => exit::FAILURE,
        }
    }

    pub fn write(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Write {
            what: what.into(),
            source,
        }
    }
}

fn unreachable_hint(failure: &crate::api::Failure) -> &'static str {
    match failure {
        crate::api::Failure::Tls => {
            " (the certificate was not accepted; use --insecure only for a test endpoint you trust)"
        }
        _ => " (is the API up and the address right?)",
    }
}

/// What a request to the Kubernetes API was doing, to name it in errors (`list pods`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub verb: &'static str,
    /// Plural resource, with its group when not core: `pods`, `deployments.apps/scale`.
    pub resource: String,
    pub name: Option<String>,
    pub namespace: String,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        write!(f, " in namespace {}", self.namespace)
    }
}

/// Problems reaching or using the Kubernetes cluster. Each is one line that says what to do;
/// none ever carries a credential (tokens, plugin output, auth headers).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no kubeconfig found ({searched}): pass --kubeconfig FILE or set KUBECONFIG; on GKE run \
         `gcloud container clusters get-credentials CLUSTER --region REGION`"
    )]
    NoKubeconfig { searched: String },

    #[error("could not read kubeconfig {path}")]
    KubeconfigUnreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("kubeconfig {path} is not valid: {message}")]
    KubeconfigInvalid { path: String, message: String },

    #[error(
        "context {name:?} is not in the kubeconfig (contexts: {available}); pass --context with one of them"
    )]
    UnknownContext { name: String, available: String },

    #[error("the kubeconfig names no current context (contexts: {available}); pass --context NAME")]
    NoContext { available: String },

    #[error("could not run the credential plugin `{command}`: {detail}{hint}")]
    CredentialPlugin {
        command: String,
        detail: String,
        hint: &'static str,
    },

    #[error("could not get credentials from the kubeconfig: {0}")]
    Credentials(String),

    #[error(
        "cannot reach the Kubernetes API server at {server}: {detail}; check the cluster is up, the VPN/network, and the kubeconfig's server address"
    )]
    Unreachable { server: String, detail: String },

    #[error(
        "the API server at {server} did not answer within {after} (to {access}); check the cluster's health, or raise --kube-timeout"
    )]
    Timeout {
        server: String,
        access: Box<Access>,
        after: String,
    },

    #[error(
        "the API server at {server} rejected the credentials (401 Unauthorized): they are expired or invalid; refresh them (GKE: `gcloud auth login` and `gcloud container clusters get-credentials CLUSTER`)"
    )]
    Unauthorized { server: String },

    #[error(
        "forbidden (403): you may not {verb} {resource} in namespace {namespace}; ask for RBAC access (check with `kubectl auth can-i {can_i} -n {namespace}`)"
    )]
    Forbidden {
        verb: &'static str,
        resource: String,
        namespace: String,
        /// The arguments of `kubectl auth can-i` for it.
        can_i: String,
    },

    #[error(
        "{kind} {name:?} not found in namespace {namespace} (404); check --app / --namespace / --context"
    )]
    NotFound {
        kind: &'static str,
        name: String,
        namespace: String,
    },

    #[error("the API server refused to {access}: {code} {reason}: {message}")]
    Api {
        access: Box<Access>,
        code: u16,
        reason: String,
        message: String,
    },

    #[error("unexpected answer from the API server to {access}: {detail}")]
    Protocol { access: Box<Access>, detail: String },
}

impl ClusterError {
    /// Errors of configuration (exit 2) rather than of the cluster (exit 1).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ClusterError::NoKubeconfig { .. }
                | ClusterError::KubeconfigUnreadable { .. }
                | ClusterError::KubeconfigInvalid { .. }
                | ClusterError::UnknownContext { .. }
                | ClusterError::NoContext { .. }
        )
    }
}

/// One line: the error and each of its causes, joined by ": ".
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors repeat their cause in their own message: don't say it twice.
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_the_cause_chain() {
        let err = Error::Bind {
            addr: "127.0.0.1:1".into(),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(one_line(&err), "could not listen on 127.0.0.1:1: denied");
    }

    #[test]
    fn usage_errors_exit_2_and_failures_exit_1() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        let e = Error::Serve(std::io::Error::other("boom"));
        assert_eq!(e.exit_code(), 1);
        assert_eq!(Outcome::Interrupted.code(), 130);
    }
}
