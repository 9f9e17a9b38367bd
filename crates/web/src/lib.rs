//! The live page (`iris-lab web`, `load --web`): Locust's web UI with the cluster beside the
//! load. One more consumer of the pipeline's one-way flow:
//!
//! ```text
//! pipeline -> Monitor (WebMonitor) -> Hub (runs, bounded series) -> feed (SSE) -> pages
//! page -> POST /swarm, /stop (Guard) -> Hub -> RunControl (stop, swarm) -> the engine
//! ```
//!
//! The page (`templates/web.html`) is one file in the binary: its own small SVG charts, no
//! script or font from elsewhere.

mod api;
mod attached;
mod cluster;
mod guard;
mod hub;
mod monitor;
mod run;
mod series;

use std::sync::Arc;

pub use attached::AttachedPage;
pub use guard::{Guard, TOKEN_HEADER, generate_token, is_loopback_host};
pub use hub::{ControlError, Hub, PageInfo, Starter, SwarmForm, nudged};
pub use monitor::{Tee, WebMonitor};
pub use run::Start;

/// The page, embedded.
pub const PAGE: &str = include_str!("../../../templates/web.html");

/// Serves the page and its API on `listener` until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<Hub>,
    guard: Guard,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let app = api::router(hub, guard, shutdown.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
