//! `iris-lab serve`: the reference API on a local port.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::server::{self, Model};
use crate::signals;

/// Where `serve` listens unless told otherwise: the port the container exposes.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

pub async fn run(settings: &Settings, args: &ServeArgs) -> Result<Outcome, Error> {
    let addr = settings
        .layer(args, |f| &f.serve)
        .addr
        .unwrap_or(DEFAULT_ADDR);
    let model = Model::train()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })?;
    // Handlers first: a signal right after the listening line must stop us gracefully.
    let shutdown = signals::shutdown();
    output::write_stdout(&output::render_listening(local))?;
    output::note(&output::render_model(&model));
    server::serve(listener, model, shutdown)
        .await
        .map_err(Error::Serve)?;
    output::note("iris-lab serve: stopped after finishing in-flight requests");
    Ok(Outcome::Success)
}
