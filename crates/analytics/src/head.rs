//! A linear classifier over sentence embeddings (multinomial logistic regression): the
//! sentiment and job-family heads. Trained here (`train`, by `looma eval analyze --train`) on
//! public labelled sets, stored as JSON in `data/`, and only used with vectors of the model it
//! was trained on.

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("classifier file is not valid: {0}")]
    Invalid(String),
}

/// How a head was trained, kept in its file for whoever reads it later.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainingParams {
    /// L2 penalty on the weights.
    pub l2: f32,
    pub epochs: usize,
    pub learning_rate: f32,
    /// Examples per step.
    pub batch: usize,
    /// Seed of the example order.
    pub seed: u64,
}

impl Default for TrainingParams {
    fn default() -> Self {
        TrainingParams {
            l2: 1e-4,
            epochs: 30,
            learning_rate: 0.01,
            batch: 32,
            seed: 7,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinearHead {
    /// The embedding model id the head reads vectors of.
    pub model: String,
    /// What it was trained on, in words.
    pub trained_on: String,
    pub params: TrainingParams,
    pub labels: Vec<String>,
    pub dimension: usize,
    /// One row of `dimension` weights per label.
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

impl LinearHead {
    pub fn from_json(text: &str) -> Result<Self, HeadError> {
        let head: LinearHead =
            serde_json::from_str(text).map_err(|e| HeadError::Invalid(e.to_string()))?;
        if head.labels.is_empty()
            || head.weights.len() != head.labels.len()
            || head.bias.len() != head.labels.len()
            || head.weights.iter().any(|row| row.len() != head.dimension)
        {
            return Err(HeadError::Invalid(format!(
                "{} labels, {} weight rows, {} biases, dimension {}",
                head.labels.len(),
                head.weights.len(),
                head.bias.len(),
                head.dimension
            )));
        }
        Ok(head)
    }

    /// The file form: pretty-printed JSON, weights rounded to 5 decimals.
    pub fn to_json(&self) -> String {
        let rounded = LinearHead {
            weights: self
                .weights
                .iter()
                .map(|row| row.iter().map(|w| round5(*w)).collect())
                .collect(),
            bias: self.bias.iter().map(|b| round5(*b)).collect(),
            ..self.clone()
        };
        serde_json::to_string_pretty(&rounded).unwrap_or_default()
    }

    /// Whether vectors of `model_id` with `dimension` entries can be read.
    pub fn accepts(&self, model_id: &str, dimension: usize) -> bool {
        self.model == model_id && self.dimension == dimension
    }

    /// Probability of each label (softmax over the scores), in `labels` order.
    pub fn probabilities(&self, vector: &[f32]) -> Vec<f32> {
        let mut scores: Vec<f32> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(row, bias)| dot(row, vector) + bias)
            .collect();
        softmax(&mut scores);
        scores
    }

    /// The most probable label's index and probability.
    pub fn predict(&self, vector: &[f32]) -> (usize, f32) {
        self.probabilities(vector)
            .into_iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    }

    /// Trains on `examples` (vector, label index) by mini-batch gradient descent with Adam on
    /// the cross-entropy plus an L2 penalty. Deterministic for the same inputs and params.
    pub fn train(
        examples: &[(Vec<f32>, usize)],
        labels: Vec<String>,
        model: &str,
        trained_on: &str,
        params: TrainingParams,
    ) -> LinearHead {
        let classes = labels.len();
        let dimension = examples.first().map_or(0, |(v, _)| v.len());
        let width = dimension + 1; // the bias is the last column
        let mut w = vec![0.0f32; classes * width];
        let mut m = vec![0.0f32; w.len()];
        let mut v = vec![0.0f32; w.len()];
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = params.seed.max(1);
        let mut step = 0i32;
        let mut grad = vec![0.0f32; w.len()];
        let mut scores = vec![0.0f32; classes];
        for _ in 0..params.epochs {
            shuffle(&mut order, &mut rng);
            for batch in order.chunks(params.batch.max(1)) {
                grad.iter_mut().for_each(|g| *g = 0.0);
                for &index in batch {
                    let (x, y) = &examples[index];
                    for (c, score) in scores.iter_mut().enumerate() {
                        let row = &w[c * width..(c + 1) * width];
                        *score = dot(&row[..dimension], x) + row[dimension];
                    }
                    softmax(&mut scores);
                    for (c, p) in scores.iter().enumerate() {
                        let delta = p - if c == *y { 1.0 } else { 0.0 };
                        let row = &mut grad[c * width..(c + 1) * width];
                        for (g, xi) in row[..dimension].iter_mut().zip(x) {
                            *g += delta * xi;
                        }
                        row[dimension] += delta;
                    }
                }
                let n = batch.len() as f32;
                step += 1;
                let (c1, c2) = (1.0 - beta1.powi(step), 1.0 - beta2.powi(step));
                for i in 0..w.len() {
                    let penalty = if i % width == dimension {
                        0.0
                    } else {
                        params.l2 * w[i]
                    };
                    let g = grad[i] / n + penalty;
                    m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                    w[i] -= params.learning_rate * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
                }
            }
        }
        LinearHead {
            model: model.to_owned(),
            trained_on: trained_on.to_owned(),
            params,
            labels,
            dimension,
            weights: (0..classes)
                .map(|c| w[c * width..c * width + dimension].to_vec())
                .collect(),
            bias: (0..classes).map(|c| w[c * width + dimension]).collect(),
        }
    }
}

fn round5(x: f32) -> f32 {
    (x * 1e5).round() / 1e5
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    if sum > 0.0 {
        scores.iter_mut().for_each(|s| *s /= sum);
    }
}

/// Fisher–Yates with xorshift64: the same order for the same seed on every machine.
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let j = (*state % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three clusters around different axes, with noise that makes no two points equal.
    fn clusters(n: usize) -> Vec<(Vec<f32>, usize)> {
        (0..n)
            .map(|i| {
                let label = i % 3;
                let mut x = vec![0.0f32; 8];
                x[label] = 1.0;
                x[(label + 3) % 8] = 0.5;
                for (j, xj) in x.iter_mut().enumerate() {
                    *xj += ((i * 31 + j * 17) % 13) as f32 / 40.0 - 0.15;
                }
                (x, label)
            })
            .collect()
    }

    #[test]
    fn learns_separable_classes_and_round_trips_through_json() {
        let data = clusters(300);
        let labels = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let head = LinearHead::train(&data, labels, "m", "clusters", TrainingParams::default());
        let correct = data.iter().filter(|(x, y)| head.predict(x).0 == *y).count();
        assert!(correct >= 295, "{correct}/300");
        let reread = LinearHead::from_json(&head.to_json()).expect("valid");
        assert!(reread.accepts("m", 8));
        assert!(!reread.accepts("other-model", 8));
        for (x, _) in data.iter().take(20) {
            let (a, b) = (head.predict(x), reread.predict(x));
            assert_eq!(a.0, b.0);
            assert!((a.1 - b.1).abs() < 1e-3);
        }
        let p = head.probabilities(&data[0].0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn training_is_deterministic() {
        let data = clusters(60);
        let labels = || vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let a = LinearHead::train(&data, labels(), "m", "", TrainingParams::default());
        let b = LinearHead::train(&data, labels(), "m", "", TrainingParams::default());
        assert_eq!(a.weights, b.weights);
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(LinearHead::from_json("{}").is_err());
        let bad = r#"{"model":"m","trained_on":"","params":{"l2":0,"epochs":1,
            "learning_rate":0.1,"batch":1,"seed":1},"labels":["a","b"],"dimension":2,
            "weights":[[1,2]],"bias":[0,0]}"#;
        assert!(LinearHead::from_json(bad).is_err());
    }
}
