//! The load test's live display and its final Locust-style summary.

use std::io::IsTerminal;
use std::time::Duration;

use comfy_table::Cell;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Column, Format, Style, fitted_table, fmt_ms, note, shape, to_json};
use iris_base::units::format_duration;
use iris_pipeline::{LoadResult, Monitor, RunNote};
use iris_record::{EndpointRecord, Percentile, RunRecord, RunStatus, ThresholdUnit};
use iris_stats::Snapshot;

/// How often the plain (non-terminal) display prints its status line.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The live display: an indicatif bar on a terminal, else a status line every 10 s on stderr.
/// It only formats a snapshot once a second; the users never wait for it.
pub struct LiveDisplay {
    bar: Option<ProgressBar>,
    next_plain: Duration,
    /// Lines other sources (e.g. the cluster watcher) want shown under the status.
    pub extra: Vec<String>,
}

impl LiveDisplay {
    pub fn for_stderr() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    pub fn new(tty: bool) -> Self {
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template("{bar:20.cyan/blue} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            next_plain: PLAIN_EVERY,
            extra: Vec::new(),
        }
    }
}

/// The one-line status: users, time, rate, latency, failures.
pub fn status_line(s: &Snapshot) -> String {
    let elapsed = Duration::from_secs(s.elapsed.as_secs());
    let left = s.duration.saturating_sub(elapsed);
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), fmt_ms);
    let phase = if s.stopping {
        "stopping".to_string()
    } else {
        format!("{} left", format_duration(left))
    };
    format!(
        "users {}/{} | {} ({phase}) | {:.1} req/s | p50 {} p95 {} p99 {} | {} requests, {:.2}% failed",
        s.users,
        s.target_users,
        format_duration(elapsed),
        s.rps,
        pct(s.p50_ms),
        pct(s.p95_ms),
        pct(s.p99_ms),
        s.requests,
        s.failure_ratio() * 100.0
    )
}

impl Monitor for LiveDisplay {
    fn update(&mut self, s: &Snapshot) {
        let mut line = status_line(s);
        for extra in &self.extra {
            line.push_str(" | ");
            line.push_str(extra);
        }
        match &self.bar {
            Some(bar) => {
                bar.set_length(u64::from(s.target_users));
                bar.set_position(u64::from(s.users));
                bar.set_message(line);
            }
            None if s.elapsed >= self.next_plain => {
                note(&line);
                while self.next_plain <= s.elapsed {
                    self.next_plain += PLAIN_EVERY;
                }
            }
            None => {}
        }
    }

    fn interrupted(&mut self) {
        let text =
            "stopping: finishing in-flight requests and saving (Ctrl-C again to exit at once)";
        match &self.bar {
            Some(bar) => bar.println(text),
            None => note(text),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn cluster(&mut self, now: &iris_record::cluster::ClusterSecond) {
        self.extra = vec![cluster_line(now)];
    }

    fn note(&mut self, n: &RunNote) {
        let text = render_run_note(n);
        match &self.bar {
            Some(bar) => bar.println(text),
            None => note(&text),
        }
    }
}

/// A note of the run pipeline, as one line.
pub fn render_run_note(n: &RunNote) -> String {
    match n {
        RunNote::ClusterWatched(cluster) => render_cluster_watched(cluster),
        RunNote::ClusterNotWatched { reason } => {
            format!("cluster: not watched ({reason}); --no-cluster skips this check")
        }
        RunNote::TimelineFailed { path, error } => format!(
            "warning: could not append to {}: {error} (the run record below is complete)",
            path.display()
        ),
        RunNote::Arrivals {
            rate,
            max_in_flight,
            queue,
            stages,
        } => format!(
            "open model: {rate} arrivals/s{}, at most {max_in_flight} in flight; an arrival \
             that finds none free {}",
            if *stages {
                " at the start, then the stages"
            } else {
                ""
            },
            if *queue {
                "waits for one (--queue)"
            } else {
                "is dropped and counted"
            }
        ),
        RunNote::InterruptedAgain { timeline } => format!(
            "interrupted again: exiting now; the per-second timeline is in {}",
            timeline.display()
        ),
        RunNote::Workers(n) => super::distributed::render_worker_note(n),
    }
}

/// The summary after the run: JSON is the whole record.
pub fn render_load(result: &LoadResult, format: Format, style: Style) -> String {
    match format {
        Format::Json => to_json(&result.record),
        // lib::run refuses html for every command but report and demo.
        Format::Text | Format::Html => render_load_text(result, style, true),
    }
}

/// The summary as text; `kept` says whether the files it saved will still exist (the demo's
/// temporary records will not, and then no path is printed).
pub fn render_load_text(result: &LoadResult, style: Style, kept: bool) -> String {
    let mut out = render_summary(&result.record, style);
    if kept {
        out.push_str(&format!("\nSaved {}", result.record_path.display()));
        out.push_str(&format!(" (timeline {})", result.jsonl_path.display()));
        if let Some(csv) = &result.csv_paths {
            let names: Vec<String> = csv.iter().map(|p| p.display().to_string()).collect();
            out.push_str(&format!("\nCSV {}", names.join(", ")));
        }
    }
    if let Some(d) = &result.record.distributed {
        out.push_str(&super::distributed::render_workers(d));
    }
    if result.abandoned > 0 {
        out.push_str(&format!(
            "\n{} users were still waiting for a response 5 s after the stop; those requests are not counted",
            result.abandoned
        ));
    }
    out.push('\n');
    out
}

/// The Locust-style tables of a record (also used for saved records).
pub fn render_summary(r: &RunRecord, style: Style) -> String {
    [
        heading(r),
        shape::stages_line(r),
        shape::latency_label(r).to_string(),
        request_table(r, style),
        percentile_table(r, style),
        failure_table(r, style),
        server_timings(r),
        super::phases::phase_table(r, style),
        throughput(r),
        shape::arrivals(r),
        steady_state(r, style),
        slowest(r),
        cluster_summary(r),
        thresholds(r),
    ]
    .concat()
}

fn heading(r: &RunRecord) -> String {
    let p = &r.params;
    let status = match r.status {
        RunStatus::Completed => "",
        RunStatus::Interrupted => " (interrupted)",
    };
    let mut out = match &r.arrivals {
        Some(a) => format!("{}{status}\n", shape::open_heading(r, a)),
        None => format!(
            "Load test of {}: {}{} users of {} (wait {}..{} s), {}, for {:.1} s{status}\n",
            r.target,
            if p.stages.is_empty() { "" } else { "up to " },
            p.users,
            p.user_class,
            p.wait_min_s,
            p.wait_max_s,
            if p.stages.is_empty() {
                format!("spawned at {}/s", p.spawn_rate)
            } else {
                "following the stages".to_string()
            },
            r.duration_s,
        ),
    };
    if let Some(label) = &r.label {
        out.push_str(&format!("Label: {label}\n"));
    }
    out
}

/// Locust's request statistics, whole run; on a narrow terminal without failures/s, min and
/// max rather than with broken words.
fn request_table(r: &RunRecord, style: Style) -> String {
    let entries: Vec<_> = r.endpoints.iter().chain([&r.aggregate]).collect();
    let column = |header: &'static str, cell: &dyn Fn(&EndpointRecord) -> String| -> Column {
        (header, entries.iter().map(|e| cell(e)).collect())
    };
    let columns = vec![
        column("Type", &|e| e.method.clone()),
        column("Name", &|e| e.name.clone()),
        column("# reqs", &|e| e.requests.to_string()),
        column("# fails", &|e| {
            format!("{} ({:.2}%)", e.failures, e.failure_ratio() * 100.0)
        }),
        column("Avg", &|e| fmt_ms(e.avg_ms)),
        column("Min", &|e| fmt_ms(e.min_ms)),
        column("Max", &|e| fmt_ms(e.max_ms)),
        column("Med", &|e| {
            fmt_ms(e.percentile(Percentile::P50).unwrap_or(0.0))
        }),
        column("req/s", &|e| format!("{:.2}", e.rps)),
        column("failures/s", &|e| format!("{:.2}", e.failures_per_s)),
    ];
    let t = fitted_table(style, columns, &["failures/s", "Min", "Max", "Med"]);
    format!("{t}\n")
}

/// Locust's percentile table, whole run; on a narrow terminal the in-between percentiles go
/// first (50%, 95%, 99% and 100% stay), every figure whole.
fn percentile_table(r: &RunRecord, style: Style) -> String {
    let entries: Vec<_> = r.endpoints.iter().chain([&r.aggregate]).collect();
    let mut columns: Vec<Column> = vec![
        ("Type", entries.iter().map(|e| e.method.clone()).collect()),
        ("Name", entries.iter().map(|e| e.name.clone()).collect()),
    ];
    columns.extend(Percentile::ALL.iter().map(|&p| {
        let cells = entries
            .iter()
            .map(|e| {
                e.percentile(p)
                    .map_or_else(|| "N/A".to_string(), |v| format!("{v:.1}"))
            })
            .collect();
        (p.label(), cells)
    }));
    columns.push((
        "# reqs",
        entries.iter().map(|e| e.requests.to_string()).collect(),
    ));
    let optional = ["66%", "75%", "80%", "98%", "99.99%", "90%", "99.9%"];
    let t = fitted_table(style, columns, &optional);
    format!("\nResponse time percentiles (ms)\n{t}\n")
}

fn failure_table(r: &RunRecord, style: Style) -> String {
    if r.failures.is_empty() {
        return String::new();
    }
    let mut t = style.table(&[
        "# occurrences",
        "Method",
        "Name",
        "Error",
        "First seen",
        "Last seen",
    ]);
    for f in &r.failures {
        t.add_row(vec![
            Cell::new(f.count),
            Cell::new(&f.method),
            Cell::new(&f.name),
            Cell::new(f.reason.to_string()),
            Cell::new(f.first_seen.strftime("%H:%M:%S").to_string()),
            Cell::new(f.last_seen.strftime("%H:%M:%S").to_string()),
        ]);
    }
    format!("\nFailures\n{t}\n")
}

fn server_timings(r: &RunRecord) -> String {
    // `/predict`'s own, when the record has them per endpoint (other endpoints may report a
    // total too); else the run's, which older records kept of `/predict` only.
    let predict = r
        .phases
        .as_ref()
        .and_then(|p| p.endpoint("POST", "/predict"));
    let (inf, tot) = match predict {
        Some(p) if p.model.is_some() && p.server.is_some() => (&p.model, &p.server),
        _ => (&r.server_timings.inference, &r.server_timings.total),
    };
    let (Some(inf), Some(tot)) = (inf, tot) else {
        return String::new();
    };
    let mut out = format!(
        "\nServer-reported timings of {} predict responses: inference avg {} (p95 {}), handler total avg {} (p95 {})",
        tot.count,
        fmt_ms(inf.avg_ms),
        fmt_ms(inf.p95_ms),
        fmt_ms(tot.avg_ms),
        fmt_ms(tot.p95_ms)
    );
    if let Some(pr) = r.endpoints.iter().find(|e| e.name == "/predict") {
        out.push_str(&format!(
            "; client-side avg {}, so network and queueing ~ {}",
            fmt_ms(pr.avg_ms),
            fmt_ms((pr.avg_ms - tot.avg_ms).max(0.0))
        ));
    }
    out.push('\n');
    out
}

fn throughput(r: &RunRecord) -> String {
    let (th, p) = (&r.throughput, &r.params);
    if r.arrivals.is_some() {
        // No closed-loop bound: the rate is the schedule's (see Arrivals).
        return format!("\nThroughput: {:.1} req/s over the run\n", th.total_rps);
    }
    format!(
        "\nThroughput: {:.1} req/s over the run{}; theoretical maximum for {} users {:.1} req/s \
         (users / mean(wait {:.3} s + response time {:.3} s))\n",
        th.total_rps,
        th.steady_rps.map_or_else(String::new, |s| format!(
            ", {s:.1} req/s once all users ran"
        )),
        r.users_started,
        th.theoretical_max_rps,
        (p.wait_min_s + p.wait_max_s) / 2.0,
        r.aggregate.avg_ms / 1e3
    )
}

/// Whole run beside steady state (from the last user's start), each labelled; or why there is
/// no steady state.
fn steady_state(r: &RunRecord, style: Style) -> String {
    let Some(s) = &r.steady_state else {
        let why = if !r.params.stages.is_empty() {
            "the users followed stages, so there is no one full user count".to_string()
        } else if r.spawn_complete_s.is_none() {
            format!(
                "the run never reached its {} users, so all figures above include the ramp-up",
                r.params.users
            )
        } else {
            "full users were held under 1 s, or the record predates these figures".to_string()
        };
        return format!("\nSteady state: no figures ({why})\n");
    };
    let a = &r.aggregate;
    let opt = |v: Option<f64>| v.map_or_else(|| "N/A".to_string(), fmt_ms);
    let mut t = style.table(&[
        "Window", "# reqs", "# fails", "req/s", "Avg", "p50", "p95", "p99",
    ]);
    t.add_row(vec![
        format!("Whole run (0 - {:.1} s)", r.duration_s),
        a.requests.to_string(),
        format!("{} ({:.2}%)", a.failures, a.failure_ratio() * 100.0),
        format!("{:.2}", r.throughput.total_rps),
        fmt_ms(a.avg_ms),
        opt(a.percentile(Percentile::P50)),
        opt(a.percentile(Percentile::P95)),
        opt(a.percentile(Percentile::P99)),
    ]);
    t.add_row(vec![
        format!(
            "Steady state (+{:.1} - {:.1} s, all {} users)",
            s.from_s,
            s.from_s + s.duration_s,
            r.users_started
        ),
        s.requests.to_string(),
        format!("{} ({:.2}%)", s.failures, s.failure_ratio() * 100.0),
        format!("{:.2}", s.rps),
        fmt_ms(s.avg_ms),
        opt(s.p50_ms),
        opt(s.p95_ms),
        opt(s.p99_ms),
    ]);
    format!(
        "\nWhole run and steady state (from the last user's start, as Locust's --reset-stats)\n{t}\n"
    )
}

fn slowest(r: &RunRecord) -> String {
    if r.slowest.is_empty() {
        return String::new();
    }
    let mut out = "\nSlowest requests (trace ids for Cloud Trace):\n".to_string();
    for s in &r.slowest {
        let top: Vec<String> = s
            .traces
            .iter()
            .take(3)
            .map(|t| format!("{} {}", t.trace_id, fmt_ms(t.ms)))
            .collect();
        out.push_str(&format!("  {} {}: {}\n", s.method, s.name, top.join(", ")));
    }
    out
}

fn thresholds(r: &RunRecord) -> String {
    let mut out = String::new();
    for t in &r.thresholds {
        let value = |v: f64| match t.kind.unit() {
            ThresholdUnit::Ratio => format!("{:.2}%", v * 100.0),
            ThresholdUnit::Millis => fmt_ms(v),
        };
        out.push_str(&format!(
            "Threshold --{} {}: {} {}\n",
            t.kind.flag(),
            value(t.limit),
            value(t.actual),
            if t.passed { "PASS" } else { "FAIL" }
        ));
    }
    out
}

/// The cluster lines of the summary: max pods, first scale-up, pod start-up, what was missed.
pub fn cluster_summary(r: &RunRecord) -> String {
    let mut out = String::new();
    if let Some(reason) = &r.cluster_not_watched {
        out.push_str(&format!("\nCluster: not watched ({reason})\n"));
    }
    let Some(c) = &r.cluster else {
        return out;
    };
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |s| format!("{s:.0} s"));
    out.push_str(&format!(
        "\nCluster ({} in namespace {}): max pods {}{}; first scale-up {}; {} started, ready after {} (median), {} (max)",
        c.deployment,
        c.namespace,
        c.max_pods,
        c.max_replicas.map_or_else(String::new, |m| format!(" (maxReplicas {m})")),
        c.first_scale_up_s.map_or_else(|| "none".to_string(), |s| format!("+{s:.0} s after load start")),
        iris_base::units::counted(c.pods_started.len() as u64, "pod", "pods"),
        secs(c.pod_startup_median_s),
        secs(c.pod_startup_max_s),
    ));
    if let Some(cpu) = c.peak_cpu_pct {
        out.push_str(&format!("; peak CPU {cpu:.0}% of request"));
    }
    if c.restarts > 0 {
        out.push_str(&format!(
            "; {} ({} OOMKilled)",
            iris_base::units::counted(u64::from(c.restarts), "restart", "restarts"),
            c.oom_kills
        ));
    }
    out.push('\n');
    for e in &c.scaling_events {
        out.push_str(&format!(
            "  +{:.0} s: {} -> {} replicas ({})\n",
            e.t_s, e.from, e.to, e.reason
        ));
    }
    for m in &c.missed {
        out.push_str(&format!("  not observed: {m}\n"));
    }
    out
}

/// The live display's cluster part: `pods 5/6 ready | replicas 4->6 | cpu 85%/60%`.
pub fn cluster_line(c: &iris_record::cluster::ClusterSecond) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    let mut line = format!("pods {}/{} ready", c.ready_pods, c.pods);
    if c.replicas.is_some() || c.desired.is_some() {
        line.push_str(&format!(" | replicas {}", n(c.replicas)));
        if c.desired != c.replicas {
            line.push_str(&format!("->{}", n(c.desired)));
        }
    }
    if c.cpu_target_pct.is_some() {
        let current = c
            .cpu_pct
            .map_or_else(|| "<unknown>".to_string(), |v| format!("{v}%"));
        line.push_str(&format!(" | cpu {current}/{}%", n(c.cpu_target_pct)));
    }
    line
}

/// Said once when `load` starts watching the cluster.
pub fn render_cluster_watched(c: &iris_cluster::Cluster) -> String {
    format!(
        "cluster: watching {} (pods {}, HPA {}) in namespace {} during the run",
        c.names.deployment, c.names.selector, c.names.hpa, c.namespace
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_line_shows_replicas_moving_and_cpu() {
        use iris_record::cluster::ClusterSecond;
        let c = ClusterSecond {
            replicas: Some(4),
            desired: Some(6),
            cpu_pct: Some(85),
            cpu_target_pct: Some(60),
            pods: 6,
            ready_pods: 5,
        };
        assert_eq!(
            cluster_line(&c),
            "pods 5/6 ready | replicas 4->6 | cpu 85%/60%"
        );
        let c = ClusterSecond {
            replicas: Some(2),
            desired: Some(2),
            cpu_pct: None,
            cpu_target_pct: Some(60),
            pods: 2,
            ready_pods: 2,
        };
        assert_eq!(
            cluster_line(&c),
            "pods 2/2 ready | replicas 2 | cpu <unknown>/60%"
        );
    }

    #[test]
    fn the_status_line_says_everything_at_a_glance() {
        let s = Snapshot {
            elapsed: Duration::from_millis(42_300),
            duration: Duration::from_secs(300),
            users: 150,
            target_users: 150,
            requests: 4000,
            failures: 12,
            rps: 118.25,
            p50_ms: Some(12.3),
            p95_ms: Some(40.0),
            p99_ms: None,
            stopping: false,
        };
        assert_eq!(
            status_line(&s),
            "users 150/150 | 42s (4m18s left) | 118.2 req/s | p50 12.3 ms p95 40.0 ms p99 - | 4000 requests, 0.30% failed"
        );
    }

    fn endpoint(
        method: &str,
        name: &str,
        requests: u64,
        failures: u64,
        ms: f64,
    ) -> serde_json::Value {
        let pcts: serde_json::Map<String, serde_json::Value> = Percentile::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| (p.label().to_string(), serde_json::json!(ms + i as f64)))
            .collect();
        serde_json::json!({
            "method": method, "name": name, "requests": requests, "failures": failures,
            "min_ms": ms / 2.0, "avg_ms": ms + 1.0, "max_ms": ms + 10.0, "avg_content_size": 120.0,
            "rps": requests as f64 / 60.0, "failures_per_s": failures as f64 / 60.0,
            "percentiles_ms": pcts, "histogram": ""
        })
    }

    /// A record with fixed numbers (nothing measured), so the snapshot has no timings to redact.
    fn fixture() -> RunRecord {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "tool": "iris-lab test", "label": "baseline", "status": "interrupted",
            "target": "http://127.0.0.1:8000/",
            "params": {"users": 150, "spawn_rate": 10.0, "duration_s": 300.0,
                       "user_class": "IrisPredictionAPIUser", "wait_min_s": 0.5, "wait_max_s": 2.0,
                       "timeout_s": 30.0},
            "started_at": "2026-11-27T20:00:00Z", "ended_at": "2026-11-27T20:01:00Z",
            "duration_s": 60.0, "users_started": 150, "spawn_complete_s": 14.9,
            "endpoints": [endpoint("GET", "/health", 1200, 0, 3.0), endpoint("POST", "/predict", 6000, 12, 5.0)],
            "aggregate": endpoint("", "Aggregated", 7200, 12, 4.0),
            "failures": [{"method": "POST", "name": "/predict", "reason": {"kind": "status", "detail": 500},
                          "count": 12, "first_seen": "2026-11-27T20:00:10Z", "last_seen": "2026-11-27T20:00:50Z"}],
            "server_timings": {
                "inference": {"count": 6000, "avg_ms": 1.2, "p50_ms": 1.1, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 9.0, "histogram": ""},
                "total": {"count": 6000, "avg_ms": 3.0, "p50_ms": 2.9, "p95_ms": 4.0, "p99_ms": 5.0, "max_ms": 12.0, "histogram": ""}},
            "slowest": [{"method": "POST", "name": "/predict",
                         "traces": [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "ms": 15.0}]}],
            "throughput": {"total_rps": 120.0, "steady_rps": 119.5, "theoretical_max_rps": 119.6},
            "steady_state": {"from_s": 14.9, "duration_s": 45.1, "requests": 5400, "failures": 9,
                             "rps": 119.5, "avg_ms": 4.2, "p50_ms": 3.9, "p95_ms": 8.5, "p99_ms": null},
            "thresholds": [{"name": "max-failure-rate", "limit": 0.01, "actual": 0.00167, "passed": true},
                           {"name": "max-p95", "limit": 5.0, "actual": 9.0, "passed": false}],
            "phases": {
                "resolution": {"ms": 0.4, "addresses": 1},
                "endpoints": [],
                "aggregate": {
                    "connect": {"count": 150, "avg_ms": 0.3, "p50_ms": 0.2, "p95_ms": 0.9, "p99_ms": 1.5, "max_ms": 2.0, "histogram": ""},
                    "sending": {"count": 7200, "avg_ms": 0.02, "p50_ms": 0.01, "p95_ms": 0.05, "p99_ms": 0.1, "max_ms": 0.4, "histogram": ""},
                    "waiting": {"count": 7200, "avg_ms": 3.8, "p50_ms": 3.5, "p95_ms": 8.0, "p99_ms": 9.5, "max_ms": 13.0, "histogram": ""},
                    "receiving": {"count": 7200, "avg_ms": 0.05, "p50_ms": 0.04, "p95_ms": 0.1, "p99_ms": 0.2, "max_ms": 1.0, "histogram": ""},
                    "server": {"count": 7200, "avg_ms": 2.5, "p50_ms": 2.4, "p95_ms": 3.9, "p99_ms": 4.9, "max_ms": 12.0, "histogram": ""},
                    "model": {"count": 6000, "avg_ms": 1.2, "p50_ms": 1.1, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 9.0, "histogram": ""}
                }
            },
            "timeline": []
        }))
        .unwrap()
    }

    /// At 80 columns no cell breaks inside a word: the endpoint reads `POST /predict`, and
    /// every percentile shown is whole on one line (four-digit latencies, the widest usual).
    #[test]
    fn the_summary_at_80_columns_keeps_words_and_figures_whole() {
        let mut v = serde_json::to_value(fixture()).unwrap();
        v["endpoints"] = serde_json::json!([
            endpoint("GET", "/health", 1200, 0, 1203.0),
            endpoint("POST", "/predict", 6000, 12, 2345.0)
        ]);
        v["aggregate"] = endpoint("", "Aggregated", 7200, 12, 2301.0);
        let r: RunRecord = serde_json::from_value(v).unwrap();
        for width in [80, 100] {
            let text = render_summary(&r, Style::at_width(width));
            let tables: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with('│') || l.starts_with('┆'))
                .collect();
            assert!(
                tables
                    .iter()
                    .all(|l| l.chars().count() <= usize::from(width)),
                "{text}"
            );
            let predict_rows: Vec<&&str> = tables
                .iter()
                .filter(|l| l.contains("POST /predict"))
                .collect();
            assert_eq!(
                predict_rows.len(),
                2,
                "request and percentile rows:\n{text}"
            );
            let percentiles = predict_rows[1];
            for p in ["2345.0", "2350.0", "2352.0", "2355.0"] {
                assert!(percentiles.contains(p), "{p} not whole at {width}:\n{text}");
            }
            let header = tables.iter().find(|l| l.contains("50%")).unwrap();
            assert!(
                header.contains("100%") && header.contains("# reqs"),
                "{text}"
            );
        }
        // Without a width (a pipe, a file) the tables stay Locust's, Type and Name apart.
        assert!(render_summary(&r, Style::plain()).contains("| POST | /predict"));
    }

    #[test]
    fn the_summary_is_locust_style() {
        insta::assert_snapshot!(render_summary(&fixture(), Style::plain()));
    }

    #[test]
    fn without_full_users_the_summary_says_there_is_no_steady_state() {
        let mut r = fixture();
        r.steady_state = None;
        r.spawn_complete_s = None;
        let text = render_summary(&r, Style::plain());
        assert!(
            text.contains("Steady state: no figures (the run never reached its 150 users"),
            "{text}"
        );
        assert!(!text.contains("Whole run (0"), "{text}");
    }

    #[test]
    fn records_from_a_later_version_with_extensions_still_render() {
        let mut v = serde_json::to_value(fixture()).unwrap();
        v["extensions"] = serde_json::json!({"autoscaler": {"max_replicas": 6}});
        v["some_future_field"] = serde_json::json!(1);
        let r: RunRecord = serde_json::from_value(v).unwrap();
        assert_eq!(r.extensions["autoscaler"]["max_replicas"], 6);
        assert!(render_summary(&r, Style::plain()).contains("Aggregated"));
    }

    #[test]
    fn stages_and_the_open_model_change_the_heading_and_add_their_lines() {
        use iris_record::shape::{ArrivalRecord, StageRecord};
        let mut r = fixture();
        r.params.stages = vec![
            StageRecord {
                duration_s: 60.0,
                target: 150.0,
            },
            StageRecord {
                duration_s: 30.0,
                target: 0.0,
            },
        ];
        r.steady_state = None;
        let text = render_summary(&r, Style::plain());
        assert!(
            text.contains(
                "up to 150 users of IrisPredictionAPIUser (wait 0.5..2 s), following the stages"
            ),
            "{text}"
        );
        assert!(
            text.contains("Stages: 60 s to 150 users, 30 s to 0 users"),
            "{text}"
        );
        assert!(text.contains("the users followed stages"), "{text}");
        assert!(!text.contains("Arrivals"), "{text}");

        let mut service = r.aggregate.clone();
        service.name = iris_record::shape::SERVICE_ROW.into();
        service.avg_ms = 1.5;
        r.arrivals = Some(ArrivalRecord {
            rate: 100.0,
            max_in_flight: 20,
            queue: true,
            intended: 9000,
            sent: 8990,
            dropped: 0,
            intended_rate: 100.0,
            achieved_rate: 99.9,
            dropped_per_s: 0.0,
            service: Some(service),
        });
        let text = render_summary(&r, Style::plain());
        for needle in [
            "open model, 100 arrivals/s then the stages running IrisPredictionAPIUser tasks, at most 20 in flight (queue when full)",
            "Stages: 60 s to 150/s, 30 s to 0/s",
            "Response times below are corrected",
            "Arrivals: 9000 intended (100.0/s), 8990 sent (99.9/s achieved), 0 dropped (0.0/s)",
            "Latency, corrected (from the intended time): avg 5.0 ms",
            "Latency, service (from the send):            avg 1.5 ms",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        assert!(!text.contains("theoretical maximum"), "{text}");
    }
}
