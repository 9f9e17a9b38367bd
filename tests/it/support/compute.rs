//! A wire-level fake of the Compute Engine API v1 `firewalls.list`
//! (`GET /compute/v1/projects/P/global/firewalls`): bearer tokens, `maxResults` and
//! `pageToken` (pages of at most 2 rules, to make clients follow tokens), Google's JSON error
//! `Status` bodies (401, 403 PERMISSION_DENIED, 404). Rules are the API's own JSON.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

pub const PROJECT: &str = "iris-proj";
pub const TOKEN: &str = "ya29.fake-compute-token";
const PAGE: usize = 2;

/// (project, query, authorization) of one request.
pub type Request = (String, HashMap<String, String>, Option<String>);

#[derive(Default)]
pub struct ComputeState {
    pub rules: Mutex<Vec<Value>>,
    /// Answer 403 PERMISSION_DENIED to every list.
    pub deny: Mutex<bool>,
    /// (project, query, authorization) of each request.
    pub requests: Mutex<Vec<Request>>,
}

pub struct FakeCompute {
    pub url: String,
    pub state: Arc<ComputeState>,
}

impl FakeCompute {
    pub fn start() -> FakeCompute {
        let state = Arc::new(ComputeState::default());
        let app = Router::new()
            .route("/compute/v1/projects/{project}/global/firewalls", get(list))
            .with_state(state.clone());
        FakeCompute {
            url: super::spawn_router(app),
            state,
        }
    }

    pub fn add_rule(&self, rule: Value) {
        self.state.rules.lock().unwrap().push(rule);
    }

    pub fn deny(&self) {
        *self.state.deny.lock().unwrap() = true;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }
}

/// A rule as GKE creates it for a LoadBalancer Service.
pub fn rule(
    name: &str,
    priority: i64,
    allow: Option<&str>,
    deny: Option<&str>,
    from: &str,
) -> Value {
    let mut r = json!({
        "kind": "compute#firewall", "id": format!("{}", name.len() * 7919), "name": name,
        "creationTimestamp": "2026-11-01T10:00:00.000-07:00",
        "network": format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/default"),
        "priority": priority, "sourceRanges": [from], "targetTags": ["gke-iris-cluster-node"],
        "direction": "INGRESS", "logConfig": {"enable": false}, "disabled": false,
        "selfLink": format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/firewalls/{name}")
    });
    if let Some(p) = allow {
        r["allowed"] = json!([{"IPProtocol": "tcp", "ports": [p]}]);
    }
    if let Some(p) = deny {
        r["denied"] = json!([{"IPProtocol": "tcp", "ports": [p]}]);
    }
    r
}

fn google_error(code: u16, status: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        axum::Json(
            json!({"error": {"code": code, "message": message, "status": status,
            "errors": [{"message": message, "domain": "global", "reason": "forbidden"}]}}),
        ),
    )
        .into_response()
}

async fn list(
    State(state): State<Arc<ComputeState>>,
    UrlPath(project): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    state
        .requests
        .lock()
        .unwrap()
        .push((project.clone(), query.clone(), auth.clone()));
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if *state.deny.lock().unwrap() {
        return google_error(
            403,
            "PERMISSION_DENIED",
            &format!("Required 'compute.firewalls.list' permission for 'projects/{project}'"),
        );
    }
    if project != PROJECT {
        return google_error(
            404,
            "NOT_FOUND",
            &format!("The resource 'projects/{project}' was not found"),
        );
    }
    let rules = state.rules.lock().unwrap().clone();
    let size = query
        .get("maxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(500)
        .clamp(1, PAGE);
    let offset = query
        .get("pageToken")
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (offset + size).min(rules.len());
    let mut body = json!({
        "kind": "compute#firewallList",
        "id": format!("projects/{project}/global/firewalls"),
        "items": rules.get(offset..end).unwrap_or(&[]),
        "selfLink": format!("https://www.googleapis.com/compute/v1/projects/{project}/global/firewalls")
    });
    if end < rules.len() {
        body["nextPageToken"] = json!(format!("page-{end}"));
    }
    axum::Json(body).into_response()
}
