//! Axis ticks: "nice" steps (1, 2, 5 x 10^k) on linear axes, 1-2-5 marks on log axes, and
//! their labels.

/// A linear axis from 0 (or `min`) to a nice top at or above `max`, and its ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

impl Linear {
    /// About `target` ticks over `min..max`; the top is rounded up to a whole step.
    pub fn new(min: f64, max: f64, target: usize) -> Self {
        let max = if max.is_finite() && max > min {
            max
        } else {
            min + 1.0
        };
        let step = nice_step((max - min) / target.max(1) as f64);
        Self {
            min,
            max: min + ((max - min) / step - 1e-9).ceil().max(1.0) * step,
            step,
        }
    }

    /// About `target` ticks over exactly `min..max` (a time axis ends where the run did).
    pub fn exact(min: f64, max: f64, target: usize) -> Self {
        let rounded = Self::new(min, max, target);
        Self {
            max: if max.is_finite() && max > min {
                max
            } else {
                rounded.max
            },
            ..rounded
        }
    }

    /// The ticks from `min` to `max`, inclusive.
    pub fn ticks(&self) -> Vec<f64> {
        let n = ((self.max - self.min) / self.step + 1e-9).floor() as usize;
        (0..=n).map(|i| self.min + i as f64 * self.step).collect()
    }

    /// A tick's label with as many decimals as the step needs.
    pub fn label(&self, v: f64) -> String {
        let decimals = if self.step >= 1.0 {
            0
        } else {
            (-self.step.log10()).ceil() as usize
        };
        format!("{v:.decimals$}")
    }
}

/// The smallest of 1, 2, 5 x 10^k at or above `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// A log10 axis over whole decades covering `min..max` (both > 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    /// Decades: 10^lo .. 10^hi.
    pub lo: i32,
    pub hi: i32,
}

impl Log {
    pub fn new(min: f64, max: f64) -> Self {
        let min = min.max(1e-3);
        let max = max.max(min);
        let lo = min.log10().floor() as i32;
        let hi = (max.log10().ceil() as i32).max(lo + 1);
        Self { lo, hi }
    }

    /// 0..1 along the axis.
    pub fn position(&self, v: f64) -> f64 {
        (v.max(1e-3).log10() - f64::from(self.lo)) / f64::from(self.hi - self.lo)
    }

    /// 1, 2 and 5 x 10^k inside the axis, with whether each is a decade (labelled boldly).
    pub fn ticks(&self) -> Vec<(f64, bool)> {
        let mut out = Vec::new();
        for k in self.lo..=self.hi {
            let decade = 10f64.powi(k);
            for (m, major) in [(1.0, true), (2.0, false), (5.0, false)] {
                if k == self.hi && m > 1.0 {
                    break;
                }
                out.push((m * decade, major));
            }
        }
        out
    }
}

/// A value with at most 3 decimals and without trailing zeros: 0.5, 2, 1000.
pub fn plain(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// The percentile `nines` of an HdrHistogram-style axis: 0 -> "0%", 1 -> "90%", 2 -> "99%",
/// 3 -> "99.9%".
pub fn nines_label(nines: u32) -> String {
    match nines {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        2 => "99%".to_string(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(170.0), 200.0);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn linear_axes_end_on_a_step() {
        let a = Linear::new(0.0, 854.0, 4);
        assert_eq!(a.step, 500.0);
        assert_eq!(a.max, 1000.0);
        assert_eq!(a.ticks(), [0.0, 500.0, 1000.0]);
        let b = Linear::new(0.0, 0.0, 4);
        assert_eq!(b.max, 1.0);
        assert_eq!(b.ticks(), [0.0, 0.5, 1.0]);
        assert_eq!(b.label(0.5), "0.5");
        let e = Linear::exact(0.0, 8.05, 10);
        assert_eq!((e.max, e.ticks().len()), (8.05, 9));
        let c = Linear::new(0.0, 8.0, 8);
        assert_eq!(c.ticks().len(), 9);
        assert_eq!(c.label(3.0), "3");
    }

    #[test]
    fn log_axes_cover_whole_decades() {
        let a = Log::new(0.357, 98.6);
        assert_eq!((a.lo, a.hi), (-1, 2));
        assert_eq!(a.position(0.1), 0.0);
        assert!((a.position(100.0) - 1.0).abs() < 1e-12);
        let ticks: Vec<f64> = a.ticks().into_iter().map(|t| t.0).collect();
        assert_eq!(ticks.first(), Some(&0.1));
        assert_eq!(ticks.last(), Some(&100.0));
        assert_eq!(ticks.len(), 10);
        assert_eq!(plain(0.5), "0.5");
        assert_eq!(plain(100.0), "100");
    }

    #[test]
    fn nines_read_as_percentiles() {
        assert_eq!(nines_label(0), "0%");
        assert_eq!(nines_label(1), "90%");
        assert_eq!(nines_label(2), "99%");
        assert_eq!(nines_label(4), "99.99%");
    }
}
