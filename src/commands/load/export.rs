//! `load --export`, `--metrics-addr` (and the page's /metrics): the exporter beside the
//! run's display, and after the run what its receivers missed, stated in the record.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::LoadArgs;
use crate::error::Error;
use crate::export::serve::MetricsServer;
use crate::export::{Board, ExportMonitor, Pusher, RunNaming};
use crate::output;
use crate::pipeline::{LoadResult, RunMode, RunPlan, RunSite};
use crate::usage::UsageError;

/// How long the run's end waits for the receivers' queues to drain.
const DRAIN: Duration = Duration::from_secs(5);
/// How long the run's end waits, at most, for a scraper to take the final values.
const FINAL_SCRAPE: Duration = Duration::from_secs(30);

/// The exporter of this run (idle when nothing asks for it) and the `--metrics-addr` server.
pub async fn start(
    args: &LoadArgs,
    plan: &RunPlan,
    site: &RunSite,
    page_board: Option<Arc<Board>>,
) -> Result<(ExportMonitor, Option<MetricsServer>), Error> {
    let wanted = args.metrics_addr.is_some() || !args.export.is_empty();
    if wanted && !matches!(plan.mode, RunMode::OneProcess) {
        return Err(UsageError::ExportNeedsOneProcess.into());
    }
    let board = page_board.or_else(|| args.metrics_addr.map(|_| Board::new()));
    let server = match (args.metrics_addr, &board) {
        (Some(addr), Some(board)) => Some(
            MetricsServer::start(addr, board.clone())
                .await
                .map_err(|source| Error::Bind {
                    addr: addr.to_string(),
                    source,
                })?,
        ),
        _ => None,
    };
    let pushers = args
        .export
        .iter()
        .map(|t| Pusher::start(t.clone(), &args.export_header))
        .collect::<Result<Vec<_>, String>>()
        .map_err(UsageError::Export)?;
    let naming = RunNaming {
        users: plan.load.users,
        user_class: plan.load.class.name.clone(),
        target: RunNaming::target_of(site.host.as_str()),
    };
    Ok((ExportMonitor::new(naming, board, pushers), server))
}

/// After the run: the final values scraped (when someone scrapes), the queues drained, and
/// what a receiver missed written into the record, with one line on stderr each.
pub async fn finish(
    exporter: ExportMonitor,
    server: Option<MetricsServer>,
    result: &mut Result<Option<LoadResult>, Error>,
) {
    if let Some(server) = server {
        if matches!(result, Ok(Some(_)))
            && server.board.wait_final_scrape(FINAL_SCRAPE).await == Some(false)
        {
            output::note(&format!(
                "metrics: the run's final values were not scraped from http://{}/metrics in time",
                server.addr
            ));
        }
        server.stop().await;
    }
    let Some(export) = exporter.close(DRAIN).await else {
        return;
    };
    for r in export.receivers.iter().filter(|r| r.has_gap()) {
        output::note(&format!(
            "export {} {}: {} of {} seconds not delivered ({} dropped, {} failed, {} still queued){}",
            r.protocol,
            r.endpoint,
            r.seconds - r.delivered,
            r.seconds,
            r.dropped,
            r.failed,
            r.undelivered,
            r.last_error
                .as_deref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default()
        ));
    }
    let Ok(Some(run)) = result else {
        return;
    };
    run.record.export = Some(export);
    if let Err(e) = crate::record::save(&run.record, &run.record_path) {
        output::note(&format!(
            "export: the record's export field was not saved: {e}"
        ));
    }
}
