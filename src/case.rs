//! A case: everything one gradient check needs, i.e. the inputs `x_1 … x_T` and `h_0`, the RNN's
//! parameters and the head. The canonical example of the seed notebooks is one; seeded random
//! cases are others; the command-line tool reads users' own from JSON.
//!
//! A `Case` computes its gradients two ways, [`Case::bptt`] (by hand) and
//! [`Case::tape_gradients`] (on the tape); [`crate::check`] adds the third, finite differences.

use crate::bptt;
use crate::error::{Error, Result};
use crate::loss::{Head, TapeHead};
use crate::matrix::Matrix;
use crate::rnn::{Activation, Forward, Gradients, Rnn, StepGrads, TapeRnn};
use crate::scalar::Scalar;
use crate::tape::Tape;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// One complete problem: inputs, parameters and loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Case<T> {
    /// The parameters `W_x`, `W_h`, `b` and the activation.
    pub rnn: Rnn<T>,
    /// `x_1 … x_T` at indices `0 … T−1`, each `batch × features`.
    pub x: Vec<Matrix<T>>,
    /// The initial state `h_0`, `batch × hidden`.
    pub h0: Matrix<T>,
    /// The loss on top of the states.
    pub head: Head<T>,
}

/// The sizes of a case: numpy's `x.shape == (batch, steps, features)` and `hidden` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Sequences in the batch, `B`.
    pub batch: usize,
    /// Time steps, `T`.
    pub steps: usize,
    /// Input features, `F`.
    pub features: usize,
    /// Hidden units, `H`.
    pub hidden: usize,
}

/// Which head a random case gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadKind {
    /// `L = Σ h_T`.
    SumLast,
    /// Softmax cross-entropy over this many classes.
    SoftmaxCe(usize),
    /// `L = ½ Σ_t Σ (h_t − y_t)²` with random targets.
    MseAll,
    /// `L = (1/B) Σ (h_T − y)²` with a random target.
    MseLast,
}

/// A `rows × cols` matrix of independent `N(0, std²)` draws.
fn normal_matrix<T: Scalar>(rng: &mut ChaCha8Rng, rows: usize, cols: usize, std: f64) -> Matrix<T> {
    Matrix::from_fn(rows, cols, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        T::from_f64(std * z)
    })
}

/// Refuses NaN and infinity in `m`, naming `what` and the entry.
fn check_finite<T: Scalar>(what: &str, m: &Matrix<T>) -> Result<()> {
    match m.first_non_finite() {
        Some((i, j)) => Err(Error::NonFinite {
            what: what.to_string(),
            index: format!("[{i}][{j}]"),
        }),
        None => Ok(()),
    }
}

impl<T: Scalar> Case<T> {
    /// Checks every shape against every other and every value for NaN or infinity, then
    /// builds the case. `h0 = None` means zeros.
    pub fn new(
        rnn: Rnn<T>,
        x: Vec<Matrix<T>>,
        h0: Option<Matrix<T>>,
        head: Head<T>,
    ) -> Result<Case<T>> {
        let batch = x.first().map_or(0, Matrix::rows);
        let h0 = h0.unwrap_or_else(|| Matrix::zeros(batch, rnn.hidden()));
        rnn.check_inputs(&x, &h0)?;
        head.check(batch, rnn.hidden(), x.len())?;
        check_finite("w_x", &rnn.w_x)?;
        check_finite("w_h", &rnn.w_h)?;
        check_finite("b", &rnn.b)?;
        check_finite("h0", &h0)?;
        for (t, x_t) in x.iter().enumerate() {
            check_finite(&format!("x (step t = {})", t + 1), x_t)?;
        }
        match &head {
            Head::SumLast => {}
            Head::SoftmaxCe { w_out, b_out, .. } => {
                check_finite("loss.w_out", w_out)?;
                check_finite("loss.b_out", b_out)?;
            }
            Head::MseAll { targets } => {
                for (t, y) in targets.iter().enumerate() {
                    check_finite(&format!("loss.targets (step t = {})", t + 1), y)?;
                }
            }
            Head::MseLast { target } => check_finite("loss.target", target)?,
        }
        Ok(Case { rnn, x, h0, head })
    }

    /// The example every seed notebook has: `x = [[[1,2],[2,3],[3,4]]]/100`,
    /// `W_x = [[1,3,5,7],[3,5,7,8]]/100`, `W_h = [[1,3,5,7],[2,4,6,8],[3,5,7,8],[4,6,8,10]]/100`,
    /// `b = [1,1,1,1]`, `h_0 = 0`, tanh, `L = Σ h_3`. Its final state is
    /// `h_3 = [[0.79494228 0.81839002 0.83939649 0.85584174]]`.
    pub fn canonical() -> Case<T> {
        let hundredths = |rows: &[&[f64]]| {
            Matrix::from_fn(rows.len(), rows[0].len(), |i, j| {
                T::from_f64(rows[i][j] / 100.0)
            })
        };
        let w_x = hundredths(&[&[1.0, 3.0, 5.0, 7.0], &[3.0, 5.0, 7.0, 8.0]]);
        let w_h = hundredths(&[
            &[1.0, 3.0, 5.0, 7.0],
            &[2.0, 4.0, 6.0, 8.0],
            &[3.0, 5.0, 7.0, 8.0],
            &[4.0, 6.0, 8.0, 10.0],
        ]);
        let b = Matrix::filled(1, 4, T::one());
        let x = vec![
            hundredths(&[&[1.0, 2.0]]),
            hundredths(&[&[2.0, 3.0]]),
            hundredths(&[&[3.0, 4.0]]),
        ];
        let rnn = Rnn::new(w_x, w_h, b, Activation::Tanh).expect("canonical shapes fit");
        Case::new(rnn, x, None, Head::SumLast).expect("the canonical case is valid")
    }

    /// A seeded random case: `x ~ N(0, 1)`, `W_x ~ N(0, 1/F)`, `W_h ~ N(0, 1/H)`,
    /// `b, h_0 ~ N(0, 0.1²)`, and for the heads `W_out ~ N(0, 1/H)`, `b_out ~ N(0, 0.1²)`,
    /// labels uniform, targets `~ N(0, 0.5²)`. The same seed gives the same case on every
    /// machine (ChaCha8).
    pub fn random(seed: u64, dims: Dims, head: HeadKind, activation: Activation) -> Case<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal =
            |rows: usize, cols: usize, std: f64| normal_matrix(&mut rng, rows, cols, std);
        let Dims {
            batch,
            steps,
            features,
            hidden,
        } = dims;
        let w_x = normal(features, hidden, 1.0 / (features as f64).sqrt());
        let w_h = normal(hidden, hidden, 1.0 / (hidden as f64).sqrt());
        let b = normal(1, hidden, 0.1);
        let h0 = normal(batch, hidden, 0.1);
        let x = (0..steps).map(|_| normal(batch, features, 1.0)).collect();
        let head = match head {
            HeadKind::SumLast => Head::SumLast,
            HeadKind::SoftmaxCe(classes) => {
                let w_out = normal(hidden, classes, 1.0 / (hidden as f64).sqrt());
                let b_out = normal(1, classes, 0.1);
                let mut labels_rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
                let labels = (0..batch)
                    .map(|_| labels_rng.random_range(0..classes))
                    .collect();
                Head::SoftmaxCe {
                    w_out,
                    b_out,
                    labels,
                }
            }
            HeadKind::MseAll => Head::MseAll {
                targets: (0..steps).map(|_| normal(batch, hidden, 0.5)).collect(),
            },
            HeadKind::MseLast => Head::MseLast {
                target: normal(batch, hidden, 0.5),
            },
        };
        let rnn = Rnn::new(w_x, w_h, b, activation).expect("random shapes fit");
        Case::new(rnn, x, Some(h0), head).expect("a random case is valid")
    }

    /// The sizes of the case.
    pub fn dims(&self) -> Dims {
        Dims {
            batch: self.h0.rows(),
            steps: self.x.len(),
            features: self.rnn.features(),
            hidden: self.rnn.hidden(),
        }
    }

    /// The plain forward pass.
    pub fn forward(&self) -> Result<Forward<T>> {
        self.rnn.forward(&self.x, &self.h0)
    }

    /// The loss `L`, after checking the head against the inputs.
    pub fn loss(&self) -> Result<T> {
        self.head.loss(self.forward()?.states())
    }

    /// Every gradient by hand BPTT ([`crate::bptt`]).
    pub fn bptt(&self) -> Result<Gradients<T>> {
        let fwd = self.forward()?;
        let loss = self.head.loss(fwd.states())?;
        let head = self.head.grads(fwd.states())?;
        Ok(bptt::backward(&self.rnn, &self.x, &fwd, head, loss))
    }

    /// Records the forward pass and the head on `tape`.
    pub fn record<'t>(&self, tape: &'t Tape<T>) -> Result<(TapeRnn<'t, T>, TapeHead<'t, T>)> {
        // The fields are public, so a case may not have come through `Case::new`.
        self.head
            .check(self.h0.rows(), self.rnn.hidden(), self.x.len())?;
        let rnn = self.rnn.forward_on_tape(tape, &self.x, &self.h0)?;
        let head = self.head.on_tape(&rnn.h)?;
        Ok((rnn, head))
    }

    /// Every gradient from one backward sweep of the tape, read back by handle: `dh[t]` from
    /// the node `h_t`, `da[t]` from `a_t`, `dx[t]` from the leaf `x_t`, and step t's weight
    /// contributions from step t's aliases of `W_x`, `W_h`, `b`.
    pub fn tape_gradients(&self) -> Result<Gradients<T>> {
        let tape = Tape::new();
        let (rnn, head) = self.record(&tape)?;
        let grads = head.loss.backward();
        let steps = (0..self.x.len())
            .map(|i| StepGrads {
                dh: grads.wrt(rnn.h[i + 1]),
                da: grads.wrt(rnn.a[i]),
                dx: grads.wrt(rnn.x[i]),
                dw_x: grads.wrt(rnn.w_x_t[i]),
                dw_h: grads.wrt(rnn.w_h_t[i]),
                db: grads.wrt(rnn.b_t[i]),
            })
            .collect();
        Ok(Gradients {
            loss: head.loss.value()[(0, 0)],
            steps,
            dh0: grads.wrt(rnn.h[0]),
            w_x: grads.wrt(rnn.w_x),
            w_h: grads.wrt(rnn.w_h),
            b: grads.wrt(rnn.b),
            head: head.params.map(|(w, b)| (grads.wrt(w), grads.wrt(b))),
        })
    }
}
