//! The recurrent network: parameters, the forward pass, and the same pass recorded on a tape.
//!
//! Notation (used in every module, doc and trace):
//!
//! ```text
//! a_t = x_t · W_x + h_(t-1) · W_h + b      pre-activation, batch × hidden
//! h_t = φ(a_t)                             φ = tanh (default), sigmoid or identity
//! ```
//!
//! for `t = 1..=T`, with `h_0` the initial state (zeros unless given). Shapes follow the numpy
//! homework: `x_t` is `batch × features` (numpy's `x[:, t-1, :]`), `W_x` is `features × hidden`,
//! `W_h` is `hidden × hidden`, `b` is a `1 × hidden` row.

pub use crate::activation::Activation;
use crate::error::{Error, Result, shape_str};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::tape::{Tape, Var};

impl Activation {
    /// Records `h = φ(a)` on `a`'s tape.
    pub fn on_tape<'t, T: Scalar>(self, a: Var<'t, T>) -> Var<'t, T> {
        match self {
            Activation::Tanh => a.tanh(),
            Activation::Sigmoid => a.sigmoid(),
            Activation::Identity => a.alias(),
        }
    }
}

/// The parameters of a single-layer RNN: `W_x`, `W_h`, `b` and the activation.
#[derive(Clone, Debug, PartialEq)]
pub struct Rnn<T> {
    /// Input weights, `features × hidden`.
    pub w_x: Matrix<T>,
    /// Recurrent weights, `hidden × hidden`.
    pub w_h: Matrix<T>,
    /// Bias, a `1 × hidden` row.
    pub b: Matrix<T>,
    /// `φ` in `h_t = φ(a_t)`.
    pub activation: Activation,
}

/// What the plain forward pass keeps: every `a_t` and every `h_t`, which is what hand BPTT needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward<T> {
    /// `a_1 … a_T`, stored from index 0; read them with [`Forward::a`].
    a: Vec<Matrix<T>>,
    /// `h_0 … h_T`; read them with [`Forward::h`].
    h: Vec<Matrix<T>>,
}

impl<T: Scalar> Forward<T> {
    /// Number of time steps `T`.
    pub fn steps(&self) -> usize {
        self.a.len()
    }

    /// The pre-activation `a_t`, for `t = 1..=T`.
    pub fn a(&self, t: usize) -> &Matrix<T> {
        assert!(
            (1..=self.a.len()).contains(&t),
            "a_t exists for t = 1..=T, asked t = {t}"
        );
        &self.a[t - 1]
    }

    /// The state `h_t`, for `t = 0..=T` (`h_0` is the initial state).
    pub fn h(&self, t: usize) -> &Matrix<T> {
        &self.h[t]
    }

    /// The states `h_0 … h_T`.
    pub fn states(&self) -> &[Matrix<T>] {
        &self.h
    }
}

impl<T: Scalar> Rnn<T> {
    /// Checks the shapes (`W_h` square, `W_x` with as many columns as `W_h`, `b` a `1 × hidden`
    /// row) and builds the parameters.
    pub fn new(
        w_x: Matrix<T>,
        w_h: Matrix<T>,
        b: Matrix<T>,
        activation: Activation,
    ) -> Result<Rnn<T>> {
        let hidden = w_h.rows();
        if w_h.cols() != hidden || hidden == 0 {
            return Err(Error::bad_shape(
                "w_h",
                "hidden×hidden (square, hidden ≥ 1)",
                shape_str(w_h.shape()),
            ));
        }
        if w_x.cols() != hidden || w_x.rows() == 0 {
            return Err(Error::bad_shape(
                "w_x",
                format!("features×{hidden} (features ≥ 1; hidden from w_h)"),
                shape_str(w_x.shape()),
            ));
        }
        if b.shape() != (1, hidden) {
            return Err(Error::bad_shape(
                "b",
                format!("1×{hidden} (a row of hidden entries, hidden from w_h)"),
                shape_str(b.shape()),
            ));
        }
        Ok(Rnn {
            w_x,
            w_h,
            b,
            activation,
        })
    }

    /// Number of input features (rows of `W_x`).
    pub fn features(&self) -> usize {
        self.w_x.rows()
    }

    /// Number of hidden units (size of `W_h`).
    pub fn hidden(&self) -> usize {
        self.w_h.rows()
    }

    /// One step with the given parameters: `a = x·W_x + h_prev·W_h + b`, `h = φ(a)`.
    ///
    /// Taking the three weights as arguments lets a finite-difference check run one step with
    /// a perturbed copy of a weight while the other steps use the original.
    pub fn step_with(
        &self,
        x_t: &Matrix<T>,
        h_prev: &Matrix<T>,
        w_x: &Matrix<T>,
        w_h: &Matrix<T>,
        b: &Matrix<T>,
    ) -> Result<(Matrix<T>, Matrix<T>)> {
        let a = self.pre_activation(x_t, h_prev, w_x, w_h, b)?;
        let mut h = a.clone();
        self.activation.apply_in_place(h.as_mut_slice());
        Ok((a, h))
    }

    /// `a = x·W_x + h_prev·W_h + b`, summed in that order, in place where it can be.
    fn pre_activation(
        &self,
        x_t: &Matrix<T>,
        h_prev: &Matrix<T>,
        w_x: &Matrix<T>,
        w_h: &Matrix<T>,
        b: &Matrix<T>,
    ) -> Result<Matrix<T>> {
        let mut a = x_t.matmul(w_x)?;
        a.add_assign(&h_prev.matmul(w_h)?)?;
        a.add_row_in_place(b)?;
        Ok(a)
    }

    /// The state `h = φ(x·W_x + h_prev·W_h + b)` of one step, without keeping `a`: the same
    /// numbers as [`Rnn::step_with`]'s `h`, for callers that need only the state.
    pub fn next_state_with(
        &self,
        x_t: &Matrix<T>,
        h_prev: &Matrix<T>,
        w_x: &Matrix<T>,
        w_h: &Matrix<T>,
        b: &Matrix<T>,
    ) -> Result<Matrix<T>> {
        let mut h = self.pre_activation(x_t, h_prev, w_x, w_h, b)?;
        self.activation.apply_in_place(h.as_mut_slice());
        Ok(h)
    }

    /// One step with the network's own parameters: returns `(a_t, h_t)`.
    pub fn step(&self, x_t: &Matrix<T>, h_prev: &Matrix<T>) -> Result<(Matrix<T>, Matrix<T>)> {
        self.step_with(x_t, h_prev, &self.w_x, &self.w_h, &self.b)
    }

    /// The plain forward pass over `x_1 … x_T` from `h_0`, keeping every `a_t` and `h_t`.
    pub fn forward(&self, xs: &[Matrix<T>], h0: &Matrix<T>) -> Result<Forward<T>> {
        self.check_inputs(xs, h0)?;
        let mut a = Vec::with_capacity(xs.len());
        let mut h = Vec::with_capacity(xs.len() + 1);
        h.push(h0.clone());
        for x_t in xs {
            let (a_t, h_t) = self.step(x_t, &h[h.len() - 1])?;
            a.push(a_t);
            h.push(h_t);
        }
        Ok(Forward { a, h })
    }

    /// Checks that `x_1 … x_T` and `h_0` fit the parameters: at least one step, every `x_t`
    /// of shape `batch × features`, `h_0` of shape `batch × hidden`.
    pub fn check_inputs(&self, xs: &[Matrix<T>], h0: &Matrix<T>) -> Result<()> {
        let Some(first) = xs.first() else {
            return Err(Error::bad_shape("x", "at least one time step", "0 steps"));
        };
        let batch = first.rows();
        if batch == 0 {
            return Err(Error::bad_shape(
                "x",
                "a batch of at least one sequence",
                "batch 0",
            ));
        }
        for (i, x_t) in xs.iter().enumerate() {
            if x_t.shape() != (batch, self.features()) {
                return Err(Error::bad_shape(
                    format!("x (step t = {})", i + 1),
                    format!(
                        "{batch}×{} (batch × features, features from w_x)",
                        self.features()
                    ),
                    shape_str(x_t.shape()),
                ));
            }
        }
        if h0.shape() != (batch, self.hidden()) {
            return Err(Error::bad_shape(
                "h0",
                format!("{batch}×{} (batch × hidden)", self.hidden()),
                shape_str(h0.shape()),
            ));
        }
        Ok(())
    }

    /// The forward pass recorded on `tape`, as a dynamic graph: the loop below is plain Rust,
    /// and each pass through it appends one step's nodes.
    ///
    /// Every step gets its *own* alias of `W_x`, `W_h` and `b` (see [`Var::alias`]), so after
    /// a backward sweep the alias of step t holds step t's contribution to each weight's
    /// gradient, while the leaves hold the totals.
    pub fn forward_on_tape<'t>(
        &self,
        tape: &'t Tape<T>,
        xs: &[Matrix<T>],
        h0: &Matrix<T>,
    ) -> Result<TapeRnn<'t, T>> {
        self.check_inputs(xs, h0)?;
        let w_x = tape.named_var("W_x", self.w_x.clone());
        let w_h = tape.named_var("W_h", self.w_h.clone());
        let b = tape.named_var("b", self.b.clone());
        let mut rec = TapeRnn {
            w_x,
            w_h,
            b,
            x: Vec::with_capacity(xs.len()),
            w_x_t: Vec::with_capacity(xs.len()),
            w_h_t: Vec::with_capacity(xs.len()),
            b_t: Vec::with_capacity(xs.len()),
            a: Vec::with_capacity(xs.len()),
            h: vec![tape.named_var("h_0", h0.clone())],
        };
        for (i, x_t) in xs.iter().enumerate() {
            let t = i + 1;
            let x_t = tape.named_var(&format!("x_{t}"), x_t.clone());
            let w_x_t = w_x.alias().named(&format!("W_x[{t}]"));
            let w_h_t = w_h.alias().named(&format!("W_h[{t}]"));
            let b_t = b.alias().named(&format!("b[{t}]"));
            let h_prev = rec.h[i];
            let a_t = x_t
                .matmul(w_x_t)?
                .add(h_prev.matmul(w_h_t)?)?
                .add_bias(b_t)?
                .named(&format!("a_{t}"));
            let h_t = self.activation.on_tape(a_t).named(&format!("h_{t}"));
            rec.x.push(x_t);
            rec.w_x_t.push(w_x_t);
            rec.w_h_t.push(w_h_t);
            rec.b_t.push(b_t);
            rec.a.push(a_t);
            rec.h.push(h_t);
        }
        Ok(rec)
    }

    /// The forward pass recorded on `tape` with one node per step, the fused
    /// [`Var::rnn_cell`]: `h_t = φ(x_t·W_x + h_(t-1)·W_h + b)`.
    ///
    /// The same states as [`Rnn::forward_on_tape`], bit for bit, but the tape keeps only what
    /// the backward pass needs (each `x_t` and `h_t`), and the weights are used directly, so
    /// their gradients are the totals only. This is the recording a training step uses.
    pub fn forward_on_tape_fused<'t>(
        &self,
        tape: &'t Tape<T>,
        xs: &[Matrix<T>],
        h0: &Matrix<T>,
    ) -> Result<TapeCells<'t, T>> {
        self.check_inputs(xs, h0)?;
        let w_x = tape.named_var("W_x", self.w_x.clone());
        let w_h = tape.named_var("W_h", self.w_h.clone());
        let b = tape.named_var("b", self.b.clone());
        let mut h = Vec::with_capacity(xs.len() + 1);
        h.push(tape.named_var("h_0", h0.clone()));
        let mut x = Vec::with_capacity(xs.len());
        for x_t in xs {
            let x_t = tape.var(x_t.clone());
            let h_t = x_t.rnn_cell(h[h.len() - 1], w_x, w_h, b, self.activation)?;
            x.push(x_t);
            h.push(h_t);
        }
        Ok(TapeCells { w_x, w_h, b, x, h })
    }
}

/// Handles to the nodes [`Rnn::forward_on_tape_fused`] recorded: weights, inputs, states.
#[derive(Clone, Debug)]
pub struct TapeCells<'t, T> {
    /// The input weights (a leaf): its gradient is `dW_x`.
    pub w_x: Var<'t, T>,
    /// The recurrent weights (a leaf): its gradient is `dW_h`.
    pub w_h: Var<'t, T>,
    /// The bias (a leaf): its gradient is `db`.
    pub b: Var<'t, T>,
    /// The inputs `x_1 … x_T` (leaves), step t at index `t − 1`.
    pub x: Vec<Var<'t, T>>,
    /// The states `h_0 … h_T` (`h_0` is a leaf; the others are `rnn_cell` nodes).
    pub h: Vec<Var<'t, T>>,
}

/// Handles to the nodes an RNN forward pass recorded on a tape.
///
/// Vectors indexed by time hold step `t` at index `t − 1`, except `h`, which holds `h_0 … h_T`.
#[derive(Clone, Debug)]
pub struct TapeRnn<'t, T> {
    /// The shared input weights (a leaf): its gradient is the total `dW_x`.
    pub w_x: Var<'t, T>,
    /// The shared recurrent weights (a leaf): its gradient is the total `dW_h`.
    pub w_h: Var<'t, T>,
    /// The shared bias (a leaf): its gradient is the total `db`.
    pub b: Var<'t, T>,
    /// The inputs `x_1 … x_T` (leaves).
    pub x: Vec<Var<'t, T>>,
    /// Step t's alias of `W_x`: its gradient is `dW_x[t]`.
    pub w_x_t: Vec<Var<'t, T>>,
    /// Step t's alias of `W_h`: its gradient is `dW_h[t]`.
    pub w_h_t: Vec<Var<'t, T>>,
    /// Step t's alias of `b`: its gradient is `db[t]`.
    pub b_t: Vec<Var<'t, T>>,
    /// The pre-activations `a_1 … a_T`.
    pub a: Vec<Var<'t, T>>,
    /// The states `h_0 … h_T` (`h_0` is a leaf).
    pub h: Vec<Var<'t, T>>,
}

/// Step t's share of the gradients (DESIGN §2), whichever method computed them.
#[derive(Clone, Debug, PartialEq)]
pub struct StepGrads<T> {
    /// `dh[t] = ∂L/∂h_t`, the total derivative through every later step (`batch × hidden`).
    pub dh: Matrix<T>,
    /// `da[t] = ∂L/∂a_t = dh[t] ⊙ φ'(a_t)` (`batch × hidden`).
    pub da: Matrix<T>,
    /// `dx[t] = ∂L/∂x_t = da[t] · W_xᵀ` (`batch × features`).
    pub dx: Matrix<T>,
    /// Step t's contribution to the gradient of `W_x`: `x_tᵀ · da[t]` (`features × hidden`).
    pub dw_x: Matrix<T>,
    /// Step t's contribution to the gradient of `W_h`: `h_(t-1)ᵀ · da[t]` (`hidden × hidden`).
    pub dw_h: Matrix<T>,
    /// Step t's contribution to the gradient of `b`: `Σ_batch da[t]` (`1 × hidden`).
    pub db: Matrix<T>,
}

/// Every gradient of one case: per step, the totals, `∂L/∂h_0`, and the head's own parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<T> {
    /// The loss `L` these are the gradients of.
    pub loss: T,
    /// Step t's gradients at index `t − 1`; read them with [`Gradients::step`].
    pub steps: Vec<StepGrads<T>>,
    /// `dh[0] = ∂L/∂h_0`.
    pub dh0: Matrix<T>,
    /// `dW_x = Σ_t dW_x[t]`.
    pub w_x: Matrix<T>,
    /// `dW_h = Σ_t dW_h[t]`.
    pub w_h: Matrix<T>,
    /// `db = Σ_t db[t]`.
    pub b: Matrix<T>,
    /// `∂L/∂W_out` and `∂L/∂b_out`, for a head that has them (`softmax_ce`).
    pub head: Option<(Matrix<T>, Matrix<T>)>,
}

impl<T: Scalar> Gradients<T> {
    /// Step t's gradients, for `t = 1..=T`.
    pub fn step(&self, t: usize) -> &StepGrads<T> {
        assert!(
            (1..=self.steps.len()).contains(&t),
            "steps are numbered 1..=T, asked t = {t}"
        );
        &self.steps[t - 1]
    }

    /// `dh[t]` for `t = 0..=T`.
    pub fn dh(&self, t: usize) -> &Matrix<T> {
        if t == 0 { &self.dh0 } else { &self.step(t).dh }
    }
}

/// The gradients a training step needs, and what the peers of the performance benchmark return:
/// the loss, `∂L/∂x_t` for every step, the weights' totals and `∂L/∂h_0`, without per-step
/// weight contributions.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals<T> {
    /// The loss `L`.
    pub loss: T,
    /// `dx[t] = ∂L/∂x_t` at index `t − 1` (`batch × features`).
    pub dx: Vec<Matrix<T>>,
    /// `dh[0] = ∂L/∂h_0`.
    pub dh0: Matrix<T>,
    /// `dW_x = Σ_t x_tᵀ · da[t]`.
    pub w_x: Matrix<T>,
    /// `dW_h = Σ_t h_(t-1)ᵀ · da[t]`.
    pub w_h: Matrix<T>,
    /// `db = Σ_t Σ_batch da[t]`.
    pub b: Matrix<T>,
    /// `∂L/∂W_out` and `∂L/∂b_out`, for a head that has them (`softmax_ce`).
    pub head: Option<(Matrix<T>, Matrix<T>)>,
}
