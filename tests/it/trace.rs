//! `iris-lab trace` against the fake Cloud Trace API and token endpoint in `tests/support`:
//! credentials (a generated service-account key whose `token_uri` is the fake, and
//! `GOOGLE_OAUTH_ACCESS_TOKEN`), paging, the window and filter, each error class, and the span
//! analysis in `trace` and `report`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use support::cloud_trace::{
    Canned, FakeCloudTrace, PROJECT, SA_EMAIL, SA_TOKEN, TRACE_SCOPE, prediction_trace,
};

const USER_TOKEN: &str = "ya29.user-token-from-env";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runs")
        .join(name)
}

/// A runs directory with one record (the named fixture), started at `start`.
fn runs_dir(name: &str, start: Timestamp, file: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    v["started_at"] = json!(start.to_string());
    v["ended_at"] = json!((start + SignedDuration::from_secs(8)).to_string());
    v["params"]["timeout_s"] = json!(2.0);
    let runs = dir.path().join("iris-lab-runs");
    std::fs::create_dir(&runs).unwrap();
    let path = runs.join(file);
    std::fs::write(&path, v.to_string()).unwrap();
    (dir, path)
}

fn trace_id(i: u32) -> String {
    format!("{:032x}", 0xabc0_0000_u128 + u128::from(i))
}

/// Runs the binary with a clean Google environment pointed at the fake.
async fn iris_lab(
    fake: &FakeCloudTrace,
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut cmd = support::command();
    cmd.current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", dir.join("no-bin"))
        .env("IRIS_LAB_CLOUD_TRACE_URL", fake.url.as_str())
        .envs(env.iter().copied())
        .args(args)
        .timeout(std::time::Duration::from_secs(60));
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_ok(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    stdout
}

/// The one error line of a failed run.
fn error_line(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert_ne!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_string()
}

const TOKEN_ENV: (&str, &str) = ("GOOGLE_OAUTH_ACCESS_TOKEN", USER_TOKEN);

#[tokio::test(flavor = "multi_thread")]
async fn a_service_account_key_gets_a_token_from_its_token_uri() {
    let fake = FakeCloudTrace::start().await;
    let start = Timestamp::now() - SignedDuration::from_secs(600);
    let (dir, record) = runs_dir("150u.json", start, "run.json");
    fake.add_traces([prediction_trace(
        &trace_id(1),
        start + SignedDuration::from_secs(1),
        12.5,
        3.0,
        7.25,
        json!({"/http/status_code": "200"}),
    )]);
    let key = dir.path().join("sa-key.json");
    fake.write_key_file(&key);
    let out = iris_lab(
        &fake,
        dir.path(),
        &[("GOOGLE_APPLICATION_CREDENTIALS", key.to_str().unwrap())],
        &["trace", record.to_str().unwrap(), "--gcp-project", PROJECT],
    )
    .await;
    assert_eq!(*fake.state.rejected.lock().unwrap(), Vec::<String>::new());
    let stdout = assert_ok(&out);
    let assertions = fake.state.assertions.lock().unwrap().clone();
    assert_eq!(
        assertions,
        [(
            SA_EMAIL.to_string(),
            TRACE_SCOPE.to_string(),
            format!("{}token", fake.url)
        )]
    );
    assert_eq!(
        fake.lists()[0].authorization.as_deref(),
        Some(format!("Bearer {SA_TOKEN}").as_str())
    );
    assert!(
        stdout.contains("12.5 ms") && stdout.contains("7.2 ms"),
        "{stdout}"
    );
    // The token and the key never leave the process.
    let saved = std::fs::read_to_string(dir.path().join("iris-lab-runs/run.traces.json")).unwrap();
    for place in [&stdout, &text(&out).1, &saved] {
        assert!(!place.contains(SA_TOKEN) && !place.contains("PRIVATE KEY"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_are_followed_within_the_window_and_filter_then_saved_and_reused() {
    let fake = FakeCloudTrace::start().await;
    fake.accept_token(USER_TOKEN);
    fake.set_max_page(2);
    let start = Timestamp::now() - SignedDuration::from_secs(600);
    let (dir, record) = runs_dir("150u.json", start, "run.json");
    let at = |s: i64| start + SignedDuration::from_secs(s);
    fake.add_traces((0..5).map(|i| {
        prediction_trace(
            &trace_id(i),
            at(1 + i64::from(i)),
            10.0 + f64::from(i),
            2.0,
            5.0,
            json!({}),
        )
    }));
    // Outside the window (the run lasts 8 s, plus a 2 s timeout), and a health check root.
    fake.add_traces([
        prediction_trace(&trace_id(90), at(-60), 500.0, 2.0, 5.0, json!({})),
        prediction_trace(&trace_id(91), at(11), 500.0, 2.0, 5.0, json!({})),
        json!({"traceId": trace_id(92), "spans": [support::cloud_trace::span(5, None, "health_check", at(2), 1.0, json!({}))]}),
    ]);
    let args = ["trace", record.to_str().unwrap(), "--gcp-project", PROJECT];
    let stdout = assert_ok(&iris_lab(&fake, dir.path(), &[TOKEN_ENV], &args).await);
    let lists = fake.lists();
    let tokens: Vec<Option<&str>> = lists
        .iter()
        .map(|l| l.query.get("pageToken").map(String::as_str))
        .collect();
    assert_eq!(tokens, [None, Some("offset-2"), Some("offset-4")]);
    let q = &lists[0].query;
    assert_eq!(q["startTime"].parse::<Timestamp>().unwrap(), start);
    assert_eq!(q["endTime"].parse::<Timestamp>().unwrap(), at(10));
    assert_eq!(q["filter"], "root:prediction_request");
    assert_eq!(q["view"], "COMPLETE");
    assert_eq!(lists[0].project, PROJECT);
    assert!(stdout.contains("5 traces, 15 spans"), "{stdout}");
    assert!(stdout.contains("14.0 ms"), "{stdout}");
    assert!(!stdout.contains("500.0 ms"), "{stdout}");

    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("iris-lab-runs/run.traces.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["traces"].as_array().unwrap().len(), 5);
    assert!(
        saved["fetched_at"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .is_ok()
    );

    // Saved traces are used offline (no project, no request), until --refresh.
    let again =
        assert_ok(&iris_lab(&fake, dir.path(), &[], &["trace", record.to_str().unwrap()]).await);
    assert!(again.contains("saved, fetched"), "{again}");
    assert_eq!(fake.lists().len(), 3);
    let mut refresh = args.to_vec();
    refresh.push("--refresh");
    assert_ok(&iris_lab(&fake, dir.path(), &[TOKEN_ENV], &refresh).await);
    assert_eq!(fake.lists().len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_traces_bounds_the_fetch_and_says_so() {
    let fake = FakeCloudTrace::start().await;
    fake.accept_token(USER_TOKEN);
    let start = Timestamp::now() - SignedDuration::from_secs(600);
    let (dir, record) = runs_dir("150u.json", start, "run.json");
    fake.add_traces((0..5).map(|i| {
        prediction_trace(
            &trace_id(i),
            start + SignedDuration::from_secs(1),
            10.0,
            2.0,
            5.0,
            json!({}),
        )
    }));
    let args = [
        "trace",
        record.to_str().unwrap(),
        "--gcp-project",
        PROJECT,
        "--max-traces",
        "3",
        "--format",
        "json",
    ];
    let stdout = assert_ok(&iris_lab(&fake, dir.path(), &[TOKEN_ENV], &args).await);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["runs"][0]["reached_max"], true);
    assert_eq!(v["runs"][0]["analysis"]["traces"], 3);
    assert_eq!(fake.lists()[0].query["pageSize"], "3");
    let mut text_args = args[..6].to_vec();
    text_args.push("--refresh");
    let stdout = assert_ok(&iris_lab(&fake, dir.path(), &[TOKEN_ENV], &text_args).await);
    assert!(stdout.contains("Reached --max-traces 3"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_error_class_is_one_line_that_says_what_to_do() {
    let fake = FakeCloudTrace::start().await;
    fake.accept_token(USER_TOKEN);
    let start = Timestamp::now() - SignedDuration::from_secs(600);
    let (dir, record) = runs_dir("150u.json", start, "run.json");
    let run = |project: &'static str| {
        let record = record.to_str().unwrap().to_string();
        let fake = &fake;
        let dir = dir.path().to_path_buf();
        async move {
            iris_lab(
                fake,
                &dir,
                &[TOKEN_ENV],
                &["trace", &record, "--gcp-project", project],
            )
            .await
        }
    };

    fake.push_canned(Canned::status(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        None,
    ));
    let line = error_line(&run(PROJECT).await);
    for part in [
        "HTTP 403",
        "cloudtrace.traces.list",
        "roles/cloudtrace.user",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        PROJECT,
        "PERMISSION_DENIED",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!line.contains(USER_TOKEN), "{line}");

    let other = error_line(
        &iris_lab(
            &fake,
            dir.path(),
            &[("GOOGLE_OAUTH_ACCESS_TOKEN", "wrong")],
            &["trace", record.to_str().unwrap(), "--gcp-project", PROJECT],
        )
        .await,
    );
    assert!(
        other.contains("HTTP 401") && other.contains("cloudtrace.traces.list"),
        "{other}"
    );

    let line = error_line(&run("no-such-project").await);
    assert!(
        line.contains("no project no-such-project (HTTP 404)") && line.contains("--gcp-project"),
        "{line}"
    );

    // 429 then 503, each asking for a second: waited for, then the answer.
    fake.add_traces([prediction_trace(
        &trace_id(1),
        start + SignedDuration::from_secs(1),
        10.0,
        2.0,
        5.0,
        json!({}),
    )]);
    fake.push_canned(Canned::status(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded",
        Some("1"),
    ));
    fake.push_canned(Canned::status(503, "UNAVAILABLE", "try later", Some("1")));
    let before = fake.lists().len();
    assert_ok(&run(PROJECT).await);
    let lists = fake.lists();
    assert_eq!(lists.len() - before, 3);
    for pair in lists[before..].windows(2) {
        assert!(pair[1].at - pair[0].at >= std::time::Duration::from_millis(990));
    }

    // Always throttled: a bounded number of attempts.
    for _ in 0..5 {
        fake.push_canned(Canned::status(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded",
            Some("0"),
        ));
    }
    let before = fake.lists().len();
    let record = record.to_str().unwrap();
    let line = error_line(
        &iris_lab(
            &fake,
            dir.path(),
            &[TOKEN_ENV],
            &["trace", record, "--gcp-project", PROJECT, "--refresh"],
        )
        .await,
    );
    assert_eq!(fake.lists().len() - before, 5);
    assert!(
        line.contains("HTTP 429 after 5 attempts") && line.contains("Quota exceeded"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_credentials_say_what_was_tried_in_order() {
    let fake = FakeCloudTrace::start().await;
    let (dir, record) = runs_dir("150u.json", Timestamp::now(), "run.json");
    let line = error_line(
        &iris_lab(
            &fake,
            dir.path(),
            &[],
            &["trace", record.to_str().unwrap(), "--gcp-project", PROJECT],
        )
        .await,
    );
    let order = [
        "GOOGLE_OAUTH_ACCESS_TOKEN (not set)",
        "GOOGLE_APPLICATION_CREDENTIALS (not set)",
        "application_default_credentials.json",
        "metadata server",
        "gcloud auth print-access-token",
        "gcloud auth application-default login",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|p| line.find(p).unwrap_or_else(|| panic!("{p}: {line}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{line}");
    assert!(fake.lists().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_traces_in_the_window_say_why_that_usually_happens() {
    let fake = FakeCloudTrace::start().await;
    fake.accept_token(USER_TOKEN);
    let (dir, record) = runs_dir("150u.json", Timestamp::now(), "run.json");
    let line = error_line(
        &iris_lab(
            &fake,
            dir.path(),
            &[TOKEN_ENV],
            &["trace", record.to_str().unwrap(), "--gcp-project", PROJECT],
        )
        .await,
    );
    for part in [
        "no traces in project iris-proj",
        "not sampled",
        "--trace-sample",
        "exporter",
        "window",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!dir.path().join("iris-lab-runs/run.traces.json").exists());
    // Without a project, nothing saved is a usage error.
    let line =
        error_line(&iris_lab(&fake, dir.path(), &[], &["trace", record.to_str().unwrap()]).await);
    assert!(
        line.contains("has no saved traces: pass --gcp-project"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn report_shows_saved_spans_by_period_pod_and_error() {
    let fake = FakeCloudTrace::start().await;
    fake.accept_token(USER_TOKEN);
    // The cluster fixture scales up at +2 s; its new pods are ready at +6 s.
    let start: Timestamp = "2026-11-27T21:04:07Z".parse().unwrap();
    let (dir, record) = runs_dir("300u-cluster.json", start, "run.json");
    let at = |ms: i64| start + SignedDuration::from_millis(ms);
    let pod = |name: &str| json!({"k8s.pod.name": name});
    fake.add_traces([
        prediction_trace(&trace_id(1), at(1_000), 10.0, 2.0, 4.0, pod("api-old")),
        prediction_trace(&trace_id(2), at(3_000), 40.0, 2.0, 30.0, pod("api-old")),
        prediction_trace(
            &trace_id(3),
            at(4_000),
            50.0,
            2.0,
            35.0,
            json!({"k8s.pod.name": "api-new", "http.response.status_code": "503"}),
        ),
        prediction_trace(
            &trace_id(4),
            at(7_000),
            12.0,
            6.0,
            4.0,
            json!({"k8s.pod.name": "api-new", "/http/status_code": "200"}),
        ),
    ]);
    let record = record.to_str().unwrap();
    assert_ok(
        &iris_lab(
            &fake,
            dir.path(),
            &[TOKEN_ENV],
            &["trace", record, "--gcp-project", PROJECT],
        )
        .await,
    );
    // Offline now: the report reads the saved traces.
    let stdout = assert_ok(&iris_lab(&fake, dir.path(), &[], &["report", record]).await);
    let section =
        &stdout[stdout.find("## 5. Where the time goes").unwrap()..stdout.find("## 6.1").unwrap()];
    let fetched = section
        .split("fetched ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .to_string();
    let section = section
        .replace(&fetched, "[fetched]")
        .replace(fake.url.as_str(), "[fake]/");
    insta::assert_snapshot!("report_with_spans", section);
    // The HTML page carries the same span tables.
    let page = assert_ok(
        &iris_lab(
            &fake,
            dir.path(),
            &[],
            &["report", record, "--format", "html"],
        )
        .await,
    );
    assert!(page.contains("Spans from Cloud Trace"), "{page}");
    crate::report_html::assert_same_tables(&stdout, &page);
}

#[tokio::test(flavor = "multi_thread")]
async fn sampled_load_requests_join_their_spans_in_trace_and_report() {
    let (api, seen) = support::fake_api(support::Mode::Healthy).await;
    let fake = FakeCloudTrace::start().await;
    fake.accept_token(USER_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let load = iris_lab(
        &fake,
        dir.path(),
        &[],
        &[
            "load",
            "--host",
            api.as_str(),
            "--users",
            "2",
            "--spawn-rate",
            "100",
            "--duration",
            "2s",
            "--wait",
            "0.05..0.1",
            "--no-cluster",
            "--out-dir",
            "runs",
            "--trace-sample",
            "100%",
        ],
    )
    .await;
    assert_ok(&load);
    let path = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    // Every request asked to be sampled, and the record kept each one's trace id.
    let headers = seen.traceparents.lock().unwrap().clone();
    assert!(
        !headers.is_empty() && headers.iter().all(|h| h.ends_with("-01")),
        "{headers:?}"
    );
    let sampled = record["sampled"].as_array().unwrap().clone();
    assert_eq!(
        sampled.len() as u64,
        record["aggregate"]["requests"].as_u64().unwrap()
    );
    let sent: Vec<&str> = headers.iter().map(|h| &h[3..35]).collect();
    for s in &sampled {
        assert!(sent.contains(&s["trace_id"].as_str().unwrap()));
    }

    // The cluster scaled up at +1 s and its new pod was ready at +1.5 s.
    record["cluster"] = json!({
        "namespace": "default", "deployment": "iris", "hpa": "iris-hpa", "max_pods": 2,
        "first_scale_up_s": 1.0, "scaling_events": [], "samples": [], "restarts": 0,
        "oom_kills": 0, "missed": [],
        "pods_started": [{"pod": "iris-new", "created_s": 1.0, "observed_ready_s": 1.5}]});
    std::fs::write(&path, record.to_string()).unwrap();

    // The server's spans for those requests: 1 ms handlers with 0.25 ms and 0.5 ms children.
    let started: Timestamp = record["started_at"].as_str().unwrap().parse().unwrap();
    let at = |s: &Value| started + SignedDuration::from_secs_f64(s["start_s"].as_f64().unwrap());
    fake.add_traces(sampled.iter().map(|s| {
        prediction_trace(
            s["trace_id"].as_str().unwrap(),
            at(s),
            1.0,
            0.25,
            0.5,
            json!({}),
        )
    }));
    let expected_periods = [
        sampled
            .iter()
            .filter(|s| s["start_s"].as_f64().unwrap() < 1.0)
            .count(),
        sampled
            .iter()
            .filter(|s| (1.0..1.5).contains(&s["start_s"].as_f64().unwrap()))
            .count(),
        sampled
            .iter()
            .filter(|s| s["start_s"].as_f64().unwrap() >= 1.5)
            .count(),
    ];
    let mut gaps: Vec<f64> = sampled
        .iter()
        .map(|s| s["latency_ms"].as_f64().unwrap() - 1.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let p50 = gaps[gaps.len().div_ceil(2) - 1];

    let path = path.to_str().unwrap();
    let out = iris_lab(
        &fake,
        dir.path(),
        &[TOKEN_ENV],
        &["trace", path, "--gcp-project", PROJECT, "--format", "json"],
    )
    .await;
    let v: Value = serde_json::from_str(&assert_ok(&out)).unwrap();
    // The record kept the share asked for, and the trace output says it.
    assert_eq!(record["params"]["trace_sample"].as_f64(), Some(1.0));
    assert_eq!(v["runs"][0]["trace_sample"].as_f64(), Some(1.0));
    let out = iris_lab(
        &fake,
        dir.path(),
        &[TOKEN_ENV],
        &["trace", path, "--gcp-project", PROJECT],
    )
    .await;
    let text = assert_ok(&out);
    assert!(
        text.contains("The run asked the server to sample 100% of its requests (--trace-sample)"),
        "{text}"
    );
    let a = &v["runs"][0]["analysis"];
    let root = a["by_name"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "prediction_request")
        .unwrap();
    assert_eq!(root["count"].as_u64().unwrap() as usize, sampled.len());
    assert!(
        (root["p50_ms"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{root}"
    );
    assert_eq!(
        a["outside_app"]["joined"].as_u64().unwrap() as usize,
        sampled.len()
    );
    assert!(
        (a["outside_app"]["p50_ms"].as_f64().unwrap() - p50).abs() < 1e-6,
        "{a}"
    );
    let periods: Vec<usize> = a["by_period"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["spans"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == "prediction_request")
                .map_or(0, |s| s["count"].as_u64().unwrap() as usize)
        })
        .collect();
    assert_eq!(periods, expected_periods);

    let report = assert_ok(&iris_lab(&fake, dir.path(), &[], &["report", path]).await);
    assert!(
        report.contains(&format!(
            "over {n} of {n} sampled requests: p50 {p50:.1} ms",
            n = sampled.len()
        )),
        "{report}"
    );
    assert!(
        report.contains("| prediction_request | whole run |") && report.contains("| 1.0 ms |"),
        "{report}"
    );
    assert!(
        report.contains("while scaling (+1 s to +2 s)")
            || report.contains("while scaling (+1 s to +1 s)"),
        "{report}"
    );
}
