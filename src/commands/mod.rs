//! One file per subcommand: each gathers its inputs, calls the engines and returns data for
//! `output` to render.

pub mod cleanup;
pub mod compare;
pub mod demo;
pub mod doctor;
pub mod guide;
pub mod load;
pub mod predict;
pub mod report;
pub mod serve;
pub mod sim;
pub mod smoke;
pub mod trace;
pub mod verify;
pub mod watch;
pub mod web;
pub mod worker;

use crate::cluster::ClusterError;
use crate::cluster::{self, checks};
use crate::config::Settings;
use crate::error::Error;
use crate::output;

/// Asks `question` on the terminal before a change to the cluster; refuses when stdin is not a
/// terminal (`--yes` confirms). `what` names the change ("scale"), `unchanged` what was left.
pub fn confirm(question: &str, what: &str, unchanged: &str) -> Result<(), Error> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::NotConfirmed(format!(
            "refusing to {what} without confirmation: stdin is not a terminal; pass --yes to confirm (or --dry-run to only look)"
        )));
    }
    match output::ask_yes_no(question) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::NotConfirmed(format!("not confirmed: {unchanged}"))),
        Err(e) => Err(Error::NotConfirmed(format!(
            "could not read the answer ({e}): {unchanged}"
        ))),
    }
}

/// The API's base URL: `--host` (or `IRIS_LAB_HOST`, or the config file), else discovered from
/// the Service's external IP (Phase 1.2), which is said in one line on stderr.
pub async fn require_host(settings: &Settings) -> Result<reqwest::Url, Error> {
    if let Some(host) = &settings.host {
        return Ok(host.clone());
    }
    let cluster = cluster::connect(&settings.cluster, &settings.names)
        .await
        .map_err(|e| Error::NoHost {
            reason: format!("the cluster is not usable: {}", crate::chain::one_line(&e)),
        })?;
    let (url, note) = discover_host(&cluster).await.map_err(|e| match e {
        DiscoverError::Cluster(e) => Error::NoHost {
            reason: crate::chain::one_line(&e),
        },
        DiscoverError::NoAddress(reason) => Error::NoHost { reason },
    })?;
    output::note(&note);
    Ok(url)
}

/// Why no base URL could be read from the Service.
#[derive(Debug)]
pub enum DiscoverError {
    Cluster(ClusterError),
    NoAddress(String),
}

/// The base URL from the Service and the line that says where it came from.
pub async fn discover_host(
    cluster: &cluster::Cluster,
) -> Result<(reqwest::Url, String), DiscoverError> {
    let name = &cluster.names.service;
    let ns = &cluster.namespace;
    let svc = cluster
        .service()
        .await
        .map_err(DiscoverError::Cluster)?
        .ok_or_else(|| {
            DiscoverError::NoAddress(format!("Service {name:?} not found in namespace {ns}"))
        })?;
    let url = checks::base_url(&svc).ok_or_else(|| {
        DiscoverError::NoAddress(format!(
            "Service {name:?} in namespace {ns} has no external IP yet (its load balancer is still \
             being provisioned: `kubectl get svc {name} -n {ns} -w`)"
        ))
    })?;
    let note = format!(
        "using {url} (external IP of Service {name} in namespace {ns}); pass --host to override"
    );
    Ok((url, note))
}
