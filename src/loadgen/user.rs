//! The one worker loop: a virtual user with its own keep-alive connection, running its
//! class's on-start tasks, then weighted random tasks with think time, until told to stop.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::http::{Conn, ConnectionPolicy, Response, Target};
use super::{Check, Event, Sample, ServerTiming, Task, UserClass};
use crate::api::Failure;
use crate::api::checks::{check_fields, check_health_status, check_predict};
use crate::api::contract::parse_timing;

/// What every user of a run shares.
pub(super) struct Shared {
    pub class: UserClass,
    pub target: Arc<Target>,
    pub events: UnboundedSender<Event>,
    pub stop: CancellationToken,
    pub timeout: Duration,
    pub policy: ConnectionPolicy,
}

pub(super) async fn run_user(shared: Arc<Shared>, id: usize) {
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let mut conn: Option<Conn> = None;
    for task in &shared.class.on_start {
        if shared.stop.is_cancelled() {
            return;
        }
        execute(&shared, id, &mut conn, task, &mut rng).await;
    }
    while !shared.stop.is_cancelled() {
        let task = shared.class.pick(&mut rng);
        execute(&shared, id, &mut conn, task, &mut rng).await;
        let wait = shared.class.wait.sample(&mut rng);
        if wait.is_zero() {
            // Closed loop at full speed: each request already awaits the network.
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.stop.cancelled() => break,
        }
    }
}

/// Runs one task and reports it. Latency covers connecting (when needed) and the whole body,
/// as Locust measures it.
async fn execute(
    shared: &Shared,
    id: usize,
    conn: &mut Option<Conn>,
    task: &Task,
    rng: &mut SmallRng,
) {
    let trace_id = rng.random::<u128>().max(1);
    let span_id = rng.random::<u64>().max(1);
    let body = task.body.render(rng);
    let started = Instant::now();
    let exchange = async {
        if conn.as_ref().is_none_or(|c| c.worn_out(&shared.policy)) {
            *conn = None;
            *conn = Some(shared.target.connect(id).await?);
        }
        let Some(open) = conn.as_mut() else {
            return Err(Failure::Connect);
        };
        shared
            .target
            .send(
                open,
                &task.method,
                &task.path,
                body,
                traceparent(trace_id, span_id),
            )
            .await
    };
    let result = match tokio::time::timeout(shared.timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout),
    };
    let latency = started.elapsed();
    if result.is_err() {
        // A broken or timed-out exchange leaves the connection unusable.
        *conn = None;
    }
    let (bytes, outcome) = match result {
        Ok(response) => (response.body.len() as u64, judge(&task.check, &response)),
        Err(failure) => (0, Err(failure)),
    };
    let _ = shared.events.send(Event::Request(Sample {
        endpoint: task.endpoint,
        latency,
        bytes,
        outcome,
        trace_id,
    }));
}

/// The W3C trace context header: version 00, the trace and span ids, sampled.
pub fn traceparent(trace_id: u128, span_id: u64) -> HeaderValue {
    let mut text = String::with_capacity(55);
    let _ = write!(text, "00-{trace_id:032x}-{span_id:016x}-01");
    HeaderValue::from_str(&text).unwrap_or_else(|_| {
        HeaderValue::from_static("00-00000000000000000000000000000001-0000000000000001-01")
    })
}

/// Applies a task's check to a response.
pub fn judge(check: &Check, r: &Response) -> Result<Option<ServerTiming>, Failure> {
    match check {
        Check::None if r.status >= 400 => Err(Failure::Status(r.status)),
        Check::None => Ok(None),
        Check::Status if r.status != 200 => Err(Failure::Status(r.status)),
        Check::Status => Ok(None),
        Check::Json => check_fields(r.status, &r.body, &[]).map(|()| None),
        Check::Fields(fields) => check_fields(r.status, &r.body, fields).map(|()| None),
        Check::Health => check_health_status(r.status, &r.body).map(|()| None),
        Check::Predict => {
            let p = check_predict(r.status, &r.body)?;
            Ok(parse_timing(&p.inference_time)
                .zip(parse_timing(&p.total_time))
                .map(|(inference, total)| ServerTiming { inference, total }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn response(status: u16, body: &'static str) -> Response {
        Response {
            status,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn traceparent_is_w3c_and_sampled() {
        let h = traceparent(0xabc, 0x12);
        assert_eq!(
            h.to_str().unwrap(),
            "00-00000000000000000000000000000abc-0000000000000012-01"
        );
    }

    #[test]
    fn checks_follow_the_contract() {
        let predict = r#"{"predicted_species": "setosa", "prediction_probability": 0.97, "inference_time": "0.0012s", "total_time": "0.0030s"}"#;
        let t = judge(&Check::Predict, &response(200, predict))
            .unwrap()
            .unwrap();
        assert_eq!(t.inference, Duration::from_micros(1200));
        assert_eq!(t.total, Duration::from_micros(3000));
        assert_eq!(
            judge(
                &Check::Predict,
                &response(200, r#"{"predicted_species": "setosa"}"#)
            ),
            Err(Failure::MissingField("prediction_probability".into()))
        );
        assert_eq!(
            judge(&Check::None, &response(404, "")),
            Err(Failure::Status(404))
        );
        assert_eq!(judge(&Check::None, &response(302, "")), Ok(None));
        assert_eq!(
            judge(&Check::Status, &response(201, "")),
            Err(Failure::Status(201))
        );
        assert_eq!(
            judge(&Check::Json, &response(200, "<html>")),
            Err(Failure::NotJson)
        );
        assert_eq!(
            judge(&Check::Health, &response(200, r#"{"status": "sick"}"#)),
            Err(Failure::Unhealthy("sick".into()))
        );
        assert_eq!(
            judge(
                &Check::Fields(vec!["a".into()]),
                &response(200, r#"{"b": 1}"#)
            ),
            Err(Failure::MissingField("a".into()))
        );
    }
}
