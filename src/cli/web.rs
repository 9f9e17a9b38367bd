//! `iris-lab web` flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

/// Phases 2-4 in the browser: Locust's web UI (start, change, stop runs; statistics, charts,
/// failures) with the cluster beside the load. The flags, and the config file's `web:` section
/// (flags win).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebArgs {
    /// Address of the page; port 0 picks a free one [default: 127.0.0.1:8089]. An address
    /// beyond loopback needs --web-token (else one is made and printed).
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<SocketAddr>,

    /// Token every change (start, change, stop) must carry, as `X-Iris-Lab-Token: TOKEN` or
    /// `Authorization: Bearer TOKEN`; the page asks for it.
    #[arg(long, value_name = "TOKEN", env = "IRIS_LAB_WEB_TOKEN")]
    pub web_token: Option<String>,

    /// Directory for the runs' records [default: ./iris-lab-runs].
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Also write each run's Locust CSV files as PREFIX_stats.csv etc. (each run replaces them).
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,

    /// Do not look for the cluster (no host from the Service, nothing watched).
    #[arg(long)]
    pub no_cluster: bool,
}

super::layered!(WebArgs {
    addr,
    web_token,
    out_dir,
    csv,
    no_cluster
});
