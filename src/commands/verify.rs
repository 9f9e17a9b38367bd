//! `iris-lab verify`: Phase 1.1-1.2 on the cluster, as a checklist.

use crate::cluster::{connect, verify};
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;

pub async fn run(settings: &Settings) -> Result<Outcome, Error> {
    let cluster = connect(&settings.cluster, &settings.names).await?;
    let report = verify::gather(&cluster).await?;
    let text = output::render_verify(&report, settings.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    Ok(Outcome::from_passed(report.passed))
}
