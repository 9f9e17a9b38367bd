//! The exit codes every command shares, and the outcome of a command that ran to its end. A
//! bottom room: engines say how a run ended, the edge (`main`) turns it into the exit code.

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
