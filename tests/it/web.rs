//! `iris-lab web`'s control API over HTTP, Locust's (`POST /swarm`, `GET /stop`,
//! `/stats/requests`): a run started, changed and stopped, and saved as a normal record with
//! its changes as stages; bad inputs refused with a clear message and nothing changed; changes
//! from another site or without the token refused.

use std::time::Duration;

use serde_json::Value;

use crate::support::web::{WebProcess, form_body, get_json, swarm, wait_state};
use crate::support::{ServeProcess, on_own_runtime};

fn latest(state: &Value) -> &Value {
    &state["latest"]
}

/// The one record in `runs`.
fn saved_record(runs: &std::path::Path) -> Value {
    let record = std::fs::read_dir(runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .expect("the record");
    serde_json::from_str(&std::fs::read_to_string(record.path()).unwrap()).unwrap()
}

/// The users each stage of a record reached.
fn stage_targets(record: &Value) -> Vec<f64> {
    record["params"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["target"].as_f64().unwrap())
        .collect()
}

#[test]
fn a_run_is_started_changed_stopped_and_saved_as_a_record() {
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let web = WebProcess::start(dir.path());
    let (url, host) = (web.url.clone(), api.url.clone());
    let runs = dir.path().join("runs");
    let csv_file = dir.path().join("run_stats.csv");
    on_own_runtime(move || async move {
        let (status, answer) = swarm(
            &url,
            &[("user_count", "4"), ("spawn_rate", "20"), ("host", &host)],
        )
        .await;
        assert_eq!(
            (status, answer["success"].as_bool()),
            (200, Some(true)),
            "{answer}"
        );
        let lim = Duration::from_secs(30);
        wait_state(&url, lim, |s| latest(s)["users"] == 4).await;

        // While it runs: bad inputs change nothing.
        let (status, bad) = swarm(&url, &[("user_count", "-3")]).await;
        assert_eq!(status, 400, "{bad}");
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("user_count \"-3\""),
            "{bad}"
        );
        let (status, bad) = swarm(&url, &[("user_count", "8"), ("spawn_rate", "0")]).await;
        assert_eq!(status, 400, "{bad}");
        let (status, bad) =
            swarm(&url, &[("user_count", "8"), ("host", "http://127.0.0.2:9")]).await;
        assert_eq!(status, 409, "{bad}");
        assert_eq!(
            latest(&get_json(&format!("{url}api/state")).await)["target_users"],
            4
        );

        // Locust's swarm during a run changes its users.
        let (status, answer) = swarm(&url, &[("user_count", "8"), ("spawn_rate", "20")]).await;
        assert_eq!(status, 200, "{answer}");
        wait_state(&url, lim, |s| latest(s)["users"] == 8).await;
        let stats = get_json(&format!("{url}stats/requests")).await;
        assert_eq!(stats["user_count"], 8);
        let rows = stats["stats"].as_array().unwrap();
        assert_eq!(rows.last().unwrap()["name"], "Aggregated");
        assert!(rows.last().unwrap()["num_requests"].as_u64().unwrap() > 0);

        let stop = reqwest::get(format!("{url}stop")).await.unwrap();
        assert_eq!(stop.status(), 200);
        // Stopped from the page: the page's word is the record's.
        let state = wait_state(&url, lim, |s| latest(s)["status"] == "interrupted").await;
        let id = latest(&state)["id"].as_u64().unwrap();
        let rows = latest(&state)["rows"].as_array().unwrap();
        assert!(rows.iter().all(|r| r["current_rps"] == 0.0), "{rows:?}");

        // The record is a normal one: the change is a stage, report reads it.
        let record = get_json(&format!("{url}runs/{id}/record.json")).await;
        assert_eq!(record["status"], "interrupted");
        let targets = stage_targets(&record);
        assert_eq!(targets.first(), Some(&4.0), "{targets:?}");
        assert_eq!(targets.last(), Some(&8.0), "{targets:?}");
        let saved: Vec<_> = std::fs::read_dir(&runs)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(saved.len(), 1);
        // The download is the CSV the run wrote.
        let csv = reqwest::get(format!("{url}runs/{id}/stats.csv"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(csv, std::fs::read_to_string(&csv_file).unwrap());
        let locust = reqwest::get(format!("{url}stats/requests/csv"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(locust, csv);
        let report = reqwest::get(format!("{url}report.html")).await.unwrap();
        assert_eq!(report.status(), 200);
        assert!(report.text().await.unwrap().contains("<svg"));
    })
    .join()
    .unwrap();
}

#[test]
fn bad_inputs_get_a_clear_message_and_start_nothing() {
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let web = WebProcess::start(dir.path());
    let (url, host) = (web.url.clone(), api.url.clone());
    on_own_runtime(move || async move {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("user_count", "-5"), ("host", &host)],
                "user_count \"-5\"",
            ),
            (
                &[("user_count", "0"), ("host", &host)],
                "must be at least 1",
            ),
            (
                &[
                    ("user_count", "5"),
                    ("user_class", "NoSuchUser"),
                    ("host", &host),
                ],
                "unknown user class \"NoSuchUser\"",
            ),
            (
                &[
                    ("user_count", "5"),
                    ("host", "http://no-such-host.invalid:8000"),
                ],
                "does not resolve",
            ),
            (&[("user_count", "5")], "host is missing"),
        ];
        for (form, says) in cases {
            let (status, answer) = swarm(&url, form).await;
            assert_eq!(status, 400, "{form:?}: {answer}");
            assert_eq!(answer["success"], false);
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(says), "{form:?}: {message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
        let state = get_json(&format!("{url}api/state")).await;
        assert_eq!(state["runs"].as_array().unwrap().len(), 0, "{state}");
        assert_eq!(state["active"], Value::Null);
    })
    .join()
    .unwrap();
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn changes_need_the_token_beyond_loopback_and_never_come_from_another_site() {
    let dir = tempfile::tempdir().unwrap();
    let web = WebProcess::start_with(
        dir.path(),
        &["--addr", "0.0.0.0:0", "--web-token", "tok-123456"],
    );
    let url = web.loopback_url();
    on_own_runtime(move || async move {
        let client = reqwest::Client::new();
        let post = |headers: &[(&'static str, &str)]| {
            let mut req = client
                .post(format!("{url}swarm"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_body(&[("user_count", "1")]));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send()
        };
        assert_eq!(post(&[]).await.unwrap().status(), 401);
        assert_eq!(
            post(&[("x-iris-lab-token", "wrong")])
                .await
                .unwrap()
                .status(),
            401
        );
        let cross = post(&[
            ("x-iris-lab-token", "tok-123456"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(cross.await.unwrap().status(), 403);
        let fetch_meta = post(&[
            ("x-iris-lab-token", "tok-123456"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(fetch_meta.await.unwrap().status(), 403);
        // With the token it gets through to the form's checks (no host: 400).
        let ok = post(&[("authorization", "Bearer tok-123456")])
            .await
            .unwrap();
        assert_eq!(ok.status(), 400);
        let stop = client.get(format!("{url}stop")).send().await.unwrap();
        assert_eq!(stop.status(), 401);
        // The page never carries the token; it only knows one is needed.
        let page = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains("tok-123456"));
        let state = get_json(&format!("{url}api/state")).await;
        assert_eq!(state["info"]["token_required"], true);
        assert!(!state.to_string().contains("tok-123456"));
    })
    .join()
    .unwrap();
}

#[test]
fn load_with_web_serves_its_run_and_takes_a_change_of_users() {
    use std::io::{BufRead, BufReader};
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(crate::support::binary())
        .args([
            "load",
            "--users",
            "2",
            "--spawn-rate",
            "20",
            "--duration",
            "6s",
        ])
        .args(["--no-cluster", "--web", "127.0.0.1:0", "--host", &api.url])
        .current_dir(dir.path())
        .env_remove("IRIS_LAB_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let url = loop {
        let line = lines.next().expect("the page's line").unwrap();
        if let Some(url) = line.strip_prefix("web: the run's page is at ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    on_own_runtime(move || async move {
        let lim = Duration::from_secs(20);
        let state = wait_state(&url, lim, |s| latest(s)["users"] == 2).await;
        assert_eq!(state["info"]["can_start"], false);
        let (status, answer) = swarm(&url, &[("user_count", "5")]).await;
        assert_eq!(status, 200, "{answer}");
        wait_state(&url, lim, |s| latest(s)["users"] == 5).await;
    })
    .join()
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let record = saved_record(&dir.path().join("iris-lab-runs"));
    let targets = stage_targets(&record);
    assert_eq!(targets.last(), Some(&5.0), "{targets:?}");
    assert_eq!(record["status"], "completed");
}

/// Locust's keys on a terminal (util-linux `script` gives `load` a pseudo-terminal): `W` adds
/// 10 users, `s` removes one; the record keeps the change as stages.
#[test]
fn keys_on_the_terminal_change_the_users() {
    use std::io::{Read, Write};
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let line = format!(
        "{} load --users 2 --spawn-rate 50 --duration 6s --no-cluster --host {}",
        crate::support::binary().display(),
        api.url
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("IRIS_LAB_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    let (told_tx, told) = std::sync::mpsc::channel();
    let mut screen = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut text, mut chunk) = (Vec::new(), [0u8; 512]);
        while let Ok(n @ 1..) = screen.read(&mut chunk) {
            text.extend_from_slice(&chunk[..n]);
            if String::from_utf8_lossy(&text).contains("keys: w/W") {
                let _ = told_tx.send(());
            }
        }
        text
    });
    told.recv_timeout(Duration::from_secs(20))
        .expect("load says which keys change the users");
    std::thread::sleep(Duration::from_millis(1500));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"W").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"s").unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let screen = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(status.success(), "{screen}");
    let record = saved_record(&dir.path().join("iris-lab-runs"));
    let targets = stage_targets(&record);
    assert!(targets.contains(&12.0), "{targets:?}\n{screen}");
    assert_eq!(targets.last(), Some(&11.0), "{targets:?}");
}
