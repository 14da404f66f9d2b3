//! Backpropagation through time, by hand: the cell's backward step, run from `t = T` down to 1.
//!
//! This module knows nothing of the tape: it is the backward pass a student writes in numpy,
//! keeping what happens at every step so that each step can be checked. Each cell derives its
//! own backward step (the RNN's is in [`crate::cells::rnn`]); the loop around it is the same
//! for every cell:
//!
//! ```text
//! dh_T = ∂ℓ/∂h_T                                   the head's direct gradient
//! for t = T … 1:
//!     dc_t += paths inside step t (an LSTM's h_t = o_t ⊙ tanh(c_t); none for the RNN)
//!     (da_t, dx_t, dW[t]…, back) = backward step t given dh_t (and dc_t, …)
//!     dW += dW[t]                                   a shared weight sums its per-step copies
//!     dh_(t-1) = back + ∂ℓ/∂h_(t-1)                 no head term on h_0
//! ```
//!
//! **Shared weights.** Every step uses the same parameters. Untie them: give step t its own
//! copy `W_h[t]`, all equal. `L` depends on `W_h` only through the copies, so by the chain rule
//! `∂L/∂W_h = Σ_t ∂L/∂W_h[t]`, and `∂L/∂W_h[t]` is what step t's backward computes.

use crate::case::Case;
use crate::cell::{Cell, DX, StepBack};
use crate::gradients::{Gradients, Keep, Named};
use crate::loss::HeadGrads;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sequence::Forward;

const SHAPES: &str = "invariant: the forward pass checked every shape";

/// Hand BPTT: the cell's backward step over the record `fwd` of a forward pass of `case`, given
/// the head's direct gradients and the loss value.
///
/// Returns the quantities of the steps `keep` names (for the RNN `dh, da, dx, dW_x[t], dW_h[t],
/// db[t]`), the totals and the initial state's gradient.
pub fn backward<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    fwd: &Forward<T>,
    head: HeadGrads<T>,
    loss: T,
    keep: Keep<'_>,
) -> Gradients<T> {
    let p = case.param_refs();
    backward_with(case, fwd, head, loss, keep, |t, d_state| {
        let d_state: Vec<&Matrix<T>> = d_state.iter().collect();
        case.cell.backward(
            &p,
            &case.x[t - 1],
            &fwd.state_at(t - 1),
            &fwd.internals_at(t),
            &fwd.state_at(t),
            &d_state,
        )
    })
}

/// The loop of [`backward`] around any backward step: `step(t, d_state)` is called for
/// `t = T … 1` with the total gradients of step t's state, which it may change before using
/// them (what it leaves there is what step t records, if `keep` keeps it). The bug zoo
/// ([`crate::zoo`]) plants its mistakes through `step`.
pub fn backward_with<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    fwd: &Forward<T>,
    head: HeadGrads<T>,
    loss: T,
    keep: Keep<'_>,
    mut step: impl FnMut(usize, &mut [Matrix<T>]) -> StepBack<T>,
) -> Gradients<T> {
    let steps = fwd.steps();
    let kept = keep.mask(steps);
    let zeros = |m: &Matrix<T>| Matrix::zeros(m.rows(), m.cols());
    let mut totals: Vec<Matrix<T>> = case.params.iter().map(zeros).collect();
    let mut records: Vec<Named<T>> = Vec::with_capacity(steps);
    // dh_T = ∂ℓ/∂h_T; the other parts of the state (an LSTM's c) reach the loss through h only.
    let mut d_state: Vec<Matrix<T>> = (0..C::STATES.len())
        .map(|s| match s {
            0 => head.dl_dh[steps - 1].clone(),
            _ => zeros(fwd.state(s, steps)),
        })
        .collect();
    for t in (1..=steps).rev() {
        // Paths between the parts of step t's state (an LSTM's h_t from c_t) make each total.
        case.cell
            .complete_state_grads(&fwd.internals_at(t), &fwd.state_at(t), &mut d_state);
        let back = step(t, &mut d_state);
        // Shared weights: the total is the sum over the untied copies.
        for (total, dw) in totals.iter_mut().zip(&back.params) {
            total.add_assign(dw).expect(SHAPES);
        }
        let mut record: Named<T> = Vec::new();
        if kept[t - 1] {
            record.reserve(C::STATES.len() + C::INTERNALS.len() + 1 + C::PARAMS.len());
            record.extend(C::STATES.iter().map(|s| s.grad).zip(d_state));
            record.extend(C::INTERNALS.iter().map(|v| v.grad).zip(back.internals));
            record.push((DX, back.dx));
            record.extend(C::PARAMS.iter().map(|p| p.grad).zip(back.params));
        }
        records.push(record);
        // dh_(t-1) = what flows back through step t + ∂ℓ/∂h_(t-1).
        d_state = back.to_prev;
        if t >= 2 {
            d_state[0].add_assign(&head.dl_dh[t - 2]).expect(SHAPES);
        }
    }
    records.reverse();
    let mut named: Named<T> = C::PARAMS.iter().map(|p| p.key).zip(totals).collect();
    named.extend(C::STATES.iter().map(|s| s.initial).zip(d_state));
    named.extend(head.params);
    Gradients {
        loss,
        steps: records,
        totals: named,
    }
}
