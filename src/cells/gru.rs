//! The GRU cell, with its backward step derived by hand.
//!
//! PyTorch's convention (also Keras's `reset_after=True` and cuDNN's): the reset gate applies
//! *after* the recurrent product, and each product has its own bias.
//!
//! ```text
//! a^x_t = x_t·W_x + b_x          W_x (F, 3H), b_x (3H,)    blocks r, z, n
//! a^h_t = h_(t-1)·W_h + b_h      W_h (H, 3H), b_h (3H,)    blocks r, z, n
//! r_t = σ(a^x_t[r] + a^h_t[r])
//! z_t = σ(a^x_t[z] + a^h_t[z])
//! n_t = tanh(a^x_t[n] + r_t ⊙ a^h_t[n])
//! h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_(t-1)
//! ```
//!
//! The two internal values the check perturbs are `a^x_t` (`a_x`) and `a^h_t` (`a_h`), each
//! `batch × 3H`, stacked `r, z, n` as PyTorch stacks `weight_ih_l0` and `weight_hh_l0`.
//!
//! # The backward step, derived
//!
//! Write `dh_t = ∂L/∂h_t` for the total derivative.
//!
//! 1. **The update** `h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)`:
//!
//!    ```text
//!    dn = dh_t ⊙ (1 − z_t)           dz = dh_t ⊙ (h_(t-1) − n_t)
//!    ```
//!
//! 2. **Through the squashing functions**, from their outputs:
//!
//!    ```text
//!    dp_n = dn ⊙ (1 − n_t²)                          p_n = a^x_t[n] + r_t ⊙ a^h_t[n]
//!    dr   = dp_n ⊙ a^h_t[n]
//!    dp_r = dr ⊙ r_t(1 − r_t),   dp_z = dz ⊙ z_t(1 − z_t)
//!    ```
//!
//! 3. **Into the two affine maps.** `p_r` and `p_z` are sums, so both maps get their gradient
//!    whole; `p_n` reads `a^h_t[n]` through the reset gate:
//!
//!    ```text
//!    da_x_t = [dp_r | dp_z | dp_n]                  da_h_t = [dp_r | dp_z | r_t ⊙ dp_n]
//!    dx_t = da_x_t·W_xᵀ    dW_x[t] = x_tᵀ·da_x_t    db_x[t] = Σ_batch da_x_t
//!    dW_h[t] = h_(t-1)ᵀ·da_h_t                       db_h[t] = Σ_batch da_h_t
//!    ```
//!
//! 4. **Back in time**, three paths into `h_(t-1)`: through `a^h_t` (all three gates' blocks)
//!    and directly through the update, the path that keeps GRU gradients from vanishing where
//!    `z ≈ 1`:
//!
//!    ```text
//!    dh_(t-1) = da_h_t·W_hᵀ + dh_t ⊙ z_t + ∂ℓ/∂h_(t-1)
//!    ```

use crate::activation::Activation;
use crate::cell::{
    Agreed, Cell, Dim, Internal, Param, Pointwise, Quantity, RecordedStep, Site, State, StepBack,
};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::tape::Var;

/// Where the reset gate acts on the recurrent term of the candidate `n_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reset {
    /// `n = tanh(a_x[n] + r ⊙ (h_(t-1)·W_hn + b_hn))`: PyTorch, Keras's `reset_after=True`,
    /// cuDNN.
    #[default]
    After,
    /// `n = tanh(a_x[n] + (r ⊙ h_(t-1))·W_hn)`: Cho et al. (2014), d2l. Those cells have one
    /// bias per gate, `b_x`; `b_h` must be zero.
    Before,
}

impl Reset {
    /// Its value in a case file: `"after"` or `"before"`.
    pub fn name(self) -> &'static str {
        match self {
            Reset::After => "after",
            Reset::Before => "before",
        }
    }
}

/// The GRU cell; all it holds is where its reset gate acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Gru {
    /// After the recurrent product (PyTorch, the default) or before it (Cho, d2l).
    pub reset: Reset,
}

const SHAPES: &str = "invariant: the sequence checked every shape before the step";

/// Block `k` (`0, 1, 2` for `r, z, n`) of a `3H`-column matrix.
pub fn block<T: Scalar>(m: &Matrix<T>, k: usize) -> Matrix<T> {
    let hidden = m.cols() / 3;
    m.col_block(k * hidden, hidden).expect(SHAPES)
}

/// `a ⊙ b`.
fn times<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> Matrix<T> {
    a.hadamard(b).expect(SHAPES)
}

/// `a + b`.
fn plus<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> Matrix<T> {
    a.add(b).expect(SHAPES)
}

/// `φ(m)`.
fn squash<T: Scalar>(phi: Activation, mut m: Matrix<T>) -> Matrix<T> {
    phi.apply_in_place(m.as_mut_slice());
    m
}

/// The gates of one step, each `batch × H`.
pub struct Gates<T> {
    /// The reset gate `r_t`.
    pub r: Matrix<T>,
    /// The update gate `z_t`.
    pub z: Matrix<T>,
    /// The candidate `n_t`.
    pub n: Matrix<T>,
}

/// The gates `r, z, n` of one step with the reset gate after the product, from its two
/// internal values `a^x_t` and `a^h_t`.
pub fn gates<T: Scalar>(a_x: &Matrix<T>, a_h: &Matrix<T>) -> Gates<T> {
    let r = squash(Activation::Sigmoid, plus(&block(a_x, 0), &block(a_h, 0)));
    let z = squash(Activation::Sigmoid, plus(&block(a_x, 1), &block(a_h, 1)));
    let n = squash(
        Activation::Tanh,
        plus(&block(a_x, 2), &times(&r, &block(a_h, 2))),
    );
    Gates { r, z, n }
}

/// `(r ⊙ h_(t-1))·W_hn + b_hn`, the candidate's recurrent term with the reset gate before the
/// product; `p` is `[W_x, W_h, b_x, b_h]`.
fn reset_before<T: Scalar>(p: &[&Matrix<T>], r: &Matrix<T>, h_prev: &Matrix<T>) -> Matrix<T> {
    let mut term = times(r, h_prev).matmul(&block(p[1], 2)).expect(SHAPES);
    term.add_row_in_place(&block(p[3], 2)).expect(SHAPES);
    term
}

impl Gru {
    /// The cell with the reset gate `reset` the product.
    pub fn new(reset: Reset) -> Gru {
        Gru { reset }
    }

    /// The gates of one step in this cell's convention (`p`: `[W_x, W_h, b_x, b_h]`).
    pub fn gates<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        internals: &[&Matrix<T>],
        h_prev: &Matrix<T>,
    ) -> Gates<T> {
        let (a_x, a_h) = (internals[0], internals[1]);
        match self.reset {
            Reset::After => gates(a_x, a_h),
            Reset::Before => {
                let r = squash(Activation::Sigmoid, plus(&block(a_x, 0), &block(a_h, 0)));
                let z = squash(Activation::Sigmoid, plus(&block(a_x, 1), &block(a_h, 1)));
                let recurrent = reset_before(p, &r, h_prev);
                let n = squash(Activation::Tanh, plus(&block(a_x, 2), &recurrent));
                Gates { r, z, n }
            }
        }
    }
}

/// Adds `m` to the columns of `sum` from `first` on.
fn add_to_block<T: Scalar>(sum: &mut Matrix<T>, first: usize, m: &Matrix<T>) {
    for i in 0..m.rows() {
        for j in 0..m.cols() {
            sum[(i, first + j)] += m[(i, j)];
        }
    }
}

/// Step 3 of the derivation and the first path of step 4: from `da_x_t` and `da_h_t`, the
/// gradients of `x_t`, of step t's copies of `W_x`, `W_h`, `b_x`, `b_h`, and `da_h_t·W_hᵀ` for
/// `h_(t-1)` (the direct path `dh_t ⊙ z_t` is the caller's to add). `p` is
/// `[W_x, W_h, b_x, b_h]`.
pub fn affine_backward<T: Scalar>(
    p: &[&Matrix<T>],
    x: &Matrix<T>,
    h_prev: &Matrix<T>,
    da_x: Matrix<T>,
    da_h: Matrix<T>,
) -> StepBack<T> {
    let [w_x, w_h, _, _] = p else {
        unreachable!("{SHAPES}: the GRU has four parameters")
    };
    StepBack {
        dx: da_x.matmul(&w_x.transpose()).expect(SHAPES),
        params: vec![
            x.transpose().matmul(&da_x).expect(SHAPES),
            h_prev.transpose().matmul(&da_h).expect(SHAPES),
            da_x.sum_rows(),
            da_h.sum_rows(),
        ],
        to_prev: vec![da_h.matmul(&w_h.transpose()).expect(SHAPES)],
        internals: vec![da_x, da_h],
    }
}

impl Cell for Gru {
    const KIND: &'static str = "gru";
    const PARAMS: &'static [Param] = &[
        Param {
            key: "w_x",
            shown: "W_x",
            grad: "dw_x",
            rows: Dim::Features,
            cols: Dim::Hidden(3),
            projected: true,
        },
        Param {
            key: "w_h",
            shown: "W_h",
            grad: "dw_h",
            rows: Dim::Hidden(1),
            cols: Dim::Hidden(3),
            projected: false,
        },
        Param {
            key: "b_x",
            shown: "b_x",
            grad: "db_x",
            rows: Dim::One,
            cols: Dim::Hidden(3),
            projected: true,
        },
        Param {
            key: "b_h",
            shown: "b_h",
            grad: "db_h",
            rows: Dim::One,
            cols: Dim::Hidden(3),
            projected: false,
        },
    ];
    const STATES: &'static [State] = &[State {
        key: "h",
        initial: "h0",
        grad: "dh",
    }];
    const INTERNALS: &'static [Internal] = &[
        Internal {
            key: "a_x",
            grad: "da_x",
            cols: Dim::Hidden(3),
        },
        Internal {
            key: "a_h",
            grad: "da_h",
            cols: Dim::Hidden(3),
        },
    ];
    const OPTIONS: &'static [(&'static str, &'static str)] = &[(
        "reset",
        "\"after\" (PyTorch, the default) or \"before\" (Cho, d2l)",
    )];

    fn from_options(option: &dyn Fn(&str) -> Option<String>) -> Result<Gru> {
        let reset = match option("reset").as_deref() {
            None | Some("after") => Reset::After,
            Some("before") => Reset::Before,
            Some(other) => {
                return Err(Error::invalid(
                    "reset",
                    format!(
                        "unknown reset {other:?}; expected \"after\" (PyTorch, the default) or \
                         \"before\" (Cho, d2l)"
                    ),
                ));
            }
        };
        Ok(Gru { reset })
    }

    /// With the reset gate before the product, `b_h` must be zero: Cho's and d2l's GRU have
    /// one bias per gate, and a given `b_h` would be a PyTorch bias in a cell that has no
    /// place for it.
    fn check_params<T: Scalar>(&self, p: &[&Matrix<T>]) -> Result<()> {
        match (
            self.reset,
            p[3].as_slice().iter().position(|&v| v != T::zero()),
        ) {
            (Reset::Before, Some(j)) => Err(Error::invalid(
                format!("b_h[{j}]"),
                format!(
                    "must be 0 with \"reset\": \"before\" (Cho's and d2l's GRU have one bias \
                     per gate, b_x), found {}; for PyTorch's two biases use \"reset\": \"after\"",
                    p[3].as_slice()[j].as_f64()
                ),
            )),
            _ => Ok(()),
        }
    }

    fn title(&self) -> String {
        format!("GRU (reset {} the product)", self.reset.name())
    }

    fn equations(&self) -> String {
        let n = match self.reset {
            Reset::After => "n = tanh(a_x[n] + r ⊙ a_h[n])",
            Reset::Before => "n = tanh(a_x[n] + (r ⊙ h_(t-1))·W_hn)",
        };
        format!(
            "a_x_t = x_t·W_x + b_x,  a_h_t = h_(t-1)·W_h + b_h,  r = σ(a_x[r] + a_h[r]),  \
             z = σ(a_x[z] + a_h[z]),  {n},  h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)"
        )
    }

    /// `a^x_t = x_t·W_x + b_x`.
    fn project<T: Scalar>(&self, p: &[&Matrix<T>], x: &Matrix<T>) -> Matrix<T> {
        let mut a_x = x.matmul(p[0]).expect(SHAPES);
        a_x.add_row_in_place(p[2]).expect(SHAPES);
        a_x
    }

    /// `a^x_t` as projected, and `a^h_t = h_(t-1)·W_h + b_h`.
    fn pre<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        projected: &Matrix<T>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let ([_, w_h, _, b_h], [h_prev]) = (p, prev) else {
            unreachable!("{SHAPES}: the GRU has four parameters and one state")
        };
        let mut a_h = h_prev.matmul(w_h).expect(SHAPES);
        a_h.add_row_in_place(b_h).expect(SHAPES);
        vec![projected.clone(), a_h]
    }

    /// `r_t, z_t, n_t` (after the product: before it, `n_t` needs `h_(t-1)`, and the trace
    /// shows `r_t` and `z_t`).
    fn trace_gates<T: Scalar>(&self, internals: &[&Matrix<T>]) -> Vec<(&'static str, Matrix<T>)> {
        let Gates { r, z, n } = gates(internals[0], internals[1]);
        match self.reset {
            Reset::After => vec![("r", r), ("z", z), ("n", n)],
            Reset::Before => vec![("r", r), ("z", z)],
        }
    }

    /// `h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)`.
    fn post<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        internals: Vec<Matrix<T>>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let Gates { z, n, .. } = self.gates(p, &[&internals[0], &internals[1]], prev[0]);
        let keep = times(&z.map(|z| T::one() - z), &n);
        vec![plus(&keep, &times(&z, prev[0]))]
    }

    fn record<'t, T: Scalar>(
        &self,
        p: &[Var<'t, T>],
        x: Var<'t, T>,
        prev: &[Var<'t, T>],
        t: usize,
    ) -> Result<RecordedStep<'t, T>> {
        let (&[w_x, w_h, b_x, b_h], &[h_prev]) = (p, prev) else {
            return Err(Error::invalid(
                "GRU step",
                "expected the four parameters w_x, w_h, b_x, b_h and one state h",
            ));
        };
        let a_x = x.matmul(w_x)?.add_bias(b_x)?.named(&format!("a_x_{t}"));
        let a_h = h_prev
            .matmul(w_h)?
            .add_bias(b_h)?
            .named(&format!("a_h_{t}"));
        let hidden = a_x.shape().1 / 3;
        let block = |a: Var<'t, T>, k: usize| a.columns(k * hidden, hidden);
        let r = block(a_x, 0)?
            .add(block(a_h, 0)?)?
            .sigmoid()
            .named(&format!("r_{t}"));
        let z = block(a_x, 1)?
            .add(block(a_h, 1)?)?
            .sigmoid()
            .named(&format!("z_{t}"));
        let recurrent = match self.reset {
            Reset::After => r.mul(block(a_h, 2)?)?,
            Reset::Before => r
                .mul(h_prev)?
                .matmul(w_h.columns(2 * hidden, hidden)?)?
                .add_bias(b_h.columns(2 * hidden, hidden)?)?,
        };
        let n = block(a_x, 2)?
            .add(recurrent)?
            .tanh()
            .named(&format!("n_{t}"));
        let h = z
            .one_minus()
            .mul(n)?
            .add(z.mul(h_prev)?)?
            .named(&format!("h_{t}"));
        Ok(RecordedStep {
            internals: vec![a_x, a_h],
            state: vec![h],
        })
    }

    /// The derivation's steps 1 to 4.
    fn backward<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        x: &Matrix<T>,
        prev: &[&Matrix<T>],
        internals: &[&Matrix<T>],
        _state: &[&Matrix<T>],
        d_state: &[&Matrix<T>],
    ) -> StepBack<T> {
        let (h_prev, dh) = (prev[0], d_state[0]);
        let Gates { r, z, n } = self.gates(p, internals, h_prev);
        let one = T::one();
        let dn = times(dh, &z.map(|z| one - z));
        let dz = times(dh, &h_prev.sub(&n).expect(SHAPES));
        let dp_n = times(&dn, &n.map(|n| one - n * n));
        // Reset before the product: n's recurrent term (r ⊙ h_(t-1))·W_hn + b_hn, whose
        // gradient dp_n flows to r, to h_(t-1) and to W_h's and b_h's n blocks directly.
        let through_reset = match self.reset {
            Reset::After => None,
            Reset::Before => Some(dp_n.matmul(&block(p[1], 2).transpose()).expect(SHAPES)),
        };
        let dr = match &through_reset {
            None => times(&dp_n, &block(internals[1], 2)),
            Some(du) => times(du, h_prev),
        };
        let dp_r = times(&dr, &r.map(|r| r * (one - r)));
        let dp_z = times(&dz, &z.map(|z| z * (one - z)));
        let rows = dh.rows();
        let n_block = match self.reset {
            Reset::After => times(&r, &dp_n),
            Reset::Before => Matrix::zeros(rows, dp_n.cols()),
        };
        let da_h = Matrix::stack_cols(&[dp_r.clone(), dp_z.clone(), n_block], rows);
        let da_x = Matrix::stack_cols(&[dp_r, dp_z, dp_n.clone()], rows);
        let mut back = affine_backward(p, x, h_prev, da_x, da_h);
        // The direct path through the update, beside the one through a^h_t.
        back.to_prev[0].add_assign(&times(dh, &z)).expect(SHAPES);
        if let Some(du) = through_reset {
            let hidden = dh.cols();
            back.to_prev[0].add_assign(&times(&du, &r)).expect(SHAPES);
            let dw_hn = times(&r, h_prev).transpose().matmul(&dp_n).expect(SHAPES);
            add_to_block(&mut back.params[1], 2 * hidden, &dw_hn);
            add_to_block(&mut back.params[3], 2 * hidden, &dp_n.sum_rows());
        }
        back
    }

    fn equation(&self, q: &Quantity, t: usize, steps: usize) -> String {
        let next = t + 1;
        match q.site {
            Site::State(_) if t == 0 => "da_h_1·W_hᵀ + dh_1 ⊙ z_1".into(),
            Site::State(_) if t == steps => format!("∂L/∂h_{t}"),
            Site::State(_) => match self.reset {
                Reset::After => format!("da_h_{next}·W_hᵀ + dh_{next} ⊙ z_{next} + ∂ℓ/∂h_{t}"),
                Reset::Before => format!(
                    "da_h_{next}·W_hᵀ + (dp_n·W_hnᵀ) ⊙ r_{next} + dh_{next} ⊙ z_{next} + \
                     ∂ℓ/∂h_{t}"
                ),
            },
            Site::Internal(0) => {
                let dr = match self.reset {
                    Reset::After => format!("dp_n ⊙ a_h_{t}[n]"),
                    Reset::Before => format!("(dp_n·W_hnᵀ) ⊙ h_{}", t - 1),
                };
                format!(
                    "[dp_r | dp_z | dp_n]: dp_n = dh_{t} ⊙ (1 − z_{t}) ⊙ (1 − n_{t}²), dp_z = \
                     dh_{t} ⊙ (h_{} − n_{t}) ⊙ z_{t}(1 − z_{t}), dp_r = {dr} ⊙ r_{t}(1 − r_{t})",
                    t - 1
                )
            }
            Site::Internal(_) => match self.reset {
                Reset::After => format!("[dp_r | dp_z | r_{t} ⊙ dp_n]"),
                Reset::Before => "[dp_r | dp_z | 0]".into(),
            },
            Site::Input => format!("da_x_{t}·W_xᵀ"),
            Site::Param(0) => format!("x_{t}ᵀ·da_x_{t}"),
            Site::Param(1) => format!("h_{}ᵀ·da_h_{t}", t - 1),
            Site::Param(2) => format!("Σ_batch da_x_{t}"),
            Site::Param(_) => format!("Σ_batch da_h_{t}"),
        }
    }

    fn explain(
        &self,
        q: &Quantity,
        t: usize,
        steps: usize,
        agreed: Agreed<'_>,
    ) -> (String, String) {
        let label = crate::cell::quantity_label::<Gru>(q, t);
        let equation = format!("{label} = {}", self.equation(q, t, steps));
        let given = |name: &str, at: usize| agreed(at, name) == Some(true);
        let why = match q.site {
            Site::State(_) if t == steps => "the gradient of the loss with respect to the last \
                 state: check the head's derivative, with the same 1/B as the loss's mean over \
                 the batch"
                .to_string(),
            Site::State(_) if given("da_h", t + 1) => format!(
                "da_h_{} is right, so a path into h_{t} is wrong: W_hᵀ (not W_h), and the \
                 direct path dh_{} ⊙ z_{} through the update, not forgotten and not taken with \
                 1 − z",
                t + 1,
                t + 1,
                t + 1
            ),
            Site::State(_) => format!(
                "da_h_{} was not given, so the error may have entered there",
                t + 1
            ),
            Site::Internal(_) if given("dh", t) => format!(
                "dh_{t} is right, so a gate's derivative is wrong: z and 1 − z not swapped (dn \
                 takes 1 − z, dz takes h_{} − n), σ' and tanh' from the gates' outputs, and the \
                 reset gate applied after the product: a_h_{t}[n]'s gradient is r_{t} ⊙ dp_n, \
                 and dr takes a_h_{t}[n], not h_{}",
                t - 1,
                t - 1
            ),
            Site::Internal(_) => {
                format!("dh_{t} was not given, so the error may be in dh_{t} instead")
            }
            Site::Input => "da_x is right (or not given): da_x times W_x transposed".to_string(),
            Site::Param(0) => format!("da_x_{t} is right (or not given): x_{t}, transposed"),
            Site::Param(1) => format!(
                "da_h_{t} is right (or not given): h_{} (the state that went into step {t}), \
                 and da_h (with r ⊙ dp_n in its n block), not da_x",
                t - 1
            ),
            Site::Param(_) => {
                "the reduction: a sum over the batch axis (axis 0), of da_x for b_x and of da_h \
                 for b_h"
                    .to_string()
            }
        };
        (equation, why)
    }
}

/// The GRU step row by row, for the training paths of [`crate::gated`]: `p^x = a^x_t`,
/// `p^h = a^h_t`. A row keeps `[r | z | n | a^h_t[n]]`: the gates, and the recurrent term that
/// `dr` needs.
impl Pointwise for Gru {
    const STEP: &'static str = "gru_step";
    const WIDTH: usize = 3;
    const KEPT: usize = 4;
    const BIASES: (usize, Option<usize>) = (2, Some(3));

    /// With the reset gate before the product, `(r ⊙ h_(t-1))·W_hn` is a third product that
    /// comes after the gates.
    fn pointwise(&self) -> Result<()> {
        match self.reset {
            Reset::After => Ok(()),
            Reset::Before => Err(Error::invalid(
                "reset",
                "the fast training path takes the reset gate after the product (\"after\"); \
                 with \"before\", (r ⊙ h_(t-1))·W_hn is a third product inside the step: use \
                 Case::bptt",
            )),
        }
    }

    /// `r, z = σ(a^x + a^h)` of their blocks, `n = tanh(a^x[n] + r ⊙ a^h[n])`,
    /// `h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)`.
    fn forward_row<T: Scalar>(
        &self,
        px: &[T],
        ph: &[T],
        prev: &[T],
        next: &mut [T],
        kept: &mut [T],
    ) {
        let h = next.len();
        let (rz, rest) = kept.split_at_mut(2 * h);
        let (n, ph_n) = rest.split_at_mut(h);
        for (gate, (&x, &y)) in rz.iter_mut().zip(px.iter().zip(ph)) {
            *gate = x + y;
        }
        Activation::Sigmoid.apply_in_place(rz);
        ph_n.copy_from_slice(&ph[2 * h..]);
        for j in 0..h {
            n[j] = px[2 * h + j] + rz[j] * ph_n[j];
        }
        Activation::Tanh.apply_in_place(n);
        let z = &rz[h..];
        for j in 0..h {
            next[j] = (T::one() - z[j]) * n[j] + z[j] * prev[j];
        }
    }

    /// Steps 1 to 3 of the derivation, and the direct path of step 4: `da_x_t` into `dpx`,
    /// `da_h_t` into `dph`, and `dh_t ⊙ z_t` left in `d_state`.
    fn backward_row<T: Scalar>(
        &self,
        kept: &[T],
        prev: &[T],
        d_state: &mut [T],
        dpx: &mut [T],
        dph: &mut [T],
    ) {
        let h = d_state.len();
        let one = T::one();
        let (r, rest) = kept.split_at(h);
        let (z, rest) = rest.split_at(h);
        let (n, ph_n) = rest.split_at(h);
        let (prev, ph_n) = (&prev[..h], &ph_n[..h]);
        let (dpx_rz, dpx_n) = dpx.split_at_mut(2 * h);
        let (dph_rz, dph_n) = dph.split_at_mut(2 * h);
        // Plain scalar code, about a tenth of a training step's time: the machine code shows no
        // vector instruction in this loop, which indexes many slices by `j`, nor did it when
        // wrapped in `kernel::wide` (whose closure the compiler left as a call).
        for j in 0..h {
            let dh = d_state[j];
            let dn = dh * (one - z[j]);
            let dz = dh * (prev[j] - n[j]);
            let dp_n = dn * (one - n[j] * n[j]);
            let dp_r = dp_n * ph_n[j] * r[j] * (one - r[j]);
            let dp_z = dz * z[j] * (one - z[j]);
            dpx_rz[j] = dp_r;
            dpx_rz[h + j] = dp_z;
            dpx_n[j] = dp_n;
            dph_rz[j] = dp_r;
            dph_rz[h + j] = dp_z;
            dph_n[j] = r[j] * dp_n;
            d_state[j] = dh * z[j];
        }
    }
}
