//! A rendered table of the report: cells as text, and their default markdown rendering.

use serde::Serialize;

/// A rendered table: the template prints it as it likes; `markdown` is the default rendering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub markdown: String,
}

impl Table {
    /// The table of these cells, rendered as markdown too.
    pub fn new(headers: Vec<String>, rows: Vec<Vec<String>>) -> Table {
        Table {
            markdown: markdown(&headers, &rows),
            headers,
            rows,
        }
    }
}

/// A GitHub-flavoured markdown table.
pub fn markdown(headers: &[String], rows: &[Vec<String>]) -> String {
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    let mut out = vec![line(headers)];
    out.push(format!("|{}|", vec!["---"; headers.len()].join("|")));
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}
