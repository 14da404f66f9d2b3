//! Backpropagation through time, derived and written out by hand.
//!
//! This module knows nothing of the tape: it is the backward pass a student writes in numpy,
//! one equation per line, keeping what happens at every step so that each step can be checked.
//!
//! # The derivation (tanh)
//!
//! The forward pass is `a_t = x_t·W_x + h_(t-1)·W_h + b`, `h_t = tanh(a_t)`, and the loss `L`
//! depends on the states directly through the head (`∂ℓ/∂h_t`) and indirectly through every
//! later step. Write `dh_t = ∂L/∂h_t` for the *total* derivative.
//!
//! 1. **Through the activation.** `h_t = tanh(a_t)` acts entry by entry, so its Jacobian is
//!    diagonal: `∂h_t/∂a_t = diag(1 − tanh(a_t)²) = diag(1 − h_t²)`. A diagonal Jacobian
//!    multiplies entry by entry:
//!
//!    ```text
//!    da_t = dh_t ⊙ (1 − h_t²)
//!    ```
//!
//!    (`h_t(1 − h_t)` for sigmoid, `1` for identity: [`crate::rnn::Activation`].) Note `h_t`,
//!    not `tanh(h_t)`: the output is already the tanh.
//!
//! 2. **Through the affine map** `a_t = x_t·W_x + h_(t-1)·W_h + b` (batch rows):
//!
//!    ```text
//!    dx_t      = da_t · W_xᵀ
//!    dW_x[t]   = x_tᵀ · da_t
//!    dW_h[t]   = h_(t-1)ᵀ · da_t          (h_(t-1), the state that went *into* step t)
//!    db[t]     = Σ_batch da_t
//!    ```
//!
//! 3. **Back in time.** `h_(t-1)` reaches `L` directly and through `a_t`, so
//!
//!    ```text
//!    dh_(t-1) = da_t · W_hᵀ + ∂ℓ/∂h_(t-1)
//!    ```
//!
//!    starting from `dh_T = ∂ℓ/∂h_T`, and ending with `dh_0 = da_1 · W_hᵀ`.
//!
//! 4. **Shared weights.** Every step uses the same `W_x`, `W_h`, `b`. Untie them: give step t
//!    its own copy `W_h[t]`, all equal. `L` depends on `W_h` only through the copies, so by the
//!    chain rule `∂L/∂W_h = Σ_t ∂L/∂W_h[t]`, and `∂L/∂W_h[t]` is exactly step 2's `dW_h[t]`.
//!    A shared weight's gradient is the sum of the gradients of its untied per-step copies:
//!
//!    ```text
//!    dW_x = Σ_t dW_x[t],   dW_h = Σ_t dW_h[t],   db = Σ_t db[t]
//!    ```

use crate::loss::HeadGrads;
use crate::matrix::Matrix;
use crate::rnn::{Forward, Gradients, Rnn, StepGrads};
use crate::scalar::Scalar;

const SHAPES: &str = "invariant: the forward pass checked every shape";

/// Hand BPTT: the backward pass of [`crate::bptt`]'s derivation, over the record `fwd` of a
/// forward pass on `xs`, given the head's direct gradients and the loss value.
///
/// Returns every step's `dh, da, dx, dW_x[t], dW_h[t], db[t]`, the totals and `dh_0`.
pub fn backward<T: Scalar>(
    rnn: &Rnn<T>,
    xs: &[Matrix<T>],
    fwd: &Forward<T>,
    head: HeadGrads<T>,
    loss: T,
) -> Gradients<T> {
    let steps = fwd.steps();
    let w_x_t = rnn.w_x.transpose();
    let w_h_t = rnn.w_h.transpose();
    let mut records: Vec<StepGrads<T>> = Vec::with_capacity(steps);
    let mut dw_x = Matrix::zeros(rnn.w_x.rows(), rnn.w_x.cols());
    let mut dw_h = Matrix::zeros(rnn.w_h.rows(), rnn.w_h.cols());
    let mut db = Matrix::zeros(1, rnn.hidden());

    // dh_T = ∂ℓ/∂h_T
    let mut dh = head.dl_dh[steps - 1].clone();
    for t in (1..=steps).rev() {
        let h_t = fwd.h(t);
        let h_prev = fwd.h(t - 1);
        let x_t = &xs[t - 1];

        // 1. da_t = dh_t ⊙ φ'(a_t), with φ'(a_t) written in terms of h_t.
        let d_phi = h_t.map(|h| rnn.activation.derivative_from_output(h));
        let da = dh.hadamard(&d_phi).expect(SHAPES);
        // 2. The affine map.
        let dx = da.matmul(&w_x_t).expect(SHAPES);
        let step_dw_x = x_t.transpose().matmul(&da).expect(SHAPES);
        let step_dw_h = h_prev.transpose().matmul(&da).expect(SHAPES);
        let step_db = da.sum_rows();
        // 4. Shared weights: the total is the sum over the untied copies.
        dw_x.add_assign(&step_dw_x).expect(SHAPES);
        dw_h.add_assign(&step_dw_h).expect(SHAPES);
        db.add_assign(&step_db).expect(SHAPES);
        // 3. dh_(t-1) = da_t · W_hᵀ + ∂ℓ/∂h_(t-1)  (no head term on h_0).
        let mut dh_prev = da.matmul(&w_h_t).expect(SHAPES);
        if t >= 2 {
            dh_prev.add_assign(&head.dl_dh[t - 2]).expect(SHAPES);
        }
        records.push(StepGrads {
            dh,
            da,
            dx,
            dw_x: step_dw_x,
            dw_h: step_dw_h,
            db: step_db,
        });
        dh = dh_prev;
    }
    records.reverse();
    Gradients {
        loss,
        steps: records,
        dh0: dh,
        w_x: dw_x,
        w_h: dw_h,
        b: db,
        head: head.params,
    }
}
