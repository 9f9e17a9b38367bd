//! Panels stacked on one time axis: every panel of a run shares the x scale, and event markers
//! (scaling, pods becoming ready) are vertical lines through all of them.

use std::fmt::Write;

use super::ticks::{Linear, plain};
use super::{Line, Plot, escape, legend, open, text_width, tick_label};

const WIDTH: f64 = 820.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const PLOT_HEIGHT: f64 = 104.0;
/// Above each plot: its title and legend.
const TITLE_BAND: f64 = 26.0;
const GAP: f64 = 18.0;
const MARKER_ROW: f64 = 15.0;
/// Marker labels beyond this many rows are left to the lines' hover titles.
const MARKER_ROWS: usize = 3;
const BOTTOM: f64 = 44.0;

/// Charts sharing one time axis, from 0 to `x_max` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    pub title: String,
    pub x_label: String,
    pub x_max: f64,
    pub panels: Vec<Panel>,
    pub markers: Vec<Marker>,
}

/// One plot of a [`TimeChart`]: its y axis starts at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    /// The y axis' unit, shown beside it.
    pub unit: String,
    pub lines: Vec<Line>,
    /// A horizontal line at a fixed value (the HPA's CPU target), drawn like a line's legend.
    pub reference: Option<(Line, f64)>,
}

/// A vertical line at `x` through every panel, labelled above them.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
    pub kind: MarkerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    Scaling,
    Ready,
}

impl MarkerKind {
    fn class(self) -> &'static str {
        match self {
            Self::Scaling => "mark scale",
            Self::Ready => "mark ready",
        }
    }
}

impl TimeChart {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let x_axis = Linear::exact(0.0, self.x_max, 10);
        let plot_width = WIDTH - LEFT - RIGHT;
        let px = |x: f64| LEFT + x / x_axis.max * plot_width;
        let rows = self.marker_rows(&px);
        let used_rows = rows.iter().flatten().map(|r| r + 1).max().unwrap_or(0);
        let top = 6.0 + used_rows as f64 * MARKER_ROW;
        let panel_height = TITLE_BAND + PLOT_HEIGHT + GAP;
        let height = top + self.panels.len() as f64 * panel_height + BOTTOM;
        let mut out = String::new();
        open(&mut out, WIDTH, height, &self.title);
        let first_plot = top + TITLE_BAND;
        let last_plot_end = top + self.panels.len() as f64 * panel_height - GAP;
        for (i, panel) in self.panels.iter().enumerate() {
            let y0 = top + i as f64 * panel_height;
            panel.render(&mut out, y0, &x_axis, &px);
        }
        // The time axis: grid lines through every plot (drawn by each), labels under the last.
        for t in x_axis.ticks() {
            tick_label(&mut out, px(t), last_plot_end + 16.0, &x_axis.label(t));
        }
        let whole = Plot {
            left: LEFT,
            top: first_plot,
            right: WIDTH - RIGHT,
            bottom: last_plot_end,
        };
        whole.x_name(&mut out, last_plot_end + 36.0, &self.x_label);
        self.hover(&mut out, &whole, &px);
        for (marker, row) in self.markers.iter().zip(&rows) {
            let x = px(marker.x);
            // Through each plot, not across the titles between them.
            let mut d = String::new();
            for i in 0..self.panels.len() {
                let plot_top = first_plot + i as f64 * panel_height;
                let _ = write!(d, "M{x:.1} {plot_top:.1}V{:.1}", plot_top + PLOT_HEIGHT);
            }
            let _ = write!(
                out,
                "<path class=\"{}\" d=\"{d}\"><title>{}</title></path>",
                marker.kind.class(),
                escape(&format!("+{:.0} s: {}", marker.x, marker.label))
            );
            if let Some(row) = row {
                let y = 6.0 + (*row as f64 + 1.0) * MARKER_ROW - 3.0;
                let (anchor, lx) = if x + 4.0 + text_width(&marker.label, 11.0) > WIDTH - RIGHT {
                    ("end", x - 4.0)
                } else {
                    ("start", x + 4.0)
                };
                let _ = write!(
                    out,
                    "<path class=\"{}\" d=\"M{x:.1} {:.1}V{:.1}\"/><text class=\"marker-label\" x=\"{lx:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
                    marker.kind.class(),
                    y - 9.0,
                    first_plot - TITLE_BAND,
                    escape(&marker.label)
                );
            }
        }
        out.push_str("</svg>");
        out
    }

    /// A transparent band per point in time through every plot, whose title (shown on hover,
    /// without a script) holds every line's value at that time.
    fn hover(&self, out: &mut String, whole: &Plot, px: &impl Fn(f64) -> f64) {
        let mut xs: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| &p.lines)
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        for (i, &x) in xs.iter().enumerate() {
            let values: Vec<String> = self
                .panels
                .iter()
                .filter_map(|panel| panel.values_at(x))
                .collect();
            if values.is_empty() {
                continue;
            }
            let from = i
                .checked_sub(1)
                .map_or(whole.left, |j| (px(xs[j]) + px(x)) / 2.0);
            let to = xs
                .get(i + 1)
                .map_or(whole.right, |next| (px(x) + px(*next)) / 2.0);
            let _ = write!(
                out,
                "<rect class=\"hover\" x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
                whole.top,
                (to - from).max(0.0),
                whole.bottom - whole.top,
                escape(&format!("+{} s\n{}", plain(x), values.join("\n")))
            );
        }
    }

    /// The label row of each marker (in order of x), so labels do not overlap; `None` for a
    /// marker whose label does not fit in [`MARKER_ROWS`] rows.
    fn marker_rows(&self, px: &impl Fn(f64) -> f64) -> Vec<Option<usize>> {
        let mut order: Vec<usize> = (0..self.markers.len()).collect();
        order.sort_by(|a, b| self.markers[*a].x.total_cmp(&self.markers[*b].x));
        let mut ends = [f64::NEG_INFINITY; MARKER_ROWS];
        let mut rows = vec![None; self.markers.len()];
        for i in order {
            let m = &self.markers[i];
            let x = px(m.x);
            let width = text_width(&m.label, 11.0) + 8.0;
            let (start, end) = if x + width > WIDTH - RIGHT {
                (x - width, x)
            } else {
                (x, x + width)
            };
            if let Some(row) = ends.iter().position(|e| *e <= start) {
                ends[row] = end;
                rows[i] = Some(row);
            }
        }
        rows
    }
}

impl Panel {
    /// "Title: name value, name value unit" at `x`; `None` when no line has a value there.
    fn values_at(&self, x: f64) -> Option<String> {
        let values: Vec<String> = self
            .lines
            .iter()
            .filter_map(|line| {
                let i = line.points.partition_point(|p| p.0 < x);
                let (px, v) = line.points.get(i)?;
                (*px == x).then_some(())?;
                Some(format!("{} {}", line.name, plain((*v)?)))
            })
            .collect();
        (!values.is_empty())
            .then(|| format!("{}: {} ({})", self.title, values.join(", "), self.unit))
    }

    /// The panel with its title band starting at `y0`.
    fn render(&self, out: &mut String, y0: f64, x_axis: &Linear, px: &impl Fn(f64) -> f64) {
        let plot_top = y0 + TITLE_BAND;
        let plot_bottom = plot_top + PLOT_HEIGHT;
        let max = self
            .lines
            .iter()
            .filter_map(Line::max)
            .chain(self.reference.as_ref().map(|r| r.1))
            .fold(0.0, f64::max);
        let y_axis = Linear::new(0.0, max * 1.05, 4);
        let py = |v: f64| plot_bottom - v / y_axis.max * PLOT_HEIGHT;
        let plot = Plot {
            left: LEFT,
            top: plot_top,
            right: WIDTH - RIGHT,
            bottom: plot_bottom,
        };
        plot.title(out, y0 + 16.0, &self.title);
        let mut named: Vec<&Line> = self.lines.iter().collect();
        if let Some((line, _)) = &self.reference {
            named.push(line);
        }
        legend(out, &named, plot.right, y0 + 16.0);
        // Grid, then axes, then lines on top.
        for t in x_axis.ticks() {
            plot.x_tick(out, px(t), None);
        }
        for v in y_axis.ticks() {
            plot.y_tick(out, py(v), &y_axis.label(v), false);
        }
        plot.axes(out, &self.unit, 14.0);
        if let Some((line, value)) = &self.reference {
            let y = py(*value);
            let _ = write!(
                out,
                "<path class=\"{}\" d=\"M{LEFT:.1} {y:.1}H{:.1}\"/>",
                line.class(),
                plot.right
            );
        }
        plot.lines(out, &self.lines, |x, y| (px(x), py(y)));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Colour, Stroke};
    use super::*;

    fn chart(markers: Vec<Marker>) -> TimeChart {
        TimeChart {
            title: "Run".into(),
            x_label: "seconds since the start".into(),
            x_max: 8.0,
            panels: vec![Panel {
                title: "Requests".into(),
                unit: "requests/s".into(),
                lines: vec![Line {
                    name: "requests/s".into(),
                    colour: Colour::C1,
                    stroke: Stroke::Solid,
                    steps: false,
                    points: (1..=8)
                        .map(|t| (t as f64, Some(t as f64 * 100.0)))
                        .collect(),
                }],
                reference: None,
            }],
            markers,
        }
    }

    fn marker(x: f64, label: &str) -> Marker {
        Marker {
            x,
            label: label.into(),
            kind: MarkerKind::Ready,
        }
    }

    #[test]
    fn a_chart_is_one_svg_with_its_titles_and_the_same_bytes_each_time() {
        let c = chart(vec![marker(6.0, "4 pods ready")]);
        let svg = c.render();
        assert!(svg.starts_with("<svg class=\"chart\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("<title>Run</title>"));
        assert!(svg.contains(">Requests</text>"));
        assert!(svg.contains(">seconds since the start</text>"));
        assert!(svg.contains(">4 pods ready</text>"));
        assert!(svg.contains("<title>+3 s\nRequests: requests/s 300 (requests/s)</title>"));
        assert_eq!(svg, c.render());
    }

    #[test]
    fn close_markers_get_their_own_rows_and_the_rest_only_a_line() {
        let c = chart(
            (0..5)
                .map(|i| marker(4.0 + f64::from(i) * 0.01, "a long label"))
                .collect(),
        );
        let rows = c.marker_rows(&|x| LEFT + x * 90.0);
        assert_eq!(rows, [Some(0), Some(1), Some(2), None, None]);
        let far = chart(vec![marker(1.0, "a"), marker(7.0, "b")]);
        assert_eq!(far.marker_rows(&|x| LEFT + x * 90.0), [Some(0), Some(0)]);
    }
}
