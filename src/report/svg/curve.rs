//! Latency percentile curves, HdrHistogram style: the x axis counts nines (90%, 99%, 99.9%...)
//! on a log scale of 1 / (1 - percentile), the y axis is milliseconds on a log scale.

use std::fmt::Write;

use super::ticks::{Log, nines_label, plain};
use super::{Line, escape, legend, open};

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 48.0;

/// Lines whose x is in nines (`-log10(1 - fraction)`) and y in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveChart {
    pub title: String,
    pub lines: Vec<Line>,
}

/// A fraction of requests (0..1) as nines: 0.9 -> 1, 0.99 -> 2. A fraction of 1 (the
/// maximum) is placed at 1 in `count` requests.
pub fn nines(fraction: f64, count: u64) -> f64 {
    let last = (count.max(1) as f64).log10();
    if fraction >= 1.0 {
        last
    } else {
        (-(1.0 - fraction).log10()).min(last)
    }
}

impl CurveChart {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let points = || self.lines.iter().flat_map(|l| &l.points);
        let x_max = points()
            .map(|p| p.0)
            .fold(0.0_f64, f64::max)
            .ceil()
            .max(2.0);
        let ms = || points().filter_map(|p| p.1).filter(|v| *v > 0.0);
        let y_axis = Log::new(ms().fold(f64::INFINITY, f64::min), ms().fold(0.0, f64::max));
        let plot_width = WIDTH - LEFT - RIGHT;
        let plot_height = HEIGHT - TOP - BOTTOM;
        let bottom = TOP + plot_height;
        let right = WIDTH - RIGHT;
        let px = |x: f64| LEFT + x / x_max * plot_width;
        let py = |v: f64| bottom - y_axis.position(v) * plot_height;
        let mut out = String::new();
        open(&mut out, WIDTH, HEIGHT, &self.title);
        let _ = write!(
            out,
            "<text class=\"panel-title\" x=\"{LEFT:.1}\" y=\"18.0\">{}</text>",
            escape(&self.title)
        );
        legend(
            &mut out,
            &self.lines.iter().collect::<Vec<_>>(),
            right,
            18.0,
        );
        for n in 0..=(x_max as u32) {
            let x = px(f64::from(n));
            let _ = write!(
                out,
                "<path class=\"grid\" d=\"M{x:.1} {TOP:.1}V{bottom:.1}\"/><text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 16.0,
                nines_label(n)
            );
        }
        for (v, major) in y_axis.ticks() {
            let y = py(v);
            let _ = write!(
                out,
                "<path class=\"{}\" d=\"M{LEFT:.1} {y:.1}H{right:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                if major { "grid" } else { "grid minor" },
                LEFT - 6.0,
                y + 4.0,
                plain(v)
            );
        }
        let _ = write!(
            out,
            "<path class=\"frame\" d=\"M{LEFT:.1} {TOP:.1}V{bottom:.1}H{right:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile of requests (log scale of 1 / (1 - percentile))</text><text class=\"axis\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">latency, ms (log scale)</text>",
            LEFT + plot_width / 2.0,
            HEIGHT - 8.0,
            TOP + plot_height / 2.0
        );
        for line in &self.lines {
            if let Some(d) = line.path(|x, y| (px(x), py(y))) {
                let _ = write!(out, "<path class=\"{}\" d=\"{d}\"/>", line.class());
            }
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Colour, Stroke};
    use super::*;

    #[test]
    fn fractions_become_nines_and_the_maximum_sits_at_one_in_n() {
        assert!((nines(0.9, 1000) - 1.0).abs() < 1e-9);
        assert!((nines(0.999, 1000) - 3.0).abs() < 1e-9);
        assert!((nines(1.0, 1000) - 3.0).abs() < 1e-9);
        assert!((nines(0.99999, 1000) - 3.0).abs() < 1e-9);
        assert_eq!(nines(0.0, 10), 0.0);
    }

    #[test]
    fn curves_share_log_axes() {
        let line = |name: &str, scale: f64| Line {
            name: name.into(),
            colour: Colour::C1,
            stroke: Stroke::Solid,
            steps: false,
            points: vec![
                (0.0, Some(0.4 * scale)),
                (1.0, Some(1.0 * scale)),
                (3.0, Some(9.0 * scale)),
            ],
        };
        let chart = CurveChart {
            title: "Latency".into(),
            lines: vec![line("150 users", 1.0), line("300 users", 10.0)],
        };
        let svg = chart.render();
        for label in [
            "0%",
            "90%",
            "99%",
            "99.9%",
            ">0.1<",
            ">100<",
            "150 users",
            "300 users",
        ] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        assert_eq!(svg, chart.render());
    }
}
