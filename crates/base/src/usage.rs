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

    #[error("compare needs {0}: iris-lab compare BASE NEW")]
    CompareSideMissing(&'static str),

    #[error("--fail-on: {0}")]
    FailOn(String),

    #[error(
        "--users is required: the number of virtual users, e.g. --users 150 (or --stages, or --arrival-rate)"
    )]
    NoUsers,

    #[error(
        "--user-class: unknown user class {name:?}: use one of {known} or define it in a --scenario file"
    )]
    UnknownUserClass { name: String, known: String },

    #[error("--host {0} has no host name")]
    HostWithoutName(String),

    #[error("--host {0}: invalid TLS server name")]
    TlsServerName(String),

    #[error("--local runs --workers as local processes: add --workers N (2 or more)")]
    LocalWithoutWorkers,

    #[error("cannot find this program to start workers: {0}")]
    NoProgram(String),

    #[error(
        "--workers without --local runs worker pods: --image IMAGE names the iris-lab image \
         they run (build it from the Dockerfile), or add --local"
    )]
    NoImage,

    #[error("--worker-node-selector: {0:?} is not KEY=VALUE, e.g. pool=load")]
    NodeSelector(String),

    #[error("--worker-start-delay: {0}")]
    StartDelay(String),

    /// A settled plan handed to the wrong runner (a bug of the caller).
    #[error("{0}")]
    WrongRunMode(&'static str),

    #[error("the plan cannot be sent to the workers: {0}")]
    PlanNotSent(String),

    #[error(
        "the worker's plan (--plan or {env}) does not decode: {detail}; the controller \
         and the worker must be the same iris-lab version"
    )]
    PlanNotDecoded { env: &'static str, detail: String },

    #[error("--index {index} is not below the plan's {workers} workers")]
    IndexNotInPlan { index: u32, workers: u32 },

    #[error("worker --plan -: standard input ended before the plan")]
    PlanStdinEnded,

    #[error("worker --plan -: could not read standard input: {0}")]
    PlanStdinUnreadable(String),

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
