//! The heads: the loss `L` computed from the states `h_1 … h_T`.
//!
//! | head | loss | its direct gradient `∂ℓ/∂h_t` |
//! |---|---|---|
//! | `sum_last` | `L = Σ h_T` | `1` at `t = T`, `0` before |
//! | `softmax_ce` | `z = h_T·W_out + b_out`, `L = (1/B) Σ_i −log softmax(z_i)[label_i]` | `(P − Y)/B · W_outᵀ` at `t = T` |
//! | `mse_all` | `L = ½ Σ_t Σ (h_t − y_t)²` | `h_t − y_t` at every `t` |
//! | `mse_last` | `L = (1/B) Σ (h_T − y)²` | `2(h_T − y)/B` at `t = T` |
//!
//! `∂ℓ/∂h_t` is the *direct* part only: how `L` changes with `h_t` through the head itself. The
//! total `dh[t]` adds what flows back from later steps; that is BPTT's job (see [`crate::bptt`]).

use crate::error::{Error, Result, shape_str};
use crate::gradients::Named;
use crate::matrix::Matrix;
use crate::ops::{softmax_cross_entropy, softmax_cross_entropy_vjp};
use crate::scalar::{Scalar, lit};
use crate::tape::Var;

/// The loss on top of the network's states (the first part of a cell's state, `h`).
#[derive(Clone, Debug, PartialEq)]
pub enum Head<T> {
    /// `L = Σ h_T`: the simplest head, used by the canonical example (`∂L/∂h_T = 1`).
    SumLast,
    /// A dense softmax classifier on the last state, mean cross-entropy over the batch.
    SoftmaxCe {
        /// Output weights, `hidden × classes`.
        w_out: Matrix<T>,
        /// Output bias, a `1 × classes` row.
        b_out: Matrix<T>,
        /// One class index per sequence of the batch.
        labels: Vec<usize>,
    },
    /// `L = ½ Σ_t Σ (h_t − y_t)²`: a target at every step (many-to-many).
    MseAll {
        /// `y_1 … y_T`, each `batch × hidden`.
        targets: Vec<Matrix<T>>,
    },
    /// `L = (1/B) Σ (h_T − y)²`: squared error of the last state, summed over units and
    /// averaged over the batch (the cost of the seed 004 counting notebook).
    MseLast {
        /// `y`, `batch × hidden`.
        target: Matrix<T>,
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

impl<T: Scalar> Head<T> {
    /// The name a case file uses: `"sum_last"`, `"softmax_ce"`, `"mse_all"` or `"mse_last"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Head::SumLast => "sum_last",
            Head::SoftmaxCe { .. } => "softmax_ce",
            Head::MseAll { .. } => "mse_all",
            Head::MseLast { .. } => "mse_last",
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
            } => Head::SoftmaxCe {
                w_out: w_out.cast(),
                b_out: b_out.cast(),
                labels: labels.clone(),
            },
            Head::MseAll { targets } => Head::MseAll {
                targets: targets.iter().map(Matrix::cast).collect(),
            },
            Head::MseLast { target } => Head::MseLast {
                target: target.cast(),
            },
        }
    }

    /// The head's own parameters, with their values: `W_out`, `b_out` for `softmax_ce`, none
    /// for the others.
    pub fn params(&self) -> Vec<(HeadParam, &Matrix<T>)> {
        match self {
            Head::SoftmaxCe { w_out, b_out, .. } => {
                vec![(HEAD_PARAMS[0], w_out), (HEAD_PARAMS[1], b_out)]
            }
            Head::SumLast | Head::MseAll { .. } | Head::MseLast { .. } => Vec::new(),
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
            Head::SoftmaxCe { w_out, b_out, .. } => vec![w_out, b_out],
            Head::SumLast | Head::MseAll { .. } | Head::MseLast { .. } => Vec::new(),
        }
    }

    /// True when the loss reads every state `h_1 … h_T` (`mse_all`); every other head reads
    /// `h_T` alone.
    pub fn reads_every_state(&self) -> bool {
        matches!(self, Head::MseAll { .. })
    }

    /// Checks the head's parameters against the network's `batch`, `hidden` and `steps`.
    pub fn check(&self, batch: usize, hidden: usize, steps: usize) -> Result<()> {
        match self {
            Head::SumLast => Ok(()),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
            } => {
                check_softmax_params(w_out, b_out, hidden)?;
                let classes = w_out.cols();
                if labels.len() != batch {
                    return Err(Error::bad_shape(
                        "loss.labels",
                        format!("{batch} labels (one per sequence of the batch)"),
                        format!("{} labels", labels.len()),
                    ));
                }
                match labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
                    Some((i, &l)) => Err(Error::invalid(
                        format!("loss.labels[{i}]"),
                        format!("label {l} is out of range for {classes} classes (from w_out)"),
                    )),
                    None => Ok(()),
                }
            }
            Head::MseAll { targets } => {
                if targets.len() != steps {
                    return Err(Error::bad_shape(
                        "loss.targets",
                        format!("{steps} steps (one target per step of x)"),
                        format!("{} steps", targets.len()),
                    ));
                }
                for (i, y) in targets.iter().enumerate() {
                    if y.shape() != (batch, hidden) {
                        return Err(Error::bad_shape(
                            format!("loss.targets (step t = {})", i + 1),
                            format!("{batch}×{hidden} (batch × hidden)"),
                            shape_str(y.shape()),
                        ));
                    }
                }
                Ok(())
            }
            Head::MseLast { target } => {
                if target.shape() != (batch, hidden) {
                    return Err(Error::bad_shape(
                        "loss.target",
                        format!("{batch}×{hidden} (batch × hidden)"),
                        shape_str(target.shape()),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The logits `z = h_T · W_out + b_out` of the softmax head.
    fn logits(w_out: &Matrix<T>, b_out: &Matrix<T>, h_last: &Matrix<T>) -> Matrix<T> {
        h_last
            .matmul(w_out)
            .and_then(|z| z.add_row(b_out))
            .expect(SHAPES)
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
    /// once and then evaluate the loss thousands of times. Every head but `mse_all` reads only
    /// the last state, so `states` may be `[h_T]` alone for them.
    pub(crate) fn loss_of(&self, states: &[Matrix<T>]) -> T {
        let last = &states[states.len() - 1];
        match self {
            Head::SumLast => last.sum(),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
            } => {
                let z = Self::logits(w_out, b_out, last);
                softmax_cross_entropy(&z, labels).expect(SHAPES)[(0, 0)]
            }
            Head::MseAll { targets } => {
                let half = lit::<T>(0.5);
                states[1..]
                    .iter()
                    .zip(targets)
                    .map(|(h, y)| half * h.sub(y).expect(SHAPES).map(|d| d * d).sum())
                    .sum()
            }
            Head::MseLast { target } => {
                // Multiplied by 1/B, not divided by B, to round exactly as the tape's `scale`.
                let squares = last.sub(target).expect(SHAPES).map(|d| d * d).sum();
                squares * (T::one() / T::from_f64(last.rows() as f64))
            }
        }
    }

    /// The head's direct gradients `∂ℓ/∂h_t` and its parameter gradients, from `h_0 … h_T`,
    /// after checking that they fit the head.
    pub fn grads(&self, states: &[Matrix<T>]) -> Result<HeadGrads<T>> {
        self.fits(states)?;
        Ok(self.grads_of(states))
    }

    /// [`Head::grads`] of states that fit, unchecked: for a caller that checked the head first.
    /// Every head but `mse_all` reads only the last state, so `states` may be `[h_0, h_T]` for
    /// them (the result then has one `∂ℓ/∂h_t`, for `h_T`).
    pub(crate) fn grads_of(&self, states: &[Matrix<T>]) -> HeadGrads<T> {
        let hs = &states[1..];
        let last = &hs[hs.len() - 1];
        let zeros = || Matrix::zeros(last.rows(), last.cols());
        match self {
            Head::SumLast => {
                let mut dl_dh: Vec<Matrix<T>> = hs.iter().map(|_| zeros()).collect();
                dl_dh[hs.len() - 1] = Matrix::filled(last.rows(), last.cols(), T::one());
                HeadGrads {
                    dl_dh,
                    params: Vec::new(),
                }
            }
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
            } => {
                // dz = (P − Y)/B (the cross-entropy's own VJP, with ȳ = 1), then the dense
                // layer: dW_out = h_Tᵀ·dz, db_out = Σ dz, ∂ℓ/∂h_T = dz·W_outᵀ.
                let z = Self::logits(w_out, b_out, last);
                let dz = softmax_cross_entropy_vjp(&z, labels, &Matrix::filled(1, 1, T::one()));
                let dw_out = last.transpose().matmul(&dz).expect(SHAPES);
                let db_out = dz.sum_rows();
                let mut dl_dh: Vec<Matrix<T>> = hs.iter().map(|_| zeros()).collect();
                dl_dh[hs.len() - 1] = dz.matmul(&w_out.transpose()).expect(SHAPES);
                HeadGrads {
                    dl_dh,
                    params: vec![("w_out", dw_out), ("b_out", db_out)],
                }
            }
            Head::MseAll { targets } => HeadGrads {
                dl_dh: hs
                    .iter()
                    .zip(targets)
                    .map(|(h, y)| h.sub(y).expect(SHAPES))
                    .collect(),
                params: Vec::new(),
            },
            Head::MseLast { target } => {
                let two_over_b = T::from_f64(2.0 / last.rows() as f64);
                let mut dl_dh: Vec<Matrix<T>> = hs.iter().map(|_| zeros()).collect();
                dl_dh[hs.len() - 1] = last.sub(target).expect(SHAPES).scale(two_over_b);
                HeadGrads {
                    dl_dh,
                    params: Vec::new(),
                }
            }
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
        let (loss, params) = match self {
            Head::SumLast => (last.sum(), Vec::new()),
            Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
            } => {
                let w = tape.named_var("W_out", w_out.clone());
                let b = tape.named_var("b_out", b_out.clone());
                let z = last.matmul(w)?.add_bias(b)?.named("z");
                (
                    z.softmax_cross_entropy(labels)?,
                    vec![("w_out", w), ("b_out", b)],
                )
            }
            Head::MseAll { targets } => {
                let mut total: Option<Var<'t, T>> = None;
                for (t, (h, y)) in states[1..].iter().zip(targets).enumerate() {
                    let y = tape.named_var(&format!("y_{}", t + 1), y.clone());
                    let term = h.sub(y)?.square().sum().scale(lit(0.5));
                    total = Some(match total {
                        Some(sum) => sum.add(term)?,
                        None => term,
                    });
                }
                (
                    total.expect("invariant: a sequence has at least one step"),
                    Vec::new(),
                )
            }
            Head::MseLast { target } => {
                let y = tape.named_var("y", target.clone());
                let batch = T::from_f64(target.rows() as f64);
                (
                    last.sub(y)?.square().sum().scale(T::one() / batch),
                    Vec::new(),
                )
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
        let mse_last = Head::MseLast {
            target: Matrix::zeros(2, 4),
        };
        assert_eq!(
            err(mse_last.loss(&states(&[(2, 3), (2, 3)]))),
            "loss.target: expected shape 2×3 (batch × hidden), found 2×4"
        );
        assert!(mse_last.grads(&states(&[(2, 3), (2, 3)])).is_err());
        let fits = Head::MseLast {
            target: Matrix::filled(2, 3, 1.0),
        };
        assert_eq!(fits.loss(&states(&[(2, 3), (2, 3)])).unwrap(), 3.0);
    }
}
