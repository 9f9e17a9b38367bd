//! Ctrl-C and SIGTERM as futures.

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed by this call, not on
/// the first poll, so a signal that arrives before the future is awaited is not lost (and does
/// not kill the process).
pub fn shutdown() -> impl std::future::Future<Output = ()> + Send + 'static {
    let signals = Signals::new();
    async move {
        match signals {
            Ok(mut s) => s.recv().await,
            // No handlers: never resolve; the default disposition still stops the process.
            Err(_) => std::future::pending::<()>().await,
        }
    }
}

/// Ctrl-C and SIGTERM as a stream, for commands that react to a second signal.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers; from now on SIGINT and SIGTERM no longer kill the process.
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the next SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
