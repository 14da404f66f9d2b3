//! The heads: the loss `L` computed from the states `h_1 … h_T`.
//!
//! | head | loss (its default reduction) | its direct gradient `∂ℓ/∂h_t` |
//! |---|---|---|
//! | `sum_last` | `L = Σ h_T` | `1` at `t = T`, `0` before |
//! | `softmax_ce` | `z = h_T·W_out + b_out`, `L = (1/B) Σ_i −log softmax(z_i)[label_i]` | `(P − Y)/B · W_outᵀ` at `t = T` |
//! | `softmax_ce_all` | `z_t = h_t·W_out + b_out`, `L = (1/B) Σ_t Σ_i m_ti · (−log softmax(z_ti)[label_ti])` | `m_t ⊙ (P_t − Y_t)/B · W_outᵀ` at every `t` |
//! | `mse_all` | `L = ½ Σ_t Σ (h_t − y_t)²` | `h_t − y_t` at every `t` |
//! | `mse_last` | `L = (1/B) Σ (h_T − y)²` | `2(h_T − y)/B` at `t = T` |
//! | `upstream` | `L = Σ_t ⟨dout_t, h_t⟩` | `dout_t` at every `t` |
//!
//! Every head that sums over the batch takes a [`Reduction`]: `Mean` divides that sum by `B`,
//! `Sum` does not. The squared errors also take `half`, a factor ½. `softmax_ce_all` is CS231n's
//! `temporal_softmax_loss` (the mask `m` leaves out padded steps); `upstream` is the gradient a
//! caller passes to a backward pass such as CS231n's `rnn_backward(dh, cache)`.
//!
//! `∂ℓ/∂h_t` is the *direct* part only: how `L` changes with `h_t` through the head itself. The
//! total `dh[t]` adds what flows back from later steps; that is BPTT's job (see [`crate::bptt`]).

use crate::error::{Error, Result, shape_str};
use crate::gradients::Named;
use crate::matrix::Matrix;
use crate::ops::{softmax_cross_entropy, softmax_cross_entropy_vjp};
use crate::scalar::{Scalar, lit};
use crate::tape::Var;

/// How a head combines the losses of the sequences of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// `(1/B) Σ_i`: the mean over the batch.
    Mean,
    /// `Σ_i`: the sum over the batch.
    Sum,
}

impl Reduction {
    /// The name a case file uses: `"mean"` or `"sum"`.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        }
    }

    /// The factor on the sum over a batch of `batch`: `1/B` for the mean, `1` for the sum.
    pub fn factor<T: Scalar>(self, batch: usize) -> T {
        match self {
            Reduction::Mean => T::one() / T::from_f64(batch as f64),
            Reduction::Sum => T::one(),
        }
    }
}

/// The loss on top of the network's states (the first part of a cell's state, `h`).
#[derive(Clone, Debug, PartialEq)]
pub enum Head<T> {
    /// `L = Σ h_T`: the simplest head, used by the canonical example (`∂L/∂h_T = 1`).
    SumLast,
    /// A dense softmax classifier on the last state: `z = h_T·W_out + b_out`,
    /// `L = (1/B) Σ_i −log softmax(z_i)[label_i]` (the mean; `Σ_i` for [`Reduction::Sum`]).
    /// [`Head::softmax_ce`] builds it with the mean.
    SoftmaxCe {
        /// Output weights, `hidden × classes`.
        w_out: Matrix<T>,
        /// Output bias, a `1 × classes` row.
        b_out: Matrix<T>,
        /// One class index per sequence of the batch.
        labels: Vec<usize>,
        /// Mean (the default) or sum over the batch.
        reduction: Reduction,
    },
    /// The same classifier at every step (CS231n's temporal softmax): `z_t = h_t·W_out + b_out`,
    /// `L = (1/B) Σ_t Σ_i m_ti · (−log softmax(z_ti)[label_ti])`, summed over steps, the mean
    /// over the batch by default. [`Head::softmax_ce_all`] builds it with no step masked.
    SoftmaxCeAll {
        /// Output weights, `hidden × classes`.
        w_out: Matrix<T>,
        /// Output bias, a `1 × classes` row.
        b_out: Matrix<T>,
        /// `labels[t − 1][i]`: the class of sequence `i` at step `t`.
        labels: Vec<Vec<usize>>,
        /// `mask[t − 1][i]`: whether sequence `i` counts at step `t` (`m_ti`, 1 or 0).
        mask: Vec<Vec<bool>>,
        /// Mean (the default) or sum over the batch.
        reduction: Reduction,
    },
    /// `L = ½ Σ_t Σ (h_t − y_t)²`: a target at every step (many-to-many); `half: false` drops
    /// the ½ and [`Reduction::Mean`] divides by `B`. [`Head::mse_all`] builds it as written.
    MseAll {
        /// `y_1 … y_T`, each `batch × hidden`.
        targets: Vec<Matrix<T>>,
        /// Sum (the default) or mean over the batch.
        reduction: Reduction,
        /// Whether the squares carry a factor ½ (the default).
        half: bool,
    },
    /// `L = (1/B) Σ (h_T − y)²`: squared error of the last state, summed over units and
    /// averaged over the batch (the cost of the seed 004 counting notebook); `half: true` adds a
    /// factor ½ and [`Reduction::Sum`] drops the `1/B`. [`Head::mse_last`] builds it as written.
    MseLast {
        /// `y`, `batch × hidden`.
        target: Matrix<T>,
        /// Mean (the default) or sum over the batch.
        reduction: Reduction,
        /// Whether the squares carry a factor ½ (not by default).
        half: bool,
    },
    /// `L = Σ_t ⟨dout_t, h_t⟩`, so that `∂ℓ/∂h_t = dout_t`: the upstream gradient a caller hands
    /// to a backward pass (CS231n's `rnn_backward(dh, cache)`, Coursera's `rnn_backward(da,
    /// caches)`), given for every step.
    Upstream {
        /// `dout_1 … dout_T`, each `batch × hidden`.
        dout: Vec<Matrix<T>>,
    },
}

/// What the head contributes to the backward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadGrads<T> {
    /// `∂ℓ/∂h_t` for `t = 1..=T` (index `t − 1`): the head's direct gradient on each state.
    pub dl_dh: Vec<Matrix<T>>,
    /// The gradients of the head's own parameters, by key (`w_out`, `b_out` for `softmax_ce`).
    pub params: Named<T>,
}

/// The head recorded on a tape: the loss node, and the leaves of the head's own parameters.
#[derive(Clone, Debug)]
pub struct TapeHead<'t, T> {
    /// The scalar loss `L` (`1×1`).
    pub loss: Var<'t, T>,
    /// The leaves of the head's parameters, by key (`w_out`, `b_out` for `softmax_ce`).
    pub params: Vec<(&'static str, Var<'t, T>)>,
}

/// A head's parameter: its key in case files and `grads.…`, and its name in traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadParam {
    /// `"w_out"`.
    pub key: &'static str,
    /// `"W_out"`.
    pub shown: &'static str,
    /// True for a row that numpy stores as a 1-D array (`b_out`).
    pub row: bool,
}

/// Every parameter a head may have: the softmax head's `W_out` and `b_out`.
pub const HEAD_PARAMS: [HeadParam; 2] = [
    HeadParam {
        key: "w_out",
        shown: "W_out",
        row: false,
    },
    HeadParam {
        key: "b_out",
        shown: "b_out",
        row: true,
    },
];

const SHAPES: &str = "invariant: head shapes were checked by Head::check";

/// Checks the softmax layer's parameters on states of `hidden` units: `W_out` is
/// `hidden × classes` with at least one class, and `b_out` a `1 × classes` row.
pub fn check_softmax_params<T: Scalar>(
    w_out: &Matrix<T>,
    b_out: &Matrix<T>,
    hidden: usize,
) -> Result<()> {
    if w_out.rows() != hidden || w_out.cols() == 0 {
        return Err(Error::bad_shape(
            "loss.w_out",
            format!("{hidden}×classes (hidden × classes, classes ≥ 1)"),
            shape_str(w_out.shape()),
        ));
    }
    if b_out.shape() != (1, w_out.cols()) {
        return Err(Error::bad_shape(
            "loss.b_out",
            format!("1×{} (a row of classes entries, from w_out)", w_out.cols()),
            shape_str(b_out.shape()),
        ));
    }
    Ok(())
}

/// Checks one row of labels: `batch` class indices below `classes`, at `path` (`loss.labels`).
fn check_label_row(labels: &[usize], batch: usize, classes: usize, path: &str) -> Result<()> {
    if labels.len() != batch {
        return Err(Error::bad_shape(
            path,
            format!("{batch} labels (one per sequence of the batch)"),
            format!("{} labels", labels.len()),
        ));
    }
    match labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
        Some((i, &l)) => Err(Error::invalid(
            format!("{path}[{i}]"),
            format!("label {l} is out of range for {classes} classes (from w_out)"),
        )),
        None => Ok(()),
    }
}

/// Checks one matrix per step, each `batch × hidden`, at `path` (`loss.targets`).
fn check_per_step<T: Scalar>(
    values: &[Matrix<T>],
    (batch, hidden, steps): (usize, usize, usize),
    path: &str,
) -> Result<()> {
    if values.len() != steps {
        return Err(Error::bad_shape(
            path,
            format!("{steps} steps (one per step of x)"),
            format!("{} steps", values.len()),
        ));
    }
    for (i, y) in values.iter().enumerate() {
        if y.shape() != (batch, hidden) {
            return Err(Error::bad_shape(
                format!("{path} (step t = {})", i + 1),
                format!("{batch}×{hidden} (batch × hidden)"),
                shape_str(y.shape()),
            ));
        }
    }
    Ok(())
}

impl<T: Scalar> Head<T> {
    /// `softmax_ce` with its default reduction, the mean over the batch.
    pub fn softmax_ce(w_out: Matrix<T>, b_out: Matrix<T>, labels: Vec<usize>) -> Head<T> {
        Head::SoftmaxCe {
            w_out,
            b_out,
            labels,
            reduction: Reduction::Mean,
        }
    }

    /// `softmax_ce_all` with no step masked and the mean over the batch; `labels[t − 1][i]` is
    /// the class of sequence `i` at step `t`.
    pub fn softmax_ce_all(w_out: Matrix<T>, b_out: Matrix<T>, labels: Vec<Vec<usize>>) -> Head<T> {
        let mask = labels.iter().map(|row| vec![true; row.len()]).collect();
        Head::SoftmaxCeAll {
            w_out,
            b_out,
            labels,
            mask,
            reduction: Reduction::Mean,
        }
    }

    /// `mse_all` as its default: `L = ½ Σ_t Σ (h_t − y_t)²`, summed over the batch.
    pub fn mse_all(targets: Vec<Matrix<T>>) -> Head<T> {
        Head::MseAll {
            targets,
            reduction: Reduction::Sum,
            half: true,
        }
    }

    /// `mse_last` as its default: `L = (1/B) Σ (h_T − y)²`.
    pub fn mse_last(target: Matrix<T>) -> Head<T> {
        Head::MseLast {
            target,
            reduction: Reduction::Mean,
            half: false,
        }
    }

    /// The name a case file uses: `"sum_last"`, `"softmax_ce"`, `"softmax_ce_all"`,
    /// `"mse_all"`, `"mse_last"` or `"upstream"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Head::SumLast => "sum_last",
            Head::SoftmaxCe { .. } => "softmax_ce",
            Head::SoftmaxCeAll { .. } => "softmax_ce_all",
            Head::MseAll { .. } => "mse_all",
            Head::MseLast { .. } => "mse_last",
            Head::Upstream { .. } => "upstream",
        }
    }

    /// How the head combines the sequences of a batch; `None` for the heads that take no
    /// reduction (`sum_last`, `upstream`: plain sums).
    pub fn reduction(&self) -> Option<Reduction> {
        match self {
            Head::SoftmaxCe { reduction, .. }
            | Head::SoftmaxCeAll { reduction, .. }
            | Head::MseAll { reduction, .. }
            | Head::MseLast { reduction, .. } => Some(*reduction),
            Head::SumLast | Head::Upstream { .. } => None,
        }
    }

    /// The same head in another number type (each value converted, as [`Matrix::cast`] does).
    pub fn cast<U: Scalar>(&self) -> Head<U> {
        match self {
            Head::SumLast => Head::SumLast,
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                reduction,
            } => Head::SoftmaxCe {
                w_out: w_out.cast(),
                b_out: b_out.cast(),
                labels: labels.clone(),
                reduction: *reduction,
            },
            Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                reduction,
            } => Head::SoftmaxCeAll {
                w_out: w_out.cast(),
                b_out: b_out.cast(),
                labels: labels.clone(),
                mask: mask.clone(),
                reduction: *reduction,
            },
            Head::MseAll {
                targets,
                reduction,
                half,
            } => Head::MseAll {
                targets: targets.iter().map(Matrix::cast).collect(),
                reduction: *reduction,
                half: *half,
            },
            Head::MseLast {
                target,
                reduction,
                half,
            } => Head::MseLast {
                target: target.cast(),
                reduction: *reduction,
                half: *half,
            },
            Head::Upstream { dout } => Head::Upstream {
                dout: dout.iter().map(Matrix::cast).collect(),
            },
        }
    }

    /// The head's own parameters, with their values: `W_out`, `b_out` for the softmax heads,
    /// none for the others.
    pub fn params(&self) -> Vec<(HeadParam, &Matrix<T>)> {
        match self {
            Head::SoftmaxCe { w_out, b_out, .. } | Head::SoftmaxCeAll { w_out, b_out, .. } => {
                vec![(HEAD_PARAMS[0], w_out), (HEAD_PARAMS[1], b_out)]
            }
            Head::SumLast | Head::MseAll { .. } | Head::MseLast { .. } | Head::Upstream { .. } => {
                Vec::new()
            }
        }
    }

    /// The same head with its parameter `i` (in the order of [`Head::params`]) set to `value`.
    pub fn with_param(&self, i: usize, value: &Matrix<T>) -> Head<T> {
        let mut head = self.clone();
        if let Some(p) = head.params_mut().into_iter().nth(i) {
            *p = value.clone();
        }
        head
    }

    /// The head's parameters, for updating in place (training).
    pub fn params_mut(&mut self) -> Vec<&mut Matrix<T>> {
        match self {
            Head::SoftmaxCe { w_out, b_out, .. } | Head::SoftmaxCeAll { w_out, b_out, .. } => {
                vec![w_out, b_out]
            }
            Head::SumLast | Head::MseAll { .. } | Head::MseLast { .. } | Head::Upstream { .. } => {
                Vec::new()
            }
        }
    }

    /// The head's data that is not a parameter, one matrix per step or one in all, by what
    /// case files call it: `loss.targets`, `loss.target`, `loss.dh`. Labels and masks are not
    /// numbers to check.
    pub fn data(&self) -> Vec<(&'static str, &[Matrix<T>])> {
        match self {
            Head::MseAll { targets, .. } => vec![("loss.targets", targets)],
            Head::MseLast { target, .. } => vec![("loss.target", std::slice::from_ref(target))],
            Head::Upstream { dout } => vec![("loss.dh", dout)],
            Head::SumLast | Head::SoftmaxCe { .. } | Head::SoftmaxCeAll { .. } => Vec::new(),
        }
    }

    /// The head on row `i` alone of a batch of `batch`, and the weight `w` of that row's loss
    /// in this head's: `L = Σ_i w·L_i`, `L_i` the loss of row `i` by the head returned (summed,
    /// not averaged, over its one row; `w` is the mean's `1/B`, or 1). Every head is such a sum
    /// over the rows, so a value that moves row `i` alone moves `L` by `w` times what it moves
    /// `L_i`: how the check's finite differences rerun one row of the batch, not all of them.
    pub(crate) fn row(&self, i: usize, batch: usize) -> (Head<T>, T) {
        let one_row = |m: &Matrix<T>| m.row_block(i, 1);
        match self {
            Head::SumLast => (Head::SumLast, T::one()),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                reduction,
            } => (
                Head::SoftmaxCe {
                    w_out: w_out.clone(),
                    b_out: b_out.clone(),
                    labels: vec![labels[i]],
                    reduction: Reduction::Sum,
                },
                reduction.factor(batch),
            ),
            Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                reduction,
            } => (
                Head::SoftmaxCeAll {
                    w_out: w_out.clone(),
                    b_out: b_out.clone(),
                    labels: labels.iter().map(|l| vec![l[i]]).collect(),
                    mask: mask.iter().map(|m| vec![m[i]]).collect(),
                    reduction: Reduction::Sum,
                },
                reduction.factor(batch),
            ),
            Head::MseAll {
                targets,
                reduction,
                half,
            } => (
                Head::MseAll {
                    targets: targets.iter().map(one_row).collect(),
                    reduction: Reduction::Sum,
                    half: *half,
                },
                reduction.factor(batch),
            ),
            Head::MseLast {
                target,
                reduction,
                half,
            } => (
                Head::MseLast {
                    target: one_row(target),
                    reduction: Reduction::Sum,
                    half: *half,
                },
                reduction.factor(batch),
            ),
            Head::Upstream { dout } => (
                Head::Upstream {
                    dout: dout.iter().map(one_row).collect(),
                },
                T::one(),
            ),
        }
    }

    /// True when the loss reads every state `h_1 … h_T` (`softmax_ce_all`, `mse_all`,
    /// `upstream`); every other head reads `h_T` alone.
    pub fn reads_every_state(&self) -> bool {
        matches!(
            self,
            Head::SoftmaxCeAll { .. } | Head::MseAll { .. } | Head::Upstream { .. }
        )
    }

    /// Checks the head's parameters against the network's `batch`, `hidden` and `steps`.
    pub fn check(&self, batch: usize, hidden: usize, steps: usize) -> Result<()> {
        match self {
            Head::SumLast => Ok(()),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                ..
            } => {
                check_softmax_params(w_out, b_out, hidden)?;
                check_label_row(labels, batch, w_out.cols(), "loss.labels")
            }
            Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                ..
            } => {
                check_softmax_params(w_out, b_out, hidden)?;
                for (name, len) in [("loss.labels", labels.len()), ("loss.mask", mask.len())] {
                    if len != steps {
                        return Err(Error::bad_shape(
                            name,
                            format!("{steps} steps (one row per step of x)"),
                            format!("{len} steps"),
                        ));
                    }
                }
                for (t, (row, m)) in labels.iter().zip(mask).enumerate() {
                    let at = format!("loss.labels (step t = {})", t + 1);
                    check_label_row(row, batch, w_out.cols(), &at)?;
                    if m.len() != batch {
                        return Err(Error::bad_shape(
                            format!("loss.mask (step t = {})", t + 1),
                            format!("{batch} entries (one per sequence of the batch)"),
                            format!("{} entries", m.len()),
                        ));
                    }
                }
                Ok(())
            }
            Head::MseAll { targets, .. } => {
                check_per_step(targets, (batch, hidden, steps), "loss.targets")
            }
            Head::MseLast { target, .. } => {
                if target.shape() != (batch, hidden) {
                    return Err(Error::bad_shape(
                        "loss.target",
                        format!("{batch}×{hidden} (batch × hidden)"),
                        shape_str(target.shape()),
                    ));
                }
                Ok(())
            }
            Head::Upstream { dout } => check_per_step(dout, (batch, hidden, steps), "loss.dh"),
        }
    }

    /// The logits `z = h · W_out + b_out` of the softmax heads.
    fn logits(w_out: &Matrix<T>, b_out: &Matrix<T>, h: &Matrix<T>) -> Matrix<T> {
        h.matmul(w_out)
            .and_then(|z| z.add_row(b_out))
            .expect(SHAPES)
    }

    /// The weight of each row of the batch at a step of `softmax_ce_all`: `m_ti` times the
    /// reduction's factor (`1/B` for the mean).
    fn row_weights(mask: &[bool], reduction: Reduction) -> Vec<T> {
        let factor = reduction.factor::<T>(mask.len());
        mask.iter()
            .map(|&m| if m { factor } else { T::zero() })
            .collect()
    }

    /// The factor `c` of a squared-error head, `L = c · Σ (h − y)²`: ½ with `half`, times `1/B`
    /// for the mean.
    fn squares_factor(reduction: Reduction, half: bool, batch: usize) -> T {
        let half = if half { lit::<T>(0.5) } else { T::one() };
        half * reduction.factor::<T>(batch)
    }

    /// Checks that the states `h_0 … h_T` fit the head: at least one step, all of one shape,
    /// and the head's own shapes as [`Head::check`] checks them.
    fn fits(&self, states: &[Matrix<T>]) -> Result<()> {
        let [h0, hs @ ..] = states else {
            return Err(Error::invalid("states", "expected h_0 … h_T, found none"));
        };
        if hs.is_empty() {
            return Err(Error::invalid(
                "states",
                "expected h_0 … h_T with T ≥ 1, found h_0 alone",
            ));
        }
        if let Some((t, h)) = hs.iter().enumerate().find(|(_, h)| h.shape() != h0.shape()) {
            return Err(Error::bad_shape(
                format!("states (h_{})", t + 1),
                format!("{}, as h_0", shape_str(h0.shape())),
                shape_str(h.shape()),
            ));
        }
        self.check(h0.rows(), h0.cols(), hs.len())
    }

    /// The loss `L` from the states `h_0 … h_T` (the head ignores `h_0`), after checking that
    /// they fit the head.
    pub fn loss(&self, states: &[Matrix<T>]) -> Result<T> {
        self.fits(states)?;
        Ok(self.loss_of(states))
    }

    /// [`Head::loss`] of states that fit, unchecked: for the finite differences, which check
    /// once and then evaluate the loss thousands of times. A head that does not read every
    /// state reads only the last, so `states` may be `[h_T]` alone for it.
    pub(crate) fn loss_of(&self, states: &[Matrix<T>]) -> T {
        let last = &states[states.len() - 1];
        // The states the every-step heads read, h_1 … h_T.
        let hs = || &states[1..];
        match self {
            Head::SumLast => last.sum(),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                reduction,
            } => {
                let z = Self::logits(w_out, b_out, last);
                let weights = vec![reduction.factor::<T>(labels.len()); labels.len()];
                softmax_cross_entropy(&z, labels, &weights).expect(SHAPES)[(0, 0)]
            }
            Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                reduction,
            } => hs()
                .iter()
                .zip(labels.iter().zip(mask))
                .map(|(h, (labels, mask))| {
                    let z = Self::logits(w_out, b_out, h);
                    let weights = Self::row_weights(mask, *reduction);
                    softmax_cross_entropy(&z, labels, &weights).expect(SHAPES)[(0, 0)]
                })
                .sum(),
            Head::MseAll {
                targets,
                reduction,
                half,
            } => {
                let c = Self::squares_factor(*reduction, *half, last.rows());
                hs().iter()
                    .zip(targets)
                    .map(|(h, y)| c * h.sub(y).expect(SHAPES).map(|d| d * d).sum())
                    .sum()
            }
            Head::MseLast {
                target,
                reduction,
                half,
            } => {
                // Multiplied by c, not divided by B, to round exactly as the tape's `scale`.
                let squares = last.sub(target).expect(SHAPES).map(|d| d * d).sum();
                squares * Self::squares_factor(*reduction, *half, last.rows())
            }
            Head::Upstream { dout } => hs()
                .iter()
                .zip(dout)
                .map(|(h, g)| h.dot(g).expect(SHAPES))
                .sum(),
        }
    }

    /// The head's direct gradients `∂ℓ/∂h_t` and its parameter gradients, from `h_0 … h_T`,
    /// after checking that they fit the head.
    pub fn grads(&self, states: &[Matrix<T>]) -> Result<HeadGrads<T>> {
        self.fits(states)?;
        Ok(self.grads_of(states))
    }

    /// [`Head::grads`] of states that fit, unchecked: for a caller that checked the head first.
    /// A head that does not read every state reads only the last, so `states` may be
    /// `[h_0, h_T]` for it (the result then has one `∂ℓ/∂h_t`, for `h_T`).
    pub(crate) fn grads_of(&self, states: &[Matrix<T>]) -> HeadGrads<T> {
        let hs = &states[1..];
        let last = &hs[hs.len() - 1];
        let zeros = || Matrix::zeros(last.rows(), last.cols());
        // ∂ℓ/∂h_t zero before the last step, `at_last` at t = T.
        let only_last = |at_last: Matrix<T>| {
            let mut dl_dh: Vec<Matrix<T>> = hs.iter().map(|_| zeros()).collect();
            dl_dh[hs.len() - 1] = at_last;
            dl_dh
        };
        let one = Matrix::filled(1, 1, T::one());
        match self {
            Head::SumLast => HeadGrads {
                dl_dh: only_last(Matrix::filled(last.rows(), last.cols(), T::one())),
                params: Vec::new(),
            },
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                reduction,
            } => {
                // dz = (P − Y)/B (the cross-entropy's own VJP, with ȳ = 1), then the dense
                // layer: dW_out = h_Tᵀ·dz, db_out = Σ dz, ∂ℓ/∂h_T = dz·W_outᵀ.
                let z = Self::logits(w_out, b_out, last);
                let weights = vec![reduction.factor::<T>(labels.len()); labels.len()];
                let dz = softmax_cross_entropy_vjp(&z, labels, &weights, &one);
                let dw_out = last.transpose().matmul(&dz).expect(SHAPES);
                let db_out = dz.sum_rows();
                HeadGrads {
                    dl_dh: only_last(dz.matmul(&w_out.transpose()).expect(SHAPES)),
                    params: vec![("w_out", dw_out), ("b_out", db_out)],
                }
            }
            Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                reduction,
            } => {
                // At each step dz_t = m_t ⊙ (P_t − Y_t)/B, ∂ℓ/∂h_t = dz_t·W_outᵀ; the dense
                // layer is shared, so dW_out = Σ_t h_tᵀ·dz_t and db_out = Σ_t Σ dz_t.
                let mut dw_out = Matrix::zeros(w_out.rows(), w_out.cols());
                let mut db_out = Matrix::zeros(1, w_out.cols());
                let mut dl_dh = Vec::with_capacity(hs.len());
                for (h, (labels, mask)) in hs.iter().zip(labels.iter().zip(mask)) {
                    let z = Self::logits(w_out, b_out, h);
                    let weights = Self::row_weights(mask, *reduction);
                    let dz = softmax_cross_entropy_vjp(&z, labels, &weights, &one);
                    dw_out = dw_out
                        .add(&h.transpose().matmul(&dz).expect(SHAPES))
                        .expect(SHAPES);
                    db_out = db_out.add(&dz.sum_rows()).expect(SHAPES);
                    dl_dh.push(dz.matmul(&w_out.transpose()).expect(SHAPES));
                }
                HeadGrads {
                    dl_dh,
                    params: vec![("w_out", dw_out), ("b_out", db_out)],
                }
            }
            Head::MseAll {
                targets,
                reduction,
                half,
            } => {
                let two_c = lit::<T>(2.0) * Self::squares_factor(*reduction, *half, last.rows());
                HeadGrads {
                    dl_dh: hs
                        .iter()
                        .zip(targets)
                        .map(|(h, y)| h.sub(y).expect(SHAPES).scale(two_c))
                        .collect(),
                    params: Vec::new(),
                }
            }
            Head::MseLast {
                target,
                reduction,
                half,
            } => {
                let two_c = lit::<T>(2.0) * Self::squares_factor(*reduction, *half, last.rows());
                HeadGrads {
                    dl_dh: only_last(last.sub(target).expect(SHAPES).scale(two_c)),
                    params: Vec::new(),
                }
            }
            Head::Upstream { dout } => HeadGrads {
                dl_dh: dout.clone(),
                params: Vec::new(),
            },
        }
    }

    /// Records the head on the tape of the states `h_0 … h_T`, after checking that they fit it.
    pub fn on_tape<'t>(&self, states: &[Var<'t, T>]) -> Result<TapeHead<'t, T>> {
        let (Some(first), Some(&last)) = (states.first(), states.last()) else {
            return Err(Error::invalid("states", "expected h_0 … h_T, found none"));
        };
        let (batch, hidden) = first.shape();
        if states.len() < 2 {
            return Err(Error::invalid(
                "states",
                "expected h_0 … h_T with T ≥ 1, found h_0 alone",
            ));
        }
        self.check(batch, hidden, states.len() - 1)?;
        let tape = last.tape();
        let hs = &states[1..];
        // Σ_t term(t, h_t), added in the order of the steps as the hand loss adds them.
        let sum_over_steps = |term: &mut dyn FnMut(usize, Var<'t, T>) -> Result<Var<'t, T>>| {
            let mut total: Option<Var<'t, T>> = None;
            for (t, &h) in hs.iter().enumerate() {
                let term = term(t, h)?;
                total = Some(match total {
                    Some(sum) => sum.add(term)?,
                    None => term,
                });
            }
            Ok::<_, Error>(total.expect("invariant: a sequence has at least one step"))
        };
        let (loss, params) = match self {
            Head::SumLast => (last.sum(), Vec::new()),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                reduction,
            } => {
                let w = tape.named_var("W_out", w_out.clone());
                let b = tape.named_var("b_out", b_out.clone());
                let z = last.matmul(w)?.add_bias(b)?.named("z");
                let weights = vec![reduction.factor::<T>(batch); batch];
                (
                    z.weighted_cross_entropy(labels, &weights)?,
                    vec![("w_out", w), ("b_out", b)],
                )
            }
            Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                reduction,
            } => {
                let w = tape.named_var("W_out", w_out.clone());
                let b = tape.named_var("b_out", b_out.clone());
                let loss = sum_over_steps(&mut |t, h| {
                    let z = h.matmul(w)?.add_bias(b)?.named(&format!("z_{}", t + 1));
                    z.weighted_cross_entropy(&labels[t], &Self::row_weights(&mask[t], *reduction))
                })?;
                (loss, vec![("w_out", w), ("b_out", b)])
            }
            Head::MseAll {
                targets,
                reduction,
                half,
            } => {
                let c = Self::squares_factor(*reduction, *half, batch);
                let loss = sum_over_steps(&mut |t, h| {
                    let y = tape.named_var(&format!("y_{}", t + 1), targets[t].clone());
                    Ok(h.sub(y)?.square().sum().scale(c))
                })?;
                (loss, Vec::new())
            }
            Head::MseLast {
                target,
                reduction,
                half,
            } => {
                let y = tape.named_var("y", target.clone());
                let c = Self::squares_factor(*reduction, *half, batch);
                (last.sub(y)?.square().sum().scale(c), Vec::new())
            }
            Head::Upstream { dout } => {
                let loss = sum_over_steps(&mut |t, h| {
                    let g = tape.named_var(&format!("dout_{}", t + 1), dout[t].clone());
                    Ok(h.mul(g)?.sum())
                })?;
                (loss, Vec::new())
            }
        };
        Ok(TapeHead {
            loss: loss.named("L"),
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(shapes: &[(usize, usize)]) -> Vec<Matrix<f64>> {
        shapes.iter().map(|&(r, c)| Matrix::zeros(r, c)).collect()
    }

    /// A head and states that do not fit are an error naming what is wrong, never a panic.
    #[test]
    fn states_that_do_not_fit_the_head_are_refused_by_name() {
        let err = |r: Result<f64>| r.unwrap_err().to_string();
        let sum_last = Head::<f64>::SumLast;
        assert_eq!(
            err(sum_last.loss(&[])),
            "states: expected h_0 … h_T, found none"
        );
        assert!(err(sum_last.loss(&states(&[(2, 3)]))).contains("found h_0 alone"));
        assert_eq!(
            err(sum_last.loss(&states(&[(2, 3), (2, 3), (3, 2)]))),
            "states (h_2): expected shape 2×3, as h_0, found 3×2"
        );
        let mse_last = Head::mse_last(Matrix::zeros(2, 4));
        assert_eq!(
            err(mse_last.loss(&states(&[(2, 3), (2, 3)]))),
            "loss.target: expected shape 2×3 (batch × hidden), found 2×4"
        );
        assert!(mse_last.grads(&states(&[(2, 3), (2, 3)])).is_err());
        let fits = Head::mse_last(Matrix::filled(2, 3, 1.0));
        assert_eq!(fits.loss(&states(&[(2, 3), (2, 3)])).unwrap(), 3.0);
    }
}
