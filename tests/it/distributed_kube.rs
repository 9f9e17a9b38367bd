//! `load --workers N` on Kubernetes against the test API server, whose kubelet runs each
//! pod of the Indexed Job as a local `iris-lab worker` process: the Job, the merge from the
//! pods' logs, thresholds on the merge, the LoadBalancer warning, Ctrl-C deleting the Job,
//! RBAC refusals, and the `--dry-run` YAML validated against the schemas.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use iris_lab::record::Percentile;
use iris_lab::record::RunStatus;
use iris_lab::record::distributed::{Placement, WorkerStatus};
use serde_json::Value;

use crate::support::distributed::{
    assert_merged_exactly, assert_ran_the_scenario, merged_run, report_of, write_scenario,
};
use crate::support::{self, Lab, ServeProcess, output_within, wait_for_measured_seconds};

fn spawn(lab: &Lab, url: &str, args: &[&str]) -> Child {
    support::std_command()
        .current_dir(lab.dir.path())
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_HOST")
        .env_remove("KUBECONFIG")
        .arg("--kubeconfig")
        .arg(&lab.kubeconfig)
        .args(["load", "--host", url, "--no-cluster"])
        .args([
            "--wait",
            "0.02..0.05",
            "--spawn-rate",
            "100",
            "--image",
            "iris-lab:test",
        ])
        .args(["--worker-start-delay", "2s", "--yes"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn jobs_posted(lab: &Lab) -> Vec<support::kube_api::Recorded> {
    lab.api
        .requests()
        .into_iter()
        .filter(|r| r.uri.contains("/jobs"))
        .collect()
}

#[test]
fn three_pods_run_the_plan_and_merge_exactly() {
    let lab = Lab::new();
    let server = ServeProcess::start();
    // The target is the Service's LoadBalancer address: in-cluster workers bypass it.
    lab.api.put(support::service(Some("127.0.0.1")));
    let child = spawn(
        &lab,
        &server.url,
        &[
            "--users",
            "6",
            "--duration",
            "3s",
            "--workers",
            "3",
            "--max-p95",
            "10s",
        ],
    );
    let out = output_within(child, Duration::from_secs(90));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // The Job as created.
    let posted = jobs_posted(&lab);
    assert_eq!(posted[0].method, "POST", "{posted:?}");
    let job: Value = serde_json::from_str(&posted[0].body).unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["parallelism"], 3);
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "iris-lab:test"
    );
    // RBAC was checked first.
    let reviews = lab
        .api
        .requests()
        .iter()
        .filter(|r| r.uri.contains("selfsubjectaccessreviews"))
        .count();
    assert_eq!(reviews, 6);
    let (merged, parts) = merged_run(lab.dir.path());
    let d = merged.distributed.as_ref().unwrap();
    assert!(matches!(d.placement, Placement::Kubernetes { .. }));
    assert!(
        d.workers
            .iter()
            .all(|w| w.status == WorkerStatus::Completed),
        "{d:?}"
    );
    assert!(
        d.workers
            .iter()
            .all(|w| w.pod.is_some() && w.node.is_some()),
        "{d:?}"
    );
    assert!(d.warnings[0].contains("LoadBalancer"), "{:?}", d.warnings);
    assert!(
        stderr.contains("do not measure the load balancer"),
        "{stderr}"
    );
    assert_eq!(parts.len(), 3);
    assert_merged_exactly(&merged, &parts);
    assert!(merged.thresholds[0].passed);
    assert_eq!(
        Some(merged.thresholds[0].actual),
        merged.aggregate.percentile(Percentile::P95)
    );
    assert!(
        stdout.contains("pods of Job default/iris-lab-load-"),
        "{stdout}"
    );
    let text = report_of(lab.dir.path());
    assert!(
        text.contains("3 workers, pods of Job default/iris-lab-load-"),
        "{text}"
    );
    assert!(text.contains("do not measure the load balancer"), "{text}");
}

#[test]
fn the_pods_run_the_scenario_sent_in_their_plan() {
    let lab = Lab::new();
    let server = ServeProcess::start();
    // The file is in the controller's directory only: the pods run elsewhere, from their plan.
    write_scenario(lab.dir.path());
    let child = spawn(
        &lab,
        &server.url,
        &["--scenario", "scenario.yaml", "--workers", "2"],
    );
    let out = output_within(child, Duration::from_secs(90));
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // The Job's pods carry the settled plan, the scenario's class in it, as one variable.
    let posted = jobs_posted(&lab);
    let job: Value = serde_json::from_str(&posted[0].body).unwrap();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], serde_json::json!(["worker"]));
    let env = &container["env"][0];
    assert_eq!(env["name"], "IRIS_LAB_WORKER_PLAN");
    let order: iris_lab::pipeline::distributed::WorkerOrder =
        serde_json::from_str(env["value"].as_str().unwrap()).unwrap();
    assert_eq!(order.plan.load.class.name, "Checker");
    assert_eq!(order.workers, 2);
    let (merged, parts) = merged_run(lab.dir.path());
    assert_eq!(parts.len(), 2);
    assert_ran_the_scenario(&merged, &parts);
    assert_merged_exactly(&merged, &parts);
}

#[test]
fn ctrl_c_deletes_the_job_in_the_foreground_and_saves_what_was_measured() {
    let lab = Lab::new();
    let server = ServeProcess::start();
    let child = spawn(
        &lab,
        &server.url,
        &["--users", "4", "--duration", "60s", "--workers", "2"],
    );
    wait_for_measured_seconds(lab.dir.path(), 1);
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = output_within(child, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deletes: Vec<_> = jobs_posted(&lab)
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert!(deletes[0].body.contains("Foreground"), "{:?}", deletes[0]);
    let (merged, parts) = merged_run(lab.dir.path());
    assert_eq!(merged.status, RunStatus::Interrupted);
    assert_eq!(parts.len(), 2, "both pods sent what they measured");
    assert!(merged.aggregate.requests > 0);
}

#[test]
fn missing_permissions_are_listed_as_can_i_lines_and_nothing_is_created() {
    let lab = Lab::new();
    lab.api.deny("create", "batch/jobs");
    lab.api.deny("get", "pods/log");
    let out = lab
        .cmd(&[
            "load",
            "--host",
            "127.0.0.1:9",
            "--no-cluster",
            "--users",
            "4",
            "--workers",
            "2",
            "--image",
            "iris-lab:test",
            "--yes",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("`kubectl auth can-i create jobs.batch -n default`"),
        "{err}"
    );
    assert!(
        err.contains("`kubectl auth can-i get pods --subresource=log -n default`"),
        "{err}"
    );
    assert!(!err.contains("can-i delete"), "{err}");
    assert!(jobs_posted(&lab).is_empty(), "nothing created");
}

#[test]
fn dry_run_prints_a_job_and_a_role_that_validate_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::iris_lab(dir.path())
        .args([
            "load",
            "--host",
            "http://34.1.2.3",
            "--no-cluster",
            "--users",
            "10",
            "--workers",
            "3",
            "--image",
            "iris-lab:0.1.0",
            "--worker-cpu",
            "2",
            "--worker-memory",
            "1Gi",
            "--worker-node-selector",
            "pool=load",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<Value> =
        iris_lab::yaml::parse_yaml_documents(Path::new("<stdout>"), &text).unwrap();
    let kinds: Vec<&str> = docs.iter().map(crate::deploy::validate).collect();
    assert_eq!(kinds, ["Job", "Role"]);
    let pod = &docs[0]["spec"]["template"]["spec"];
    assert_eq!(pod["nodeSelector"]["pool"], "load");
    assert_eq!(pod["containers"][0]["resources"]["limits"]["cpu"], "2");
    assert!(!dir.path().join("iris-lab-runs").exists());
    // Without an image, it says what to add.
    let out = support::iris_lab(dir.path())
        .args([
            "load",
            "--host",
            "http://x",
            "--users",
            "4",
            "--workers",
            "2",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--image IMAGE"));
}
