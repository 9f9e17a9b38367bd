//! `iris-lab sim` as a separate process, reached only through the kubeconfig it writes: the
//! other commands (verify, watch, load, cleanup) and kubectl against it, its faults as verify
//! reports them (the demo on it is in `demo.rs`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// A running `iris-lab sim`, stopped (SIGINT) when dropped.
pub(crate) struct SimProcess {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) kubeconfig: PathBuf,
    /// host:port of the Kubernetes API.
    api: String,
}

impl SimProcess {
    /// Starts `iris-lab sim` with `args` in a temp dir; waits for its kubeconfig.
    pub(crate) fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("sim.kubeconfig");
        let child = support::std_command()
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .arg("sim")
            .arg("--write-kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        let api = loop {
            if let Ok(text) = std::fs::read_to_string(&kubeconfig)
                && let Some(line) = text.lines().find(|l| l.contains("server: http://"))
            {
                break line
                    .trim()
                    .trim_start_matches("server: http://")
                    .to_string();
            }
            assert!(Instant::now() < end, "sim wrote no kubeconfig within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            dir,
            kubeconfig,
            api,
        }
    }

    /// iris-lab with this cluster's kubeconfig, in the sim's directory.
    pub(crate) fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = support::iris_lab(self.dir.path());
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .timeout(Duration::from_secs(90));
        c
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// GET on the simulated API, as JSON (plain HTTP/1.0 over a socket).
    fn get(&self, path: &str) -> Value {
        let mut s = std::net::TcpStream::connect(&self.api).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    fn hpa(&self) -> Value {
        self.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/iris-prediction-api-hpa")
    }

    /// Waits (bounded) until `ready` holds, checking a few times a second.
    fn wait_until(&self, what: &str, limit: Duration, ready: impl Fn(&Self) -> bool) {
        let end = Instant::now() + limit;
        while !ready(self) {
            assert!(Instant::now() < end, "{what}: not within {limit:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The HPA has read the pods' CPU (as a cluster that has run a while).
    pub(crate) fn wait_for_metrics(&self) {
        self.wait_until("the HPA's first metrics", Duration::from_secs(30), |s| {
            s.hpa()["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
                .is_i64()
        });
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fast settings: a pod Ready 3.5 s after creation (35 s x 0.1), syncs and metrics every
/// 1.5 s, 50 requests/s per core so that a few users overload two pods.
pub(crate) const FAST: &[&str] = &["--time-scale", "0.1", "--rps-per-core", "50"];

fn record(dir: &Path) -> Value {
    let runs = dir.join("runs");
    let file = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a record");
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn verify_watch_load_and_cleanup_pass_against_sim_as_separate_processes() {
    let sim = SimProcess::start(FAST);
    sim.wait_for_metrics();
    let out = sim.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("4/4 checks passed"), "{stdout}");

    let watch = support::std_command()
        .current_dir(sim.path())
        .env("NO_COLOR", "1")
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .args(["watch", "--duration", "12s", "--top-interval", "2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let load = sim
        .cmd(&[
            "load",
            "--users",
            "30",
            "--spawn-rate",
            "30",
            "--user-class",
            "HighLoadUser",
            "--duration",
            "10s",
            "--out-dir",
            "runs",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = support::texts(&load);
    assert_eq!(load.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 (0.00%)"), "{stdout}");
    let watched = support::output_within(watch, Duration::from_secs(30));
    let (watch_out, watch_err) = support::texts(&watched);
    assert_eq!(watched.status.code(), Some(0), "{watch_out}\n{watch_err}");
    assert!(watch_out.contains("SuccessfulRescale"), "{watch_out}");
    assert!(watch_out.contains(": ready, startup 3.5s"), "{watch_out}");

    // The record says the cluster was simulated, saw it scale, and measured new pods' start-up
    // as the settings say: scheduled 0.1 s, started 1.5 s, Ready 3.5 s after creation.
    let r = record(sim.path());
    let c = &r["cluster"];
    assert!(
        c["simulated"].as_array().is_some_and(|s| s.len() > 10),
        "{c}"
    );
    assert!(!c["scaling_events"].as_array().unwrap().is_empty(), "{c}");
    let started = c["pods_started"].as_array().unwrap();
    let ready: Vec<&Value> = started
        .iter()
        .filter(|p| p["ready_after_s"].is_f64())
        .collect();
    assert!(!ready.is_empty(), "{c}");
    for p in ready {
        for (field, setting) in [
            ("scheduled_after_s", 0.1),
            ("started_after_s", 1.5),
            ("ready_after_s", 3.5),
        ] {
            let got = p[field].as_f64().unwrap_or(f64::NAN);
            assert!(
                (got - setting).abs() <= 1.0,
                "{field} {got} vs {setting}: {p}"
            );
        }
    }

    // Phase 7: once the load has left the metrics, cleanup scales to minReplicas and settles.
    sim.wait_until("CPU below target", Duration::from_secs(30), |s| {
        s.hpa()["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
            .as_i64()
            .is_some_and(|u| u < 60)
    });
    let out = sim
        .cmd(&["cleanup", "--yes", "--wait", "30s"])
        .output()
        .unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let pods = sim.get("/api/v1/namespaces/default/pods");
    assert_eq!(pods["items"].as_array().unwrap().len(), 2, "{pods}");
}

#[test]
fn verify_says_what_is_wrong_with_a_broken_sim_as_on_gke() {
    let sim = SimProcess::start(&[
        "--time-scale",
        "0.1",
        "--pending-address",
        "--crashing-pods",
        "1",
        "--no-metrics",
    ]);
    // The HPA's first sync says it has no metrics.
    sim.wait_until("ScalingActive=False", Duration::from_secs(30), |s| {
        s.hpa()["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "ScalingActive" && c["status"] == "False")
            })
    });
    let out = sim.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for expected in [
        "external IP <pending>",
        "the load balancer is still being provisioned",
        "CrashLoopBackOff",
        "kubectl logs",
        "cpu: <unknown>/60%",
        "FailedGetResourceMetric",
        "metrics-server is missing or unhealthy",
        "0/4 checks passed",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
}

/// kubectl, when installed, on the objects the sim serves: get (tables), describe, top, scale,
/// and a watch that sees the new pods.
#[test]
fn kubectl_gets_describes_scales_tops_and_watches_the_sim() {
    let Ok(version) = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
    else {
        eprintln!("skipped: kubectl is not installed (.ci/run installs it where apt has it)");
        return;
    };
    assert!(version.status.success());
    let sim = SimProcess::start(&["--time-scale", "0.1"]);
    sim.wait_for_metrics();
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .env("KUBECONFIG", &sim.kubeconfig)
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = support::texts(&out);
        assert!(out.status.success(), "kubectl {args:?}: {stdout}\n{stderr}");
        stdout
    };
    let get = kubectl(&["get", "deploy,svc,hpa,pods"]);
    for expected in [
        "deployment.apps/iris-prediction-api   2/2",
        "LoadBalancer",
        "127.0.0.1",
        "Deployment/iris-prediction-api",
        "/60%",
        "Running",
    ] {
        assert!(get.contains(expected), "{expected:?} not in:\n{get}");
    }
    let describe = kubectl(&["describe", "hpa", "iris-prediction-api-hpa"]);
    assert!(
        describe.contains("Min replicas:") && describe.contains("ValidMetricFound"),
        "{describe}"
    );
    let top = kubectl(&["top", "pods"]);
    assert!(top.contains("CPU(cores)") && top.contains("96Mi"), "{top}");

    let mut watch = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &sim.kubeconfig)
        .args(["get", "pods", "-w", "--no-headers"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = watch_lines(&mut watch);
    let mut seen: Vec<String> = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    let names = |seen: &[String]| {
        seen.iter()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let watch_until = |n: usize, seen: &mut Vec<String>| {
        while names(seen).len() < n {
            let left = end.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("the watch saw only {seen:?}"),
            }
        }
    };
    // The scale only once the watch listed the two pods: the HPA (a 1.5 s sync at this time
    // scale) takes the new pods away again, and a kubectl slow to start on a busy machine
    // missed them.
    watch_until(2, &mut seen);
    let scaled = kubectl(&["scale", "deployment/iris-prediction-api", "--replicas", "4"]);
    assert!(scaled.contains("scaled"), "{scaled}");
    // The watch sees the two new pods come, not yet ready (the HPA, at 1% CPU, then scales
    // the Deployment back to 2, as a real one would).
    watch_until(4, &mut seen);
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(seen.iter().any(|l| l.contains("0/1")), "{seen:?}");
}

/// The child's stdout, line by line, as it comes.
fn watch_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    rx
}
