//! `iris-lab demo`: the guide end to end, in-process: on a simulated cluster (`demo_cluster.rs`:
//! `sim`, verify, the runs watched, cleanup), or with `--no-cluster` on the reference API
//! alone. Progress goes to stderr; the report to stdout or `--out`.
//!
//! The demo has its own typed plan ([`DemoPlan`]), built from `demo`'s flags only: nothing of
//! `iris-lab.yaml`'s `load:` section (wait, csv, scenario, timeout...) can leak into its runs.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cli::DemoArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::UserClass;
use crate::output::{self, Format, Style};
use crate::pipeline::{self, RunError, RunPlan, RunSite};
use crate::probe::{self, ApiClient};
use crate::record::scale_down::ScaleDownRecord;
use crate::report;
use crate::server::{self, Model};
use crate::units::format_duration;
use crate::usage::UsageError;

#[path = "demo_cluster.rs"]
mod cluster;

/// Each run's length: with the simulated cluster, long enough for pods started by the
/// 300-user run to become ready and carry the load.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);
pub const DEFAULT_CLUSTER_DURATION: Duration = Duration::from_secs(25);

/// The two runs of the guide: (users, class).
pub const RUNS: [(u32, &str); 2] = [(150, "IrisPredictionAPIUser"), (300, "HighLoadUser")];

/// The share of each run spent starting users: the rest runs at full users, so the report
/// compares two steady loads rather than two ramp-ups.
pub const RAMP_SHARE: f64 = 1.0 / 3.0;

/// The phases that need a cluster, and what a user runs for each on a real one.
pub const SKIPPED: [(&str, &str); 3] = [
    ("1.1-1.2 verify the deployment", "iris-lab verify"),
    ("3.3/4.4 watch the cluster scale", "iris-lab watch"),
    ("7 scale back down", "iris-lab cleanup"),
];

/// One load run of the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRun {
    pub users: u32,
    pub class: &'static str,
    /// Users started per second: all of them within [`RAMP_SHARE`] of the run.
    pub spawn_rate: f64,
    pub duration: Duration,
}

/// What the demo does, from its own flags only.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoPlan {
    pub runs: Vec<DemoRun>,
    /// Write the report here instead of stdout.
    pub out: Option<PathBuf>,
    /// Keep the records here; `None` means a temporary directory removed at the end.
    pub out_dir: Option<PathBuf>,
    pub format: Format,
    /// Run on the simulated cluster (not `--no-cluster`).
    pub cluster: bool,
}

impl DemoPlan {
    pub fn new(args: &DemoArgs, format: Format) -> Self {
        let default = if args.no_cluster {
            DEFAULT_DURATION
        } else {
            DEFAULT_CLUSTER_DURATION
        };
        let duration = args.duration.map_or(default, |d| d.0);
        let ramp = duration.as_secs_f64() * RAMP_SHARE;
        let runs = RUNS
            .iter()
            .map(|&(users, class)| DemoRun {
                users,
                class,
                spawn_rate: f64::from(users) / ramp,
                duration,
            })
            .collect();
        Self {
            runs,
            out: args.out.clone(),
            out_dir: args.out_dir.clone(),
            format,
            cluster: !args.no_cluster,
        }
    }
}

impl DemoRun {
    /// The run's plan: the built-in class with its own wait, the tool's defaults otherwise,
    /// one process, no cluster.
    pub fn plan(&self, out_dir: PathBuf) -> Result<RunPlan, Error> {
        let class = UserClass::resolve(Some(self.class), None)?;
        let plan = RunPlan::builder(class)
            .users(self.users)
            .spawn_rate(self.spawn_rate)
            .duration(self.duration)
            .out_dir(out_dir)
            .label(format!("demo, {} users", self.users))
            .build()
            .map_err(RunError::from)?;
        Ok(plan)
    }
}

pub async fn run(settings: &Settings, args: &DemoArgs) -> Result<Outcome, Error> {
    let plan = DemoPlan::new(args, settings.format);
    let model = Model::train()?;
    output::note(&output::render_model(&model));
    if plan.cluster {
        return cluster::run(settings, &plan, model).await;
    }
    let bind_error = |source| Error::Bind {
        addr: "127.0.0.1:0".into(),
        source,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, model, async {
        let _ = stopped.await;
    }));
    let host =
        reqwest::Url::parse(&format!("http://{addr}")).map_err(|e| UsageError::DemoAddress {
            addr: addr.to_string(),
            detail: e.to_string(),
        })?;
    output::note(&format!("demo: the reference API listens on {host}"));

    let result = match play(&plan, host, None).await {
        Ok(Ok(played)) => write_report(&plan, played, None).inspect(|_| {
            output::note(&skipped(SKIPPED[2].0, SKIPPED[2].1));
        }),
        Ok(Err(outcome)) => Ok(outcome),
        Err(e) => Err(e),
    };
    let _ = stop.send(());
    let _ = server.await;
    result
}

/// What the runs left for the report: their records, the temporary directory holding them
/// (removed when this is dropped), and when the last run ended.
pub struct Played {
    records: Vec<PathBuf>,
    _temp: Option<tempfile::TempDir>,
    pub ended: std::time::Instant,
}

/// Phases 1.3 to 4 on `host`; with a cluster, its runs watch it (and the phases that need one
/// are the caller's), without, those phases are said to be skipped. What the runs left, or
/// the outcome that stops the demo before its report.
async fn play(
    plan: &DemoPlan,
    host: reqwest::Url,
    cluster: Option<&cluster::DemoCluster>,
) -> Result<Result<Played, Outcome>, Error> {
    let style = Style::plain();
    let skip = |i: usize| {
        if cluster.is_none() {
            output::note(&skipped(SKIPPED[i].0, SKIPPED[i].1));
        }
    };
    skip(0);

    output::note("demo: Phase 1.3, smoke test");
    let client = ApiClient::new(host.clone(), probe::smoke::DEFAULT_TIMEOUT, false)
        .map_err(Error::HttpClient)?;
    let smoke_report = probe::smoke::run(&client).await;
    output::note(output::render_smoke(&smoke_report, Format::Text, style).trim_end());
    if !smoke_report.passed {
        return Ok(Err(Outcome::Failed));
    }

    // Records go to --out-dir, or to a temporary directory that is removed at the end (and
    // whose paths are then never printed).
    let temp = match &plan.out_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().map_err(|e| Error::write("a temporary directory", e))?),
    };
    let out_dir: PathBuf = match (&plan.out_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => PathBuf::from(crate::record::DEFAULT_OUT_DIR),
    };

    let site = cluster.map_or_else(|| RunSite::new(host.clone()), |c| c.site(host.clone()));
    let mut records = Vec::new();
    for (i, run) in plan.runs.iter().enumerate() {
        output::note(&format!(
            "demo: Phase {}, {} users of {} for {} (all started in the first {})",
            i + 3,
            run.users,
            run.class,
            format_duration(run.duration),
            format_duration(run.duration.mul_f64(RAMP_SHARE)),
        ));
        let mut plan = run.plan(out_dir.clone())?;
        if let Some(c) = cluster {
            c.watch(&mut plan);
        }
        let mut display = output::LiveDisplay::for_stderr();
        let result = pipeline::run(&plan, &site, &mut display).await?;
        let kept = temp.is_none();
        output::note(output::render_load_text(&result, style, kept).trim_end());
        records.push(result.record_path.clone());
        if result.outcome == Outcome::Interrupted {
            output::note("demo: interrupted; the report is not written");
            return Ok(Err(Outcome::Interrupted));
        }
    }
    skip(1);
    Ok(Ok(Played {
        records,
        _temp: temp,
        ended: std::time::Instant::now(),
    }))
}

/// Phases 5-6: the report of the runs, with Phase 7's scale-down when there was one.
fn write_report(
    plan: &DemoPlan,
    played: Played,
    scale_down: Option<ScaleDownRecord>,
) -> Result<Outcome, Error> {
    output::note("demo: Phases 5-6, report");
    let views = report::from_record::load_views(&played.records)?;
    let mut model = report::build(views, &report::ReportOptions::default());
    model.scale_down = scale_down;
    let text = output::render_report(&model, plan.format, None)?;
    output::deliver(plan.out.as_deref(), &text)?;
    Ok(Outcome::Success)
}

fn skipped(phase: &str, command: &str) -> String {
    format!("demo: Phase {phase}: skipped, needs a cluster (on yours: `{command}`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_reaches_full_users_within_a_third_of_its_length() {
        let plan = DemoPlan::new(&DemoArgs::default(), Format::Text);
        assert_eq!(plan.runs.len(), 2);
        for run in &plan.runs {
            let ramp = f64::from(run.users - 1) / run.spawn_rate;
            assert!(
                ramp <= run.duration.as_secs_f64() / 2.0,
                "{run:?}: ramp {ramp} s"
            );
        }
        assert_eq!(plan.runs[0].duration, DEFAULT_CLUSTER_DURATION);
        assert!(plan.cluster);
        let alone = DemoArgs {
            no_cluster: true,
            ..DemoArgs::default()
        };
        let plan = DemoPlan::new(&alone, Format::Text);
        assert_eq!(plan.runs[0].duration, DEFAULT_DURATION);
        assert!(!plan.cluster);
    }
}
