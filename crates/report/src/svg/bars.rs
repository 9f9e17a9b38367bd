//! Horizontal stacked bars on one seconds axis (the anatomy of each scale-up): one bar per
//! row, its segments in order from 0, each a filled rectangle with its own colour class
//! (`seg1` ..) and a hover title; an optional shaded band (the guide's 30-45 s) and a mark of
//! each bar's total where it is known.

use std::fmt::Write;

use super::ticks::Linear;
use super::{Plot, escape, open_described, text_width};

const WIDTH: f64 = 820.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 30.0;
const ROW: f64 = 30.0;
const BAR: f64 = 18.0;
const LEGEND_ROW: f64 = 18.0;
const BOTTOM: f64 = 44.0;

/// A chart of stacked horizontal bars.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Unique on the page: the text alternative's ids derive from it.
    pub id: String,
    pub title: String,
    /// The text alternative (what a screen reader says instead of the picture).
    pub desc: String,
    pub x_label: String,
    /// The segments' names, in order; segment i is drawn with class `seg{i+1}`.
    pub segment_names: Vec<String>,
    pub bars: Vec<Bar>,
    pub band: Option<Band>,
}

/// One bar: its segments' lengths in order (`None`: not observed, drawn as nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub segments: Vec<Option<f64>>,
    /// A mark at this x with its label (the total reaction), when known.
    pub total: Option<(f64, String)>,
}

/// A shaded range of x, labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

impl BarChart {
    /// Where the legend's items go: (x, row) of each, wrapping at the plot's width.
    fn legend_layout(&self) -> Vec<(f64, usize)> {
        let mut out = Vec::new();
        let (mut x, mut row) = (LEFT, 0);
        for name in &self.segment_names {
            let w = 16.0 + text_width(name, 12.0) + 14.0;
            if x + w > WIDTH - RIGHT && x > LEFT {
                x = LEFT;
                row += 1;
            }
            out.push((x, row));
            x += w;
        }
        out
    }

    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let layout = self.legend_layout();
        let legend_rows = layout.last().map_or(0, |l| l.1 + 1);
        let plot_top = TOP + legend_rows as f64 * LEGEND_ROW + 6.0;
        let plot_bottom = plot_top + self.bars.len().max(1) as f64 * ROW;
        let height = plot_bottom + BOTTOM;
        let x_max = self
            .bars
            .iter()
            .flat_map(|b| {
                let sum: f64 = b.segments.iter().flatten().sum();
                [sum, b.total.as_ref().map_or(0.0, |t| t.0)]
            })
            .chain(self.band.as_ref().map(|b| b.to))
            .fold(0.0, f64::max);
        let axis = Linear::new(0.0, x_max * 1.05, 8);
        let plot = Plot {
            left: LEFT,
            top: plot_top,
            right: WIDTH - RIGHT,
            bottom: plot_bottom,
        };
        let px = |x: f64| LEFT + x / axis.max * (plot.right - LEFT);
        let mut out = String::new();
        open_described(&mut out, (WIDTH, height), &self.id, &self.title, &self.desc);
        plot.title(&mut out, 18.0, &self.title);
        for ((name, (x, row)), i) in self.segment_names.iter().zip(&layout).zip(1..) {
            let y = TOP + *row as f64 * LEGEND_ROW;
            let _ = write!(
                out,
                "<rect class=\"seg seg{i}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"10\"/><text class=\"legend\" x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
                y - 9.0,
                x + 16.0,
                escape(name)
            );
        }
        if let Some(band) = &self.band {
            let (from, to) = (px(band.from), px(band.to));
            let _ = write!(
                out,
                "<rect class=\"band\" x=\"{from:.1}\" y=\"{plot_top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                to - from,
                plot_bottom - plot_top,
                escape(&band.label),
                (from + to) / 2.0,
                plot_top - 4.0,
                escape(&band.label)
            );
        }
        for t in axis.ticks() {
            plot.x_tick(&mut out, px(t), Some(&axis.label(t)));
        }
        for (i, bar) in self.bars.iter().enumerate() {
            self.bar(&mut out, bar, plot_top + i as f64 * ROW, &px);
        }
        let _ = write!(
            out,
            "<path class=\"frame\" d=\"M{LEFT:.1} {plot_top:.1}V{plot_bottom:.1}H{:.1}\"/>",
            plot.right
        );
        plot.x_name(&mut out, plot_bottom + 36.0, &self.x_label);
        out.push_str("</svg>");
        out
    }

    /// One bar in its row from `y`: a group titled with every segment's value.
    fn bar(&self, out: &mut String, bar: &Bar, y: f64, px: &impl Fn(f64) -> f64) {
        let values: Vec<String> = self
            .segment_names
            .iter()
            .zip(&bar.segments)
            .map(|(name, v)| match v {
                Some(v) => format!("{name}: {v:.1} s"),
                None => format!("{name}: not observed"),
            })
            .collect();
        let total = bar.total.as_ref().map(|t| t.1.clone());
        let _ = write!(
            out,
            "<g class=\"bar\"><title>{}</title>",
            escape(&format!(
                "{}\n{}{}",
                bar.label,
                values.join("\n"),
                total.map(|t| format!("\n{t}")).unwrap_or_default()
            ))
        );
        let bar_top = y + (ROW - BAR) / 2.0;
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            bar_top + BAR - 4.0,
            escape(&bar.label)
        );
        let mut at = 0.0;
        for ((v, name), i) in bar.segments.iter().zip(&self.segment_names).zip(1..) {
            let Some(v) = v else { continue };
            let _ = write!(
                out,
                "<rect class=\"seg seg{i}\" x=\"{:.1}\" y=\"{bar_top:.1}\" width=\"{:.1}\" height=\"{BAR:.1}\"><title>{}</title></rect>",
                px(at),
                (px(at + v) - px(at)).max(0.0),
                escape(&format!("{name}: {v:.1} s"))
            );
            at += v;
        }
        if let Some((x, label)) = &bar.total {
            let x = px(*x);
            let _ = write!(
                out,
                "<path class=\"total\" d=\"M{x:.1} {:.1}V{:.1}\"/>",
                bar_top - 3.0,
                bar_top + BAR + 3.0
            );
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x + 5.0,
                bar_top + BAR - 4.0,
                escape(label)
            );
        }
        out.push_str("</g>");
    }
}
