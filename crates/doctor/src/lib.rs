//! `iris-lab doctor`: the guide's troubleshooting section as checks, in the order someone works
//! through them (the Service and its address, reachability from here, the VPC firewall, the
//! HPA and metrics-server, the pods and their nodes). Each check is PASS/WARN/FAIL with its
//! evidence and, unless it passed, the fix.
//!
//! `gather` reads (cluster, network, Compute API) into a [`gather::Snapshot`]; the verdicts are
//! pure functions over k8s-openapi objects and probe results ([`service`], [`reach`],
//! [`firewall`], [`scaling`], [`pods`]), reusing `cluster::checks` where verify already decides.
//! A read that is not allowed becomes a WARN with its `kubectl auth can-i` line; the other
//! checks go on.

pub mod firewall;
pub mod gather;
pub mod pods;
pub mod reach;
pub mod scaling;
pub mod service;

use serde::Serialize;

use iris_cluster::ClusterError;

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// Where a check belongs, in the order they are worked through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Cluster,
    Service,
    Reachability,
    Firewall,
    Autoscaling,
    Pods,
    Nodes,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Cluster => "cluster",
            Section::Service => "service",
            Section::Reachability => "reachability",
            Section::Firewall => "firewall",
            Section::Autoscaling => "autoscaling",
            Section::Pods => "pods",
            Section::Nodes => "nodes",
        }
    }
}

/// One check: what was looked at, the verdict, what was seen, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub section: Section,
    pub name: String,
    pub verdict: Verdict,
    /// What was seen, in one line.
    pub evidence: String,
    /// More of what was seen: events, log lines, rule names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// What to do; `None` when it passed.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(section: Section, name: impl Into<String>, evidence: impl Into<String>) -> Self {
        Check {
            section,
            name: name.into(),
            verdict: Verdict::Pass,
            evidence: evidence.into(),
            details: Vec::new(),
            fix: None,
        }
    }

    pub fn warn(
        section: Section,
        name: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Check {
            verdict: Verdict::Warn,
            fix: Some(fix.into()),
            ..Check::pass(section, name, evidence)
        }
    }

    pub fn fail(
        section: Section,
        name: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Check {
            verdict: Verdict::Fail,
            fix: Some(fix.into()),
            ..Check::pass(section, name, evidence)
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// A check that could not be made: a missing permission (with its `kubectl auth can-i`
    /// line) or another error reading the cluster. WARN: nothing was judged.
    pub fn unreadable(section: Section, name: impl Into<String>, err: &ClusterError) -> Self {
        match err {
            ClusterError::Forbidden {
                verb,
                resource,
                namespace,
                can_i,
            } => {
                let ns = if namespace.is_empty() {
                    String::new()
                } else {
                    format!(" -n {namespace}")
                };
                let scope = if namespace.is_empty() {
                    "cluster-wide".to_string()
                } else {
                    format!("in namespace {namespace}")
                };
                Check::warn(
                    section,
                    name,
                    format!("not checked: you may not {verb} {resource} {scope} (403)"),
                    format!("ask for read access; `kubectl auth can-i {can_i}{ns}` says no today"),
                )
            }
            other => Check::warn(
                section,
                name,
                format!("not checked: {}", iris_base::chain::one_line(other)),
                "check the cluster's API server and try again",
            ),
        }
    }
}

/// Everything `doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub namespace: String,
    /// The Kubernetes API server, when a kubeconfig was found.
    pub server: Option<String>,
    /// The API's base URL that reachability was checked against.
    pub host: Option<String>,
    pub checks: Vec<Check>,
    pub counts: Counts,
    /// No check failed.
    pub passed: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

impl DoctorReport {
    pub fn new(
        namespace: String,
        server: Option<String>,
        host: Option<String>,
        mut checks: Vec<Check>,
    ) -> Self {
        // Stable: within a section, checks keep the order they were made in.
        checks.sort_by_key(|c| c.section);
        let count = |v| checks.iter().filter(|c| c.verdict == v).count();
        let counts = Counts {
            pass: count(Verdict::Pass),
            warn: count(Verdict::Warn),
            fail: count(Verdict::Fail),
        };
        DoctorReport {
            namespace,
            server,
            host,
            passed: counts.fail == 0,
            checks,
            counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_read_is_a_warning_with_its_can_i_line() {
        let err = ClusterError::Forbidden {
            verb: "list",
            resource: "deployments.apps".into(),
            namespace: "kube-system".into(),
            can_i: "list deployments.apps".into(),
        };
        let c = Check::unreadable(Section::Autoscaling, "metrics-server", &err);
        assert_eq!(c.verdict, Verdict::Warn);
        assert_eq!(
            c.fix.as_deref(),
            Some(
                "ask for read access; `kubectl auth can-i list deployments.apps -n kube-system` says no today"
            )
        );
        let cluster_wide = ClusterError::Forbidden {
            verb: "get",
            resource: "nodes".into(),
            namespace: String::new(),
            can_i: "get nodes".into(),
        };
        let c = Check::unreadable(Section::Nodes, "nodes", &cluster_wide);
        assert!(c.evidence.contains("cluster-wide"), "{}", c.evidence);
        assert!(
            c.fix
                .unwrap()
                .contains("`kubectl auth can-i get nodes` says no")
        );
    }

    #[test]
    fn the_report_orders_by_section_and_fails_on_any_failure() {
        let checks = vec![
            Check::pass(Section::Pods, "b", ""),
            Check::warn(Section::Service, "a", "", "x"),
            Check::pass(Section::Pods, "c", ""),
        ];
        let r = DoctorReport::new("default".into(), None, None, checks.clone());
        let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(r.passed);
        assert_eq!(
            r.counts,
            Counts {
                pass: 2,
                warn: 1,
                fail: 0
            }
        );
        let mut failing = checks;
        failing.push(Check::fail(Section::Nodes, "d", "", "y"));
        assert!(!DoctorReport::new("default".into(), None, None, failing).passed);
    }
}
