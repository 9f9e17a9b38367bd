//! Changing a running closed-model run, as Locust's web UI does: a new user count reached at a
//! spawn rate from the users running now. The scheduler in `mod.rs` receives [`Swarm`]s on a
//! watch channel and follows [`reshape`]; the record keeps the run's actual shape as stages
//! ([`stages_followed`]), so that `report` reads a changed run as any staged one.

use std::time::Duration;

use tokio::sync::watch;

use super::shape::{Ramp, UserShape};
use iris_base::units::{Stage, Stages};

/// Locust's swarm: this many users, started (or stopped) at this rate per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swarm {
    pub users: u32,
    pub spawn_rate: f64,
}

/// The receiving end the scheduler of a running run listens on.
pub type SwarmControl = watch::Receiver<Swarm>;

/// A change the scheduler applied, `at_s` seconds after the run's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwarmChange {
    pub at_s: f64,
    pub swarm: Swarm,
}

/// The shape that goes from `running` users to `swarm.users` at `swarm.spawn_rate`, in
/// seconds from the change, and then holds.
pub fn reshape(running: u32, swarm: Swarm) -> UserShape {
    UserShape::Stages(Ramp::new(f64::from(running), &ramp_to(running, swarm)))
}

fn ramp_to(from: u32, swarm: Swarm) -> Stages {
    let distance = f64::from(swarm.users.abs_diff(from));
    let rate = if swarm.spawn_rate > 0.0 {
        swarm.spawn_rate
    } else {
        f64::INFINITY
    };
    Stages(vec![Stage {
        duration: Duration::from_secs_f64(distance / rate),
        target: f64::from(swarm.users),
    }])
}

/// The shape a run followed, as stages (duration s, target users) from its start to `end_s`:
/// the planned ones (`planned`, or the spawn of `users` at `spawn_rate`), cut where each change
/// came and followed by the change's ramp, the last level held to the end.
pub fn stages_followed(
    planned: Option<&Stages>,
    users: u32,
    spawn_rate: f64,
    changes: &[SwarmChange],
    end_s: f64,
) -> Vec<(f64, f64)> {
    let mut stages: Vec<(f64, f64)> = match planned {
        Some(s) => {
            s.0.iter()
                .map(|s| (s.duration.as_secs_f64(), s.target))
                .collect()
        }
        None => ramp_to(0, Swarm { users, spawn_rate })
            .0
            .iter()
            .map(|s| (s.duration.as_secs_f64(), s.target))
            .collect(),
    };
    for change in changes {
        let level = cut_at(&mut stages, change.at_s);
        let next = ramp_to(level.round() as u32, change.swarm);
        stages.extend(next.0.iter().map(|s| (s.duration.as_secs_f64(), s.target)));
    }
    cut_at(&mut stages, end_s);
    stages.retain(|(d, _)| *d > 0.0);
    stages
}

/// Cuts `stages` at `t` s (the stage running then ends there, at the level it had reached;
/// later ones go) or holds the last level up to `t`; returns the level at `t`.
fn cut_at(stages: &mut Vec<(f64, f64)>, t: f64) -> f64 {
    let (mut start, mut level) = (0.0, 0.0);
    for i in 0..stages.len() {
        let (d, target) = stages[i];
        if start + d > t {
            let at = if d > 0.0 {
                level + (target - level) * (t - start) / d
            } else {
                target
            };
            stages[i] = (t - start, at);
            stages.truncate(i + 1);
            return at;
        }
        start += d;
        level = target;
    }
    if t > start {
        stages.push((t - start, level));
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swarm(users: u32, spawn_rate: f64) -> Swarm {
        Swarm { users, spawn_rate }
    }

    #[test]
    fn a_change_ramps_from_the_running_users_at_its_rate_then_holds() {
        let up = reshape(20, swarm(40, 10.0));
        assert_eq!((up.count(0.0), up.count(1.0), up.count(2.0)), (20, 30, 40));
        assert_eq!(up.count(100.0), 40);
        let down = reshape(40, swarm(10, 30.0));
        assert_eq!((down.count(0.5), down.count(1.0)), (25, 10));
        let same = reshape(7, swarm(7, 1.0));
        assert_eq!((same.count(0.0), same.count(50.0)), (7, 7));
        assert_eq!(same.next_change(0.0, 7), None);
    }

    #[test]
    fn the_record_keeps_the_shape_followed_as_stages() {
        // 20 users at 10/s (2 s), held; at 10 s 40 users at 5/s (4 s); stopped at 20 s.
        let stages = stages_followed(
            None,
            20,
            10.0,
            &[SwarmChange {
                at_s: 10.0,
                swarm: swarm(40, 5.0),
            }],
            20.0,
        );
        assert_eq!(
            stages,
            vec![(2.0, 20.0), (8.0, 20.0), (4.0, 40.0), (6.0, 40.0)]
        );
        // A change during the first ramp cuts it at the level reached.
        let stages = stages_followed(
            None,
            100,
            10.0,
            &[SwarmChange {
                at_s: 5.0,
                swarm: swarm(10, 10.0),
            }],
            7.0,
        );
        assert_eq!(stages, vec![(5.0, 50.0), (2.0, 30.0)]);
        // Planned stages are cut at the stop too.
        let planned: Stages = "10s:10,10s:10".parse().unwrap();
        assert_eq!(
            stages_followed(Some(&planned), 10, 1.0, &[], 15.0),
            vec![(10.0, 10.0), (5.0, 10.0)]
        );
    }
}
