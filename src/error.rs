//! The edge: every room's error, wrapped in [`Error`] and mapped to an exit code. Each room owns
//! the errors it raises (`yaml::ConfigError`, `record::{ReadError, WriteError}`,
//! `cluster::ClusterError`, `loadgen::LoadgenError`, `report::ReportError`); only commands and
//! the crate root see this type. `main` prints an error as one line: the error itself followed by its cause chain,
//! `error: could not read config file ./iris-lab.yaml: No such file or directory`.

use std::path::PathBuf;

use crate::cluster::ClusterError;
use crate::loadgen::LoadgenError;
use crate::pipeline::RunError;
use crate::record::{ReadError, WriteError};
use crate::usage::UsageError;
use crate::yaml::ConfigError;

pub use crate::outcome::{Outcome, exit};

/// Everything a command can fail with before or instead of producing its result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A value that parsed but makes no sense, found after clap: exit 2.
    #[error(transparent)]
    Usage(#[from] UsageError),

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

    #[error(transparent)]
    Write(#[from] WriteError),

    #[error(transparent)]
    Locate(#[from] crate::record::LocateError),

    #[error("could not read template {path}")]
    Template {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Report(#[from] crate::report::ReportError),

    #[error(transparent)]
    Record(#[from] ReadError),

    /// Nothing to compare (`compare`, `report --baseline`): bad records, different profiles.
    #[error(transparent)]
    Compare(#[from] crate::delta::DeltaError),

    #[error(transparent)]
    Predict(#[from] crate::report::autoscaling::predict::PredictError),

    #[error(transparent)]
    Run(#[from] RunError),

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

    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),

    /// `cleanup` without confirmation where none can be asked for.
    #[error("{0}")]
    NotConfirmed(String),
}

/// A load engine's error reaches the edge one way: as the run's error.
impl From<LoadgenError> for Error {
    fn from(e: LoadgenError) -> Self {
        Error::Run(RunError::Loadgen(e))
    }
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::Usage(_)
            | Error::NoHost { .. }
            | Error::NotConfirmed(_)
            | Error::Compare(_) => exit::USAGE,
            Error::Cluster(e) if e.is_config() => exit::USAGE,
            Error::Sim(crate::sim::SimError::Settings(_)) => exit::USAGE,
            Error::Gcp(e) if e.is_usage() => exit::USAGE,
            Error::Predict(e) if e.is_usage() => exit::USAGE,
            Error::Run(e) => e.outcome_code().unwrap_or(exit::FAILURE),
            _ => exit::FAILURE,
        }
    }

    /// The lines `main` prints: one, or one per problem when there are several (`compare`'s
    /// unreadable records).
    pub fn lines(&self) -> Vec<String> {
        match self {
            Error::Compare(e) => e.lines(),
            other => vec![one_line(other)],
        }
    }

    pub fn write(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Write(WriteError::new(what, source))
    }
}

pub use crate::chain::one_line;

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
        assert_eq!(Error::Usage(UsageError::NoUsers).exit_code(), 2);
        let e = Error::Serve(std::io::Error::other("boom"));
        assert_eq!(e.exit_code(), 1);
        assert_eq!(Outcome::Interrupted.code(), 130);
    }
}
