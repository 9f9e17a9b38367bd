//! Phase 5 from the client's side: where one run's requests spent their time, at p50 and p95
//! (connect, TLS, waiting, receiving, the server's total, the model, and what is left), from
//! the record's phases.

use serde::{Deserialize, Serialize};

use super::table::Table;
use iris_record::{Distribution, PhaseDistributions, RunRecord};

/// A duration at the median and the 95th percentile, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl Pair {
    fn of(d: Option<&Distribution>) -> Option<Self> {
        d.map(|d| Self {
            p50_ms: d.p50_ms,
            p95_ms: d.p95_ms,
        })
    }
}

/// Where a run's requests spent their time, each phase absent when no request went through
/// it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseBreakdown {
    /// Whose phases: "POST /predict" when the run had it, else "all requests".
    pub of: String,
    pub end_to_end: Option<Pair>,
    /// Of requests that opened their connection.
    pub connect: Option<Pair>,
    pub tls: Option<Pair>,
    pub new_connections: u64,
    pub sending: Option<Pair>,
    pub waiting: Option<Pair>,
    pub receiving: Option<Pair>,
    pub server: Option<Pair>,
    pub model: Option<Pair>,
    /// Waiting minus the server's total: network, load balancer, queueing outside the app.
    pub left: Option<Pair>,
    /// Name resolution before the run.
    pub resolve_ms: Option<f64>,
}

/// The breakdown of `/predict` (whose server reports the model's time), else of all requests;
/// `None` for records without phases.
pub fn phase_breakdown(record: &RunRecord) -> Option<PhaseBreakdown> {
    let phases = record.phases.as_ref()?;
    let predict = record
        .endpoints
        .iter()
        .find(|e| e.method == "POST" && e.name == "/predict" && e.requests > 0);
    let (of, p, e2e): (&str, &PhaseDistributions, _) =
        match predict.and_then(|e| Some((e, phases.endpoint("POST", "/predict")?))) {
            Some((e, p)) => ("POST /predict", p, e),
            None => ("all requests", &phases.aggregate, &record.aggregate),
        };
    let pair = |d: &Option<Distribution>| Pair::of(d.as_ref());
    let (waiting, server) = (pair(&p.waiting), pair(&p.server));
    let left = waiting.zip(server).map(|(w, s)| Pair {
        p50_ms: (w.p50_ms - s.p50_ms).max(0.0),
        p95_ms: (w.p95_ms - s.p95_ms).max(0.0),
    });
    let end_to_end = (e2e.requests > 0).then(|| Pair {
        p50_ms: e2e
            .percentile(iris_record::Percentile::P50)
            .unwrap_or_default(),
        p95_ms: e2e
            .percentile(iris_record::Percentile::P95)
            .unwrap_or_default(),
    });
    Some(PhaseBreakdown {
        of: of.to_string(),
        end_to_end,
        connect: pair(&p.connect),
        tls: pair(&p.tls),
        new_connections: p.connect.as_ref().map_or(0, |d| d.count),
        sending: pair(&p.sending),
        waiting,
        receiving: pair(&p.receiving),
        server,
        model: pair(&p.model),
        left,
        resolve_ms: phases.resolution.as_ref().map(|r| r.ms),
    })
}

/// Milliseconds for the tables: microseconds below 0.1 ms (a model's time), else 2 decimals.
pub fn ms(v: f64) -> String {
    if v > 0.0 && v < 0.1 {
        format!("{v:.3} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// The breakdown as a table: a row per phase the run went through.
pub fn phase_table(b: &PhaseBreakdown) -> Table {
    let headers: Vec<String> = ["Phase", "p50", "p95"].map(String::from).to_vec();
    let connections = format!(
        "Connect (TCP, {} new connection{})",
        b.new_connections,
        if b.new_connections == 1 { "" } else { "s" }
    );
    let rows: Vec<Vec<String>> = [
        ("End to end (client)", b.end_to_end),
        (connections.as_str(), b.connect),
        ("TLS handshake", b.tls),
        ("Sending", b.sending),
        ("Waiting (to first byte)", b.waiting),
        ("Receiving", b.receiving),
        ("Server total", b.server),
        ("Model", b.model),
        (
            "Left: network, load balancer, queueing outside the app (waiting - server total)",
            b.left,
        ),
    ]
    .into_iter()
    .filter_map(|(name, pair)| pair.map(|p| vec![name.to_string(), ms(p.p50_ms), ms(p.p95_ms)]))
    .collect();
    Table::new(headers, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(p50: f64, p95: f64) -> serde_json::Value {
        serde_json::json!({"count": 10, "avg_ms": p50, "p50_ms": p50, "p95_ms": p95, "p99_ms": p95,
                           "max_ms": p95, "histogram": ""})
    }

    #[test]
    fn predict_is_broken_down_with_what_is_left_outside_the_app() {
        let phases: iris_record::PhasesRecord = serde_json::from_value(serde_json::json!({
            "resolution": {"ms": 0.5, "addresses": 1},
            "endpoints": [{"method": "POST", "name": "/predict", "connect": dist(0.2, 1.0),
                           "waiting": dist(5.0, 20.0), "receiving": dist(0.1, 0.3),
                           "server": dist(3.0, 8.0), "model": dist(1.0, 2.0)}],
            "aggregate": {"waiting": dist(4.0, 19.0)}
        }))
        .unwrap();
        let p = PhaseBreakdown::default();
        assert_eq!(phase_table(&p).rows.len(), 0);
        let b = phase_breakdown_of(&phases);
        assert_eq!(b.of, "POST /predict");
        assert_eq!(
            b.left,
            Some(Pair {
                p50_ms: 2.0,
                p95_ms: 12.0
            })
        );
        assert_eq!(b.new_connections, 10);
        let t = phase_table(&b);
        assert_eq!(t.rows[1][0], "Connect (TCP, 10 new connections)");
        assert!(t.rows.iter().all(|r| r[0] != "TLS handshake"));
        assert_eq!(t.rows.last().unwrap()[1], "2.00 ms");
    }

    /// [`phase_breakdown`] of a record that has a `/predict` endpoint and these phases.
    fn phase_breakdown_of(phases: &iris_record::PhasesRecord) -> PhaseBreakdown {
        let endpoint = serde_json::json!({"method": "POST", "name": "/predict", "requests": 10,
            "failures": 0, "min_ms": 1.0, "avg_ms": 6.0, "max_ms": 30.0, "avg_content_size": 1.0,
            "rps": 1.0, "failures_per_s": 0.0, "percentiles_ms": {"50%": 6.0, "95%": 25.0},
            "histogram": ""});
        let record: RunRecord = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "tool": "t", "status": "completed", "target": "http://h",
            "params": {"users": 1, "spawn_rate": 1.0, "duration_s": 1.0, "user_class": "c",
                       "wait_min_s": 0.0, "wait_max_s": 0.0, "timeout_s": 1.0},
            "started_at": "2026-11-27T20:00:00Z", "ended_at": "2026-11-27T20:01:00Z",
            "duration_s": 1.0, "users_started": 1, "endpoints": [endpoint.clone()],
            "aggregate": endpoint, "failures": [], "server_timings": {}, "slowest": [],
            "throughput": {"total_rps": 1.0, "steady_rps": null, "theoretical_max_rps": 1.0},
            "timeline": [], "phases": phases
        }))
        .unwrap();
        let b = phase_breakdown(&record).unwrap();
        assert_eq!(
            b.end_to_end,
            Some(Pair {
                p50_ms: 6.0,
                p95_ms: 25.0
            })
        );
        b
    }
}
