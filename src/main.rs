use std::process::ExitCode;

use clap::Parser;
use iris_lab::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match iris_lab::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            for line in err.lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
