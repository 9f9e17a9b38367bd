//! The moving block bootstrap (Künsch 1989) over units that come in runs of consecutive ones:
//! the seconds of one load run are not independent (a slow second tends to follow a slow
//! second), so whole blocks of consecutive seconds are resampled, never seconds one by one,
//! and a block never spans two runs. With a block length of 1 it is the ordinary bootstrap
//! (runs as units).

use rand::Rng;
use rand::rngs::StdRng;

/// The block length for `n` units: the cube root of `n`, rounded up (the order that minimises
/// the bootstrap's error of a variance, Hall, Horowitz and Jing 1995).
pub fn block_len(n: usize) -> usize {
    ((n as f64).cbrt().ceil() as usize).max(1)
}

/// Where blocks may start: `(first index, length)` of each candidate block.
#[derive(Debug, Clone)]
pub struct Blocks {
    candidates: Vec<(usize, usize)>,
    total: usize,
}

impl Blocks {
    /// The candidate blocks of length `len` inside runs of `run_lens` consecutive units (a
    /// run shorter than `len` is one block).
    pub fn new(run_lens: &[usize], len: usize) -> Self {
        let len = len.max(1);
        let mut candidates = Vec::new();
        let mut offset = 0;
        for &n in run_lens {
            if n >= len {
                candidates.extend((offset..=offset + n - len).map(|start| (start, len)));
            } else if n > 0 {
                candidates.push((offset, n));
            }
            offset += n;
        }
        Self {
            candidates,
            total: offset,
        }
    }

    /// One resample of as many units as the sample has: blocks drawn with replacement,
    /// concatenated, the last one cut.
    pub fn resample(&self, rng: &mut StdRng, out: &mut Vec<usize>) {
        out.clear();
        if self.candidates.is_empty() {
            return;
        }
        while out.len() < self.total {
            let (start, len) = self.candidates[rng.random_range(0..self.candidates.len())];
            out.extend(start..start + len);
        }
        out.truncate(self.total);
    }
}

/// Student's t quantile at 0.975 (a two-sided 95% interval) for `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// The 95% interval `estimate +- t(df) * sd` of the resampled values' standard deviation
/// (non-finite resamples, with nothing to divide by, left out); `None` with fewer than two.
pub fn t_interval(resampled: &[f64], estimate: f64, df: usize) -> Option<[f64; 2]> {
    let finite: Vec<f64> = resampled
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if finite.len() < 2 || !estimate.is_finite() {
        return None;
    }
    let n = finite.len() as f64;
    let mean = finite.iter().sum::<f64>() / n;
    let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half = t975(df) * var.sqrt();
    Some([estimate - half, estimate + half])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn blocks_stay_inside_their_run_and_fill_the_sample() {
        let blocks = Blocks::new(&[5, 2, 0, 4], 3);
        // Run 1: starts 0..=2; run 2 (shorter than 3): one block; run 4: starts 7..=8.
        assert_eq!(
            blocks.candidates,
            [(0, 3), (1, 3), (2, 3), (5, 2), (7, 3), (8, 3)]
        );
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = Vec::new();
        for _ in 0..100 {
            blocks.resample(&mut rng, &mut out);
            assert_eq!(out.len(), 11);
            assert!(out.iter().all(|&i| i < 11));
        }
    }

    #[test]
    fn block_length_is_the_cube_root_rounded_up() {
        assert_eq!([1, 8, 9, 27, 300, 3600].map(block_len), [1, 2, 3, 3, 7, 16]);
    }

    #[test]
    fn t_quantiles_and_intervals() {
        assert_eq!(
            (t975(1), t975(4), t975(30), t975(1000)),
            (12.706, 2.776, 2.042, 1.96)
        );
        assert!(t975(0).is_infinite());
        // sd of [1, 2, 3] is 1.
        let [lo, hi] = t_interval(&[1.0, f64::NAN, 2.0, 3.0], 10.0, 4).unwrap();
        assert!(
            (lo - 7.224).abs() < 1e-9 && (hi - 12.776).abs() < 1e-9,
            "{lo} {hi}"
        );
        assert_eq!(t_interval(&[1.0], 1.0, 4), None);
    }

    #[test]
    fn the_bootstrap_of_a_mean_covers_it_about_as_often_as_it_says() {
        // iid normal-ish samples of 60 units: the 95% interval of the mean's change between
        // two samples of the same distribution holds 0 in about 95 of 100 trials.
        let mut rng = StdRng::seed_from_u64(7);
        let mut covered = 0;
        for _ in 0..100 {
            let a: Vec<f64> = (0..60).map(|_| noise(&mut rng)).collect();
            let b: Vec<f64> = (0..60).map(|_| noise(&mut rng)).collect();
            let blocks = Blocks::new(&[60], 1);
            let (mut ia, mut ib) = (Vec::new(), Vec::new());
            let changes: Vec<f64> = (0..300)
                .map(|_| {
                    blocks.resample(&mut rng, &mut ia);
                    blocks.resample(&mut rng, &mut ib);
                    mean(&b, &ib) - mean(&a, &ia)
                })
                .collect();
            let all: Vec<usize> = (0..60).collect();
            let estimate = mean(&b, &all) - mean(&a, &all);
            let [lo, hi] = t_interval(&changes, estimate, 118).unwrap();
            covered += usize::from(lo <= 0.0 && 0.0 <= hi);
        }
        assert!((88..=100).contains(&covered), "{covered} of 100");
    }

    fn noise(rng: &mut StdRng) -> f64 {
        (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
    }

    fn mean(v: &[f64], idx: &[usize]) -> f64 {
        idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64
    }
}
