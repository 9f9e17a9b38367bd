//! The report as one self-contained HTML page: the same [`ReportModel`] as the markdown,
//! through `templates/report.html`, plus inline SVG charts of each run's timeline and of the
//! runs' latency distributions (built here from the model's runs, drawn by [`super::svg`]).

pub mod autoscaling;

use serde::Serialize;

use super::svg::curve::{CurveChart, nines};
use super::svg::time::{Marker, MarkerKind, Panel, TimeChart};
use super::svg::{Colour, Line, Stroke};
use super::{ReportError, ReportModel};
use iris_analysis::compare;
use iris_analysis::view::{RunView, Second};

/// The page `iris-lab report --format html` renders unless given `--template`.
pub const HTML_TEMPLATE: &str = include_str!("../../../templates/report.html");

/// What the HTML template sees besides `report`: the charts, as SVG markup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charts {
    /// One per run, in the model's order.
    pub runs: Vec<RunCharts>,
    /// The runs' latency percentile curves on one chart; absent when no run had requests.
    pub latency: Option<String>,
    /// Section 6.4's charts, in the order of `report.autoscaling`.
    pub autoscaling: Vec<autoscaling::AutoscalingCharts>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCharts {
    pub column: String,
    pub label: String,
    /// Absent when the run has no timeline.
    pub timeline: Option<String>,
    /// What the chart cannot show (events after the run's end).
    pub notes: Vec<String>,
}

/// The charts of a model's runs.
pub fn charts(model: &ReportModel) -> Charts {
    let columns = compare::column_names(&model.runs);
    Charts {
        runs: model
            .runs
            .iter()
            .zip(&columns)
            .map(|(run, column)| {
                let (chart, notes) = timeline_chart(run, column);
                RunCharts {
                    column: column.clone(),
                    label: run.label.clone(),
                    timeline: chart.map(|c| c.render()),
                    notes,
                }
            })
            .collect(),
        latency: latency_chart(&model.runs, &columns).map(|c| c.render()),
        autoscaling: autoscaling::charts(&model.autoscaling),
    }
}

/// Renders the page through an HTML template (`name` for error messages): values are escaped,
/// the charts are inserted as they are.
pub fn render(model: &ReportModel, template: &str, name: &str) -> Result<String, ReportError> {
    render_with_baseline(model, template, name, None)
}

/// Renders the page with `baseline`, the comparison against a baseline already rendered as
/// HTML (`report --baseline`), inserted as it is where the template places `baseline`.
pub fn render_with_baseline(
    model: &ReportModel,
    template: &str,
    name: &str,
    baseline: Option<String>,
) -> Result<String, ReportError> {
    super::render_with(
        model,
        template,
        name,
        Some(minijinja::Value::from(minijinja::value::Serde(charts(
            model,
        )))),
        baseline.map(minijinja::Value::from_safe_string),
    )
}

/// The `inline` filter: text with markdown's inline `code` and **bold**, as escaped HTML.
pub fn inline(text: &str) -> minijinja::Value {
    let escaped = super::svg::escape(text);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    let mut code = false;
    let mut bold = false;
    while let Some(i) = rest.find(['`', '*']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[i + 1..];
        } else if !code && rest[i..].starts_with("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[i + 2..];
        } else {
            out.push('*');
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    // An unmatched mark is closed at the end.
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    minijinja::Value::from_safe_string(out)
}

type Value = fn(&Second) -> Option<f64>;

/// A line over the run's seconds.
fn line(
    run: &RunView,
    name: &str,
    colour: Colour,
    stroke: Stroke,
    steps: bool,
    value: Value,
) -> Line {
    Line {
        name: name.to_string(),
        colour,
        stroke,
        steps,
        points: run
            .timeline
            .iter()
            .map(|s| (s.t as f64, value(s)))
            .collect(),
    }
}

/// The run's panels on one time axis, and notes on what falls outside it.
pub fn timeline_chart(run: &RunView, column: &str) -> (Option<TimeChart>, Vec<String>) {
    let Some(last) = run.timeline.last() else {
        return (None, Vec::new());
    };
    let x_max = (last.t as f64).max(run.duration_s);
    let mut panels = vec![throughput_panel(run), latency_panel(run), users_panel(run)];
    panels.extend(cluster_panels(run));
    let (markers, notes) = markers(run, x_max);
    let chart = TimeChart {
        title: format!("{column}: {} over time", run.label),
        x_label: "seconds since the start of the run".into(),
        x_max,
        panels,
        markers,
    };
    (Some(chart), notes)
}

/// Requests and failures a second; in the open model also intended and dropped arrivals.
fn throughput_panel(run: &RunView) -> Panel {
    let solid = Stroke::Solid;
    let mut throughput = vec![
        line(run, "requests/s", Colour::C1, solid, false, |s| Some(s.rps)),
        line(run, "failures/s", Colour::Bad, solid, false, |s| {
            Some(s.failures_per_s)
        }),
    ];
    if run.arrivals.is_some() {
        // The open model: what the schedule asked for and what found no free slot.
        throughput.push(line(
            run,
            "intended/s",
            Colour::C2,
            Stroke::Dashed,
            false,
            |s| s.intended,
        ));
        throughput.push(line(run, "dropped/s", Colour::C3, solid, false, |s| {
            s.dropped.map(|d| d as f64)
        }));
    }
    Panel {
        title: "Throughput".into(),
        unit: "per second".into(),
        lines: throughput,
        reference: None,
    }
}

/// The rolling percentiles.
fn latency_panel(run: &RunView) -> Panel {
    let solid = Stroke::Solid;
    Panel {
        title: "Latency (last 10 s)".into(),
        unit: "ms".into(),
        lines: vec![
            line(run, "p50", Colour::C1, solid, false, |s| s.p50_ms),
            line(run, "p95", Colour::C2, solid, false, |s| s.p95_ms),
            line(run, "p99", Colour::C3, solid, false, |s| s.p99_ms),
        ],
        reference: None,
    }
}

/// Active users, as steps.
fn users_panel(run: &RunView) -> Panel {
    Panel {
        title: "Users".into(),
        unit: "users".into(),
        lines: vec![line(run, "users", Colour::C1, Stroke::Solid, true, |s| {
            Some(s.users as f64)
        })],
        reference: None,
    }
}

/// The HPA's replicas and ready pods, and pod CPU against its target, when the run saw them.
fn cluster_panels(run: &RunView) -> Vec<Panel> {
    let solid = Stroke::Solid;
    let mut panels = Vec::new();
    let has = |value: Value| run.timeline.iter().any(|s| value(s).is_some());
    let replicas: Value = |s| s.replicas.map(f64::from);
    let desired: Value = |s| s.desired.map(f64::from);
    let ready: Value = |s| s.ready_pods.map(f64::from);
    if has(replicas) || has(desired) || has(ready) {
        panels.push(Panel {
            title: "HPA replicas and ready pods".into(),
            unit: "pods".into(),
            lines: vec![
                line(run, "desired", Colour::C2, Stroke::Dashed, true, desired),
                line(run, "current", Colour::C1, solid, true, replicas),
                line(run, "ready pods", Colour::C4, solid, true, ready),
            ],
            reference: None,
        });
    }
    if has(|s| s.cpu_pct) {
        let target = run
            .timeline
            .iter()
            .find_map(|s| s.cpu_target_pct)
            .or_else(|| {
                run.cluster
                    .as_ref()
                    .and_then(|c| c.cpu_target_pct.map(f64::from))
            });
        panels.push(Panel {
            title: "Pod CPU against the HPA target".into(),
            unit: "% of request".into(),
            lines: vec![line(run, "CPU", Colour::C1, solid, false, |s| s.cpu_pct)],
            reference: target.map(|t| {
                (
                    Line {
                        name: format!("target {t:.0}%"),
                        colour: Colour::Bad,
                        stroke: Stroke::Dashed,
                        steps: false,
                        points: Vec::new(),
                    },
                    t,
                )
            }),
        });
    }
    panels
}

/// Scaling events and pods becoming ready (pods ready at the same moment as one marker), and
/// notes for those after `x_max`.
fn markers(run: &RunView, x_max: f64) -> (Vec<Marker>, Vec<String>) {
    let Some(cluster) = &run.cluster else {
        return (Vec::new(), Vec::new());
    };
    let mut markers: Vec<Marker> = cluster
        .scaling_events
        .iter()
        .map(|e| Marker {
            x: e.t_s,
            label: format!("scaled {} → {}", e.from, e.to),
            kind: MarkerKind::Scaling,
        })
        .collect();
    let mut ready: Vec<f64> = cluster
        .pods_started
        .iter()
        .filter_map(|p| p.observed_ready_s)
        .collect();
    ready.sort_by(f64::total_cmp);
    let mut groups: Vec<(f64, usize)> = Vec::new();
    for t in ready {
        match groups.last_mut() {
            Some((at, n)) if (t - *at).abs() < 0.5 => *n += 1,
            _ => groups.push((t, 1)),
        }
    }
    markers.extend(groups.into_iter().map(|(t, n)| Marker {
        x: t,
        label: if n == 1 {
            "1 pod ready".to_string()
        } else {
            format!("{n} pods ready")
        },
        kind: MarkerKind::Ready,
    }));
    let notes = markers
        .iter()
        .filter(|m| m.x > x_max)
        .map(|m| format!("After the run's end: {} at +{:.0} s.", m.label, m.x))
        .collect();
    markers.retain(|m| m.x <= x_max);
    (markers, notes)
}

/// Every run's latency percentile curve on one chart.
pub fn latency_chart(runs: &[RunView], columns: &[String]) -> Option<CurveChart> {
    let lines: Vec<Line> = runs
        .iter()
        .zip(columns)
        .enumerate()
        .filter(|(_, (run, _))| !run.latency_curve.is_empty())
        .map(|(i, (run, column))| Line {
            name: column.clone(),
            colour: Colour::nth(i),
            stroke: Stroke::Solid,
            steps: false,
            points: run
                .latency_curve
                .iter()
                .map(|p| (nines(p.fraction, run.requests), Some(p.ms)))
                .collect(),
        })
        .collect();
    (!lines.is_empty()).then(|| CurveChart {
        title: "Latency distribution (all requests)".into(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::cluster::{ClusterRecord, PodStartRecord, ScalingEventRecord};
    use iris_record::histogram::CurvePoint;

    fn run() -> RunView {
        RunView {
            users: 10,
            label: "10 users".into(),
            requests: 1000,
            duration_s: 10.0,
            timeline: (1..=10)
                .map(|t| Second {
                    t,
                    users: t.min(5),
                    rps: 10.0,
                    p50_ms: Some(1.0),
                    p95_ms: Some(2.0),
                    p99_ms: Some(3.0),
                    ..Default::default()
                })
                .collect(),
            latency_curve: vec![
                CurvePoint {
                    fraction: 0.0,
                    ms: 0.5,
                },
                CurvePoint {
                    fraction: 0.9,
                    ms: 2.0,
                },
                CurvePoint {
                    fraction: 1.0,
                    ms: 9.0,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn inline_marks_become_tags_and_the_rest_is_escaped() {
        let v = inline("Server `total_time` <b> **a** 2*3 `x");
        assert_eq!(
            v.as_str().unwrap(),
            "Server <code>total_time</code> &lt;b&gt; <strong>a</strong> 2*3 <code>x</code>"
        );
    }

    #[test]
    fn without_a_cluster_a_run_has_three_panels_and_no_markers() {
        let (chart, notes) = timeline_chart(&run(), "10 Users");
        let chart = chart.unwrap();
        let titles: Vec<&str> = chart.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Throughput", "Latency (last 10 s)", "Users"]);
        assert!(chart.markers.is_empty() && notes.is_empty());
        assert_eq!(chart.x_max, 10.0);
    }

    #[test]
    fn cluster_runs_add_replicas_cpu_and_markers_with_late_ones_as_notes() {
        let mut r = run();
        for s in &mut r.timeline {
            s.replicas = Some(2);
            s.desired = Some(3);
            s.ready_pods = Some(2);
            s.cpu_pct = Some(70.0);
            s.cpu_target_pct = Some(60.0);
        }
        let pod = |ready: f64| PodStartRecord {
            observed_ready_s: Some(ready),
            ..Default::default()
        };
        r.cluster = Some(ClusterRecord {
            scaling_events: vec![ScalingEventRecord {
                t_s: 2.0,
                from: 2,
                to: 3,
                reason: "cpu".into(),
            }],
            pods_started: vec![pod(6.0), pod(6.2), pod(30.0)],
            ..Default::default()
        });
        let (chart, notes) = timeline_chart(&r, "10 Users");
        let chart = chart.unwrap();
        assert_eq!(chart.panels.len(), 5);
        assert_eq!(chart.panels[4].reference.as_ref().unwrap().1, 60.0);
        let labels: Vec<&str> = chart.markers.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["scaled 2 → 3", "2 pods ready"]);
        assert_eq!(notes, ["After the run's end: 1 pod ready at +30 s."]);
    }

    #[test]
    fn the_latency_chart_places_the_maximum_at_one_in_n() {
        let chart = latency_chart(&[run(), RunView::default()], &["a".into(), "b".into()]).unwrap();
        assert_eq!(chart.lines.len(), 1, "a run without requests has no curve");
        let last = chart.lines[0].points.last().unwrap();
        assert!((last.0 - 3.0).abs() < 1e-9);
        assert_eq!(last.1, Some(9.0));
    }
}
