//! A wire-level fake of Google Cloud Trace API v1 (`GET /v1/projects/P/traces`: page tokens,
//! the time window, `root:` filters, Google's JSON error `Status` bodies, `Retry-After`) and of
//! Google's OAuth token endpoint (`POST /token`: checks the RS256-signed JWT assertion of a
//! service-account key generated here), both on one 127.0.0.1:0 server.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const PROJECT: &str = "iris-proj";
pub const SA_EMAIL: &str = "load-tester@iris-proj.iam.gserviceaccount.com";
/// The token the fake token endpoint hands out for a valid assertion.
pub const SA_TOKEN: &str = "ya29.fake-service-account-token";
pub const TRACE_SCOPE: &str = "https://www.googleapis.com/auth/trace.readonly";

/// A canned answer served before the real ones.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub retry_after: Option<&'static str>,
    pub body: Value,
}

impl Canned {
    /// Google's JSON error envelope.
    pub fn status(
        code: u16,
        status: &str,
        message: &str,
        retry_after: Option<&'static str>,
    ) -> Self {
        Canned {
            status: code,
            retry_after,
            body: json!({"error": {"code": code, "message": message, "status": status}}),
        }
    }
}

/// One list request as the fake saw it.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub project: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    pub at: std::time::Instant,
}

#[derive(Default)]
pub struct FakeState {
    /// Wire-format traces (`traceId`, `spans`), in the order pages serve them.
    pub traces: Mutex<Vec<Value>>,
    /// Served, in order, before any real answer.
    pub canned: Mutex<VecDeque<Canned>>,
    /// Bearer tokens the list endpoint accepts.
    pub accepted_tokens: Mutex<Vec<String>>,
    /// The page size the fake uses at most (smaller than the client's to force paging).
    pub max_page: Mutex<usize>,
    pub lists: Mutex<Vec<ListRequest>>,
    /// Checked assertions: (iss, scope, aud).
    pub assertions: Mutex<Vec<(String, String, String)>>,
    /// Why an assertion was rejected.
    pub rejected: Mutex<Vec<String>>,
    /// The public key (PKCS#1 DER) of the generated service-account key.
    pub public_key: Mutex<Vec<u8>>,
}

pub struct FakeCloudTrace {
    pub url: reqwest::Url,
    pub state: Arc<FakeState>,
}

impl FakeCloudTrace {
    pub async fn start() -> FakeCloudTrace {
        let state = Arc::new(FakeState::default());
        *state.max_page.lock().unwrap() = 1000;
        let app = Router::new()
            .route("/v1/projects/{project}/traces", get(list))
            .route("/token", post(token))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeCloudTrace {
            url: format!("http://{addr}").parse().unwrap(),
            state,
        }
    }

    pub fn accept_token(&self, token: &str) {
        self.state
            .accepted_tokens
            .lock()
            .unwrap()
            .push(token.into());
    }

    pub fn add_traces(&self, traces: impl IntoIterator<Item = Value>) {
        self.state.traces.lock().unwrap().extend(traces);
    }

    pub fn push_canned(&self, canned: Canned) {
        self.state.canned.lock().unwrap().push_back(canned);
    }

    pub fn set_max_page(&self, n: usize) {
        *self.state.max_page.lock().unwrap() = n;
    }

    pub fn lists(&self) -> Vec<ListRequest> {
        self.state.lists.lock().unwrap().clone()
    }

    /// Writes a service-account key file whose `token_uri` is this fake's token endpoint, with
    /// a fresh RSA key whose public half the fake checks assertions against.
    pub fn write_key_file(&self, path: &Path) {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().unwrap();
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        *self.state.public_key.lock().unwrap() = pair.public_key().as_ref().to_vec();
        let key = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": SA_EMAIL,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}token", self.url),
        });
        std::fs::write(path, serde_json::to_string_pretty(&key).unwrap()).unwrap();
        self.accept_token(SA_TOKEN);
    }
}

fn google_error(code: u16, status: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        Json(json!({"error": {"code": code, "message": message, "status": status}})),
    )
        .into_response()
}

async fn list(
    State(state): State<Arc<FakeState>>,
    UrlPath(project): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    state.lists.lock().unwrap().push(ListRequest {
        project: project.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
        at: std::time::Instant::now(),
    });
    let canned = state.canned.lock().unwrap().pop_front();
    if let Some(c) = canned {
        let mut r = (StatusCode::from_u16(c.status).unwrap(), Json(c.body)).into_response();
        if let Some(after) = c.retry_after {
            r.headers_mut()
                .insert("retry-after", after.parse().unwrap());
        }
        return r;
    }
    let accepted = state.accepted_tokens.lock().unwrap().clone();
    let bearer = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "));
    if !bearer.is_some_and(|b| accepted.iter().any(|t| t == b)) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if project != PROJECT {
        return google_error(404, "NOT_FOUND", &format!("Project {project} not found."));
    }
    let (Some(start), Some(end)) = (
        query
            .get("startTime")
            .and_then(|t| t.parse::<Timestamp>().ok()),
        query
            .get("endTime")
            .and_then(|t| t.parse::<Timestamp>().ok()),
    ) else {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "startTime and endTime are required",
        );
    };
    if query.get("view").map(String::as_str) != Some("COMPLETE") {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "this fake serves view=COMPLETE only",
        );
    }
    let root_filter = match query.get("filter").map(String::as_str) {
        None | Some("") => None,
        Some(f) => match f.strip_prefix("root:") {
            Some(name) => Some(name.to_string()),
            None => return google_error(400, "INVALID_ARGUMENT", "unsupported filter"),
        },
    };
    let matching: Vec<Value> = state
        .traces
        .lock()
        .unwrap()
        .iter()
        .filter(|t| in_window(t, start, end) && root_matches(t, root_filter.as_deref()))
        .cloned()
        .collect();
    let page_size = query
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, *state.max_page.lock().unwrap());
    let offset = match query.get("pageToken") {
        None => 0,
        Some(t) => match t
            .strip_prefix("offset-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return google_error(400, "INVALID_ARGUMENT", "invalid page token"),
        },
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(page_size)
        .cloned()
        .collect();
    let next = offset + page.len();
    let mut body = json!({ "traces": page });
    if next < matching.len() {
        body["nextPageToken"] = json!(format!("offset-{next}"));
    }
    Json(body).into_response()
}

fn spans(t: &Value) -> impl Iterator<Item = &Value> {
    t["spans"].as_array().into_iter().flatten()
}

fn in_window(t: &Value, start: Timestamp, end: Timestamp) -> bool {
    spans(t).any(|s| {
        s["startTime"]
            .as_str()
            .and_then(|v| v.parse::<Timestamp>().ok())
            .is_some_and(|at| at >= start && at <= end)
    })
}

/// Cloud Trace's `root:NAME`: a root span's name starts with NAME.
fn root_matches(t: &Value, prefix: Option<&str>) -> bool {
    let Some(prefix) = prefix else { return true };
    let ids: Vec<&str> = spans(t).filter_map(|s| s["spanId"].as_str()).collect();
    spans(t).any(|s| {
        let parent = s["parentSpanId"].as_str();
        parent.is_none_or(|p| !ids.contains(&p))
            && s["name"].as_str().is_some_and(|n| n.starts_with(prefix))
    })
}

async fn token(
    State(state): State<Arc<FakeState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match check_assertion(&state, &form) {
        Ok(()) => {
            Json(json!({"access_token": SA_TOKEN, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        Err(why) => {
            state.rejected.lock().unwrap().push(why.clone());
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant", "error_description": why})),
            )
                .into_response()
        }
    }
}

fn check_assertion(state: &FakeState, form: &HashMap<String, String>) -> Result<(), String> {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Err(format!("bad grant_type {:?}", form.get("grant_type")));
    }
    let jwt = form.get("assertion").ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("not a JWT".into());
    };
    let decode = |p: &str| {
        URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .map_err(|e| e.to_string())
    };
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let public_key = state.public_key.lock().unwrap().clone();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_key)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &decode(signature)?,
        )
        .map_err(|_| "bad signature".to_string())?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    let now = Timestamp::now().as_second();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if !(iat <= now + 60 && exp > now && exp - iat <= 3600) {
        return Err(format!("bad iat/exp {iat}/{exp}"));
    }
    let field = |k: &str| claims[k].as_str().unwrap_or_default().to_string();
    state
        .assertions
        .lock()
        .unwrap()
        .push((field("iss"), field("scope"), field("aud")));
    Ok(())
}

/// A wire-format span (API v1: decimal span ids, RFC 3339 times).
pub fn span(
    id: u64,
    parent: Option<u64>,
    name: &str,
    start: Timestamp,
    ms: f64,
    labels: Value,
) -> Value {
    let end = start + SignedDuration::from_secs_f64(ms / 1000.0);
    let mut s = json!({
        "spanId": id.to_string(), "kind": "RPC_SERVER", "name": name,
        "startTime": start.to_string(), "endTime": end.to_string(), "labels": labels,
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(p.to_string());
    }
    s
}

/// A `/predict` trace of the reference deployment: `prediction_request` (whose parent is the
/// client's unexported span) with `data_preparation` and `model_inference` children.
pub fn prediction_trace(
    trace_id: &str,
    start: Timestamp,
    total_ms: f64,
    prep_ms: f64,
    infer_ms: f64,
    labels: Value,
) -> Value {
    let prep_start = start + SignedDuration::from_micros(100);
    let infer_start = prep_start + SignedDuration::from_secs_f64(prep_ms / 1000.0);
    json!({
        "projectId": PROJECT,
        "traceId": trace_id,
        "spans": [
            span(1001, Some(77), "prediction_request", start, total_ms, labels),
            span(1002, Some(1001), "data_preparation", prep_start, prep_ms, json!({})),
            span(1003, Some(1001), "model_inference", infer_start, infer_ms, json!({})),
        ]
    })
}
