//! `doctor`'s checks: one table in the order they are worked through, then what to do for each
//! WARN and FAIL with the evidence behind it (events, log lines, rules).

use comfy_table::{Cell, Color};
use k8s_openapi::api::core::v1::Service;

use super::{Format, Style, to_json};
use iris_cluster::checks;
use iris_doctor::{DoctorReport, Verdict};

fn verdict_cell(v: Verdict, style: Style) -> Cell {
    let cell = Cell::new(v.as_str());
    if !style.color {
        return cell;
    }
    cell.fg(match v {
        Verdict::Pass => Color::Green,
        Verdict::Warn => Color::Yellow,
        Verdict::Fail => Color::Red,
    })
}

pub fn render_doctor(r: &DoctorReport, format: Format, style: Style) -> String {
    if format == Format::Json {
        return to_json(r);
    }
    let mut out = format!(
        "namespace {}, API server {}, API {}\n\n",
        r.namespace,
        r.server.as_deref().unwrap_or("-"),
        r.host.as_deref().unwrap_or("-")
    );
    let mut table = style.table(&["check", "section", "result", "evidence"]);
    for c in &r.checks {
        table.add_row(vec![
            Cell::new(&c.name),
            Cell::new(c.section.as_str()),
            verdict_cell(c.verdict, style),
            Cell::new(&c.evidence),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    let todo: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .collect();
    if !todo.is_empty() {
        out.push_str("\nWhat to do, in order:\n");
        for (i, c) in todo.iter().enumerate() {
            out.push_str(&format!(
                "{}. {} {}: {}\n",
                i + 1,
                c.verdict.as_str(),
                c.name,
                c.fix.as_deref().unwrap_or("")
            ));
            for d in &c.details {
                out.push_str(&format!("     {d}\n"));
            }
        }
    }
    out.push_str(&format!(
        "\n{} checks: {} passed, {} warnings, {} failed\n",
        r.checks.len(),
        r.counts.pass,
        r.counts.warn,
        r.counts.fail
    ));
    out
}

/// One line per change of the Service while `--wait` waits, as `kubectl get svc -w` prints.
pub fn render_wait(svc: &Service) -> String {
    let name = svc.metadata.name.as_deref().unwrap_or("");
    let kind = svc
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP");
    let external = checks::external_address(svc).unwrap_or_else(|| "<pending>".into());
    format!(
        "{}  {name}  {kind}  {external}  {}",
        jiff::Timestamp::now().strftime("%H:%M:%S"),
        checks::service_ports(svc)
    )
}
