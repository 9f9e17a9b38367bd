//! verify's report, watch's lines and cleanup's plan and result.

use std::io::Write;
use std::time::Duration;

use comfy_table::Cell;

use super::{Format, Style, to_json};
use iris_base::units::format_duration;
use iris_cluster::TargetNames;
use iris_cluster::checks::PodRow;
use iris_cluster::cleanup::{CleanupPlan, CleanupReport};
use iris_cluster::metrics::PodUsage;
use iris_cluster::verify::VerifyReport;
use iris_cluster::watch::{ClusterEvent, EventKind, StartupLatency};

/// The pods as `kubectl get pods` lists them.
pub fn pods_table(pods: &[PodRow], style: Style) -> String {
    let mut table = style.table(&["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    for p in pods {
        table.add_row(vec![
            Cell::new(&p.name),
            Cell::new(&p.ready),
            Cell::new(&p.status),
            Cell::new(p.restarts),
            Cell::new(&p.age),
        ]);
    }
    table.to_string()
}

pub fn render_verify(r: &VerifyReport, format: Format, style: Style) -> String {
    if format == Format::Json {
        return to_json(r);
    }
    let mut out = format!("Cluster {} namespace {}\n\n", r.server, r.namespace);
    render_deployment_and_pods(&mut out, r, style);
    render_service_and_hpa(&mut out, r);
    render_checks(&mut out, r, style);
    out
}

fn render_deployment_and_pods(out: &mut String, r: &VerifyReport, style: Style) {
    match &r.deployment {
        Some(d) => out.push_str(&format!(
            "Deployment {}: desired {}, updated {}, ready {}, available {}\n",
            d.name, d.replicas.desired, d.replicas.updated, d.replicas.ready, d.replicas.available
        )),
        None => out.push_str("Deployment: not found\n"),
    }
    if r.pods.is_empty() {
        out.push_str(&format!("Pods ({}): none\n", r.selector));
    } else {
        out.push_str(&format!(
            "Pods ({}):\n{}\n",
            r.selector,
            pods_table(&r.pods, style)
        ));
        for p in r.pods.iter().filter(|p| p.problem.is_some()) {
            out.push_str(&format!(
                "  {}: {}\n",
                p.name,
                p.problem.as_deref().unwrap_or("")
            ));
        }
    }
}

/// The Service, the HPA with its conditions, the metrics API and the base URL.
fn render_service_and_hpa(out: &mut String, r: &VerifyReport) {
    match &r.service {
        Some(s) => out.push_str(&format!(
            "Service {}: type {}, cluster IP {}, external IP {}, ports {}\n",
            s.name,
            s.kind,
            s.cluster_ip,
            s.external_ip.as_deref().unwrap_or("<pending>"),
            s.ports
        )),
        None => out.push_str("Service: not found\n"),
    }
    match &r.hpa {
        Some(h) => {
            out.push_str(&format!(
                "HPA {}: targets {}, min {}, max {}, current {}, desired {}\n",
                h.name, h.targets, h.min, h.max, h.current, h.desired
            ));
            for c in &h.conditions {
                out.push_str(&format!(
                    "  {} {}{}\n",
                    c.kind,
                    c.status,
                    reason_and_message(&c.reason, &c.message)
                ));
            }
        }
        None => out.push_str("HPA: not found\n"),
    }
    out.push_str(&format!("metrics.k8s.io: {}\n", r.metrics_api.detail));
    out.push_str(&format!(
        "Base URL: {}\n\n",
        r.base_url.as_deref().unwrap_or("none yet (no external IP)")
    ));
}

/// The checklist, the remedies of what failed, and the count.
fn render_checks(out: &mut String, r: &VerifyReport, style: Style) {
    let mut table = style.table(&["CHECK", "VERDICT", "DETAIL"]);
    for c in &r.checks {
        table.add_row(vec![
            Cell::new(&c.name),
            style.verdict(c.passed),
            Cell::new(&c.detail),
        ]);
    }
    out.push_str(&format!("{table}\n"));
    for c in r.checks.iter().filter(|c| !c.passed) {
        out.push_str(&format!(
            "- {}: {}\n",
            c.name,
            c.remedy.as_deref().unwrap_or("")
        ));
    }
    let passed = r.checks.iter().filter(|c| c.passed).count();
    out.push_str(&format!("{passed}/{} checks passed\n", r.checks.len()));
}

/// The line `watch` says first, on stderr.
pub fn render_watch_header(
    namespace: &str,
    names: &TargetNames,
    duration: Option<Duration>,
) -> String {
    let until = duration.map_or_else(
        || "until Ctrl-C".to_string(),
        |d| format!("for {}", format_duration(d)),
    );
    format!(
        "watching pods {}, HPA {} and events in namespace {namespace} {until}",
        names.selector, names.hpa
    )
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |s| format!("{s:.1}s"))
}

fn startup(l: &StartupLatency) -> String {
    format!(
        "startup {} (scheduled +{}, started +{}, ready +{}, seen +{:.1}s)",
        secs(l.ready_s),
        secs(l.scheduled_s),
        secs(l.started_s),
        secs(l.ready_s),
        l.observed_s
    )
}

fn top_table(pods: &[PodUsage]) -> String {
    let mut table =
        Style::plain().table(&["POD", "CPU(cores)", "CPU(% of request)", "MEMORY(bytes)"]);
    for p in pods {
        table.add_row(vec![
            Cell::new(&p.pod),
            Cell::new(format!("{:.0}m", p.cpu_millis)),
            Cell::new(
                p.cpu_percent_of_request
                    .map_or("-".into(), |v| format!("{v:.0}%")),
            ),
            Cell::new(format!("{:.0}Mi", p.memory_bytes / 1048576.0)),
        ]);
    }
    table.to_string()
}

/// The words of one event, without its timestamp.
pub fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::PodSeen { pod, ready, status } => format!("pod {pod}: {status}, ready {ready}"),
        EventKind::PodCreated { pod } => format!("pod {pod}: created"),
        EventKind::PodLine {
            pod,
            ready,
            status,
            restarts,
            age,
        } => format!("pod {pod}: {ready} {status} {restarts} {age}"),
        EventKind::PodScheduled { pod, node } => {
            format!("pod {pod}: scheduled on {}", node.as_deref().unwrap_or("?"))
        }
        EventKind::PodStarted { pod } => format!("pod {pod}: containers started"),
        EventKind::PodReady {
            pod,
            startup: Some(l),
        } => format!("pod {pod}: ready, {}", startup(l)),
        EventKind::PodReady { pod, startup: None } => format!("pod {pod}: ready"),
        EventKind::PodNotReady { pod, status } => format!("pod {pod}: not ready ({status})"),
        EventKind::PodStatus {
            pod,
            from,
            to,
            problem,
        } => pod_status(pod, from, to, problem.as_deref()),
        EventKind::PodRestarted {
            pod,
            restarts,
            reason,
        } => pod_restarted(pod, restarts, reason.as_deref()),
        EventKind::PodDeleted { pod } => format!("pod {pod}: deleted"),
        EventKind::PodFacts { pod, facts } => pod_facts(pod, facts),
        EventKind::HpaSpec { hpa, spec } => hpa_spec(hpa, spec),
        EventKind::HpaSeen {
            hpa,
            current,
            desired,
            min,
            max,
            targets,
        } => format!(
            "hpa {hpa}: replicas {current} (desired {desired}, min {min}, max {max}), targets {targets}"
        ),
        EventKind::HpaReplicas {
            hpa,
            from,
            current,
            desired,
        } => format!("hpa {hpa}: replicas {from} -> {current}, desired {desired}"),
        EventKind::HpaTargets { hpa, from, to } => format!("hpa {hpa}: targets {from} -> {to}"),
        EventKind::HpaCondition {
            hpa,
            condition,
            status,
            reason,
            message,
        } => format!(
            "hpa {hpa}: {condition}={status}{}",
            reason_and_message(reason, message)
        ),
        EventKind::Kube {
            object,
            kind,
            reason,
            message,
        } => format!("event {kind} {reason} {object}: {message}"),
        EventKind::Top { pods } if pods.is_empty() => "top: no pod metrics yet".into(),
        EventKind::Top { pods } => format!("top:\n{}", top_table(pods)),
        EventKind::TopUnavailable { reason } => format!("top: pod metrics unavailable: {reason}"),
        EventKind::WatchInterrupted { what, error } => {
            format!("watch of {what} interrupted ({error}); resuming with backoff")
        }
        EventKind::WatchResumed { what } => format!("watch of {what} resumed"),
    }
}

fn pod_restarted(pod: &str, restarts: impl std::fmt::Display, reason: Option<&str>) -> String {
    let last = reason
        .map(|r| format!(", last exit {r}"))
        .unwrap_or_default();
    format!("pod {pod}: restarted ({restarts} restarts{last})")
}

fn pod_status(pod: &str, from: &str, to: &str, problem: Option<&str>) -> String {
    match problem {
        Some(p) => {
            let p = p.strip_prefix(&format!("{to}: ")).unwrap_or(p);
            format!("pod {pod}: {from} -> {to}: {p}")
        }
        None => format!("pod {pod}: {from} -> {to}"),
    }
}

fn pod_facts(pod: &str, facts: &iris_cluster::facts::PodFacts) -> String {
    format!(
        "pod {pod}: on {}, {}",
        facts.node.as_deref().unwrap_or("no node yet"),
        facts
            .images
            .iter()
            .map(|i| i.image_id.as_deref().unwrap_or(&i.image))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn hpa_spec(
    hpa: &str,
    spec: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec,
) -> String {
    format!(
        "hpa {hpa}: spec minReplicas {} maxReplicas {}, {} metric(s), behavior {}",
        spec.min_replicas.unwrap_or(1),
        spec.max_replicas,
        spec.metrics.as_ref().map_or(0, Vec::len),
        if spec.behavior.is_some() {
            "set"
        } else {
            "default"
        }
    )
}

/// One event: a timestamped line (text) or one JSON object per line.
pub fn render_watch_event(event: &ClusterEvent, format: Format, _style: Style) -> String {
    match format {
        Format::Json => {
            let mut line = serde_json::to_string(event).unwrap_or_default();
            line.push('\n');
            line
        }
        // lib::run refuses html for every command but report and demo.
        Format::Text | Format::Html => {
            let at = event
                .at
                .to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S");
            format!("{at} {}\n", describe(&event.kind))
        }
    }
}

pub fn render_cleanup_plan(plan: &CleanupPlan, dry_run: bool) -> String {
    let mut out = format!(
        "deployment {} in namespace {}: replicas {} -> {}",
        plan.deployment, plan.namespace, plan.current, plan.target
    );
    if let Some(min) = plan.hpa_min_replicas {
        out.push_str(&format!(" (HPA minReplicas {min})"));
    }
    out.push('\n');
    if let Some(w) = &plan.warning {
        out.push_str(&format!("warning: {w}\n"));
    }
    if !plan.changes_something() {
        out.push_str(&format!(
            "already at {} replicas: nothing to change\n",
            plan.target
        ));
    } else if dry_run {
        out.push_str("dry run: nothing changed\n");
    }
    out
}

pub fn render_cleanup(r: &CleanupReport, format: Format, style: Style) -> String {
    if format == Format::Json {
        return to_json(r);
    }
    let mut out = String::new();
    if r.changed {
        out.push_str(&format!(
            "scaled {} to {} replicas\n",
            r.plan.deployment, r.plan.target
        ));
    }
    if !r.dry_run {
        out.push_str(&if r.settled {
            format!(
                "pods settled at {} after {:.0}s\n",
                r.plan.target, r.waited_s
            )
        } else {
            format!(
                "pods not settled at {} after {:.0}s (still starting or terminating)\n",
                r.plan.target, r.waited_s
            )
        });
    }
    out.push_str(&pods_table(&r.pods, style));
    out.push('\n');
    out
}

/// Asks a yes/no question on the terminal; only `y`/`yes` is yes.
pub fn ask_yes_no(question: &str) -> std::io::Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// ` Reason: message`, without a dangling colon (or space) when either is empty.
fn reason_and_message(reason: &str, message: &str) -> String {
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!(" {reason}: {message}"),
        (false, true) => format!(" {reason}"),
        (true, false) => format!(" {message}"),
        (true, true) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_cluster::checks::{ConditionView, ReplicaCounts};
    use iris_cluster::verify::{
        Check, DeploymentView, HpaView, MetricsApi, ServiceView, build_checks,
    };

    fn report() -> VerifyReport {
        let mut r = VerifyReport {
            server: "https://34.0.0.1/".into(),
            namespace: "default".into(),
            selector: "app=iris-prediction-api".into(),
            deployment: Some(DeploymentView {
                name: "iris-prediction-api".into(),
                replicas: ReplicaCounts { desired: 2, updated: 2, ready: 1, available: 1 },
            }),
            pods: vec![
                PodRow {
                    name: "iris-prediction-api-7d9f8-aaaaa".into(),
                    ready: "1/1".into(),
                    status: "Running".into(),
                    restarts: 0,
                    age: "3h2m".into(),
                    healthy: true,
                    problem: None,
                },
                PodRow {
                    name: "iris-prediction-api-7d9f8-bbbbb".into(),
                    ready: "0/1".into(),
                    status: "CrashLoopBackOff".into(),
                    restarts: 7,
                    age: "20m".into(),
                    healthy: false,
                    problem: Some("CrashLoopBackOff: last exit OOMKilled (exit 137): the container ran out of memory; raise its memory limit".into()),
                },
            ],
            service: Some(ServiceView {
                name: "iris-prediction-api-service".into(),
                kind: "LoadBalancer".into(),
                cluster_ip: "10.8.0.10".into(),
                external_ip: None,
                ports: "80:31234/TCP".into(),
            }),
            hpa: Some(HpaView {
                name: "iris-prediction-api-hpa".into(),
                min: 2,
                max: 15,
                current: 2,
                desired: 2,
                targets: iris_cluster::checks::HpaTargets::cpu_utilization(None, Some(60)),
                conditions: vec![ConditionView {
                    kind: "ScalingActive".into(),
                    status: "False".into(),
                    reason: "FailedGetResourceMetric".into(),
                    message: "no metrics returned from resource metrics API".into(),
                }],
            }),
            metrics_api: MetricsApi { answers: false, detail: "does not answer: 503".into() },
            base_url: None,
            checks: Vec::<Check>::new(),
            passed: false,
        };
        r.checks = build_checks(&r, &TargetNames::for_app("iris-prediction-api"));
        r
    }

    #[test]
    fn verify_text_has_objects_pods_checklist_and_remedies() {
        insta::assert_snapshot!(render_verify(&report(), Format::Text, Style::plain()));
    }

    #[test]
    fn a_condition_without_a_message_has_no_dangling_colon() {
        let mut r = report();
        let hpa = r.hpa.as_mut().unwrap();
        hpa.conditions = vec![ConditionView {
            kind: "AbleToScale".into(),
            status: "True".into(),
            reason: "ReadyForNewScale".into(),
            message: String::new(),
        }];
        let text = render_verify(&r, Format::Text, Style::plain());
        assert!(
            text.lines()
                .any(|l| l == "  AbleToScale True ReadyForNewScale"),
            "{text}"
        );
        let line = render_watch_event(
            &ClusterEvent {
                at: "2026-01-01T00:00:00Z".parse().unwrap(),
                kind: EventKind::HpaCondition {
                    hpa: "h".into(),
                    condition: "AbleToScale".into(),
                    status: "True".into(),
                    reason: "ReadyForNewScale".into(),
                    message: String::new(),
                },
            },
            Format::Text,
            Style::plain(),
        );
        assert!(
            line.trim_end()
                .ends_with("AbleToScale=True ReadyForNewScale"),
            "{line}"
        );
    }

    #[test]
    fn verify_json_is_the_same_data() {
        let v: serde_json::Value =
            serde_json::from_str(&render_verify(&report(), Format::Json, Style::plain())).unwrap();
        assert_eq!(v["checks"].as_array().unwrap().len(), 4);
        assert_eq!(v["service"]["type"], "LoadBalancer");
        assert_eq!(v["service"]["external_ip"], serde_json::Value::Null);
        assert_eq!(v["pods"][1]["restarts"], 7);
    }

    #[test]
    fn every_event_reads_as_one_line_or_a_table() {
        let latency = StartupLatency {
            scheduled_s: Some(1.0),
            started_s: Some(12.5),
            ready_s: Some(38.0),
            observed_s: 38.4,
        };
        let kinds = vec![
            EventKind::PodCreated { pod: "p".into() },
            EventKind::PodScheduled {
                pod: "p".into(),
                node: Some("n".into()),
            },
            EventKind::PodStarted { pod: "p".into() },
            EventKind::PodReady {
                pod: "p".into(),
                startup: Some(latency),
            },
            EventKind::PodReady {
                pod: "q".into(),
                startup: None,
            },
            EventKind::PodNotReady {
                pod: "q".into(),
                status: "Running".into(),
            },
            EventKind::PodStatus {
                pod: "q".into(),
                from: "Running".into(),
                to: "CrashLoopBackOff".into(),
                problem: Some("CrashLoopBackOff: ...".into()),
            },
            EventKind::PodRestarted {
                pod: "q".into(),
                restarts: 3,
                reason: Some("OOMKilled".into()),
            },
            EventKind::PodDeleted { pod: "q".into() },
            EventKind::HpaReplicas {
                hpa: "h".into(),
                from: 2,
                current: 5,
                desired: 5,
            },
            EventKind::HpaTargets {
                hpa: "h".into(),
                from: iris_cluster::checks::HpaTargets::cpu_utilization(Some(95), Some(60)),
                to: iris_cluster::checks::HpaTargets::cpu_utilization(Some(41), Some(60)),
            },
            EventKind::HpaCondition {
                hpa: "h".into(),
                condition: "ScalingLimited".into(),
                status: "True".into(),
                reason: "TooManyReplicas".into(),
                message: "the desired replica count is more than the maximum replica count".into(),
            },
            EventKind::Kube {
                object: "HorizontalPodAutoscaler/h".into(),
                kind: "Normal".into(),
                reason: "SuccessfulRescale".into(),
                message: "New size: 5".into(),
            },
            EventKind::Top {
                pods: vec![PodUsage {
                    pod: "p".into(),
                    cpu_millis: 152.4,
                    cpu_percent_of_request: Some(76.2),
                    memory_bytes: 115343360.0,
                    window_s: None,
                    window_end: None,
                }],
            },
            EventKind::WatchInterrupted {
                what: "pods".into(),
                error: "connection lost: reset".into(),
            },
            EventKind::WatchResumed {
                what: "pods".into(),
            },
        ];
        let text: Vec<String> = kinds.iter().map(describe).collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    #[test]
    fn the_cleanup_plan_says_what_changes() {
        let plan = CleanupPlan {
            deployment: "d".into(),
            namespace: "n".into(),
            current: 5,
            target: 1,
            hpa_min_replicas: Some(2),
            warning: Some("1 is below ...".into()),
        };
        assert_eq!(
            render_cleanup_plan(&plan, true),
            "deployment d in namespace n: replicas 5 -> 1 (HPA minReplicas 2)\nwarning: 1 is below ...\ndry run: nothing changed\n"
        );
        let same = CleanupPlan {
            current: 2,
            target: 2,
            warning: None,
            hpa_min_replicas: None,
            ..plan
        };
        assert_eq!(
            render_cleanup_plan(&same, false),
            "deployment d in namespace n: replicas 2 -> 2\nalready at 2 replicas: nothing to change\n"
        );
    }
}
