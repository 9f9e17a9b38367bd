//! Phases 5-6: the report, rendered. Runs (as [`RunView`]s, analysed by `iris_analysis`) -> a
//! view model -> a minijinja template (markdown), or HTML with inline SVG charts.
//! `templates/report.md` is the default; a user's own template sees the same data.

pub mod charts;
pub mod html;
pub mod svg;

/// The analysis this crate renders (re-exported: `crate::view` is `iris_analysis::view`).
pub use iris_analysis::{
    autoscaling, breakdown, compare, findings, from_record, pod_errors, table, view,
};

use serde::Serialize;

pub use findings::{Finding, Verdict};
pub use table::Table;
pub use view::RunView;

/// The template `iris-lab report` uses unless given `--template`.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../../templates/report.md");

#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Google Cloud project: trace ids become links to Cloud Trace.
    pub gcp_project: Option<String>,
    /// The span analysis of runs with saved traces, by record file name ([`RunView::file`]).
    pub spans: std::collections::BTreeMap<String, iris_trace::RunSpans>,
}

/// Everything a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct ReportModel {
    pub tool: String,
    pub runs: Vec<RunView>,
    pub guide_table: Table,
    pub extended_table: Table,
    /// Present when the tables have a Difference column.
    pub difference_note: Option<&'static str>,
    pub breakdowns: Vec<Breakdown>,
    pub findings: Vec<Finding>,
    pub scaling: Vec<Scaling>,
    pub charts: Vec<charts::Chart>,
    /// Findings from the spans of runs with saved traces, across runs (ordered by users).
    pub span_findings: Vec<String>,
    /// The invented figures of a simulated cluster (`iris-lab sim`, `demo`), from the first
    /// run that watched one: the report's header says the cluster was simulated.
    pub simulated: Option<Vec<iris_record::cluster::SimulatedSetting>>,
    /// Per run: is the autoscaling right, and what should change.
    pub autoscaling: Vec<RunAutoscaling>,
    /// Phase 7, when the caller scaled down after the runs (the demo).
    pub scale_down: Option<iris_record::scale_down::ScaleDownRecord>,
}

/// The autoscaling analysis of one run, under the run's column name.
#[derive(Debug, Clone, Serialize)]
pub struct RunAutoscaling {
    pub column: String,
    pub label: String,
    pub users: u64,
    #[serde(flatten)]
    pub analysis: autoscaling::Autoscaling,
}

/// Phase 5 for one run.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub column: String,
    /// Absent when the run has no server timings.
    pub table: Option<Table>,
    pub shares: Option<String>,
    /// Phase by phase, at p50 and p95; absent for records without phases.
    pub phases: Option<Table>,
    /// Whose phases these are ("POST /predict", "all requests").
    pub phases_of: Option<String>,
    pub slowest: Vec<Slow>,
    /// From Cloud Trace, when the run has saved traces.
    pub spans: Option<iris_trace::RunSpans>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Slow {
    pub endpoint: String,
    pub latency_ms: f64,
    pub trace_id: String,
    pub link: Option<String>,
}

/// Phase 6.3 for one run.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    pub column: String,
    pub has_cluster: bool,
    pub events: Vec<iris_record::cluster::ScalingEventRecord>,
    /// Seconds from the start to the first scale-up and to the first scale-down.
    pub first_up_s: Option<f64>,
    pub first_down_s: Option<f64>,
    /// When the load fell while the run ran (a stage going down), if it did.
    pub load_fell_s: Option<f64>,
    /// The first scale-down at or after the fall.
    pub down_after_fall_s: Option<f64>,
    /// The sentence on scaling down: when it did, and how long after the load fell.
    pub scale_down: Option<String>,
    pub missed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("template {name}, line {line}: {message}")]
    Template {
        name: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Record(#[from] iris_record::ReadError),
}

/// Builds the view model of runs, which it orders by users (then start time).
pub fn build(mut runs: Vec<RunView>, options: &ReportOptions) -> ReportModel {
    runs.sort_by(|a, b| {
        a.users
            .cmp(&b.users)
            .then_with(|| a.started.cmp(&b.started))
    });
    let columns = compare::column_names(&runs);
    let breakdowns = runs
        .iter()
        .zip(&columns)
        .map(|(r, column)| breakdown(r, column, options))
        .collect();
    let scaling = runs
        .iter()
        .zip(&columns)
        .map(|(r, column)| {
            let events: Vec<_> = r
                .cluster
                .as_ref()
                .map(|c| c.scaling_events.clone())
                .unwrap_or_default();
            let first = |down: bool| {
                events
                    .iter()
                    .find(|e| (e.to < e.from) == down && e.to != e.from)
                    .map(|e| e.t_s)
            };
            let fall = findings::load_fell(r);
            let down_after_fall = fall.and_then(|f| findings::first_down_after(r, &f));
            Scaling {
                column: column.clone(),
                has_cluster: r.cluster.is_some(),
                first_up_s: first(false),
                first_down_s: first(true),
                load_fell_s: fall.map(|f| f.at_s),
                down_after_fall_s: down_after_fall.as_ref().map(|e| e.t_s),
                scale_down: findings::scale_down_note(first(true), fall, down_after_fall.as_ref()),
                events,
                missed: r
                    .cluster
                    .as_ref()
                    .map(|c| c.missed.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let autoscaling = runs
        .iter()
        .zip(&columns)
        .zip(autoscaling::analyse_all(&runs))
        .map(|((r, column), analysis)| RunAutoscaling {
            column: column.clone(),
            label: r.label.clone(),
            users: r.users,
            analysis,
        })
        .collect();
    ReportModel {
        autoscaling,
        scale_down: None,
        tool: format!("iris-lab {}", env!("CARGO_PKG_VERSION")),
        guide_table: compare::guide_table(&runs),
        extended_table: compare::extended_table(&runs),
        difference_note: (runs.len() == 2).then_some(compare::DIFFERENCE_NOTE),
        breakdowns,
        findings: findings::findings(&runs),
        scaling,
        simulated: runs
            .iter()
            .find_map(|r| r.cluster.as_ref()?.simulated.clone()),
        charts: runs.iter().flat_map(charts::charts).collect(),
        span_findings: iris_trace::analysis::compare(
            &runs
                .iter()
                .filter_map(|r| Some((r.label.as_str(), options.spans.get(&r.file)?)))
                .collect::<Vec<_>>(),
        ),
        runs,
    }
}

fn breakdown(run: &RunView, column: &str, options: &ReportOptions) -> Breakdown {
    let table = run.timing.as_ref().map(|t| {
        let ms = breakdown::ms;
        let headers: Vec<String> = ["Measure", "p50", "p95"].map(String::from).to_vec();
        let rows = vec![
            vec![
                "End to end (client)".into(),
                ms(t.e2e_p50_ms),
                ms(t.e2e_p95_ms),
            ],
            vec![
                "Server `total_time`".into(),
                ms(t.server_p50_ms),
                ms(t.server_p95_ms),
            ],
            vec![
                "Model `inference_time`".into(),
                ms(t.inference_p50_ms),
                ms(t.inference_p95_ms),
            ],
        ];
        Table::new(headers, rows)
    });
    let shares = run.timing.as_ref().map(|t| {
        let (model, server, network) = t.shares();
        format!(
            "Of the median `/predict` latency: model {:.0}%, rest of the server {:.0}%, network and queueing {:.0}%.",
            model * 100.0,
            server * 100.0,
            network * 100.0
        )
    });
    let slowest = run
        .slowest
        .iter()
        .map(|s| Slow {
            endpoint: s.endpoint.clone(),
            latency_ms: s.latency_ms,
            trace_id: s.trace_id.clone(),
            link: options.gcp_project.as_ref().map(|p| {
                format!(
                    "https://console.cloud.google.com/traces/list?project={p}&tid={}",
                    s.trace_id
                )
            }),
        })
        .collect();
    Breakdown {
        column: column.to_string(),
        table,
        shares,
        phases: run.phases.as_ref().map(breakdown::phase_table),
        phases_of: run.phases.as_ref().map(|p| p.of.clone()),
        slowest,
        spans: options.spans.get(&run.file).cloned(),
    }
}

/// Renders the model through a template. `name` is used in error messages.
pub fn render(model: &ReportModel, template: &str, name: &str) -> Result<String, ReportError> {
    render_with(model, template, name, None, None)
}

/// Renders the model through a template; with `charts` ([`html::Charts`]) the template is an
/// HTML page: every value is escaped unless marked `safe`, and `charts` is in its context.
fn render_with(
    model: &ReportModel,
    template: &str,
    name: &str,
    charts: Option<minijinja::Value>,
    baseline: Option<minijinja::Value>,
) -> Result<String, ReportError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("inline", html::inline);
    if charts.is_some() {
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    }
    let to_err = |e: minijinja::Error| ReportError::Template {
        name: name.to_string(),
        line: e.line().unwrap_or(0),
        message: e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_string),
    };
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(to_err)?;
    env.set_syntax(syntax);
    env.add_template(name, template).map_err(to_err)?;
    let tmpl = env.get_template(name).map_err(to_err)?;
    tmpl.render(minijinja::context! {
        report => minijinja::Value::from(minijinja::value::Serde(model)),
        charts => charts,
        baseline => baseline,
    })
    .map_err(to_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_renders_an_empty_set_of_sections() {
        let model = build(
            vec![RunView {
                users: 150,
                label: "a".into(),
                ..Default::default()
            }],
            &ReportOptions::default(),
        );
        let text = render(&model, DEFAULT_TEMPLATE, "report.md").unwrap();
        assert!(text.contains("| Metric | 150 Users |"));
        assert!(text.contains("no cluster data"));
    }

    #[test]
    fn a_broken_template_names_its_line() {
        let model = build(vec![], &ReportOptions::default());
        let err = render(&model, "ok\n{{ report.nope }}\n", "mine.md")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("template mine.md, line 2: "), "{err}");
        let err = render(&model, "{% for %}", "mine.md")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn trace_ids_link_to_cloud_trace_with_a_project() {
        let run = RunView {
            users: 1,
            slowest: vec![view::SlowRequest {
                endpoint: "POST /predict".into(),
                latency_ms: 9.0,
                trace_id: "abc".into(),
            }],
            ..Default::default()
        };
        let model = build(
            vec![run],
            &ReportOptions {
                gcp_project: Some("proj".into()),
                ..ReportOptions::default()
            },
        );
        assert_eq!(
            model.breakdowns[0].slowest[0].link.as_deref(),
            Some("https://console.cloud.google.com/traces/list?project=proj&tid=abc")
        );
    }
}
