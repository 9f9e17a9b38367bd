//! iris-lab: the Kubernetes load-testing guide of the Iris prediction API, as one tool.
//!
//! `main` parses the command line and calls [`run`]; everything else lives here so that
//! integration tests can call it.

pub use iris_api as api;
pub mod cli;
pub use iris_cluster as cluster;
pub mod commands;
pub mod config;
pub use iris_delta as delta;
pub use iris_doctor as doctor;
pub mod error;
pub use iris_gcp as gcp;
pub use iris_hpa as hpa;
pub use iris_loadgen as loadgen;
pub use iris_output as output;
pub use iris_pipeline as pipeline;
pub use iris_probe as probe;
pub use iris_record as record;
pub use iris_report as report;
pub use iris_server as server;
pub use iris_sim as sim;
pub use iris_stats as stats;
pub use iris_trace as trace;
pub use iris_web as web;

pub use iris_base::{chain, keys, outcome, signals, units, usage, yaml};

#[cfg(test)]
mod rooms_tests;

use cli::{Cli, Command};
use config::Settings;
use error::{Error, Outcome};

/// Runs one command to its end and says which exit code it asks for.
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    if let Command::Guide(args) = &cli.command {
        // The guide needs no config: it must work even when the config is broken.
        output::write_stdout(&commands::guide::text(args.phase))?;
        return Ok(Outcome::Success);
    }
    if let Command::Worker(args) = cli.command {
        // A worker runs the plan its controller settled: it never reads the config file.
        let runtime = runtime()?;
        let task = runtime.spawn(async move { commands::worker::run(&args).await });
        return runtime.block_on(task).map_err(Error::Task)?;
    }
    let settings = Settings::resolve(&cli.global)?;
    let reports = matches!(cli.command, Command::Report(_) | Command::Demo(_));
    if settings.format == output::Format::Html && !reports {
        return Err(usage::UsageError::HtmlNotForThisCommand.into());
    }
    let runtime = runtime()?;
    // Commands run as a task on the runtime, not in block_on on the main thread: a command that
    // consumes a stream of events (load's statistics) then shares the producers' worker thread,
    // and each event does not wake another thread (measured: 19% of load's CPU).
    let command = cli.command;
    let task = runtime.spawn(async move {
        match command {
            Command::Serve(args) => commands::serve::run(&settings, &args).await,
            Command::Web(args) => {
                let args = settings.layer(&args, |f| &f.web);
                commands::web::run(&settings, &args, commands::load::plan).await
            }
            Command::Smoke(args) => commands::smoke::run(&settings, &args).await,
            Command::Load(args) => commands::load::run(&settings, &args).await,
            Command::Report(args) => {
                let plan = commands::report::plan(&settings, &args);
                let text = commands::report::run(&plan).await?;
                commands::report::deliver(&plan, &text)?;
                Ok(Outcome::Success)
            }
            Command::Trace(args) => {
                let result = commands::trace::run(&commands::trace::plan(&settings, &args)).await?;
                let text =
                    output::render_trace(&result, settings.format, output::Style::for_stdout());
                output::write_stdout(&text)?;
                Ok(Outcome::Success)
            }
            Command::Predict(args) => commands::predict::run(&settings, &args),
            Command::Compare(args) => {
                commands::compare::run(&commands::compare::plan(&settings, &args)?)
            }
            Command::Demo(args) => commands::demo::run(&settings, &args).await,
            Command::Sim(args) => {
                commands::sim::run(&settings, &settings.layer(&args, |f| &f.sim)).await
            }
            Command::Verify => commands::verify::run(&settings).await,
            Command::Doctor(args) => commands::doctor::run(&settings, &args).await,
            Command::Watch(args) => commands::watch::run(&settings, &args).await,
            Command::Cleanup(args) => commands::cleanup::run(&settings, &args).await,
            Command::Guide(_) | Command::Worker(_) => Ok(Outcome::Success),
        }
    });
    runtime.block_on(task).map_err(Error::Task)?
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}
