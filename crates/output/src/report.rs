//! A report model as the text of its format: markdown through a template (the built-in one
//! or the user's), the whole model as JSON, or one self-contained HTML page; and where it goes.

use std::path::Path;

use super::Format;
use iris_report::{self as report, ReportError, ReportModel};

/// A template's text and the name its errors give.
#[derive(Debug, Clone)]
pub struct Template {
    pub source: String,
    pub name: String,
}

/// The report in `format`, through `template` when given, else the format's built-in one.
pub fn render_report(
    model: &ReportModel,
    format: Format,
    template: Option<&Template>,
) -> Result<String, ReportError> {
    let pick = |source: &'static str, name: &'static str| match template {
        Some(t) => (t.source.as_str(), t.name.as_str()),
        None => (source, name),
    };
    match format {
        Format::Json => Ok(super::to_json(model)),
        Format::Text => {
            let (source, name) = pick(report::DEFAULT_TEMPLATE, "report.md");
            report::render(model, source, name)
        }
        Format::Html => {
            let (source, name) = pick(report::html::HTML_TEMPLATE, "report.html");
            report::html::render(model, source, name)
        }
    }
}

/// The report with the comparison against a baseline (`report --baseline`): JSON of both side
/// by side, the markdown with the comparison's section after it, or the HTML page with the
/// comparison's section where the template places `baseline`.
pub fn render_report_with_baseline(
    model: &ReportModel,
    format: Format,
    template: Option<&Template>,
    delta: &iris_delta::Delta,
) -> Result<String, ReportError> {
    match format {
        Format::Json => Ok(super::to_json(&serde_json::json!({
            "report": model,
            "baseline": delta,
        }))),
        Format::Text => {
            let mut text = render_report(model, format, template)?;
            text.push('\n');
            text.push_str(&super::render_delta_section(delta));
            Ok(text)
        }
        Format::Html => {
            let (source, name) = match template {
                Some(t) => (t.source.as_str(), t.name.as_str()),
                None => (report::html::HTML_TEMPLATE, "report.html"),
            };
            let section = super::render_delta_html(delta);
            report::html::render_with_baseline(model, source, name, Some(section))
        }
    }
}

/// Writes a rendered report to `out` (atomically, with a note on stderr) or to stdout.
pub fn deliver(out: Option<&Path>, text: &str) -> Result<(), iris_record::WriteError> {
    match out {
        Some(path) => {
            super::write_file(path, text)?;
            super::note(&format!("report written to {}", path.display()));
        }
        None => super::write_stdout(text)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::scale_down::ScaleDownRecord;

    #[test]
    fn phase_7_reads_in_every_format_when_the_model_has_it() {
        let record = iris_record::parse(include_str!(
            "../../../tests/fixtures/runs/300u-cluster.json"
        ))
        .unwrap();
        let view = report::from_record::run_view(&record, "a.json");
        let mut model = report::build(vec![view], &report::ReportOptions::default());
        let text = render_report(&model, Format::Text, None).unwrap();
        assert!(!text.contains("## 7. Scale down"));
        model.scale_down = Some(ScaleDownRecord {
            namespace: "default".into(),
            deployment: "iris".into(),
            hpa: Some("iris-hpa".into()),
            from: 5,
            to: 2,
            at: "2026-01-01T00:10:00Z".parse().unwrap(),
            after_runs_s: 6.2,
            pods_removed: vec!["a".into(), "b".into(), "c".into()],
            pods_left: vec!["d".into(), "e".into()],
            settled: true,
            settled_after_s: 3.04,
        });
        let text = render_report(&model, Format::Text, None).unwrap();
        assert!(text.contains("## 7. Scale down"), "{text}");
        assert!(
            text.contains(
                "Scaled Deployment default/iris from **5 to 2 replicas** (the HPA iris-hpa's minReplicas) at 2026-01-01T00:10:00Z, 6 s after the last run. The pods settled at 2, all Ready, 3.0 s later."
            ),
            "{text}"
        );
        assert!(text.contains("- Pods removed (3): a, b, c\n- Pods left (2): d, e"));
        let html = render_report(&model, Format::Html, None).unwrap();
        assert!(html.contains("<h2>7. Scale down</h2>"));
        let json: serde_json::Value =
            serde_json::from_str(&render_report(&model, Format::Json, None).unwrap()).unwrap();
        assert_eq!(json["scale_down"]["pods_removed"][2], "c");
    }
}
