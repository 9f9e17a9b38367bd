//! The Phase 5 analysis of one run's traces, and findings across runs: pure functions over
//! typed spans, so every number is tested without a network.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::stats::Summary;
use super::{Period, Periods, Span, Trace, console_link};

/// How many of the slowest traces the analysis lists, with their span trees.
pub const SLOWEST_LISTED: usize = 5;
/// A child span taking at least this share of its parent's time is a finding.
const CHILD_SHARE_FINDING: f64 = 0.4;
/// A p95 at least this many times another is a finding.
const RISE_FINDING: f64 = 2.0;

/// A request of the run whose `traceparent` asked the server to sample it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientRequest {
    pub trace_id: String,
    pub endpoint: String,
    pub latency_ms: f64,
}

/// What the analysis needs to know of the run besides its traces.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    pub started: Timestamp,
    pub periods: Option<Periods>,
    pub sampled: &'a [ClientRequest],
    pub project: Option<&'a str>,
    /// When the traces were fetched, and whether the fetch stopped at its bound.
    pub fetched_at: Option<Timestamp>,
    pub reached_max: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedSummary {
    pub name: String,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodSpans {
    pub period: Period,
    /// Seconds since the run's start; `to_s` is `None` for "until the end".
    pub from_s: f64,
    pub to_s: Option<f64>,
    pub spans: Vec<NamedSummary>,
}

/// The root spans one pod (or host) served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodSpans {
    pub pod: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// Client latency minus the server's root span, over the sampled requests found in the traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutsideApp {
    pub sampled: usize,
    pub joined: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeSpan {
    pub depth: usize,
    pub name: String,
    /// From the start of the trace's root span.
    pub offset_ms: f64,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowTrace {
    pub trace_id: String,
    /// The client's view, when this trace is one of the run's sampled requests.
    pub endpoint: Option<String>,
    pub client_ms: Option<f64>,
    pub server_ms: f64,
    pub link: Option<String>,
    pub spans: Vec<TreeSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorGroup {
    /// `None` when the run did not scale (one period).
    pub period: Option<Period>,
    pub name: String,
    pub count: usize,
    pub statuses: Vec<u16>,
}

/// Everything the traces say about one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSpans {
    pub fetched_at: Option<Timestamp>,
    pub reached_max: bool,
    pub traces: usize,
    pub spans: usize,
    pub by_name: Vec<NamedSummary>,
    /// Empty when the run did not scale up.
    pub by_period: Vec<PeriodSpans>,
    pub by_pod: Vec<PodSpans>,
    pub outside_app: Option<OutsideApp>,
    pub slowest: Vec<SlowTrace>,
    pub errors: Vec<ErrorGroup>,
    pub findings: Vec<String>,
}

/// Analyses one run's traces.
pub fn analyse(traces: &[Trace], ctx: &RunContext<'_>) -> RunSpans {
    let all: Vec<&Span> = traces.iter().flat_map(|t| &t.spans).collect();
    let by_period = ctx
        .periods
        .map(|p| periods_of(&all, ctx.started, p))
        .unwrap_or_default();
    let by_name = by_name(all.iter().copied());
    let mut findings = child_share_findings(traces);
    findings.extend(period_findings(&by_period));
    RunSpans {
        fetched_at: ctx.fetched_at,
        reached_max: ctx.reached_max,
        traces: traces.len(),
        spans: all.len(),
        by_name,
        by_pod: by_pod(traces),
        outside_app: outside_app(traces, ctx.sampled),
        slowest: slowest(traces, ctx),
        errors: errors(&all, ctx),
        by_period,
        findings,
    }
}

fn by_name<'a>(spans: impl Iterator<Item = &'a Span>) -> Vec<NamedSummary> {
    let mut groups: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in spans {
        groups.entry(&s.name).or_default().push(s.duration_ms());
    }
    groups
        .into_iter()
        .filter_map(|(name, d)| {
            Summary::of(d).map(|summary| NamedSummary {
                name: name.to_string(),
                summary,
            })
        })
        .collect()
}

fn seconds_since(started: Timestamp, t: Timestamp) -> f64 {
    t.duration_since(started).as_secs_f64()
}

fn periods_of(all: &[&Span], started: Timestamp, periods: Periods) -> Vec<PeriodSpans> {
    Period::ALL
        .iter()
        .filter_map(|&period| {
            let (from_s, to_s) = match period {
                Period::BeforeScaling => (0.0, Some(periods.scale_up_s)),
                Period::Scaling => (periods.scale_up_s, periods.settled_s),
                Period::AfterScaling => (periods.settled_s?, None),
            };
            let spans = by_name(
                all.iter()
                    .copied()
                    .filter(|s| periods.of(seconds_since(started, s.start)) == period),
            );
            Some(PeriodSpans {
                period,
                from_s,
                to_s,
                spans,
            })
        })
        .collect()
}

fn by_pod(traces: &[Trace]) -> Vec<PodSpans> {
    let mut groups: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for t in traces {
        let (Some(root), Some(pod)) = (t.root(), t.spans.iter().find_map(Span::pod)) else {
            continue;
        };
        groups.entry(pod).or_default().push(root.duration_ms());
    }
    groups
        .into_iter()
        .filter_map(|(pod, d)| {
            Summary::of(d).map(|summary| PodSpans {
                pod: pod.to_string(),
                summary,
            })
        })
        .collect()
}

fn roots(traces: &[Trace]) -> HashMap<&str, &Span> {
    traces
        .iter()
        .filter_map(|t| t.root().map(|r| (t.trace_id.as_str(), r)))
        .collect()
}

fn outside_app(traces: &[Trace], sampled: &[ClientRequest]) -> Option<OutsideApp> {
    let roots = roots(traces);
    let gaps: Vec<f64> = sampled
        .iter()
        .filter_map(|r| {
            roots
                .get(r.trace_id.as_str())
                .map(|root| r.latency_ms - root.duration_ms())
        })
        .collect();
    let joined = gaps.len();
    Summary::of(gaps).map(|s| OutsideApp {
        sampled: sampled.len(),
        joined,
        p50_ms: s.p50_ms,
        p95_ms: s.p95_ms,
    })
}

/// The slowest sampled requests found in the traces by client latency; without any, the slowest
/// traces by their root span.
fn slowest(traces: &[Trace], ctx: &RunContext<'_>) -> Vec<SlowTrace> {
    let clients: HashMap<&str, &ClientRequest> = ctx
        .sampled
        .iter()
        .map(|r| (r.trace_id.as_str(), r))
        .collect();
    let mut rows: Vec<SlowTrace> = traces
        .iter()
        .filter_map(|t| {
            let root = t.root()?;
            let client = clients.get(t.trace_id.as_str());
            Some(SlowTrace {
                trace_id: t.trace_id.clone(),
                endpoint: client.map(|c| c.endpoint.clone()),
                client_ms: client.map(|c| c.latency_ms),
                server_ms: root.duration_ms(),
                link: ctx.project.map(|p| console_link(p, &t.trace_id)),
                spans: tree(t, root),
            })
        })
        .collect();
    if rows.iter().any(|r| r.client_ms.is_some()) {
        rows.retain(|r| r.client_ms.is_some());
    }
    rows.sort_by(|a, b| {
        let key = |r: &SlowTrace| r.client_ms.unwrap_or(r.server_ms);
        key(b).total_cmp(&key(a))
    });
    rows.truncate(SLOWEST_LISTED);
    rows
}

/// The span tree under `root`, depth first, children by start time.
fn tree(trace: &Trace, root: &Span) -> Vec<TreeSpan> {
    let mut out = Vec::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((span, depth)) = stack.pop() {
        out.push(TreeSpan {
            depth,
            name: span.name.clone(),
            offset_ms: span.start.duration_since(root.start).as_secs_f64() * 1000.0,
            duration_ms: span.duration_ms(),
        });
        let mut children: Vec<&Span> = trace
            .spans
            .iter()
            .filter(|c| c.parent_id == Some(span.span_id) && c.span_id != span.span_id)
            .collect();
        children.sort_by_key(|c| std::cmp::Reverse(c.start));
        // A malformed trace could loop; a tree never has more nodes than spans.
        if out.len() + stack.len() < trace.spans.len() {
            stack.extend(children.into_iter().map(|c| (c, depth + 1)));
        }
    }
    out
}

fn errors(all: &[&Span], ctx: &RunContext<'_>) -> Vec<ErrorGroup> {
    let mut groups: BTreeMap<(Option<Period>, &str), ErrorGroup> = BTreeMap::new();
    for s in all.iter().filter(|s| s.is_error()) {
        let period = ctx
            .periods
            .map(|p| p.of(seconds_since(ctx.started, s.start)));
        let group = groups
            .entry((period, &s.name))
            .or_insert_with(|| ErrorGroup {
                period,
                name: s.name.clone(),
                count: 0,
                statuses: Vec::new(),
            });
        group.count += 1;
        if let Some(code) = s.status_code()
            && !group.statuses.contains(&code)
        {
            group.statuses.push(code);
            group.statuses.sort_unstable();
        }
    }
    groups.into_values().collect()
}

/// "data_preparation is 52% of prediction_request's time": the median share of a child span
/// name in its parent's duration, when it is large.
fn child_share_findings(traces: &[Trace]) -> Vec<String> {
    let mut shares: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for t in traces {
        for child in &t.spans {
            let parent = child
                .parent_id
                .and_then(|p| t.spans.iter().find(|s| s.span_id == p));
            if let Some(parent) = parent
                && parent.duration_ms() > 0.0
            {
                shares
                    .entry((&parent.name, &child.name))
                    .or_default()
                    .push(child.duration_ms() / parent.duration_ms());
            }
        }
    }
    shares
        .into_iter()
        .filter_map(|((parent, child), s)| {
            let median = Summary::of(s)?.p50_ms;
            (median >= CHILD_SHARE_FINDING).then(|| {
                format!(
                    "{child} is {:.0}% of {parent}'s time (median over traces)",
                    median * 100.0
                )
            })
        })
        .collect()
}

/// A span name whose p95 rose at least [`RISE_FINDING`] times while scaling or after.
fn period_findings(periods: &[PeriodSpans]) -> Vec<String> {
    let Some(before) = periods.iter().find(|p| p.period == Period::BeforeScaling) else {
        return Vec::new();
    };
    periods
        .iter()
        .filter(|p| p.period != Period::BeforeScaling)
        .flat_map(|p| {
            p.spans.iter().filter_map(move |s| {
                let base = before.spans.iter().find(|b| b.name == s.name)?;
                rise(base.summary.p95_ms, s.summary.p95_ms).map(|x| {
                    format!(
                        "{} p95 was {x:.1}x {} what it was before ({:.1} ms -> {:.1} ms)",
                        s.name,
                        p.period.title(),
                        base.summary.p95_ms,
                        s.summary.p95_ms
                    )
                })
            })
        })
        .collect()
}

fn rise(from: f64, to: f64) -> Option<f64> {
    (from > 0.0 && to / from >= RISE_FINDING).then_some(to / from)
}

/// Findings between runs (ordered by users): span names whose p95 rose at least
/// [`RISE_FINDING`] times from the first run to a later one.
pub fn compare(runs: &[(&str, &RunSpans)]) -> Vec<String> {
    let Some(((first_label, first), rest)) = runs.split_first() else {
        return Vec::new();
    };
    rest.iter()
        .flat_map(|(label, run)| {
            run.by_name.iter().filter_map(move |s| {
                let base = first.by_name.iter().find(|b| b.name == s.name)?;
                rise(base.summary.p95_ms, s.summary.p95_ms).map(|x| {
                    format!(
                        "{} p95 rose {x:.1}x from {first_label} to {label} ({:.1} ms -> {:.1} ms)",
                        s.name, base.summary.p95_ms, s.summary.p95_ms
                    )
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::span;
    use super::*;

    const T1: &str = "0af7651916cd43dd8448eb211c80319c";
    const T2: &str = "1af7651916cd43dd8448eb211c80319c";

    fn t0() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// A prediction at `start_ms` after t0: handler `total` ms, data_preparation `prep`,
    /// model_inference `infer`.
    fn prediction(id: &str, start_ms: i64, total: i64, prep: i64, infer: i64) -> Trace {
        Trace {
            trace_id: id.into(),
            spans: vec![
                span(10, Some(99), "prediction_request", start_ms, total),
                span(11, Some(10), "data_preparation", start_ms + 1, prep),
                span(12, Some(10), "model_inference", start_ms + 1 + prep, infer),
            ],
        }
    }

    fn ctx(sampled: &[ClientRequest]) -> RunContext<'_> {
        RunContext {
            started: t0(),
            periods: Periods::from_scaling(Some(10.0), &[20.0]),
            sampled,
            project: Some("proj"),
            fetched_at: None,
            reached_max: false,
        }
    }

    #[test]
    fn spans_are_summarised_per_name_and_period() {
        let traces = vec![
            prediction(T1, 1_000, 10, 2, 4),
            prediction(T2, 15_000, 40, 2, 30),
        ];
        let run = analyse(&traces, &ctx(&[]));
        assert_eq!(run.traces, 2);
        assert_eq!(run.spans, 6);
        let infer = run
            .by_name
            .iter()
            .find(|s| s.name == "model_inference")
            .unwrap();
        assert_eq!((infer.summary.count, infer.summary.max_ms), (2, 30.0));
        let periods: Vec<(Period, usize)> = run
            .by_period
            .iter()
            .map(|p| (p.period, p.spans.iter().map(|s| s.summary.count).sum()))
            .collect();
        assert_eq!(
            periods,
            [
                (Period::BeforeScaling, 3),
                (Period::Scaling, 3),
                (Period::AfterScaling, 0)
            ]
        );
        assert!(
            run.findings
                .iter()
                .any(|f| f.starts_with("model_inference p95 was 7.5x while scaling")),
            "{:?}",
            run.findings
        );
    }

    #[test]
    fn client_minus_server_joins_sampled_requests_by_trace_id() {
        let traces = vec![
            prediction(T1, 1_000, 10, 2, 4),
            prediction(T2, 2_000, 20, 2, 4),
        ];
        let sampled = [
            ClientRequest {
                trace_id: T1.into(),
                endpoint: "POST /predict".into(),
                latency_ms: 13.0,
            },
            ClientRequest {
                trace_id: "ffffffffffffffffffffffffffffffff".into(),
                endpoint: "POST /predict".into(),
                latency_ms: 99.0,
            },
        ];
        let run = analyse(&traces, &ctx(&sampled));
        let out = run.outside_app.unwrap();
        assert_eq!((out.sampled, out.joined, out.p50_ms), (2, 1, 3.0));
        // Only joined traces are listed when any joined, with the client's view and the tree.
        assert_eq!(run.slowest.len(), 1);
        let slow = &run.slowest[0];
        assert_eq!(slow.client_ms, Some(13.0));
        assert_eq!(
            slow.link.as_deref(),
            Some(
                "https://console.cloud.google.com/traces/list?project=proj&tid=0af7651916cd43dd8448eb211c80319c"
            )
        );
        let tree: Vec<(usize, &str, f64)> = slow
            .spans
            .iter()
            .map(|s| (s.depth, s.name.as_str(), s.offset_ms))
            .collect();
        assert_eq!(
            tree,
            [
                (0, "prediction_request", 0.0),
                (1, "data_preparation", 1.0),
                (1, "model_inference", 3.0)
            ]
        );
    }

    #[test]
    fn errors_are_grouped_by_period_in_both_spellings() {
        let mut a = prediction(T1, 1_000, 10, 2, 4);
        a.spans[0]
            .labels
            .insert("/http/status_code".into(), "500".into());
        let mut b = prediction(T2, 12_000, 10, 2, 4);
        b.spans[0]
            .labels
            .insert("http.response.status_code".into(), "503".into());
        let mut c = prediction(T2, 13_000, 10, 2, 4);
        c.spans[0]
            .labels
            .insert("http.response.status_code".into(), "503".into());
        let run = analyse(&[a, b, c], &ctx(&[]));
        let groups: Vec<(Option<Period>, usize, Vec<u16>)> = run
            .errors
            .iter()
            .map(|e| (e.period, e.count, e.statuses.clone()))
            .collect();
        assert_eq!(
            groups,
            [
                (Some(Period::BeforeScaling), 1, vec![500]),
                (Some(Period::Scaling), 2, vec![503])
            ]
        );
    }

    #[test]
    fn pods_are_told_apart_by_their_labels() {
        let mut a = prediction(T1, 1_000, 10, 2, 4);
        a.spans[0]
            .labels
            .insert("k8s.pod.name".into(), "api-a".into());
        let mut b = prediction(T2, 2_000, 90, 2, 4);
        b.spans[1].labels.insert("host.name".into(), "api-b".into());
        let run = analyse(&[a, b], &ctx(&[]));
        let pods: Vec<(&str, f64)> = run
            .by_pod
            .iter()
            .map(|p| (p.pod.as_str(), p.summary.p95_ms))
            .collect();
        assert_eq!(pods, [("api-a", 10.0), ("api-b", 90.0)]);
    }

    #[test]
    fn bottlenecks_are_found_within_and_between_runs() {
        let slow_prep = analyse(&[prediction(T1, 1_000, 10, 6, 2)], &ctx(&[]));
        assert_eq!(
            slow_prep.findings,
            ["data_preparation is 60% of prediction_request's time (median over traces)"]
        );
        let fast = analyse(&[prediction(T1, 1_000, 10, 2, 2)], &ctx(&[]));
        let slow = analyse(&[prediction(T1, 1_000, 10, 2, 6)], &ctx(&[]));
        assert_eq!(
            compare(&[("10 users", &fast), ("150 users", &slow)]),
            ["model_inference p95 rose 3.0x from 10 users to 150 users (2.0 ms -> 6.0 ms)"]
        );
        assert!(compare(&[("10 users", &slow), ("150 users", &fast)]).is_empty());
    }
}
