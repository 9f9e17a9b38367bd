//! The reference Iris Prediction API: the same contract as the guide's FastAPI deployment,
//! fast enough that a load test measures the load generator and the network, not the server.

pub mod docs;
mod listen;
pub mod model;
mod validate;

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;

use iris_api::Features;
use iris_api::contract::{
    API_VERSION, HealthResponse, RootResponse, WELCOME_MESSAGE, format_timing,
};
pub use listen::Limits;
pub use model::Model;

/// The W3C header naming where the server's time went.
pub const SERVER_TIMING: &str = "server-timing";

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The sample `/health` predicts on each call to prove the model works.
const HEALTH_SAMPLE: [f64; 4] = [5.1, 3.5, 1.4, 0.2];

struct AppState {
    model: Model,
    openapi: Bytes,
}

/// The API's routes. Unknown paths get FastAPI's 404 body, known paths with another method 405.
pub fn router(model: Model) -> Router {
    let state = Arc::new(AppState {
        model,
        openapi: Bytes::from(docs::openapi().to_string()),
    });
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/predict", post(predict))
        .route("/docs", get(|| async { Html(docs::DOCS_HTML) }))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(total_timing))
        .with_state(state)
}

/// The W3C `Server-Timing` value of durations: `name;dur=<ms with microseconds>`, joined.
pub fn server_timing(metrics: &[(&str, Duration)]) -> String {
    let mut text = String::with_capacity(48);
    for (i, (name, d)) in metrics.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        // Writing into a String cannot fail.
        let _ = write!(text, "{name};dur={:.3}", d.as_secs_f64() * 1e3);
    }
    text
}

/// Gives every response that has no `Server-Timing` yet (all but `/predict`'s) the handler's
/// `total`.
async fn total_timing(request: Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    if !response.headers().contains_key(SERVER_TIMING) {
        let value = server_timing(&[("total", started.elapsed())]);
        if let Ok(v) = HeaderValue::try_from(value) {
            response.headers_mut().insert(SERVER_TIMING, v);
        }
    }
    response
}

/// Serves with the default [`Limits`] until `shutdown` resolves, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    model: Model,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, model, Limits::default(), shutdown).await
}

/// Serves within `limits` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve_with(
    listener: TcpListener,
    model: Model,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve_with_limits(listener, router(model), limits, shutdown).await
}

/// Serves like [`serve_with`], every response held back by `delay` first (`serve --delay`:
/// outside the handler's `Server-Timing`, as a slower network or proxy would add it).
pub async fn serve_delayed(
    listener: TcpListener,
    model: Model,
    limits: Limits,
    delay: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(model);
    let app = if delay.is_zero() {
        app
    } else {
        app.layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| async move {
                tokio::time::sleep(delay).await;
                next.run(request).await
            },
        ))
    };
    listen::serve_with_limits(listener, app, limits, shutdown).await
}

/// Serves `router` (the API's routes with layers of the caller's, e.g. a simulated pod's CPU
/// budget) within `limits` until `shutdown` resolves.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve_with_limits(listener, router, limits, shutdown).await
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut bytes = Vec::with_capacity(160);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Encoding failed: {e}"),
        ),
    }
}

fn detail(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "detail": text }))
}

async fn root() -> Response {
    json_response(
        StatusCode::OK,
        &RootResponse {
            message: WELCOME_MESSAGE.to_string(),
            version: API_VERSION.to_string(),
            status: "running".to_string(),
        },
    )
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let started = Instant::now();
    let prediction = state.model.predict(&HEALTH_SAMPLE);
    let elapsed = started.elapsed();
    if !prediction.probability.is_finite() {
        return detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Health check failed: model returned no probability",
        );
    }
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &HealthResponse {
            status: "healthy".to_string(),
            timestamp,
            model_loaded: true,
            model_test_time: format_timing(elapsed),
        },
    )
}

async fn predict(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    if too_large {
        return detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    }
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
        return detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    };
    let features: Features = match validate::parse_features(&bytes) {
        Ok(f) => f,
        Err(errors) => {
            return json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "detail": errors }),
            );
        }
    };
    let inference_started = Instant::now();
    let prediction = state.model.predict(&features.as_array());
    // Total over finite features (see `Model::predict`), so there is no 500 to give here.
    let inference = inference_started.elapsed();
    let total = started.elapsed();
    let mut response = json_response(
        StatusCode::OK,
        &PredictBody {
            predicted_species: prediction.species.as_str(),
            prediction_probability: (prediction.probability * 1e4).round() / 1e4,
            inference_time: &format_timing(inference),
            total_time: &format_timing(total),
        },
    );
    let timing = server_timing(&[("inference", inference), ("total", total)]);
    if let Ok(v) = HeaderValue::try_from(timing) {
        response.headers_mut().insert(SERVER_TIMING, v);
    }
    response
}

/// [`iris_api::contract::PredictResponse`] without owning its strings: the hot path.
#[derive(Serialize)]
struct PredictBody<'a> {
    predicted_species: &'a str,
    prediction_probability: f64,
    inference_time: &'a str,
    total_time: &'a str,
}

async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi.clone(),
    )
        .into_response()
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> Response {
    detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}
