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
    Agreed, Cell, Dim, Internal, Param, Quantity, RecordedStep, Site, State, StepBack,
};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::tape::Var;

/// The GRU cell of PyTorch's convention; it has no options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Gru;

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

/// The gates `r, z, n` of one step from its two internal values `a^x_t` and `a^h_t`.
pub fn gates<T: Scalar>(a_x: &Matrix<T>, a_h: &Matrix<T>) -> Gates<T> {
    let r = squash(Activation::Sigmoid, plus(&block(a_x, 0), &block(a_h, 0)));
    let z = squash(Activation::Sigmoid, plus(&block(a_x, 1), &block(a_h, 1)));
    let n = squash(
        Activation::Tanh,
        plus(&block(a_x, 2), &times(&r, &block(a_h, 2))),
    );
    Gates { r, z, n }
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
    const OPTIONS: &'static [(&'static str, &'static str)] = &[];

    fn from_options(_option: &dyn Fn(&str) -> Option<String>) -> Result<Gru> {
        Ok(Gru)
    }

    fn title(&self) -> String {
        "GRU (reset after the product)".into()
    }

    fn equations(&self) -> String {
        "a_x_t = x_t·W_x + b_x,  a_h_t = h_(t-1)·W_h + b_h,  r = σ(a_x[r] + a_h[r]),  \
         z = σ(a_x[z] + a_h[z]),  n = tanh(a_x[n] + r ⊙ a_h[n]),  h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)"
            .into()
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

    /// `r_t, z_t, n_t`.
    fn trace_gates<T: Scalar>(&self, internals: &[&Matrix<T>]) -> Vec<(&'static str, Matrix<T>)> {
        let Gates { r, z, n } = gates(internals[0], internals[1]);
        vec![("r", r), ("z", z), ("n", n)]
    }

    /// `h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)`.
    fn post<T: Scalar>(
        &self,
        _p: &[&Matrix<T>],
        internals: Vec<Matrix<T>>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let Gates { z, n, .. } = gates(&internals[0], &internals[1]);
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
        let n = block(a_x, 2)?
            .add(r.mul(block(a_h, 2)?)?)?
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
        let Gates { r, z, n } = gates(internals[0], internals[1]);
        let one = T::one();
        let dn = times(dh, &z.map(|z| one - z));
        let dz = times(dh, &h_prev.sub(&n).expect(SHAPES));
        let dp_n = times(&dn, &n.map(|n| one - n * n));
        let dr = times(&dp_n, &block(internals[1], 2));
        let dp_r = times(&dr, &r.map(|r| r * (one - r)));
        let dp_z = times(&dz, &z.map(|z| z * (one - z)));
        let rows = dh.rows();
        let da_h = Matrix::stack_cols(&[dp_r.clone(), dp_z.clone(), times(&r, &dp_n)], rows);
        let da_x = Matrix::stack_cols(&[dp_r, dp_z, dp_n], rows);
        let mut back = affine_backward(p, x, h_prev, da_x, da_h);
        // The direct path through the update, beside the one through a^h_t.
        back.to_prev[0].add_assign(&times(dh, &z)).expect(SHAPES);
        back
    }

    fn equation(&self, q: &Quantity, t: usize, steps: usize) -> String {
        let next = t + 1;
        match q.site {
            Site::State(_) if t == 0 => "da_h_1·W_hᵀ + dh_1 ⊙ z_1".into(),
            Site::State(_) if t == steps => format!("∂L/∂h_{t}"),
            Site::State(_) => format!("da_h_{next}·W_hᵀ + dh_{next} ⊙ z_{next} + ∂ℓ/∂h_{t}"),
            Site::Internal(0) => format!(
                "[dp_r | dp_z | dp_n]: dp_n = dh_{t} ⊙ (1 − z_{t}) ⊙ (1 − n_{t}²), dp_z = dh_{t} \
                 ⊙ (h_{} − n_{t}) ⊙ z_{t}(1 − z_{t}), dp_r = dp_n ⊙ a_h_{t}[n] ⊙ r_{t}(1 − r_{t})",
                t - 1
            ),
            Site::Internal(_) => format!("[dp_r | dp_z | r_{t} ⊙ dp_n]"),
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
