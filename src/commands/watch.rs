//! Phases 3.3/4.4: what `kubectl get -w` and `kubectl top` show, on one stream.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::WatchArgs;
use crate::cluster::connect;
use crate::cluster::watch::{self, WatchOptions};
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::signals;

/// The `top` table's default period (the guide's `watch -n 15 kubectl top pods`).
pub const DEFAULT_TOP_INTERVAL: Duration = Duration::from_secs(15);

pub async fn run(settings: &Settings, args: &WatchArgs) -> Result<Outcome, Error> {
    let args = settings.layer(args, |f| &f.watch);
    let duration = args.duration.map(|d| d.0);
    let top = args.top_interval.map_or(DEFAULT_TOP_INTERVAL, |t| t.0);
    let cluster = connect(&settings.cluster, &settings.names).await?;
    // Fail with one clear line before streaming: a missing Deployment, no access to pods.
    cluster.require_deployment().await?;
    cluster.pods().await?;
    if cluster.hpa().await?.is_none() {
        output::note(&format!(
            "note: no HPA {} in namespace {}: no HPA lines will appear",
            cluster.names.hpa, cluster.namespace
        ));
    }
    // Poll once so that the SIGINT/SIGTERM handlers are in place before the first line.
    let mut shutdown = Box::pin(signals::shutdown());
    if futures::poll!(shutdown.as_mut()).is_ready() {
        return Ok(Outcome::Interrupted);
    }
    output::note(&output::render_watch_header(
        &cluster.namespace,
        &cluster.names,
        duration,
    ));
    let (tx, mut rx) = mpsc::channel(1024);
    let options = WatchOptions {
        top_per_window: false,
        top_every: (!top.is_zero()).then_some(top),
        facts: false,
    };
    let _tasks = watch::spawn(&cluster, options, tx);
    let style = output::Style::for_stdout();
    let deadline = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else {
                    return Ok(Outcome::Failed);
                };
                let line = output::render_watch_event(&event, settings.format, style);
                if !output::write_stdout_open(&line)? {
                    // The reader of the pipe has gone (`iris-lab watch | head`).
                    return Ok(Outcome::Success);
                }
            }
            () = &mut deadline => return Ok(Outcome::Success),
            () = shutdown.as_mut() => return Ok(Outcome::Interrupted),
        }
    }
}
