//! The LSTM's bug zoo: the mistakes its backward pass invites, each planted in the hand
//! backward step ([`crate::cells::lstm`]) with the correct line beside the mistaken one.

use crate::bptt;
use crate::case::{Case, Dims, HeadKind};
use crate::cells::lstm::{GateOrder, Gates, Lstm};
use crate::cells::rnn::affine_backward;
use crate::error::Result;
use crate::gradients::{Gradients, Keep};
use crate::matrix::Matrix;

/// A mistake in a hand-written LSTM backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LstmBug {
    /// `dc_(t-1) = dc_t`: the cell-state path back in time without the forget gate `⊙ f_t`.
    ForgetGateDropped,
    /// `dc_(t-1)` gets nothing from step t: the `+ dc_t ⊙ f_t` from the next step forgotten.
    CellPathForgotten,
    /// `dc_t += dh_t ⊙ o_t ⊙ (1 − c_t²)`: the square of the cell state where `tanh(c_t)`'s
    /// belongs.
    SquareOfCell,
    /// `dc_T = 0`: the gradient into `c_T` from `h_T = o_T ⊙ tanh(c_T)` forgotten at the last
    /// step, where nothing comes from a next one.
    LastCellFromHForgotten,
    /// `da_t` stacked `ifgo` when the forward pass unpacked `ifog`: the output gate's and the
    /// candidate's blocks swapped.
    GatesRestacked,
    /// `da_t[i] = dc_t ⊙ g_t ⊙ σ'(a_t[i])` written `a(1 − a)` of the pre-activation, not
    /// `i(1 − i)` of the gate: `σ'` from the wrong side of `σ` (every gate).
    SigmaPrimeOfPreactivation,
}

impl LstmBug {
    /// Every LSTM bug in the zoo.
    pub const ALL: [LstmBug; 6] = [
        LstmBug::ForgetGateDropped,
        LstmBug::CellPathForgotten,
        LstmBug::SquareOfCell,
        LstmBug::LastCellFromHForgotten,
        LstmBug::GatesRestacked,
        LstmBug::SigmaPrimeOfPreactivation,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            LstmBug::ForgetGateDropped => "forget gate dropped from dc_(t-1)",
            LstmBug::CellPathForgotten => "cell-state path from the next step forgotten",
            LstmBug::SquareOfCell => "1 − c_t² for 1 − tanh²(c_t)",
            LstmBug::LastCellFromHForgotten => "dc_T from h_T forgotten",
            LstmBug::GatesRestacked => "gates restacked in another order",
            LstmBug::SigmaPrimeOfPreactivation => "σ' from the pre-activation",
        }
    }

    /// The mistaken line, as the student wrote it.
    pub fn mistake(self) -> &'static str {
        match self {
            LstmBug::ForgetGateDropped => "dprev_c = dc",
            LstmBug::CellPathForgotten => "dprev_c = 0",
            LstmBug::SquareOfCell => "dc = dnext_c + dnext_h * o * (1 - c**2)",
            LstmBug::LastCellFromHForgotten => "dc_T = 0 (the h_T path added only for t < T)",
            LstmBug::GatesRestacked => "da = np.hstack((di, df, dg, do))",
            LstmBug::SigmaPrimeOfPreactivation => "di = dc * g * a_i * (1 - a_i)",
        }
    }

    /// The case each bug is shown on: an LSTM (gates `ifog`) of batch 2, 5 steps, 3 features,
    /// 4 hidden, with `L = ½ Σ_t Σ (h_t − y_t)²` so that every step's state reaches the loss.
    pub fn case(self) -> Case<f64, Lstm> {
        let dims = Dims {
            batch: 2,
            steps: 5,
            features: 3,
            hidden: 4,
        };
        Case::random(2025, dims, HeadKind::MseAll, Lstm::new(GateOrder::Ifog))
    }

    /// Where the diagnosis should find the bug, walking back from `t = T`: the first quantity
    /// the mistaken line computes wrong.
    pub fn predicted(self, steps: usize) -> (usize, &'static str) {
        match self {
            LstmBug::ForgetGateDropped | LstmBug::CellPathForgotten => (steps - 1, "dc"),
            LstmBug::SquareOfCell | LstmBug::LastCellFromHForgotten => (steps, "dc"),
            LstmBug::GatesRestacked | LstmBug::SigmaPrimeOfPreactivation => (steps, "da"),
        }
    }
}

/// Hand BPTT of the LSTM `case` with `bug` planted in its backward step: the loop of
/// [`crate::bptt::backward_with`] around the derivation of [`crate::cells::lstm`], each line a
/// bug changes written as a `match`.
pub fn buggy_backward(case: &Case<f64, Lstm>, bug: LstmBug) -> Result<Gradients<f64>> {
    let cell = case.cell;
    let p = case.param_refs();
    let fwd = case.forward()?;
    let head = case.head.grads(fwd.states())?;
    let loss = case.head.loss(fwd.states())?;
    let steps = fwd.steps();
    Ok(bptt::backward_with(
        case,
        &fwd,
        head,
        loss,
        Keep::Every,
        |t, d_state| {
            let a = fwd.internal(0, t);
            let Gates { i, f, o, g } = cell.gates(a);
            let (c, c_prev) = (fwd.state(1, t), fwd.state(1, t - 1));
            // The loop has completed dc_t with dh_t ⊙ o_t ⊙ (1 − tanh²(c_t)); the bugs in that
            // line take it out again and put in their own.
            let through_h = |d_tanh: &Matrix<f64>| times(&times(&d_state[0], &o), d_tanh);
            let right = through_h(&c.map(|c| 1.0 - c.tanh() * c.tanh()));
            match bug {
                LstmBug::SquareOfCell => {
                    let wrong = through_h(&c.map(|c| 1.0 - c * c));
                    d_state[1] = d_state[1]
                        .sub(&right)
                        .expect(SHAPES)
                        .add(&wrong)
                        .expect(SHAPES);
                }
                LstmBug::LastCellFromHForgotten if t == steps => {
                    d_state[1] = d_state[1].sub(&right).expect(SHAPES);
                }
                _ => {}
            }
            let (dh, dc) = (&d_state[0], &d_state[1]);
            let sigma_prime = |s: &Matrix<f64>, k: usize| match bug {
                LstmBug::SigmaPrimeOfPreactivation => cell.block(a, k).map(|a| a * (1.0 - a)),
                _ => s.map(|s| s * (1.0 - s)),
            };
            let blocks = [
                times(&times(dc, &g), &sigma_prime(&i, 0)),
                times(&times(dc, c_prev), &sigma_prime(&f, 1)),
                times(&times(dh, &c.map(f64::tanh)), &sigma_prime(&o, 2)),
                times(&times(dc, &i), &g.map(|g| 1.0 - g * g)),
            ];
            let da = match bug {
                LstmBug::GatesRestacked => Lstm::new(GateOrder::Ifgo).unblock(blocks),
                _ => cell.unblock(blocks),
            };
            let mut back = affine_backward(&p, &case.x[t - 1], fwd.h(t - 1), da);
            back.to_prev.push(match bug {
                LstmBug::ForgetGateDropped => dc.clone(),
                LstmBug::CellPathForgotten => Matrix::zeros(dc.rows(), dc.cols()),
                _ => times(dc, &f),
            });
            back
        },
    ))
}

/// `a ⊙ b`.
fn times(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
    a.hadamard(b).expect(SHAPES)
}

const SHAPES: &str = "invariant: the case's shapes were checked when it was built";
