//! Points on linear axes from 0 (the capacity samples of a run), with an optional fitted line
//! `y = a + b x`, a horizontal reference line (the HPA's CPU target) and a vertical one (the
//! rate one pod serves at that target).

use std::fmt::Write;

use super::ticks::Linear;
use super::{Colour, Line, Plot, Stroke, escape, legend, open_described};

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 48.0;

/// A scatter chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterChart {
    /// Unique on the page: the text alternative's ids derive from it.
    pub id: String,
    pub title: String,
    /// The text alternative.
    pub desc: String,
    pub x_label: String,
    pub y_label: String,
    /// (x, y, hover title).
    pub points: Vec<(f64, f64, String)>,
    /// `(name, a, b)` of `y = a + b x`.
    pub fit: Option<(String, f64, f64)>,
    /// `(name, y)`.
    pub h_ref: Option<(String, f64)>,
    /// `(name, x)`.
    pub v_ref: Option<(String, f64)>,
}

impl ScatterChart {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let x_max = self
            .points
            .iter()
            .map(|p| p.0)
            .chain(self.v_ref.as_ref().map(|r| r.1))
            .fold(0.0, f64::max);
        let y_max = self
            .points
            .iter()
            .map(|p| p.1)
            .chain(self.h_ref.as_ref().map(|r| r.1))
            .fold(0.0, f64::max);
        let (xa, ya) = (
            Linear::new(0.0, x_max * 1.1, 8),
            Linear::new(0.0, y_max * 1.1, 5),
        );
        let plot = Plot {
            left: LEFT,
            top: TOP,
            right: WIDTH - RIGHT,
            bottom: HEIGHT - BOTTOM,
        };
        let px = |x: f64| LEFT + x / xa.max * (plot.right - LEFT);
        let py = |y: f64| plot.bottom - y / ya.max * (plot.bottom - TOP);
        let mut out = String::new();
        open_described(&mut out, (WIDTH, HEIGHT), &self.id, &self.title, &self.desc);
        plot.title(&mut out, 18.0, &self.title);
        for t in xa.ticks() {
            plot.x_tick(&mut out, px(t), Some(&xa.label(t)));
        }
        for t in ya.ticks() {
            plot.y_tick(&mut out, py(t), &ya.label(t), false);
        }
        plot.axes(&mut out, &self.y_label, 18.0);
        plot.x_name(&mut out, HEIGHT - 10.0, &self.x_label);
        let mut lines = Vec::new();
        if let Some((name, a, b)) = &self.fit {
            let end = xa.max.min(if *b > 0.0 { (ya.max - a) / b } else { xa.max });
            lines.push(Line {
                name: name.clone(),
                colour: Colour::C2,
                stroke: Stroke::Solid,
                steps: false,
                points: vec![(0.0, Some(*a)), (end, Some(a + b * end))],
            });
        }
        if let Some((name, y)) = &self.h_ref {
            lines.push(Line {
                name: name.clone(),
                colour: Colour::Bad,
                stroke: Stroke::Dashed,
                steps: false,
                points: vec![(0.0, Some(*y)), (xa.max, Some(*y))],
            });
        }
        if let Some((name, x)) = &self.v_ref {
            lines.push(Line {
                name: name.clone(),
                colour: Colour::C4,
                stroke: Stroke::Dashed,
                steps: false,
                points: vec![(*x, Some(0.0)), (*x, Some(ya.max))],
            });
        }
        plot.lines(&mut out, &lines, |x, y| (px(x), py(y)));
        for line in &lines {
            // The line's name on hover too.
            if let Some(d) = line.path(&|x, y| (px(x), py(y))) {
                let _ = write!(
                    out,
                    "<path class=\"hover-line\" d=\"{d}\"><title>{}</title></path>",
                    escape(&line.name)
                );
            }
        }
        for (x, y, title) in &self.points {
            let _ = write!(
                out,
                "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{}</title></circle>",
                px(*x),
                py(*y),
                escape(title)
            );
        }
        legend(
            &mut out,
            &lines.iter().collect::<Vec<_>>(),
            plot.right,
            36.0,
        );
        out.push_str("</svg>");
        out
    }
}
