//! `iris-lab worker`: one share of a distributed run. The load options come from the same
//! flags as `load` (layered and resolved by `load`'s own code); the lines go to stdout.

use tokio_util::sync::CancellationToken;

use crate::cli::WorkerArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::pipeline::distributed::{self, WorkerLine, WorkerPlan};

pub async fn run(settings: &Settings, args: &WorkerArgs) -> Result<Outcome, Error> {
    let Some(host) = settings.host.clone() else {
        return Err(Error::Usage(
            "worker needs --host: it is started by `load --workers N`, which passes it".into(),
        ));
    };
    let workers = match args.load.workers {
        Some(n) => u32::try_from(n.0).unwrap_or(u32::MAX),
        None => return Err(Error::Usage("worker needs --workers N".into())),
    };
    if args.index >= workers {
        return Err(Error::Usage(format!(
            "--index {} is not below --workers {workers}",
            args.index
        )));
    }
    let one = crate::cli::LoadArgs {
        workers: None,
        local: false,
        ..settings.layer(&args.load, |f| &f.load)
    };
    let options = super::load::plan(settings, &one)?;
    let site = crate::pipeline::RunSite::new(host);
    let stop = CancellationToken::new();
    if args.stdin_control {
        stop_when_stdin_closes(stop.clone());
    }
    let plan = WorkerPlan {
        index: args.index,
        workers,
        start_at: args.start_at,
        out_dir: args.out_dir(),
    };
    let mut emit = |line: &WorkerLine| {
        // A controller that went away cannot be told anything: the run stops with stdin.
        let _ = output::write_stdout(&format!("{}\n", line.to_line()));
    };
    Ok(distributed::run_worker(&options, &site, plan, stop, &mut emit).await?)
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
