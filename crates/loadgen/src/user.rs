//! The one user loop: a virtual user with its own keep-alive connection, running its
//! class's on-start tasks, then weighted random tasks with think time, until told to stop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::http::{Conn, ConnectionPolicy, Target};
use super::{Check, Event, Phases, Sample, ServerTiming, Task, UserClass};
use iris_api::Failure;
use iris_api::checks::{check_fields, check_health_status, check_predict_borrowed};

/// What every user (and every arrival) of a run shares.
pub(super) struct Shared {
    pub class: UserClass,
    pub target: Arc<Target>,
    pub events: UnboundedSender<Event>,
    pub timeout: Duration,
    pub policy: ConnectionPolicy,
    pub trace_sample: f64,
}

/// What runs requests: a keep-alive connection and a random-number generator. Each user of the
/// closed model owns one; the open model keeps a pool of them, one per request in flight. Both
/// run tasks through [`TaskRunner::execute`].
pub(super) struct TaskRunner {
    id: usize,
    conn: Option<Conn>,
    pub rng: SmallRng,
}

impl TaskRunner {
    pub fn new(id: usize) -> Self {
        Self {
            id,
            conn: None,
            rng: SmallRng::from_rng(&mut rand::rng()),
        }
    }

    /// Runs one task and reports it. Latency covers connecting (when needed) and the whole
    /// body, as Locust measures it; `intended` is when the open model meant the request to
    /// start (the sample's `lag` is how late it was sent).
    pub async fn execute(&mut self, shared: &Shared, task: &Task, intended: Option<Instant>) {
        let (id, conn, rng) = (self.id, &mut self.conn, &mut self.rng);
        let trace_id = rng.random::<u128>().max(1);
        let span_id = rng.random::<u64>().max(1);
        let body = task.body.render(rng);
        let sampled = chosen(rng, shared.trace_sample);
        let trace = traceparent(trace_id, span_id, sampled);
        let started = Instant::now();
        let lag = intended.map(|t| started.saturating_duration_since(t));
        let mut opened = false;
        let mut phases = Phases::default();
        let exchange = async {
            if conn.as_ref().is_none_or(|c| c.worn_out(&shared.policy)) {
                *conn = None;
                opened = true;
                let new = shared.target.connect(id).await?;
                new.setup_into(&mut phases);
                *conn = Some(new);
            }
            let Some(open) = conn.as_mut() else {
                return Err(Failure::Connect);
            };
            shared
                .target
                .send(open, &task.method, &task.path, &body, &trace, &mut phases)
                .await
        };
        let result = match tokio::time::timeout(shared.timeout, exchange).await {
            Ok(r) => r,
            // A request that opened its connection and got nothing back: the server did not
            // serve that connection, typically because it had not accepted it yet.
            Err(_) if opened => Err(Failure::TimeoutNewConnection),
            Err(_) => Err(Failure::Timeout),
        };
        let latency = started.elapsed();
        let (bytes, outcome) = match (result, conn.as_ref()) {
            (Ok(status), Some(open)) => (
                open.body().len() as u64,
                judge(&task.check, status, open.body(), open.server_timing()),
            ),
            (Ok(_), None) => (0, Err(Failure::Disconnected)),
            (Err(failure), _) => {
                // A broken or timed-out exchange leaves the connection unusable.
                *conn = None;
                (0, Err(failure))
            }
        };
        let _ = shared.events.send(Event::Request(Sample {
            endpoint: task.endpoint,
            latency,
            bytes,
            outcome,
            trace_id,
            sampled,
            phases,
            lag,
        }));
    }
}

/// The closed model's user: on-start tasks, then weighted random tasks with think time, until
/// `stop` (the run's end, or a stage going down) fires; it stops between tasks, never
/// mid-request.
pub(super) async fn run_user(shared: Arc<Shared>, id: usize, stop: CancellationToken) {
    let mut runner = TaskRunner::new(id);
    for task in &shared.class.on_start {
        if stop.is_cancelled() {
            return;
        }
        runner.execute(&shared, task, None).await;
    }
    while !stop.is_cancelled() {
        let task = shared.class.pick(&mut runner.rng);
        runner.execute(&shared, task, None).await;
        let wait = shared.class.wait.sample(&mut runner.rng);
        if wait.is_zero() {
            // Closed loop at full speed: each request already awaits the network.
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => break,
        }
    }
}

/// Whether this request is one of the `share` (0..=1) sent with the sampled flag: a fresh random
/// draw per request.
pub fn chosen(rng: &mut impl Rng, share: f64) -> bool {
    share > 0.0 && rng.random::<f64>() < share
}

/// The W3C trace context header: version 00, the trace and span ids, the sampled flag.
pub fn traceparent(trace_id: u128, span_id: u64, sampled: bool) -> String {
    // Written byte by byte: this runs once per request, and `format!` costs ten times more.
    let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex_into(&mut text[3..35], &trace_id.to_be_bytes());
    hex_into(&mut text[36..52], &span_id.to_be_bytes());
    if sampled {
        text[54] = b'1';
    }
    // ASCII by construction: the conversion cannot fail.
    String::from_utf8(text.to_vec()).unwrap_or_default()
}

/// Lower-case hex digits of `bytes` into `out` (twice as long).
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
}

/// Applies a task's check to a response; the server's timings are those of its
/// `Server-Timing` header (`header`) when it had one, else those of a `/predict` body.
pub fn judge(
    check: &Check,
    status: u16,
    body: &[u8],
    header: Option<ServerTiming>,
) -> Result<Option<ServerTiming>, Failure> {
    match check {
        Check::None if status >= 400 => Err(Failure::Status(status)),
        Check::None => Ok(header),
        Check::Status if status != 200 => Err(Failure::Status(status)),
        Check::Status => Ok(header),
        Check::Json => check_fields(status, body, &[]).map(|()| header),
        Check::Fields(fields) => check_fields(status, body, fields).map(|()| header),
        Check::Health => check_health_status(status, body).map(|()| header),
        // The body is checked either way; its timings are the fallback of the header's.
        Check::Predict => check_predict_borrowed(status, body).map(|p| {
            Some(header.unwrap_or(ServerTiming {
                inference: Some(p.inference),
                total: Some(p.total),
            }))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(check: &Check, status: u16, body: &str) -> Result<Option<ServerTiming>, Failure> {
        judge(check, status, body.as_bytes(), None)
    }

    #[test]
    fn traceparent_matches_its_format_for_any_ids() {
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..1000 {
            let (t, s, sampled) = (rng.random::<u128>(), rng.random::<u64>(), rng.random());
            let flags = if sampled { "01" } else { "00" };
            assert_eq!(
                traceparent(t, s, sampled),
                format!("00-{t:032x}-{s:016x}-{flags}")
            );
        }
        assert_eq!(
            traceparent(u128::MAX, u64::MAX, false),
            format!("00-{}-{}-00", "f".repeat(32), "f".repeat(16))
        );
    }

    #[test]
    fn traceparent_is_w3c_and_sampled() {
        let h = traceparent(0xabc, 0x12, true);
        assert_eq!(h, "00-00000000000000000000000000000abc-0000000000000012-01");
        let h = traceparent(0xabc, 0x12, false);
        assert_eq!(h, "00-00000000000000000000000000000abc-0000000000000012-00");
    }

    #[test]
    fn the_sampled_share_is_drawn_per_request() {
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 20_000;
        let hits = (0..n).filter(|_| chosen(&mut rng, 0.01)).count();
        // 1% of 20,000 is 200, with a standard deviation of about 14.
        assert!((130..=270).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| chosen(&mut rng, 1.0)));
        assert!((0..1000).all(|_| !chosen(&mut rng, 0.0)));
    }

    #[test]
    fn checks_follow_the_contract() {
        let predict = r#"{"predicted_species": "setosa", "prediction_probability": 0.97, "inference_time": "0.0012s", "total_time": "0.0030s"}"#;
        let t = judged(&Check::Predict, 200, predict).unwrap().unwrap();
        assert_eq!(t.inference, Some(Duration::from_micros(1200)));
        assert_eq!(t.total, Some(Duration::from_micros(3000)));
        // Server-Timing wins over the body's 4-decimal fields, on any endpoint.
        let header = ServerTiming {
            inference: Some(Duration::from_micros(12)),
            total: Some(Duration::from_micros(34)),
        };
        let t = judge(&Check::Predict, 200, predict.as_bytes(), Some(header));
        assert_eq!(t, Ok(Some(header)));
        let t = judge(&Check::Status, 200, b"", Some(header));
        assert_eq!(t, Ok(Some(header)));
        assert_eq!(
            judge(&Check::Status, 500, b"", Some(header)),
            Err(Failure::Status(500))
        );
        assert_eq!(
            judged(&Check::Predict, 200, r#"{"predicted_species": "setosa"}"#),
            Err(Failure::MissingField("prediction_probability".into()))
        );
        assert_eq!(judged(&Check::None, 404, ""), Err(Failure::Status(404)));
        assert_eq!(judged(&Check::None, 302, ""), Ok(None));
        assert_eq!(judged(&Check::Status, 201, ""), Err(Failure::Status(201)));
        assert_eq!(judged(&Check::Json, 200, "<html>"), Err(Failure::NotJson));
        assert_eq!(
            judged(&Check::Health, 200, r#"{"status": "sick"}"#),
            Err(Failure::Unhealthy("sick".into()))
        );
        assert_eq!(
            judged(&Check::Fields(vec!["a".into()]), 200, r#"{"b": 1}"#),
            Err(Failure::MissingField("a".into()))
        );
    }
}
