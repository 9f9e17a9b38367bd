//! The model behind the reference API: multinomial logistic regression trained with linfa at
//! start-up on the Iris data set that `linfa-datasets` ships (no download).
//!
//! Training happens once; each prediction is a 4x3 matrix product and a softmax on the
//! coefficients linfa fitted, with no allocation.

use std::time::{Duration, Instant};

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use iris_api::Species;

/// Seed of the stratified split (the original used `random_state=42`).
pub const SPLIT_SEED: u64 = 42;
/// Share of each class that goes to training.
pub const TRAIN_SHARE: f64 = 0.7;
/// Iteration cap of the solver (the original used `max_iter=200`).
pub const MAX_ITERATIONS: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("training the model failed")]
    Fit(#[source] linfa_logistic::error::Error),
    #[error("the trained model has {0} classes, expected 3")]
    Classes(usize),
}

/// One prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub species: Species,
    /// The largest class probability.
    pub probability: f64,
    pub probabilities: [f64; 3],
}

/// A trained model and how well it did on the held-out rows.
#[derive(Debug, Clone)]
pub struct Model {
    /// weights[feature][class]
    weights: [[f64; 3]; 4],
    intercept: [f64; 3],
    classes: [Species; 3],
    pub accuracy: f64,
    pub train_rows: usize,
    pub test_rows: usize,
    pub test_correct: usize,
    pub training_time: Duration,
}

impl Model {
    /// Trains on a stratified 70/30 split of the 150-row Iris data set.
    pub fn train() -> Result<Self, ModelError> {
        let started = Instant::now();
        let data = linfa_datasets::iris();
        let (train_idx, test_idx) = stratified_split(data.targets(), TRAIN_SHARE, SPLIT_SEED);
        let subset = |idx: &[usize]| {
            let records: Array2<f64> = data.records().select(Axis(0), idx);
            let targets: Array1<usize> = data.targets().select(Axis(0), idx);
            Dataset::new(records, targets)
        };
        let train = subset(&train_idx);
        let test = subset(&test_idx);

        let fitted = MultiLogisticRegression::default()
            .max_iterations(MAX_ITERATIONS)
            .fit(&train)
            .map_err(ModelError::Fit)?;
        let classes_seen = fitted.classes();
        if classes_seen.len() != 3 || fitted.params().dim() != (4, 3) {
            return Err(ModelError::Classes(classes_seen.len()));
        }
        let mut classes = [Species::Setosa; 3];
        for (slot, &label) in classes.iter_mut().zip(classes_seen) {
            // linfa-datasets labels are 0 setosa, 1 versicolor, 2 virginica.
            *slot = *Species::ALL
                .get(label)
                .ok_or(ModelError::Classes(label + 1))?;
        }
        let mut weights = [[0.0; 3]; 4];
        for (f, row) in weights.iter_mut().enumerate() {
            for (c, w) in row.iter_mut().enumerate() {
                *w = fitted.params()[[f, c]];
            }
        }
        let mut intercept = [0.0; 3];
        for (c, b) in intercept.iter_mut().enumerate() {
            *b = fitted.intercept()[c];
        }
        let mut model = Model {
            weights,
            intercept,
            classes,
            accuracy: 0.0,
            train_rows: train_idx.len(),
            test_rows: test_idx.len(),
            test_correct: 0,
            training_time: Duration::ZERO,
        };
        model.test_correct = test
            .records()
            .rows()
            .into_iter()
            .zip(test.targets().iter())
            .filter(|(row, label)| {
                let x = [row[0], row[1], row[2], row[3]];
                Some(model.predict(&x).species) == Species::ALL.get(**label).copied()
            })
            .count();
        model.accuracy = model.test_correct as f64 / model.test_rows.max(1) as f64;
        model.training_time = started.elapsed();
        Ok(model)
    }

    /// Class probabilities for one flower: softmax(x . W + b), total over finite inputs.
    ///
    /// The softmax subtracts the largest logit first, as scikit-learn's `predict_proba` does, so
    /// no `exp` overflows. scikit-learn stops there: a finite feature near `f64::MAX` makes a
    /// logit overflow to +-inf (or NaN, as inf - inf), and the original deployment answers
    /// 500. Here such logits are computed again with the features scaled down by a power of
    /// two (exact in binary floating point), which keeps their order and their differences;
    /// the differences, scaled back, are huge, so the winner's probability rounds to 1 and the
    /// others' to 0, which is what exact arithmetic gives to double precision.
    pub fn predict(&self, x: &[f64; 4]) -> Prediction {
        let logits = self.logits(x, 0);
        let (logits, scale) = if logits.iter().all(|l| l.is_finite()) {
            (logits, 0)
        } else {
            let largest = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            // After scaling every |feature| <= 4 (2^1022 keeps the factor a normal number, so
            // scaling is exact); with weights and intercepts of a few units, nothing overflows.
            let scale = (largest.log2().ceil() as i32).clamp(0, 1022);
            (self.logits(x, scale), scale)
        };
        let probabilities = softmax(logits, scale);
        let (best, probability) = probabilities.iter().copied().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |acc, (i, p)| if p > acc.1 { (i, p) } else { acc },
        );
        Prediction {
            species: self.classes[best],
            probability,
            probabilities,
        }
    }

    /// `(x . W + b) / 2^scale`, with the features scaled before they are multiplied.
    fn logits(&self, x: &[f64; 4], scale: i32) -> [f64; 3] {
        let down = (-f64::from(scale)).exp2();
        let mut logits = self.intercept.map(|b| b * down);
        for (xf, row) in x.iter().zip(&self.weights) {
            let xf = xf * down;
            for (logit, w) in logits.iter_mut().zip(row) {
                *logit += xf * w;
            }
        }
        logits
    }
}

/// Softmax of `logits * 2^scale`, given finite `logits`: shifted by the largest, so every
/// exponent is <= 0 and the largest is exactly 0 (the sum is in [1, 3]).
fn softmax(logits: [f64; 3], scale: i32) -> [f64; 3] {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let up = f64::from(scale).exp2();
    // (l - max) <= 0 is finite; times 2^scale it may reach -inf, and exp(-inf) = 0.
    let mut probabilities = logits.map(|l| ((l - max) * up).exp());
    let sum: f64 = probabilities.iter().sum();
    for p in &mut probabilities {
        *p /= sum;
    }
    probabilities
}

/// Indices of a stratified split: per class, a seeded shuffle, then the first `share` of it.
pub fn stratified_split(labels: &Array1<usize>, share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut classes: Vec<usize> = labels.iter().copied().collect();
    classes.sort_unstable();
    classes.dedup();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        let n_train = (idx.len() as f64 * share).round() as usize;
        train.extend_from_slice(&idx[..n_train]);
        test.extend_from_slice(&idx[n_train..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_disjoint_and_repeatable() {
        let labels = Array1::from_iter((0..150).map(|i| i / 50));
        let (train, test) = stratified_split(&labels, 0.7, SPLIT_SEED);
        assert_eq!((train.len(), test.len()), (105, 45));
        for class in 0..3 {
            assert_eq!(train.iter().filter(|&&i| labels[i] == class).count(), 35);
        }
        assert!(train.iter().all(|i| !test.contains(i)));
        assert_eq!(stratified_split(&labels, 0.7, SPLIT_SEED), (train, test));
    }

    #[test]
    fn trained_model_is_accurate_and_probabilities_sum_to_one() {
        let model = Model::train().unwrap();
        assert_eq!((model.train_rows, model.test_rows), (105, 45));
        assert!(
            model.accuracy >= 0.9,
            "held-out accuracy {}",
            model.accuracy
        );
        let p = model.predict(&[5.1, 3.5, 1.4, 0.2]);
        assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(p.probability > 0.0 && p.probability <= 1.0);
    }

    #[test]
    fn guide_samples_get_their_species() {
        let model = Model::train().unwrap();
        assert_eq!(
            model.predict(&[5.1, 3.5, 1.4, 0.2]).species,
            Species::Setosa
        );
        assert_eq!(
            model.predict(&[6.7, 3.0, 5.2, 2.3]).species,
            Species::Virginica
        );
        assert_eq!(
            model.predict(&[5.9, 3.0, 4.2, 1.5]).species,
            Species::Versicolor
        );
    }

    /// The body from issue 8 that got a 500: logits overflow to inf and NaN.
    const OVERFLOWING: [f64; 4] = [8512355599961433.0, 1.18e16, 1.7976931348623155e308, -3.9e15];

    #[test]
    fn overflowing_logits_still_give_a_probability() {
        let model = Model::train().unwrap();
        let plain = model.logits(&OVERFLOWING, 0);
        assert!(plain.iter().any(|l| !l.is_finite()), "{plain:?}");
        let p = model.predict(&OVERFLOWING);
        assert_eq!(p.probability, 1.0, "{p:?}");
        // Petal length dominates: the class with the largest petal-length weight wins.
        let best = (0..3)
            .max_by(|&a, &b| model.weights[2][a].total_cmp(&model.weights[2][b]))
            .unwrap();
        assert_eq!(p.species, model.classes[best]);
    }

    fn model() -> &'static Model {
        static MODEL: std::sync::OnceLock<Model> = std::sync::OnceLock::new();
        MODEL.get_or_init(|| Model::train().unwrap())
    }

    proptest::proptest! {
        #[test]
        fn every_finite_input_gets_a_distribution(x in proptest::array::uniform4(
            proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO
        )) {
            let p = model().predict(&x);
            proptest::prop_assert!(p.probabilities.iter().all(|q| (0.0..=1.0).contains(q)), "{p:?}");
            proptest::prop_assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p:?}");
            proptest::prop_assert!(p.probability >= 1.0 / 3.0 - 1e-12, "{p:?}");
        }

        #[test]
        fn scaling_keeps_the_winner(v in proptest::array::uniform4(-10.0_f64..10.0), k in 60_i32..1020) {
            // x = v * 2^k: the intercept is negligible, so the winner is argmax of v . W.
            let m = model();
            let direction: [f64; 3] = std::array::from_fn(|c| (0..4).map(|f| v[f] * m.weights[f][c]).sum());
            let mut order = [0, 1, 2];
            order.sort_by(|&a, &b| direction[b].total_cmp(&direction[a]));
            proptest::prop_assume!(direction[order[0]] - direction[order[1]] > 1e-6);
            let x = v.map(|f| f * f64::from(k).exp2());
            let p = m.predict(&x);
            proptest::prop_assert_eq!(p.species, m.classes[order[0]]);
            proptest::prop_assert_eq!(p.probability, 1.0);
        }
    }
}
