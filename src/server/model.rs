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

use crate::api::Species;

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

    /// Class probabilities for one flower: softmax(x . W + b).
    pub fn predict(&self, x: &[f64; 4]) -> Prediction {
        let mut logits = self.intercept;
        for (xf, row) in x.iter().zip(&self.weights) {
            for (logit, w) in logits.iter_mut().zip(row) {
                *logit += xf * w;
            }
        }
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut probabilities = logits.map(|l| (l - max).exp());
        let sum: f64 = probabilities.iter().sum();
        for p in &mut probabilities {
            *p /= sum;
        }
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
}
