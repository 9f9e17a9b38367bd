//! One file per subcommand: each gathers its inputs, calls the engines and returns data for
//! `output` to render.

pub mod demo;
pub mod guide;
pub mod load;
pub mod report;
pub mod serve;
pub mod smoke;

use crate::config::Settings;
use crate::error::Error;

/// The API's base URL, from `--host`, `IRIS_LAB_HOST` or the config file.
pub fn require_host(settings: &Settings) -> Result<reqwest::Url, Error> {
    settings.host.clone().ok_or(Error::NoHost {
        hint: "; for a local try-out, start `iris-lab serve` and use --host http://127.0.0.1:8000",
    })
}
