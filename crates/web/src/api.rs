//! The routes: the page, its feed, Locust's control API (`POST /swarm`, `/stop`,
//! `/stats/requests` and its CSV downloads) and the downloads of each run (CSV, record, the
//! HTML report of the runs so far).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::guard::{Guard, Refused};
use super::hub::{ControlError, Hub, SwarmForm};
use super::run::Row;
use iris_record::RunRecord;
use iris_report as report;
use iris_stats::csv;

#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    guard: Guard,
    shutdown: CancellationToken,
}

pub fn router(hub: Arc<Hub>, guard: Guard, shutdown: CancellationToken) -> Router {
    let app = App {
        hub,
        guard,
        shutdown,
    };
    Router::new()
        .route("/", get(page))
        .route("/events", get(events))
        .route("/api/state", get(state))
        .route("/api/runs/{id}", get(run))
        .route("/swarm", post(swarm))
        .route("/stop", get(stop).post(stop))
        .route("/stats/requests", get(stats_requests))
        .route("/stats/requests/csv", get(latest_csv_stats))
        .route("/stats/failures/csv", get(latest_csv_failures))
        .route("/stats/requests_full_history/csv", get(latest_csv_history))
        .route("/runs/{id}/{file}", get(download))
        .route("/report.html", get(report_html))
        .with_state(app)
}

fn refusal(r: Refused) -> Response {
    (
        r.status,
        Json(json!({"success": false, "message": r.message})),
    )
        .into_response()
}

fn json_text(text: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json"), no_store()],
        text,
    )
        .into_response()
}

fn no_store() -> (header::HeaderName, &'static str) {
    (header::CACHE_CONTROL, "no-store")
}

async fn page(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            no_store(),
        ],
        super::PAGE,
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
             form-action 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn state(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    json_text(app.hub.state_json())
}

async fn run(State(app): State<App>, headers: HeaderMap, Path(id): Path<u32>) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    match app.hub.run_json(id) {
        Some(text) => json_text(text),
        None => not_found(format!("no run {id} on this page")),
    }
}

fn not_found(message: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"success": false, "message": message})),
    )
        .into_response()
}

/// The feed: the whole state first, then each event as it comes; a page that fell behind gets
/// the whole state again.
async fn events(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    let rx = app.hub.subscribe();
    let first = super::hub::event("state", &app.hub.state_json());
    let stream = feed(app.hub.clone(), rx, first, app.shutdown.clone());
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn feed(
    hub: Arc<Hub>,
    rx: tokio::sync::broadcast::Receiver<Arc<str>>,
    first: Arc<str>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (Some(first), rx, hub, shutdown),
        |(pending, mut rx, hub, shutdown)| async move {
            let ev = match pending {
                Some(ev) => ev,
                None => tokio::select! {
                    () = shutdown.cancelled() => return None,
                    got = rx.recv() => match got {
                        Ok(ev) => ev,
                        Err(RecvError::Lagged(_)) => super::hub::event("state", &hub.state_json()),
                        Err(RecvError::Closed) => return None,
                    },
                },
            };
            let (name, data) = ev.split_once('\n').unwrap_or(("message", &ev));
            let out = Event::default().event(name).data(data);
            Some((Ok(out), (None, rx, hub, shutdown)))
        },
    )
}

fn reply(result: Result<String, ControlError>, host: Option<String>) -> Response {
    match result {
        Ok(message) => {
            Json(json!({"success": true, "message": message, "host": host})).into_response()
        }
        Err(e) => {
            let status = match e {
                ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
                ControlError::Conflict(_) => StatusCode::CONFLICT,
            };
            (
                status,
                Json(json!({"success": false, "message": e.to_string(), "host": host})),
            )
                .into_response()
        }
    }
}

/// Locust's `POST /swarm`, as a form (Locust's page and scripts) or as JSON.
async fn swarm(State(app): State<App>, req: Request) -> Response {
    if let Err(r) = app.guard.change(req.headers()) {
        return refusal(r);
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let form = if is_json {
        Json::<SwarmForm>::from_request(req, &())
            .await
            .map(|Json(f)| f)
            .map_err(|e| e.body_text())
    } else {
        Form::<SwarmForm>::from_request(req, &())
            .await
            .map(|Form(f)| f)
            .map_err(|e| e.body_text())
    };
    let form = match form {
        Ok(form) => form,
        Err(e) => return reply(Err(ControlError::Invalid(e)), None),
    };
    let host = SwarmForm::field(&form.host).map(String::from);
    reply(app.hub.swarm(form).await, host)
}

/// Locust's `/stop` (GET as Locust has it, POST from the page); the same guard as a swarm.
async fn stop(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.guard.change(&headers) {
        return refusal(r);
    }
    reply(app.hub.stop().map(String::from), None)
}

/// Locust's `/stats/requests`: the running (else latest) run's table as Locust's JSON.
async fn stats_requests(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    let Some(head) = app.hub.current_head() else {
        return Json(
            json!({"stats": [], "errors": [], "total_rps": 0.0, "fail_ratio": 0.0,
            "state": "ready", "user_count": 0}),
        )
        .into_response();
    };
    let stats: Vec<_> = head.rows.iter().map(locust_row).collect();
    let total = head.rows.last();
    let fail_ratio = total.map_or(0.0, |t| iris_record::failure_ratio(t.failures, t.requests));
    let errors: Vec<_> = head
        .failures
        .iter()
        .map(|f| {
            json!({"method": f.method, "name": f.name, "error": f.error,
            "occurrences": f.count})
        })
        .collect();
    let state = match head.status {
        super::run::Status::Starting => "spawning",
        super::run::Status::Running if head.users < head.target_users => "spawning",
        super::run::Status::Running => "running",
        super::run::Status::Stopping => "stopping",
        super::run::Status::Finished | super::run::Status::Failed => "stopped",
    };
    Json(json!({
        "stats": stats,
        "errors": errors,
        "total_rps": total.map_or(0.0, |t| t.current_rps),
        "fail_ratio": fail_ratio,
        "state": state,
        "user_count": head.users,
    }))
    .into_response()
}

fn locust_row(r: &Row) -> serde_json::Value {
    json!({
        "method": r.method, "name": r.name, "num_requests": r.requests,
        "num_failures": r.failures, "avg_response_time": r.avg,
        "min_response_time": r.min, "max_response_time": r.max,
        "current_rps": r.current_rps, "current_fail_per_sec": r.current_fps,
        "median_response_time": r.median, "ninetieth_response_time": r.p95,
        "ninety_ninth_response_time": r.p99, "avg_content_length": r.avg_size,
    })
}

/// A run's file: `stats.csv`, `stats_history.csv`, `failures.csv`, `exceptions.csv` (Locust's
/// four, from the record by the CSV writer `load --csv` uses) or `record.json`.
async fn download(
    State(app): State<App>,
    headers: HeaderMap,
    Path((id, file)): Path<(u32, String)>,
) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    let Some(record) = app.hub.record(id) else {
        return not_found(format!(
            "run {id} has no record yet: files are there once it has stopped"
        ));
    };
    file_of(id, &record, &file)
}

fn file_of(id: u32, record: &RunRecord, file: &str) -> Response {
    let csv_index = match file {
        "stats.csv" => Some(0),
        "stats_history.csv" => Some(1),
        "failures.csv" => Some(2),
        "exceptions.csv" => Some(3),
        _ => None,
    };
    let (body, kind) = match (csv_index, file) {
        (Some(i), _) => match csv::render(record) {
            Ok(files) => (files[i].clone(), "text/csv; charset=utf-8"),
            Err(e) => return server_error(e.to_string()),
        },
        (None, "record.json") => match serde_json::to_string_pretty(record) {
            Ok(text) => (text, "application/json"),
            Err(e) => return server_error(e.to_string()),
        },
        _ => {
            return not_found(format!(
                "no file {file:?}: stats.csv, stats_history.csv, failures.csv, exceptions.csv \
                 or record.json"
            ));
        }
    };
    let disposition = format!("attachment; filename=\"run{id}_{file}\"");
    let mut res = ([(header::CONTENT_TYPE, kind), no_store()], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn server_error(message: String) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"success": false, "message": message})),
    )
        .into_response()
}

async fn latest(app: &App, headers: &HeaderMap, file: &str) -> Response {
    if let Err(r) = app.guard.read(headers) {
        return refusal(r);
    }
    match app.hub.latest_record() {
        Some((id, record)) => file_of(id, &record, file),
        None => not_found("no run has stopped yet: its files are there once it has".into()),
    }
}

async fn latest_csv_stats(State(app): State<App>, headers: HeaderMap) -> Response {
    latest(&app, &headers, "stats.csv").await
}

async fn latest_csv_failures(State(app): State<App>, headers: HeaderMap) -> Response {
    latest(&app, &headers, "failures.csv").await
}

async fn latest_csv_history(State(app): State<App>, headers: HeaderMap) -> Response {
    latest(&app, &headers, "stats_history.csv").await
}

/// `report --format html` of the runs of this page that have a record, oldest first.
async fn report_html(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.guard.read(&headers) {
        return refusal(r);
    }
    let records = app.hub.records();
    if records.is_empty() {
        return not_found("no run has stopped yet: the report needs a record".into());
    }
    let views = records
        .iter()
        .enumerate()
        .map(|(i, r)| report::from_record::run_view(r, &format!("run {}", i + 1)))
        .collect();
    let model = report::build(views, &report::ReportOptions::default());
    match report::html::render(&model, report::html::HTML_TEMPLATE, "report.html") {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                no_store(),
            ],
            html,
        )
            .into_response(),
        Err(e) => server_error(e.to_string()),
    }
}
