//! One profile's comparison: the tables of figures with their tests, the scaling figures, the
//! environment and its warnings.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::bootstrap::{Blocks, block_len, t_interval};
use super::units::{self, Metric, Unit};
use super::{
    Comparison, MIN_RUNS, MIN_SECONDS, Method, Options, Profile, Row, Run, ScalingRow, Table, Test,
    Verdict, environment,
};

/// The units of one side: all units, and how many consecutive ones each run gave.
struct Sample {
    units: Vec<Unit>,
    runs: Vec<usize>,
}

impl Sample {
    fn from_runs<'a>(runs: impl Iterator<Item = Vec<Unit>> + 'a) -> Self {
        let mut sample = Sample {
            units: Vec::new(),
            runs: Vec::new(),
        };
        for units in runs {
            sample.runs.push(units.len());
            sample.units.extend(units);
        }
        sample
    }

    fn all(&self) -> Vec<usize> {
        (0..self.units.len()).collect()
    }
}

pub fn comparison(
    profile: Profile,
    new_profile: Option<Profile>,
    base: &[Run],
    new: &[Run],
    options: &Options,
) -> Comparison {
    let environment = environment::compare(base, new);
    let warnings = environment
        .iter()
        .filter_map(|e| {
            e.unfair.map(|why| {
                format!(
                    "{} differs (base: {}; new: {}): {why}",
                    e.what,
                    e.base.join(", "),
                    e.new.join(", ")
                )
            })
        })
        .collect();
    Comparison {
        profile,
        new_profile,
        base_runs: base.iter().map(|r| r.path.clone()).collect(),
        new_runs: new.iter().map(|r| r.path.clone()).collect(),
        warnings,
        environment,
        overall: overall(base, new, options),
        endpoints: endpoints(base, new, options),
        server: server(base, new, options),
        scaling: scaling(base, new),
    }
}

fn overall(base: &[Run], new: &[Run], options: &Options) -> Table {
    let seconds =
        |runs: &[Run]| Sample::from_runs(runs.iter().map(|r| units::steady_seconds(&r.record)));
    seconds_table(
        "All requests".into(),
        &seconds(base),
        &seconds(new),
        options,
    )
}

/// A table over steady-state seconds, tested by the moving block bootstrap.
fn seconds_table(name: String, b: &Sample, n: &Sample, options: &Options) -> Table {
    let fewest = b.units.len().min(n.units.len());
    let test = (fewest >= MIN_SECONDS).then(|| Test {
        method: Method::SecondsBlockBootstrap,
        base_units: b.units.len(),
        new_units: n.units.len(),
        block_len: block_len(fewest),
        resamples: options.resamples,
        seed: options.seed,
        confidence: options.confidence,
    });
    let not_tested = test.is_none().then(|| {
        format!(
            "{} and {} steady-state seconds: an interval needs {MIN_SECONDS} a side (run longer)",
            b.units.len(),
            n.units.len()
        )
    });
    table(name, b, n, &Metric::ALL, test, not_tested, options)
}

/// Per endpoint seen on both sides: its steady-state seconds when every run kept them, else
/// each run's whole-run figures (runs as units).
fn endpoints(base: &[Run], new: &[Run], options: &Options) -> Vec<Table> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in base {
        for e in &r.record.endpoints {
            let key = (e.method.clone(), e.name.clone());
            let on_new = new.iter().any(|r| {
                r.record
                    .endpoints
                    .iter()
                    .any(|f| (&f.method, &f.name) == (&key.0, &key.1))
            });
            if on_new && !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .map(|(method, name)| endpoint_table(base, new, &method, &name, options))
        .collect()
}

fn endpoint_table(base: &[Run], new: &[Run], method: &str, name: &str, o: &Options) -> Table {
    let title = format!("{method} {name}");
    let seconds = |runs: &[Run]| -> Option<Sample> {
        let per_run: Option<Vec<Vec<Unit>>> = runs
            .iter()
            .map(|r| units::endpoint_seconds(&r.record, method, name))
            .collect();
        Some(Sample::from_runs(per_run?.into_iter()))
    };
    if let (Some(b), Some(n)) = (seconds(base), seconds(new)) {
        return seconds_table(title, &b, &n, o);
    }
    let whole = |runs: &[Run]| {
        Sample::from_runs(runs.iter().map(|r| {
            r.record
                .endpoints
                .iter()
                .filter(|e| e.method == method && e.name == name)
                .map(units::endpoint_run)
                .collect()
        }))
    };
    runs_table(title, &whole(base), &whole(new), &Metric::ALL, o)
}

/// The server's own times (`Server-Timing`), when both sides have them.
fn server(base: &[Run], new: &[Run], options: &Options) -> Vec<Table> {
    type Pick = fn(&iris_record::ServerTimings) -> Option<&iris_record::Distribution>;
    let picks: [(&str, Pick); 2] = [
        ("Server total (Server-Timing)", |t| t.total.as_ref()),
        ("Model inference (Server-Timing)", |t| t.inference.as_ref()),
    ];
    picks
        .into_iter()
        .filter_map(|(name, pick)| {
            let of = |runs: &[Run]| {
                Sample::from_runs(runs.iter().map(|r| {
                    pick(&r.record.server_timings)
                        .map(units::timing_run)
                        .into_iter()
                        .collect()
                }))
            };
            let (b, n) = (of(base), of(new));
            (!b.units.is_empty() && !n.units.is_empty())
                .then(|| runs_table(name.into(), &b, &n, &Metric::LATENCY, options))
        })
        .collect()
}

fn runs_table(name: String, b: &Sample, n: &Sample, metrics: &[Metric], o: &Options) -> Table {
    let fewest = b.units.len().min(n.units.len());
    let test = (fewest >= MIN_RUNS).then_some(Test {
        method: Method::RunsBootstrap,
        base_units: b.units.len(),
        new_units: n.units.len(),
        block_len: 1,
        resamples: o.resamples,
        seed: o.seed,
        confidence: o.confidence,
    });
    let not_tested = test.is_none().then(|| {
        format!(
            "whole-run figures of {} and {} runs (the records keep no seconds of it) and an \
             interval needs {MIN_RUNS} runs a side",
            b.units.len(),
            n.units.len()
        )
    });
    table(name, b, n, metrics, test, not_tested, o)
}

fn table(
    name: String,
    b: &Sample,
    n: &Sample,
    metrics: &[Metric],
    test: Option<Test>,
    not_tested: Option<String>,
    options: &Options,
) -> Table {
    let points: Vec<(Option<f64>, Option<f64>, Option<f64>)> = metrics
        .iter()
        .map(|&metric| {
            let base = metric.statistic(&b.units, &b.all());
            let new = metric.statistic(&n.units, &n.all());
            (
                base,
                new,
                base.zip(new).and_then(|(b, n)| metric.change(b, n)),
            )
        })
        .collect();
    let estimates: Vec<Option<f64>> = points.iter().map(|p| p.2).collect();
    let intervals = test
        .as_ref()
        .map(|t| intervals(b, n, metrics, t, &estimates));
    let rows = metrics
        .iter()
        .zip(points)
        .enumerate()
        .map(|(i, (&metric, (base, new, change)))| {
            let ci = intervals.as_ref().and_then(|v| v[i]);
            Row {
                metric,
                base,
                new,
                change,
                ci,
                verdict: verdict(metric, change, ci, options),
            }
        })
        .collect();
    Table {
        name,
        test,
        not_tested,
        rows,
    }
}

/// Each metric's interval of the change, from the same resamples: the bootstrap's standard
/// error of the change (of its logarithm for a ratio, so that the interval stays above -100%)
/// with Student's t at the degrees of freedom of the blocks, so that few units give the wide
/// interval they deserve.
fn intervals(
    b: &Sample,
    n: &Sample,
    metrics: &[Metric],
    test: &Test,
    estimates: &[Option<f64>],
) -> Vec<Option<[f64; 2]>> {
    let mut rng = StdRng::seed_from_u64(test.seed);
    let (bb, nb) = (
        Blocks::new(&b.runs, test.block_len),
        Blocks::new(&n.runs, test.block_len),
    );
    let mut changes = vec![Vec::with_capacity(test.resamples as usize); metrics.len()];
    let (mut ib, mut in_) = (Vec::new(), Vec::new());
    for _ in 0..test.resamples {
        bb.resample(&mut rng, &mut ib);
        nb.resample(&mut rng, &mut in_);
        for (m, out) in metrics.iter().zip(&mut changes) {
            let change = m
                .statistic(&b.units, &ib)
                .zip(m.statistic(&n.units, &in_))
                .and_then(|(x, y)| m.change(x, y));
            out.push(change.map_or(f64::NAN, |c| to_scale(*m, c)));
        }
    }
    let df = test.degrees_of_freedom();
    metrics
        .iter()
        .zip(changes)
        .zip(estimates)
        .map(|((m, c), e)| {
            let [lo, hi] = t_interval(&c, to_scale(*m, (*e)?), df)?;
            Some([from_scale(*m, lo), from_scale(*m, hi)])
        })
        .collect()
}

/// Ratios are tested as logarithms (a ratio's error is symmetric there), points as they are.
fn to_scale(m: Metric, change: f64) -> f64 {
    if m.in_points() {
        change
    } else {
        change.ln_1p()
    }
}

fn from_scale(m: Metric, v: f64) -> f64 {
    if m.in_points() { v } else { v.exp_m1() }
}

/// Better or worse only when significant (the interval excludes 0) and large enough.
pub fn verdict(metric: Metric, change: Option<f64>, ci: Option<[f64; 2]>, o: &Options) -> Verdict {
    let (Some(change), Some([lo, hi])) = (change, ci) else {
        return Verdict::NotTested;
    };
    let min = if metric.in_points() {
        o.min_points
    } else {
        o.min_change
    };
    if !(lo > 0.0 || hi < 0.0) || change.abs() < min {
        Verdict::NoSignificantChange
    } else if (change > 0.0) == metric.higher_is_better() {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

/// The scaling figures of one run: from its cluster record, and the per-pod capacity that the
/// report's autoscaling analysis fits from the pods' CPU against their requests/s.
struct RunScaling<'a> {
    cluster: &'a iris_record::cluster::ClusterRecord,
    capacity: iris_report::autoscaling::Capacity,
}

impl<'a> RunScaling<'a> {
    fn of(run: &'a Run) -> Option<Self> {
        use iris_report::autoscaling::{capacity::capacity, hpa_spec};
        let cluster = run.record.cluster.as_ref()?;
        let view = iris_report::from_record::run_view(&run.record, &run.path.display().to_string());
        let target = hpa_spec(&view, &Default::default())
            .and_then(|s| s.cpu_target_percent())
            .map(f64::from);
        Some(Self {
            cluster,
            capacity: capacity(&view, target),
        })
    }
}

type Figure = fn(&RunScaling) -> Option<f64>;

/// The scaling figures, each the mean over the side's runs that have it; a figure neither side
/// has is left out.
fn scaling(base: &[Run], new: &[Run]) -> Vec<ScalingRow> {
    let figures: [(&str, &str, Figure); 6] = [
        ("max pods", "", |r| Some(f64::from(r.cluster.max_pods))),
        ("time to first scale-up", "s", |r| {
            r.cluster.first_scale_up_s
        }),
        ("pod start-up (median)", "s", |r| {
            r.cluster.pod_startup_median_s
        }),
        ("peak CPU", "% of request", |r| r.cluster.peak_cpu_pct),
        (
            "capacity per pod at the HPA's CPU target",
            "requests/s",
            |r| r.capacity.rps_per_pod_at_target,
        ),
        ("CPU per request/s", "millicores", |r| {
            r.capacity.millicores_per_rps
        }),
    ];
    let (base, new): (Vec<RunScaling>, Vec<RunScaling>) = (
        base.iter().filter_map(RunScaling::of).collect(),
        new.iter().filter_map(RunScaling::of).collect(),
    );
    let mean = |runs: &[RunScaling], f: Figure| {
        let v: Vec<f64> = runs.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    figures
        .into_iter()
        .filter_map(|(what, unit, f)| {
            let (b, n) = (mean(&base, f), mean(&new, f));
            (b.is_some() || n.is_some()).then(|| ScalingRow {
                what,
                unit,
                base: b,
                new: n,
                change: b.zip(n).and_then(|(b, n)| (b > 0.0).then(|| n / b - 1.0)),
            })
        })
        .collect()
}
