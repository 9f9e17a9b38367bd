//! `iris-lab doctor` flags.

use clap::Args;

use crate::units::{HumanDuration, PositiveDuration};

/// The guide's troubleshooting section as checks.
#[derive(Debug, Clone, Default, Args)]
pub struct DoctorArgs {
    /// Wait up to this long for the Service's external address (as `kubectl get svc -w`),
    /// e.g. 5m.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<HumanDuration>,

    /// Time limit of each reachability step (DNS, TCP, TLS, HTTP) [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub probe_timeout: Option<PositiveDuration>,

    /// Google Cloud project: check its VPC firewall rules admit the Service's port (Compute
    /// Engine API, read only; Application Default Credentials).
    #[arg(long, value_name = "PROJECT", env = "GOOGLE_CLOUD_PROJECT")]
    pub gcp_project: Option<String>,

    /// Lines of a crashed container's previous log to show [default: 20].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub log_lines: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    #[test]
    fn doctor_takes_its_flags() {
        let cli = Cli::try_parse_from([
            "iris-lab",
            "doctor",
            "--wait",
            "5m",
            "--gcp-project",
            "p",
            "--log-lines",
            "5",
            "--probe-timeout",
            "2s",
        ])
        .unwrap();
        let Command::Doctor(a) = cli.command else {
            panic!("not doctor")
        };
        assert_eq!(a.wait.unwrap().0.as_secs(), 300);
        assert_eq!(a.gcp_project.as_deref(), Some("p"));
        assert_eq!(a.log_lines, Some(5));
        assert!(Cli::try_parse_from(["iris-lab", "doctor", "--log-lines", "0"]).is_err());
    }
}
