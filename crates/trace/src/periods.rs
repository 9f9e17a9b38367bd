//! The periods of a run as scaling shapes it: before the first scale-up, while scaling (first
//! scale-up to the last new pod ready), after. Pure: the times come from the run's cluster data.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    BeforeScaling,
    #[serde(rename = "while_scaling")]
    Scaling,
    AfterScaling,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::BeforeScaling, Period::Scaling, Period::AfterScaling];

    pub fn title(self) -> &'static str {
        match self {
            Period::BeforeScaling => "before scaling",
            Period::Scaling => "while scaling",
            Period::AfterScaling => "after scaling",
        }
    }
}

/// Seconds since the run's start where scaling began and where it settled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Periods {
    pub scale_up_s: f64,
    /// The last pod started during the run became ready; `None` when none did (the run ended
    /// while scaling).
    pub settled_s: Option<f64>,
}

impl Periods {
    /// From the first scale-up and the times new pods were seen ready (seconds since start).
    /// `None` when the run did not scale up.
    pub fn from_scaling(
        first_scale_up_s: Option<f64>,
        new_pods_ready_s: &[f64],
    ) -> Option<Periods> {
        let scale_up_s = first_scale_up_s.filter(|t| t.is_finite())?;
        let settled_s = new_pods_ready_s
            .iter()
            .copied()
            .filter(|t| t.is_finite() && *t >= scale_up_s)
            .reduce(f64::max);
        Some(Periods {
            scale_up_s,
            settled_s,
        })
    }

    /// The period of a moment `t_s` seconds after the run's start.
    pub fn of(&self, t_s: f64) -> Period {
        if t_s < self.scale_up_s {
            Period::BeforeScaling
        } else if self.settled_s.is_none_or(|s| t_s < s) {
            Period::Scaling
        } else {
            Period::AfterScaling
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_run_from_the_first_scale_up_to_the_last_new_pod_ready() {
        let p = Periods::from_scaling(Some(30.0), &[55.0, 48.0, 10.0]).unwrap();
        assert_eq!(p.settled_s, Some(55.0));
        assert_eq!(p.of(29.9), Period::BeforeScaling);
        assert_eq!(p.of(30.0), Period::Scaling);
        assert_eq!(p.of(54.0), Period::Scaling);
        assert_eq!(p.of(55.0), Period::AfterScaling);
    }

    #[test]
    fn no_scale_up_no_periods_and_no_ready_pod_scales_to_the_end() {
        assert_eq!(Periods::from_scaling(None, &[5.0]), None);
        let p = Periods::from_scaling(Some(30.0), &[]).unwrap();
        assert_eq!(p.of(1000.0), Period::Scaling);
    }
}
