//! The GRU's bug zoo: the mistakes its backward pass invites, each planted in the hand
//! backward step ([`crate::cells::gru`]) with the correct line beside the mistaken one.

use crate::bptt;
use crate::case::{Case, Dims, HeadKind};
use crate::cells::Gru;
use crate::cells::gru::{Gates, affine_backward, block, gates};
use crate::error::Result;
use crate::gradients::{Gradients, Keep};
use crate::matrix::Matrix;

/// A mistake in a hand-written GRU backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GruBug {
    /// `z` and `1 − z` swapped in the backward pass (as if `h_t = z ⊙ n + (1 − z) ⊙ h_(t-1)`,
    /// the convention of Chung et al. (2014), while the forward pass is PyTorch's).
    UpdateGateSwapped,
    /// The reset gate's derivative formed as if reset came before the product
    /// (`n = tanh(a_x[n] + (r ⊙ h_(t-1))·W_hn + b_hn)`): `dr = (dp_n·W_hnᵀ) ⊙ h_(t-1)`.
    ResetAsIfBefore,
    /// `dh_(t-1) = da_h·W_hᵀ`: the direct path `dh_t ⊙ z_t` through the update forgotten.
    DirectPathForgotten,
}

impl GruBug {
    /// Every GRU bug in the zoo.
    pub const ALL: [GruBug; 3] = [
        GruBug::UpdateGateSwapped,
        GruBug::ResetAsIfBefore,
        GruBug::DirectPathForgotten,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            GruBug::UpdateGateSwapped => "z and 1 − z swapped",
            GruBug::ResetAsIfBefore => "reset taken as if before the product",
            GruBug::DirectPathForgotten => "direct path z ⊙ dh_t forgotten",
        }
    }

    /// The mistaken line, as the student wrote it.
    pub fn mistake(self) -> &'static str {
        match self {
            GruBug::UpdateGateSwapped => {
                "dn = dh * z;  dz = dh * (n - h_prev);  dh_prev = ... + dh * (1 - z)"
            }
            GruBug::ResetAsIfBefore => "dr = (dp_n @ W_hn.T) * h_prev",
            GruBug::DirectPathForgotten => "dh_prev = da_h @ W_h.T",
        }
    }

    /// The case each bug is shown on: a GRU of batch 2, 5 steps, 3 features, 4 hidden, with
    /// `L = ½ Σ_t Σ (h_t − y_t)²`.
    pub fn case(self) -> Case<f64, Gru> {
        let dims = Dims {
            batch: 2,
            steps: 5,
            features: 3,
            hidden: 4,
        };
        Case::random(2026, dims, HeadKind::MseAll, Gru::default())
    }

    /// Where the diagnosis should find the bug, walking back from `t = T`: the first quantity
    /// the mistaken line computes wrong (`da_x`'s blocks are formed before `da_h`'s).
    pub fn predicted(self, steps: usize) -> (usize, &'static str) {
        match self {
            GruBug::UpdateGateSwapped | GruBug::ResetAsIfBefore => (steps, "da_x"),
            GruBug::DirectPathForgotten => (steps - 1, "dh"),
        }
    }
}

/// Hand BPTT of the GRU `case` with `bug` planted in its backward step: the loop of
/// [`crate::bptt::backward_with`] around the derivation of [`crate::cells::gru`], each line a
/// bug changes written as a `match`.
pub fn buggy_backward(case: &Case<f64, Gru>, bug: GruBug) -> Result<Gradients<f64>> {
    let p = case.param_refs();
    let w_h = p[1];
    let fwd = case.forward()?;
    let head = case.head.grads(fwd.states())?;
    let loss = case.head.loss(fwd.states())?;
    Ok(bptt::backward_with(
        case,
        &fwd,
        head,
        loss,
        Keep::Every,
        |t, d_state| {
            let (a_x, a_h) = (fwd.internal(0, t), fwd.internal(1, t));
            let (x, h_prev, dh) = (&case.x[t - 1], fwd.h(t - 1), &d_state[0]);
            let Gates { r, z, n } = gates(a_x, a_h);
            let (keep, carry) = match bug {
                GruBug::UpdateGateSwapped => (z.clone(), z.map(|z| 1.0 - z)),
                _ => (z.map(|z| 1.0 - z), z.clone()),
            };
            let dn = times(dh, &keep);
            let dz = match bug {
                GruBug::UpdateGateSwapped => times(dh, &n.sub(h_prev).expect(SHAPES)),
                _ => times(dh, &h_prev.sub(&n).expect(SHAPES)),
            };
            let dp_n = times(&dn, &n.map(|n| 1.0 - n * n));
            let dr = match bug {
                GruBug::ResetAsIfBefore => {
                    let w_hn = w_h.transpose().row_block(2 * dh.cols(), dh.cols());
                    times(&dp_n.matmul(&w_hn).expect(SHAPES), h_prev)
                }
                _ => times(&dp_n, &block(a_h, 2)),
            };
            let dp_r = times(&dr, &r.map(|r| r * (1.0 - r)));
            let dp_z = times(&dz, &z.map(|z| z * (1.0 - z)));
            let rows = dh.rows();
            let da_h = Matrix::stack_cols(&[dp_r.clone(), dp_z.clone(), times(&r, &dp_n)], rows);
            let da_x = Matrix::stack_cols(&[dp_r, dp_z, dp_n], rows);
            let mut back = affine_backward(&p, x, h_prev, da_x, da_h);
            if bug != GruBug::DirectPathForgotten {
                back.to_prev[0]
                    .add_assign(&times(dh, &carry))
                    .expect(SHAPES);
            }
            back
        },
    ))
}

/// `a ⊙ b`.
fn times(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
    a.hadamard(b).expect(SHAPES)
}

const SHAPES: &str = "invariant: the case's shapes were checked when it was built";
