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

/// The `q` quantile (0..1) of sorted values, linearly interpolated; `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// The percentile interval at `confidence` (0.95) of the resampled changes (non-finite ones,
/// from a resample with nothing to divide by, left out).
pub fn percentile_interval(mut changes: Vec<f64>, confidence: f64) -> Option<[f64; 2]> {
    changes.retain(|c| c.is_finite());
    changes.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some([quantile(&changes, tail)?, quantile(&changes, 1.0 - tail)?])
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
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.125), Some(1.5));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(
            percentile_interval(vec![f64::NAN, 3.0, 1.0, 2.0], 0.5),
            Some([1.5, 2.5])
        );
    }

    #[test]
    fn the_bootstrap_of_a_mean_covers_it_about_as_often_as_it_says() {
        // iid normal-ish samples of 60 units: the 95% interval of the mean's change between
        // two samples of the same distribution holds 0 in about 95% of 100 trials.
        let mut rng = StdRng::seed_from_u64(7);
        let mut covered = 0;
        for _ in 0..100 {
            let a: Vec<f64> = (0..60).map(|_| noise(&mut rng)).collect();
            let b: Vec<f64> = (0..60).map(|_| noise(&mut rng)).collect();
            let blocks = Blocks::new(&[60], 1);
            let (mut ia, mut ib) = (Vec::new(), Vec::new());
            let changes = (0..300)
                .map(|_| {
                    blocks.resample(&mut rng, &mut ia);
                    blocks.resample(&mut rng, &mut ib);
                    mean(&b, &ib) - mean(&a, &ia)
                })
                .collect();
            let [lo, hi] = percentile_interval(changes, 0.95).unwrap();
            covered += usize::from(lo <= 0.0 && 0.0 <= hi);
        }
        assert!((86..=99).contains(&covered), "{covered} of 100");
    }

    fn noise(rng: &mut StdRng) -> f64 {
        (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
    }

    fn mean(v: &[f64], idx: &[usize]) -> f64 {
        idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64
    }
}
