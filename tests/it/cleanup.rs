//! `iris-lab cleanup` (Phase 7): the scale subresource, confirmation, dry runs, idempotence.

use crate::support;

use std::time::Duration;

use support::*;

/// The deployment after a load test: scaled to 5 by the HPA, 5 ready pods.
fn scaled_up() -> Lab {
    let lab = Lab::healthy();
    lab.api.put(deployment(5, 5));
    for n in ["ccccc", "ddddd", "eeeee"] {
        lab.api
            .put(ready_pod(&format!("iris-prediction-api-7d9f8-{n}"), 120));
    }
    lab.api.put(hpa(5, 5, Some(20)));
    lab
}

#[test]
fn dry_run_shows_the_change_and_changes_nothing() {
    let lab = scaled_up();
    let out = lab.cmd(&["cleanup", "--dry-run"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("deployment iris-prediction-api in namespace default: replicas 5 -> 2 (HPA minReplicas 2)\ndry run: nothing changed\n"), "{stdout}");
    assert_eq!(
        row(&stdout, "iris-prediction-api-7d9f8-eeeee").unwrap()[2],
        "Running"
    );
    assert!(lab.api.scale_patches().is_empty());
    assert!(lab.api.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn without_a_terminal_it_refuses_unless_told_yes() {
    let lab = scaled_up();
    let out = lab.cmd(&["cleanup"]).write_stdin("y\n").output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("replicas 5 -> 2"), "{stdout}");
    assert_eq!(
        stderr.trim(),
        "error: refusing to scale without confirmation: stdin is not a terminal; pass --yes to confirm (or --dry-run to only look)"
    );
    assert!(lab.api.scale_patches().is_empty());
}

#[test]
fn yes_scales_through_the_subresource_waits_for_the_pods_and_twice_is_harmless() {
    let lab = scaled_up();
    let controller = run_controller(&lab.api, Duration::from_secs(4));
    let out = lab
        .cmd(&["cleanup", "--yes", "--wait", "8s"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let patches = lab.api.scale_patches();
    assert_eq!(patches.len(), 1);
    assert!(
        patches[0]
            .uri
            .starts_with("/apis/apps/v1/namespaces/default/deployments/iris-prediction-api/scale"),
        "{:?}",
        patches[0]
    );
    assert_eq!(
        patches[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&patches[0].body).unwrap(),
        serde_json::json!({"spec": {"replicas": 2}})
    );
    assert!(
        stdout.contains("scaled iris-prediction-api to 2 replicas"),
        "{stdout}"
    );
    assert!(stdout.contains("pods settled at 2 after"), "{stdout}");
    assert!(
        row(&stdout, "iris-prediction-api-7d9f8-aaaaa").is_some(),
        "{stdout}"
    );
    assert!(
        row(&stdout, "iris-prediction-api-7d9f8-eeeee").is_none(),
        "{stdout}"
    );

    let out = lab
        .cmd(&["cleanup", "--yes", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changed"], false);
    assert_eq!(report["settled"], true);
    assert_eq!(report["plan"]["current"], 2);
    assert_eq!(report["pods"].as_array().unwrap().len(), 2);
    assert_eq!(
        lab.api.scale_patches().len(),
        1,
        "the second run patched again"
    );
    controller.join().unwrap();
}

#[test]
fn below_the_hpa_minimum_is_a_warning_and_replicas_is_obeyed() {
    let lab = scaled_up();
    let out = lab
        .cmd(&["cleanup", "--replicas", "1", "--dry-run"])
        .output()
        .unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("replicas 5 -> 1 (HPA minReplicas 2)"),
        "{stdout}"
    );
    assert!(stdout.contains("warning: 1 is below the HPA iris-prediction-api-hpa's minReplicas 2: the HPA will scale it back up to 2"), "{stdout}");
}

#[test]
fn the_config_file_sets_cleanups_flags() {
    let lab = scaled_up();
    std::fs::write(
        lab.dir.path().join("iris-lab.yaml"),
        "cleanup:\n  replicas: 3\n  dry_run: true\n",
    )
    .unwrap();
    let out = lab.cmd(&["cleanup"]).output().unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("replicas 5 -> 3"), "{stdout}");
    assert!(stdout.contains("dry run: nothing changed"), "{stdout}");
    // The flag wins over the file.
    let out = lab.cmd(&["cleanup", "--replicas", "4"]).output().unwrap();
    assert!(texts(&out).0.contains("replicas 5 -> 4"));
    assert!(lab.api.scale_patches().is_empty());
}

#[test]
fn errors_name_what_is_missing_or_forbidden() {
    let lab = Lab::new();
    let out = lab.cmd(&["cleanup", "--yes"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: Deployment \"iris-prediction-api\" not found in namespace default (404); check --app / --namespace / --context"
    );

    let lab = scaled_up();
    lab.api.deny("patch", "apps/deployments");
    let out = lab.cmd(&["cleanup", "--yes"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: forbidden (403): you may not patch deployments.apps/scale in namespace default"
        ),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("`kubectl auth can-i patch deployments.apps --subresource=scale -n default`"),
        "{stderr}"
    );
}

/// Runs cleanup on a pseudo-terminal (util-linux `script`), answering `answer`.
fn on_a_terminal(lab: &Lab, answer: &str) -> (Option<i32>, String) {
    let bin = support::binary();
    let line = format!(
        "{} --kubeconfig {} cleanup --wait 0",
        bin.display(),
        lab.kubeconfig.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(lab.dir.path())
        .env("HOME", lab.dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    // Answer once the question is on the screen, as a person would.
    let (asked_tx, asked) = std::sync::mpsc::channel();
    let mut screen = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut text = Vec::new();
        let mut chunk = [0u8; 512];
        while let Ok(n @ 1..) = screen.read(&mut chunk) {
            text.extend_from_slice(&chunk[..n]);
            if text.windows(5).any(|w| w == b"[y/N]") {
                let _ = asked_tx.send(());
            }
        }
        text
    });
    let mut stdin = child.stdin.take().unwrap();
    if asked.recv_timeout(Duration::from_secs(20)).is_ok() {
        use std::io::Write;
        stdin.write_all(answer.as_bytes()).unwrap();
    }
    drop(stdin);
    let status = exit_within(child, Duration::from_secs(20));
    let out = std::process::Output {
        status,
        stdout: reader.join().unwrap(),
        stderr: Vec::new(),
    };
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_it_asks_and_only_yes_scales() {
    let lab = scaled_up();
    let (code, text) = on_a_terminal(&lab, "n\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(
            "Scale deployment iris-prediction-api in namespace default from 5 to 2 replicas? [y/N]"
        ),
        "{text}"
    );
    assert!(text.contains("not confirmed: nothing changed"), "{text}");
    assert!(lab.api.scale_patches().is_empty());

    let (code, text) = on_a_terminal(&lab, "y\n");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("scaled iris-prediction-api to 2 replicas"),
        "{text}"
    );
    assert_eq!(lab.api.scale_patches().len(), 1);
}

#[test]
fn a_conflict_on_the_patch_is_one_line_and_nothing_else_happens() {
    let lab = scaled_up();
    lab.api.fail_on("patch", "apps/deployments", 409);
    let out = lab.cmd(&["cleanup", "--yes"]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: the API server refused to patch deployments.apps/scale iris-prediction-api in namespace default: 409 Conflict: Operation cannot be fulfilled"), "{stderr}");
    assert!(!stdout.contains("scaled"), "{stdout}");
}
