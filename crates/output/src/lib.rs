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

use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, presets};
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
pub use sim::render_sim_started;
pub use smoke::render_smoke;
pub use trace::render_trace;

/// Output format of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Tables for people (markdown for `report`, `demo` and `compare`).
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
    /// Lay tables out for this many columns (plain characters); `None`: a colour terminal's
    /// own width, else no wrapping (markdown).
    pub width: Option<u16>,
}

/// The width of a terminal that says none (or 0).
pub const DEFAULT_COLUMNS: u16 = 80;

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
            width: None,
        }
    }

    pub fn plain() -> Self {
        Self {
            color: false,
            width: None,
        }
    }

    /// Tables laid out as on a terminal of `width` columns, without colour.
    pub fn at_width(width: u16) -> Self {
        Self {
            color: false,
            width: Some(width),
        }
    }

    /// The columns tables must fit: the set width, else a colour terminal's (one that says
    /// none, or 0, counts as [`DEFAULT_COLUMNS`]); `None` when nothing is wrapped.
    pub fn columns(&self) -> Option<u16> {
        match (self.width, self.color) {
            (Some(w), _) => Some(w.max(1)),
            (None, true) => Some(
                Table::new()
                    .width()
                    .filter(|w| *w > 0)
                    .unwrap_or(DEFAULT_COLUMNS),
            ),
            (None, false) => None,
        }
    }

    /// A table in the house style: ASCII-safe borders, wrapped to the terminal when there is one.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table.load_style(presets::UTF8_FULL_CONDENSED);
        match self.columns() {
            Some(width) => {
                table.set_content_arrangement(ContentArrangement::Dynamic);
                table.set_width(width);
                if !self.color {
                    table.force_no_tty();
                }
            }
            None => {
                table.force_no_tty();
                table.load_style(presets::ASCII_MARKDOWN);
            }
        }
        table.set_header(header.iter().map(Cell::new).collect::<Vec<_>>());
        table
    }

    /// A WARN cell (passed, not yet as it should be), yellow on a colour terminal.
    pub fn warn_cell(&self) -> Cell {
        let cell = Cell::new("WARN");
        if self.color {
            cell.fg(Color::Yellow)
        } else {
            cell
        }
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

/// One column of a [`fitted_table`]: its header and its cells, top to bottom.
pub type Column = (&'static str, Vec<String>);

/// The characters a table of these columns takes on one line (borders and padding included).
fn natural_width(columns: &[Column]) -> usize {
    columns
        .iter()
        .map(|(h, cells)| {
            cells
                .iter()
                .map(|c| c.chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(1)
                + 3
        })
        .sum::<usize>()
        + 1
}

/// A table whose cells never break inside a word at the style's width: when the whole table
/// is wider, `Type` and `Name` become one `Name` column (`POST /predict`), then the
/// `optional` columns go, least wanted first; every kept column is as wide as its content.
pub fn fitted_table(style: Style, mut columns: Vec<Column>, optional: &[&str]) -> Table {
    if let Some(width) = style.columns().map(usize::from) {
        let merge = columns.len() >= 2 && columns[0].0 == "Type" && columns[1].0 == "Name";
        if merge && natural_width(&columns) > width {
            let (_, types) = columns.remove(0);
            let names = &mut columns[0].1;
            for (name, kind) in names.iter_mut().zip(types) {
                *name = format!("{kind} {name}").trim().to_string();
            }
        }
        for drop in optional {
            if natural_width(&columns) <= width {
                break;
            }
            columns.retain(|(h, _)| h != drop);
        }
    }
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let mut table = style.table(&headers);
    let rows = columns.first().map_or(0, |(_, cells)| cells.len());
    for i in 0..rows {
        table.add_row(
            columns
                .iter()
                .map(|(_, cells)| cells.get(i).map_or("", String::as_str)),
        );
    }
    if style.columns().is_some() {
        table.set_constraints(columns.iter().map(|_| ColumnConstraint::ContentWidth));
    }
    table
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
