//! The demo on a simulated cluster: `sim` in-process at the demo's time scale, reached through
//! its kubeconfig like any cluster; Phase 1.1-1.2 (verify), the Service's address for the smoke
//! test and the runs (each watching the cluster), the report, then Phase 7 (scale back to the
//! HPA's minReplicas, without a prompt).

use std::time::Duration;

use super::DemoPlan;
use crate::cluster::cleanup::{self, CleanupReport};
use crate::cluster::{self, Cluster, ClusterOptions, TargetNames, checks, verify};
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::ConnectionPolicy;
use crate::output::{self, Format, Style};
use crate::pipeline::{RunPlan, RunSite};
use crate::record::scale_down::ScaleDownRecord;
use crate::server::Model;
use crate::sim::{Addresses, Sim, SimError, SimSettings};

/// The demo's users open a new connection every this many requests, so that pods started
/// during a run get their share of the load: a kept-alive connection stays on its pod, as it
/// does through kube-proxy.
pub const CONNECTION_MAX_REQUESTS: u64 = 10;
/// How long the demo waits for the cluster to look like one that has run a while (pods Ready,
/// the HPA has read their CPU).
const SETTLE_WITHIN: Duration = Duration::from_secs(30);
/// How long Phase 7 waits for the pods to settle.
const CLEANUP_WAIT: Duration = Duration::from_secs(60);
/// How long Phase 7 waits for the load to leave the HPA's metrics.
const METRICS_QUIET_WITHIN: Duration = Duration::from_secs(30);

/// The cluster the demo's runs watch: how to reach it, as `load` does from a kubeconfig.
pub struct DemoCluster {
    options: ClusterOptions,
    names: TargetNames,
}

impl DemoCluster {
    /// Makes a run watch the cluster, its users reconnecting as [`CONNECTION_MAX_REQUESTS`]
    /// says.
    pub fn watch(&self, plan: &mut RunPlan) {
        plan.watch_cluster = true;
        plan.load.connection = ConnectionPolicy {
            max_requests: Some(CONNECTION_MAX_REQUESTS),
            max_age: None,
        };
    }

    /// Where the runs go: `host`, with this cluster to watch.
    pub fn site(&self, host: reqwest::Url) -> RunSite {
        RunSite {
            cluster: Some((self.options.clone(), self.names.clone())),
            ..RunSite::new(host)
        }
    }
}

/// The whole guide on a simulated cluster that lives as long as the demo.
pub async fn run(settings: &Settings, plan: &DemoPlan, model: Model) -> Result<Outcome, Error> {
    let sim_settings = SimSettings::demo();
    let sim = Sim::start(
        sim_settings,
        settings.names.clone(),
        model,
        Addresses::default(),
    )
    .await?;
    let result = on_sim(&sim, settings, plan).await;
    sim.stop().await;
    result
}

async fn on_sim(sim: &Sim, settings: &Settings, plan: &DemoPlan) -> Result<Outcome, Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::write("a temporary directory", e))?;
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let s = sim.settings();
    output::note(&format!(
        "demo: a simulated cluster (`iris-lab sim`) at {}: time runs at x{} (a pod is Ready {} s after its creation instead of {} s), every figure it invents is named in the report; users reconnect every {CONNECTION_MAX_REQUESTS} requests so that new pods get their share",
        sim.api_url(),
        s.time_scale,
        s.scaled(s.ready_after).as_secs_f64(),
        s.ready_after.as_secs_f64(),
    ));
    if !sim.settled(SETTLE_WITHIN).await {
        return Err(SimError::NotSettled {
            within: crate::units::format_duration(SETTLE_WITHIN),
        }
        .into());
    }
    let options = ClusterOptions {
        kubeconfig: Some(kubeconfig),
        ..ClusterOptions::default()
    };
    let cluster = cluster::connect(&options, &settings.names).await?;
    let watched = DemoCluster {
        options,
        names: settings.names.clone(),
    };

    output::note("demo: Phase 1.1-1.2, verify the deployment");
    let report = verify::gather(&cluster).await?;
    output::note(output::render_verify(&report, Format::Text, Style::plain()).trim_end());
    if !report.passed {
        return Ok(Outcome::Failed);
    }
    let host = match super::super::discover_host(&cluster).await {
        Ok((url, line)) => {
            output::note(&format!("demo: {line}"));
            url
        }
        Err(_) => return Ok(Outcome::Failed),
    };
    let played = match super::play(plan, host, Some(&watched)).await? {
        Ok(played) => played,
        Err(outcome) => return Ok(outcome),
    };
    output::note(
        "demo: Phase 7, scale back down (the demo does not ask), once the HPA's CPU reads below its target: \
         before that, the load still in the metrics window would make it scale up again",
    );
    metrics_quiet(&cluster, METRICS_QUIET_WITHIN).await?;
    let (settled, record) = scale_down(&cluster, played.ended).await?;
    let reported = super::write_report(plan, played, Some(record))?;
    Ok(if settled { reported } else { Outcome::Failed })
}

/// Waits until the HPA's CPU utilization reads below its target (or `limit` passes).
async fn metrics_quiet(cluster: &Cluster, limit: Duration) -> Result<(), Error> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        let cpu = cluster.hpa().await?.map(|h| checks::hpa_targets(&h).cpu());
        let quiet = match cpu {
            Some((Some(current), Some(target))) => current < target,
            _ => true,
        };
        if quiet || tokio::time::Instant::now() >= end {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Phase 7 as `cleanup --yes`: to the HPA's minReplicas, then wait for the pods to settle;
/// whether they did, and the record of it for the report.
async fn scale_down(
    cluster: &Cluster,
    runs_ended: std::time::Instant,
) -> Result<(bool, ScaleDownRecord), Error> {
    let current = cluster.scale_replicas().await?;
    let min = cluster.hpa().await?.map(|h| checks::hpa_replicas(&h).0);
    let names = &cluster.names;
    let plan = cleanup::plan(
        &names.deployment,
        &cluster.namespace,
        current,
        None,
        min.map(|m| (names.hpa.as_str(), m)),
    );
    let before = pod_names(&cluster.pods().await?);
    let at = jiff::Timestamp::now();
    let after_runs_s = runs_ended.elapsed().as_secs_f64();
    let changed = plan.changes_something();
    if changed {
        cluster.set_scale_replicas(plan.target).await?;
    }
    let (pods, waited) = cleanup::wait_to_settle(cluster, plan.target, CLEANUP_WAIT).await?;
    let left = pod_names(&pods);
    let record = ScaleDownRecord {
        namespace: plan.namespace.clone(),
        deployment: plan.deployment.clone(),
        hpa: min.map(|_| names.hpa.clone()),
        from: plan.current,
        to: plan.target,
        at,
        after_runs_s,
        pods_removed: ScaleDownRecord::removed(&before, &left),
        pods_left: left,
        settled: cleanup::settled(&pods, plan.target),
        settled_after_s: waited.as_secs_f64(),
    };
    let report = CleanupReport {
        settled: record.settled,
        plan,
        dry_run: false,
        changed,
        waited_s: waited.as_secs_f64(),
        pods: cleanup::rows(&pods),
    };
    output::note(output::render_cleanup(&report, Format::Text, Style::plain()).trim_end());
    Ok((report.settled, record))
}

fn pod_names(pods: &[k8s_openapi::api::core::v1::Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}
