//! `iris-lab verify` and host discovery against the test Kubernetes API server.

use crate::support;

use support::*;

#[test]
fn a_healthy_deployment_passes_every_check() {
    let lab = Lab::healthy();
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout
            .contains("Deployment iris-prediction-api: desired 2, updated 2, ready 2, available 2"),
        "{stdout}"
    );
    assert_eq!(
        row(&stdout, "iris-prediction-api-7d9f8-aaaaa").unwrap(),
        [
            "iris-prediction-api-7d9f8-aaaaa",
            "1/1",
            "Running",
            "0",
            "60m"
        ]
    );
    assert!(
        stdout.contains("external IP 34.1.2.3, ports 80:31234/TCP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("targets cpu: 15%/60%, min 2, max 15, current 2, desired 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ScalingActive True ValidMetricFound"),
        "{stdout}"
    );
    assert!(stdout.contains("Base URL: http://34.1.2.3/"), "{stdout}");
    assert!(stdout.contains("4/4 checks passed"), "{stdout}");
    // The token went to the server as a bearer header, and nowhere else.
    assert!(
        lab.api
            .requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}

#[test]
fn json_gives_the_same_as_data() {
    let lab = Lab::healthy();
    let out = lab.cmd(&["verify", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["checks"].as_array().unwrap().len(), 4);
    // Typed metrics in JSON (the text form `cpu: 15%/60%` is only for people).
    assert_eq!(
        v["hpa"]["targets"],
        serde_json::json!([{"name": "cpu", "current": {"utilization": 15}, "target": {"utilization": 60}}])
    );
    assert_eq!(v["service"]["external_ip"], EXTERNAL_IP);
    assert_eq!(v["base_url"], "http://34.1.2.3/");
    assert_eq!(v["pods"][0]["status"], "Running");
}

#[test]
fn a_pending_external_ip_fails_and_says_how_to_watch_it() {
    let lab = Lab::healthy();
    lab.api.put(service(None));
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("external IP <pending>"), "{stdout}");
    assert!(
        row(&stdout, "Service iris-prediction-api-service external IP").unwrap()[1] == "FAIL",
        "{stdout}"
    );
    assert!(stdout.contains("still being provisioned"), "{stdout}");
    assert!(
        stdout.contains("kubectl get svc iris-prediction-api-service -n default -w"),
        "{stdout}"
    );
    assert!(stdout.contains("Base URL: none yet"), "{stdout}");
}

#[test]
fn an_unknown_hpa_target_points_at_metrics_server() {
    let lab = Lab::healthy();
    lab.api.put(hpa(2, 2, None));
    lab.api.fail("metrics.k8s.io/pods", 503);
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("targets cpu: <unknown>/60%"), "{stdout}");
    assert!(
        stdout.contains("ScalingActive False FailedGetResourceMetric"),
        "{stdout}"
    );
    assert!(
        row(&stdout, "HPA iris-prediction-api-hpa metrics").unwrap()[1] == "FAIL",
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "metrics-server is missing or unhealthy (the metrics.k8s.io API does not answer"
        ),
        "{stdout}"
    );
}

#[test]
fn a_crash_looping_pod_shows_its_reason() {
    let lab = Lab::healthy();
    lab.api.put(crashloop_pod(
        "iris-prediction-api-7d9f8-ccccc",
        "OOMKilled",
        137,
    ));
    lab.api.put(unschedulable_pod(
        "iris-prediction-api-7d9f8-ddddd",
        "0/3 nodes are available: 3 Insufficient cpu.",
    ));
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        row(&stdout, "iris-prediction-api-7d9f8-ccccc").unwrap(),
        [
            "iris-prediction-api-7d9f8-ccccc",
            "0/1",
            "CrashLoopBackOff",
            "5",
            "20m"
        ]
    );
    assert!(
        stdout.contains("last exit OOMKilled (exit 137)"),
        "{stdout}"
    );
    assert_eq!(
        row(&stdout, "iris-prediction-api-7d9f8-ddddd").unwrap()[..3],
        ["iris-prediction-api-7d9f8-ddddd", "0/1", "Pending"]
    );
    assert!(
        stdout.contains("Pending, not scheduled: 0/3 nodes are available: 3 Insufficient cpu."),
        "{stdout}"
    );
    assert_eq!(row(&stdout, "Pods running and ready").unwrap()[1], "FAIL");
    assert!(stdout.contains("2/4 pods Running and Ready"), "{stdout}");
}

#[test]
fn forbidden_pods_name_the_verb_and_resource() {
    let lab = Lab::healthy();
    lab.api.deny("list", "pods");
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: forbidden (403): you may not list pods in namespace default"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kubectl auth can-i list pods -n default"),
        "{stderr}"
    );
}

#[test]
fn an_empty_namespace_fails_every_check_and_names_the_namespace() {
    let lab = Lab::new();
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("0/4 checks passed"), "{stdout}");
    assert!(
        row(&stdout, "Deployment iris-prediction-api").unwrap()[1] == "FAIL",
        "{stdout}"
    );
    assert!(
        stdout.contains("not found in namespace default"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no pods match app=iris-prediction-api in namespace default"),
        "{stdout}"
    );
}

#[test]
fn expired_credentials_are_one_line_without_the_token() {
    let lab = Lab::healthy();
    lab.api.require_token("a-fresh-token");
    let out = lab.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("rejected the credentials (401 Unauthorized)"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[test]
fn no_kubeconfig_unknown_context_and_unreachable_server_are_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = iris_lab(dir.path()).arg("verify").output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: no kubeconfig found"), "{stderr}");
    assert!(
        stderr.contains("--kubeconfig") && stderr.contains("KUBECONFIG"),
        "{stderr}"
    );

    let lab = Lab::healthy();
    let out = lab.cmd(&["verify", "--context", "prod"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("context \"prod\" is not in the kubeconfig (contexts: test)"),
        "{stderr}"
    );

    // KUBECONFIG is honoured; a port nobody listens on is unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let path = kubeconfig(
        dir.path(),
        &format!("http://127.0.0.1:{port}"),
        Auth::Token(TOKEN),
    );
    let out = iris_lab(dir.path())
        .env("KUBECONFIG", &path)
        .arg("verify")
        .output()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the Kubernetes API server at http://127.0.0.1:{port}/"
        )),
        "{stderr}"
    );
}

#[test]
fn gkes_exec_credential_plugin_supplies_a_bearer_token_that_is_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::healthy();
    let secret = "ya29.exec-plugin-token-XYZ";
    lab.api.require_token(secret);
    let plugin = lab.dir.path().join("gke-gcloud-auth-plugin");
    std::fs::write(&plugin, format!(
        "#!/bin/sh\necho '{{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"spec\":{{}},\"status\":{{\"expirationTimestamp\":\"2099-01-01T00:00:00Z\",\"token\":\"{secret}\"}}}}'\n"
    )).unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = kubeconfig(lab.dir.path(), &lab.api.url, Auth::Exec(&plugin));
    let out = iris_lab(lab.dir.path())
        .arg("--kubeconfig")
        .arg(&config)
        .arg("verify")
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let requests = lab.api.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {secret}") as &str))
    );
    assert!(!stdout.contains(secret) && !stderr.contains(secret));

    // A plugin that fails: one error line naming it, with the install hint, and never its
    // stdout. (Its own stderr reaches the user's terminal directly, as with kubectl.)
    std::fs::write(&plugin, format!("#!/bin/sh\necho 'token {secret}'\necho 'ERROR: gcloud auth login required' >&2\nexit 1\n")).unwrap();
    let out = iris_lab(lab.dir.path())
        .arg("--kubeconfig")
        .arg(&config)
        .arg("verify")
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("could not run the credential plugin"),
        "{stderr}"
    );
    assert!(errors[0].contains("gke-gcloud-auth-plugin"), "{stderr}");
    assert!(
        errors[0].contains("gcloud components install gke-gcloud-auth-plugin"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(secret) && !stdout.contains(secret),
        "{stderr}"
    );

    // A plugin that is not installed.
    std::fs::remove_file(&plugin).unwrap();
    let out = iris_lab(lab.dir.path())
        .arg("--kubeconfig")
        .arg(&config)
        .arg("verify")
        .output()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("No such file"), "{stderr}");
}

/// `iris-lab serve` on a free loopback port; killed when dropped.
struct Serve(std::process::Child, u16);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve() -> Serve {
    use std::io::BufRead;
    let mut child = std::process::Command::new(support::binary())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    Serve(child, port)
}

#[test]
fn smoke_without_host_takes_the_services_external_ip_and_says_so() {
    let server = serve();
    let lab = Lab::healthy();
    lab.api
        .update("services", "iris-prediction-api-service", |svc| {
            svc["status"]["loadBalancer"]["ingress"][0]["ip"] = "127.0.0.1".into();
            svc["spec"]["ports"][0]["port"] = server.1.into();
        });
    let out = lab.cmd(&["smoke"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "using http://127.0.0.1:{}/ (external IP of Service iris-prediction-api-service in namespace default); pass --host to override",
            server.1
        )
    );
    assert!(stdout.contains("3/3 checks passed"), "{stdout}");
}

#[test]
fn no_host_and_no_cluster_names_both_ways_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = iris_lab(dir.path()).arg("smoke").output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("pass --host URL"), "{stderr}");
    assert!(stderr.contains("give iris-lab a cluster"), "{stderr}");
    assert!(stderr.contains("no kubeconfig found"), "{stderr}");

    // A cluster whose Service has no external IP yet: the same two ways out, and why.
    let lab = Lab::healthy();
    lab.api.put(service(None));
    let out = lab.cmd(&["smoke"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("has no external IP yet"), "{stderr}");
    assert!(stderr.contains("pass --host URL"), "{stderr}");
}

#[test]
fn a_hanging_api_server_is_one_line_after_the_kube_timeout() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &url, Auth::Token(TOKEN));
    let started = std::time::Instant::now();
    let out = iris_lab(dir.path())
        .arg("--kubeconfig")
        .arg(&config)
        .args(["verify", "--kube-timeout", "1s"])
        .output()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        stderr.trim(),
        format!(
            "error: the API server at {url}/ did not answer within 1s (to get deployments iris-prediction-api in namespace default); check the cluster's health, or raise --kube-timeout"
        )
    );
    drop(listener);
}
