//! Inline SVG charts for the HTML report, written by hand from typed charts: colours and
//! strokes are CSS classes (the page's stylesheet picks light, dark and print colours), text is
//! escaped, every number is printed with fixed decimals, so the same model gives the same bytes.
//!
//! [`time::TimeChart`]: panels stacked on one time axis with vertical event markers;
//! [`curve::CurveChart`]: latency percentile curves on log axes.

pub mod bars;
pub mod curve;
pub mod scatter;
pub mod ticks;
pub mod time;

use std::fmt::Write;

/// A series' colour: a CSS class the page's stylesheet defines (`.c1` .. `.c4`, `.bad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    C1,
    C2,
    C3,
    C4,
    /// Failures and limits.
    Bad,
}

impl Colour {
    /// The n-th of the regular colours, cycling.
    pub fn nth(n: usize) -> Self {
        [Self::C1, Self::C2, Self::C3, Self::C4][n % 4]
    }

    fn class(self) -> &'static str {
        match self {
            Self::C1 => "c1",
            Self::C2 => "c2",
            Self::C3 => "c3",
            Self::C4 => "c4",
            Self::Bad => "bad",
        }
    }
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    Dashed,
}

/// One named line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub colour: Colour,
    pub stroke: Stroke,
    /// Counts that change in steps (users, replicas) hold their value until the next point.
    pub steps: bool,
    /// (x, y); a `None` y breaks the line.
    pub points: Vec<(f64, Option<f64>)>,
}

impl Line {
    fn class(&self) -> String {
        match self.stroke {
            Stroke::Solid => format!("line {}", self.colour.class()),
            Stroke::Dashed => format!("line dash {}", self.colour.class()),
        }
    }

    /// The largest y.
    fn max(&self) -> Option<f64> {
        self.points
            .iter()
            .filter_map(|p| p.1)
            .fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
    }

    /// The path through the points, mapped to pixels; `None` when no point has a value.
    fn path(&self, px: &impl Fn(f64, f64) -> (f64, f64)) -> Option<String> {
        let mut d = String::new();
        let mut last: Option<(f64, f64)> = None;
        for &(x, y) in &self.points {
            let Some(y) = y else {
                last = None;
                continue;
            };
            let (x, y) = px(x, y);
            match last {
                None => {
                    let _ = write!(d, "M{x:.1} {y:.1}");
                }
                Some((_, ly)) if self.steps => {
                    let _ = write!(d, "H{x:.1}");
                    if (ly - y).abs() > 0.01 {
                        let _ = write!(d, "V{y:.1}");
                    }
                }
                Some(_) => {
                    let _ = write!(d, "L{x:.1} {y:.1}");
                }
            }
            last = Some((x, y));
        }
        (!d.is_empty()).then_some(d)
    }
}

/// Text for SVG/HTML: `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// About how wide `text` is at `size` px in a sans-serif font (for placing labels apart).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// The opening tag of a chart: sized by its viewBox (it scales to the page's width), titled
/// for screen readers and hover.
fn open(out: &mut String, width: f64, height: f64, title: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\"><title>{}</title>",
        escape(title)
    );
}

/// The opening tag of a chart with a text alternative: `title` and `desc` named by
/// `aria-labelledby` (`id` makes their ids unique on the page).
fn open_described(out: &mut String, size: (f64, f64), id: &str, title: &str, desc: &str) {
    let id = escape(id);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {:.0} {:.0}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        size.0,
        size.1,
        escape(title),
        escape(desc)
    );
}

/// A legend in a row ending at `right`, on the baseline `y`: a short line and the name of each.
fn legend(out: &mut String, lines: &[&Line], right: f64, y: f64) {
    let widths: Vec<f64> = lines
        .iter()
        .map(|l| 22.0 + text_width(&l.name, 12.0) + 14.0)
        .collect();
    let mut x = right - widths.iter().sum::<f64>();
    for (line, w) in lines.iter().zip(widths) {
        let _ = write!(
            out,
            "<path class=\"{}\" d=\"M{:.1} {:.1}h18\"/><text class=\"legend\" x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            line.class(),
            x,
            y - 4.0,
            x + 22.0,
            escape(&line.name)
        );
        x += w;
    }
}

/// The rectangle a plot draws in, and what every plot draws around and in it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Plot {
    /// A title above the plot's left edge, on the baseline `y`.
    fn title(&self, out: &mut String, y: f64, title: &str) {
        let _ = write!(
            out,
            "<text class=\"panel-title\" x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            self.left,
            escape(title)
        );
    }

    /// A vertical grid line at `x`, with its label under the plot when given.
    fn x_tick(&self, out: &mut String, x: f64, label: Option<&str>) {
        let _ = write!(
            out,
            "<path class=\"grid\" d=\"M{x:.1} {:.1}V{:.1}\"/>",
            self.top, self.bottom
        );
        if let Some(label) = label {
            tick_label(out, x, self.bottom + 16.0, label);
        }
    }

    /// A horizontal grid line (`minor`: dotted) at `y`, labelled left of the plot.
    fn y_tick(&self, out: &mut String, y: f64, label: &str, minor: bool) {
        let _ = write!(
            out,
            "<path class=\"{}\" d=\"M{:.1} {y:.1}H{:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            if minor { "grid minor" } else { "grid" },
            self.left,
            self.right,
            self.left - 6.0,
            y + 4.0,
            escape(label)
        );
    }

    /// The axes' lines and the y axis' name, turned along it at `x`.
    fn axes(&self, out: &mut String, y_name: &str, x: f64) {
        let _ = write!(
            out,
            "<path class=\"frame\" d=\"M{:.1} {:.1}V{:.1}H{:.1}\"/><text class=\"axis\" transform=\"translate({x:.1} {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            self.left,
            self.top,
            self.bottom,
            self.right,
            (self.top + self.bottom) / 2.0,
            escape(y_name)
        );
    }

    /// The x axis' name, centred under the plot on the baseline `y`.
    fn x_name(&self, out: &mut String, y: f64, name: &str) {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>",
            (self.left + self.right) / 2.0,
            escape(name)
        );
    }

    /// The lines, mapped to pixels by `px`.
    fn lines(&self, out: &mut String, lines: &[Line], px: impl Fn(f64, f64) -> (f64, f64)) {
        for line in lines {
            if let Some(d) = line.path(&px) {
                let _ = write!(out, "<path class=\"{}\" d=\"{d}\"/>", line.class());
            }
        }
    }
}

/// A tick's label centred on `x`.
fn tick_label(out: &mut String, x: f64, y: f64, label: &str) {
    let _ = write!(
        out,
        "<text class=\"tick\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>",
        escape(label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(steps: bool, points: Vec<(f64, Option<f64>)>) -> Line {
        Line {
            name: "n".into(),
            colour: Colour::C1,
            stroke: Stroke::Solid,
            steps,
            points,
        }
    }

    #[test]
    fn lines_break_at_missing_values_and_step_when_asked() {
        let px = |x: f64, y: f64| (x * 10.0, 100.0 - y);
        let l = line(
            false,
            vec![
                (0.0, Some(1.0)),
                (1.0, None),
                (2.0, Some(3.0)),
                (3.0, Some(4.0)),
            ],
        );
        assert_eq!(l.path(&px).unwrap(), "M0.0 99.0M20.0 97.0L30.0 96.0");
        let s = line(
            true,
            vec![(0.0, Some(1.0)), (1.0, Some(1.0)), (2.0, Some(3.0))],
        );
        assert_eq!(s.path(&px).unwrap(), "M0.0 99.0H10.0H20.0V97.0");
        assert_eq!(line(false, vec![(0.0, None)]).path(&px), None);
        assert_eq!(s.max(), Some(3.0));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
