//! `GET /metrics`: the page's server mounts [`response`]; `load --metrics-addr` serves it alone.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use super::Board;

/// The scrape's answer, in the format the `Accept` header asks for.
pub fn response(board: &Board, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (content_type, body) = board.scrape(accept);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn metrics(State(board): State<Arc<Board>>, headers: HeaderMap) -> Response {
    response(&board, &headers)
}

/// `load --metrics-addr ADDR`: /metrics alone, until the run is over.
pub struct MetricsServer {
    pub addr: SocketAddr,
    pub board: Arc<Board>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    pub async fn start(addr: SocketAddr, board: Arc<Board>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .with_state(board.clone());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        Ok(Self {
            addr,
            board,
            shutdown,
            task,
        })
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
