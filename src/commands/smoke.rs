//! `iris-lab smoke`: Phase 1.3 against the host, as a table or JSON.

use crate::cli::SmokeArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::probe::{self, ApiClient};

/// The default time limit of each smoke request.
pub use crate::probe::smoke::DEFAULT_TIMEOUT;

pub async fn run(settings: &Settings, args: &SmokeArgs) -> Result<Outcome, Error> {
    let args = settings.layer(args, |f| &f.smoke);
    let timeout = args.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let host = super::require_host(settings).await?;
    let client = ApiClient::new(host, timeout, settings.insecure).map_err(Error::HttpClient)?;
    let report = probe::smoke::run(&client).await;
    let text = output::render_smoke(&report, settings.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    Ok(Outcome::from_passed(report.passed))
}
