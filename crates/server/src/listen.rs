//! The accept loop and each connection's time limits, so that no client (slow, idle or
//! hostile) can hold a connection, or file descriptor, for ever.
//!
//! hyper's own `header_read_timeout` is not used: hyper 1.x starts that timer as soon as it
//! waits for a request head, which on a keep-alive connection is the moment the previous
//! response is written (`proto/h1/conn.rs`, `poll_read_head`, and the `notify_read` set
//! after each message). That makes it one limit for "idle" plus "sending a head", where
//! uvicorn and nginx have two. Here a per-connection [`Clock`] tells the two apart: the IO
//! wrapper sees the first byte of a head arrive, the service wrapper sees the head parsed
//! and the response produced, and a watchdog drops the connection when the phase's deadline
//! passes. Nothing is sent before the close (nginx sends a 408; uvicorn has no such limit).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long connections may take and how many may be open: `serve`'s defence against
/// clients that connect and then send nothing, or send a little at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a whole request head: from the accept for a connection's first request,
    /// from the head's first byte for later ones. The body and the response then get the same
    /// time again (this API's handlers take microseconds, so it bounds a slow upload).
    pub head_timeout: Duration,
    /// Time a keep-alive connection may sit between requests (no request in progress,
    /// nothing read or written) before the server closes it.
    pub idle_timeout: Duration,
    /// Connections open at once. Past it the server stops accepting: new connections wait in
    /// the kernel's listen backlog until one closes (and are refused when that is full).
    pub max_connections: u32,
}

impl Limits {
    /// hyper's own default for a head, half of nginx's `client_header_timeout` (60 s): a
    /// head of this API is one small packet, so any client on any network sends it in far
    /// less, and a slowloris client holds a connection at most this long.
    pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);
    /// uvicorn's `--timeout-keep-alive` default, so that clients see the same keep-alive
    /// behaviour here as on the deployment this server stands in for (nginx keeps 75 s).
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
    /// Four times the guide's largest run (500 users, one connection each), and well inside
    /// the open-file limit `serve` raises at start (it lowers the cap to fit that limit).
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            head_timeout: Self::DEFAULT_HEAD_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` until `shutdown` resolves; then stops accepting, lets each connection
/// finish its request in progress, and returns when every connection has closed.
pub async fn serve_with_limits(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS as u32);
    let permits = Arc::new(Semaphore::new(max as usize));
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait for connections to close
                    // rather than spin or stop serving.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        tokio::spawn(connection(
            stream,
            router.clone(),
            limits,
            stop.clone(),
            permit,
        ));
    }
    drop(listener);
    stop.cancel();
    // Each connection holds a permit until it closes: all of them back means all closed.
    let _all = permits.acquire_many(max).await;
    Ok(())
}

/// Accept errors that concern one connection only (the client gave up before the accept).
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection: HTTP/1.1 with keep-alive, dropped (closed) when its clock expires.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let clock = Arc::new(Clock::new(limits));
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: Arc::clone(&clock),
    });
    let service = Tracked {
        router,
        clock: Arc::clone(&clock),
    };
    let conn = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = clock.deadline();
        tokio::select! {
            _ = conn.as_mut() => return,
            () = stop.cancelled(), if !stopping => {
                // Closes an idle connection now, a busy one after its response.
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = clock.changed.notified() => {}
            () = tokio::time::sleep_until(deadline) => {
                if clock.expired() {
                    tracing::debug!("closing a connection that exceeded its time limit");
                    return;
                }
            }
        }
    }
}

/// Where a connection is between requests, and until when it may stay there.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for the first byte of a head on a kept-alive connection.
    Idle { until: Instant },
    /// Receiving a head (or waiting for a new connection's first one).
    Head { until: Instant },
    /// A request's body is being received and its response made: bounded by the head limit
    /// again, so a body sent a byte at a time cannot hold the connection either.
    Busy { until: Instant },
}

impl Phase {
    fn deadline(self) -> Instant {
        match self {
            Phase::Idle { until } | Phase::Head { until } | Phase::Busy { until } => until,
        }
    }
}

struct Clock {
    limits: Limits,
    phase: Mutex<Phase>,
    /// Woken when the deadline may have moved earlier.
    changed: Notify,
}

impl Clock {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: Mutex::new(Phase::Head {
                until: Instant::now() + limits.head_timeout,
            }),
            changed: Notify::new(),
        }
    }

    /// Moves to the phase `change` returns, if any; wakes the watchdog only when that brings
    /// the deadline forward (a later deadline is seen when the earlier one fires).
    fn update(&self, change: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = change(*phase) {
            let sooner = next.deadline() < phase.deadline();
            *phase = next;
            if sooner {
                self.changed.notify_one();
            }
        }
    }

    fn deadline(&self) -> Instant {
        self.phase
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .deadline()
    }

    fn expired(&self) -> bool {
        self.deadline() <= Instant::now()
    }

    /// Bytes arrived: on an idle connection they start a head, and the head's time limit.
    fn on_read(&self) {
        let head = self.limits.head_timeout;
        self.update(|phase| match phase {
            Phase::Idle { .. } => Some(Phase::Head {
                until: Instant::now() + head,
            }),
            Phase::Head { .. } | Phase::Busy { .. } => None,
        });
    }

    /// Bytes left (the tail of a response): the connection is not idle yet.
    fn on_write(&self) {
        let idle = self.limits.idle_timeout;
        self.update(|phase| match phase {
            Phase::Idle { .. } => Some(Phase::Idle {
                until: Instant::now() + idle,
            }),
            Phase::Head { .. } | Phase::Busy { .. } => None,
        });
    }

    fn request_started(&self) {
        let limit = self.limits.head_timeout;
        self.update(|_| {
            Some(Phase::Busy {
                until: Instant::now() + limit,
            })
        });
    }

    fn request_finished(&self) {
        let idle = self.limits.idle_timeout;
        self.update(|_| {
            Some(Phase::Idle {
                until: Instant::now() + idle,
            })
        });
    }
}

/// The socket, telling the clock when bytes come and go.
struct Watched {
    inner: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.on_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.on_write();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router, telling the clock when a request starts (its head is parsed) and ends.
#[derive(Clone)]
struct Tracked {
    router: Router,
    clock: Arc<Clock>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.clock.request_started();
        let clock = Arc::clone(&self.clock);
        let response = self
            .router
            .clone()
            .oneshot(request.map(axum::body::Body::new));
        Box::pin(async move {
            let response = response.await;
            clock.request_finished();
            response
        })
    }
}
