//! The bug zoo: BPTT mistakes real students make, each a small, named variant of the hand
//! backward pass of [`crate::bptt`], with the step and quantity where [`crate::diagnose`]
//! should find it.
//!
//! [`buggy_backward`] runs the BPTT loop around the RNN's own backward equations, with every
//! line that a bug changes written as a `match` on the bug: the correct equation and the
//! mistaken one side by side. The LSTM's and the GRU's zoos are [`lstm`] and [`gru`], built the
//! same way.

use crate::activation::Activation;
use crate::bptt;
use crate::case::{Case, Dims, HeadKind};
use crate::cells::{Rnn, rnn};
use crate::error::Result;
use crate::gradients::{Gradients, Keep};
use crate::matrix::Matrix;

pub mod gru;
pub mod lstm;

/// A mistake in a hand-written backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Seed 003: the output error `∂ℓ/∂h_T` is added at every step, not only at `T`, and the
    /// activation derivative is taken from the final state `h_T` at every step.
    OutputErrorEveryStep,
    /// Seed 000: the output layer's gradients are averaged over the batch, but the gradient
    /// passed into the recurrent layer is not: `dh_T = (P − Y)·W_outᵀ`, missing `1/B`.
    UnaveragedRecurrent,
    /// `da_t = dh_t ⊙ (1 − tanh(h_t)²)`: the activation applied twice (a tanh mistake; the
    /// zoo's cases are tanh RNNs).
    ActivationTwice,
    /// `dh_t = ∂ℓ/∂h_t` only: the recurrent term `da_(t+1)·W_hᵀ` (numpy's `dh_next`) forgotten.
    ForgotDhNext,
    /// `dW_h[t] = h_tᵀ·da_t`: the state that came out of the step instead of the one that went in.
    StateAfterInDwH,
    /// `dh_t` clipped to norm 1 inside the backward pass, so the function checked is no longer
    /// the gradient (clipping belongs in the optimizer, after the check).
    ClippingInside,
    /// `hs[t-1]` with a list `hs` that does not hold `h_0`: at `t = 1` numpy's index `-1` wraps
    /// to the last state, so `dW_h[1] = h_Tᵀ·da_1`. One step corrupted, silently.
    NegativeIndexWrap,
}

/// The norm `dh_t` is clipped to in [`Bug::ClippingInside`].
const CLIP: f64 = 1.0;

impl Bug {
    /// Every bug in the zoo.
    pub const ALL: [Bug; 7] = [
        Bug::OutputErrorEveryStep,
        Bug::UnaveragedRecurrent,
        Bug::ActivationTwice,
        Bug::ForgotDhNext,
        Bug::StateAfterInDwH,
        Bug::ClippingInside,
        Bug::NegativeIndexWrap,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::OutputErrorEveryStep => "output error at every step (seed 003)",
            Bug::UnaveragedRecurrent => "recurrent layer not averaged (seed 000)",
            Bug::ActivationTwice => "activation applied twice",
            Bug::ForgotDhNext => "dh_next forgotten",
            Bug::StateAfterInDwH => "h_t where h_(t-1) belongs",
            Bug::ClippingInside => "clipping inside the backward pass",
            Bug::NegativeIndexWrap => "negative index wraps at t = 1",
        }
    }

    /// The mistaken line, as the student wrote it.
    pub fn mistake(self) -> &'static str {
        match self {
            Bug::OutputErrorEveryStep => {
                "dh_t = ∂ℓ/∂h_T + da_(t+1)·W_hᵀ;  da_t = ∂ℓ/∂h_T ⊙ (1 − h_T²) + da_(t+1)·W_hᵀ"
            }
            Bug::UnaveragedRecurrent => {
                "dh_T = (P − Y)·W_outᵀ   (dW_out, db_out divided by B, this not)"
            }
            Bug::ActivationTwice => "da_t = dh_t ⊙ (1 − tanh(h_t)²)",
            Bug::ForgotDhNext => "dh_t = ∂ℓ/∂h_t",
            Bug::StateAfterInDwH => "dW_h[t] = h_tᵀ·da_t",
            Bug::ClippingInside => "dh_t ← dh_t / ‖dh_t‖ when ‖dh_t‖ > 1",
            Bug::NegativeIndexWrap => "dW_h[t] = hs[t-1]ᵀ·da_t with hs = [h_1 … h_T]",
        }
    }

    /// The case each bug is shown on: batch 2 (4 for the batch-averaging bug), 5 steps,
    /// 3 features, 4 hidden, tanh, with a head the bug can show itself in.
    pub fn case(self) -> Case<f64> {
        let dims = Dims {
            batch: if self == Bug::UnaveragedRecurrent {
                4
            } else {
                2
            },
            steps: 5,
            features: 3,
            hidden: 4,
        };
        let head = match self {
            Bug::OutputErrorEveryStep => HeadKind::MseLast,
            Bug::UnaveragedRecurrent => HeadKind::SoftmaxCe(3),
            _ => HeadKind::MseAll,
        };
        Case::random(2024, dims, head, Rnn::new(Activation::Tanh))
    }

    /// Where the diagnosis should find the bug on `case`, from what the bug changes.
    ///
    /// For [`Bug::ClippingInside`] that is the latest step whose correct `‖dh_t‖` exceeds the
    /// clipping norm, found from the correct gradients `correct`.
    pub fn predicted(self, correct: &Gradients<f64>) -> Option<(usize, &'static str)> {
        let steps = correct.steps.len();
        match self {
            Bug::OutputErrorEveryStep | Bug::ForgotDhNext => Some((steps - 1, "dh")),
            Bug::UnaveragedRecurrent => Some((steps, "dh")),
            Bug::ActivationTwice => Some((steps, "da")),
            Bug::StateAfterInDwH => Some((steps, "dw_h")),
            Bug::ClippingInside => (1..=steps)
                .rev()
                .find(|&t| correct.dh(t).norm() > CLIP)
                .map(|t| (t, "dh")),
            Bug::NegativeIndexWrap => Some((1, "dw_h")),
        }
    }
}

/// The hand backward pass of [`crate::bptt::backward`] with `bug` planted in it: the BPTT loop
/// of [`crate::bptt::backward_with`] around the RNN's own equations ([`rnn::da`],
/// [`rnn::affine_backward`]), with the one the bug breaks changed.
pub fn buggy_backward(case: &Case<f64>, bug: Bug) -> Result<Gradients<f64>> {
    let phi = case.cell.activation;
    let p = case.param_refs();
    let fwd = case.forward()?;
    let mut head = case.head.grads(fwd.states())?;
    let steps = fwd.steps();
    if bug == Bug::UnaveragedRecurrent {
        let batch = fwd.h(0).rows() as f64;
        head.dl_dh[steps - 1] = head.dl_dh[steps - 1].scale(batch);
    }
    let output_error = head.dl_dh[steps - 1].clone();
    // da_(t+1)·W_hᵀ, what flowed back from the step after t (zero at t = T).
    let mut from_next = Matrix::zeros(output_error.rows(), output_error.cols());
    let loss = case.head.loss(fwd.states())?;
    Ok(bptt::backward_with(
        case,
        &fwd,
        head,
        loss,
        Keep::Every,
        |t, d_state| {
            let h_t = fwd.h(t);
            let dh = &mut d_state[0];
            if bug == Bug::ClippingInside && dh.norm() > CLIP {
                *dh = dh.scale(CLIP / dh.norm());
            }
            let da = match bug {
                Bug::ActivationTwice => dh
                    .hadamard(&h_t.map(|h| 1.0 - h.tanh() * h.tanh()))
                    .expect(SHAPES),
                Bug::OutputErrorEveryStep => rnn::da(phi, &output_error, fwd.h(steps))
                    .add(&from_next)
                    .expect(SHAPES),
                _ => rnn::da(phi, dh, h_t),
            };
            let h_in = match bug {
                Bug::StateAfterInDwH => h_t,
                Bug::NegativeIndexWrap if t == 1 => fwd.h(steps),
                _ => fwd.h(t - 1),
            };
            let mut back = rnn::affine_backward(&p, &case.x[t - 1], h_in, da);
            from_next = back.to_prev[0].clone();
            // The loop adds ∂ℓ/∂h_(t-1) to what comes back; dh_0 is what comes back alone.
            if t > 1 {
                match bug {
                    Bug::ForgotDhNext => back.to_prev[0] = Matrix::zeros(dh.rows(), dh.cols()),
                    Bug::OutputErrorEveryStep => {
                        back.to_prev[0] = output_error.add(&from_next).expect(SHAPES)
                    }
                    _ => {}
                }
            }
            back
        },
    ))
}

const SHAPES: &str = "invariant: the case's shapes were checked when it was built";
