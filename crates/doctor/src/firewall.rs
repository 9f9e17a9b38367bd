//! Would the project's VPC firewall admit the Service's port from anywhere? Pure functions over
//! the rules `gcp::compute` lists: enabled INGRESS rules that cover tcp:PORT, allow against
//! deny by priority (lower wins; at equal priority deny wins, as in GCP).

use super::{Check, Section};
use iris_gcp::compute::{Firewall, Protocols};

const S: Section = Section::Firewall;

/// A port spec of a rule: `80` or `8000-8100`. `None` when it is neither.
pub fn port_range(spec: &str) -> Option<(u16, u16)> {
    let spec = spec.trim();
    match spec.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => spec.parse().ok().map(|p| (p, p)),
    }
}

/// Whether `protocols` (a rule's allowed or denied list) covers tcp:`port`.
pub fn covers(protocols: &[Protocols], port: u16) -> bool {
    protocols.iter().any(|p| {
        let proto = p.ip_protocol.to_ascii_lowercase();
        match proto.as_str() {
            "all" => true,
            "tcp" | "6" => {
                p.ports.is_empty()
                    || p.ports
                        .iter()
                        .filter_map(|s| port_range(s))
                        .any(|(a, b)| a <= port && port <= b)
            }
            _ => false,
        }
    })
}

fn from_anywhere(rule: &Firewall) -> bool {
    rule.source_ranges
        .iter()
        .any(|r| r.trim() == "0.0.0.0/0" || r.trim() == "::/0")
}

fn applies(rule: &Firewall) -> bool {
    !rule.disabled && rule.direction.eq_ignore_ascii_case("INGRESS")
}

fn network(rule: &Firewall) -> &str {
    rule.network.rsplit('/').next().unwrap_or("")
}

fn describe(rule: &Firewall) -> String {
    let targets = if rule.target_tags.is_empty() && rule.target_service_accounts.is_empty() {
        "all instances".to_string()
    } else {
        rule.target_tags
            .iter()
            .chain(&rule.target_service_accounts)
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    };
    let sources = if rule.source_ranges.is_empty() {
        rule.source_tags.join(",")
    } else {
        rule.source_ranges.join(",")
    };
    format!(
        "{} ({}, network {}, priority {}, from {}, to {})",
        rule.name,
        if rule.denied.is_empty() {
            "allow"
        } else {
            "deny"
        },
        network(rule),
        rule.priority,
        if sources.is_empty() { "-" } else { &sources },
        targets
    )
}

/// The verdict on tcp:`port` from anywhere over `rules`.
pub fn admits(rules: &[Firewall], port: u16, project: &str) -> Check {
    let name = format!("VPC firewall admits tcp:{port}");
    let allows: Vec<&Firewall> = rules
        .iter()
        .filter(|r| applies(r) && covers(&r.allowed, port))
        .collect();
    let denies: Vec<&Firewall> = rules
        .iter()
        .filter(|r| applies(r) && covers(&r.denied, port) && from_anywhere(r))
        .collect();
    let mut details: Vec<String> = allows.iter().chain(&denies).map(|r| describe(r)).collect();
    details.sort();
    let create = format!(
        "`gcloud compute firewall-rules create allow-iris-{port} --project {project} --network NETWORK --allow tcp:{port} --source-ranges 0.0.0.0/0 --target-tags NODE_TAG` (GKE creates a k8s-fw-* rule itself for a LoadBalancer Service: if it is missing, see the Service's events)"
    );
    let open: Vec<&Firewall> = allows
        .iter()
        .copied()
        .filter(|r| from_anywhere(r))
        .collect();
    let Some(best) = open.iter().min_by_key(|r| r.priority) else {
        if allows.is_empty() {
            return Check::fail(
                S,
                name,
                format!("no enabled ingress rule of project {project} admits tcp:{port}"),
                create,
            )
            .with_details(details);
        }
        return Check::warn(
            S,
            name,
            format!(
                "tcp:{port} is admitted only from some sources: {}",
                allows.iter().map(|r| describe(r)).collect::<Vec<_>>().join("; ")
            ),
            "this machine's public address must be in those ranges (the Service's loadBalancerSourceRanges set them on GKE)",
        )
        .with_details(details);
    };
    if let Some(deny) = denies.iter().find(|d| d.priority <= best.priority) {
        return Check::fail(
            S,
            name,
            format!("{} denies it before {} allows it", describe(deny), best.name),
            format!(
                "the deny rule {} (priority {}) wins over {} (priority {}): give the allow rule a lower number, or narrow the deny rule",
                deny.name, deny.priority, best.name, best.priority
            ),
        )
        .with_details(details);
    }
    Check::pass(S, name, describe(best)).with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;
    use proptest::prelude::*;

    fn rule(name: &str, priority: i64, allowed: &[&str], denied: &[&str], from: &str) -> Firewall {
        let protos = |ports: &[&str]| {
            if ports.is_empty() {
                vec![]
            } else {
                vec![Protocols {
                    ip_protocol: "tcp".into(),
                    ports: ports.iter().map(|p| p.to_string()).collect(),
                }]
            }
        };
        Firewall {
            name: name.into(),
            network: "projects/p/global/networks/default".into(),
            priority,
            direction: "INGRESS".into(),
            source_ranges: vec![from.into()],
            source_tags: vec![],
            target_tags: vec!["gke-node".into()],
            target_service_accounts: vec![],
            allowed: protos(allowed),
            denied: protos(denied),
            disabled: false,
        }
    }

    #[test]
    fn the_gke_rule_admits_the_port() {
        let rules = [rule("k8s-fw-abc", 1000, &["80"], &[], "0.0.0.0/0")];
        let c = admits(&rules, 80, "p");
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(
            c.evidence.starts_with(
                "k8s-fw-abc (allow, network default, priority 1000, from 0.0.0.0/0, to gke-node)"
            ),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn no_rule_fails_with_the_command_that_creates_one() {
        let rules = [rule("ssh", 1000, &["22"], &[], "0.0.0.0/0")];
        let c = admits(&rules, 80, "p");
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.fix.unwrap().contains("--allow tcp:80"));
    }

    #[test]
    fn a_deny_of_equal_or_higher_priority_wins() {
        let rules = [
            rule("k8s-fw-abc", 1000, &["80"], &[], "0.0.0.0/0"),
            rule("block-web", 900, &[], &["80-443"], "0.0.0.0/0"),
        ];
        let c = admits(&rules, 80, "p");
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.evidence.starts_with("block-web (deny"), "{}", c.evidence);
        let later = [
            rule("k8s-fw-abc", 1000, &["80"], &[], "0.0.0.0/0"),
            rule("block-web", 2000, &[], &["80"], "0.0.0.0/0"),
        ];
        assert_eq!(admits(&later, 80, "p").verdict, Verdict::Pass);
    }

    #[test]
    fn narrow_sources_and_disabled_rules() {
        let rules = [rule("office", 1000, &["80"], &[], "203.0.113.0/24")];
        assert_eq!(admits(&rules, 80, "p").verdict, Verdict::Warn);
        let mut off = rule("k8s-fw-abc", 1000, &["80"], &[], "0.0.0.0/0");
        off.disabled = true;
        assert_eq!(admits(&[off], 80, "p").verdict, Verdict::Fail);
    }

    proptest! {
        #[test]
        fn port_specs_never_panic(spec in "\\PC{0,12}") {
            let _ = port_range(&spec);
        }

        #[test]
        fn a_range_holds_exactly_its_ports(a in any::<u16>(), b in any::<u16>(), p in any::<u16>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let protos = [Protocols { ip_protocol: "tcp".into(), ports: vec![format!("{lo}-{hi}")] }];
            prop_assert_eq!(covers(&protos, p), lo <= p && p <= hi);
            let single = [Protocols { ip_protocol: "TCP".into(), ports: vec![a.to_string()] }];
            prop_assert_eq!(covers(&single, p), p == a);
            let udp = [Protocols { ip_protocol: "udp".into(), ports: vec![] }];
            prop_assert!(!covers(&udp, p));
        }
    }
}
