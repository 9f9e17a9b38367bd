//! `iris-lab report` flags.

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

/// Phases 5-6: render runs into the comparison table, timing breakdown, bottlenecks and charts.
/// Also the config file's `report:` section (without the record files).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportArgs {
    /// Run records to report on [default: the latest run of each user count in --runs-dir].
    #[arg(value_name = "RUN.json")]
    #[serde(skip)]
    pub runs: Vec<PathBuf>,

    /// Where `load` saved its records [default: ./iris-lab-runs].
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// A minijinja template of your own; it sees the same data as templates/report.md (with
    /// --format html: as templates/report.html, which also sees `charts`).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,

    /// Write the report to FILE (atomically: a reader never sees half of it) instead of stdout.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub out: Option<PathBuf>,

    /// Google Cloud project: slow requests' trace ids become links to Cloud Trace.
    #[arg(long, value_name = "PROJECT", env = "GOOGLE_CLOUD_PROJECT")]
    pub gcp_project: Option<String>,

    /// Add a comparison against the runs in DIR (as `iris-lab compare DIR <the report's runs>`,
    /// with the config file's `compare:` settings): a section after the markdown, a `baseline`
    /// key in json, a section of the html page.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
}

super::layered!(ReportArgs {
    runs,
    runs_dir,
    template,
    out,
    gcp_project,
    baseline
});

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ReportArgs, clap::Error> {
        let argv = ["iris-lab", "report"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            Command::Report(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn runs_are_positional_and_optional() {
        assert!(parse(&[]).unwrap().runs.is_empty());
        let a = parse(&["a.json", "b.json"]).unwrap();
        assert_eq!(a.runs, [PathBuf::from("a.json"), PathBuf::from("b.json")]);
    }

    #[test]
    fn runs_dir_template_and_project_are_taken() {
        let a = parse(&[
            "--runs-dir",
            "d",
            "--template",
            "t.md",
            "--gcp-project",
            "p",
        ])
        .unwrap();
        assert_eq!(a.runs_dir, Some(PathBuf::from("d")));
        assert_eq!(a.template, Some(PathBuf::from("t.md")));
        assert_eq!(a.gcp_project.as_deref(), Some("p"));
    }

    #[test]
    fn out_and_the_html_format_are_taken() {
        let cli =
            Cli::try_parse_from(["iris-lab", "report", "--format", "html", "--out", "r.html"])
                .unwrap();
        assert_eq!(cli.global.format, Some(crate::output::Format::Html));
        match cli.command {
            Command::Report(a) => assert_eq!(a.out, Some(PathBuf::from("r.html"))),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn markdown_is_a_name_for_the_text_format() {
        let cli = Cli::try_parse_from(["iris-lab", "report", "--format", "markdown"]).unwrap();
        assert_eq!(cli.global.format, Some(crate::output::Format::Text));
    }
}
