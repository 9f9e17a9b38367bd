//! The command line as a user meets it: help, bad flags, config files, missing host.

use crate::support;
use assert_cmd::Command;
use clap::CommandFactory;
use predicates::prelude::*;

fn iris_lab() -> Command {
    let mut cmd = support::command();
    cmd.env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_FORMAT")
        .env_remove("IRIS_LAB_APP")
        .timeout(std::time::Duration::from_secs(30));
    cmd
}

#[test]
fn every_command_has_help() {
    iris_lab()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Usage: iris-lab"));
    let cli = iris_lab::cli::Cli::command();
    let names: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        iris_lab()
            .args([&name, "--help"])
            .assert()
            .code(0)
            .stdout(predicate::str::contains(format!("Usage: iris-lab {name}")))
            .stdout(predicate::str::contains("--host"));
    }
}

#[test]
fn a_bad_flag_exits_2() {
    iris_lab()
        .args(["smoke", "--no-such-flag"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--no-such-flag"));
    iris_lab()
        .args(["smoke", "--timeout", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid duration"));
    iris_lab().arg("nonsense").assert().code(2);
}

#[test]
fn a_missing_host_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    iris_lab()
        .current_dir(dir.path())
        .arg("smoke")
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: no API host: pass --host URL",
        ));
}

#[test]
fn a_broken_config_file_gives_path_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iris-lab.yaml"),
        "app: iris\nnamespace: [oops\n",
    )
    .unwrap();
    iris_lab()
        .current_dir(dir.path())
        .args(["smoke", "--host", "http://127.0.0.1:9"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::is_match(r"^error: config file iris-lab.yaml, line \d+, column \d+: ")
                .unwrap(),
        );
}

#[test]
fn an_explicit_config_that_does_not_exist_is_an_error() {
    iris_lab()
        .args(["--config", "/nonexistent/x.yaml", "smoke"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "could not read config file /nonexistent/x.yaml",
        ));
}

#[test]
fn the_config_file_sets_the_host_and_the_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = dir.path().join("lab.yaml");
    std::fs::write(
        &config,
        format!("host: http://{closed}\nformat: json\nsmoke:\n  timeout: 2s\n"),
    )
    .unwrap();
    // From the file: JSON output, the file's host.
    let out = iris_lab()
        .args(["smoke", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["host"], format!("http://{closed}/"));
    // The flag wins over the file.
    let out = iris_lab()
        .args([
            "--config",
            config.to_str().unwrap(),
            "smoke",
            "--format",
            "text",
            "--host",
            "http://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Smoke test of http://127.0.0.1:1/"),
        "{text}"
    );
}

#[test]
fn guide_prints_a_phase_even_with_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iris-lab.yaml"), "{{{").unwrap();
    iris_lab()
        .current_dir(dir.path())
        .args(["guide", "3"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("# Phase 3"));
    iris_lab().args(["guide", "9"]).assert().code(2);
}
