//! Watch streams -> typed [`ClusterEvent`]s on a channel. The trackers that turn object
//! updates into events are pure (no I/O) and tested on their own; the tasks that feed them
//! use kube's `watcher(..).default_backoff()`, so a dropped watch resumes by itself.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec};
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Cluster;
use super::TargetNames;
use super::checks::HpaTargets;
use super::checks::{self, StartupPhases};
use super::facts::{PodFacts, pod_facts};
use super::metrics::PodUsage;

/// Something that happened in the cluster, when this client saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterEvent {
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A pod that existed when the watch started.
    PodSeen {
        pod: String,
        ready: String,
        status: String,
    },
    PodCreated {
        pod: String,
    },
    PodScheduled {
        pod: String,
        node: Option<String>,
    },
    PodStarted {
        pod: String,
    },
    /// A pod became Ready; `startup` is set for pods created while watching.
    PodReady {
        pod: String,
        startup: Option<StartupLatency>,
    },
    PodNotReady {
        pod: String,
        status: String,
    },
    /// A status change worth a line (CrashLoopBackOff, OOMKilled, Terminating...).
    PodStatus {
        pod: String,
        from: String,
        to: String,
        problem: Option<String>,
    },
    PodRestarted {
        pod: String,
        restarts: i32,
        reason: Option<String>,
    },
    PodDeleted {
        pod: String,
    },
    /// The pod's row as `kubectl get pods -w` prints it, whenever the row changes (and the
    /// last one when it is deleted); sent with the facts, for a run's live page.
    PodLine {
        pod: String,
        ready: String,
        status: String,
        restarts: i32,
        age: String,
    },
    HpaSeen {
        hpa: String,
        current: i32,
        desired: i32,
        min: i32,
        max: i32,
        targets: HpaTargets,
    },
    /// The HPA's spec, when first seen and whenever it changes.
    HpaSpec {
        hpa: String,
        spec: Box<HorizontalPodAutoscalerSpec>,
    },
    /// A pod's node, requests and limits, and images, when first seen and whenever they change
    /// (the image digests arrive once its containers started).
    PodFacts {
        pod: String,
        facts: PodFacts,
    },
    HpaReplicas {
        hpa: String,
        from: i32,
        current: i32,
        desired: i32,
    },
    HpaTargets {
        hpa: String,
        from: HpaTargets,
        to: HpaTargets,
    },
    HpaCondition {
        hpa: String,
        condition: String,
        status: String,
        reason: String,
        message: String,
    },
    /// A Kubernetes Event about the Deployment, its ReplicaSets, pods or the HPA.
    Kube {
        object: String,
        kind: String,
        reason: String,
        message: String,
    },
    Top {
        pods: Vec<PodUsage>,
    },
    TopUnavailable {
        reason: String,
    },
    WatchInterrupted {
        what: String,
        error: String,
    },
    WatchResumed {
        what: String,
    },
}

/// A new pod's start-up, in seconds after its creation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StartupLatency {
    pub scheduled_s: Option<f64>,
    pub started_s: Option<f64>,
    pub ready_s: Option<f64>,
    /// When this client saw it Ready.
    pub observed_s: f64,
}

impl StartupLatency {
    pub fn from_phases(phases: &StartupPhases, observed: Timestamp) -> Self {
        let [scheduled_s, started_s, ready_s] = phases.offsets();
        Self {
            scheduled_s,
            started_s,
            ready_s,
            observed_s: observed.duration_since(phases.created).as_secs_f64(),
        }
    }
}

/// Turns the pod watcher's events into lifecycle events. Pure: `now` is passed in.
#[derive(Debug, Default)]
pub struct PodTracker {
    /// Also say each pod's node, resources and images ([`EventKind::PodFacts`]), and its
    /// `get pods -w` rows ([`EventKind::PodLine`]).
    pub facts: bool,
    known: HashMap<String, Pod>,
    /// Pods first seen after the initial listing: their start-up is measured.
    fresh: std::collections::HashSet<String>,
    listed_once: bool,
    relist: Option<HashMap<String, Pod>>,
}

impl PodTracker {
    pub fn apply(&mut self, event: watcher::Event<Pod>, now: Timestamp) -> Vec<EventKind> {
        match event {
            watcher::Event::Init => {
                self.relist = Some(HashMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if let Some(buf) = &mut self.relist {
                    buf.insert(name.clone(), pod.clone());
                }
                if self.listed_once {
                    self.update(pod, now)
                } else {
                    let row = checks::pod_row(&pod, now);
                    let mut out = vec![EventKind::PodSeen {
                        pod: name.clone(),
                        ready: row.ready,
                        status: row.status,
                    }];
                    out.extend(self.line_changed(None, &pod, now));
                    out.extend(self.facts_changed(None, &pod));
                    self.known.insert(name, pod);
                    out
                }
            }
            watcher::Event::InitDone => {
                let listed = self.relist.take().unwrap_or_default();
                let mut out = Vec::new();
                if self.listed_once {
                    let gone: Vec<String> = self
                        .known
                        .keys()
                        .filter(|k| !listed.contains_key(*k))
                        .cloned()
                        .collect();
                    for pod in gone {
                        self.known.remove(&pod);
                        out.push(EventKind::PodDeleted { pod });
                    }
                }
                self.listed_once = true;
                out
            }
            watcher::Event::Apply(pod) => self.update(pod, now),
            watcher::Event::Delete(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                self.known.remove(&name);
                self.fresh.remove(&name);
                let mut out: Vec<EventKind> = self
                    .facts
                    .then(|| pod_line(&pod, now))
                    .into_iter()
                    .collect();
                out.push(EventKind::PodDeleted { pod: name });
                out
            }
        }
    }

    fn update(&mut self, pod: Pod, now: Timestamp) -> Vec<EventKind> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let old = self.known.get(&name);
        if old.is_none() {
            self.fresh.insert(name.clone());
        }
        let mut out = pod_changes(old, &pod, self.fresh.contains(&name), now);
        out.extend(self.line_changed(old, &pod, now));
        out.extend(self.facts_changed(old, &pod));
        self.known.insert(name, pod);
        out
    }

    /// A [`EventKind::PodLine`] when asked for facts and the pod's row changed (its age
    /// aside), as `kubectl get pods -w` prints a line.
    fn line_changed(&self, old: Option<&Pod>, new: &Pod, now: Timestamp) -> Option<EventKind> {
        if !self.facts {
            return None;
        }
        let line = pod_line(new, now);
        let same = old.is_some_and(|old| {
            let (a, b) = (checks::pod_row(old, now), checks::pod_row(new, now));
            (a.ready, a.status, a.restarts) == (b.ready, b.status, b.restarts)
        });
        (!same).then_some(line)
    }

    /// A [`EventKind::PodFacts`] when asked for them and the pod's facts changed.
    fn facts_changed(&self, old: Option<&Pod>, new: &Pod) -> Option<EventKind> {
        if !self.facts {
            return None;
        }
        let facts = pod_facts(new);
        old.is_none_or(|o| pod_facts(o) != facts)
            .then(|| EventKind::PodFacts {
                pod: new.metadata.name.clone().unwrap_or_default(),
                facts,
            })
    }
}

/// What changed between two versions of a pod (`old` is `None` for a new pod).
pub fn pod_changes(old: Option<&Pod>, new: &Pod, measure: bool, now: Timestamp) -> Vec<EventKind> {
    let pod = new.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    if old.is_none() {
        out.push(EventKind::PodCreated { pod: pod.clone() });
    }
    let scheduled = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).is_some();
    let started = |p: &Pod| checks::startup_phases(p).and_then(|s| s.started).is_some();
    if scheduled(new) && !old.is_some_and(scheduled) {
        out.push(EventKind::PodScheduled {
            pod: pod.clone(),
            node: new.spec.as_ref().and_then(|s| s.node_name.clone()),
        });
    }
    if started(new) && !old.is_some_and(started) {
        out.push(EventKind::PodStarted { pod: pod.clone() });
    }
    let status = checks::pod_status(new);
    let old_status = old.map(checks::pod_status);
    let notable = |s: &str| {
        !matches!(
            s,
            "Pending" | "ContainerCreating" | "PodInitializing" | "Running"
        ) && !s.starts_with("Init:")
    };
    if let Some(from) = &old_status
        && *from != status
        && (notable(&status) || notable(from))
    {
        out.push(EventKind::PodStatus {
            pod: pod.clone(),
            from: from.clone(),
            to: status.clone(),
            problem: checks::pod_problem(new, &status),
        });
    }
    let restarts = |p: &Pod| checks::pod_row(p, now).restarts;
    if let Some(o) = old
        && restarts(new) > restarts(o)
    {
        let reason = new
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find_map(|c| c.last_state.as_ref()?.terminated.as_ref()?.reason.clone())
            });
        out.push(EventKind::PodRestarted {
            pod: pod.clone(),
            restarts: restarts(new),
            reason,
        });
    }
    let ready = checks::pod_is_ready(new);
    let was_ready = old.is_some_and(checks::pod_is_ready);
    if ready && !was_ready {
        let startup = if measure {
            checks::startup_phases(new).map(|p| StartupLatency::from_phases(&p, now))
        } else {
            None
        };
        out.push(EventKind::PodReady { pod, startup });
    } else if was_ready && !ready && new.metadata.deletion_timestamp.is_none() {
        out.push(EventKind::PodNotReady { pod, status });
    }
    out
}

/// Turns HPA versions into replica, target and condition changes.
#[derive(Debug, Default)]
pub struct HpaTracker {
    /// Also say the HPA's spec when first seen and when it changes ([`EventKind::HpaSpec`]).
    pub spec: bool,
    last: Option<HorizontalPodAutoscaler>,
}

impl HpaTracker {
    pub fn apply(&mut self, event: watcher::Event<HorizontalPodAutoscaler>) -> Vec<EventKind> {
        match event {
            watcher::Event::InitApply(hpa) | watcher::Event::Apply(hpa) => {
                let mut out = hpa_changes(self.last.as_ref(), &hpa);
                if self.spec && self.last.as_ref().is_none_or(|old| old.spec != hpa.spec) {
                    out.push(EventKind::HpaSpec {
                        hpa: hpa.metadata.name.clone().unwrap_or_default(),
                        spec: Box::new(hpa.spec.clone().unwrap_or_default()),
                    });
                }
                self.last = Some(hpa);
                out
            }
            _ => Vec::new(),
        }
    }
}

pub fn hpa_changes(
    old: Option<&HorizontalPodAutoscaler>,
    new: &HorizontalPodAutoscaler,
) -> Vec<EventKind> {
    let hpa = new.metadata.name.clone().unwrap_or_default();
    let (min, max, current, desired) = checks::hpa_replicas(new);
    let targets = checks::hpa_targets(new);
    let Some(old) = old else {
        return vec![EventKind::HpaSeen {
            hpa,
            current,
            desired,
            min,
            max,
            targets,
        }];
    };
    let mut out = Vec::new();
    let (_, _, old_current, old_desired) = checks::hpa_replicas(old);
    if (old_current, old_desired) != (current, desired) {
        out.push(EventKind::HpaReplicas {
            hpa: hpa.clone(),
            from: old_current,
            current,
            desired,
        });
    }
    let old_targets = checks::hpa_targets(old);
    if old_targets != targets {
        out.push(EventKind::HpaTargets {
            hpa: hpa.clone(),
            from: old_targets,
            to: targets,
        });
    }
    let before: BTreeMap<String, String> = checks::hpa_conditions(old)
        .into_iter()
        .map(|c| (c.kind, c.status))
        .collect();
    for c in checks::hpa_conditions(new) {
        if before.get(&c.kind) != Some(&c.status) {
            out.push(EventKind::HpaCondition {
                hpa: hpa.clone(),
                condition: c.kind,
                status: c.status,
                reason: c.reason,
                message: c.message,
            });
        }
    }
    out
}

/// The pod's `kubectl get pods` row now.
pub fn pod_line(pod: &Pod, now: Timestamp) -> EventKind {
    let row = checks::pod_row(pod, now);
    EventKind::PodLine {
        pod: row.name,
        ready: row.ready,
        status: row.status,
        restarts: row.restarts,
        age: row.age,
    }
}

/// Whether a Kubernetes Event is about the Deployment, its ReplicaSets, its pods or the HPA.
pub fn event_is_relevant(event: &KubeEvent, names: &TargetNames) -> bool {
    let kind = event.involved_object.kind.as_deref().unwrap_or("");
    let name = event.involved_object.name.as_deref().unwrap_or("");
    let owned = name.starts_with(&format!("{}-", names.deployment));
    match kind {
        "Deployment" => name == names.deployment,
        "ReplicaSet" | "Pod" => owned,
        "HorizontalPodAutoscaler" => name == names.hpa,
        _ => false,
    }
}

/// The Kubernetes Event as a line, if it is relevant and not older than `since`.
pub fn kube_event(event: &KubeEvent, names: &TargetNames, since: Timestamp) -> Option<EventKind> {
    if !event_is_relevant(event, names) {
        return None;
    }
    let when = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(event.event_time.as_ref().map(|t| t.0))
        .or(event.metadata.creation_timestamp.as_ref().map(|t| t.0));
    // Event times have whole seconds: allow for the truncation.
    if when.is_some_and(|t| t < since - jiff::SignedDuration::from_secs(2)) {
        return None;
    }
    Some(EventKind::Kube {
        object: format!(
            "{}/{}",
            event.involved_object.kind.as_deref().unwrap_or("?"),
            event.involved_object.name.as_deref().unwrap_or("?")
        ),
        kind: event.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: event.reason.clone().unwrap_or_default(),
        message: event.message.clone().unwrap_or_default(),
    })
}

/// Settings of a watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// How often to sample pod metrics; `None` turns the `top` table off.
    pub top_every: Option<Duration>,
    /// Sample once per metrics window when metrics-server's window is shorter than
    /// `top_every` (a run's record: every window is a point of the capacity fit).
    pub top_per_window: bool,
    /// Also send the HPA's spec and the pods' facts (for a run's record, not for `watch`).
    pub facts: bool,
}

/// A watch stream's errors, said once per interruption, and its resumption.
struct Interruptions {
    what: &'static str,
    interrupted: bool,
}

impl Interruptions {
    fn on_ok(&mut self) -> Option<EventKind> {
        std::mem::take(&mut self.interrupted).then(|| EventKind::WatchResumed {
            what: self.what.into(),
        })
    }

    fn on_err(
        &mut self,
        cluster: &Cluster,
        resource: &str,
        err: watcher::Error,
    ) -> Option<EventKind> {
        if std::mem::replace(&mut self.interrupted, true) {
            return None;
        }
        let access = cluster.access("watch", resource, None);
        let error = match err {
            watcher::Error::WatchFailed(kube::Error::ReadEvents(e)) => {
                format!("connection lost: {}", innermost(&e))
            }
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => cluster.fail(access, "object", e).to_string(),
            watcher::Error::WatchError(status) => format!("{} {}", status.code, status.message),
            watcher::Error::NoResourceVersion => "the API server sent no resourceVersion".into(),
        };
        Some(EventKind::WatchInterrupted {
            what: self.what.into(),
            error,
        })
    }
}

/// The last cause of an error: `Connection reset by peer`.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

async fn pump<K, S>(
    stream: S,
    tx: mpsc::Sender<ClusterEvent>,
    cluster: Cluster,
    what: &'static str,
    resource: &'static str,
    mut on_event: impl FnMut(watcher::Event<K>, Timestamp) -> Vec<EventKind>,
) where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut interruptions = Interruptions {
        what,
        interrupted: false,
    };
    while let Some(item) = stream.next().await {
        let now = Timestamp::now();
        let kinds = match item {
            Ok(event) => interruptions
                .on_ok()
                .into_iter()
                .chain(on_event(event, now))
                .collect(),
            Err(err) => interruptions
                .on_err(&cluster, resource, err)
                .into_iter()
                .collect::<Vec<_>>(),
        };
        for kind in kinds {
            if tx.send(ClusterEvent { at: now, kind }).await.is_err() {
                return;
            }
        }
    }
}

/// Starts the watches (pods, HPA, events) and the metrics sampler. They run until the
/// receiver is dropped or the returned set is dropped.
pub fn spawn(
    cluster: &Cluster,
    options: WatchOptions,
    tx: mpsc::Sender<ClusterEvent>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let started = Timestamp::now();
    let c = cluster.clone();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), &c.namespace);
    let cfg = watcher::Config::default().labels(&c.names.selector);
    let mut tracker = PodTracker {
        facts: options.facts,
        ..PodTracker::default()
    };
    set.spawn(pump(
        watcher(pods, cfg).default_backoff(),
        tx.clone(),
        c,
        "pods",
        "pods",
        move |e, now| tracker.apply(e, now),
    ));

    let c = cluster.clone();
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(c.client.clone(), &c.namespace);
    let cfg = watcher::Config::default().fields(&format!("metadata.name={}", c.names.hpa));
    let mut tracker = HpaTracker {
        spec: options.facts,
        ..HpaTracker::default()
    };
    set.spawn(pump(
        watcher(hpas, cfg).default_backoff(),
        tx.clone(),
        c,
        "the HPA",
        "horizontalpodautoscalers.autoscaling",
        move |e, _| tracker.apply(e),
    ));

    let c = cluster.clone();
    let events: Api<KubeEvent> = Api::namespaced(c.client.clone(), &c.namespace);
    let names = c.names.clone();
    set.spawn(pump(
        watcher(events, watcher::Config::default()).default_backoff(),
        tx.clone(),
        c,
        "events",
        "events",
        move |e, _| match e {
            // Only what happens while watching: the list holds the namespace's history.
            watcher::Event::Apply(ev) => kube_event(&ev, &names, started).into_iter().collect(),
            _ => Vec::new(),
        },
    ));

    if let Some(every) = options.top_every {
        set.spawn(sample_top_every(
            cluster.clone(),
            every,
            options.top_per_window,
            tx,
        ));
    }
    set
}

/// `kubectl top` every `every`, or (`per_window`) once per metrics window when metrics-server's
/// window is shorter (a cluster with a short `--metric-resolution`, or `sim` at a time scale): pod usage,
/// or once why it is unavailable, until the receiver is gone.
async fn sample_top_every(
    c: Cluster,
    every: Duration,
    per_window: bool,
    tx: mpsc::Sender<ClusterEvent>,
) {
    let mut period = every;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_failure: Option<String> = None;
    loop {
        tick.tick().await;
        let kind = match sample_top(&c).await {
            Ok(pods) => {
                last_failure = None;
                let shorter = top_period(every, &pods).filter(|w| per_window && *w < period);
                if let Some(window) = shorter {
                    period = window;
                    tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                }
                EventKind::Top { pods }
            }
            // Said once, not every period, while metrics.k8s.io stays away.
            Err(reason) if last_failure.as_ref() == Some(&reason) => continue,
            Err(reason) => {
                last_failure = Some(reason.clone());
                EventKind::TopUnavailable { reason }
            }
        };
        if tx
            .send(ClusterEvent {
                at: Timestamp::now(),
                kind,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// How often to sample: `every`, or the pods' metrics window when shorter (a sample more
/// often than the window only repeats the last one); never under 100 ms.
pub fn top_period(every: Duration, pods: &[PodUsage]) -> Option<Duration> {
    let window = pods
        .iter()
        .filter_map(|p| p.window_s)
        .filter(|w| w.is_finite() && *w > 0.0)
        .fold(None, |m: Option<f64>, w| Some(m.map_or(w, |m| m.min(w))))?;
    let window = Duration::from_secs_f64(window.max(0.1));
    Some(window.min(every))
}

async fn sample_top(cluster: &Cluster) -> Result<Vec<PodUsage>, String> {
    let pods = cluster.pods().await.map_err(|e| e.to_string())?;
    cluster.top(&pods).await.map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
