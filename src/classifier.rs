//! `Classifier`: a recurrent cell read out by a softmax layer, with fit / predict / accuracy.
//! [`RnnClassifier`] is the one of the tutorial, a tanh RNN:
//!
//! ```text
//! a_t = x_t·W_x + h_(t-1)·W_h + b,   h_t = tanh(a_t)          t = 1..=T, h_0 = 0
//! z   = h_T·W_out + b_out                                      logits, batch × classes
//! p   = softmax(z),   prediction = argmax_k z_k
//! L   = (1/B) Σ_i −log p_i[label_i]                            mean cross-entropy
//! ```
//!
//! Any cell takes the RNN's place (`Classifier<Lstm>`, built by [`Classifier::with_cell`]): the
//! readout is always its last `h_T`, from a zero initial state. Fitting builds the [`Case`] with
//! the softmax head on the training data and hands it to [`crate::train::train`], so every
//! training option (optimizer, clipping, mini-batches, hand BPTT or tape) applies.

use crate::case::Case;
use crate::cell::{Cell, Dim};
use crate::cells::Rnn;
use crate::error::{Error, Result};
use crate::gradients::Gradients;
use crate::init::{self, Init};
use crate::loss::{Head, check_softmax_params};
use crate::matrix::Matrix;
use crate::ops::softmax;
use crate::train::{History, TrainConfig, train};
use rand::rngs::ChaCha8Rng;

/// Time steps per sequence of [`sum_sign_data`] (seed 000's task).
pub const STEPS: usize = 5;
/// Features per step of [`sum_sign_data`].
pub const FEATURES: usize = 3;

/// Seed 000's task: `n` sequences of [`STEPS`] × [`FEATURES`] standard normal numbers, drawn sequence by
/// sequence, step by step (numpy's `randn(n, 5, 3)` order), and their labels
/// `[Σ_t Σ_f x[i][t][f] > 0]`. Returns `x_1 … x_T` (each `n × features`) and the labels.
pub fn sum_sign_data(rng: &mut ChaCha8Rng, n: usize) -> (Vec<Matrix<f64>>, Vec<usize>) {
    let draws = init::normal(rng, n, STEPS * FEATURES, 1.0);
    let x = (0..STEPS)
        .map(|t| Matrix::from_fn(n, FEATURES, |i, f| draws[(i, t * FEATURES + f)]))
        .collect();
    let labels = (0..n)
        .map(|i| usize::from(draws.row(i).iter().sum::<f64>() > 0.0))
        .collect();
    (x, labels)
}

/// A sequence classifier: a cell's last state `h_T` through a dense softmax layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Classifier<C = Rnn> {
    /// The recurrent cell (for the RNN: tanh unless built otherwise).
    pub cell: C,
    /// The recurrent layer's parameters, in the order of [`Cell::PARAMS`] (`W_x`, `W_h`, `b`).
    pub params: Vec<Matrix<f64>>,
    /// Output weights, `hidden × classes`.
    pub w_out: Matrix<f64>,
    /// Output bias, `1 × classes`.
    pub b_out: Matrix<f64>,
}

/// The tutorial's classifier: a tanh RNN and a softmax layer.
pub type RnnClassifier = Classifier<Rnn>;

impl Classifier<Rnn> {
    /// A classifier with `W_x`, `W_h` and `W_out` drawn by `init` (in that order, from `rng`)
    /// and `b = 0`, `b_out = 0`; tanh activation.
    pub fn new(
        features: usize,
        hidden: usize,
        classes: usize,
        init: Init,
        rng: &mut ChaCha8Rng,
    ) -> Result<RnnClassifier> {
        Classifier::with_cell(Rnn::default(), features, hidden, classes, init, rng)
    }
}

impl<C: Cell> Classifier<C> {
    /// A classifier of `cell` with every weight matrix of [`Cell::PARAMS`] drawn by `init`, in
    /// that order from `rng`, then `W_out`; every bias and `b_out` zero.
    pub fn with_cell(
        cell: C,
        features: usize,
        hidden: usize,
        classes: usize,
        init: Init,
        rng: &mut ChaCha8Rng,
    ) -> Result<Classifier<C>> {
        let params = C::PARAMS
            .iter()
            .map(|p| {
                let (rows, cols) = p.shape(features, hidden);
                match p.rows {
                    Dim::One => Matrix::zeros(rows, cols),
                    Dim::Features | Dim::Hidden(_) => init.matrix(rng, rows, cols),
                }
            })
            .collect();
        let w_out = init.matrix(rng, hidden, classes);
        Classifier::from_parts(cell, params, w_out, Matrix::zeros(1, classes))
    }

    /// A classifier from given parameters (in the order of [`Cell::PARAMS`]); checks them as a
    /// case would, and that `W_out` is `hidden × classes` (classes ≥ 1) and `b_out` is
    /// `1 × classes`.
    pub fn from_parts(
        cell: C,
        params: Vec<Matrix<f64>>,
        w_out: Matrix<f64>,
        b_out: Matrix<f64>,
    ) -> Result<Classifier<C>> {
        let features = params.first().map_or(0, Matrix::rows);
        // A one-step, one-sequence case checks the recurrent layer's shapes.
        let probe = vec![Matrix::zeros(1, features)];
        let hidden = Case::new(cell.clone(), params.clone(), probe, vec![], Head::SumLast)?
            .dims()
            .hidden;
        check_softmax_params(&w_out, &b_out, hidden)?;
        Ok(Classifier {
            cell,
            params,
            w_out,
            b_out,
        })
    }

    /// Number of classes (columns of `W_out`).
    pub fn classes(&self) -> usize {
        self.w_out.cols()
    }

    /// The training problem on `x` (`x_t = x[t-1]`, each `batch × features`) with `labels`.
    fn case(&self, x: &[Matrix<f64>], labels: &[usize]) -> Result<Case<f64, C>> {
        let head = Head::softmax_ce(self.w_out.clone(), self.b_out.clone(), labels.to_vec());
        Case::new(
            self.cell.clone(),
            self.params.clone(),
            x.to_vec(),
            vec![],
            head,
        )
    }

    /// The logits `z = h_T·W_out + b_out` (`batch × classes`), from `h_0 = 0`.
    pub fn logits(&self, x: &[Matrix<f64>]) -> Result<Matrix<f64>> {
        let batch = x.first().map_or(0, Matrix::rows);
        // Built by hand rather than by `Case::new`, which refuses NaN weights: those of a
        // diverged run must reach `predict`, which says what they mean. The forward pass still
        // checks every shape.
        let zeros = Matrix::zeros(batch, self.w_out.rows());
        let case = Case {
            cell: self.cell.clone(),
            params: self.params.clone(),
            x: x.to_vec(),
            initial: vec![zeros; C::STATES.len()],
            head: Head::SumLast,
        };
        let fwd = case.forward()?;
        fwd.h(fwd.steps()).matmul(&self.w_out)?.add_row(&self.b_out)
    }

    /// The class probabilities `p = softmax(z)`, one row per sequence.
    pub fn predict_proba(&self, x: &[Matrix<f64>]) -> Result<Matrix<f64>> {
        Ok(softmax(&self.logits(x)?))
    }

    /// The predicted class of each sequence, `argmax_k z_k` (the first one on a tie). Logits
    /// that are NaN or infinite (weights of a diverged run) are an error, not class 0.
    pub fn predict(&self, x: &[Matrix<f64>]) -> Result<Vec<usize>> {
        let z = self.logits(x)?;
        if let Some((i, j)) = z.first_non_finite() {
            return Err(Error::NonFinite {
                what: "logits z = h_T·W_out + b_out (has training diverged?)".into(),
                index: format!("[{i}][{j}]"),
            });
        }
        Ok((0..z.rows())
            .map(|i| {
                let row = z.row(i);
                (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best })
            })
            .collect())
    }

    /// The fraction of sequences whose prediction equals the label.
    pub fn accuracy(&self, x: &[Matrix<f64>], labels: &[usize]) -> Result<f64> {
        let predictions = self.predict(x)?;
        if labels.len() != predictions.len() {
            return Err(Error::bad_shape(
                "labels",
                format!("{} labels (one per sequence)", predictions.len()),
                format!("{} labels", labels.len()),
            ));
        }
        let right = predictions
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        Ok(right as f64 / labels.len() as f64)
    }

    /// Every gradient of the mean cross-entropy on `x` with `labels`, by hand BPTT, each step's
    /// included: `dx` at `t = 1` is how much of the loss's gradient reaches the first input.
    pub fn gradients(&self, x: &[Matrix<f64>], labels: &[usize]) -> Result<Gradients<f64>> {
        self.case(x, labels)?.bptt()
    }

    /// The mean cross-entropy `L` on `x` with `labels`.
    pub fn loss(&self, x: &[Matrix<f64>], labels: &[usize]) -> Result<f64> {
        self.case(x, labels)?.loss()
    }

    /// Trains on `x` with `labels` as `config` says and returns the loss history (check
    /// [`History::diverged_at`]: a diverged run leaves NaN or infinite weights).
    pub fn fit(
        &mut self,
        x: &[Matrix<f64>],
        labels: &[usize],
        config: &TrainConfig,
    ) -> Result<History> {
        let mut case = self.case(x, labels)?;
        let history = train(&mut case, config)?;
        let Head::SoftmaxCe { w_out, b_out, .. } = case.head else {
            unreachable!("invariant: training keeps the case's softmax head")
        };
        *self = Classifier {
            cell: case.cell,
            params: case.params,
            w_out,
            b_out,
        };
        Ok(history)
    }
}
