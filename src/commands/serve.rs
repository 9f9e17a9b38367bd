//! `iris-lab serve`: the reference API on a local port.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

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
    let listener = listen(addr).map_err(|source| Error::Bind {
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
        "limits: request head {}, keep-alive idle {}, at most {} connections (more are answered 503 at once)",
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

/// The listen queue asked for: the kernel clamps it to `net.core.somaxconn` (4096 on
/// Linux 5.4 and later). A burst of thousands of connects then waits for the accept loop
/// in the queue rather than in SYN retransmissions (1 s, then 3 s...).
const LISTEN_BACKLOG: u32 = 65_535;

/// Binds `addr` with the largest listen queue the kernel allows.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Flags over the config file's `serve:` section over the defaults. Without
/// `--max-connections` the cap is what the open-file limit (raised to its hard limit first)
/// holds, keeping descriptors for the refusals past it; a cap asked for is lowered to that
/// too, so that the cap, not `EMFILE`, is what turns connections away.
fn limits(options: &ServeArgs) -> Limits {
    let wanted = options.max_connections.map_or(u64::MAX, |c| c.0);
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fits = nofile
        .saturating_sub(RESERVED_FDS + u64::from(Limits::REFUSING_AT_ONCE))
        .max(1);
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
