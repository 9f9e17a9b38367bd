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

    #[error(
        "no API host: pass --host URL (or set IRIS_LAB_HOST, or `host:` in iris-lab.yaml){hint}"
    )]
    NoHost { hint: &'static str },

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

    #[error("server failed")]
    Serve(#[source] std::io::Error),

    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),

    #[error(transparent)]
    Model(#[from] crate::server::model::ModelError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) | Error::NoHost { .. } => exit::USAGE,
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
