//! The charts of section 6.4 in the HTML report, built from each run's autoscaling analysis:
//! the anatomy of every scale-up (one stacked bar each, against the guide's 30-45 s) and the
//! capacity scatter (CPU per pod against requests/s per ready pod, with the fit, the HPA's
//! target and the rate one pod serves at it). A run without what a chart needs gets the reason.

use serde::Serialize;

use crate::RunAutoscaling;
use crate::autoscaling::anatomy::GUIDE_REACTION_S;
use crate::autoscaling::{Autoscaling, ScaleUp, Spread};
use crate::svg::bars::{Band, Bar, BarChart};
use crate::svg::scatter::ScatterChart;

/// The segments of a scale-up, in the order they happen.
pub const SEGMENTS: [&str; 7] = [
    "load rose → CPU above target",
    "→ HPA desired changed",
    "→ pods created",
    "→ scheduled",
    "→ started",
    "→ Ready",
    "→ latency recovered",
];

/// One run's 6.4 charts as SVG markup, or why there is none ("no data: ...").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoscalingCharts {
    pub column: String,
    pub anatomy: Option<String>,
    pub anatomy_missing: Option<String>,
    pub capacity: Option<String>,
    pub capacity_missing: Option<String>,
}

/// The charts of every run, in the order of `report.autoscaling`.
pub fn charts(runs: &[RunAutoscaling]) -> Vec<AutoscalingCharts> {
    runs.iter()
        .enumerate()
        .map(|(i, r)| {
            let (anatomy, anatomy_missing) = split(anatomy_chart(i, &r.column, &r.analysis));
            let (capacity, capacity_missing) =
                split(capacity_chart(i, &r.column, &r.analysis).map(|c| c.render()));
            AutoscalingCharts {
                column: r.column.clone(),
                anatomy: anatomy.map(|c| c.render()),
                anatomy_missing,
                capacity,
                capacity_missing,
            }
        })
        .collect()
}

fn split<T>(r: Result<T, String>) -> (Option<T>, Option<String>) {
    match r {
        Ok(v) => (Some(v), None),
        Err(why) => (None, Some(format!("no data: {why}"))),
    }
}

/// A scale-up's segments in seconds, along the path of the new pod Ready last (so they add up
/// to the reaction); the medians over the new pods when the run did not show that path.
pub fn segments(up: &ScaleUp) -> [Option<f64>; 7] {
    let s = &up.segments;
    let median = |p: Option<Spread>| p.map(|p| p.median_s);
    let (scheduled, started, ready) = match &s.last_pod {
        Some(p) => (
            p.created_to_scheduled_s,
            p.scheduled_to_started_s,
            p.started_to_ready_s,
        ),
        None => (
            median(s.created_to_scheduled),
            median(s.scheduled_to_started),
            median(s.started_to_ready),
        ),
    };
    [
        s.load_to_cpu_above_target_s,
        s.cpu_to_decision_s,
        s.decision_to_created_s,
        scheduled,
        started,
        ready,
        s.ready_to_latency_back_s,
    ]
}

fn bar_label(up: &ScaleUp) -> String {
    format!("{} → {} at +{:.0} s", up.from, up.to, up.decision_s)
}

/// One bar per scale-up, from the load rising; the guide's band shaded.
pub fn anatomy_chart(i: usize, column: &str, a: &Autoscaling) -> Result<BarChart, String> {
    if let Some(why) = &a.no_data {
        return Err(why.clone());
    }
    if a.scale_ups.is_empty() {
        return Err("no scale-up in this run".into());
    }
    let (lo, hi) = GUIDE_REACTION_S;
    let mut desc = vec![format!(
        "One bar per scale-up, in seconds from the load rising; the guide's {lo:.0}-{hi:.0} s is shaded."
    )];
    let bars = a
        .scale_ups
        .iter()
        .map(|up| {
            let values = segments(up);
            let parts: Vec<String> = SEGMENTS
                .iter()
                .zip(values)
                .map(|(name, v)| match v {
                    Some(v) => format!("{name} {v:.0} s"),
                    None => format!("{name} not observed"),
                })
                .collect();
            let total = up.reaction_s.map(|r| (r, format!("reaction {r:.0} s")));
            desc.push(format!(
                "{}: {}{}.",
                bar_label(up),
                parts.join(", "),
                total
                    .as_ref()
                    .map(|t| format!("; {}", t.1))
                    .unwrap_or_default()
            ));
            Bar {
                label: bar_label(up),
                segments: values.to_vec(),
                total,
            }
        })
        .collect();
    Ok(BarChart {
        id: format!("as{i}-anatomy"),
        title: format!("{column}: anatomy of each scale-up"),
        desc: desc.join(" "),
        x_label: "seconds since the load rose (pod steps: the new pod Ready last)".into(),
        segment_names: SEGMENTS.iter().map(|s| s.to_string()).collect(),
        bars,
        band: Some(Band {
            from: lo,
            to: hi,
            label: format!("guide: {lo:.0}-{hi:.0} s"),
        }),
    })
}

/// The steady samples, the fitted line, the HPA's CPU target and the rate at it.
pub fn capacity_chart(i: usize, column: &str, a: &Autoscaling) -> Result<ScatterChart, String> {
    if let Some(why) = &a.no_data {
        return Err(why.clone());
    }
    let c = &a.capacity;
    if c.points.is_empty() {
        return Err(c
            .no_fit_text
            .clone()
            .unwrap_or_else(|| "no steady samples".into()));
    }
    let fit = c
        .idle_millicores
        .zip(c.millicores_per_rps)
        .map(|(idle, per)| {
            (
                format!(
                    "fit: {idle:.0}m + {per:.2}m per request/s (R² {:.3})",
                    c.r_squared.unwrap_or(0.0)
                ),
                idle,
                per,
            )
        });
    let target = c
        .cpu_request_millis
        .zip(c.cpu_target_pct)
        .map(|(req, pct)| {
            (
                format!("HPA target {pct:.0}% = {:.0}m", req * pct / 100.0),
                req * pct / 100.0,
            )
        });
    let at_target = c
        .rps_per_pod_at_target
        .map(|x| (format!("{x:.1} requests/s per pod at target"), x));
    let mut desc = format!(
        "{} steady samples of CPU per pod against requests/s per ready pod.",
        c.points.len()
    );
    match (&fit, &c.no_fit_text) {
        (Some((name, _, _)), _) => desc.push_str(&format!(" {name}.")),
        (None, Some(why)) => desc.push_str(&format!(" No fit: {why}.")),
        (None, None) => {}
    }
    for (name, _) in target.iter().chain(&at_target) {
        desc.push_str(&format!(" {name}."));
    }
    Ok(ScatterChart {
        id: format!("as{i}-capacity"),
        title: format!("{column}: what one pod serves"),
        desc,
        x_label: "requests/s per ready pod (15 s metrics window)".into(),
        y_label: "CPU per pod (millicores)".into(),
        points: c
            .points
            .iter()
            .map(|p| {
                (
                    p.rps_per_pod,
                    p.cpu_millis_per_pod,
                    format!(
                        "+{:.0} s: {} pods, {:.1} requests/s per pod, {:.0}m",
                        p.t_s, p.pods, p.rps_per_pod, p.cpu_millis_per_pod
                    ),
                )
            })
            .collect(),
        fit,
        h_ref: target,
        v_ref: at_target,
    })
}

#[cfg(test)]
mod tests {
    use scraper::{ElementRef, Html, Selector};

    use super::*;
    use crate::autoscaling::tests::story;
    use crate::html::{HTML_TEMPLATE, render};
    use crate::view::{RunView, Second};
    use crate::{ReportOptions, build};

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap()
    }

    /// The story (one scale-up, a capacity fit) and a run without cluster data, as a page.
    fn page() -> (Html, crate::ReportModel) {
        let mut plain = RunView {
            users: 10,
            label: "10 users".into(),
            timeline: (1..=5)
                .map(|t| Second {
                    t,
                    rps: 5.0,
                    requests: 5,
                    ..Second::default()
                })
                .collect(),
            ..RunView::default()
        };
        plain.duration_s = 5.0;
        let mut run = story();
        run.label = "100 users".into();
        let model = build(vec![run, plain], &ReportOptions::default());
        let html = render(&model, HTML_TEMPLATE, "report.html").unwrap();
        (Html::parse_document(&html), model)
    }

    /// The SVG charts of 6.4 by the word their title ends with.
    fn chart<'a>(page: &'a Html, title_has: &str) -> Vec<ElementRef<'a>> {
        page.select(&sel("section#autoscaling svg"))
            .filter(|svg| {
                svg.select(&sel("title"))
                    .next()
                    .is_some_and(|t| t.text().collect::<String>().contains(title_has))
            })
            .collect()
    }

    /// Its `aria-labelledby` names a title and a description that are there and not empty.
    fn described(svg: ElementRef) {
        assert_eq!(svg.value().attr("role"), Some("img"));
        let ids = svg.value().attr("aria-labelledby").unwrap();
        for id in ids.split(' ') {
            let e = svg
                .select(&sel(&format!("#{id}")))
                .next()
                .unwrap_or_else(|| panic!("no #{id}"));
            assert!(!e.text().collect::<String>().trim().is_empty());
        }
    }

    #[test]
    fn the_anatomy_chart_has_a_bar_per_scale_up_and_a_rect_per_observed_segment() {
        let (page, model) = page();
        let a = &model.autoscaling[1].analysis;
        let svgs = chart(&page, "anatomy of each scale-up");
        assert_eq!(svgs.len(), 1, "one run with cluster data");
        let svg = svgs[0];
        described(svg);
        let bars: Vec<ElementRef> = svg.select(&sel("g.bar")).collect();
        assert_eq!(bars.len(), a.scale_ups.len());
        let observed = segments(&a.scale_ups[0]).iter().flatten().count();
        assert_eq!(observed, 7);
        let rects: Vec<ElementRef> = bars[0].select(&sel("rect.seg")).collect();
        assert_eq!(rects.len(), observed);
        // Laid end to end, in order, from the load rising.
        let x = |e: &ElementRef, a: &str| e.value().attr(a).unwrap().parse::<f64>().unwrap();
        for w in rects.windows(2) {
            assert!((x(&w[0], "x") + x(&w[0], "width") - x(&w[1], "x")).abs() < 0.11);
        }
        let classes: Vec<&str> = rects
            .iter()
            .map(|r| r.value().attr("class").unwrap())
            .collect();
        assert_eq!(classes[0], "seg seg1");
        assert_eq!(classes[6], "seg seg7");
        // The guide's band and the reaction mark.
        assert_eq!(svg.select(&sel("rect.band")).count(), 1);
        // The pod steps end where the reaction's mark is: they add up to it.
        let total = bars[0].select(&sel("path.total")).next().unwrap();
        let d = total.value().attr("d").unwrap();
        let mark: f64 = d[1..d.find(' ').unwrap()].parse().unwrap();
        assert!(
            (x(&rects[5], "x") + x(&rects[5], "width") - mark).abs() < 0.21,
            "{d}"
        );
        assert!(bars[0].text().collect::<String>().contains("reaction 35 s"));
    }

    #[test]
    fn the_capacity_chart_has_a_point_per_steady_sample_and_its_three_lines() {
        let (page, model) = page();
        let c = &model.autoscaling[1].analysis.capacity;
        let svgs = chart(&page, "what one pod serves");
        assert_eq!(svgs.len(), 1);
        described(svgs[0]);
        assert!(c.points.len() >= 8);
        assert_eq!(svgs[0].select(&sel("circle.pt")).count(), c.points.len());
        let legend: Vec<String> = svgs[0]
            .select(&sel("text.legend"))
            .map(|t| t.text().collect())
            .collect();
        assert_eq!(
            legend,
            [
                "fit: 20m + 4.00m per request/s (R² 1.000)",
                "HPA target 60% = 120m",
                "25.0 requests/s per pod at target"
            ]
        );
        // The three lines (legend swatches are short `h18` strokes).
        let line = sel("path.line");
        let lines = svgs[0]
            .select(&line)
            .filter(|p| !p.value().attr("d").unwrap().ends_with("h18"));
        assert_eq!(lines.count(), 3);
    }

    #[test]
    fn a_run_without_cluster_data_says_no_data_and_has_no_chart() {
        let (page, model) = page();
        assert_eq!(
            model.autoscaling[0].analysis.no_data.as_deref(),
            Some("no cluster data")
        );
        let section = page.select(&sel("section#autoscaling")).next().unwrap();
        let text: String = section.text().collect();
        let first = &text[..text.find(&model.autoscaling[1].column).unwrap()];
        assert!(first.contains("No data: no cluster data."), "{first}");
        assert_eq!(
            section.select(&sel("svg")).count(),
            2,
            "the cluster run's two only"
        );
        // A run with cluster data but no scale-up or samples says which chart has no data.
        let mut a = model.autoscaling[1].analysis.clone();
        a.scale_ups.clear();
        a.capacity.points.clear();
        a.capacity.no_fit_text = Some("0 steady samples".into());
        assert_eq!(
            anatomy_chart(0, "x", &a).unwrap_err(),
            "no scale-up in this run"
        );
        assert_eq!(capacity_chart(0, "x", &a).unwrap_err(), "0 steady samples");
    }
}
