//! `iris-lab demo`: the guide end to end on the reference API, in-process, with no cluster.
//! Progress goes to stderr; the report to stdout or `--out`.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::ApiClient;
use crate::cli::{DemoArgs, LoadArgs};
use crate::commands::{load, report, smoke};
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output::{self, Format, Style};
use crate::server::{self, Model};

pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

/// The two runs of the guide: (users, class).
pub const RUNS: [(u32, &str); 2] = [(150, "IrisPredictionAPIUser"), (300, "HighLoadUser")];

/// The phases that need a cluster, and what a user runs for each on a real one.
pub const SKIPPED: [(&str, &str); 3] = [
    ("1.1-1.2 verify the deployment", "iris-lab verify"),
    ("3.3/4.4 watch the cluster scale", "iris-lab watch"),
    ("7 scale back down", "iris-lab cleanup"),
];

pub async fn run(settings: &Settings, args: &DemoArgs) -> Result<Outcome, Error> {
    let duration = args.duration.unwrap_or(DEFAULT_DURATION);
    let model = Model::train()?;
    output::note(&output::render_model(&model));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Bind {
            addr: "127.0.0.1:0".into(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: "127.0.0.1:0".into(),
        source,
    })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, model, async {
        let _ = stopped.await;
    }));
    let host = crate::cli::values::parse_host(&format!("http://{addr}")).map_err(Error::Usage)?;
    output::note(&format!("demo: the reference API listens on {host}"));

    let result = guide(settings, args, duration, host).await;
    let _ = stop.send(());
    let _ = server.await;
    result
}

async fn guide(
    settings: &Settings,
    args: &DemoArgs,
    duration: Duration,
    host: reqwest::Url,
) -> Result<Outcome, Error> {
    let style = Style::plain();
    for (phase, command) in &SKIPPED[..1] {
        output::note(&skipped(phase, command));
    }

    output::note("demo: Phase 1.3, smoke test");
    let client = ApiClient::new(host.clone(), smoke::DEFAULT_TIMEOUT, false)?;
    let smoke_report = smoke::run(&client).await;
    output::note(output::render_smoke(&smoke_report, Format::Text, style).trim_end());
    if !smoke_report.passed {
        return Ok(Outcome::Failed);
    }

    // Records go to --out-dir, or to a temporary directory that is removed at the end.
    let temp = match &args.out_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().map_err(|e| Error::write("a temporary directory", e))?),
    };
    let out_dir: PathBuf = match (&args.out_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => PathBuf::from(load::DEFAULT_OUT_DIR),
    };

    let mut records = Vec::new();
    for (i, (users, class)) in RUNS.iter().enumerate() {
        output::note(&format!(
            "demo: Phase {}, {users} users of {class} for {}",
            i + 3,
            crate::cli::values::format_duration(duration)
        ));
        let load_args = LoadArgs {
            users: Some(*users),
            spawn_rate: Some(10.0),
            duration: Some(duration),
            user_class: Some((*class).to_string()),
            out_dir: Some(out_dir.clone()),
            label: Some(format!("demo, {users} users")),
            no_cluster: true,
            ..LoadArgs::default()
        };
        let options = load::options(settings, &load_args, host.clone())?;
        let mut display = output::LiveDisplay::for_stderr();
        let result = load::run(options, &mut display).await?;
        output::note(output::render_load(&result, Format::Text, style).trim_end());
        records.push(result.record_path.clone());
        if result.outcome == Outcome::Interrupted {
            output::note("demo: interrupted; the report is not written");
            return Ok(Outcome::Interrupted);
        }
    }
    output::note(&skipped(SKIPPED[1].0, SKIPPED[1].1));

    output::note("demo: Phases 5-6, report");
    let plan = report::ReportPlan {
        runs: records,
        runs_dir: out_dir,
        template: None,
        options: Default::default(),
        format: settings.format,
    };
    let text = report::run(&plan).await?;
    match &args.out {
        Some(path) => {
            output::write_file(path, &text)?;
            output::note(&format!("demo: report written to {}", path.display()));
        }
        None => output::write_stdout(&text)?,
    }
    output::note(&skipped(SKIPPED[2].0, SKIPPED[2].1));
    drop(temp);
    Ok(Outcome::Success)
}

fn skipped(phase: &str, command: &str) -> String {
    format!("demo: Phase {phase}: skipped, needs a cluster (on yours: `{command}`)")
}
