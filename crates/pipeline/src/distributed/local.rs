//! The controller of a distributed run with N local worker processes (`load --workers N
//! --local`): start them (each in its own process group, so a terminal's Ctrl-C reaches only
//! the controller), read their lines, merge, and save.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{DistributedError, WorkerNote, WorkerOrder, parse_line};
use crate::{LoadResult, Monitor, RunError, RunMode, RunNote, RunPlan, RunSite, prepare};
use iris_base::signals::Signals;
use iris_base::usage::UsageError;
use iris_loadgen::{GRACE, LoadPlan};
use iris_record::distributed::Placement;

use super::collect::{Collected, RunFiles, finish};

/// What a worker's reader task reports.
enum Msg {
    Line(u32, String),
    Exited(u32, String),
}

/// How long before the common start the workers are started: time for N processes to start
/// and resolve the target.
fn start_delay(workers: u32) -> Duration {
    Duration::from_millis(1500 + 300 * u64::from(workers))
}

/// Runs `plan` with its local workers ([`RunMode::LocalWorkers`]), processes of `exe`
/// (`iris-lab`).
pub async fn run_local(
    plan: &RunPlan,
    site: &RunSite,
    exe: &Path,
    monitor: &mut (dyn Monitor + Send),
) -> Result<LoadResult, RunError> {
    let RunMode::LocalWorkers { workers } = plan.mode else {
        return Err(DistributedError::Usage(UsageError::WrongRunMode(
            "run_local runs a plan of local workers",
        ))
        .into());
    };
    check_target(plan, site, workers).await?;
    let RunFiles {
        record_path,
        dir,
        timeline,
    } = RunFiles::create(plan)?;
    let start_at = Timestamp::now()
        .checked_add(start_delay(workers))
        .unwrap_or_else(|_| Timestamp::now());
    // Every worker gets the same order; each takes its share by its index.
    let order = WorkerOrder {
        plan: plan.clone(),
        host: site.host.clone(),
        workers,
        start_at,
        out_dir: dir.clone(),
    }
    .to_line()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let mut stdins = Vec::new();
    for i in 0..workers {
        let (child, stdin) = spawn(exe, &order, i, &dir).await?;
        stdins.push(Some(stdin));
        tasks.spawn(read_worker(i, child, tx.clone()));
    }
    drop(tx);
    monitor.note(&RunNote::Workers(WorkerNote::Started {
        workers,
        start_at,
        dir: dir.clone(),
    }));
    let mut collected = Collected::new(&plan.load, workers, start_at, timeline);
    let outcome = control(&mut collected, rx, &mut stdins, plan, site.signals, monitor).await;
    // Every reader has ended, or the run is over without them: a worker still running is
    // killed with its task (kill_on_drop).
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    outcome?;
    finish(
        collected,
        plan,
        &site.host,
        Placement::Local,
        record_path,
        &dir,
        monitor,
    )
}

/// The controller checks the target first: one clear error instead of N. Each process opens
/// files for its own share; the shares' connections all leave this machine's ports.
async fn check_target(plan: &RunPlan, site: &RunSite, workers: u32) -> Result<(), RunError> {
    let probe = LoadPlan {
        users: plan.load.users.div_ceil(workers),
        ..plan.load.clone()
    };
    let target = prepare::target(&probe, &site.host, plan.insecure).await?;
    let ports = prepare::ephemeral_ports();
    match prepare::capacity_problem(plan.load.users, u64::MAX, ports, target.addrs.len()) {
        Some(problem) => Err(problem.into()),
        None => Ok(()),
    }
}

/// Starts worker `i` and sends it the order, the first line of its stdin; the rest of its
/// stdin is the stop channel.
async fn spawn(
    exe: &Path,
    order: &str,
    i: u32,
    dir: &Path,
) -> Result<(Child, ChildStdin), DistributedError> {
    let spawn_error = |source| DistributedError::Spawn {
        index: i,
        exe: exe.display().to_string(),
        source,
    };
    let log = std::fs::File::create(dir.join(format!("worker-{i}.log"))).map_err(spawn_error)?;
    let mut child = Command::new(exe)
        .args(["worker", "--index", &i.to_string(), "--plan", "-"])
        .arg("--stdin-control")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| spawn_error(std::io::Error::other("its standard input is not a pipe")))?;
    stdin
        .write_all(format!("{order}\n").as_bytes())
        .await
        .map_err(spawn_error)?;
    Ok((child, stdin))
}

/// Forwards a worker's stdout lines, then how it exited.
async fn read_worker(i: u32, mut child: Child, tx: mpsc::UnboundedSender<Msg>) {
    if let Some(out) = child.stdout.take() {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(Msg::Line(i, line)).is_err() {
                return;
            }
        }
    }
    let how = match child.wait().await {
        Ok(status) => status.to_string(),
        Err(e) => format!("could not be waited for: {e}"),
    };
    let _ = tx.send(Msg::Exited(i, how));
}

/// Reads every worker's lines until all have exited; Ctrl-C closes their stdin (they stop
/// and send what they measured), a second Ctrl-C ends the run at once.
async fn control(
    collected: &mut Collected,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    stdins: &mut Vec<Option<ChildStdin>>,
    opts: &RunPlan,
    signals: bool,
    monitor: &mut (dyn Monitor + Send),
) -> Result<(), RunError> {
    let mut signals = signals.then(|| Signals::new().ok()).flatten();
    let mut interrupts = 0;
    // However the workers behave, the run ends: the plan's length, the grace, and slack.
    let limit = collected.start_delay() + opts.load.duration + GRACE + Duration::from_secs(30);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Line(i, text)) => {
                    if let Some(line) = parse_line(&text) {
                        collected.line(i, line, monitor);
                    }
                }
                Some(Msg::Exited(i, how)) => collected.exited(i, &how, monitor),
                None => return Ok(()),
            },
            () = next_signal(&mut signals) => {
                interrupts += 1;
                if interrupts > 1 {
                    monitor.note(&RunNote::InterruptedAgain {
                        timeline: collected.timeline_path(),
                    });
                    return Err(RunError::InterruptedAgain);
                }
                collected.interrupted = true;
                stdins.clear();
                monitor.interrupted();
            }
            () = tokio::time::sleep_until(deadline) => {
                collected.timed_out(monitor);
                return Ok(());
            }
        }
    }
}

async fn next_signal(signals: &mut Option<Signals>) {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
