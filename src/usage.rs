//! Usage errors: what the user asked for cannot be done as given (flags, environment or config
//! file that parsed but do not fit together, or name something that does not exist). Every room
//! raises these as a [`UsageError`] (wrapped in its own error where it has one), and a usage
//! error always exits 2: `error::Error::exit_code` decides it from this type, nowhere else.

use std::fmt;

/// One misuse, with what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "format html (from --format, IRIS_LAB_FORMAT or iris-lab.yaml) is for `report` and \
         `demo` only: use text or json for this command"
    )]
    HtmlNotForThisCommand,

    #[error(
        "--users is required: the number of virtual users, e.g. --users 150 (or --stages, or --arrival-rate)"
    )]
    NoUsers,

    #[error(
        "--user-class: unknown user class {name:?}: use one of {known} or define it in a --scenario file"
    )]
    UnknownUserClass { name: String, known: String },

    #[error("--max-in-flight and --queue apply to the open model only: add --arrival-rate R")]
    OpenModelOnly,

    #[error("--max-in-flight {0}: at most {max} requests can be in flight", max = u32::MAX)]
    MaxInFlight(u64),

    #[error("--host {0} has no host name")]
    HostWithoutName(String),

    #[error("--host {0}: invalid TLS server name")]
    TlsServerName(String),

    #[error("--local runs --workers as local processes: add --workers N (2 or more)")]
    LocalWithoutWorkers,

    #[error("--workers must be 2 or more (1 worker is a plain `load`)")]
    TooFewWorkers,

    #[error("--workers {workers} is more than --users {users}: every worker needs a user")]
    MoreWorkersThanUsers { workers: u64, users: u32 },

    #[error("cannot find this program to start workers: {0}")]
    NoProgram(String),

    #[error(
        "--workers without --local runs worker pods: --image IMAGE names the iris-lab image \
         they run (build it from the Dockerfile), or add --local"
    )]
    NoImage,

    #[error("--worker-node-selector: {0:?} is not KEY=VALUE, e.g. pool=load")]
    NodeSelector(String),

    #[error(
        "--scenario is a file on this machine, not in the worker pods: use a built-in \
         --user-class with Kubernetes workers, or --local"
    )]
    ScenarioInPods,

    #[error("--worker-start-delay: {0}")]
    StartDelay(String),

    #[error("worker needs --host: it is started by `load --workers N`, which passes it")]
    WorkerWithoutHost,

    #[error("worker needs --workers N")]
    WorkerWithoutWorkers,

    #[error("--index {index} is not below --workers {workers}")]
    WorkerIndex { index: u32, workers: u32 },

    #[error("the demo's own address {addr}: {detail}")]
    DemoAddress { addr: String, detail: String },
}

impl UsageError {
    /// A known class list as the message shows it.
    pub fn unknown_user_class(name: &str, known: &[impl fmt::Display]) -> UsageError {
        UsageError::UnknownUserClass {
            name: name.to_string(),
            known: known
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}
