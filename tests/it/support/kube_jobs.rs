//! batch/v1 Jobs for the test API server, with a small kubelet: creating an Indexed Job
//! creates its pods (index annotation and label, a node each) and runs each pod's container
//! as a local `iris-lab` process with the pod's arguments, its environment and
//! `JOB_COMPLETION_INDEX`; its stdout is the pod's log, served by `pods/{name}/log` (`follow=true` streams it until the
//! process exits). Deleting the Job sends the processes SIGTERM, as a kubelet does, and
//! removes each pod when its process has exited. SelfSubjectAccessReview answers from the
//! server's `deny` list (keys as `batch/jobs`, `pods/log`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::{KubeApi, State, Target, json_response, status};

/// One pod's log as its process writes it.
#[derive(Default)]
pub(super) struct PodLog {
    text: String,
    done: bool,
    pid: Option<u32>,
}

pub(super) const SSAR_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// Whether this request is one this module serves.
pub(super) fn serves(method: &Method, t: &Target) -> bool {
    (t.key == "batch/jobs" && (*method == Method::POST || *method == Method::DELETE))
        || (t.key == "pods" && *method == Method::GET && t.sub.as_deref() == Some("log"))
}

/// SelfSubjectAccessReview: allowed unless `deny(verb, key)` named it.
pub(super) fn review(s: &State, body: &Bytes) -> Response {
    let Ok(mut review) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "not JSON".into());
    };
    let attrs = &review["spec"]["resourceAttributes"];
    let group = attrs["group"].as_str().unwrap_or("");
    let resource = attrs["resource"].as_str().unwrap_or("");
    let mut key = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    };
    if let Some(sub) = attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
        key = format!("{key}/{sub}");
    }
    let verb = attrs["verb"].as_str().unwrap_or("");
    let allowed = !s.denied.iter().any(|(v, k)| v == verb && *k == key);
    review["status"] = json!({"allowed": allowed});
    json_response(StatusCode::CREATED, &review)
}

pub(super) fn route(
    api: KubeApi,
    method: &Method,
    t: &Target,
    q: &BTreeMap<String, String>,
    body: &Bytes,
) -> Response {
    match (method, t.key.as_str()) {
        (&Method::POST, _) => create_job(api, t, body),
        (&Method::DELETE, _) => delete_job(api, t, body, q),
        _ => follow_log(api, t),
    }
}

fn create_job(api: KubeApi, t: &Target, body: &Bytes) -> Response {
    let Ok(mut job) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "not JSON".into());
    };
    let Some(name) = job["metadata"]["name"].as_str().map(str::to_string) else {
        return status(422, "Invalid", "metadata.name: Required value".into());
    };
    if api.get("batch/jobs", &name).is_some() {
        return status(
            409,
            "AlreadyExists",
            format!("jobs.batch \"{name}\" already exists"),
        );
    }
    job["metadata"]["namespace"] = json!(t.namespace);
    api.put(job.clone());
    let n = job["spec"]["completions"].as_u64().unwrap_or(1);
    for i in 0..n {
        start_pod(api.clone(), &job, &name, i);
    }
    let stored = api.get("batch/jobs", &name).unwrap_or(job);
    json_response(StatusCode::CREATED, &stored)
}

/// The pod of index `i`, Pending, then its process, Running, then its end.
fn start_pod(api: KubeApi, job: &Value, job_name: &str, i: u64) {
    let template = &job["spec"]["template"];
    let pod_name = format!("{job_name}-{i}-x{i}");
    let mut labels = template["metadata"]["labels"].clone();
    labels["job-name"] = json!(job_name);
    labels["batch.kubernetes.io/job-completion-index"] = json!(i.to_string());
    let mut spec = template["spec"].clone();
    spec["nodeName"] = json!(format!("node-{i}"));
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": job["metadata"]["namespace"], "labels": labels,
                     "annotations": {"batch.kubernetes.io/job-completion-index": i.to_string()}},
        "spec": spec,
        "status": {"phase": "Pending"}
    });
    api.put(pod.clone());
    let args: Vec<String> = pod["spec"]["containers"][0]["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // The container's environment, as a kubelet sets it (`value` only: no references).
    let env: Vec<(String, String)> = pod["spec"]["containers"][0]["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| Some((v["name"].as_str()?.into(), v["value"].as_str()?.into())))
                .collect()
        })
        .unwrap_or_default();
    std::thread::spawn(move || kubelet(api, pod_name, args, env, i));
}

fn kubelet(api: KubeApi, pod: String, args: Vec<String>, env: Vec<(String, String)>, index: u64) {
    let child = std::process::Command::new(super::super::binary())
        .args(&args)
        .envs(env)
        .env("JOB_COMPLETION_INDEX", index.to_string())
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            set_phase(
                &api,
                &pod,
                "Failed",
                json!({"waiting": {"reason": format!("{e}")}}),
            );
            return;
        }
    };
    api.lock().logs.insert(
        pod.clone(),
        PodLog {
            pid: Some(child.id()),
            ..Default::default()
        },
    );
    set_phase(
        &api,
        &pod,
        "Running",
        json!({"running": {"startedAt": super::super::now()}}),
    );
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(log) = api.lock().logs.get_mut(&pod) {
                log.text.push_str(&line);
                log.text.push('\n');
            }
        }
    }
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(137);
    if let Some(log) = api.lock().logs.get_mut(&pod) {
        log.done = true;
    }
    let (phase, reason) = if code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    set_phase(
        &api,
        &pod,
        phase,
        json!({"terminated": {"exitCode": code, "reason": reason}}),
    );
    let deleting = api
        .get("pods", &pod)
        .is_some_and(|p| !p["metadata"]["deletionTimestamp"].is_null());
    if deleting {
        api.delete("pods", &pod);
    }
}

fn set_phase(api: &KubeApi, pod: &str, phase: &str, state: Value) {
    if api.get("pods", pod).is_none() {
        return;
    }
    api.update("pods", pod, |p| {
        p["status"] = json!({
            "phase": phase,
            "containerStatuses": [{"name": "worker", "image": "iris-lab", "imageID": "",
                                   "ready": phase == "Running", "restartCount": 0, "state": state}]
        });
    });
}

fn delete_job(api: KubeApi, t: &Target, body: &Bytes, q: &BTreeMap<String, String>) -> Response {
    let name = t.name.clone().unwrap_or_default();
    let Some(mut job) = api.get("batch/jobs", &name) else {
        return status(404, "NotFound", format!("jobs.batch \"{name}\" not found"));
    };
    let options: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let policy = options["propagationPolicy"]
        .as_str()
        .or(q.get("propagationPolicy").map(String::as_str))
        .unwrap_or("Background")
        .to_string();
    let pods: Vec<String> = api
        .list("pods")
        .iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == name.as_str())
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    for pod in &pods {
        api.update("pods", pod, |p| {
            p["metadata"]["deletionTimestamp"] = json!(super::super::now());
        });
        let pid = api
            .lock()
            .logs
            .get(pod)
            .and_then(|l| l.pid.filter(|_| !l.done));
        if let Some(pid) = pid {
            // SAFETY: kill(2) on a process this kubelet started; no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
    }
    job["metadata"]["deletionTimestamp"] = json!(super::super::now());
    job["metadata"]["finalizers"] = json!(if policy == "Foreground" {
        vec!["foregroundDeletion"]
    } else {
        vec![]
    });
    api.delete("batch/jobs", &name);
    json_response(StatusCode::OK, &job)
}

fn follow_log(api: KubeApi, t: &Target) -> Response {
    let pod = t.name.clone().unwrap_or_default();
    if api.get("pods", &pod).is_none() && !api.lock().logs.contains_key(&pod) {
        return status(404, "NotFound", format!("pods \"{pod}\" not found"));
    }
    if !api.lock().logs.contains_key(&pod) {
        return status(
            400,
            "BadRequest",
            format!("container \"worker\" in pod \"{pod}\" is waiting to start: ContainerCreating"),
        );
    }
    let cursor = Arc::new(Mutex::new(0usize));
    let stream = futures::stream::unfold((api, pod, cursor), |(api, pod, cursor)| async move {
        loop {
            let (chunk, done) = {
                let s = api.lock();
                let log = s.logs.get(&pod)?;
                let mut at = cursor.lock().unwrap_or_else(|e| e.into_inner());
                let chunk = log.text[*at..].to_string();
                *at = log.text.len();
                (chunk, log.done)
            };
            if !chunk.is_empty() {
                return Some((
                    Ok::<_, std::io::Error>(Bytes::from(chunk)),
                    (api, pod, cursor),
                ));
            }
            if done {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}
