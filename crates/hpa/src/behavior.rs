//! `behavior`: the stabilization windows over past recommendations and the scaling policies over
//! past scale events, as pure functions of that history ([`stabilize`], [`limit_rate`]).

use serde::Serialize;

use super::spec::{PolicyKind, Rules, Select};

/// One sync's recommendation (the replicas the metrics asked for, before `behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recommendation {
    pub t_s: f64,
    pub replicas: i32,
}

/// One change of the target's replicas the controller made (`change` > 0, in its direction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScaleEvent {
    pub t_s: f64,
    pub change: i32,
}

/// Why the replicas set differ from what the metrics asked for (the HPA's `ScalingLimited` and
/// `AbleToScale` condition reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Limit {
    /// A higher recommendation within the scale-down window holds the replicas up.
    ScaleDownStabilized,
    /// A lower recommendation within the scale-up window holds the replicas down.
    ScaleUpStabilized,
    /// The scale-up policies allow no more within their periods.
    ScaleUpLimit,
    /// The scale-down policies allow no fewer within their periods.
    ScaleDownLimit,
    /// `maxReplicas`.
    TooManyReplicas,
    /// `minReplicas`.
    TooFewReplicas,
    /// `selectPolicy: Disabled` in the direction asked for.
    ScalingDisabled,
}

/// The stabilized recommendation: `current` brought within the lowest recommendation of the
/// scale-up window and the highest of the scale-down window (both including `desired`).
/// `history` holds earlier recommendations (any order); returns the value and whether it
/// differs from `desired` because of a window.
pub fn stabilize(
    now_s: f64,
    current: i32,
    desired: i32,
    history: &[Recommendation],
    up: &Rules,
    down: &Rules,
) -> (i32, Option<Limit>) {
    let up_cutoff = now_s - up.stabilization_window.as_secs_f64();
    let down_cutoff = now_s - down.stabilization_window.as_secs_f64();
    let mut up_rec = desired;
    let mut down_rec = desired;
    for rec in history {
        if rec.t_s > up_cutoff {
            up_rec = up_rec.min(rec.replicas);
        }
        if rec.t_s > down_cutoff {
            down_rec = down_rec.max(rec.replicas);
        }
    }
    let stabilized = current.max(up_rec).min(down_rec);
    let limit = match stabilized.cmp(&desired) {
        std::cmp::Ordering::Greater => Some(Limit::ScaleDownStabilized),
        std::cmp::Ordering::Less => Some(Limit::ScaleUpStabilized),
        std::cmp::Ordering::Equal => None,
    };
    (stabilized, limit)
}

/// Recommendations that can still matter: those inside either window.
pub fn keep_recommendations(
    history: &mut Vec<Recommendation>,
    now_s: f64,
    up: &Rules,
    down: &Rules,
) {
    let longest = up.stabilization_window.max(down.stabilization_window);
    let cutoff = now_s - longest.as_secs_f64();
    history.retain(|r| r.t_s >= cutoff);
}

/// Events that can still matter: those inside the direction's longest policy period.
pub fn keep_events(events: &mut Vec<ScaleEvent>, now_s: f64, rules: &Rules) {
    let longest = rules
        .policies
        .iter()
        .map(|p| p.period)
        .max()
        .unwrap_or_default();
    let cutoff = now_s - longest.as_secs_f64();
    events.retain(|e| e.t_s >= cutoff);
}

fn change_in_period(now_s: f64, period_s: f64, events: &[ScaleEvent]) -> i32 {
    let cutoff = now_s - period_s;
    events
        .iter()
        .filter(|e| e.t_s > cutoff)
        .map(|e| e.change)
        .sum()
}

/// Past scale events of both directions, for the policies' periods.
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    pub up: &'a [ScaleEvent],
    pub down: &'a [ScaleEvent],
}

impl Events<'_> {
    /// The replicas at the start of a period ending now.
    fn period_start(&self, now_s: f64, period_s: f64, current: i32) -> i32 {
        current - change_in_period(now_s, period_s, self.up)
            + change_in_period(now_s, period_s, self.down)
    }
}

/// The most replicas the scale-up policies allow now; `None` when scaling up is disabled.
pub fn scale_up_limit(now_s: f64, current: i32, events: Events, rules: &Rules) -> Option<i32> {
    let proposals = rules.policies.iter().map(|p| {
        let start = events.period_start(now_s, p.period.as_secs_f64(), current);
        match p.kind {
            PolicyKind::Pods => start + p.value,
            PolicyKind::Percent => {
                (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
            }
        }
    });
    match rules.select {
        Select::Disabled => None,
        Select::Max => Some(proposals.max().unwrap_or(current)),
        Select::Min => Some(proposals.min().unwrap_or(current)),
    }
}

/// The fewest replicas the scale-down policies allow now; `None` when scaling down is disabled.
pub fn scale_down_limit(now_s: f64, current: i32, events: Events, rules: &Rules) -> Option<i32> {
    let proposals = rules.policies.iter().map(|p| {
        let start = events.period_start(now_s, p.period.as_secs_f64(), current);
        match p.kind {
            PolicyKind::Pods => start - p.value,
            PolicyKind::Percent => (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
        }
    });
    match rules.select {
        Select::Disabled => None,
        // The largest change is the lowest count.
        Select::Max => Some(proposals.min().unwrap_or(current)),
        Select::Min => Some(proposals.max().unwrap_or(current)),
    }
}

/// The HPA's bounds on one change
#[derive(Debug, Clone, Copy)]
pub struct Bounds<'a> {
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub up: &'a Rules,
    pub down: &'a Rules,
}

/// `desired` within the policies' rates and `minReplicas`..`maxReplicas`, and what limited it.
pub fn limit_rate(
    now_s: f64,
    current: i32,
    desired: i32,
    events: Events,
    bounds: Bounds,
) -> (i32, Option<Limit>) {
    if desired > current {
        let Some(rate) = scale_up_limit(now_s, current, events, bounds.up) else {
            return (current, Some(Limit::ScalingDisabled));
        };
        let rate = rate.max(current);
        let (allowed, reason) = if bounds.max_replicas > rate {
            (rate, Limit::ScaleUpLimit)
        } else {
            (bounds.max_replicas, Limit::TooManyReplicas)
        };
        if desired > allowed {
            return (allowed, Some(reason));
        }
    } else if desired < current {
        let Some(rate) = scale_down_limit(now_s, current, events, bounds.down) else {
            return (current, Some(Limit::ScalingDisabled));
        };
        let rate = rate.min(current);
        let (allowed, reason) = if bounds.min_replicas < rate {
            (rate, Limit::ScaleDownLimit)
        } else {
            (bounds.min_replicas, Limit::TooFewReplicas)
        };
        if desired < allowed {
            return (allowed, Some(reason));
        }
    }
    (desired, None)
}
