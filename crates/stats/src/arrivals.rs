//! The open model's counters: arrivals sent and dropped (from the engine's events), arrivals
//! intended (from the schedule's own integral, so they are exact), and the service time beside
//! the corrected latency the endpoints' rows keep.

use super::entry::Entry;
use iris_loadgen::{OpenModel, Ramp};
use iris_record::shape::{ArrivalRecord, ArrivalSecond};

pub(super) struct Arrivals {
    model: OpenModel,
    ramp: Ramp,
    sent: u64,
    dropped: u64,
    second_sent: u64,
    second_dropped: u64,
    /// Seconds since the start when the last second closed.
    closed_at: f64,
    service: Entry,
    second_service: Entry,
}

impl Arrivals {
    pub fn new(model: OpenModel, ramp: Ramp) -> Self {
        Self {
            model,
            ramp,
            sent: 0,
            dropped: 0,
            second_sent: 0,
            second_dropped: 0,
            closed_at: 0.0,
            service: Entry::new(),
            second_service: Entry::new(),
        }
    }

    pub fn count(&mut self, sent: u32, dropped: u32) {
        self.sent += u64::from(sent);
        self.dropped += u64::from(dropped);
        self.second_sent += u64::from(sent);
        self.second_dropped += u64::from(dropped);
    }

    pub fn service(&mut self, us: u64, bytes: u64, failed: bool) {
        self.service.record(us, bytes, failed);
        self.second_service.record(us, bytes, failed);
    }

    /// The second that ends `elapsed` seconds after the start.
    pub fn close_second(&mut self, elapsed: f64) -> ArrivalSecond {
        let intended = self.intended_by(elapsed) - self.intended_by(self.closed_at);
        self.closed_at = elapsed;
        let second = ArrivalSecond {
            intended,
            sent: std::mem::take(&mut self.second_sent),
            dropped: std::mem::take(&mut self.second_dropped),
            service_p99_ms: (self.second_service.requests > 0)
                .then(|| self.second_service.percentile_ms(0.99)),
        };
        self.second_service.reset();
        second
    }

    /// The schedule's arrivals by `secs` (all of them, not only this stripe's).
    fn due_by(&self, secs: f64) -> f64 {
        self.ramp.arrivals_by(secs.min(self.ramp.end()))
    }

    /// This stripe's share of them, for the per-second figures.
    fn intended_by(&self, secs: f64) -> f64 {
        self.model.stripe.share_of(self.due_by(secs))
    }

    /// The service time of every request so far.
    pub fn service_entry(&self) -> &Entry {
        &self.service
    }

    /// The whole run, `secs` long, without its service row (the collector adds it).
    pub fn record(&self, secs: f64) -> ArrivalRecord {
        let intended = self.model.stripe.count_below(self.due_by(secs));
        // Arrivals happen only while the schedule lasts.
        let window = secs.min(self.ramp.end()).max(1e-9);
        let per_s = |n: u64| n as f64 / window;
        ArrivalRecord {
            rate: self.model.rate,
            max_in_flight: self.model.max_in_flight,
            queue: self.model.queue,
            intended,
            sent: self.sent,
            dropped: self.dropped,
            intended_rate: per_s(intended),
            achieved_rate: per_s(self.sent),
            dropped_per_s: per_s(self.dropped),
            service: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn intended_arrivals_come_from_the_schedule_and_drops_from_the_engine() {
        let model = OpenModel {
            rate: 100.0,
            max_in_flight: 4,
            queue: false,
            stripe: Default::default(),
        };
        let mut a = Arrivals::new(model, Ramp::constant(100.0, Duration::from_secs(3)));
        a.count(90, 10);
        a.service(2000, 10, false);
        let s = a.close_second(1.0);
        assert_eq!((s.intended, s.sent, s.dropped), (100.0, 90, 10));
        assert_eq!(s.service_p99_ms, Some(2.0));
        a.count(100, 0);
        let s = a.close_second(2.0);
        assert_eq!(
            (s.intended, s.sent, s.dropped, s.service_p99_ms),
            (100.0, 100, 0, None)
        );
        let r = a.record(3.0);
        assert_eq!((r.intended, r.sent, r.dropped), (300, 190, 10));
        assert!((r.achieved_rate - 190.0 / 3.0).abs() < 1e-9);
        assert_eq!(a.service_entry().requests, 1);
        // A run that went on past the schedule intended no more arrivals.
        assert_eq!(a.record(3.5).intended, 300);
    }
}
