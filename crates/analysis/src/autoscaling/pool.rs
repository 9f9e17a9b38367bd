//! Capacity belongs to the pods, not to one run: the steady samples of every run in a report
//! whose pods are the same (the app's Deployment, the containers' images by digest, CPU
//! request and limit) are fitted together; each run keeps its own fit beside the pooled one
//! when it has enough samples, and a difference beyond the fits' uncertainty is a finding
//! (the pods changed between runs).

use serde::{Deserialize, Serialize};

use super::capacity::{Capacity, CapacityPoint, fit};
use crate::view::RunView;
use iris_record::cluster::ClusterRecord;

/// Slopes further apart than this many standard errors (combined) differ.
const DIFFER_SIGMAS: f64 = 3.0;

/// What makes two runs' pods the same, for the fit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodKey {
    app: String,
    /// Each container's image, by digest when the kubelet reported it, sorted.
    images: Vec<String>,
    /// CPU request and limit of the pod, millicores (whole).
    cpu: (Option<i64>, Option<i64>),
}

fn pod_key(cluster: &ClusterRecord) -> Option<PodKey> {
    let resources = cluster.pod_resources.as_ref()?;
    let mut images: Vec<String> = cluster
        .images
        .iter()
        .map(|i| {
            format!(
                "{}={}",
                i.container,
                i.image_id.as_deref().unwrap_or(&i.image)
            )
        })
        .collect();
    images.sort();
    images.dedup();
    let whole = |v: Option<f64>| v.map(|m| m.round() as i64);
    Some(PodKey {
        app: cluster.deployment.clone(),
        images,
        cpu: (
            whole(resources.cpu_request_millis()),
            whole(resources.cpu_limit_millis()),
        ),
    })
}

/// The steady samples of the runs whose pods are the same as one run's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool {
    /// The runs that gave samples (labels), in the report's order.
    pub runs: Vec<String>,
    pub points: Vec<CapacityPoint>,
}

/// For each run, the pool of its pods' samples when more than one run fed it.
pub fn pools(runs: &[RunView]) -> Vec<Option<Pool>> {
    let keys: Vec<Option<PodKey>> = runs
        .iter()
        .map(|r| r.cluster.as_ref().and_then(pod_key))
        .collect();
    let points: Vec<Vec<CapacityPoint>> = runs.iter().map(super::capacity::points).collect();
    keys.iter()
        .map(|key| {
            let key = key.as_ref()?;
            let mut pool = Pool::default();
            for (i, other) in keys.iter().enumerate() {
                if other.as_ref() == Some(key) && !points[i].is_empty() {
                    pool.runs.push(runs[i].label.clone());
                    pool.points.extend_from_slice(&points[i]);
                }
            }
            (pool.runs.len() > 1).then_some(pool)
        })
        .collect()
}

/// A fit of its own: `cpu = idle + millicores_per_rps x rps_per_pod`, with the slope's
/// standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub millicores_per_rps: f64,
    pub idle_millicores: f64,
    pub r_squared: f64,
    pub points: usize,
    /// Standard error of the slope (`None` with two points: no residual to measure).
    pub slope_stderr: Option<f64>,
}

/// The fit of `points`, with its slope's standard error.
pub fn fit_of(points: &[CapacityPoint]) -> Option<Fit> {
    let (a, b, r2) = fit(points).ok()?;
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.rps_per_pod).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.rps_per_pod - mx).powi(2)).sum();
    let sse: f64 = points
        .iter()
        .map(|p| (p.cpu_millis_per_pod - a - b * p.rps_per_pod).powi(2))
        .sum();
    Some(Fit {
        millicores_per_rps: b,
        idle_millicores: a,
        r_squared: r2,
        points: points.len(),
        slope_stderr: (points.len() > 2 && sxx > 0.0).then(|| (sse / (n - 2.0) / sxx).sqrt()),
    })
}

/// The run's `own` fit and the `others`' (the other runs of the same pods) differ beyond their
/// uncertainty: the finding in words.
fn differs(own: &Fit, others: &Fit) -> Option<String> {
    let se = (own.slope_stderr?.powi(2) + others.slope_stderr?.powi(2)).sqrt();
    let gap = (own.millicores_per_rps - others.millicores_per_rps).abs();
    (gap > DIFFER_SIGMAS * se.max(1e-9)).then(|| {
        format!(
            "this run's pods used {:.2} millicores per request/s against {:.2} in the other runs of the same pods, {:.1} standard errors apart: the pods changed between runs (node type, code path, load mix), so the pooled fit mixes two kinds of pod",
            own.millicores_per_rps,
            others.millicores_per_rps,
            gap / se.max(1e-9)
        )
    })
}

/// The run's capacity with the pool's fit: the figures from the pooled samples, the run's own
/// fit kept beside them.
pub fn adopt(capacity: &mut Capacity, pool: &Pool, cpu_limit_millis: Option<f64>) {
    let Some(pooled) = fit_of(&pool.points) else {
        return;
    };
    let own = fit_of(&capacity.points);
    // The other runs' samples alone: the fit this run's is compared with.
    let others: Vec<CapacityPoint> = pool
        .points
        .iter()
        .filter(|p| !capacity.points.contains(p))
        .copied()
        .collect();
    capacity.pooled_from = pool.runs.clone();
    capacity.pooled_points = pool.points.len();
    capacity.own_fit = own;
    capacity.fit_differs = own
        .zip(fit_of(&others))
        .and_then(|(o, others)| differs(&o, &others));
    capacity.pooled_fit = Some(pooled);
    capacity.set_fit(
        pooled.idle_millicores,
        pooled.millicores_per_rps,
        pooled.r_squared,
        cpu_limit_millis,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::cluster::{ContainerResources, ImageRecord, PodResources};

    fn run(label: &str, digest: &str) -> RunView {
        let mut run = super::super::fixtures::story();
        run.label = label.into();
        let c = run.cluster.as_mut().unwrap();
        c.deployment = "iris".into();
        c.images = vec![ImageRecord {
            container: "app".into(),
            image: "iris:1".into(),
            image_id: Some(digest.into()),
            pods: 2,
        }];
        c.pod_resources = Some(PodResources {
            containers: vec![ContainerResources {
                container: "app".into(),
                cpu_request_millis: Some(200.0),
                cpu_limit_millis: Some(1000.0),
                ..ContainerResources::default()
            }],
        });
        run
    }

    fn points(per_rps: f64, xs: &[f64]) -> Vec<CapacityPoint> {
        xs.iter()
            .enumerate()
            .map(|(i, x)| CapacityPoint {
                t_s: i as f64,
                rps_per_pod: *x,
                // A little noise so the slope has an error.
                cpu_millis_per_pod: 20.0 + per_rps * x + if i % 2 == 0 { 1.0 } else { -1.0 },
                pods: 2,
            })
            .collect()
    }

    #[test]
    fn runs_of_the_same_pods_pool_and_other_pods_do_not() {
        let runs = [
            run("a", "sha256:1"),
            run("b", "sha256:1"),
            run("c", "sha256:2"),
        ];
        let p = pools(&runs);
        let names = |i: usize| p[i].as_ref().map(|p| p.runs.clone());
        assert_eq!(names(0), Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(names(1), names(0));
        assert_eq!(names(2), None, "another image: its own pods");
        let own = super::super::capacity::points(&runs[0]).len();
        assert_eq!(p[0].as_ref().unwrap().points.len(), 2 * own);
        // Another CPU limit is another pod too.
        let mut other = run("d", "sha256:1");
        let c = other.cluster.as_mut().unwrap();
        c.pod_resources.as_mut().unwrap().containers[0].cpu_limit_millis = Some(500.0);
        assert_eq!(pools(&[runs[0].clone(), other])[0], None);
    }

    #[test]
    fn a_run_too_short_for_a_fit_takes_the_pools_and_keeps_the_difference_a_finding() {
        let pooled = Pool {
            runs: vec!["a".into(), "b".into()],
            points: points(4.0, &[10.0, 20.0, 30.0, 40.0, 15.0, 25.0]),
        };
        // Two samples of its own: no fit of its own, the pool's figures.
        let mut c = Capacity {
            points: points(4.0, &[30.0, 31.0]),
            cpu_request_millis: Some(200.0),
            cpu_target_pct: Some(60.0),
            ..Capacity::default()
        };
        adopt(&mut c, &pooled, Some(1000.0));
        assert!((c.millicores_per_rps.unwrap() - 4.0).abs() < 0.1, "{c:?}");
        assert!(
            (c.rps_per_pod_at_target.unwrap() - 25.0).abs() < 1.0,
            "{c:?}"
        );
        assert_eq!((c.own_fit, c.fit_differs.as_ref()), (None, None));
        assert_eq!(c.pooled_from, ["a", "b"]);
        assert_eq!(c.no_fit, None);
        // Its own fit at 6 millicores per request/s, the pool's at 4: a finding.
        let mut c = Capacity {
            points: points(6.0, &[10.0, 20.0, 30.0, 40.0]),
            ..Capacity::default()
        };
        let mut both = pooled.clone();
        both.points.extend(c.points.clone());
        adopt(&mut c, &both, None);
        let own = c.own_fit.unwrap();
        assert!((own.millicores_per_rps - 6.0).abs() < 0.1, "{own:?}");
        let finding = c.fit_differs.expect("a finding");
        assert!(
            finding.contains("the pods changed between runs"),
            "{finding}"
        );
        // The same pods: no finding.
        let mut c = Capacity {
            points: points(4.0, &[12.0, 22.0, 32.0]),
            ..Capacity::default()
        };
        adopt(&mut c, &pooled, None);
        assert!(c.own_fit.is_some());
        assert_eq!(c.fit_differs, None, "{c:?}");
    }
}
