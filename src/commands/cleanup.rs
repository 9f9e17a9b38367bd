//! Phase 7: scale the Deployment back down through its scale subresource, safely.

use std::time::Duration;

use crate::cli::CleanupArgs;
use crate::cluster::checks;
use crate::cluster::cleanup::{CleanupPlan, CleanupReport, plan, rows, settled, wait_to_settle};
use crate::cluster::connect;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;

/// How long to wait for the pods to settle unless told otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);

pub async fn run(settings: &Settings, args: &CleanupArgs) -> Result<Outcome, Error> {
    let args = settings.layer(args, |f| &f.cleanup);
    let requested = args.replicas.map(|r| r.0);
    let (yes, dry_run) = (args.yes, args.dry_run);
    let wait = args.wait.map_or(DEFAULT_WAIT, |w| w.0);
    let cluster = connect(&settings.cluster, &settings.names).await?;
    let current = cluster.scale_replicas().await?;
    let hpa = cluster.hpa().await?;
    let hpa_min = hpa.as_ref().map(|h| checks::hpa_replicas(h).0);
    let plan = plan(
        &cluster.names.deployment,
        &cluster.namespace,
        current,
        requested,
        hpa_min.map(|m| (cluster.names.hpa.as_str(), m)),
    );
    let text = settings.format == output::Format::Text;
    if text {
        output::write_stdout(&output::render_cleanup_plan(&plan, dry_run))?;
    } else if let Some(w) = &plan.warning {
        output::note(&format!("warning: {w}"));
    }
    let mut report = CleanupReport {
        plan: plan.clone(),
        dry_run,
        changed: false,
        settled: false,
        waited_s: 0.0,
        pods: Vec::new(),
    };
    if dry_run {
        let pods = cluster.pods().await?;
        report.pods = rows(&pods);
        report.settled = settled(&pods, plan.target);
        finish(settings, &report)?;
        return Ok(Outcome::Success);
    }
    if plan.changes_something() {
        if !yes {
            confirm(&plan)?;
        }
        cluster.set_scale_replicas(plan.target).await?;
        report.changed = true;
    }
    let (pods, waited) = wait_to_settle(&cluster, plan.target, wait).await?;
    report.settled = settled(&pods, plan.target);
    report.waited_s = waited.as_secs_f64();
    report.pods = rows(&pods);
    finish(settings, &report)?;
    Ok(Outcome::from_passed(report.settled || wait.is_zero()))
}

fn confirm(plan: &CleanupPlan) -> Result<(), Error> {
    let question = format!(
        "Scale deployment {} in namespace {} from {} to {} replicas?",
        plan.deployment, plan.namespace, plan.current, plan.target
    );
    super::confirm(&question, "scale", "nothing changed")
}

fn finish(settings: &Settings, report: &CleanupReport) -> Result<(), Error> {
    output::write_stdout(&output::render_cleanup(
        report,
        settings.format,
        output::Style::for_stdout(),
    ))?;
    Ok(())
}
