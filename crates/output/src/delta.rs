//! `iris-lab compare` (and `report --baseline`): the comparison as markdown fit for a
//! pull-request comment (tables in the house style: markdown off a terminal), or JSON; and the
//! gate's breaches, one line each.

use std::fmt::Write;

use comfy_table::{Cell, Color};

use super::{Format, Style, to_json};
use iris_delta::environment::NOT_RECORDED;
use iris_delta::gate::signed;
use iris_delta::{Breach, Comparison, Delta, EnvItem, Method, Metric, Row, Table, Verdict};

pub fn render_delta(delta: &Delta, format: Format, style: Style) -> String {
    if format == Format::Json {
        return to_json(delta);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Comparison: {} -> {}\n",
        delta.base.display(),
        delta.new.display()
    );
    render_body(&mut out, delta, style, "###");
    out
}

/// The comparison as a section of the report (its headings one level down).
pub fn render_delta_section(delta: &Delta) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Against the baseline {}\n", delta.base.display());
    render_body(&mut out, delta, Style::plain(), "###");
    out
}

fn render_body(out: &mut String, delta: &Delta, style: Style, h: &str) {
    for c in &delta.comparisons {
        for w in &c.warnings {
            let _ = writeln!(out, "> **Warning** ({}): {w}\n", c.profile);
        }
    }
    let _ = writeln!(out, "{}\n", rules(&delta.options));
    for c in &delta.comparisons {
        render_comparison(out, c, style, h);
    }
    for (side, profiles) in [("base", &delta.only_base), ("new side", &delta.only_new)] {
        for p in profiles.iter() {
            let _ = writeln!(out, "Not compared: {p} is only on the {side}.\n");
        }
    }
    if !delta.fail_on.is_empty() {
        render_gate(out, delta, h);
    }
}

/// What better and worse mean, and how the figures are made, in one paragraph.
pub(super) fn rules(o: &iris_delta::Options) -> String {
    format!(
        "Better or worse needs the {:.0}% interval of the change to exclude 0 and a change of \
         at least {} ({} for failure rates). Requests/s are means over the units, failure \
         rates over all their requests, percentiles geometric means of each unit's own.",
        o.confidence * 100.0,
        signed(Metric::P95, o.min_change).trim_start_matches('+'),
        signed(Metric::FailureRate, o.min_points).trim_start_matches('+'),
    )
}

fn render_comparison(out: &mut String, c: &Comparison, style: Style, h: &str) {
    match &c.new_profile {
        Some(q) => {
            let _ = writeln!(out, "{h} {} against {q} (--force)\n", c.profile);
        }
        None => {
            let _ = writeln!(out, "{h} {}\n", c.profile);
        }
    }
    let _ = writeln!(
        out,
        "Base: {}. New: {}.\n",
        runs(&c.base_runs),
        runs(&c.new_runs)
    );
    render_table(out, &c.overall, style);
    let scopes: Vec<&Table> = c.endpoints.iter().chain(&c.server).collect();
    if !scopes.is_empty() {
        render_scopes(out, &scopes, style);
    }
    render_environment(out, &c.environment, style);
    if !c.scaling.is_empty() {
        let mut t = style.table(&["Scaling (one value per run)", "base", "new", "change"]);
        for s in &c.scaling {
            let v = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1} {}", s.unit));
            t.add_row(vec![
                s.what.to_string(),
                v(s.base).trim().to_string(),
                v(s.new).trim().to_string(),
                s.change
                    .map_or_else(|| "-".into(), |c| signed(Metric::P95, c)),
            ]);
        }
        let _ = writeln!(out, "{t}\n");
    }
}

pub(super) fn runs(paths: &[std::path::PathBuf]) -> String {
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    let n = names.len();
    format!(
        "{n} run{} ({})",
        if n == 1 { "" } else { "s" },
        names.join(", ")
    )
}

fn render_table(out: &mut String, table: &Table, style: Style) {
    let _ = writeln!(out, "**{}** ({})\n", table.name, method(table));
    let mut t = style.table(&["figure", "base", "new", "change", "95% CI", "verdict"]);
    for r in &table.rows {
        t.add_row(row(r, style));
    }
    let _ = writeln!(out, "{t}\n");
}

/// Endpoints and server timings in one table, each distinct test said once.
fn render_scopes(out: &mut String, tables: &[&Table], style: Style) {
    let mut methods: Vec<String> = Vec::new();
    for t in tables {
        let m = method(t);
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    let _ = writeln!(
        out,
        "**Per endpoint and server timings** ({})\n",
        methods.join("; ")
    );
    let mut t = style.table(&[
        "scope", "units", "figure", "base", "new", "change", "95% CI", "verdict",
    ]);
    for table in tables {
        for r in &table.rows {
            let mut cells = vec![Cell::new(&table.name), Cell::new(units(table))];
            cells.extend(row(r, style));
            t.add_row(cells);
        }
    }
    let _ = writeln!(out, "{t}\n");
}

/// A scope's units, base + new: "60 + 58 s" (steady-state seconds) or "3 + 3 runs".
pub(super) fn units(table: &Table) -> String {
    table.test.as_ref().map_or_else(
        || "-".into(),
        |t| {
            let unit = match t.method {
                Method::SecondsBlockBootstrap => "s",
                Method::RunsBootstrap => "runs",
            };
            format!("{} + {} {unit}", t.base_units, t.new_units)
        },
    )
}

/// How a table was tested, in words.
pub(super) fn method(table: &Table) -> String {
    match (&table.test, &table.not_tested) {
        (Some(t), _) => {
            let (what, unit) = match t.method {
                Method::SecondsBlockBootstrap => (
                    format!(
                        "moving block bootstrap over steady-state seconds, blocks of {} s",
                        t.block_len
                    ),
                    "seconds",
                ),
                Method::RunsBootstrap => ("bootstrap over whole runs".to_string(), "runs"),
            };
            format!(
                "{what}; {} base and {} new {unit}; {} resamples, seed {}; interval: the \
                 bootstrap's standard error times Student's t at {} degrees of freedom",
                t.base_units,
                t.new_units,
                t.resamples,
                t.seed,
                t.degrees_of_freedom()
            )
        }
        (None, Some(why)) => format!("no interval: {why}"),
        (None, None) => "no interval".into(),
    }
}

fn row(r: &Row, style: Style) -> Vec<Cell> {
    let dash = || "-".to_string();
    let value = |v: Option<f64>| v.map_or_else(dash, |v| value(r.metric, v));
    vec![
        Cell::new(label(r.metric)),
        Cell::new(value(r.base)),
        Cell::new(value(r.new)),
        Cell::new(r.change.map_or_else(dash, |c| change(r.metric, c))),
        Cell::new(r.ci.map_or_else(dash, |[lo, hi]| {
            format!("{} .. {}", change(r.metric, lo), change(r.metric, hi))
        })),
        verdict(r.verdict, style),
    ]
}

pub(super) fn label(m: Metric) -> &'static str {
    match m {
        Metric::Rps => "requests/s",
        Metric::FailureRate => "failure rate",
        Metric::P50 => "p50 (ms)",
        Metric::P95 => "p95 (ms)",
        Metric::P99 => "p99 (ms)",
    }
}

pub(super) fn value(m: Metric, v: f64) -> String {
    match m {
        Metric::FailureRate => format!("{:.2}%", v * 100.0),
        _ if v >= 100.0 => format!("{v:.0}"),
        _ if v >= 10.0 => format!("{v:.1}"),
        _ if v >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

/// A change with one decimal: "+12.3%", "-0.1pp".
pub(super) fn change(m: Metric, c: f64) -> String {
    let unit = if m.in_points() { "pp" } else { "%" };
    format!("{:+.1}{unit}", c * 100.0)
}

fn verdict(v: Verdict, style: Style) -> Cell {
    let (text, color) = match v {
        Verdict::Better => ("better", Some(Color::Green)),
        Verdict::Worse => ("worse", Some(Color::Red)),
        Verdict::NoSignificantChange => ("no significant change", None),
        Verdict::NotTested => ("not tested", None),
    };
    match (style.color, color) {
        (true, Some(c)) => Cell::new(text).fg(c),
        (false, Some(_)) => Cell::new(format!("**{text}**")),
        _ => Cell::new(text),
    }
}

fn render_environment(out: &mut String, items: &[EnvItem], style: Style) {
    let differ: Vec<&EnvItem> = items.iter().filter(|e| !e.same).collect();
    if !differ.is_empty() {
        let mut t = style.table(&["Environment", "base", "new"]);
        for e in &differ {
            let what = if e.unfair.is_some() {
                format!("{} (unfair)", e.what)
            } else {
                e.what.to_string()
            };
            t.add_row(vec![what, e.base.join(", "), e.new.join(", ")]);
        }
        let _ = writeln!(out, "{t}\n");
    }
    let unrecorded = |e: &&EnvItem| e.base.iter().chain(&e.new).all(|v| v == NOT_RECORDED);
    let (missing, same): (Vec<&EnvItem>, Vec<&EnvItem>) =
        items.iter().filter(|e| e.same).partition(unrecorded);
    for (list, text) in [(same, "Same on both sides"), (missing, "Not recorded")] {
        if !list.is_empty() {
            let names: Vec<&str> = list.iter().map(|e| e.what).collect();
            let _ = writeln!(out, "{text}: {}.\n", names.join(", "));
        }
    }
}

fn render_gate(out: &mut String, delta: &Delta, h: &str) {
    let rules: Vec<String> = delta.fail_on.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "{h} Gate: --fail-on {}\n", rules.join(","));
    if delta.breaches.is_empty() {
        let _ = writeln!(out, "Passed: no significant change passes a limit.\n");
    }
    for b in &delta.breaches {
        let _ = writeln!(out, "- FAILED: {}", render_breach(b));
    }
    if !delta.breaches.is_empty() {
        out.push('\n');
    }
}

/// One line: the rule, the change and its interval, the profile.
pub fn render_breach(b: &Breach) -> String {
    let (change, ci) = (b.row.change.unwrap_or(0.0), b.row.ci.unwrap_or([0.0, 0.0]));
    format!(
        "{} changed {} (95% CI {} .. {}), past the limit {} ({})",
        b.rule.metric.name(),
        signed(b.rule.metric, change),
        signed(b.rule.metric, ci[0]),
        signed(b.rule.metric, ci[1]),
        b.rule,
        b.profile
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_delta::fixtures::{Levels, deployed, per_endpoint, run};
    use iris_delta::{Options, compare_runs};

    fn slower_release() -> Delta {
        let mut base = run("20261204T100000Z-300u-HighLoadUser.json", Levels::default());
        deployed(&mut base, "iris:1.0", 500.0, "e2-standard-2", 15);
        let mut new = run(
            "20261204T110000Z-300u-HighLoadUser.json",
            Levels {
                p95_ms: 26.0,
                seed: 2,
                ..Levels::default()
            },
        );
        deployed(&mut new, "iris:1.1", 500.0, "e2-standard-2", 15);
        per_endpoint(&mut base, 1.0);
        per_endpoint(&mut new, 1.0);
        new.record.tool = "iris-lab 0.2.0".into();
        new.record.target = "http://34.123.45.67/".into();
        let mut delta = compare_runs(
            vec![base],
            vec![new],
            &Options::default(),
            &"p95:+10%,rps:-5%".parse().unwrap(),
        )
        .unwrap();
        delta.base = "runs/main".into();
        delta.new = "runs/pr-42".into();
        delta
    }

    #[test]
    fn the_markdown_fits_a_pull_request_comment() {
        let text = render_delta(&slower_release(), Format::Text, Style::plain());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn json_holds_the_whole_comparison() {
        let json: serde_json::Value = serde_json::from_str(&render_delta(
            &slower_release(),
            Format::Json,
            Style::plain(),
        ))
        .unwrap();
        let c = &json["comparisons"][0];
        assert_eq!(c["profile"]["users"], 300);
        assert_eq!(c["overall"]["test"]["method"], "seconds_block_bootstrap");
        assert_eq!(c["overall"]["rows"][3]["metric"], "p95");
        assert_eq!(c["overall"]["rows"][3]["verdict"], "worse");
        assert_eq!(json["breaches"][0]["rule"]["metric"], "p95");
        assert_eq!(json["options"]["seed"], 23);
    }

    #[test]
    fn a_breach_reads_as_one_line() {
        let d = slower_release();
        let line = render_breach(&d.breaches[0]);
        assert!(
            line.starts_with("p95 changed +")
                && line.contains("(95% CI +")
                && line.ends_with("past the limit p95:+10% (300 users, HighLoadUser)"),
            "{line}"
        );
    }
}
