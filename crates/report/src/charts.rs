//! Mermaid `xychart-beta` blocks (GitHub renders them): one series per chart.

use serde::Serialize;

use super::view::{RunView, Second};

/// Most points a chart draws; longer runs are averaged into buckets.
pub const MAX_POINTS: usize = 60;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub title: String,
    /// The whole fenced block, ready to print.
    pub mermaid: String,
}

/// A chart's name, unit and the value it reads from each second.
type Series = (&'static str, &'static str, fn(&Second) -> Option<f64>);

/// RPS, p95 latency and (with cluster data) replicas over time for one run.
pub fn charts(run: &RunView) -> Vec<Chart> {
    let mut out = Vec::new();
    let series: [Series; 3] = [
        ("Requests/s", "requests/s", |s| Some(s.rps)),
        ("p95 latency", "ms", |s| s.p95_ms),
        ("Replicas", "pods", |s| s.replicas.map(f64::from)),
    ];
    for (name, unit, value) in series {
        let points: Vec<(u64, f64)> = run
            .timeline
            .iter()
            .filter_map(|s| value(s).map(|v| (s.t, v)))
            .collect();
        if points.is_empty() {
            continue;
        }
        let title = format!("{name}, {}", run.load_text());
        out.push(Chart {
            mermaid: xychart(&title, unit, &points),
            title,
        });
    }
    out
}

fn xychart(title: &str, unit: &str, points: &[(u64, f64)]) -> String {
    let values = downsample(points, MAX_POINTS);
    let first = points.first().map_or(0, |p| p.0);
    let last = points.last().map_or(0, |p| p.0);
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let top = if max > 0.0 { (max * 1.1).ceil() } else { 1.0 };
    let line = values
        .iter()
        .map(|v| format!("{v:.1}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "```mermaid\nxychart-beta\n    title \"{title}\"\n    x-axis \"seconds\" {first} --> {last}\n    y-axis \"{unit}\" 0 --> {top}\n    line [{line}]\n```"
    )
}

/// Averages consecutive points into at most `max` buckets.
fn downsample(points: &[(u64, f64)], max: usize) -> Vec<f64> {
    if points.len() <= max {
        return points.iter().map(|p| p.1).collect();
    }
    let size = points.len().div_ceil(max);
    points
        .chunks(size)
        .map(|c| c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_per_series_with_data() {
        let run = RunView {
            users: 150,
            timeline: (0..10)
                .map(|t| Second {
                    t,
                    rps: t as f64,
                    p95_ms: Some(10.0),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let c = charts(&run);
        assert_eq!(c.len(), 2, "no replicas without cluster data");
        assert_eq!(c[0].title, "Requests/s, 150 users");
        assert!(c[0].mermaid.starts_with("```mermaid\nxychart-beta\n"));
        assert!(c[0].mermaid.contains("x-axis \"seconds\" 0 --> 9"));
        assert!(c[0].mermaid.contains("line [0.0, 1.0, 2.0"));
        assert!(c[0].mermaid.ends_with("```"));
    }

    #[test]
    fn long_runs_are_bucketed() {
        let points: Vec<(u64, f64)> = (0..300).map(|t| (t, 1.0)).collect();
        let v = downsample(&points, MAX_POINTS);
        assert!(v.len() <= MAX_POINTS);
        assert!(v.iter().all(|&x| (x - 1.0).abs() < 1e-9));
    }
}
