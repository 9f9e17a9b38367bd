//! Where requests' time went: a histogram per phase (connect, TLS, sending, waiting,
//! receiving) and per server-reported timing (server total, model) for each endpoint, and the
//! current second's connection figures for the timeline. Per endpoint, never per user: the
//! memory is fixed once the run starts.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::entry::{distribution, new_histogram};
use iris_loadgen::{Micros, Phases, ServerTiming};
use iris_record::{EndpointPhases, PhaseDistributions, Resolution, SecondPhases};

/// Largest value a phase histogram holds: one hour in microseconds.
const MAX_US: u64 = 3_600_000_000;

/// A histogram of microseconds, 1 us to 1 h, 2 significant digits (1%: ~26 KiB, an eighth of
/// a latency histogram's 3 digits), for the client's phases. Mergeable with `Histogram::add`
/// like every other.
pub fn new_phase_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (tested below): this cannot fail at runtime.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_US, 2).expect("valid constant histogram bounds")
}

/// The phase histograms of one endpoint (or of all), in microseconds.
#[derive(Debug, Clone)]
pub struct PhaseHistograms {
    pub connect: Histogram<u64>,
    pub tls: Histogram<u64>,
    pub sending: Histogram<u64>,
    pub waiting: Histogram<u64>,
    pub receiving: Histogram<u64>,
    /// The server's total by `Server-Timing` or the body.
    pub server: Histogram<u64>,
    /// The model's time by `Server-Timing` or the body.
    pub model: Histogram<u64>,
}

impl Default for PhaseHistograms {
    fn default() -> Self {
        Self {
            connect: new_phase_histogram(),
            tls: new_phase_histogram(),
            sending: new_phase_histogram(),
            waiting: new_phase_histogram(),
            receiving: new_phase_histogram(),
            // The server's own figures keep the 3 digits they always had in the record.
            server: new_histogram(),
            model: new_histogram(),
        }
    }
}

impl PhaseHistograms {
    fn all_mut(&mut self) -> [&mut Histogram<u64>; 7] {
        [
            &mut self.connect,
            &mut self.tls,
            &mut self.sending,
            &mut self.waiting,
            &mut self.receiving,
            &mut self.server,
            &mut self.model,
        ]
    }

    fn all(&self) -> [&Histogram<u64>; 7] {
        [
            &self.connect,
            &self.tls,
            &self.sending,
            &self.waiting,
            &self.receiving,
            &self.server,
            &self.model,
        ]
    }

    pub fn record(&mut self, phases: &Phases, timing: Option<ServerTiming>) {
        // One call per histogram, not a loop over pairs: this runs for every request.
        fn put(h: &mut Histogram<u64>, us: Option<Micros>) {
            if let Some(us) = us {
                h.saturating_record(us.get());
            }
        }
        put(&mut self.connect, phases.connect);
        put(&mut self.tls, phases.tls);
        put(&mut self.sending, phases.sending);
        put(&mut self.waiting, phases.waiting);
        put(&mut self.receiving, phases.receiving);
        if let Some(t) = timing {
            put(&mut self.server, t.total.map(Micros::of));
            put(&mut self.model, t.inference.map(Micros::of));
        }
    }

    /// Adds `other`'s counts into these (the aggregate of the endpoints).
    pub fn add(&mut self, other: &PhaseHistograms) {
        for (mine, theirs) in self.all_mut().into_iter().zip(other.all()) {
            // Same bounds on both sides: adding cannot fail.
            let _ = mine.add(theirs);
        }
    }

    pub fn distributions(&self) -> PhaseDistributions {
        PhaseDistributions {
            connect: distribution(&self.connect),
            tls: distribution(&self.tls),
            sending: distribution(&self.sending),
            waiting: distribution(&self.waiting),
            receiving: distribution(&self.receiving),
            server: distribution(&self.server),
            model: distribution(&self.model),
        }
    }
}

/// Connection figures of the current second.
#[derive(Debug, Clone)]
struct Second {
    new_connections: u64,
    connect: Histogram<u64>,
    /// Waiting of requests on a connection they opened.
    new_waiting: Histogram<u64>,
    /// Waiting of every request so far, when the last second closed: the second's own are
    /// the endpoints' less these (no second record per request).
    waiting_before: Histogram<u64>,
}

impl Default for Second {
    fn default() -> Self {
        Self {
            new_connections: 0,
            connect: new_phase_histogram(),
            new_waiting: new_phase_histogram(),
            waiting_before: new_phase_histogram(),
        }
    }
}

/// The phases of a run, per endpoint.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    pub endpoints: Vec<PhaseHistograms>,
    second: Second,
    resolution: Option<Resolution>,
}

impl PhaseStats {
    pub fn new(endpoints: usize) -> Self {
        Self {
            endpoints: vec![PhaseHistograms::default(); endpoints],
            second: Second::default(),
            resolution: None,
        }
    }

    /// Name resolution before the run: how long it took, how many addresses it gave.
    pub fn resolved(&mut self, took: Duration, addresses: usize) {
        self.resolution = Some(Resolution {
            ms: took.as_secs_f64() * 1e3,
            addresses,
        });
    }

    pub fn record(&mut self, endpoint: usize, phases: &Phases, timing: Option<ServerTiming>) {
        if let Some(h) = self.endpoints.get_mut(endpoint) {
            h.record(phases, timing);
        }
        if let Some(connect) = phases.connect {
            let s = &mut self.second;
            s.new_connections += 1;
            s.connect.saturating_record(connect.get());
            if let Some(w) = phases.waiting {
                s.new_waiting.saturating_record(w.get());
            }
        }
    }

    /// The current second's figures for the timeline; starts the next second.
    pub fn close_second(&mut self) -> SecondPhases {
        let median =
            |h: &Histogram<u64>| (!h.is_empty()).then(|| h.value_at_quantile(0.5) as f64 / 1e3);
        let mut waiting = new_phase_histogram();
        for e in &self.endpoints {
            // Same bounds everywhere: adding cannot fail.
            let _ = waiting.add(&e.waiting);
        }
        let mut this_second = waiting.clone();
        // Counts only grow: what was there before is there now.
        let _ = this_second.subtract(&self.second.waiting_before);
        let s = &mut self.second;
        let point = SecondPhases {
            new_connections: s.new_connections,
            connect_p50_ms: median(&s.connect),
            waiting_p50_ms: median(&this_second),
            new_waiting_p50_ms: median(&s.new_waiting),
        };
        s.new_connections = 0;
        s.connect.reset();
        s.new_waiting.reset();
        s.waiting_before = waiting;
        point
    }

    /// All endpoints' histograms added together.
    pub fn aggregate(&self) -> PhaseHistograms {
        let mut all = PhaseHistograms::default();
        for h in &self.endpoints {
            all.add(h);
        }
        all
    }

    /// The record's phases: per endpoint (with its method and name) and in aggregate.
    pub fn record_of(&self, names: &[(String, String)]) -> iris_record::PhasesRecord {
        let mut endpoints: Vec<EndpointPhases> = names
            .iter()
            .zip(&self.endpoints)
            .map(|((method, name), h)| EndpointPhases {
                method: method.clone(),
                name: name.clone(),
                phases: h.distributions(),
            })
            .collect();
        endpoints.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        iris_record::PhasesRecord {
            resolution: self.resolution.clone(),
            endpoints,
            aggregate: self.aggregate().distributions(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Option<Micros> {
        Some(Micros::of(Duration::from_millis(v)))
    }

    #[test]
    fn phases_go_into_their_endpoints_histograms_and_the_second() {
        let mut p = PhaseStats::new(2);
        p.resolved(Duration::from_micros(1500), 2);
        let fresh = Phases {
            connect: ms(3),
            tls: None,
            sending: ms(1),
            waiting: ms(200),
            receiving: ms(2),
        };
        let reused = Phases {
            connect: None,
            waiting: ms(10),
            ..fresh
        };
        let timing = ServerTiming {
            inference: Some(Duration::from_millis(4)),
            total: Some(Duration::from_millis(8)),
        };
        p.record(0, &fresh, None);
        p.record(1, &reused, Some(timing));
        p.record(1, &reused, Some(timing));
        assert_eq!(p.endpoints[0].connect.len(), 1);
        assert_eq!(p.endpoints[1].connect.len(), 0);
        assert_eq!(p.endpoints[1].model.len(), 2);
        let s = p.close_second();
        assert_eq!(s.new_connections, 1);
        assert!((s.connect_p50_ms.unwrap() - 3.0).abs() < 0.05);
        assert!((s.new_waiting_p50_ms.unwrap() - 200.0).abs() < 2.0);
        assert!((s.waiting_p50_ms.unwrap() - 10.0).abs() < 0.1);
        // The next second starts empty.
        let s = p.close_second();
        assert_eq!((s.new_connections, s.connect_p50_ms), (0, None));

        let names = vec![
            ("POST".to_string(), "/predict".to_string()),
            ("GET".to_string(), "/health".to_string()),
        ];
        let r = p.record_of(&names);
        assert_eq!(r.resolution.unwrap().addresses, 2);
        assert_eq!(r.endpoints[0].name, "/health");
        assert_eq!(r.endpoints[0].phases.waiting.as_ref().unwrap().count, 2);
        assert!(r.endpoints[0].phases.tls.is_none());
        assert_eq!(r.aggregate.waiting.as_ref().unwrap().count, 3);
        assert_eq!(r.aggregate.connect.as_ref().unwrap().count, 1);
        let model = r.aggregate.model.unwrap();
        assert!((model.p50_ms - 4.0).abs() < 0.05, "{model:?}");
        let back = crate::decode_histogram(&model.histogram).unwrap();
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn phase_histograms_merge() {
        let mut a = PhaseHistograms::default();
        let mut b = PhaseHistograms::default();
        let p = Phases {
            waiting: ms(5),
            ..Phases::default()
        };
        a.record(&p, None);
        b.record(&p, None);
        b.record(&p, None);
        a.add(&b);
        assert_eq!(a.waiting.len(), 3);
        assert_eq!(a.connect.len(), 0);
        // The aggregate adds the endpoints' histograms the same way.
        let mut x = PhaseStats::new(2);
        x.record(0, &p, None);
        x.record(1, &p, None);
        assert_eq!(x.endpoints[1].waiting.len(), 1);
        assert_eq!(x.aggregate().waiting.len(), 2);
    }
}
