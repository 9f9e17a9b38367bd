//! `smoke` against servers that break the contract: each a clear failed check and exit 1.

use crate::support;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use predicates::prelude::*;

fn smoke(url: &str) -> assert_cmd::assert::Assert {
    support::command()
        .env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_FORMAT")
        .args(["smoke", "--timeout", "1s", "--host", url])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
}

/// Every row failed and no output looks like a panic or a stack trace.
fn all_failed(assert: assert_cmd::assert::Assert, reason: &str) {
    assert
        .code(1)
        .stdout(predicate::str::contains("0/3 checks passed"))
        .stdout(predicate::str::contains(reason))
        .stderr(predicate::str::contains("panicked").not())
        .stderr(predicate::str::contains("RUST_BACKTRACE").not());
}

#[test]
fn a_server_answering_500_fails_every_check() {
    let router = Router::new()
        .route(
            "/",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/health",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/predict",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        );
    all_failed(smoke(&support::spawn_router(router)), "HTTP 500: boom");
}

#[test]
fn a_server_answering_html_fails_as_not_json() {
    let page = || async { Html("<html><body>Welcome to nginx!</body></html>") };
    let router = Router::new()
        .route("/", get(page))
        .route("/health", get(page))
        .route("/predict", post(page));
    all_failed(
        smoke(&support::spawn_router(router)),
        "response is not JSON: <html>",
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    all_failed(smoke(&support::spawn_silent_server()), "timed out");
}

#[test]
fn a_closed_port_is_a_connection_failure() {
    all_failed(smoke(&support::closed_port_url()), "connection failed");
}

#[test]
fn an_unknown_host_name_is_a_dns_failure() {
    // `.invalid` is reserved (RFC 2606): it never resolves, and no traffic leaves the machine.
    all_failed(smoke("http://iris.invalid"), "DNS lookup failed");
}

#[test]
fn another_api_version_fails_the_root_check_and_says_which() {
    use axum::Json;
    use serde_json::json;
    let router = Router::new()
        .route(
            "/",
            get(|| async { Json(json!({"message": "hi", "version": "1.0.0", "status": "running"})) }),
        )
        .route(
            "/health",
            get(|| async {
                Json(json!({"status": "healthy", "timestamp": 1.0, "model_loaded": true, "model_test_time": "0.0010s"}))
            }),
        )
        .route(
            "/predict",
            post(|| async {
                Json(json!({"predicted_species": "setosa", "prediction_probability": 0.97, "inference_time": "0.0010s", "total_time": "0.0020s"}))
            }),
        );
    smoke(&support::spawn_router(router))
        .code(1)
        .stdout(predicate::str::contains(
            "API version is \"1.0.0\", expected \"2.0.0\"",
        ))
        .stdout(predicate::str::contains("2/3 checks passed"));
}

#[test]
fn a_predict_without_timings_fails_and_names_the_field() {
    use axum::Json;
    use serde_json::json;
    let router = Router::new().route(
        "/predict",
        post(|| async {
            Json(json!({"predicted_species": "setosa", "prediction_probability": 0.97}))
        }),
    );
    smoke(&support::spawn_router(router))
        .code(1)
        .stdout(predicate::str::contains("response lacks `inference_time`"));
}
