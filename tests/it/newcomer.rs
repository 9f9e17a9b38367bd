//! A newcomer's first ten minutes, as one path and without a false alarm: `sim` started as
//! the README says, `verify` at once, `doctor`, `smoke`, a short `load`, `report`, each as its
//! own process through the kubeconfig `sim` wrote; and a host that accepts connections and
//! never answers, which `load` must not pass off as a run.

use std::net::TcpListener;
use std::time::Duration;

use crate::sim::SimProcess;
use crate::support;

/// The table rows of a text (`| a | b |`) whose verdict cell is FAIL.
fn failed_rows(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with('|') && l.split('|').any(|c| c.trim() == "FAIL"))
        .collect()
}

#[test]
fn the_readme_path_on_a_fresh_sim_raises_no_false_alarm() {
    // As the README: `iris-lab sim --time-scale 0.2 &`, then at once `iris-lab verify`.
    let sim = SimProcess::start(&["--time-scale", "0.2"]);
    let out = sim.cmd(&["verify"]).output().unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(failed_rows(&stdout).is_empty(), "{stdout}");
    // Either the metrics are there already, or verify says they are on their way and when.
    assert!(
        stdout.contains("4/4 checks passed")
            || (stdout.contains("WARN") && stdout.contains("metrics are still arriving")),
        "{stdout}"
    );

    // doctor on the healthy simulated cluster: metrics-server and its APIService as on GKE,
    // the Service's endpoints, and nothing FAILs (a WARN only while metrics arrive).
    let out = sim.cmd(&["doctor"]).output().unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(failed_rows(&stdout).is_empty(), "{stdout}");
    for check in [
        "metrics-server",
        "APIService v1beta1.metrics.k8s.io",
        "Endpoints",
    ] {
        let row = support::row(&stdout, check).unwrap_or_else(|| panic!("{check}:\n{stdout}"));
        assert_eq!(row[2], "PASS", "{check}: {row:?}\n{stdout}");
    }
    assert!(stdout.contains("0 failed"), "{stdout}");

    let out = sim.cmd(&["smoke"]).output().unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("3/3 checks passed"), "{stdout}");

    let out = sim
        .cmd(&[
            "load",
            "--users",
            "5",
            "--spawn-rate",
            "5",
            "--duration",
            "3s",
            "--out-dir",
            "runs",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");

    let out = sim.cmd(&["report", "--runs-dir", "runs"]).output().unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("no response"), "{stdout}");
    // The report's sections in the guide's order.
    let at = |h: &str| stdout.find(h).unwrap_or_else(|| panic!("{h}:\n{stdout}"));
    assert!(at("## 5. Where the time goes") < at("## 6.1 Performance comparison"));
    assert!(at("## 6.1 Performance comparison") < at("## 6.2 Bottlenecks"));
    // Warming up passed: the HPA has its metrics, and doctor now passes every check.
    let out = sim.cmd(&["doctor"]).output().unwrap();
    let (stdout, _) = support::texts(&out);
    if !stdout.contains("0 warnings") {
        // Only the metrics' arrival may still warn, and only while it is due.
        assert!(stdout.contains("metrics are still arriving"), "{stdout}");
    }
}

/// A host that accepts connections and never answers (what a hung pod or a blackholing proxy
/// does): `load` exits 1 and says so in one line pointing to `doctor`, and the report marks
/// the run instead of showing 0.0 ms.
#[test]
fn a_host_that_never_answers_fails_the_load_with_its_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    // Accepts and holds every connection until the test ends; never reads or writes.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(64) {
            held.extend(conn.ok());
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    let dir = tempfile::tempdir().unwrap();
    let out = support::iris_lab(dir.path())
        .args([
            "load",
            "--host",
            &host,
            "--users",
            "2",
            "--spawn-rate",
            "10",
            "--duration",
            "2s",
            "--no-cluster",
            "--out-dir",
            "runs",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("no request completed")
            && errors[0].contains("accepted connections but never answered")
            && errors[0].contains("iris-lab doctor"),
        "{stderr}"
    );
    let out = support::iris_lab(dir.path())
        .args(["report", "--runs-dir", "runs"])
        .output()
        .unwrap();
    let (report, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{report}\n{stderr}");
    assert!(
        report.contains("(no response: the host accepted connections but never answered)"),
        "{report}"
    );
    let avg = support::row(&report, "Avg Response Time").unwrap();
    assert_eq!(avg[1], "no response", "{report}");
    assert!(!report.contains("0.0 ms"), "{report}");
}
