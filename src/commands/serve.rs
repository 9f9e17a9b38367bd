//! `iris-lab serve`: the reference API on a local port.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::server::{self, Limits, Model};
use crate::signals;

/// Where `serve` listens unless told otherwise: the port the container exposes.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

pub async fn run(settings: &Settings, args: &ServeArgs) -> Result<Outcome, Error> {
    let options = settings.layer(args, |f| &f.serve);
    let addr = options.addr.unwrap_or(DEFAULT_ADDR);
    let limits = limits(&options);
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
    output::note(&format!(
        "limits: request head {}, keep-alive idle {}, at most {} connections",
        humantime::format_duration(limits.head_timeout),
        humantime::format_duration(limits.idle_timeout),
        limits.max_connections
    ));
    let delay = options.delay.map_or(Duration::ZERO, |d| d.0);
    if !delay.is_zero() {
        output::note(&format!(
            "every response held back by {} (--delay)",
            humantime::format_duration(delay)
        ));
    }
    server::serve_delayed(listener, model, limits, delay, shutdown)
        .await
        .map_err(Error::Serve)?;
    output::note("iris-lab serve: stopped after finishing in-flight requests");
    Ok(Outcome::Success)
}

/// File descriptors kept free of connections: stdio, the listener, the runtime's own.
const RESERVED_FDS: u64 = 64;

/// Flags over the config file's `serve:` section over the defaults; the connection cap is
/// lowered to what the open-file limit (raised to its hard limit first) can hold, so that
/// the cap, not `EMFILE`, is what stops accepting.
fn limits(options: &ServeArgs) -> Limits {
    let wanted = options
        .max_connections
        .map_or(Limits::DEFAULT_MAX_CONNECTIONS.into(), |c| c.0);
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fits = nofile.saturating_sub(RESERVED_FDS).max(1);
    Limits {
        head_timeout: options
            .head_timeout
            .map_or(Limits::DEFAULT_HEAD_TIMEOUT, |d| d.0),
        idle_timeout: options
            .idle_timeout
            .map_or(Limits::DEFAULT_IDLE_TIMEOUT, |d| d.0),
        max_connections: u32::try_from(wanted.min(fits)).unwrap_or(u32::MAX),
    }
}
