//! The page's state: every run of this session (live and finished), the one running and its
//! controls, and the feed that carries each closed second to every open page. The pipeline
//! writes here through [`super::WebMonitor`]; the HTTP handlers read and steer.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::run::{FailureRow, Head, Row, RunView, Start, Status, Tick, WorkerRow};
use iris_cluster::watch::ClusterEvent;
use iris_loadgen::Swarm;
use iris_pipeline::{LoadResult, RunControl, RunPlan, RunSite};
use iris_record::{RunRecord, TimelinePoint};

/// Runs kept for the page (the oldest finished ones go first).
pub const RUNS_KEPT: usize = 50;
/// How long a host may take to resolve before `POST /swarm` says it does not.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Locust's swarm form (`POST /swarm`), every field as text, as a form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SwarmForm {
    pub user_count: Option<String>,
    pub spawn_rate: Option<String>,
    pub host: Option<String>,
    pub user_class: Option<String>,
    /// A scenario file (`load --scenario`) whose classes the user class may name.
    pub scenario: Option<String>,
    /// Locust's name for the duration (`5m`, empty: until stopped); `duration` also works.
    pub run_time: Option<String>,
    pub duration: Option<String>,
    pub stages: Option<String>,
}

impl SwarmForm {
    /// A field with something in it.
    pub fn field(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Builds a run's settled plan and site from the form (`commands::web` does, as `load` does
/// from flags).
pub trait Starter: Send + Sync {
    /// The plan (one process) and where it runs, or one line for the page saying what is wrong.
    fn plan(&self, form: &SwarmForm) -> Result<(RunPlan, RunSite), String>;
}

/// Why a control request changed nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// A value that cannot be used: 400.
    #[error("{0}")]
    Invalid(String),
    /// Not possible now (a run is going, or this page cannot start runs): 409.
    #[error("{0}")]
    Conflict(String),
}

/// What the page needs to know once.
#[derive(Debug, Clone, Serialize)]
pub struct PageInfo {
    pub token_required: bool,
    /// Runs can be started from the page (`iris-lab web`; `load --web` shows one run).
    pub can_start: bool,
    pub default_host: Option<String>,
    pub classes: Vec<String>,
    /// Scenario files the page offers (the config file's `load.scenario`, the run's).
    pub scenarios: Vec<String>,
    pub default_users: u32,
    /// The config file's, else none (load's default applies).
    pub default_spawn_rate: Option<f64>,
}

struct Active {
    id: u32,
    stop: CancellationToken,
    swarm: Option<watch::Sender<Swarm>>,
}

struct Inner {
    runs: Vec<RunView>,
    next_id: u32,
    active: Option<Active>,
}

/// The whole state behind the page.
pub struct Hub {
    inner: Mutex<Inner>,
    feed: broadcast::Sender<Arc<str>>,
    starter: Option<Arc<dyn Starter>>,
    pub info: PageInfo,
}

/// One event of the feed: its SSE name and its JSON.
pub fn event(name: &str, json: &str) -> Arc<str> {
    format!("{name}\n{json}").into()
}

impl Hub {
    pub fn new(info: PageInfo, starter: Option<Arc<dyn Starter>>) -> Arc<Self> {
        let (feed, _) = broadcast::channel(256);
        Arc::new(Self {
            inner: Mutex::new(Inner {
                runs: Vec::new(),
                next_id: 1,
                active: None,
            }),
            feed,
            starter,
            info,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.feed.subscribe()
    }

    fn send(&self, ev: Arc<str>) {
        // No page open: nobody to tell.
        let _ = self.feed.send(ev);
    }

    /// The page's first view: what it needs once, every run's head, the latest run whole.
    pub fn state_json(&self) -> String {
        #[derive(Serialize)]
        struct State<'a> {
            info: &'a PageInfo,
            active: Option<u32>,
            runs: Vec<&'a Head>,
            latest: Option<&'a RunView>,
        }
        let inner = self.lock();
        serde_json::to_string(&State {
            info: &self.info,
            active: inner.active.as_ref().map(|a| a.id),
            runs: inner.runs.iter().map(|r| &r.head).collect(),
            latest: inner.runs.last(),
        })
        .unwrap_or_default()
    }

    pub fn run_json(&self, id: u32) -> Option<String> {
        let inner = self.lock();
        let run = inner.runs.iter().find(|r| r.head.id == id)?;
        serde_json::to_string(run).ok()
    }

    /// A finished run's record.
    pub fn record(&self, id: u32) -> Option<Arc<RunRecord>> {
        let inner = self.lock();
        inner.runs.iter().find(|r| r.head.id == id)?.saved.clone()
    }

    /// The latest run with a record, for Locust's unnumbered download paths.
    pub fn latest_record(&self) -> Option<(u32, Arc<RunRecord>)> {
        let inner = self.lock();
        inner
            .runs
            .iter()
            .rev()
            .find_map(|r| Some((r.head.id, r.saved.clone()?)))
    }

    /// Every saved record of this session, oldest first.
    pub fn records(&self) -> Vec<Arc<RunRecord>> {
        let inner = self.lock();
        inner.runs.iter().filter_map(|r| r.saved.clone()).collect()
    }

    /// The head of the running run, else of the latest.
    pub fn current_head(&self) -> Option<Head> {
        let inner = self.lock();
        let id = inner.active.as_ref().map(|a| a.id);
        inner
            .runs
            .iter()
            .rev()
            .find(|r| id.is_none_or(|id| r.head.id == id))
            .map(|r| r.head.clone())
    }

    /// A run is going.
    pub fn is_running(&self) -> bool {
        self.lock().active.is_some()
    }

    /// A new run that is about to start: its id and how it is steered.
    pub fn attach(&self, start: Start) -> (u32, RunControl) {
        let changeable = start.changeable;
        let first = Swarm {
            users: start.users,
            spawn_rate: start.spawn_rate,
        };
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let stop = CancellationToken::new();
        let (tx, rx) = watch::channel(first);
        inner.active = Some(Active {
            id,
            stop: stop.clone(),
            swarm: changeable.then_some(tx),
        });
        inner.runs.push(RunView::new(id, start));
        if inner.runs.len() > RUNS_KEPT {
            inner.runs.remove(0);
        }
        let json = serde_json::to_string(&inner.runs.last().map(|r| &r.head)).unwrap_or_default();
        drop(inner);
        self.send(event("run", &json));
        let control = RunControl {
            stop,
            swarm: changeable.then_some(rx),
        };
        (id, control)
    }

    fn with_run(&self, id: u32, f: impl FnOnce(&mut RunView) -> Option<Arc<str>>) {
        let ev = {
            let mut inner = self.lock();
            inner.runs.iter_mut().find(|r| r.head.id == id).and_then(f)
        };
        if let Some(ev) = ev {
            self.send(ev);
        }
    }

    /// A closed second of run `id`.
    pub fn second(
        &self,
        id: u32,
        point: &TimelinePoint,
        rows: Vec<Row>,
        failures: Option<Vec<FailureRow>>,
    ) {
        self.with_run(id, |run| {
            let markers = run.second(point, rows, failures);
            let tick = Tick {
                run: &run.head,
                generation: run.series.generation,
                point: run.series.points.last().cloned(),
                markers,
                cluster: run.cluster.take_fresh(),
            };
            Some(event("tick", &serde_json::to_string(&tick).ok()?))
        });
    }

    /// Worker `index` of run `id` reported: its row changes, the next tick carries it.
    pub fn worker(&self, id: u32, index: u32, f: impl FnOnce(&mut WorkerRow)) {
        self.with_run(id, |run| {
            let workers = &mut run.head.workers;
            let i = index as usize;
            if workers.len() <= i {
                workers.extend((workers.len()..=i).map(|n| WorkerRow::new(n as u32)));
            }
            f(&mut workers[i]);
            None
        });
    }

    /// Something the cluster's watch saw during run `id`: the next tick carries it.
    pub fn cluster_event(&self, id: u32, event: &ClusterEvent) {
        self.with_run(id, |run| {
            run.cluster.apply(event);
            None
        });
    }

    /// Something to say about run `id` (and, for the cluster, whether it is watched).
    pub fn note(&self, id: u32, text: String, cluster: bool) {
        self.with_run(id, |run| {
            if cluster {
                run.head.cluster_watched = Some(text);
            } else {
                run.head.notes.push(text);
            }
            Some(event("run", &serde_json::to_string(&run.head).ok()?))
        });
    }

    pub fn stopping(&self, id: u32) {
        self.with_run(id, |run| {
            if matches!(run.head.status, Status::Starting | Status::Running) {
                run.head.status = Status::Stopping;
            }
            Some(event("run", &serde_json::to_string(&run.head).ok()?))
        });
    }

    /// Run `id` ended with its record saved.
    pub fn finished(&self, id: u32, result: &LoadResult) {
        self.end(id);
        self.with_run(id, |run| {
            run.finished(result.record.clone(), result.record_path.clone());
            Some(event("full", &serde_json::to_string(&*run).ok()?))
        });
    }

    /// Run `id` could not start or finish.
    pub fn failed(&self, id: u32, error: String) {
        self.end(id);
        self.with_run(id, |run| {
            run.head.status = Status::Failed;
            run.head.error = Some(error);
            Some(event("run", &serde_json::to_string(&run.head).ok()?))
        });
    }

    fn end(&self, id: u32) {
        let mut inner = self.lock();
        if inner.active.as_ref().is_some_and(|a| a.id == id) {
            inner.active = None;
        }
    }

    /// Locust's `/stop`: stops the running run (its users finish their tasks, the record is
    /// saved); nothing to stop is not an error, as in Locust.
    pub fn stop(&self) -> Result<&'static str, ControlError> {
        let id = {
            let inner = self.lock();
            let Some(active) = &inner.active else {
                return Ok("No test is running");
            };
            let stoppable = inner
                .runs
                .iter()
                .any(|r| r.head.id == active.id && r.head.stoppable);
            if !stoppable {
                return Err(ControlError::Conflict(
                    "a distributed run stops with Ctrl-C in the terminal of `iris-lab load`".into(),
                ));
            }
            active.stop.cancel();
            active.id
        };
        self.stopping(id);
        Ok("Test stopped")
    }

    /// Locust's `/swarm`: changes the users of the running run, else starts one.
    pub async fn swarm(self: &Arc<Self>, form: SwarmForm) -> Result<String, ControlError> {
        if let Some(message) = self.change(&form)? {
            return Ok(message);
        }
        let starter = self.starter.clone().ok_or_else(|| {
            ControlError::Conflict(
                "this page shows one run of `iris-lab load`: start runs with `iris-lab web`".into(),
            )
        })?;
        let (plan, site) = starter.plan(&form).map_err(ControlError::Invalid)?;
        resolve(&site.host).await?;
        // A run may have started while the host resolved.
        if self.lock().active.is_some() {
            return Err(ControlError::Conflict(
                "a run started meanwhile: change its users, or stop it first".into(),
            ));
        }
        let start = Start::of(&plan, &site, false);
        let message = format!(
            "Swarming started: {} users at {}/s",
            start.users, start.spawn_rate
        );
        let (id, control) = self.attach(start);
        let hub = self.clone();
        tokio::spawn(async move {
            let mut monitor = super::WebMonitor::new(hub.clone(), id);
            match iris_pipeline::run_controlled(&plan, &site, &mut monitor, control).await {
                Ok(result) => hub.finished(id, &result),
                Err(e) => hub.failed(id, e.to_string()),
            }
        });
        Ok(message)
    }

    /// Adds `delta` users to the running run's target (the terminal's w/W/s/S keys).
    pub fn nudge(&self, delta: i64) {
        let inner = self.lock();
        let Some(Active {
            id,
            swarm: Some(tx),
            ..
        }) = &inner.active
        else {
            return;
        };
        let id = *id;
        let swarm = nudged(*tx.borrow(), delta);
        tx.send_replace(swarm);
        drop(inner);
        self.with_run(id, |run| {
            run.head.target_users = swarm.users;
            Some(event("run", &serde_json::to_string(&run.head).ok()?))
        });
    }

    /// A swarm while a run goes: its new users and spawn rate (None: no run is going).
    fn change(&self, form: &SwarmForm) -> Result<Option<String>, ControlError> {
        let inner = self.lock();
        let Some(active) = &inner.active else {
            return Ok(None);
        };
        let run = inner.runs.iter().find(|r| r.head.id == active.id);
        let Some(tx) = &active.swarm else {
            return Err(ControlError::Conflict(
                "the users of this run cannot change (the open model or distributed workers): \
                 stop it and start another"
                    .into(),
            ));
        };
        if let (Some(host), Some(run)) = (SwarmForm::field(&form.host), run)
            && host.trim_end_matches('/') != run.head.host.trim_end_matches('/')
        {
            return Err(ControlError::Conflict(format!(
                "a run against {} is going: stop it before testing {host}",
                run.head.host
            )));
        }
        let users = parse_users(SwarmForm::field(&form.user_count))?;
        let spawn_rate = match SwarmForm::field(&form.spawn_rate) {
            Some(text) => parse_rate(text)?,
            None => tx.borrow().spawn_rate,
        };
        tx.send_replace(Swarm { users, spawn_rate });
        let id = active.id;
        drop(inner);
        self.with_run(id, |run| {
            run.head.target_users = users;
            run.head.spawn_rate = spawn_rate;
            Some(event("run", &serde_json::to_string(&run.head).ok()?))
        });
        Ok(Some(format!("Users changing to {users} at {spawn_rate}/s")))
    }
}

/// `swarm` with `delta` more users (never below 0).
pub fn nudged(swarm: Swarm, delta: i64) -> Swarm {
    let users = (i64::from(swarm.users) + delta).clamp(0, i64::from(u32::MAX));
    Swarm {
        users: users as u32,
        ..swarm
    }
}

/// `user_count`: a whole number, 0 or more while a run goes.
fn parse_users(text: Option<&str>) -> Result<u32, ControlError> {
    let text = text.ok_or_else(|| ControlError::Invalid("user_count is missing".into()))?;
    text.parse::<u32>().map_err(|_| {
        ControlError::Invalid(format!(
            "user_count {text:?} is not a number of users (a whole number, 0 or more)"
        ))
    })
}

fn parse_rate(text: &str) -> Result<f64, ControlError> {
    text.parse::<iris_base::units::Rate>()
        .map(|r| r.0)
        .map_err(|e| ControlError::Invalid(format!("spawn_rate {text:?}: {e}")))
}

/// The host's name resolves, within [`RESOLVE_TIMEOUT`]: a page should hear it at once, not
/// from a run that fails later.
async fn resolve(host: &reqwest::Url) -> Result<(), ControlError> {
    let name = host.host_str().unwrap_or_default().to_string();
    let port = host.port_or_known_default().unwrap_or(80);
    let lookup = tokio::net::lookup_host((name.as_str(), port));
    let failed = |why: String| {
        ControlError::Invalid(format!(
            "host {host}: {name} does not resolve ({why}): check the name, or use the Service's \
             IP address"
        ))
    };
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => match addrs.count() {
            0 => Err(failed("no addresses".into())),
            _ => Ok(()),
        },
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            RESOLVE_TIMEOUT.as_secs()
        ))),
    }
}
