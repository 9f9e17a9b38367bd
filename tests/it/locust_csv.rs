//! Golden test against the real Locust: both tools run the same class for a few seconds
//! against `iris-lab serve` with `--csv`, and every file must have Locust's header, Locust's
//! rows and, column by column, values of the shapes Locust writes there. It runs the Locust
//! that `.ci/run` installs (`$HOME/.cache/iris-lab/peers-venv`, or `IRIS_LAB_LOCUST`); without
//! one it fails in CI (`CI=true`) and is skipped elsewhere, saying why.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::ServeProcess;

const FILES: [&str; 4] = ["stats", "stats_history", "failures", "exceptions"];
const RUN: &str = "3s";
const LIMIT: Duration = Duration::from_secs(90);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/locust")
        .join(name)
}

/// The Locust executable, or why there is none.
fn locust() -> Result<PathBuf, String> {
    let path = match std::env::var_os("IRIS_LAB_LOCUST") {
        Some(p) => PathBuf::from(p),
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
            PathBuf::from(home).join(".cache/iris-lab/peers-venv/bin/locust")
        }
    };
    match Command::new(&path).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(path),
        Ok(out) => Err(format!(
            "{} --version failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!(
            "no Locust at {} ({e}); .ci/run installs it",
            path.display()
        )),
    }
}

/// Runs `cmd` to its end, killing it after `LIMIT`.
fn run_bounded(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    support::output_within(child, LIMIT)
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The shape of one value, most specific first.
fn shape(v: &str) -> &'static str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let decimal = |s: &str| {
        s.split_once('.')
            .is_some_and(|(a, b)| digits(a) && digits(b))
    };
    let exponent = |s: &str| {
        s.split_once('e').is_some_and(|(m, e)| {
            (digits(m) || decimal(m))
                && e.len() >= 3
                && e.starts_with(['+', '-'])
                && digits(&e[1..])
        })
    };
    let utc = |s: &str| {
        let b = s.as_bytes();
        s.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z'
            && s.bytes()
                .enumerate()
                .all(|(i, c)| [4, 7, 10, 13, 16, 19].contains(&i) || c.is_ascii_digit())
    };
    match v {
        "" => "empty",
        "N/A" => "N/A",
        "Aggregated" => "Aggregated",
        _ if digits(v) => "integer",
        _ if decimal(v) && v.split_once('.').is_some_and(|(_, f)| f.len() == 6) => "six decimals",
        _ if decimal(v) || exponent(v) => "float",
        _ if utc(v) => "UTC time",
        _ => "text",
    }
}

/// Whether a value of shape `ours` fits a column where Locust wrote `theirs`: the same shape,
/// or a float that happens to have six decimals where Locust writes floats.
fn fits(column: &str, ours: &str, theirs: &BTreeSet<&str>) -> bool {
    theirs.contains(ours)
        || (ours == "six decimals" && theirs.contains("float"))
        // Locust's median (`median_response_time`, in stats and, over the whole run, in the
        // history) is a rounded bucket, clamped to the exact min or max (floats) when the bucket
        // falls outside them, as it does under 1 ms: either shape can come from either tool.
        || (matches!(column, "Median Response Time" | "Total Median Response Time")
            && ours == "float"
            && theirs.contains("integer"))
}

/// Compares one file: same header, rows named alike, values shaped alike column by column.
fn compare(file: &str, locust: &[Vec<String>], ours: &[Vec<String>], key: &[usize]) {
    assert_eq!(ours[0], locust[0], "{file}: header");
    let width = locust[0].len();
    let keys = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows[1..]
            .iter()
            .map(|r| key.iter().map(|&k| r[k].clone()).collect())
            .collect()
    };
    if file == "stats_history" {
        // One row a second: as many as each tool's run had seconds, all named alike.
        let ours_keys: BTreeSet<_> = keys(ours).into_iter().collect();
        assert_eq!(
            ours_keys,
            keys(locust).into_iter().collect(),
            "{file}: rows"
        );
    } else {
        assert_eq!(keys(ours), keys(locust), "{file}: rows and their order");
    }
    for col in 0..width {
        let theirs: BTreeSet<&str> = locust[1..].iter().map(|r| shape(&r[col])).collect();
        if theirs.is_empty() {
            continue;
        }
        for row in &ours[1..] {
            assert_eq!(row.len(), width, "{file}: {row:?}");
            let value = &row[col];
            assert!(
                fits(&locust[0][col], shape(value), &theirs),
                "{file}, column {:?}: ours {value:?} is {}, Locust wrote {theirs:?}",
                locust[0][col],
                shape(value)
            );
        }
    }
}

#[test]
fn csv_files_are_shaped_as_real_locust_writes_them() {
    let locust = match locust() {
        Ok(path) => path,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("Locust is required in CI: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&locust);
    cmd.current_dir(dir.path())
        .args(["-f", fixture("locustfile.py").to_str().unwrap()])
        .args(["--headless", "-u", "5", "-r", "5", "-t", RUN])
        .args(["-H", &server.url, "--csv", "locust", "CsvGoldenUser"]);
    let out = run_bounded(cmd);
    // Locust exits 1 when requests failed, which the class makes sure of.
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "locust: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = Command::new(support::binary());
    cmd.current_dir(dir.path())
        .env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_CONFIG")
        .args(["load", "--no-cluster", "--host", &server.url])
        .args(["--users", "5", "--spawn-rate", "5", "--duration", RUN])
        .args(["--scenario", fixture("scenario.yaml").to_str().unwrap()])
        .args(["--user-class", "CsvGoldenUser", "--csv", "ours"]);
    let out = run_bounded(cmd);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "iris-lab load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in FILES {
        let read = |prefix: &str| read_csv(&dir.path().join(format!("{prefix}_{file}.csv")));
        let key: &[usize] = match file {
            "stats" | "failures" => &[0, 1],
            "stats_history" => &[2, 3],
            _ => &[],
        };
        compare(file, &read("locust"), &read("ours"), key);
    }
}

#[test]
fn shapes_tell_locusts_number_formats_apart() {
    assert_eq!(shape("113.0"), "float");
    assert_eq!(shape("1e-05"), "float");
    assert_eq!(shape("113"), "integer");
    assert_eq!(shape("0.000000"), "six decimals");
    assert_eq!(shape("2026-11-28T03:55:59Z"), "UTC time");
    assert_eq!(shape("HTTP 404"), "text");
    let floats = BTreeSet::from(["float"]);
    assert!(fits("RPS", "six decimals", &floats));
    assert!(!fits("RPS", "integer", &floats));
    assert!(!fits("RPS", "float", &BTreeSet::from(["six decimals"])));
    let integers = BTreeSet::from(["integer"]);
    assert!(fits("Median Response Time", "float", &integers));
    assert!(!fits("Average Response Time", "float", &integers));
}
