//! `iris-lab trace`: each run's span analysis as tables, or the whole result as JSON.

use std::fmt::Write;

use super::{Format, Style, to_json};
use iris_trace::analysis::NamedSummary;
use iris_trace::{RunSpans, RunTraces, TraceResult};

pub fn render_trace(result: &TraceResult, format: Format, style: Style) -> String {
    if format == Format::Json {
        return to_json(result);
    }
    let mut out = String::new();
    for run in &result.runs {
        render_run(&mut out, run, style);
    }
    for f in &result.findings {
        let _ = writeln!(out, "Between runs: {f}.");
    }
    out
}

/// A share (0..=1) as a percentage: "1%", "0.5%", "100%".
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == p.round() {
        format!("{p:.0}%")
    } else {
        format!("{p}%")
    }
}

fn ms(v: f64) -> String {
    format!("{v:.1} ms")
}

fn summary_row(span: &NamedSummary, period: &str) -> Vec<String> {
    let s = &span.summary;
    vec![
        span.name.clone(),
        period.to_string(),
        s.count.to_string(),
        ms(s.p50_ms),
        ms(s.p95_ms),
        ms(s.p99_ms),
        ms(s.max_ms),
    ]
}

fn render_run(out: &mut String, run: &RunTraces, style: Style) {
    let a = &run.analysis;
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "{} ({}): {} traces, {} spans from project {}, {} {} -> {}",
        run.label,
        run.file,
        a.traces,
        a.spans,
        run.project,
        if run.fetched_now {
            "fetched"
        } else {
            "saved, fetched"
        },
        run.fetched_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        run.saved_to.display()
    );
    if let Some(share) = run.trace_sample {
        let _ = writeln!(
            out,
            "The run asked the server to sample {} of its requests (--trace-sample): the \
             traces above are that share, not every request.",
            percent(share)
        );
    }
    if run.reached_max {
        let _ = writeln!(
            out,
            "Reached --max-traces {}: the window holds more traces; pass a larger --max-traces with --refresh to fetch them.",
            run.max_traces
        );
    }
    render_span_tables(out, a, style);
    if let Some(o) = &a.outside_app {
        let _ = writeln!(
            out,
            "Outside the app (client latency - server root span), {} of {} sampled requests joined: p50 {}, p95 {}",
            o.joined,
            o.sampled,
            ms(o.p50_ms),
            ms(o.p95_ms)
        );
    }
    render_slowest(out, a);
    render_errors(out, a);
    for f in &a.findings {
        let _ = writeln!(out, "Finding: {f}.");
    }
    out.push('\n');
}

/// The spans by name and by scaling period, then by pod.
fn render_span_tables(out: &mut String, a: &RunSpans, style: Style) {
    let mut table = style.table(&["Span", "Period", "Count", "p50", "p95", "p99", "Max"]);
    for s in &a.by_name {
        table.add_row(summary_row(s, "whole run"));
    }
    for p in &a.by_period {
        let range = match p.to_s {
            Some(to) => format!("{} (+{:.0}-{:.0} s)", p.period.title(), p.from_s, to),
            None => format!("{} (+{:.0} s-end)", p.period.title(), p.from_s),
        };
        for s in &p.spans {
            table.add_row(summary_row(s, &range));
        }
    }
    let _ = writeln!(out, "{table}");
    if !a.by_pod.is_empty() {
        let mut pods = style.table(&["Pod", "Requests", "p50", "p95", "Max"]);
        for p in &a.by_pod {
            pods.add_row(vec![
                p.pod.clone(),
                p.summary.count.to_string(),
                ms(p.summary.p50_ms),
                ms(p.summary.p95_ms),
                ms(p.summary.max_ms),
            ]);
        }
        let _ = writeln!(out, "{pods}");
    }
}

/// The slowest traces, each with its spans as a tree.
fn render_slowest(out: &mut String, a: &RunSpans) {
    if !a.slowest.is_empty() {
        let _ = writeln!(out, "Slowest traces:");
    }
    for t in &a.slowest {
        let client = match (&t.endpoint, t.client_ms) {
            (Some(e), Some(c)) => format!("{e}, client {}, ", ms(c)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} {client}server {}{}",
            t.trace_id,
            ms(t.server_ms),
            t.link
                .as_deref()
                .map(|l| format!("  {l}"))
                .unwrap_or_default()
        );
        for s in &t.spans {
            let _ = writeln!(
                out,
                "    {}{} +{} {}",
                "  ".repeat(s.depth),
                s.name,
                ms(s.offset_ms),
                ms(s.duration_ms)
            );
        }
    }
}

/// Failed spans by name (and period), with their HTTP statuses.
fn render_errors(out: &mut String, a: &RunSpans) {
    for e in &a.errors {
        let period = e
            .period
            .map(|p| format!(" {}", p.title()))
            .unwrap_or_default();
        let codes: Vec<String> = e.statuses.iter().map(u16::to_string).collect();
        let _ = writeln!(
            out,
            "Errors{period}: {} x {}{}",
            e.count,
            e.name,
            if codes.is_empty() {
                String::new()
            } else {
                format!(" (HTTP {})", codes.join(", "))
            }
        );
    }
}
