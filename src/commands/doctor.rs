//! `iris-lab doctor`: the guide's troubleshooting section, every check with its evidence and
//! fix. Exit 1 when any check fails.

use std::time::Duration;

use crate::cli::DoctorArgs;
use crate::cluster::connect;
use crate::config::Settings;
use crate::doctor::gather::{self, DoctorOptions};
use crate::error::{Error, Outcome};
use crate::output;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const LOG_LINES: i64 = 20;

/// The options doctor runs on, from its flags and the shared settings.
pub fn options(settings: &Settings, args: &DoctorArgs) -> DoctorOptions {
    DoctorOptions {
        host: settings.host.clone(),
        wait: args.wait.map(|w| w.0).filter(|w| !w.is_zero()),
        probe_timeout: args.probe_timeout.map_or(PROBE_TIMEOUT, |t| t.0),
        insecure: settings.insecure,
        gcp_project: args.gcp_project.clone().filter(|p| !p.trim().is_empty()),
        log_lines: args.log_lines.unwrap_or(LOG_LINES),
    }
}

pub async fn run(settings: &Settings, args: &DoctorArgs) -> Result<Outcome, Error> {
    let opts = options(settings, args);
    let cluster = connect(&settings.cluster, &settings.names).await;
    if let (Ok(c), Some(limit)) = (&cluster, opts.wait) {
        output::note(&format!(
            "waiting up to {} for an external address of Service {} in namespace {}",
            crate::units::format_duration(limit),
            c.names.service,
            c.namespace
        ));
    }
    let namespace = settings
        .cluster
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let progress = |svc: &k8s_openapi::api::core::v1::Service| {
        output::note(&output::render_wait(svc));
    };
    let report = gather::run(cluster, &namespace, &opts, &progress).await;
    let text = output::render_doctor(&report, settings.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    Ok(Outcome::from_passed(report.passed))
}
