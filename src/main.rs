use std::process::ExitCode;

use clap::Parser;
use iris_lab::cli::Cli;
use iris_lab::error::one_line;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match iris_lab::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(err.exit_code())
        }
    }
}
