//! What the distributed tests check alike: the merged record of a run and its workers'
//! records, and that the merge is exact.

use std::path::Path;

use iris_lab::record::{self, Percentile, RunRecord};
use iris_lab::stats::{decode_histogram, new_histogram, percentile_ms};

/// The merged record under `dir/iris-lab-runs` and its workers' own records (their paths as
/// `load` saw them, relative to `dir`).
pub fn merged_run(dir: &Path) -> (RunRecord, Vec<RunRecord>) {
    let path = super::run_files(dir, "json")
        .pop()
        .expect("a merged record");
    let merged = record::load(&path).unwrap();
    let workers = merged
        .distributed
        .as_ref()
        .expect("a distributed record")
        .workers
        .iter()
        .filter_map(|w| w.record.as_ref())
        .map(|p| record::load(&dir.join(p)).unwrap())
        .collect();
    (merged, workers)
}

/// The merged counts are the workers' sums and its percentiles those of one histogram fed
/// every sample (the sum of the workers' histograms); returns the request count.
pub fn assert_merged_exactly(merged: &RunRecord, workers: &[RunRecord]) -> u64 {
    let sum: u64 = workers.iter().map(|w| w.aggregate.requests).sum();
    assert!(sum > 0, "the workers measured nothing");
    assert_eq!(merged.aggregate.requests, sum);
    let mut all = new_histogram();
    for w in workers {
        all.add(decode_histogram(&w.aggregate.histogram).unwrap())
            .unwrap();
    }
    assert_eq!(all.len(), sum);
    let max_us = workers
        .iter()
        .map(|w| (w.aggregate.max_ms * 1e3).round() as u64)
        .max()
        .unwrap();
    for p in Percentile::ALL {
        assert_eq!(
            merged.aggregate.percentile(p),
            Some(percentile_ms(&all, max_us, p.fraction())),
            "{p:?}"
        );
    }
    sum
}

/// `iris-lab report` of the merged record under `dir` (a normal record): its markdown.
pub fn report_of(dir: &Path) -> String {
    report_as(dir, "markdown")
}

/// `report --format FORMAT` of the run under `dir` (the merged record).
pub fn report_as(dir: &Path, format: &str) -> String {
    let path = super::run_files(dir, "json")
        .pop()
        .expect("a merged record");
    let out = super::iris_lab(dir)
        .args(["report", "--format", format])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scenario file with its own class (named tasks, a fixed JSON body, a fields check) and
/// its own stages (4 users at most, 3 s): what workers must run without reading the file.
pub const SCENARIO: &str = "classes:\n- name: Checker\n  wait: 0.02..0.05\n  tasks:\n  \
    - {method: POST, path: /predict, name: fixed, body: {json: {sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2}}, check: predict, weight: 3}\n  \
    - {path: /health, name: health-check, check: {fields: [status, model_loaded]}}\n\
    stages: [1s:4, 2s:4]\n";

/// Writes [`SCENARIO`] as `dir/scenario.yaml`.
pub fn write_scenario(dir: &Path) {
    std::fs::write(dir.join("scenario.yaml"), SCENARIO).unwrap();
}

/// The merged run and every worker ran [`SCENARIO`]'s class and stages, without failures.
pub fn assert_ran_the_scenario(merged: &RunRecord, workers: &[RunRecord]) {
    for r in std::iter::once(merged).chain(workers) {
        assert_eq!(r.params.user_class, "Checker");
        let mut names: Vec<&str> = r.endpoints.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["fixed", "health-check"], "{:?}", r.endpoints);
        assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);
        assert_eq!(r.params.stages.len(), 2);
        assert_eq!(
            r.params.scenario.as_deref(),
            Some(Path::new("scenario.yaml"))
        );
    }
    assert_eq!(merged.params.users, 4);
    assert_eq!(merged.users_started, 4);
    let peaks: Vec<u32> = workers.iter().map(|w| w.params.users).collect();
    assert_eq!(peaks, [2, 2]);
}
