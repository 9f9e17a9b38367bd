//! Distributed load on Kubernetes: the worker Job as a pure function over k8s-openapi types,
//! the RBAC the controller needs (checked with SelfSubjectAccessReview, printed as a Role),
//! creating and deleting the Job, watching its pods and following their logs.

use std::collections::BTreeMap;

use futures::{AsyncBufReadExt, Stream, StreamExt};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, Pod, PodAffinityTerm, PodAntiAffinity, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SecurityContext, Service,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

use super::{Access, Cluster, ClusterError};

/// The label that ties a run's Job and pods together.
pub const RUN_LABEL: &str = "iris-lab.io/run";
/// The annotation Kubernetes puts on each pod of an Indexed Job.
pub const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// A finished Job and its pods are removed this long after (their logs were read live).
pub const TTL_AFTER_FINISHED_S: i32 = 3600;
/// The worker's own grace after SIGTERM (stop, 5 s for in-flight requests, send the record).
pub const WORKER_GRACE_S: i64 = 30;

/// What the worker Job is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerJob {
    pub name: String,
    pub namespace: String,
    /// The run's id (the label value).
    pub run: String,
    pub image: String,
    pub workers: u32,
    /// `iris-lab` arguments, `worker` (the index comes from JOB_COMPLETION_INDEX).
    pub args: Vec<String>,
    /// The container's environment (the worker's plan).
    pub env: BTreeMap<String, String>,
    /// Requests = limits (a Guaranteed pod) when given.
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub node_selector: BTreeMap<String, String>,
}

/// The Indexed Job: one pod per worker, all at once, never retried (a failed worker must
/// not replay its load), spread over nodes, cleaned up after an hour.
pub fn job(w: &WorkerJob) -> Job {
    let labels = labels(&w.run);
    let n = i32::try_from(w.workers).unwrap_or(i32::MAX);
    Job {
        metadata: ObjectMeta {
            name: Some(w.name.clone()),
            namespace: Some(w.namespace.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(n),
            parallelism: Some(n),
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(TTL_AFTER_FINISHED_S),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(pod_spec(w)),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// The labels of a run's Job and pods.
fn labels(run: &str) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/name".to_string(), "iris-lab".to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            "load-worker".to_string(),
        ),
        (RUN_LABEL.to_string(), run.to_string()),
    ]
    .into()
}

/// A worker's pod: never restarted, non-root, spread from the run's other pods.
fn pod_spec(w: &WorkerJob) -> PodSpec {
    let env = w
        .env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(value.clone()),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    PodSpec {
        restart_policy: Some("Never".into()),
        termination_grace_period_seconds: Some(WORKER_GRACE_S),
        node_selector: (!w.node_selector.is_empty()).then(|| w.node_selector.clone()),
        affinity: Some(Affinity {
            pod_anti_affinity: Some(spread(&w.run)),
            ..Default::default()
        }),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            ..Default::default()
        }),
        containers: vec![Container {
            name: "worker".into(),
            image: Some(w.image.clone()),
            args: Some(w.args.clone()),
            env: (!env.is_empty()).then_some(env),
            resources: resources(w.cpu.as_deref(), w.memory.as_deref()),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Requests = limits (a Guaranteed pod), when any is given.
fn resources(cpu: Option<&str>, memory: Option<&str>) -> Option<ResourceRequirements> {
    let amounts: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", memory)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), Quantity(v.to_string()))))
        .collect();
    (!amounts.is_empty()).then(|| ResourceRequirements {
        requests: Some(amounts.clone()),
        limits: Some(amounts),
        ..Default::default()
    })
}

/// Prefer nodes without another pod of the run (not required: a small cluster still runs
/// them).
fn spread(run: &str) -> PodAntiAffinity {
    PodAntiAffinity {
        preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
            weight: 100,
            pod_affinity_term: PodAffinityTerm {
                topology_key: "kubernetes.io/hostname".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some([(RUN_LABEL.to_string(), run.to_string())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }]),
        ..Default::default()
    }
}

/// One permission the controller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
}

/// What the controller does: create and delete the Job, watch its pods, read their logs.
/// The workers need nothing (their results come back through their logs).
pub const NEEDED: &[Need] = &[
    Need {
        verb: "create",
        group: "batch",
        resource: "jobs",
        subresource: None,
    },
    Need {
        verb: "delete",
        group: "batch",
        resource: "jobs",
        subresource: None,
    },
    Need {
        verb: "get",
        group: "",
        resource: "pods",
        subresource: None,
    },
    Need {
        verb: "list",
        group: "",
        resource: "pods",
        subresource: None,
    },
    Need {
        verb: "watch",
        group: "",
        resource: "pods",
        subresource: None,
    },
    Need {
        verb: "get",
        group: "",
        resource: "pods",
        subresource: Some("log"),
    },
];

impl Need {
    /// `kubectl auth can-i` with its arguments.
    pub fn can_i(&self, namespace: &str) -> String {
        let resource = if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        let sub = self
            .subresource
            .map(|s| format!(" --subresource={s}"))
            .unwrap_or_default();
        format!(
            "kubectl auth can-i {} {resource}{sub} -n {namespace}",
            self.verb
        )
    }
}

/// The Role that grants [`NEEDED`] (what `--dry-run` prints beside the Job).
pub fn controller_role(namespace: &str) -> Role {
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    };
    Role {
        metadata: ObjectMeta {
            name: Some("iris-lab-load-controller".into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        rules: Some(vec![
            rule("batch", &["jobs"], &["create", "delete"]),
            rule("", &["pods"], &["get", "list", "watch"]),
            rule("", &["pods/log"], &["get"]),
        ]),
    }
}

/// Whether traffic from pods to `host` would reach a LoadBalancer Service's external address:
/// kube-proxy routes that traffic to the pods directly, so the load balancer is not measured.
pub fn bypasses_load_balancer(host: &str, service: &Service) -> bool {
    let lb = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    lb.into_iter().flatten().any(|ingress| {
        ingress.ip.as_deref() == Some(host) || ingress.hostname.as_deref() == Some(host)
    })
}

/// A pod of the Job as the controller follows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPod {
    pub name: String,
    pub index: Option<u32>,
    pub node: Option<String>,
    pub phase: String,
    /// Its container has started (its log can be followed).
    pub started: bool,
    /// Why it ended, when it did: the container's reason and exit code, or the pod's.
    pub ended: Option<String>,
}

impl WorkerPod {
    pub fn from_pod(pod: &Pod) -> Self {
        let index = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(INDEX_ANNOTATION))
            .or_else(|| {
                pod.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(INDEX_ANNOTATION))
            })
            .and_then(|i| i.parse().ok());
        let status = pod.status.as_ref();
        let phase = status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into());
        let container = status
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first());
        let state = container.and_then(|c| c.state.as_ref());
        let started = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some());
        let ended = state.and_then(|s| s.terminated.as_ref()).map(|t| {
            format!(
                "{} (exit code {})",
                t.reason.clone().unwrap_or_else(|| "terminated".into()),
                t.exit_code
            )
        });
        let ended = ended.or_else(|| {
            matches!(phase.as_str(), "Failed" | "Succeeded").then(|| {
                let reason = status.and_then(|s| s.reason.clone()).unwrap_or_default();
                format!("pod {phase} {reason}").trim().to_string()
            })
        });
        Self {
            name: pod.metadata.name.clone().unwrap_or_default(),
            index,
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            phase,
            started,
            ended,
        }
    }
}

impl Cluster {
    fn need_access(&self, need: &Need) -> Access {
        let resource = match need.subresource {
            Some(sub) => format!("{}/{sub}", need.resource),
            None => need.resource.to_string(),
        };
        self.access(need.verb, &resource, None)
    }

    /// The permissions of [`NEEDED`] the current user lacks, asked with one
    /// SelfSubjectAccessReview each.
    pub async fn missing(&self) -> Result<Vec<Need>, ClusterError> {
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let mut missing = Vec::new();
        for need in NEEDED {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(self.namespace.clone()),
                        verb: Some(need.verb.into()),
                        group: Some(need.group.into()),
                        resource: Some(need.resource.into()),
                        subresource: need.subresource.map(str::to_string),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let access = self.access(
                "create",
                "selfsubjectaccessreviews.authorization.k8s.io",
                None,
            );
            let answer = self
                .call(
                    access,
                    "SelfSubjectAccessReview",
                    api.create(&PostParams::default(), &review),
                )
                .await?;
            if !answer.status.is_some_and(|s| s.allowed) {
                missing.push(*need);
            }
        }
        Ok(missing)
    }

    /// Fails naming every missing permission, with its `kubectl auth can-i` line.
    pub async fn require_worker_access(&self) -> Result<(), ClusterError> {
        let missing = self.missing().await?;
        if missing.is_empty() {
            return Ok(());
        }
        Err(ClusterError::MissingPermissions {
            namespace: self.namespace.clone(),
            can_i: missing
                .iter()
                .map(|n| format!("`{}`", n.can_i(&self.namespace)))
                .collect::<Vec<_>>()
                .join("; "),
        })
    }

    pub async fn create_job(&self, job: &Job) -> Result<(), ClusterError> {
        let access = self.need_access(&NEEDED[0]);
        self.call(
            access,
            "Job",
            self.api::<Job>().create(&PostParams::default(), job),
        )
        .await
        .map(|_| ())
    }

    /// Deletes the Job and, first, its pods (foreground propagation).
    pub async fn delete_job(&self, name: &str) -> Result<(), ClusterError> {
        let access = self.need_access(&NEEDED[1]);
        self.call(
            access,
            "Job",
            self.api::<Job>().delete(name, &DeleteParams::foreground()),
        )
        .await
        .map(|_| ())
    }

    /// The Job's pods as they change.
    pub fn worker_pods(&self, run: &str) -> impl Stream<Item = WorkerPod> + Send + use<> {
        let config = watcher::Config::default().labels(&format!("{RUN_LABEL}={run}"));
        watcher(self.api::<Pod>(), config)
            .default_backoff()
            .filter_map(|event| async move {
                match event {
                    Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                        Some(WorkerPod::from_pod(&pod))
                    }
                    _ => None,
                }
            })
    }

    /// The lines of a pod's log, followed until its container ends.
    pub async fn follow_log(
        &self,
        pod: &str,
    ) -> Result<impl Stream<Item = String> + Send + use<>, ClusterError> {
        let access = self.need_access(&NEEDED[5]);
        let params = LogParams {
            follow: true,
            ..Default::default()
        };
        let api = self.api::<Pod>();
        // The request's time limit covers its start; the stream then lasts the run.
        let reader = self
            .call(access, "Pod", api.log_stream(pod, &params))
            .await?;
        Ok(reader
            .lines()
            .take_while(|l| futures::future::ready(l.is_ok()))
            .filter_map(|l| async move { l.ok() }))
    }
}

#[cfg(test)]
mod tests;
