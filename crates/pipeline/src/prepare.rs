//! Before the run: the users fit on this machine, the target resolves and answers.

use std::time::Duration;

use super::RunError;
use iris_loadgen::{LoadPlan, Target};

/// File descriptors kept free for the runtime, the record files and stdio.
const SPARE_FILES: u64 = 64;

/// The target, resolved, checked for capacity and answering one connection.
pub async fn target(
    plan: &LoadPlan,
    host: &reqwest::Url,
    insecure: bool,
) -> Result<Target, RunError> {
    let mut target = Target::resolve(host, insecure).await?;
    ensure_capacity(plan.users, target.addrs.len())?;
    let source_ports = plan
        .source_ports
        .or_else(|| own_source_ports(plan.users, ephemeral_ports()));
    if let Some((first, last)) = source_ports {
        target.use_source_ports(first, last);
    }
    preflight(&target, plan.timeout).await?;
    Ok(target)
}

/// Why the users do not fit on this machine (exit 2): each says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapacityError {
    #[error(
        "--users {users} needs about {needed} open files but this process may open only \
         {nofile}: raise the limit (e.g. `ulimit -n {needed}`) or use fewer users"
    )]
    OpenFiles {
        users: u32,
        needed: u64,
        nofile: u64,
    },
    #[error(
        "--users {users} needs one connection each, more than the {ports} ephemeral ports \
         ({first}-{last}, net.ipv4.ip_local_port_range) towards this target: use fewer users"
    )]
    SourcePorts {
        users: u32,
        ports: u64,
        first: u32,
        last: u32,
    },
}

/// Why `users` cannot run here, if they cannot: open files, or source ports towards the
/// target's addresses.
pub fn capacity_problem(
    users: u32,
    nofile: u64,
    port_range: Option<(u32, u32)>,
    addresses: usize,
) -> Option<CapacityError> {
    let needed = u64::from(users) + SPARE_FILES;
    if needed > nofile {
        return Some(CapacityError::OpenFiles {
            users,
            needed,
            nofile,
        });
    }
    let (first, last) = port_range?;
    let addresses = u64::try_from(addresses.max(1)).unwrap_or(u64::MAX);
    let ports = u64::from(last.saturating_sub(first) + 1).saturating_mul(addresses);
    (u64::from(users) > ports).then_some(CapacityError::SourcePorts {
        users,
        ports,
        first,
        last,
    })
}

/// Whether connections should bind their own local ports: when the users would fill more
/// than half of the ephemeral range, where Linux's port search in `connect()` becomes slow.
pub fn own_source_ports(users: u32, port_range: Option<(u32, u32)>) -> Option<(u16, u16)> {
    let (lo, hi) = port_range?;
    let half = (hi.saturating_sub(lo) + 1).div_ceil(2);
    if users < half {
        return None;
    }
    Some((u16::try_from(lo).ok()?, u16::try_from(hi).ok()?))
}

pub(super) fn ephemeral_ports() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

/// Raises the open-file soft limit to the hard limit and checks that the users fit.
fn ensure_capacity(users: u32, addresses: usize) -> Result<(), RunError> {
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    match capacity_problem(users, nofile, ephemeral_ports(), addresses) {
        Some(problem) => Err(problem.into()),
        None => Ok(()),
    }
}

/// One connection before the run, so an unreachable host is one clear error, not a run of
/// failures.
async fn preflight(target: &Target, timeout: Duration) -> Result<(), RunError> {
    let host = target.url.to_string();
    match tokio::time::timeout(timeout.min(Duration::from_secs(10)), target.connect(0)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(failure)) => Err(RunError::Unreachable { host, failure }),
        Err(_) => Err(RunError::Unreachable {
            host,
            failure: iris_api::Failure::Timeout,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_checked_before_the_run() {
        assert_eq!(capacity_problem(150, 1024, Some((32768, 60999)), 1), None);
        let e = capacity_problem(20_000, 20_000, None, 1).unwrap();
        assert_eq!(
            e.to_string(),
            "--users 20000 needs about 20064 open files but this process may open only 20000: \
             raise the limit (e.g. `ulimit -n 20064`) or use fewer users"
        );
        let e = capacity_problem(30_000, 1 << 20, Some((32768, 60999)), 1).unwrap();
        assert_eq!(
            e.to_string(),
            "--users 30000 needs one connection each, more than the 28232 ephemeral ports \
             (32768-60999, net.ipv4.ip_local_port_range) towards this target: use fewer users"
        );
        assert_eq!(
            capacity_problem(30_000, 1 << 20, Some((32768, 60999)), 2),
            None
        );
    }

    #[test]
    fn own_source_ports_only_past_half_the_range() {
        assert_eq!(own_source_ports(14_000, Some((32768, 60999))), None);
        assert_eq!(
            own_source_ports(20_000, Some((32768, 60999))),
            Some((32768, 60999))
        );
        assert_eq!(own_source_ports(20_000, None), None);
    }
}
