//! The simulated cluster's Kubernetes API over HTTP: discovery (`/version`, `/api`, `/apis`
//! and each group's resources, the legacy form), get/list/watch of every object with label and
//! field selectors and resourceVersions, the Deployment's scale subresource (get, patch,
//! put), pod deletion, metrics.k8s.io, and `Status` bodies for errors. kubectl's Table form of
//! a list is in [`super::table`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::discovery;
use super::select::selected;
use super::table;
use super::world::{self, DEPLOYMENTS, PODS, World};

/// The longest a watch stays open unless the client asks for less.
const WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// `pods`, `apps/deployments`...
    pub key: String,
    /// `None`: every namespace (or a cluster-scoped resource).
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    pub group_version: String,
}

/// `/api/v1/namespaces/NS/pods/NAME/SUB`, `/apis/G/V/...`, `/api/v1/pods` (all namespaces),
/// `/api/v1/nodes/NAME` (cluster-scoped).
pub fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, gv, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (*g, format!("{g}/{v}"), rest),
        _ => return None,
    };
    let key = |resource: &str| {
        if group.is_empty() {
            resource.to_string()
        } else {
            format!("{group}/{resource}")
        }
    };
    let target = |resource: &str, namespace: Option<&str>, tail: &[&str]| Target {
        key: key(resource),
        namespace: namespace.map(str::to_string),
        name: tail.first().map(|s| s.to_string()),
        sub: tail.get(1).map(|s| s.to_string()),
        group_version: gv.clone(),
    };
    match rest {
        ["namespaces", ns, resource, tail @ ..] => Some(target(resource, Some(ns), tail)),
        [resource, tail @ ..] if !resource.is_empty() => Some(target(resource, None, tail)),
        _ => None,
    }
}

pub fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://x{uri}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The API server's router.
pub fn router(world: Arc<World>) -> axum::Router {
    axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let world = world.clone();
            async move { handle(world, method, uri, headers, body) }
        },
    )
}

fn not_found(what: &str, name: &str) -> Response {
    status(404, "NotFound", format!("{what} \"{name}\" not found"))
}

/// `pods`, `deployments.apps`: how the API names a resource in messages.
fn resource_name(key: &str) -> String {
    match key.split_once('/') {
        Some((group, resource)) => format!("{resource}.{group}"),
        None => key.to_string(),
    }
}

fn metrics_unavailable() -> Response {
    status(
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request".into(),
    )
}

fn handle(
    world: Arc<World>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let no_metrics = world.settings.faults.no_metrics;
    if no_metrics && path.starts_with("/apis/metrics.k8s.io") {
        return metrics_unavailable();
    }
    if method == Method::GET
        && let Some(doc) = discovery::document(path)
    {
        return json_response(StatusCode::OK, &doc);
    }
    let Some(t) = parse_path(path) else {
        return status(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
    };
    if !discovery::serves(&t.key) {
        return status(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
    }
    let q = query_map(&uri);
    let wants_table = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let watching = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    match (&method, &t.name, t.sub.as_deref()) {
        (&Method::GET, None, _) if watching => watch(&world, &t, q, wants_table),
        (&Method::GET, None, _) => list(&world, &t, &q, wants_table),
        (&Method::GET, Some(name), Some("scale")) if t.key == DEPLOYMENTS => {
            let ns = t.namespace.as_deref().unwrap_or("default");
            match world.store.get(DEPLOYMENTS, ns, name) {
                Some(d) => json_response(StatusCode::OK, &scale_of(&world, &d)),
                None => not_found("deployments.apps", name),
            }
        }
        (&Method::GET, Some(name), Some(sub)) if t.key == PODS && sub == "log" => {
            pod_log(&world, name)
        }
        (&Method::GET, Some(name), None) => get(&world, &t, name, wants_table),
        (&Method::PATCH | &Method::PUT, Some(name), Some("scale")) if t.key == DEPLOYMENTS => {
            set_scale(&world, &t, name, &method, &content_type, &body)
        }
        (&Method::DELETE, Some(name), None) if t.key == PODS => {
            let ns = t.namespace.as_deref().unwrap_or("default");
            match world.store.get(PODS, ns, name) {
                Some(pod) => {
                    world::delete_pod(&world, name);
                    let pod = world.store.get(PODS, ns, name).unwrap_or(pod);
                    json_response(StatusCode::OK, &pod)
                }
                None => not_found("pods", name),
            }
        }
        _ => status(
            405,
            "MethodNotAllowed",
            format!(
                "{method} is not supported on {} by the simulated cluster (it serves get, list, watch, the Deployment's scale and pod deletion)",
                resource_name(&t.key)
            ),
        ),
    }
}

fn get(world: &World, t: &Target, name: &str, wants_table: bool) -> Response {
    let ns = t.namespace.as_deref().unwrap_or("default");
    let scoped_ns = if discovery::namespaced(&t.key) {
        ns
    } else {
        ""
    };
    match world.store.get(&t.key, scoped_ns, name) {
        Some(object) if wants_table => {
            json_response(StatusCode::OK, &table::table(&t.key, &[object], None))
        }
        Some(object) => json_response(StatusCode::OK, &object),
        None => not_found(&resource_name(&t.key), name),
    }
}

fn list(world: &World, t: &Target, q: &BTreeMap<String, String>, wants_table: bool) -> Response {
    let ns = if discovery::namespaced(&t.key) {
        t.namespace.as_deref()
    } else {
        Some("")
    };
    let (items, rv) = world.store.list(&t.key, ns, |o| selected(o, q));
    if wants_table {
        return json_response(StatusCode::OK, &table::table(&t.key, &items, Some(rv)));
    }
    let kind =
        discovery::kind_of(&t.key).map_or_else(|| "List".to_string(), |k| format!("{k}List"));
    json_response(
        StatusCode::OK,
        &json!({
            "kind": kind, "apiVersion": t.group_version,
            "metadata": {"resourceVersion": rv.to_string()}, "items": items
        }),
    )
}

/// The scale subresource of a Deployment (autoscaling/v1 Scale).
fn scale_of(world: &World, deployment: &Value) -> Value {
    let m = &deployment["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "resourceVersion": m["resourceVersion"],
                     "uid": m["uid"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {"replicas": deployment["status"]["replicas"].as_i64().unwrap_or(0),
                   "selector": world.names.selector}
    })
}

fn set_scale(
    world: &World,
    t: &Target,
    name: &str,
    method: &Method,
    content_type: &str,
    body: &[u8],
) -> Response {
    let ns = t.namespace.as_deref().unwrap_or("default");
    let Some(mut deployment) = world.store.get(DEPLOYMENTS, ns, name) else {
        return not_found("deployments.apps", name);
    };
    let patchable = content_type.starts_with("application/merge-patch+json")
        || content_type.starts_with("application/strategic-merge-patch+json");
    if method == Method::PATCH && !patchable {
        return status(
            415,
            "UnsupportedMediaType",
            format!("the simulated cluster takes merge patches of the scale, not {content_type:?}"),
        );
    }
    let Ok(change) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the body is not JSON".into());
    };
    let Some(replicas) = change["spec"]["replicas"].as_i64() else {
        return status(
            422,
            "Invalid",
            format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Required value"),
        );
    };
    if replicas < 0 {
        return status(
            422,
            "Invalid",
            format!(
                "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            ),
        );
    }
    deployment["spec"]["replicas"] = json!(replicas);
    let stored = world.store.put(deployment);
    json_response(StatusCode::OK, &scale_of(world, &stored))
}

/// `kubectl logs`: what the simulated container says about itself.
fn pod_log(world: &World, name: &str) -> Response {
    let Some(pod) = world.store.get(PODS, "default", name) else {
        return not_found("pods", name);
    };
    let text = match pod["status"]["containerStatuses"][0]["state"]["running"].is_object() {
        true => format!(
            "simulated container of iris-lab sim: the reference API behind a CPU budget of {} requests/s\n",
            world.settings.pod_max_rps()
        ),
        false => String::new(),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text))
        .unwrap_or_default()
}

/// One open watch.
struct Watch {
    store: super::store::Store,
    rx: tokio::sync::watch::Receiver<u64>,
    key: String,
    namespace: Option<String>,
    query: BTreeMap<String, String>,
    cursor: u64,
    deadline: Instant,
    pending: VecDeque<String>,
    ended: bool,
    table: bool,
}

fn watch(world: &World, t: &Target, q: BTreeMap<String, String>, table: bool) -> Response {
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map_or(WATCH_TIMEOUT, Duration::from_secs);
    let namespace = if discovery::namespaced(&t.key) {
        t.namespace.clone()
    } else {
        Some(String::new())
    };
    let rx = world.store.subscribe();
    let mut pending = VecDeque::new();
    let cursor = if from == 0 {
        let (items, rv) = world
            .store
            .list(&t.key, namespace.as_deref(), |o| selected(o, &q));
        for o in items {
            pending.push_back(line("ADDED", &o, &t.key, table));
        }
        rv
    } else {
        from
    };
    let w = Watch {
        store: world.store.clone(),
        rx,
        key: t.key.clone(),
        namespace,
        query: q,
        cursor,
        deadline: Instant::now() + timeout,
        pending,
        ended: false,
        table,
    };
    let stream = futures::stream::unfold(w, Watch::next);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

fn line(kind: &str, object: &Value, key: &str, table: bool) -> String {
    let object = if table {
        table::table(key, std::slice::from_ref(object), None)
    } else {
        object.clone()
    };
    json!({"type": kind, "object": object}).to_string() + "\n"
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        loop {
            if let Some(l) = self.pending.pop_front() {
                return Some((Ok(Bytes::from(l)), self));
            }
            if self.ended {
                return None;
            }
            match self.store.changes_since(self.cursor) {
                None => {
                    self.ended = true;
                    let gone = json!({"type": "ERROR", "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": format!("too old resource version: {}", self.cursor),
                        "reason": "Expired", "code": 410}});
                    self.pending.push_back(gone.to_string() + "\n");
                    continue;
                }
                Some(changes) => {
                    for c in changes {
                        self.cursor = c.rv;
                        let ns_ok = self.namespace.as_deref().is_none_or(|ns| ns == c.namespace);
                        if c.key == self.key && ns_ok && selected(&c.object, &self.query) {
                            let l = line(c.kind.as_str(), &c.object, &self.key, self.table);
                            self.pending.push_back(l);
                        }
                    }
                }
            }
            if self.pending.is_empty() {
                let wait = tokio::time::timeout_at(self.deadline, self.rx.changed()).await;
                match wait {
                    Ok(Ok(())) => {}
                    // The deadline, or the cluster stopped: end the stream in order.
                    _ => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resource_namespace_and_subresource() {
        let t = parse_path("/apis/apps/v1/namespaces/default/deployments/iris/scale").unwrap();
        assert_eq!(
            (
                t.key.as_str(),
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.sub.as_deref()
            ),
            (
                "apps/deployments",
                Some("default"),
                Some("iris"),
                Some("scale")
            )
        );
        let t = parse_path("/api/v1/pods").unwrap();
        assert_eq!((t.key.as_str(), t.namespace), ("pods", None));
        let t = parse_path("/api/v1/nodes/n1").unwrap();
        assert_eq!((t.key.as_str(), t.name.as_deref()), ("nodes", Some("n1")));
        let t = parse_path("/api/v1/namespaces/default").unwrap();
        assert_eq!(
            (t.key.as_str(), t.name.as_deref()),
            ("namespaces", Some("default"))
        );
        assert!(parse_path("/healthz").is_none());
    }
}
