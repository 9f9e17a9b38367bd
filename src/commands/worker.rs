//! `iris-lab worker`: one share of a distributed run. Its plan is the controller's, settled
//! and sent as JSON ([`WorkerOrder`]); no config file is read. The lines go to stdout.

use tokio_util::sync::CancellationToken;

use crate::cli::WorkerArgs;
use crate::error::{Error, Outcome};
use crate::output;
use crate::pipeline::RunError;
use crate::pipeline::distributed::{self, WorkerLine, WorkerOrder};
use crate::usage::UsageError;

pub async fn run(args: &WorkerArgs) -> Result<Outcome, Error> {
    let text = match args.plan.as_str() {
        "-" => read_stdin_line()?,
        text => text.to_string(),
    };
    let order = WorkerOrder::from_line(&text).map_err(RunError::from)?;
    let index = order.check_index(args.index).map_err(RunError::from)?;
    let stop = CancellationToken::new();
    if args.stdin_control {
        stop_when_stdin_closes(stop.clone());
    }
    let mut emit = |line: &WorkerLine| {
        // A controller that went away cannot be told anything: the run stops with stdin.
        let _ = output::write_stdout(&format!("{}\n", line.to_line()));
    };
    Ok(distributed::run_worker(&order, index, true, stop, &mut emit).await?)
}

/// The plan's line from standard input (the rest of it is the stop channel).
fn read_stdin_line() -> Result<String, Error> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(n) if n > 0 => Ok(line),
        Ok(_) => Err(UsageError::PlanStdinEnded.into()),
        Err(e) => Err(UsageError::PlanStdinUnreadable(e.to_string()).into()),
    }
}

/// Cancels `stop` when standard input reaches its end (or says `stop`). A plain thread: a
/// blocking read on the runtime's pool would hold the runtime's shutdown.
fn stop_when_stdin_closes(stop: CancellationToken) {
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.trim() == "stop" => break,
                Ok(_) => {}
            }
        }
        stop.cancel();
    });
}
