//! Latency percentile curves, HdrHistogram style: the x axis counts nines (90%, 99%, 99.9%...)
//! on a log scale of 1 / (1 - percentile), the y axis is milliseconds on a log scale.

use super::ticks::{Log, nines_label, plain};
use super::{Line, Plot, legend, open};

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
        let plot = Plot {
            left: LEFT,
            top: TOP,
            right,
            bottom,
        };
        let mut out = String::new();
        open(&mut out, WIDTH, HEIGHT, &self.title);
        plot.title(&mut out, 18.0, &self.title);
        legend(
            &mut out,
            &self.lines.iter().collect::<Vec<_>>(),
            right,
            18.0,
        );
        for n in 0..=(x_max as u32) {
            plot.x_tick(&mut out, px(f64::from(n)), Some(&nines_label(n)));
        }
        for (v, major) in y_axis.ticks() {
            plot.y_tick(&mut out, py(v), &plain(v), !major);
        }
        plot.axes(&mut out, "latency, ms (log scale)", 16.0);
        plot.x_name(
            &mut out,
            HEIGHT - 8.0,
            "percentile of requests (log scale of 1 / (1 - percentile))",
        );
        plot.lines(&mut out, &self.lines, |x, y| (px(x), py(y)));
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
