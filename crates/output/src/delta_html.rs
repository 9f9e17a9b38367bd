//! `report --baseline DIR --format html`: the comparison as a section of the HTML report, in
//! the page's own style: the unfair-comparison warnings and the environments' differences
//! first, then each profile's tables with the change, its 95% interval and a coloured verdict.
//! The words and numbers are the markdown's ([`super::delta`]); only the markup differs.

use std::fmt::Write;

use super::delta::{change, label, method, rules, runs, units, value};
use iris_delta::environment::NOT_RECORDED;
use iris_delta::gate::signed;
use iris_delta::{Comparison, Delta, Metric, Row, Table, Verdict};
use iris_report::svg::escape;

/// The comparison as one `<section id="baseline">`, every text escaped.
pub fn render_delta_html(delta: &Delta) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<section id=\"baseline\">\n<h2>Against the baseline {}</h2>",
        escape(&delta.base.display().to_string())
    );
    for c in &delta.comparisons {
        for w in &c.warnings {
            let _ = writeln!(
                out,
                "<p class=\"warning\"><strong>Warning</strong> ({}): {}</p>",
                escape(&c.profile.to_string()),
                escape(w)
            );
        }
    }
    for c in &delta.comparisons {
        environment(&mut out, c);
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">{}</p>",
        escape(&rules(&delta.options))
    );
    for c in &delta.comparisons {
        comparison(&mut out, c);
    }
    for (side, profiles) in [("base", &delta.only_base), ("new side", &delta.only_new)] {
        for p in profiles {
            let _ = writeln!(
                out,
                "<p class=\"note\">Not compared: {} is only on the {side}.</p>",
                escape(&p.to_string())
            );
        }
    }
    out.push_str("</section>\n");
    out
}

fn comparison(out: &mut String, c: &Comparison) {
    let title = match &c.new_profile {
        Some(q) => format!("{} against {q} (--force)", c.profile),
        None => c.profile.to_string(),
    };
    let _ = writeln!(
        out,
        "<h3>{}</h3>\n<p class=\"meta\">Base: {}. New: {}.</p>",
        escape(&title),
        escape(&runs(&c.base_runs)),
        escape(&runs(&c.new_runs))
    );
    let scopes: Vec<&Table> = std::iter::once(&c.overall)
        .chain(&c.endpoints)
        .chain(&c.server)
        .collect();
    out.push_str(
        "<table class=\"delta\">\n<thead><tr><th>Scope</th><th>Units</th><th>Figure</th>\
         <th>Base</th><th>New</th><th>Change</th><th>95% CI</th><th>Verdict</th></tr></thead>\n\
         <tbody>\n",
    );
    for t in &scopes {
        for r in &t.rows {
            row(out, t, r);
        }
    }
    out.push_str("</tbody>\n</table>\n<ul class=\"note\">\n");
    let mut said: Vec<String> = Vec::new();
    for t in &scopes {
        let m = method(t);
        if !said.contains(&m) {
            let _ = writeln!(out, "<li>{}</li>", escape(&m));
            said.push(m);
        }
    }
    out.push_str("</ul>\n");
    scaling(out, c);
}

fn row(out: &mut String, t: &Table, r: &Row) {
    let dash = || "-".to_string();
    let v = |x: Option<f64>| x.map_or_else(dash, |x| value(r.metric, x));
    let (class, text) = match r.verdict {
        Verdict::Better => ("better", "better"),
        Verdict::Worse => ("worse", "worse"),
        Verdict::NoSignificantChange => ("no_significant_change", "no significant change"),
        Verdict::NotTested => ("not_tested", "not tested"),
    };
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td><span class=\"verdict {class}\">{text}</span></td></tr>",
        escape(&t.name),
        escape(&units(t)),
        label(r.metric),
        v(r.base),
        v(r.new),
        r.change.map_or_else(dash, |c| change(r.metric, c)),
        r.ci.map_or_else(dash, |[lo, hi]| format!(
            "{} .. {}",
            change(r.metric, lo),
            change(r.metric, hi)
        )),
    );
}

fn environment(out: &mut String, c: &Comparison) {
    let differ: Vec<_> = c.environment.iter().filter(|e| !e.same).collect();
    if !differ.is_empty() {
        out.push_str(
            "<table class=\"environment\">\n<thead><tr><th>Environment</th><th>Base</th>\
             <th>New</th></tr></thead>\n<tbody>\n",
        );
        for e in differ {
            let unfair = if e.unfair.is_some() { " (unfair)" } else { "" };
            let _ = writeln!(
                out,
                "<tr><td>{}{unfair}</td><td>{}</td><td>{}</td></tr>",
                escape(e.what),
                escape(&e.base.join(", ")),
                escape(&e.new.join(", "))
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    let unrecorded =
        |e: &&iris_delta::EnvItem| e.base.iter().chain(&e.new).all(|v| v == NOT_RECORDED);
    let (missing, same): (Vec<_>, Vec<_>) = c
        .environment
        .iter()
        .filter(|e| e.same)
        .partition(unrecorded);
    for (list, text) in [(same, "Same on both sides"), (missing, "Not recorded")] {
        if !list.is_empty() {
            let names: Vec<&str> = list.iter().map(|e| e.what).collect();
            let _ = writeln!(
                out,
                "<p class=\"note\">{text}: {}.</p>",
                escape(&names.join(", "))
            );
        }
    }
}

fn scaling(out: &mut String, c: &Comparison) {
    if c.scaling.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"scaling\">\n<thead><tr><th>Scaling (one value per run)</th><th>Base</th>\
         <th>New</th><th>Change</th></tr></thead>\n<tbody>\n",
    );
    for s in &c.scaling {
        let v = |v: Option<f64>| {
            v.map_or_else(
                || "-".into(),
                |v| format!("{v:.1} {}", s.unit).trim().to_string(),
            )
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            escape(s.what),
            escape(&v(s.base)),
            escape(&v(s.new)),
            s.change
                .map_or_else(|| "-".into(), |c| signed(Metric::P95, c)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}
