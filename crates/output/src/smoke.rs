//! The smoke table.

use comfy_table::Cell;

use super::{Format, Style, fmt_ms, to_json};
use iris_probe::smoke::SmokeReport;

pub fn render_smoke(report: &SmokeReport, format: Format, style: Style) -> String {
    match format {
        Format::Json => to_json(report),
        // lib::run refuses html for every command but report and demo.
        Format::Text | Format::Html => {
            let mut table = style.table(&["CHECK", "STATUS", "LATENCY", "VERDICT", "DETAIL"]);
            for check in &report.checks {
                table.add_row(vec![
                    Cell::new(&check.endpoint),
                    Cell::new(check.status.map_or("-".to_string(), |s| s.to_string())),
                    Cell::new(fmt_ms(check.latency_ms)),
                    style.verdict(check.passed),
                    Cell::new(&check.detail),
                ]);
            }
            let passed = report.checks.iter().filter(|c| c.passed).count();
            format!(
                "Smoke test of {}\n{table}\n{passed}/{} checks passed\n",
                report.host,
                report.checks.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_probe::smoke::SmokeCheck;

    fn report() -> SmokeReport {
        SmokeReport {
            host: "http://127.0.0.1:8000/".into(),
            passed: false,
            checks: vec![
                SmokeCheck {
                    endpoint: "GET /".into(),
                    status: Some(200),
                    latency_ms: 1.25,
                    passed: true,
                    detail: "version 2.0.0 (running)".into(),
                },
                SmokeCheck {
                    endpoint: "GET /health".into(),
                    status: None,
                    latency_ms: 1000.0,
                    passed: false,
                    detail: "timed out: no complete response within the timeout".into(),
                },
            ],
        }
    }

    #[test]
    fn text_table_has_a_row_per_check_and_a_count() {
        let text = render_smoke(&report(), Format::Text, Style::plain());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn json_has_every_check() {
        let v: serde_json::Value =
            serde_json::from_str(&render_smoke(&report(), Format::Json, Style::plain())).unwrap();
        assert_eq!(v["checks"].as_array().unwrap().len(), 2);
        assert_eq!(v["checks"][1]["status"], serde_json::Value::Null);
        assert_eq!(v["passed"], false);
    }
}
