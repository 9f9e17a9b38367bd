//! `iris-lab compare` as a process: the acceptance of issue 23 against the reference server on
//! loopback (identical runs are rarely called worse; 20 ms of added delay is called worse),
//! profiles that differ, bad records, the gate from the config file.

use crate::support::{self, process, serve::ServeProcess};

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How many pairs of each kind, and each run's length.
const PAIRS: usize = 20;
const RUN_SECS: &str = "10s";

/// One short closed-loop run against `url`, saving its record under `dir`.
fn spawn_run(url: &str, dir: &Path) -> Child {
    support::std_command()
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("KUBECONFIG")
        .env("HOME", dir)
        .args(["load", "--host", url, "--users", "4", "--spawn-rate", "50"])
        .args([
            "--duration",
            RUN_SECS,
            "--wait",
            "0.05..0.1",
            "--no-cluster",
        ])
        .arg("--out-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn load")
}

/// Runs at once (one batch): each `(url, dir)` a run against `url` saving into `dir`.
fn batch(runs: &[(&str, PathBuf)]) {
    let children: Vec<Child> = runs
        .iter()
        .map(|(url, d)| {
            std::fs::create_dir_all(d).unwrap();
            spawn_run(url, d)
        })
        .collect();
    for child in children {
        let status = process::exit_within(child, Duration::from_secs(60));
        assert!(status.success(), "a load run failed: {status}");
    }
}

/// The p95 verdicts of `compare BASE NEW --format json`: of all requests, then of each
/// endpoint (its name and verdict), each endpoint checked to be tested over its own
/// steady-state seconds though each side is one run.
fn p95_verdicts(base: &Path, new: &Path) -> (String, Vec<(String, String)>) {
    let out = support::command()
        .env_remove("IRIS_LAB_CONFIG")
        .args(["compare", "--format", "json"])
        .arg(base)
        .arg(new)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p95 = |table: &Value| {
        let rows = table["rows"].as_array().unwrap();
        let row = rows.iter().find(|r| r["metric"] == "p95").unwrap();
        row["verdict"].as_str().unwrap().to_string()
    };
    let c = &json["comparisons"][0];
    let endpoints = c["endpoints"].as_array().unwrap();
    assert!(!endpoints.is_empty(), "{c}");
    for e in endpoints {
        let test = &e["test"];
        assert_eq!(test["method"], "seconds_block_bootstrap", "{e}");
        assert!(test["base_units"].as_u64().unwrap() >= 5, "{e}");
    }
    let per_endpoint = endpoints
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), p95(e)))
        .collect();
    (p95(&c["overall"]), per_endpoint)
}

/// How many of `verdicts` are "worse": overall, and the most of any one endpoint.
fn worse_counts(verdicts: &[(String, Vec<(String, String)>)]) -> (usize, usize, String) {
    let overall = verdicts.iter().filter(|v| v.0 == "worse").count();
    let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, endpoints) in verdicts {
        for (name, v) in endpoints {
            *per.entry(name).or_default() += usize::from(v == "worse");
        }
    }
    let most = per.values().copied().max().unwrap_or(0);
    (overall, most, format!("{per:?}"))
}

/// Issue 23's acceptance: 20 base runs, 20 more of the same load on the same server, 20
/// against the server with 20 ms of delay. Pair i is (base i, same i) and (base i, delayed i).
/// The three kinds run side by side, in 4 batches of 15 concurrent 10 s runs (5 of each), so
/// that what else the machine does at that moment weighs on both sides of every pair alike:
/// batches of one kind each, at different times, made identical pairs differ by the machine's
/// load (4 of 20 called worse while other tests ran beside them).
#[test]
fn identical_runs_are_rarely_worse_and_20ms_slower_ones_are() {
    const GROUPS: usize = 4;
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let plain = ServeProcess::start();
    let slow = ServeProcess::start_with(&["--delay", "20ms"], &[]);
    let dir = |kind: &str, i: usize| tmp.path().join(format!("{kind}{i}"));
    let per_group = PAIRS / GROUPS;
    for g in 0..GROUPS {
        let runs: Vec<(&str, PathBuf)> = (g * per_group..(g + 1) * per_group)
            .flat_map(|i| {
                [
                    (plain.url.as_str(), dir("base", i)),
                    (plain.url.as_str(), dir("same", i)),
                    (slow.url.as_str(), dir("delayed", i)),
                ]
            })
            .collect();
        batch(&runs);
    }
    let base: Vec<PathBuf> = (0..PAIRS).map(|i| dir("base", i)).collect();
    let same: Vec<PathBuf> = (0..PAIRS).map(|i| dir("same", i)).collect();
    let delayed: Vec<PathBuf> = (0..PAIRS).map(|i| dir("delayed", i)).collect();
    let verdicts = |news: &[PathBuf]| -> Vec<(String, Vec<(String, String)>)> {
        base.iter()
            .zip(news)
            .map(|(b, n)| p95_verdicts(b, n))
            .collect()
    };
    let identical = verdicts(&same);
    let slower = verdicts(&delayed);
    let (false_positives, endpoint_fp, fp_per) = worse_counts(&identical);
    let detected = slower.iter().filter(|v| v.0 == "worse").count();
    let endpoint_missed = |name: &str| {
        slower
            .iter()
            .filter(|v| v.1.iter().any(|(n, w)| n == name && w != "worse"))
            .count()
    };
    let names: Vec<String> = slower[0].1.iter().map(|e| e.0.clone()).collect();
    let missed: Vec<(String, usize)> = names
        .iter()
        .map(|n| (n.clone(), endpoint_missed(n)))
        .collect();
    eprintln!(
        "compare acceptance: {false_positives}/{PAIRS} identical pairs called worse on p95, \
         {detected}/{PAIRS} delayed pairs called worse, in {:.0} s; per endpoint: identical \
         pairs called worse {fp_per}, delayed pairs not called worse {missed:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(false_positives <= 1, "identical pairs: {identical:?}");
    assert!(detected >= 19, "delayed pairs: {slower:?}");
    // Per endpoint the issue sets no bound. An endpoint of ~4 requests a second (GET /, GET
    // /docs at 1 in 14 of the tasks) has seconds whose p95 is their slowest request: on a
    // busy CI machine 2 and 3 of 20 identical pairs were called worse there (predict and
    // health: 0). An interval blind to the noise would call about half of them worse.
    assert!(endpoint_fp <= 4, "identical pairs per endpoint: {fp_per}");
    assert!(
        missed.iter().all(|(_, m)| *m <= 1),
        "delayed pairs per endpoint not called worse: {missed:?}"
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runs")
        .join(name)
}

#[test]
fn different_profiles_are_refused_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let out = support::iris_lab(tmp.path())
        .arg("compare")
        .arg(fixture("150u.json"))
        .arg(fixture("300u.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("share no load profile")
            && err.contains("150 users, IrisPredictionAPIUser")
            && err.contains("300 users, HighLoadUser")
            && err.contains("--force"),
        "{err}"
    );
    let out = support::iris_lab(tmp.path())
        .args(["compare", "--force"])
        .arg(fixture("150u.json"))
        .arg(fixture("300u.json"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "### 150 users, IrisPredictionAPIUser against 300 users, HighLoadUser (--force)"
        ) && text.contains("> **Warning**")
            && text.contains("load profile differs"),
        "{text}"
    );
}

#[test]
fn bad_records_get_one_line_each_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wrong = dir.join("wrong-schema.json");
    std::fs::write(&wrong, r#"{"schema_version": 99}"#).unwrap();
    let mut empty: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("150u.json")).unwrap()).unwrap();
    empty["aggregate"]["requests"] = 0.into();
    let empty_path = dir.join("runs/empty.json");
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    std::fs::write(&empty_path, empty.to_string()).unwrap();
    std::fs::copy(fixture("150u.json"), dir.join("runs/good.json")).unwrap();
    let out = support::iris_lab(dir)
        .args(["compare", "missing.json", "runs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("error: could not read run record missing.json"),
        "{err}"
    );
    assert!(
        lines[1].contains("empty.json is an empty run (no requests)") && !err.contains("good.json"),
        "{err}"
    );
    let out = support::iris_lab(dir)
        .arg("compare")
        .arg(&wrong)
        .arg(dir.join("nothing-here"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("schema version 99 is not supported"), "{err}");
    assert!(err.contains("nothing-here"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_gate_comes_from_the_config_file_and_fails_with_a_line_per_breach() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The fixture's seconds repeated to 30 s, then the same run 50% slower in every second:
    // a significant change on p95 and p99.
    let mut base: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("300u.json")).unwrap()).unwrap();
    let seconds = base["timeline"].as_array().unwrap().clone();
    let timeline: Vec<Value> = (0..30)
        .map(|i| {
            let mut p = seconds[i % seconds.len()].clone();
            p["t"] = (i + 1).into();
            p
        })
        .collect();
    base["timeline"] = timeline.into();
    base["spawn_complete_s"] = 0.5.into();
    base["duration_s"] = 30.5.into();
    let mut slower = base.clone();
    for p in slower["timeline"].as_array_mut().unwrap() {
        for key in ["p50_ms", "p95_ms", "p99_ms"] {
            if let Some(v) = p[key].as_f64() {
                p[key] = (v * 1.5).into();
            }
        }
    }
    std::fs::write(dir.join("base.json"), base.to_string()).unwrap();
    std::fs::write(dir.join("new.json"), slower.to_string()).unwrap();
    std::fs::write(
        dir.join("iris-lab.yaml"),
        "compare:\n  fail_on: p95:+10%,p99:+10%,rps:-5%\n  seed: 5\n",
    )
    .unwrap();
    let out = support::iris_lab(dir)
        .args(["compare", "base.json", "new.json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("fail-on: p95 changed +50%"), "{err}");
    assert!(lines[1].starts_with("fail-on: p99 changed +50%"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("seed 5") && text.contains("### Gate: --fail-on p95:+10%,p99:+10%,rps:-5%"),
        "{text}"
    );
    // The flag wins over the file; a limit past the change passes.
    let out = support::iris_lab(dir)
        .args(["compare", "base.json", "new.json", "--fail-on", "p95:+60%"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A broken rule in the file names the file and the key.
    std::fs::write(dir.join("iris-lab.yaml"), "compare:\n  fail_on: p95:10%\n").unwrap();
    let out = support::iris_lab(dir)
        .args(["compare", "base.json", "new.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("iris-lab.yaml: compare.fail_on:") && err.contains("+10%"),
        "{err}"
    );
}

#[test]
fn report_adds_the_comparison_against_a_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("baseline")).unwrap();
    std::fs::copy(fixture("300u.json"), dir.join("baseline/300u.json")).unwrap();
    let report = |format: &str| {
        let out = support::iris_lab(dir)
            .args(["report", "--baseline", "baseline", "--format", format])
            .arg(fixture("300u-phases.json"))
            .arg(fixture("150u.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = report("markdown");
    let section = &text[text
        .find("## Against the baseline baseline")
        .expect("the section")..];
    assert!(
        section.contains("### 300 users, HighLoadUser")
            && section.contains("**All requests** (moving block bootstrap")
            && section.contains(
                "Not compared: 150 users, IrisPredictionAPIUser is only on the new side."
            ),
        "{section}"
    );
    let json: Value = serde_json::from_str(&report("json")).unwrap();
    assert_eq!(json["baseline"]["comparisons"][0]["profile"]["users"], 300);
    assert!(json["report"].is_object());
    let out = support::iris_lab(dir)
        .args(["report", "--baseline", "missing-dir", "--format", "html"])
        .arg(fixture("150u.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `report --baseline DIR --format html`: the comparison is a section of the page, warnings
/// and environment differences first, its table with the change, the interval and a verdict
/// styled by its class.
#[test]
fn the_html_report_has_the_comparison_as_a_section() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("baseline")).unwrap();
    std::fs::copy(fixture("300u.json"), dir.join("baseline/300u.json")).unwrap();
    // The same run, ten times slower at every second (5 steady seconds give a wide interval), recorded by another iris-lab version.
    let mut slower: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("300u.json")).unwrap()).unwrap();
    slower["tool"] = "iris-lab 9.9.9 <b>".into();
    for p in slower["timeline"].as_array_mut().unwrap() {
        for key in ["p50_ms", "p95_ms", "p99_ms"] {
            if let Some(v) = p[key].as_f64() {
                p[key] = (v * 10.0).into();
            }
        }
    }
    std::fs::write(dir.join("slower.json"), slower.to_string()).unwrap();
    let out = support::iris_lab(dir)
        .args([
            "report",
            "--baseline",
            "baseline",
            "--format",
            "html",
            "slower.json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = scraper::Html::parse_document(&String::from_utf8(out.stdout).unwrap());
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let text = |e: scraper::ElementRef| e.text().collect::<String>();
    let section = page
        .select(&sel("section#baseline"))
        .next()
        .expect("the baseline section");
    assert!(
        page.select(&sel("nav a[href='#baseline']"))
            .next()
            .is_some()
    );
    let children: Vec<scraper::ElementRef> = section
        .children()
        .filter_map(scraper::ElementRef::wrap)
        .collect();
    assert_eq!(text(children[0]), "Against the baseline baseline");
    // First the unfair difference (escaped: no <b> element), then the environment's table.
    assert_eq!(children[1].value().attr("class"), Some("warning"));
    assert!(
        text(children[1]).contains("iris-lab version differs")
            && text(children[1]).contains("iris-lab 9.9.9 <b>"),
        "{}",
        text(children[1])
    );
    assert!(section.select(&sel("b")).next().is_none());
    let env = section.select(&sel("table.environment td")).next().unwrap();
    assert_eq!(text(env), "iris-lab version (unfair)");
    let rows: Vec<Vec<String>> = section
        .select(&sel("table.delta tbody tr"))
        .map(|tr| tr.select(&sel("td")).map(text).collect())
        .collect();
    let p95 = rows
        .iter()
        .find(|r| r[0] == "All requests" && r[2] == "p95 (ms)")
        .expect("the p95 row");
    assert_eq!(
        (p95[1].as_str(), p95[5].as_str()),
        ("5 + 5 s", "+900.0%"),
        "{p95:?}"
    );
    assert!(p95[6].contains(" .. "), "{p95:?}");
    assert_eq!(p95[7], "worse");
    let worse = section.select(&sel("span.verdict.worse")).count();
    assert!(worse >= 3, "p50, p95 and p99 of all requests: {worse}");
    // The verdicts are coloured by the page's style.
    let style = text(page.select(&sel("style")).next().unwrap());
    assert!(style.contains(".verdict.worse {") && style.contains(".verdict.better {"));
    // The method and the number of units are said.
    let notes = text(section.select(&sel("ul.note")).next().unwrap());
    assert!(
        notes.contains("moving block bootstrap over steady-state seconds"),
        "{notes}"
    );
}
