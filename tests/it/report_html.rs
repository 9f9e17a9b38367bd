//! `iris-lab report --format html` on fixture run records: the page parses as HTML5, needs
//! nothing outside itself, and its tables carry exactly the figures of the markdown report.

use std::path::Path;

use predicates::prelude::*;
use scraper::{ElementRef, Html, Selector};

use crate::report::{fixture, iris_lab, redact, report, runs_dir};

/// The fixture sets of the markdown snapshots, with the flags they were rendered with.
fn fixture_sets() -> Vec<(tempfile::TempDir, Vec<&'static str>)> {
    vec![
        (runs_dir(&[("150u.json", None)]), vec![]),
        (
            runs_dir(&[("150u.json", None), ("300u.json", None)]),
            vec![],
        ),
        (
            runs_dir(&[("150u.json", None), ("300u-cluster.json", None)]),
            vec!["--gcp-project", "my-project"],
        ),
        (
            runs_dir(&[("150u.json", None), ("300u-phases.json", None)]),
            vec![],
        ),
        (
            runs_dir(&[
                ("300u.json", Some(500)),
                ("150u.json", Some(50)),
                ("150u.json", None),
                ("300u.json", None),
                ("300u-cluster.json", Some(400)),
            ]),
            vec![],
        ),
    ]
}

fn html(dir: &Path, flags: &[&str]) -> String {
    let mut args = vec!["--format", "html"];
    args.extend_from_slice(flags);
    report(dir, &args)
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_string()
}

/// Every row of every table, as the text of its cells.
fn html_rows(page: &Html) -> Vec<Vec<String>> {
    let tr = Selector::parse("table tr").unwrap();
    let cell = Selector::parse("th, td").unwrap();
    page.select(&tr)
        .map(|row| row.select(&cell).map(text).collect())
        .collect()
}

/// Every row of every markdown table (separator lines left out), as the text of its cells:
/// `code` marks dropped, links as their text.
fn markdown_rows(markdown: &str) -> Vec<Vec<String>> {
    let link = regex_lite_link;
    markdown
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| link(c.trim()).replace('`', ""))
                .collect()
        })
        .collect()
}

/// `[text](address)` -> `text`.
fn regex_lite_link(cell: &str) -> String {
    match (cell.strip_prefix('['), cell.find("](")) {
        (Some(_), Some(end)) if cell.ends_with(')') => cell[1..end].to_string(),
        _ => cell.to_string(),
    }
}

#[test]
fn the_page_parses_as_html5_and_needs_nothing_outside_itself() {
    // The parser does report what is not HTML5.
    assert!(
        !Html::parse_document("<!DOCTYPE html><p></div>")
            .errors
            .is_empty()
    );
    for (dir, flags) in fixture_sets() {
        let source = html(dir.path(), &flags);
        let page = Html::parse_document(&source);
        assert!(page.errors.is_empty(), "parse errors: {:?}", page.errors);
        assert!(source.starts_with("<!DOCTYPE html>\n"));
        let any = Selector::parse("*").unwrap();
        for element in page.select(&any) {
            let name = element.value().name();
            assert!(
                !["script", "link", "iframe", "img", "object", "embed", "base"].contains(&name),
                "<{name}> in the page"
            );
            for (attr, value) in element.value().attrs() {
                let local = attr.rsplit(':').next().unwrap_or(attr);
                if ["src", "srcset", "href", "action", "poster", "data"].contains(&local) {
                    assert!(
                        local == "href" && value.starts_with('#'),
                        "<{name} {attr}=\"{value}\"> refers outside the page"
                    );
                }
            }
        }
        let style = Selector::parse("style").unwrap();
        for css in page.select(&style).map(text) {
            assert!(!css.contains("url(") && !css.contains("@import"), "{css}");
        }
        // One timeline per run and the latency distribution, each with a title.
        let runs = page
            .select(&Selector::parse("#runs tbody tr").unwrap())
            .count();
        let timelines = Selector::parse("#timelines svg, #distribution svg").unwrap();
        let charts: Vec<ElementRef> = page.select(&timelines).collect();
        assert_eq!(charts.len(), runs + 1);
        let charts: Vec<ElementRef> = page.select(&Selector::parse("svg").unwrap()).collect();
        let title = Selector::parse("title").unwrap();
        assert!(charts.iter().all(|c| c.select(&title).next().is_some()));
    }
}

/// The page is HTML5 and its tables hold exactly the markdown report's rows, in order.
pub(crate) fn assert_same_tables(markdown: &str, html: &str) {
    let page = Html::parse_document(html);
    assert!(page.errors.is_empty(), "parse errors: {:?}", page.errors);
    let md = markdown_rows(markdown);
    assert!(md.len() > 20, "{markdown}");
    assert_eq!(html_rows(&page), md);
}

#[test]
fn the_tables_carry_the_markdown_reports_figures() {
    for (dir, flags) in fixture_sets() {
        assert_same_tables(&report(dir.path(), &flags), &html(dir.path(), &flags));
    }
}

#[test]
fn the_charts_show_what_the_cluster_did() {
    let dir = runs_dir(&[("150u.json", None), ("300u-cluster.json", None)]);
    let page = Html::parse_document(&html(dir.path(), &[]));
    let svg = Selector::parse("#timelines svg, #distribution svg").unwrap();
    let charts: Vec<String> = page.select(&svg).map(|s| s.html()).collect();
    assert_eq!(charts.len(), 3);
    assert!(
        !charts[0].contains("HPA replicas"),
        "no cluster, no replicas"
    );
    for expected in [
        "Throughput",
        "Latency (last 10 s)",
        "Users",
        "HPA replicas and ready pods",
        "Pod CPU against the HPA target",
        "target 60%",
        "scaled 2 → 6",
        "4 pods ready",
        "seconds since the start of the run",
    ] {
        assert!(charts[1].contains(expected), "{expected}");
    }
    for expected in ["150 Users", "300 Users", "99.9%", "latency, ms (log scale)"] {
        assert!(charts[2].contains(expected), "{expected}");
    }
}

#[test]
fn out_writes_the_same_page_to_a_file() {
    let dir = runs_dir(&[("150u.json", None), ("300u-cluster.json", None)]);
    let out = dir.path().join("results.html");
    let assert = iris_lab(dir.path())
        .args(["report", "--format", "html", "--out", out.to_str().unwrap()])
        .assert()
        .success();
    assert!(assert.get_output().stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        html(dir.path(), &[])
    );
    // Markdown goes to --out too.
    let md = dir.path().join("results.md");
    iris_lab(dir.path())
        .args(["report", "--out", md.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&md).unwrap(),
        report(dir.path(), &[])
    );
}

#[test]
fn html_is_refused_outside_report_and_bad_out_paths_are_named() {
    let dir = tempfile::tempdir().unwrap();
    iris_lab(dir.path())
        .args(["smoke", "--format", "html", "--host", "http://127.0.0.1:9"])
        .assert()
        .code(2)
        .stderr(
            predicates::str::is_match(
                "^error: format html .* is for `report` and `demo` only: use text or json for this command\n$",
            )
            .unwrap(),
        );
    let missing = dir.path().join("no/such/dir/r.html");
    iris_lab(dir.path())
        .args([
            "report",
            "--format",
            "html",
            fixture("150u.json").to_str().unwrap(),
            "--out",
            missing.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(
            predicates::str::contains("could not write").and(predicates::str::contains("r.html")),
        );
}

#[test]
fn the_page_snapshot() {
    let dir = runs_dir(&[("150u.json", None), ("300u-cluster.json", None)]);
    insta::assert_snapshot!(
        "two_runs_with_cluster_html",
        redact(&html(dir.path(), &["--gcp-project", "my-project"]))
    );
}

#[test]
fn values_are_escaped_and_an_html_template_of_ones_own_sees_the_charts() {
    let dir = runs_dir(&[("150u.json", None)]);
    let path = dir.path().join("iris-lab-runs/run0.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["label"] = "<script>alert(1)</script> & co".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let source = html(dir.path(), &[]);
    let page = Html::parse_document(&source);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert_eq!(page.select(&Selector::parse("script").unwrap()).count(), 0);
    assert!(source.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co"));

    let template = dir.path().join("mine.html");
    std::fs::write(
        &template,
        "<p>{{ report.runs[0].label }}</p>{{ charts.latency | safe }}",
    )
    .unwrap();
    let mine = html(dir.path(), &["--template", template.to_str().unwrap()]);
    assert!(mine.starts_with(
        "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co</p><svg class=\"chart\""
    ));
    assert!(mine.ends_with("</svg>"));
}

/// Section 6.4's charts on the fixtures: the cluster run has its anatomy chart with one bar per
/// scale-up of the JSON report, and says why it has no capacity chart; the run without cluster
/// data says "no data" and has no chart.
#[test]
fn autoscaling_charts_follow_the_analysis() {
    let dir = runs_dir(&[("150u.json", None), ("300u-cluster.json", None)]);
    let json: serde_json::Value =
        serde_json::from_str(&report(dir.path(), &["--format", "json"])).unwrap();
    let cluster = &json["autoscaling"][1];
    let scale_ups = cluster["scale_ups"].as_array().unwrap().len();
    assert!(scale_ups > 0);
    let page = Html::parse_document(&html(dir.path(), &[]));
    let section = page
        .select(&Selector::parse("section#autoscaling").unwrap())
        .next()
        .unwrap();
    let svgs: Vec<ElementRef> = section.select(&Selector::parse("svg").unwrap()).collect();
    assert_eq!(
        svgs.len(),
        1,
        "the anatomy chart only: no steady sample for a scatter"
    );
    let bars = Selector::parse("g.bar").unwrap();
    assert_eq!(svgs[0].select(&bars).count(), scale_ups);
    let text = text(section);
    assert!(text.contains("No data: no cluster data."), "{text}");
    assert!(
        text.contains("Capacity: no data: 0 steady samples"),
        "{text}"
    );
}
