//! The CI gate: `--fail-on "p95:+10%,rps:-5%,failure_rate:+0.5pp"`. A rule is breached when
//! the change is significant (its 95% interval excludes 0) and passes the rule's limit in the
//! rule's direction.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::Row;
use super::units::Metric;

/// One rule: a metric, a direction and a limit (a fraction, or points for failure rates).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rule {
    pub metric: Metric,
    /// Signed: `+0.10` for `+10%`, `-0.05` for `-5%`, `+0.005` for `+0.5pp`.
    pub limit: f64,
}

/// The rules of `--fail-on` (or `compare.fail_on` in the config file).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FailOn(pub Vec<Rule>);

impl Rule {
    /// Whether `row` (of this rule's metric) breaches it.
    pub fn breached_by(&self, row: &Row) -> bool {
        let (Some(change), Some([lo, hi])) = (row.change, row.ci) else {
            return false;
        };
        let significant = lo > 0.0 || hi < 0.0;
        significant
            && if self.limit >= 0.0 {
                change >= self.limit
            } else {
                change <= self.limit
            }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.metric.name(),
            signed(self.metric, self.limit)
        )
    }
}

/// A change as the rules write it: `+10%`, `-5%`, `+0.5pp`.
pub fn signed(metric: Metric, change: f64) -> String {
    let sign = if change < 0.0 { "-" } else { "+" };
    let v = change.abs() * 100.0;
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let unit = if metric.in_points() { "pp" } else { "%" };
    format!("{sign}{text}{unit}")
}

impl FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(rule)
            .collect::<Result<Vec<_>, _>>()
            .map(FailOn)
    }
}

const NAMES: &str = "p50, p95, p99, rps, failure_rate";

fn rule(text: &str) -> Result<Rule, String> {
    let (name, limit) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not METRIC:CHANGE, e.g. p95:+10%"))?;
    let metric = Metric::from_name(name.trim())
        .ok_or_else(|| format!("unknown metric {name:?} in {text:?} (one of {NAMES})"))?;
    let limit = limit.trim();
    let sign = match limit.chars().next() {
        Some('+') => 1.0,
        Some('-') => -1.0,
        _ => {
            return Err(format!(
                "{text:?}: say which way the change fails, +{0} or -{0}",
                limit
            ));
        }
    };
    let (number, unit) = if metric.in_points() {
        (limit[1..].strip_suffix("pp"), "pp")
    } else {
        (limit[1..].strip_suffix('%'), "%")
    };
    let value: f64 = number
        .and_then(|n| n.trim().parse().ok())
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            format!("{text:?}: the limit of {name} is in {unit}, e.g. {name}:+10{unit}")
        })?;
    Ok(Rule {
        metric,
        limit: sign * value / 100.0,
    })
}

impl<'de> Deserialize<'de> for FailOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;

    #[test]
    fn rules_parse_as_written() {
        let f: FailOn = "p95:+10%, rps:-5%,failure_rate:+0.5pp".parse().unwrap();
        assert_eq!(f.0.len(), 3);
        assert_eq!((f.0[0].metric, f.0[0].limit), (Metric::P95, 0.1));
        assert_eq!((f.0[1].metric, f.0[1].limit), (Metric::Rps, -0.05));
        assert_eq!(f.0[2].metric, Metric::FailureRate);
        assert!((f.0[2].limit - 0.005).abs() < 1e-12);
        let back: Vec<String> = f.0.iter().map(Rule::to_string).collect();
        assert_eq!(back, ["p95:+10%", "rps:-5%", "failure_rate:+0.5pp"]);
        assert_eq!("".parse::<FailOn>().unwrap(), FailOn::default());
    }

    #[test]
    fn bad_rules_say_what_to_write() {
        let e = |s: &str| s.parse::<FailOn>().unwrap_err();
        assert!(e("p95").contains("METRIC:CHANGE"), "{}", e("p95"));
        assert!(e("p90:+1%").contains("unknown metric"));
        assert!(e("p95:10%").contains("+10% or -10%"), "{}", e("p95:10%"));
        assert!(e("failure_rate:+1%").contains("in pp"));
        assert!(e("p95:+1pp").contains("in %"));
        assert!(e("p95:+x%").contains("p95:+10%"));
    }

    fn row(change: f64, ci: [f64; 2]) -> Row {
        Row {
            metric: Metric::P95,
            base: Some(10.0),
            new: Some(10.0 * (1.0 + change)),
            change: Some(change),
            ci: Some(ci),
            verdict: Verdict::NoSignificantChange,
        }
    }

    #[test]
    fn a_rule_is_breached_by_a_significant_change_past_its_limit() {
        let up = Rule {
            metric: Metric::P95,
            limit: 0.1,
        };
        assert!(up.breached_by(&row(0.2, [0.15, 0.25])));
        // Past the limit but not significant: no breach.
        assert!(!up.breached_by(&row(0.2, [-0.01, 0.4])));
        // Significant but under the limit.
        assert!(!up.breached_by(&row(0.05, [0.02, 0.08])));
        let down = Rule {
            metric: Metric::Rps,
            limit: -0.05,
        };
        assert!(down.breached_by(&row(-0.1, [-0.2, -0.06])));
        assert!(!down.breached_by(&row(0.1, [0.06, 0.2])));
    }
}
