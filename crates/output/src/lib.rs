//! The only place that prints results: tables, JSON, colour policy. Commands return data;
//! this module renders it.

mod cluster;
mod delta;
mod delta_html;
mod distributed;
mod doctor;
mod load;
mod phases;
mod predict;
mod report;
mod shape;
mod sim;
mod smoke;
mod trace;

use std::io::{IsTerminal, Write};

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde::{Deserialize, Serialize};

use iris_record::WriteError;

pub use cluster::{
    ask_yes_no, describe, pods_table, render_cleanup, render_cleanup_plan, render_verify,
    render_watch_event, render_watch_header,
};
pub use delta::{render_breach, render_delta, render_delta_section};
pub use delta_html::render_delta_html;
pub use doctor::{render_doctor, render_wait};
pub use load::{
    LiveDisplay, cluster_line, cluster_summary, render_cluster_watched, render_load,
    render_load_text, render_run_note, render_summary, status_line,
};
pub use phases::phase_table;
pub use predict::render_prediction;
pub use report::{Template, deliver, render_report, render_report_with_baseline};
pub use sim::{render_fault_done, render_sim_started};
pub use smoke::render_smoke;
pub use trace::render_trace;

/// Output format of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Tables for people (markdown for `report`).
    #[default]
    #[value(alias = "markdown")]
    Text,
    Json,
    /// A self-contained HTML page (`report` and `demo` only).
    Html,
}

/// How text output looks: colour only on a terminal and when `NO_COLOR` is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// The policy for stdout of this process.
    pub fn for_stdout() -> Self {
        Self::decide(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        )
    }

    pub fn decide(is_tty: bool, no_color: bool) -> Self {
        Self {
            color: is_tty && !no_color,
        }
    }

    pub fn plain() -> Self {
        Self { color: false }
    }

    /// A table in the house style: ASCII-safe borders, wrapped to the terminal when there is one.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table.load_style(presets::UTF8_FULL_CONDENSED);
        if self.color {
            table.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.force_no_tty();
            table.load_style(presets::ASCII_MARKDOWN);
        }
        table.set_header(header.iter().map(Cell::new).collect::<Vec<_>>());
        table
    }

    /// A pass/fail cell, green or red on a colour terminal.
    pub fn verdict(&self, passed: bool) -> Cell {
        let cell = Cell::new(if passed { "PASS" } else { "FAIL" });
        if self.color {
            cell.fg(if passed { Color::Green } else { Color::Red })
        } else {
            cell
        }
    }
}

/// The first line `serve` prints: tests and scripts read the port from it.
pub fn render_listening(addr: std::net::SocketAddr) -> String {
    format!("listening on http://{addr}\n")
}

/// What `serve` says about its model at start-up.
pub fn render_model(model: &iris_server::Model) -> String {
    format!(
        "model: multinomial logistic regression (linfa), trained on {} rows in {} ms; held-out accuracy {:.3} ({}/{})",
        model.train_rows,
        model.training_time.as_millis(),
        model.accuracy,
        model.test_correct,
        model.test_rows
    )
}

/// Writes `text` to stdout and says whether stdout is still open (false once the reader of a
/// pipe has gone, as in `iris-lab watch | head`), so that streams can stop.
pub fn write_stdout_open(text: &str) -> Result<bool, WriteError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        other => other
            .map(|()| true)
            .map_err(|e| WriteError::new("standard output", e)),
    }
}

/// Writes `text` to stdout. A closed pipe (`iris-lab report | head`) is not an error.
pub fn write_stdout(text: &str) -> Result<(), WriteError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| WriteError::new("standard output", e)),
    }
}

/// Writes `text` to `path` atomically: a reader never sees half a file, and a failure leaves
/// any earlier file in place.
pub fn write_file(path: &std::path::Path, text: &str) -> Result<(), WriteError> {
    iris_record::write_atomically(path, |w| w.write_all(text.as_bytes()))
}

/// Writes one line to stderr: notes and progress that must not mix with results on stdout.
pub fn note(text: &str) {
    let mut err = std::io::stderr().lock();
    // Nothing useful can be done if stderr is gone.
    let _ = writeln!(err, "{text}");
}

/// Pretty JSON of any result, with a trailing newline.
pub fn to_json<T: Serialize>(value: &T) -> String {
    // Our result types contain only strings, numbers, bools, maps and sequences: infallible.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("could not encode result: {e}") }).to_string()
    });
    text.push('\n');
    text
}

/// Milliseconds with a precision that suits the magnitude: `0.42 ms`, `12.3 ms`, `1234 ms`.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_tty_without_no_color() {
        assert!(Style::decide(true, false).color);
        assert!(!Style::decide(false, false).color);
        assert!(!Style::decide(true, true).color);
    }

    #[test]
    fn milliseconds_read_naturally() {
        assert_eq!(fmt_ms(0.423), "0.42 ms");
        assert_eq!(fmt_ms(12.34), "12.3 ms");
        assert_eq!(fmt_ms(1234.4), "1234 ms");
    }

    #[test]
    fn format_reads_from_config_in_lowercase() {
        let f: Format = serde_json::from_str("\"json\"").unwrap();
        assert_eq!(f, Format::Json);
    }
}
