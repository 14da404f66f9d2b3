//! The vanilla recurrent cell, with its backward step derived by hand.
//!
//! ```text
//! a_t = x_t·W_x + h_(t-1)·W_h + b          W_x (F, H), W_h (H, H), b (H,)
//! h_t = φ(a_t)                             φ = tanh (default), sigmoid or identity
//! ```
//!
//! Shapes follow the numpy homework: `x_t` is `batch × features` (numpy's `x[:, t-1, :]`), and
//! the bias `b` is a `1 × hidden` row added to every row.
//!
//! # The backward step, derived (tanh)
//!
//! The loss `L` depends on the states directly through the head (`∂ℓ/∂h_t`) and indirectly
//! through every later step. Write `dh_t = ∂L/∂h_t` for the *total* derivative.
//!
//! 1. **Through the activation.** `h_t = tanh(a_t)` acts entry by entry, so its Jacobian is
//!    diagonal: `∂h_t/∂a_t = diag(1 − tanh(a_t)²) = diag(1 − h_t²)`. A diagonal Jacobian
//!    multiplies entry by entry:
//!
//!    ```text
//!    da_t = dh_t ⊙ (1 − h_t²)
//!    ```
//!
//!    (`h_t(1 − h_t)` for sigmoid, `1` for identity: [`Activation`].) Note `h_t`, not
//!    `tanh(h_t)`: the output is already the tanh.
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
//!    starting from `dh_T = ∂ℓ/∂h_T`, and ending with `dh_0 = da_1 · W_hᵀ`. The first term is
//!    what [`Cell::backward`] hands back; the BPTT loop ([`crate::bptt`]) adds the second.
//!
//! 4. **Shared weights.** Every step uses the same `W_x`, `W_h`, `b`. Untie them: give step t
//!    its own copy `W_h[t]`, all equal. `L` depends on `W_h` only through the copies, so by the
//!    chain rule `∂L/∂W_h = Σ_t ∂L/∂W_h[t]`, and `∂L/∂W_h[t]` is exactly step 2's `dW_h[t]`.
//!    A shared weight's gradient is the sum of the gradients of its untied per-step copies:
//!
//!    ```text
//!    dW_x = Σ_t dW_x[t],   dW_h = Σ_t dW_h[t],   db = Σ_t db[t]
//!    ```
//!
//! # The fused step
//!
//! [`Rnn::record_fused`] records a whole step as one node, the training path's recording: the
//! tape then keeps `x_t` and `h_t` only, because `φ'(a_t)` is written in terms of `h_t`.

use crate::activation::Activation;
use crate::cell::{
    Agreed, Cell, Dim, Internal, Param, Quantity, RecordedStep, Site, State, StepBack,
};
use crate::error::{Error, Result};
use crate::kernel::View;
use crate::matrix::Matrix;
use crate::ops::{Fused, add_into, add_product};
use crate::scalar::Scalar;
use crate::tape::{Tape, Var};
use std::rc::Rc;

/// The vanilla RNN cell `h_t = φ(x_t·W_x + h_(t-1)·W_h + b)`: all it holds is `φ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rnn {
    /// `φ` in `h_t = φ(a_t)`.
    pub activation: Activation,
}

const SHAPES: &str = "invariant: the sequence checked every shape before the step";

impl Rnn {
    /// The cell with activation `φ`.
    pub fn new(activation: Activation) -> Rnn {
        Rnn { activation }
    }

    /// The whole forward pass recorded with one fused node per step: `h_t = φ(x_t·W_x +
    /// h_(t-1)·W_h + b)` ([`RnnStep`]). The same states as recording the products, sums and `φ`
    /// one by one, bit for bit, but the tape keeps only `x_t` and `h_t`, and the weights are
    /// used directly, so their gradients are the totals only. `p` is `[W_x, W_h, b]`.
    pub fn record_fused<'t, T: Scalar>(
        &self,
        tape: &'t Tape<T>,
        p: &[Matrix<T>],
        xs: &[Matrix<T>],
        h0: &Matrix<T>,
    ) -> Result<FusedRecording<'t, T>> {
        let [w_x, w_h, b] = p else {
            return Err(Error::bad_shape(
                "RNN parameters",
                "3 (w_x, w_h, b)",
                p.len().to_string(),
            ));
        };
        let [w_x_var, w_h_var, b_var] = [w_x, w_h, b].map(|value| value.clone());
        let leaves = [
            tape.named_var("W_x", w_x_var),
            tape.named_var("W_h", w_h_var),
            tape.named_var("b", b_var),
        ];
        let op: Rc<dyn Fused<T>> = Rc::new(RnnStep::new(self.activation, w_x, w_h, h0.rows()));
        let mut h = Vec::with_capacity(xs.len() + 1);
        h.push(tape.named_var("h_0", h0.clone()));
        let mut x = Vec::with_capacity(xs.len());
        for x_t in xs {
            let x_t = tape.var(x_t.clone());
            let inputs = [x_t, h[h.len() - 1], leaves[0], leaves[1], leaves[2]];
            h.push(x_t.fused(op.clone(), &inputs)?);
            x.push(x_t);
        }
        Ok(FusedRecording {
            params: leaves,
            x,
            h,
        })
    }
}

/// `φ` recorded on `a`'s tape.
fn phi_on_tape<'t, T: Scalar>(phi: Activation, a: Var<'t, T>) -> Var<'t, T> {
    match phi {
        Activation::Tanh => a.tanh(),
        Activation::Sigmoid => a.sigmoid(),
        Activation::Identity => a.alias(),
    }
}

/// Step 1 of the derivation, `da_t = dh_t ⊙ φ'(a_t)`, with `φ'(a_t)` written in terms of the
/// output `h_t` ([`Activation::derivative_from_output`]).
pub fn da<T: Scalar>(phi: Activation, dh: &Matrix<T>, h: &Matrix<T>) -> Matrix<T> {
    let d_phi = h.map(|h| phi.derivative_from_output(h));
    dh.hadamard(&d_phi).expect(SHAPES)
}

/// Steps 2 and 3 of the derivation, the affine map backward: from `da_t`, the gradients of
/// `x_t`, of step t's copies of `W_x`, `W_h`, `b`, and `da_t·W_hᵀ` for `h_(t-1)`. `p` is
/// `[W_x, W_h, b]`, `h_prev` the state that went into the step.
pub fn affine_backward<T: Scalar>(
    p: &[&Matrix<T>],
    x: &Matrix<T>,
    h_prev: &Matrix<T>,
    da: Matrix<T>,
) -> StepBack<T> {
    let [w_x, w_h, _] = p else {
        unreachable!("{SHAPES}: the RNN has three parameters")
    };
    StepBack {
        dx: da.matmul(&w_x.transpose()).expect(SHAPES),
        params: vec![
            x.transpose().matmul(&da).expect(SHAPES),
            h_prev.transpose().matmul(&da).expect(SHAPES),
            da.sum_rows(),
        ],
        to_prev: vec![da.matmul(&w_h.transpose()).expect(SHAPES)],
        internals: vec![da],
    }
}

/// `a_t = x_t·W_x + h_(t-1)·W_h + b` from `x_t·W_x` (`projected`): the step's one equation
/// forward before `φ`. `h_(t-1)·W_h` is formed first and the projection added to it, in place:
/// addition commutes exactly, so these are the numbers of `x_t·W_x + h_(t-1)·W_h` as the tape
/// records it.
fn affine<T: Scalar>(
    projected: &Matrix<T>,
    h_prev: &Matrix<T>,
    w_h: &Matrix<T>,
    b: &Matrix<T>,
) -> Matrix<T> {
    let mut a = h_prev.matmul(w_h).expect(SHAPES);
    a.add_assign(projected).expect(SHAPES);
    a.add_row_in_place(b).expect(SHAPES);
    a
}

/// How `φ'(a_t)` is written in terms of `h_t`, for traces and explanations.
fn derivative_text(phi: Activation, t: usize) -> String {
    match phi {
        Activation::Tanh => format!("(1 − h_{t}²)"),
        Activation::Sigmoid => format!("h_{t}(1 − h_{t})"),
        Activation::Identity => "1".into(),
    }
}

impl Cell for Rnn {
    const KIND: &'static str = "rnn";
    const PARAMS: &'static [Param] = &[
        Param {
            key: "w_x",
            shown: "W_x",
            grad: "dw_x",
            rows: Dim::Features,
            cols: Dim::Hidden(1),
            projected: true,
        },
        Param {
            key: "w_h",
            shown: "W_h",
            grad: "dw_h",
            rows: Dim::Hidden(1),
            cols: Dim::Hidden(1),
            projected: false,
        },
        Param {
            key: "b",
            shown: "b",
            grad: "db",
            rows: Dim::One,
            cols: Dim::Hidden(1),
            projected: false,
        },
    ];
    const STATES: &'static [State] = &[State {
        key: "h",
        initial: "h0",
        grad: "dh",
    }];
    const INTERNALS: &'static [Internal] = &[Internal {
        key: "a",
        grad: "da",
        cols: Dim::Hidden(1),
    }];
    const OPTIONS: &'static [(&'static str, &'static str)] =
        &[("activation", "\"tanh\", \"sigmoid\" or \"identity\"")];

    fn from_options(option: &dyn Fn(&str) -> Option<String>) -> Result<Rnn> {
        Ok(Rnn {
            activation: match option("activation") {
                None => Activation::Tanh,
                Some(name) => Activation::parse(&name)?,
            },
        })
    }

    fn title(&self) -> String {
        format!("{} RNN", self.activation)
    }

    fn equations(&self) -> String {
        format!(
            "a_t = x_t·W_x + h_(t-1)·W_h + b,  h_t = {}(a_t)",
            self.activation.name()
        )
    }

    /// `x_t·W_x`.
    fn project<T: Scalar>(&self, p: &[&Matrix<T>], x: &Matrix<T>) -> Matrix<T> {
        x.matmul(p[0]).expect(SHAPES)
    }

    /// `a_t = x_t·W_x + h_(t-1)·W_h + b`.
    fn pre<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        projected: &Matrix<T>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let ([_, w_h, b], [h_prev]) = (p, prev) else {
            unreachable!("{SHAPES}: the RNN has three parameters and one state")
        };
        vec![affine(projected, h_prev, w_h, b)]
    }

    /// `h_t = φ(a_t)`, in place of `a_t`.
    fn post<T: Scalar>(
        &self,
        _p: &[&Matrix<T>],
        mut internals: Vec<Matrix<T>>,
        _prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        self.activation.apply_in_place(internals[0].as_mut_slice());
        internals
    }

    fn record<'t, T: Scalar>(
        &self,
        p: &[Var<'t, T>],
        x: Var<'t, T>,
        prev: &[Var<'t, T>],
        t: usize,
    ) -> Result<RecordedStep<'t, T>> {
        let (&[w_x, w_h, b], &[h_prev]) = (p, prev) else {
            return Err(Error::invalid(
                "RNN step",
                "expected the three parameters w_x, w_h, b and one state h",
            ));
        };
        let a = x
            .matmul(w_x)?
            .add(h_prev.matmul(w_h)?)?
            .add_bias(b)?
            .named(&format!("a_{t}"));
        let h = phi_on_tape(self.activation, a).named(&format!("h_{t}"));
        Ok(RecordedStep {
            internals: vec![a],
            state: vec![h],
        })
    }

    /// The derivation's steps 1 to 3: `da_t = dh_t ⊙ φ'(a_t)`, then the affine map backward.
    fn backward<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        x: &Matrix<T>,
        prev: &[&Matrix<T>],
        _internals: &[&Matrix<T>],
        state: &[&Matrix<T>],
        d_state: &[&Matrix<T>],
    ) -> StepBack<T> {
        let da = da(self.activation, d_state[0], state[0]);
        affine_backward(p, x, prev[0], da)
    }

    fn equation(&self, q: &Quantity, t: usize, steps: usize) -> String {
        match q.site {
            Site::State(_) if t == 0 => "da_1·W_hᵀ".into(),
            Site::State(_) if t == steps => format!("∂L/∂h_{t}"),
            Site::State(_) => format!("da_{}·W_hᵀ + ∂ℓ/∂h_{t}", t + 1),
            Site::Internal(_) => {
                format!("dh_{t} ⊙ {}", derivative_text(self.activation, t))
            }
            Site::Input => format!("da_{t}·W_xᵀ"),
            Site::Param(0) => format!("x_{t}ᵀ·da_{t}"),
            Site::Param(1) => format!("h_{}ᵀ·da_{t}", t - 1),
            Site::Param(_) => format!("Σ_batch da_{t}"),
        }
    }

    fn explain(
        &self,
        q: &Quantity,
        t: usize,
        steps: usize,
        agreed: Agreed<'_>,
    ) -> (String, String) {
        match q.site {
            Site::State(_) if t == steps => (
                format!("dh_{t} = ∂ℓ/∂h_{t}"),
                "the gradient of the loss with respect to the last state: check the head's \
                 derivative (sum_last: ones; softmax_ce: (P − Y)/B · W_outᵀ, with the same 1/B \
                 as the loss's mean over the batch; mse: h − y, with its own factor), and \
                 anything done to it afterwards, such as clipping (which belongs in the \
                 optimizer, after the check)"
                    .to_string(),
            ),
            Site::State(_) => (
                format!("dh_{t} = da_{}·W_hᵀ + ∂ℓ/∂h_{t}", t + 1),
                match agreed(t + 1, "da") {
                    Some(true) => format!(
                        "da_{} is right, so the recurrence itself is wrong: W_hᵀ (not W_h), \
                         da_{} (not dh_{}), the recurrent term not forgotten, the head's direct \
                         term ∂ℓ/∂h_{t} only where the loss touches h_{t}, and no rescaling such \
                         as clipping",
                        t + 1,
                        t + 1,
                        t + 1
                    ),
                    _ => format!(
                        "da_{} was not given, so the error may also have entered at t = {}",
                        t + 1,
                        t + 1
                    ),
                },
            ),
            Site::Internal(_) => {
                let before = t - 1;
                let phi = self.activation;
                let why = match phi {
                    Activation::Tanh => format!(
                        "it takes the state h_{t} = tanh(a_{t}) itself: not tanh(h_{t}), not \
                         a_{t}, not h_{before}, not the last state"
                    ),
                    Activation::Sigmoid => format!(
                        "it takes the state h_{t} = σ(a_{t}) itself: not σ(h_{t}), not a_{t}, \
                         not h_{before}, not the last state"
                    ),
                    Activation::Identity => {
                        format!("with the identity, da_{t} must equal dh_{t}")
                    }
                };
                (
                    format!(
                        "da_{t} = dh_{t} ⊙ φ'(a_{t}) = dh_{t} ⊙ {} for {phi}",
                        derivative_text(phi, t)
                    ),
                    match agreed(t, "dh") {
                        Some(true) => {
                            format!("dh_{t} is right, so the activation derivative is wrong: {why}")
                        }
                        _ => format!("dh_{t} was not given, so the error may be in dh_{t} instead"),
                    },
                )
            }
            Site::Input => (
                format!("dx_{t} = da_{t}·W_xᵀ"),
                "da is right (or not given), so look at this product: da, not dh, times W_x \
                 transposed"
                    .to_string(),
            ),
            Site::Param(0) => (
                format!("dW_x[{t}] = x_{t}ᵀ·da_{t}"),
                format!(
                    "da_{t} is right (or not given), so look at the input: x_{t} of this very \
                     step, transposed"
                ),
            ),
            Site::Param(1) => (
                format!("dW_h[{t}] = h_{}ᵀ·da_{t}", t - 1),
                format!(
                    "da_{t} is right (or not given), so look at the state: h_{} (the state that \
                     went into step {t}) versus h_{t} (the one that came out), and at the wrap \
                     of a negative index at t = 1",
                    t - 1
                ),
            ),
            Site::Param(_) => (
                format!("db[{t}] = Σ_batch da_{t}"),
                "da is right (or not given), so look at the reduction: a sum over the batch \
                 axis (axis 0), not a mean and not over the hidden axis"
                    .to_string(),
            ),
        }
    }
}

/// Handles to the nodes [`Rnn::record_fused`] recorded.
#[derive(Clone, Debug)]
pub struct FusedRecording<'t, T> {
    /// The leaves `W_x`, `W_h`, `b`: their gradients are the totals.
    pub params: [Var<'t, T>; 3],
    /// The inputs `x_1 … x_T` (leaves), step t at index `t − 1`.
    pub x: Vec<Var<'t, T>>,
    /// The states `h_0 … h_T` (`h_0` is a leaf; the others are fused steps).
    pub h: Vec<Var<'t, T>>,
}

/// Steps whose products have at most this many multiply-adds read the transposed view of a
/// weight, not a copy: the tiny steps (the canonical example's has 16), whose time is the
/// tape's bookkeeping, not their products. The same sums either way, bit for bit.
const COPY_MIN_WORK: usize = 256;

/// One RNN step `H = φ(X·W_x + H_prev·W_h + b)` as a single node, inputs `[X, H_prev, W_x, W_h,
/// b]`.
///
/// Its forward value is the cell's own step ([`Cell::project`], [`Cell::pre`], [`Cell::post`]),
/// so the same numbers, but the tape keeps only `H`: the backward pass needs no other value of the step,
/// because `φ'(A)` is written in terms of `H`. That is how a framework's fused RNN cell keeps
/// its memory to the activations. Backward: with `Ā = H̄ ⊙ φ'(A)`, `X̄ = Ā·W_xᵀ`,
/// `H̄_prev = Ā·W_hᵀ`, `W̄_x = Xᵀ·Ā`, `W̄_h = H_prevᵀ·Ā`, `b̄ = Σ_i Ā_i`.
///
/// Every step's node shares one `RnnStep`, which holds `W_xᵀ` and `W_hᵀ`, copied once when the
/// sequence is recorded. Why: the `gemm` kernel repacks its right operand at each call, and
/// gathering it from the transposed view of a row-major `W` is slower than copying rows: 58
/// against 82 GFLOP/s for `da·W_hᵀ` at `B = 32, H = 128` (f64). One copy costs `H²` reads where
/// the products cost `B·H²` multiply-adds per step; measured on the whole fused tape at B=32
/// T=64 F=32 H=128, it took 5% (f64) and 13% (f32) off the time of a training step. The plain
/// loop of smaller products ([`crate::kernel::matmul_into`]) wants `B`'s rows contiguous too, so the
/// copy is made for both, in every build, except for the smallest steps (of at most 256 multiply-adds).
#[derive(Debug)]
pub struct RnnStep<T> {
    activation: Activation,
    w_x_t: Option<Matrix<T>>,
    w_h_t: Option<Matrix<T>>,
}

impl<T: Scalar> RnnStep<T> {
    /// The fused step for `φ`, weights `W_x`, `W_h`, and batches of `batch` rows.
    pub fn new(activation: Activation, w_x: &Matrix<T>, w_h: &Matrix<T>, batch: usize) -> Self {
        let copy = |w: &Matrix<T>| (batch * w.len() > COPY_MIN_WORK).then(|| w.transpose());
        RnnStep {
            activation,
            w_x_t: copy(w_x),
            w_h_t: copy(w_h),
        }
    }
}

/// `wᵀ`: the copy, when one was made, or else the transposed view of `w`.
fn transposed<'a, T: Scalar>(copy: &'a Option<Matrix<T>>, w: &'a Matrix<T>) -> View<'a, T> {
    match copy {
        Some(copy) => copy.view(),
        None => w.view().t(),
    }
}

impl<T: Scalar> Fused<T> for RnnStep<T> {
    fn name(&self) -> &'static str {
        "rnn_step"
    }

    /// The cell's own step (its `affine` equation, then `φ` in place, as [`Cell::post`] does),
    /// after checking the shapes (a fused step recorded by hand has had no case to check them).
    fn forward(&self, inputs: &[&Matrix<T>]) -> Result<Matrix<T>> {
        let [x, h_prev, w_x, w_h, b] = inputs else {
            return Err(Error::invalid(
                "rnn_step",
                format!(
                    "expected 5 inputs (x, h_prev, w_x, w_h, b), found {}",
                    inputs.len()
                ),
            ));
        };
        // x·W_x + h_prev·W_h + b: each product's inner sizes, then the sum's and the bias's.
        let hidden = w_h.cols();
        let pairs = [
            (x.cols() == w_x.rows(), x.shape(), w_x.shape()),
            (h_prev.cols() == w_h.rows(), h_prev.shape(), w_h.shape()),
            (
                (x.rows(), w_x.cols()) == (h_prev.rows(), hidden),
                (x.rows(), w_x.cols()),
                (h_prev.rows(), hidden),
            ),
            (b.shape() == (1, hidden), b.shape(), (1, hidden)),
        ];
        if let Some(&(_, left, right)) = pairs.iter().find(|pair| !pair.0) {
            return Err(Error::ShapeMismatch {
                op: "rnn_step",
                left,
                right,
            });
        }
        let mut h = affine(&x.matmul(w_x)?, h_prev, w_h, b);
        self.activation.apply_in_place(h.as_mut_slice());
        Ok(h)
    }

    /// The cell's own backward step ([`da`], then [`affine_backward`]), in the order of the
    /// inputs: `[X̄, H̄_prev, W̄_x, W̄_h, b̄]`. The sweep uses [`Fused::accumulate_vjp`], the same
    /// numbers summed in place; tests hold the two together.
    fn vjp(&self, inputs: &[&Matrix<T>], h: &Matrix<T>, g: &Matrix<T>) -> Vec<Matrix<T>> {
        let [x, h_prev, w_x, w_h, b] = inputs else {
            unreachable!("invariant: forward checked the five inputs")
        };
        let back = affine_backward(&[*w_x, *w_h, *b], x, h_prev, da(self.activation, g, h));
        let [dw_x, dw_h, db] = <[Matrix<T>; 3]>::try_from(back.params)
            .unwrap_or_else(|_| unreachable!("invariant: the RNN has three parameters"));
        let [dh_prev] = <[Matrix<T>; 1]>::try_from(back.to_prev)
            .unwrap_or_else(|_| unreachable!("invariant: the RNN has one state"));
        vec![back.dx, dh_prev, dw_x, dw_h, db]
    }

    /// `Ḣ = φ'(A) ⊙ Ȧ` with `Ȧ = Ẋ·W_x + X·Ẇ_x + Ḣ_prev·W_h + H_prev·Ẇ_h + ḃ`: the step's
    /// derivative along the inputs' tangents, `φ'` from `H` as in the backward step.
    fn jvp(&self, inputs: &[&Matrix<T>], h: &Matrix<T>, dots: &[&Matrix<T>]) -> Matrix<T> {
        let ([x, h_prev, w_x, w_h, _], [dx, dh_prev, dw_x, dw_h, db]) = (inputs, dots) else {
            unreachable!("invariant: forward checked the five inputs")
        };
        let invariant = "invariant: each tangent has its input's shape";
        let terms = [
            dx.matmul(w_x),
            x.matmul(dw_x),
            dh_prev.matmul(w_h),
            h_prev.matmul(dw_h),
        ];
        let mut a_dot = Matrix::zeros(h.rows(), h.cols());
        for term in terms {
            a_dot.add_assign(&term.expect(invariant)).expect(invariant);
        }
        a_dot.add_row_in_place(db).expect(invariant);
        da(self.activation, &a_dot, h)
    }

    /// [`Fused::vjp`], each product summed in place by the kernel, so that `W̄_x` and `W̄_h`,
    /// summed over every step, need no copy per step.
    fn accumulate_vjp(
        &self,
        inputs: &[&Matrix<T>],
        h: &Matrix<T>,
        g: &Matrix<T>,
        sums: &mut [Option<Matrix<T>>],
    ) {
        let ([x, h_prev, w_x, w_h, _], [x_bar, h_bar, w_x_bar, w_h_bar, b_bar]) = (inputs, sums)
        else {
            unreachable!("invariant: forward checked the five inputs")
        };
        let mut da = Matrix::zeros(h.rows(), h.cols());
        self.activation
            .backward_in_place(g.as_slice(), h.as_slice(), da.as_mut_slice());
        add_product(x_bar, da.view(), transposed(&self.w_x_t, w_x));
        add_product(h_bar, da.view(), transposed(&self.w_h_t, w_h));
        add_product(w_x_bar, x.view().t(), da.view());
        add_product(w_h_bar, h_prev.view().t(), da.view());
        add_into(b_bar, da.sum_rows());
    }
}
