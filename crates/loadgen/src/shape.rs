//! Load shapes as pure functions of time: how many users should run at `t` (a spawn rate up to
//! a fixed count, or `--stages`), and when arrival `k` is due (a constant rate, or a rate
//! ramped by `--stages`). The schedulers in `mod.rs` and `arrival.rs` only follow them.

use std::time::Duration;

use iris_base::units::Stages;

/// Tolerance for floating-point levels (a level of 2.9999999999 is 3 users).
const EPS: f64 = 1e-9;
/// The smallest step a scheduler takes between two looks at a shape (no busy loop).
const MIN_STEP: f64 = 1e-3;

/// A piecewise-linear level over time in seconds: `start` at 0, then each stage ramps
/// linearly to its target over its duration (a stage of 0 s jumps). Past the end it holds
/// the last level.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    /// Segments of positive length: (from s, to s, level at from, level at to).
    segments: Vec<Segment>,
    /// Integral of the level over each segment before it (arrivals due by its start).
    before: Vec<f64>,
    end: f64,
    last: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    from: f64,
    to: f64,
    a: f64,
    b: f64,
}

impl Segment {
    fn level(&self, t: f64) -> f64 {
        self.a + (self.b - self.a) * (t - self.from) / (self.to - self.from)
    }

    fn area_to(&self, t: f64) -> f64 {
        let t = t.clamp(self.from, self.to);
        (t - self.from) * (self.a + self.level(t)) / 2.0
    }
}

impl Ramp {
    /// From `start` through each stage's target.
    pub fn new(start: f64, stages: &Stages) -> Self {
        let mut segments = Vec::new();
        let (mut t, mut level) = (0.0, start);
        for stage in &stages.0 {
            let d = stage.duration.as_secs_f64();
            if d > 0.0 {
                segments.push(Segment {
                    from: t,
                    to: t + d,
                    a: level,
                    b: stage.target,
                });
            }
            t += d;
            level = stage.target;
        }
        Self::from_segments(segments, t, level)
    }

    /// The same level for `length`.
    pub fn constant(level: f64, length: Duration) -> Self {
        let end = length.as_secs_f64();
        let segments = vec![Segment {
            from: 0.0,
            to: end.max(EPS),
            a: level,
            b: level,
        }];
        Self::from_segments(segments, end, level)
    }

    fn from_segments(segments: Vec<Segment>, end: f64, last: f64) -> Self {
        let mut before = Vec::with_capacity(segments.len());
        let mut area = 0.0;
        for s in &segments {
            before.push(area);
            area += s.area_to(s.to);
        }
        Self {
            segments,
            before,
            end,
            last,
        }
    }

    /// When the shape ends, in seconds from the start.
    pub fn end(&self) -> f64 {
        self.end
    }

    /// The level at `t` seconds.
    pub fn level(&self, t: f64) -> f64 {
        self.segments
            .iter()
            .find(|s| s.from <= t && t < s.to)
            .map_or_else(
                || match self.segments.first() {
                    Some(first) if t < first.from => first.a,
                    _ => self.last,
                },
                |s| s.level(t),
            )
    }

    /// The whole number of users the level asks for at `t`.
    pub fn count(&self, t: f64) -> u32 {
        (self.level(t) + EPS)
            .floor()
            .clamp(0.0, f64::from(u32::MAX)) as u32
    }

    /// The first time after `t` when [`Ramp::count`] differs from `current`, if it ever does
    /// before the end. Never earlier than `t` + 1 ms, so a scheduler cannot spin.
    pub fn next_change(&self, t: f64, current: u32) -> Option<f64> {
        let current = f64::from(current);
        for s in self.segments.iter().filter(|s| s.to > t) {
            if s.from > t && (s.a + EPS).floor() != current {
                return Some(s.from);
            }
            let cross = if s.b > s.a {
                // Up: the level reaches current + 1.
                s.from + (current + 1.0 - EPS - s.a) / (s.b - s.a) * (s.to - s.from)
            } else if s.b < s.a {
                // Down: the level falls below current.
                s.from + (current - EPS - s.a) / (s.b - s.a) * (s.to - s.from) + 1e-6
            } else {
                continue;
            };
            if cross < s.to {
                return Some(cross.max(t + MIN_STEP));
            }
        }
        None
    }

    /// How many arrivals a rate following this level has made due by `t`: its integral.
    pub fn arrivals_by(&self, t: f64) -> f64 {
        self.segments
            .iter()
            .zip(&self.before)
            .take_while(|(s, _)| s.from <= t)
            .last()
            .map_or(0.0, |(s, before)| before + s.area_to(t))
    }

    /// When arrival `k` (0-based) is due, in seconds from the start: the time at which
    /// [`Ramp::arrivals_by`] reaches `k`, computed from `k` alone so that it never drifts.
    /// None when the shape ends first.
    pub fn arrival_time(&self, k: u64) -> Option<f64> {
        let k = k as f64;
        let (s, before) = self
            .segments
            .iter()
            .zip(&self.before)
            .find(|(s, before)| k < *before + s.area_to(s.to))?;
        let x = k - before;
        let (a, slope) = (s.a, (s.b - s.a) / (s.to - s.from));
        // Solve a*tau + slope/2*tau^2 = x for the smallest tau >= 0, in the form that stays
        // exact when the slope is 0.
        let root = (a * a + 2.0 * slope * x).max(0.0).sqrt();
        let tau = if a + root > 0.0 {
            2.0 * x / (a + root)
        } else {
            0.0
        };
        let t = s.from + tau;
        (t < self.end).then_some(t)
    }
}

/// How many users run over time, in the closed model.
#[derive(Debug, Clone, PartialEq)]
pub enum UserShape {
    /// Users start at `rate` per second, evenly spaced, up to `users`, and run to the end.
    Spawn { users: u32, rate: f64 },
    /// `--stages`: the count follows the ramp; going down stops users between tasks.
    Stages(Ramp),
}

impl UserShape {
    /// The users that should be running at `t` seconds.
    pub fn count(&self, t: f64) -> u32 {
        match self {
            UserShape::Spawn { users, rate } => {
                let started = (t * rate + EPS).floor() + 1.0;
                started.min(f64::from(*users)) as u32
            }
            UserShape::Stages(ramp) => ramp.count(t),
        }
    }

    /// When the count next differs from `current`, in seconds from the start.
    pub fn next_change(&self, t: f64, current: u32) -> Option<f64> {
        match self {
            UserShape::Spawn { users, rate } => {
                (current < *users).then(|| f64::from(current) / rate)
            }
            UserShape::Stages(ramp) => ramp.next_change(t, current),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(text: &str) -> Stages {
        text.parse().unwrap()
    }

    #[test]
    fn users_follow_the_stages_and_change_at_the_right_times() {
        let r = Ramp::new(0.0, &stages("10s:10,10s:10,0s:2,5s:2,10s:0"));
        assert_eq!(r.end(), 35.0);
        assert_eq!(
            (r.count(0.0), r.count(0.95), r.count(1.0), r.count(9.99)),
            (0, 0, 1, 9)
        );
        assert_eq!((r.count(10.0), r.count(19.9), r.count(20.0)), (10, 10, 2));
        assert_eq!((r.count(25.0), r.count(30.0), r.count(40.0)), (2, 1, 0));
        // Up: one user a second.
        assert!((r.next_change(0.0, 0).unwrap() - 1.0).abs() < 1e-6);
        assert!((r.next_change(3.5, 3).unwrap() - 4.0).abs() < 1e-6);
        // The jump at 20 s, then the ramp down from 25 s: 2 -> 1 at 30 s.
        assert_eq!(r.next_change(12.0, 10), Some(20.0));
        let down = r.next_change(20.0, 2).unwrap();
        assert!((down - 25.0).abs() < 1e-3, "{down}");
        assert_eq!(r.count(down), 1);
        assert!((r.next_change(down, 1).unwrap() - 30.0).abs() < 1e-3);
        assert_eq!(r.next_change(34.0, 0), None);
    }

    #[test]
    fn next_change_always_moves_on() {
        let r = Ramp::new(0.0, &stages("1s:1000"));
        let mut t = 0.0;
        let mut steps = 0;
        while let Some(next) = r.next_change(t, r.count(t)) {
            assert!(next >= t + MIN_STEP - 1e-12);
            t = next;
            steps += 1;
        }
        assert!(steps <= 1000, "{steps}");
    }

    #[test]
    fn a_constant_rate_is_exactly_k_over_r() {
        let r = Ramp::constant(5000.0, Duration::from_secs(10));
        for k in [0u64, 1, 7, 4999, 5000, 49_999] {
            assert_eq!(r.arrival_time(k), Some(k as f64 / 5000.0), "{k}");
        }
        assert_eq!(r.arrival_time(50_000), None);
        assert_eq!(r.arrivals_by(2.0), 10_000.0);
    }

    #[test]
    fn a_ramped_rate_makes_arrivals_by_its_integral() {
        // 0 -> 100/s over 10 s (500 arrivals), then 100/s for 10 s (1000 more).
        let r = Ramp::new(0.0, &stages("10s:100,10s:100"));
        assert_eq!(r.arrivals_by(10.0), 500.0);
        assert_eq!(r.arrivals_by(20.0), 1500.0);
        // Arrival k during the ramp: 5 t^2 = k.
        let t = r.arrival_time(125).unwrap();
        assert!((t - 5.0).abs() < 1e-9, "{t}");
        let t = r.arrival_time(1000).unwrap();
        assert!((t - 15.0).abs() < 1e-9, "{t}");
        assert_eq!(r.arrival_time(1500), None);
        // Increasing, and consistent with the integral.
        let times: Vec<f64> = (0..1500).map(|k| r.arrival_time(k).unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        for (k, t) in times.iter().enumerate().step_by(37) {
            assert!((r.arrivals_by(*t) - k as f64).abs() < 1e-6);
        }
    }

    #[test]
    fn a_rate_that_falls_to_zero_ends_its_arrivals() {
        let r = Ramp::new(10.0, &stages("2s:0,2s:0"));
        assert_eq!(r.arrivals_by(4.0), 10.0);
        assert_eq!(r.arrival_time(0), Some(0.0));
        assert!(r.arrival_time(9).unwrap() < 2.0);
        assert_eq!(r.arrival_time(10), None);
        assert_eq!(r.level(1.0), 5.0);
    }

    #[test]
    fn spawned_users_start_evenly_up_to_their_count() {
        let shape = UserShape::Spawn {
            users: 3,
            rate: 2.0,
        };
        assert_eq!(
            (shape.count(0.0), shape.count(0.49), shape.count(0.5)),
            (1, 1, 2)
        );
        assert_eq!((shape.count(1.0), shape.count(99.0)), (3, 3));
        assert_eq!(shape.next_change(0.0, 1), Some(0.5));
        assert_eq!(shape.next_change(1.0, 3), None);
    }
}
