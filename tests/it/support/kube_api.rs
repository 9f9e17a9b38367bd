//! A Kubernetes API server for tests: axum on 127.0.0.1:0, speaking the real REST wire format
//! (objects serialized from k8s-openapi types, lists with resourceVersion, label and field
//! selectors, newline-delimited watch streams held open, the Deployment scale subresource,
//! metrics.k8s.io, `Status` bodies for errors). Tests script it over time from their own thread:
//! [`KubeApi::put`], [`KubeApi::delete`], [`KubeApi::after`], and inject faults with
//! [`KubeApi::deny`], [`KubeApi::require_token`], [`KubeApi::fail`], [`KubeApi::drop_watches`].

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

#[path = "kube_jobs.rs"]
mod jobs;
#[path = "kube_logs.rs"]
mod logs;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone)]
struct Change {
    rv: u64,
    key: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct State {
    rv: u64,
    /// (resource key, namespace, name) -> object. Keys: `pods`, `apps/deployments`, ...
    objects: BTreeMap<(String, String, String), Value>,
    history: Vec<Change>,
    denied: Vec<(String, String)>,
    failing: BTreeMap<String, u16>,
    /// (verb, key, code): only that verb fails.
    failing_verbs: Vec<(String, String, u16)>,
    token: Option<String>,
    requests: Vec<Recorded>,
    /// Bumped by `drop_watches`: open watch streams end with an error.
    drops: u64,
    /// Bumped by `close_watches`: open watch streams end in order (a clean end of body).
    closes: u64,
    /// Pods' logs, written by the kubelet of `jobs`.
    logs: BTreeMap<String, jobs::PodLog>,
    /// Pods' logs scripted by tests, with times (`KubeApi::log`).
    scripted_logs: logs::Scripted,
    /// Bumped, and `changed` notified, on every request and every change of an object: what
    /// [`KubeApi::wait_until`] waits on.
    changes: u64,
    changed: Arc<Condvar>,
    /// Watch streams that have sent their response head and wait for changes: a watch a test
    /// can drop as a broken stream (before that, the client would see a failed request).
    streaming: u64,
}

impl State {
    fn touch(&mut self) {
        self.changes += 1;
        self.changed.notify_all();
    }
}

/// The test API server. Cloning shares the same server.
#[derive(Clone)]
pub struct KubeApi {
    state: Arc<Mutex<State>>,
    pub url: String,
}

/// The resource key and namespaced path segment of an object, from its apiVersion and kind.
fn key_of(api_version: &str, kind: &str) -> String {
    let plural = match kind {
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers".to_string(),
        "PodMetrics" => "pods".to_string(),
        other => format!("{}s", other.to_ascii_lowercase()),
    };
    match api_version.rsplit_once('/') {
        Some((group, _)) => format!("{group}/{plural}"),
        None => plural,
    }
}

impl KubeApi {
    /// Starts the server on its own thread and runtime; it lives as long as the test process.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            rv: 100,
            ..Default::default()
        }));
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let state = shared.clone();
                        async move { handle(state, method, uri, headers, body) }
                    },
                );
                // Linger 0: a connection the server drops is reset (RST), as when an API server
                // or a load balancer in front of it goes away, not closed in order.
                #[allow(deprecated)]
                let listener = axum::serve::ListenerExt::tap_io(
                    listener,
                    |tcp: &mut tokio::net::TcpStream| {
                        let _ = tcp.set_linger(Some(Duration::ZERO));
                    },
                );
                axum::serve(listener, app).await.expect("serve");
            });
        });
        let addr = rx.recv().expect("server address");
        KubeApi {
            state,
            url: format!("http://{addr}"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces an object (any k8s-openapi type, or JSON with apiVersion and kind),
    /// as a watch sees it: ADDED or MODIFIED with a new resourceVersion.
    pub fn put(&self, object: impl serde::Serialize) {
        let mut object = serde_json::to_value(object).expect("object to JSON");
        let key = key_of(
            object["apiVersion"].as_str().expect("apiVersion"),
            object["kind"].as_str().expect("kind"),
        );
        let ns = if cluster_scoped(&key) {
            String::new()
        } else {
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        };
        let name = object["metadata"]["name"]
            .as_str()
            .expect("metadata.name")
            .to_string();
        if !ns.is_empty() {
            object["metadata"]["namespace"] = json!(ns);
        }
        let mut s = self.lock();
        s.rv += 1;
        let rv = s.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(format!("uid-{name}"));
        }
        let id = (key.clone(), ns.clone(), name);
        let kind = if s.objects.contains_key(&id) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        s.objects.insert(id, object.clone());
        s.touch();
        s.history.push(Change {
            rv,
            key,
            namespace: ns,
            kind,
            object,
        });
    }

    /// Changes a stored object in place (`key` as in `pods`, `apps/deployments`).
    pub fn update(&self, key: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let mut object = self
            .get(key, name)
            .unwrap_or_else(|| panic!("no {key} {name}"));
        change(&mut object);
        self.put(object);
    }

    pub fn get(&self, key: &str, name: &str) -> Option<Value> {
        let ns = if cluster_scoped(key) { "" } else { "default" };
        self.lock()
            .objects
            .get(&(key.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    /// The stored objects of `key` in `default`, by name.
    pub fn list(&self, key: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|((k, ns, _), _)| k == key && ns == "default")
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Waits (bounded) until `n` watch requests whose URI contains `needle` have arrived.
    pub fn wait_for_watches(&self, needle: &str, n: usize, limit: Duration) -> bool {
        self.wait_until(limit, |api| api.watch_count(needle) >= n)
    }

    /// Waits until `ready` holds, checking it again after every request and every change of an
    /// object (no polling); false when `limit` passes first.
    pub fn wait_until(&self, limit: Duration, ready: impl Fn(&KubeApi) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            let seen = self.lock().changes;
            if ready(self) {
                return true;
            }
            let mut s = self.lock();
            while s.changes == seen {
                let Some(left) = end.checked_duration_since(Instant::now()) else {
                    return false;
                };
                let changed = s.changed.clone();
                s = changed
                    .wait_timeout(s, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }

    /// Waits until `n` pods are Ready (the test controller brings them up).
    pub fn wait_for_ready_pods(&self, n: usize, limit: Duration) -> bool {
        self.wait_until(limit, |api| {
            api.list("pods")
                .iter()
                .filter(|p| {
                    p["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
                })
                .count()
                >= n
        })
    }

    pub fn delete(&self, key: &str, name: &str) {
        let mut s = self.lock();
        let id = (key.to_string(), "default".to_string(), name.to_string());
        if let Some(mut object) = s.objects.remove(&id) {
            s.rv += 1;
            let rv = s.rv;
            object["metadata"]["resourceVersion"] = json!(rv.to_string());
            s.touch();
            s.history.push(Change {
                rv,
                key: key.into(),
                namespace: "default".into(),
                kind: "DELETED",
                object,
            });
        }
    }

    /// Answers `verb` on `key` (e.g. `list`, `pods`) with 403 Forbidden.
    pub fn deny(&self, verb: &str, key: &str) {
        self.lock().denied.push((verb.into(), key.into()));
    }

    /// Answers every request on `key` with `code` (e.g. 503 for an unavailable metrics API).
    pub fn fail(&self, key: &str, code: u16) {
        self.lock().failing.insert(key.into(), code);
    }

    /// Answers `verb` on `key` with `code` (e.g. `patch`, `apps/deployments`, 409).
    pub fn fail_on(&self, verb: &str, key: &str, code: u16) {
        self.lock()
            .failing_verbs
            .push((verb.into(), key.into(), code));
    }

    /// Requires `Authorization: Bearer TOKEN`; anything else gets 401.
    pub fn require_token(&self, token: &str) {
        self.lock().token = Some(token.into());
    }

    /// Ends every open watch stream with a broken connection (mid-stream).
    pub fn drop_watches(&self) {
        self.lock().drops += 1;
    }

    /// Ends every open watch stream cleanly, as an API server does at its watch timeout.
    pub fn close_watches(&self) {
        self.lock().closes += 1;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The bodies of PATCH requests to the Deployment scale subresource.
    pub fn scale_patches(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && r.uri.contains("/scale"))
            .collect()
    }

    /// How many watch streams have started streaming (their response head sent).
    pub fn streaming_watches(&self) -> u64 {
        self.lock().streaming
    }

    /// How many watch requests for `key` were made.
    pub fn watch_count(&self, key_path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.uri.contains(key_path) && r.uri.contains("watch=true"))
            .count()
    }
}

/// A parsed request path.
struct Target {
    key: String,
    namespace: String,
    name: Option<String>,
    sub: Option<String>,
    group_version: String,
}

/// Objects that live in no namespace (stored under the namespace "").
fn cluster_scoped(key: &str) -> bool {
    matches!(key, "nodes" | "apiregistration.k8s.io/apiservices")
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, gv, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), format!("{g}/{v}"), rest),
        _ => return None,
    };
    // Cluster-scoped objects (nodes, APIServices) are stored under the namespace "".
    let (ns, resource, tail) = match rest {
        ["namespaces", ns, resource, tail @ ..] => (*ns, *resource, tail),
        [resource, tail @ ..] if *resource != "namespaces" => ("", *resource, tail),
        _ => return None,
    };
    let key = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    };
    Some(Target {
        key,
        namespace: ns.to_string(),
        name: tail.first().map(|s| s.to_string()),
        sub: tail.get(1).map(|s| s.to_string()),
        group_version: gv,
    })
}

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

fn json_response(code: StatusCode, body: &Value) -> Response {
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

fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let hdr = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    s.requests.push(Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        authorization: hdr(header::AUTHORIZATION),
        content_type: hdr(header::CONTENT_TYPE),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    s.touch();
    if let Some(token) = &s.token
        && hdr(header::AUTHORIZATION).as_deref() != Some(&format!("Bearer {token}"))
    {
        return status(401, "Unauthorized", "Unauthorized".into());
    }
    let path = uri.path();
    if path == "/apis/metrics.k8s.io/v1beta1" {
        if s.failing.contains_key("metrics.k8s.io/pods") {
            return status(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request".into(),
            );
        }
        return json_response(
            StatusCode::OK,
            &json!({
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
                "resources": [{"name": "pods", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}]
            }),
        );
    }
    if path == jobs::SSAR_PATH && method == Method::POST {
        return jobs::review(&s, &body);
    }
    let Some(t) = parse_path(path) else {
        return status(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
    };
    let q = query_map(&uri);
    let watching = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (&method, &t.name, watching) {
        (&Method::GET, None, true) => "watch",
        (&Method::GET, None, false) => "list",
        (&Method::GET, Some(_), _) => "get",
        (&Method::PATCH, _, _) => "patch",
        _ => "other",
    };
    let resource = t.key.rsplit('/').next().unwrap_or_default().to_string();
    if s.denied.iter().any(|(v, k)| v == verb && *k == t.key) {
        let group = t.key.rsplit_once('/').map_or("", |(g, _)| g).to_string();
        return status(
            403,
            "Forbidden",
            format!(
                "{resource} is forbidden: User \"tester\" cannot {verb} resource \"{resource}\" in API group \"{group}\" in the namespace \"{}\"",
                t.namespace
            ),
        );
    }
    let code = s.failing.get(&t.key).copied().or_else(|| {
        s.failing_verbs
            .iter()
            .find(|(v, k, _)| v == verb && *k == t.key)
            .map(|(_, _, c)| *c)
    });
    if let Some(code) = code {
        let name = t.name.clone().unwrap_or_default();
        let (reason, message) = match code {
            409 => (
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                ),
            ),
            429 => (
                "TooManyRequests",
                "too many requests, please try again later".to_string(),
            ),
            500 => (
                "InternalError",
                "Internal error occurred: etcdserver: request timed out".to_string(),
            ),
            _ => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request".to_string(),
            ),
        };
        return status(code, reason, message);
    }
    if method == Method::GET && logs::scripted(&s, &t) {
        return logs::serve(&s, &t, &q);
    }
    if jobs::serves(&method, &t) {
        drop(s);
        let api = KubeApi {
            state: state.clone(),
            url: String::new(),
        };
        return jobs::route(api, &method, &t, &q, &body);
    }
    match verb {
        "list" => {
            let items: Vec<Value> = s
                .objects
                .iter()
                .filter(|((k, ns, _), o)| *k == t.key && *ns == t.namespace && selected(o, &q))
                .map(|(_, o)| o.clone())
                .collect();
            let kind = items
                .first()
                .and_then(|o| o["kind"].as_str())
                .map_or_else(|| "List".to_string(), |k| format!("{k}List"));
            json_response(
                StatusCode::OK,
                &json!({
                    "kind": kind, "apiVersion": t.group_version,
                    "metadata": {"resourceVersion": s.rv.to_string()}, "items": items
                }),
            )
        }
        "watch" => {
            let from: u64 = q
                .get("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let timeout = q
                .get("timeoutSeconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(290u64);
            let mut initial = Vec::new();
            if from == 0 {
                for ((k, ns, _), o) in &s.objects {
                    if *k == t.key && *ns == t.namespace && selected(o, &q) {
                        initial.push(json!({"type": "ADDED", "object": o}).to_string() + "\n");
                    }
                }
            }
            let cursor = if from == 0 { s.rv } else { from };
            let watch = Watch {
                state: state.clone(),
                key: t.key,
                namespace: t.namespace,
                query: q,
                cursor,
                drops: s.drops,
                closes: s.closes,
                deadline: Instant::now() + Duration::from_secs(timeout),
                pending: initial.into(),
                announced: false,
            };
            let stream = futures::stream::unfold(watch, Watch::next);
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap_or_default()
        }
        "get" => {
            let name = t.name.clone().unwrap_or_default();
            let Some(object) = s
                .objects
                .get(&(t.key.clone(), t.namespace.clone(), name.clone()))
            else {
                let what = if t.key.contains('/') {
                    t.key.replace('/', ".")
                } else {
                    t.key.clone()
                };
                return status(
                    404,
                    "NotFound",
                    format!(
                        "{} \"{name}\" not found",
                        what.split('.').next_back().unwrap_or(&what)
                    ),
                );
            };
            match t.sub.as_deref() {
                None => json_response(StatusCode::OK, object),
                Some("scale") if t.key == "apps/deployments" => {
                    json_response(StatusCode::OK, &scale_of(object))
                }
                Some(other) => status(404, "NotFound", format!("no subresource {other}")),
            }
        }
        "patch" if t.sub.as_deref() == Some("scale") && t.key == "apps/deployments" => {
            let name = t.name.clone().unwrap_or_default();
            let id = (t.key.clone(), t.namespace.clone(), name.clone());
            let Some(mut object) = s.objects.get(&id).cloned() else {
                return status(
                    404,
                    "NotFound",
                    format!("deployments.apps \"{name}\" not found"),
                );
            };
            if hdr(header::CONTENT_TYPE).as_deref() != Some("application/merge-patch+json") {
                return status(
                    415,
                    "UnsupportedMediaType",
                    "only merge patches here".into(),
                );
            }
            let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "patch is not JSON".into());
            };
            let Some(replicas) = patch["spec"]["replicas"].as_i64() else {
                return status(422, "Invalid", "spec.replicas: Required value".into());
            };
            object["spec"]["replicas"] = json!(replicas);
            drop(s);
            let api = KubeApi {
                state: state.clone(),
                url: String::new(),
            };
            api.put(object.clone());
            let object = api.get("apps/deployments", &name).unwrap_or(object);
            json_response(StatusCode::OK, &scale_of(&object))
        }
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ),
    }
}

fn scale_of(deployment: &Value) -> Value {
    let m = &deployment["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "resourceVersion": m["resourceVersion"]},
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {"replicas": deployment["status"]["replicas"].as_i64().unwrap_or(0), "selector": "app=iris-prediction-api"}
    })
}

/// Whether an object matches the request's labelSelector and fieldSelector.
fn selected(object: &Value, q: &BTreeMap<String, String>) -> bool {
    let labels = &object["metadata"]["labels"];
    let label_ok = q
        .get("labelSelector")
        .is_none_or(|sel| split_terms(sel).iter().all(|term| label_term(labels, term)));
    let field_ok = q.get("fieldSelector").is_none_or(|sel| {
        sel.split(',').filter(|t| !t.is_empty()).all(|term| {
            let (path, want, negate) = if let Some((p, v)) = term.split_once("!=") {
                (p, v, true)
            } else if let Some((p, v)) = term.split_once("==") {
                (p, v, false)
            } else if let Some((p, v)) = term.split_once('=') {
                (p, v, false)
            } else {
                return false;
            };
            let mut v = object;
            for part in path.split('.') {
                v = &v[part];
            }
            (v.as_str().unwrap_or("") == want) != negate
        })
    });
    label_ok && field_ok
}

/// Splits on commas outside parentheses: `a=b,c in (x,y)`.
fn split_terms(sel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for ch in sel.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn label_term(labels: &Value, term: &str) -> bool {
    let get = |k: &str| labels[k.trim()].as_str().map(str::to_string);
    if let Some((k, v)) = term.split_once("!=") {
        return get(k).as_deref() != Some(v.trim());
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return get(k).as_deref() == Some(v.trim());
    }
    for (op, negate) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = term.split_once(op) {
            let values: Vec<&str> = set
                .trim()
                .trim_matches(|c| c == '(' || c == ')')
                .split(',')
                .map(str::trim)
                .collect();
            let hit = get(k).is_some_and(|v| values.contains(&v.as_str()));
            return hit != negate;
        }
    }
    match term.strip_prefix('!') {
        Some(k) => get(k).is_none(),
        None => get(term).is_some(),
    }
}

/// One open watch stream.
struct Watch {
    state: Arc<Mutex<State>>,
    key: String,
    namespace: String,
    query: BTreeMap<String, String>,
    cursor: u64,
    drops: u64,
    closes: u64,
    deadline: Instant,
    pending: std::collections::VecDeque<String>,
    /// Counted in `State::streaming` (on its first wait for changes).
    announced: bool,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some((Ok(Bytes::from(line)), self));
            }
            {
                let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.closes != self.closes {
                    return None;
                }
                if s.drops != self.drops {
                    // An error in the body makes hyper abort the connection mid-stream.
                    return Some((
                        Err(std::io::Error::other("connection dropped by test")),
                        Watch {
                            drops: s.drops,
                            deadline: Instant::now(),
                            ..self.clone_empty()
                        },
                    ));
                }
                let cursor = self.cursor;
                for c in s.history.iter().filter(|c| c.rv > cursor) {
                    self.cursor = c.rv;
                    if c.key == self.key
                        && c.namespace == self.namespace
                        && selected(&c.object, &self.query)
                    {
                        self.pending.push_back(
                            json!({"type": c.kind, "object": c.object}).to_string() + "\n",
                        );
                    }
                }
            }
            if self.pending.is_empty() {
                if Instant::now() >= self.deadline {
                    return None;
                }
                if !self.announced {
                    // Nothing to send: hyper flushes the response head while this waits.
                    self.announced = true;
                    let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    s.streaming += 1;
                    s.touch();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn clone_empty(&self) -> Self {
        Watch {
            state: self.state.clone(),
            key: self.key.clone(),
            namespace: self.namespace.clone(),
            query: self.query.clone(),
            cursor: self.cursor,
            drops: self.drops,
            closes: self.closes,
            deadline: self.deadline,
            pending: Default::default(),
            announced: true,
        }
    }
}
