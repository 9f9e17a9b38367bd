//! The summary's short table of where requests' time went.

use comfy_table::Cell;

use super::{Style, fmt_ms};
use iris_record::RunRecord;

/// The phases of all requests, and name resolution; nothing for records without phases.
pub fn phase_table(r: &RunRecord, style: Style) -> String {
    let Some(phases) = &r.phases else {
        return String::new();
    };
    let mut t = style.table(&["Phase", "# reqs", "Avg", "p50", "p95", "p99", "Max"]);
    for (name, d) in phases.aggregate.named() {
        let Some(d) = d else { continue };
        t.add_row(vec![
            Cell::new(name),
            Cell::new(d.count),
            Cell::new(fmt_ms(d.avg_ms)),
            Cell::new(fmt_ms(d.p50_ms)),
            Cell::new(fmt_ms(d.p95_ms)),
            Cell::new(fmt_ms(d.p99_ms)),
            Cell::new(fmt_ms(d.max_ms)),
        ]);
    }
    let resolution = phases.resolution.as_ref().map_or_else(String::new, |res| {
        format!(
            "; the host resolved once before the run in {} to {} address{}",
            fmt_ms(res.ms),
            res.addresses,
            if res.addresses == 1 { "" } else { "es" }
        )
    });
    format!(
        "\nWhere the time went, all requests (connect and TLS: requests that opened their connection; server and model: as the server reported them{resolution})\n{t}\n"
    )
}
