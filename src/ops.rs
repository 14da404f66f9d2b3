//! The operations a tape can record, each op's forward value beside its vector-Jacobian and
//! Jacobian-vector products.
//!
//! Notation: an op computes `Y = f(A, B, …)`. In the backward sweep it receives the adjoint
//! `Ȳ = ∂L/∂Y` (same shape as `Y`) and returns the adjoints of its inputs, `Ā = ∂L/∂A = Ȳ·∂Y/∂A`,
//! without ever forming the Jacobian: that product is the *vector-Jacobian product* (VJP).
//!
//! Each op below is one section: the method on [`Var`] that records it, with its forward and
//! backward equations in the doc comment, then its VJP and its Jacobian-vector product (JVP),
//! `Ẏ = J·Ẋ`, the derivative along tangents `Ȧ, Ḃ, …` of the inputs (and its forward, where it
//! is more than one call on [`Matrix`]). `Op::forward`, `Op::vjp` and `Op::jvp` at the end only
//! dispatch to them. The two products are transposes of each other, `⟨Ȳ, J·Ẋ⟩ = ⟨Jᵀ·Ȳ, Ẋ⟩`,
//! which the tests check for every op.
//!
//! A cell may add an op of its own, a whole step as one node, through the [`Fused`] trait: the
//! op layer knows no cell.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::kernel::{self, View};
use crate::matrix::Matrix;
use crate::scalar::{Scalar, lit};
use crate::tape::Var;
use std::fmt;
use std::rc::Rc;

/// What produced a node: the kind of operation and any constant it carries.
#[derive(Clone, Debug)]
pub enum Op<T> {
    /// An input: a value handed to the tape, with no parents.
    Leaf,
    /// `Y = A + B`.
    Add,
    /// `Y = A − B`.
    Sub,
    /// `Y = A ⊙ B` (element-wise).
    Mul,
    /// `Y = A · B`.
    MatMul,
    /// `Y = X + b`, the row `b` broadcast over the rows of `X`.
    AddBias,
    /// `Y = tanh(X)`.
    Tanh,
    /// `Y = σ(X) = 1 / (1 + e^(−X))`.
    Sigmoid,
    /// `Y = X`: an alias, so that one value can have several uses with separate gradients.
    Identity,
    /// `Y = 1 − X`.
    OneMinus,
    /// `Y = X[:, first .. first + count]`: a block of columns (one gate of a stacked
    /// pre-activation).
    Columns {
        /// The first column taken.
        first: usize,
        /// How many columns are taken.
        count: usize,
    },
    /// `y = Σ X` (a `1×1` result).
    Sum,
    /// `y = mean(X)` (a `1×1` result).
    Mean,
    /// `Y = X ⊙ X`.
    Square,
    /// `Y = c · X` for a constant `c`.
    Scale(T),
    /// `y = Σ_i w_i · (−log softmax(Z_i)[label_i])`, for logits `Z` of shape `B × classes`
    /// and a constant weight per row (`1/B` for the mean).
    SoftmaxCrossEntropy {
        /// One class index per row of `Z`.
        labels: Vec<usize>,
        /// One weight per row of `Z`.
        weights: Vec<T>,
    },
    /// A cell's whole step as one node, defined with the cell (see [`Fused`]).
    Fused(Rc<dyn Fused<T>>),
}

// ---------------------------------------------------------------------------------------------
// add: Y = A + B;  Ā = Ȳ,  B̄ = Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = A + B` (same shapes). Backward: `Ā = Ȳ`, `B̄ = Ȳ`.
    // Not `std::ops` operators: a shape mismatch must come back as an error, not a panic.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Var<'t, T>) -> Result<Var<'t, T>> {
        self.tape.record(Op::Add, &[self, other])
    }
}

fn add_vjp<T: Scalar>(g: &Matrix<T>) -> Vec<Matrix<T>> {
    vec![g.clone(), g.clone()]
}

fn add_jvp<T: Scalar>(da: &Matrix<T>, db: &Matrix<T>) -> Matrix<T> {
    da.add(db)
        .expect("invariant: a tangent has the shape of its input")
}

// ---------------------------------------------------------------------------------------------
// sub: Y = A − B;  Ā = Ȳ,  B̄ = −Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = A − B` (same shapes). Backward: `Ā = Ȳ`, `B̄ = −Ȳ`.
    // Not `std::ops` operators: a shape mismatch must come back as an error, not a panic.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, other: Var<'t, T>) -> Result<Var<'t, T>> {
        self.tape.record(Op::Sub, &[self, other])
    }
}

fn sub_vjp<T: Scalar>(g: &Matrix<T>) -> Vec<Matrix<T>> {
    vec![g.clone(), g.map(|v| -v)]
}

fn sub_jvp<T: Scalar>(da: &Matrix<T>, db: &Matrix<T>) -> Matrix<T> {
    da.sub(db)
        .expect("invariant: a tangent has the shape of its input")
}

// ---------------------------------------------------------------------------------------------
// mul: Y = A ⊙ B;  Ā = Ȳ ⊙ B,  B̄ = Ȳ ⊙ A

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = A ⊙ B`, element-wise (same shapes). Backward: `Ā = Ȳ ⊙ B`, `B̄ = Ȳ ⊙ A`.
    // Not `std::ops` operators: a shape mismatch must come back as an error, not a panic.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Var<'t, T>) -> Result<Var<'t, T>> {
        self.tape.record(Op::Mul, &[self, other])
    }
}

fn mul_vjp<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>, g: &Matrix<T>) -> Vec<Matrix<T>> {
    vec![
        g.hadamard(b)
            .expect("invariant: mul inputs share the output's shape"),
        g.hadamard(a)
            .expect("invariant: mul inputs share the output's shape"),
    ]
}

/// `Ẏ = Ȧ ⊙ B + A ⊙ Ḃ`.
fn mul_jvp<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>, da: &Matrix<T>, db: &Matrix<T>) -> Matrix<T> {
    let left = da
        .hadamard(b)
        .expect("invariant: a tangent has the shape of its input");
    left.add(
        &a.hadamard(db)
            .expect("invariant: a tangent has the shape of its input"),
    )
    .expect("invariant: a tangent has the shape of its input")
}

// ---------------------------------------------------------------------------------------------
// matmul: Y = A · B;  Ā = Ȳ · Bᵀ,  B̄ = Aᵀ · Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = A · B` for `A: m×k`, `B: k×n`. Backward: `Ā = Ȳ · Bᵀ`, `B̄ = Aᵀ · Ȳ`.
    pub fn matmul(self, other: Var<'t, T>) -> Result<Var<'t, T>> {
        self.tape.record(Op::MatMul, &[self, other])
    }
}

fn matmul_vjp<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>, g: &Matrix<T>) -> Vec<Matrix<T>> {
    let invariant = "invariant: matmul adjoint shapes follow the forward shapes";
    // `matmul_nt(b)` is `· Bᵀ` and `matmul_tn` is `Aᵀ ·`, without copying a transpose.
    vec![
        g.matmul_nt(b).expect(invariant),
        a.matmul_tn(g).expect(invariant),
    ]
}

/// `Ẏ = Ȧ · B + A · Ḃ`.
fn matmul_jvp<T: Scalar>(
    a: &Matrix<T>,
    b: &Matrix<T>,
    da: &Matrix<T>,
    db: &Matrix<T>,
) -> Matrix<T> {
    let left = da
        .matmul(b)
        .expect("invariant: a tangent has the shape of its input");
    left.add(
        &a.matmul(db)
            .expect("invariant: a tangent has the shape of its input"),
    )
    .expect("invariant: a tangent has the shape of its input")
}

// ---------------------------------------------------------------------------------------------
// add_bias: Y = X + b (b broadcast over rows);  X̄ = Ȳ,  b̄ = Σ_rows Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = X + b`, the `1×n` row `b` added to every row of `X: m×n`.
    /// Backward: `X̄ = Ȳ`, `b̄ = Σ_i Ȳ_i` (a broadcast forward is a sum backward).
    pub fn add_bias(self, bias: Var<'t, T>) -> Result<Var<'t, T>> {
        self.tape.record(Op::AddBias, &[self, bias])
    }
}

fn add_bias_vjp<T: Scalar>(g: &Matrix<T>) -> Vec<Matrix<T>> {
    vec![g.clone(), g.sum_rows()]
}

/// `Ẏ = Ẋ + ḃ`, the row `ḃ` broadcast over the rows.
fn add_bias_jvp<T: Scalar>(dx: &Matrix<T>, db: &Matrix<T>) -> Matrix<T> {
    dx.add_row(db)
        .expect("invariant: a tangent has the shape of its input")
}

// ---------------------------------------------------------------------------------------------
// tanh: H = tanh(A);  Ā = H̄ ⊙ (1 − H²)

impl<'t, T: Scalar> Var<'t, T> {
    /// `H = tanh(A)`. Backward: `Ā = H̄ ⊙ (1 − H²)`, computed from the stored output `H`.
    ///
    /// Large matrices are computed by [`crate::kernel::tanh_in_place`], within 3 ulp of `f64::tanh`
    /// (see [`Activation::apply_in_place`]).
    pub fn tanh(self) -> Var<'t, T> {
        self.unary(Op::Tanh)
    }
}

fn tanh_vjp<T: Scalar>(h: &Matrix<T>, g: &Matrix<T>) -> Matrix<T> {
    g.zip_map(h, "tanh_vjp", |g, h| g * (T::one() - h * h))
        .expect("invariant: tanh output and adjoint share a shape")
}

/// `Ḣ = (1 − H²) ⊙ Ȧ`: the same diagonal Jacobian, applied to the tangent.
fn tanh_jvp<T: Scalar>(h: &Matrix<T>, da: &Matrix<T>) -> Matrix<T> {
    tanh_vjp(h, da)
}

// ---------------------------------------------------------------------------------------------
// sigmoid: S = σ(A);  Ā = S̄ ⊙ S ⊙ (1 − S)

impl<'t, T: Scalar> Var<'t, T> {
    /// `S = σ(A) = 1 / (1 + e^(−A))`. Backward: `Ā = S̄ ⊙ S ⊙ (1 − S)`, from the stored output.
    pub fn sigmoid(self) -> Var<'t, T> {
        self.unary(Op::Sigmoid)
    }
}

fn sigmoid_vjp<T: Scalar>(s: &Matrix<T>, g: &Matrix<T>) -> Matrix<T> {
    g.zip_map(s, "sigmoid_vjp", |g, s| g * s * (T::one() - s))
        .expect("invariant: sigmoid output and adjoint share a shape")
}

/// `Ṡ = S ⊙ (1 − S) ⊙ Ȧ`.
fn sigmoid_jvp<T: Scalar>(s: &Matrix<T>, da: &Matrix<T>) -> Matrix<T> {
    sigmoid_vjp(s, da)
}

// ---------------------------------------------------------------------------------------------
// identity (alias): Y = X;  X̄ = Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = X`, recorded as a node of its own. Backward: `X̄ = Ȳ`.
    ///
    /// An alias lets one value be used in several places while keeping the gradient of each
    /// use apart: the RNN gives every time step its own alias of `W_x`, `W_h` and `b`, and the
    /// adjoint of step t's alias is step t's contribution to the weight's gradient.
    pub fn alias(self) -> Var<'t, T> {
        self.unary(Op::Identity)
    }
}

// ---------------------------------------------------------------------------------------------
// one_minus: Y = 1 − X;  X̄ = −Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = 1 − X`, entry by entry: a GRU's `1 − z`. Backward: `X̄ = −Ȳ`.
    pub fn one_minus(self) -> Var<'t, T> {
        self.unary(Op::OneMinus)
    }
}

fn one_minus_vjp<T: Scalar>(g: &Matrix<T>) -> Matrix<T> {
    g.map(|v| -v)
}

/// `Ẏ = −Ẋ`: the same Jacobian, `−I`.
fn one_minus_jvp<T: Scalar>(dx: &Matrix<T>) -> Matrix<T> {
    one_minus_vjp(dx)
}

// ---------------------------------------------------------------------------------------------
// columns: Y = X[:, first .. first + count];  X̄ = Ȳ placed in those columns, zeros elsewhere

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = X[:, first .. first + count]`, numpy's slice of columns: an LSTM's gate `i` is
    /// `σ(a_t[:, 0:H])`. Backward: `X̄` is `Ȳ` in those columns and zero in the others (a slice
    /// forward is a scatter backward). Refuses columns beyond `X`'s.
    pub fn columns(self, first: usize, count: usize) -> Result<Var<'t, T>> {
        self.tape.record(Op::Columns { first, count }, &[self])
    }
}

fn columns_vjp<T: Scalar>(x: &Matrix<T>, first: usize, g: &Matrix<T>) -> Matrix<T> {
    let count = g.cols();
    Matrix::from_fn(x.rows(), x.cols(), |i, j| {
        if (first..first + count).contains(&j) {
            g[(i, j - first)]
        } else {
            T::zero()
        }
    })
}

/// `Ẏ = Ẋ[:, first .. first + count]`.
fn columns_jvp<T: Scalar>(dx: &Matrix<T>, first: usize, count: usize) -> Matrix<T> {
    dx.col_block(first, count)
        .expect("invariant: a tangent has the shape of its input, whose columns forward took")
}

// ---------------------------------------------------------------------------------------------
// sum: y = Σ X;  X̄ = ȳ · 1

impl<'t, T: Scalar> Var<'t, T> {
    /// `y = Σ_ij X_ij`, a `1×1` result. Backward: `X̄ = ȳ` in every entry.
    pub fn sum(self) -> Var<'t, T> {
        self.unary(Op::Sum)
    }
}

fn sum_vjp<T: Scalar>(x: &Matrix<T>, g: &Matrix<T>) -> Matrix<T> {
    Matrix::filled(x.rows(), x.cols(), g[(0, 0)])
}

/// `ẏ = Σ Ẋ`.
fn sum_jvp<T: Scalar>(dx: &Matrix<T>) -> Matrix<T> {
    Matrix::row_vector(&[dx.sum()])
}

// ---------------------------------------------------------------------------------------------
// mean: y = (1/n) Σ X;  X̄ = ȳ/n · 1

impl<'t, T: Scalar> Var<'t, T> {
    /// `y = (1/n) Σ_ij X_ij` over the `n` entries, a `1×1` result. Backward: `X̄ = ȳ / n`.
    pub fn mean(self) -> Var<'t, T> {
        self.unary(Op::Mean)
    }
}

fn mean_vjp<T: Scalar>(x: &Matrix<T>, g: &Matrix<T>) -> Matrix<T> {
    let n = T::from_f64(x.len() as f64);
    Matrix::filled(x.rows(), x.cols(), g[(0, 0)] / n)
}

/// `ẏ = (1/n) Σ Ẋ`.
fn mean_jvp<T: Scalar>(dx: &Matrix<T>) -> Matrix<T> {
    Matrix::row_vector(&[dx.sum() / T::from_f64(dx.len() as f64)])
}

// ---------------------------------------------------------------------------------------------
// square: Y = X ⊙ X;  X̄ = 2 Ȳ ⊙ X

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = X ⊙ X`. Backward: `X̄ = 2 Ȳ ⊙ X`.
    pub fn square(self) -> Var<'t, T> {
        self.unary(Op::Square)
    }
}

fn square_vjp<T: Scalar>(x: &Matrix<T>, g: &Matrix<T>) -> Matrix<T> {
    let two = lit::<T>(2.0);
    g.zip_map(x, "square_vjp", |g, x| two * g * x)
        .expect("invariant: square input and adjoint share a shape")
}

/// `Ẏ = 2 X ⊙ Ẋ`.
fn square_jvp<T: Scalar>(x: &Matrix<T>, dx: &Matrix<T>) -> Matrix<T> {
    square_vjp(x, dx)
}

// ---------------------------------------------------------------------------------------------
// scale: Y = c · X;  X̄ = c · Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = c · X` for a constant `c`. Backward: `X̄ = c · Ȳ`.
    pub fn scale(self, c: T) -> Var<'t, T> {
        self.unary(Op::Scale(c))
    }
}

// ---------------------------------------------------------------------------------------------
// softmax cross-entropy: y = Σ_i w_i [logsumexp(Z_i) − Z_i[label_i]];  Z̄_i = ȳ w_i (P_i − onehot_i)

/// Row-wise softmax `P_ij = e^(Z_ij − m_i) / Σ_k e^(Z_ik − m_i)` with `m_i = max_k Z_ik`.
///
/// Subtracting the row maximum changes nothing mathematically and keeps every `e^…` ≤ 1, so
/// logits of ±1e4 neither overflow nor turn into `inf/inf = NaN`.
pub fn softmax<T: Scalar>(z: &Matrix<T>) -> Matrix<T> {
    let mut p = z.clone();
    for i in 0..z.rows() {
        let row = z.row(i);
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let total: T = row.iter().map(|&v| (v - m).exp()).sum();
        for (j, &v) in row.iter().enumerate() {
            p[(i, j)] = (v - m).exp() / total;
        }
    }
    p
}

/// Checks integer class labels against logits of shape `B × classes`.
pub fn check_labels<T: Scalar>(z: &Matrix<T>, labels: &[usize]) -> Result<()> {
    if labels.len() != z.rows() {
        return Err(Error::bad_shape(
            "labels",
            format!("{} labels (one per row of the logits)", z.rows()),
            format!("{} labels", labels.len()),
        ));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= z.cols()) {
        return Err(Error::invalid(
            format!("labels[{i}]"),
            format!("label {l} is out of range for {} classes", z.cols()),
        ));
    }
    Ok(())
}

/// The weight `1/B` of every row of a batch of `B`: the weights of the mean.
pub fn mean_weights<T: Scalar>(batch: usize) -> Vec<T> {
    vec![T::one() / T::from_f64(batch as f64); batch]
}

impl<'t, T: Scalar> Var<'t, T> {
    /// Mean cross-entropy of the softmax of the logits `Z: B × classes` against integer labels:
    /// `y = (1/B) Σ_i −log softmax(Z_i)[label_i]`; [`Var::weighted_cross_entropy`] with every
    /// weight `1/B`.
    pub fn softmax_cross_entropy(self, labels: &[usize]) -> Result<Var<'t, T>> {
        self.weighted_cross_entropy(labels, &mean_weights(labels.len()))
    }

    /// Weighted cross-entropy of the softmax of the logits `Z: B × classes` against integer
    /// labels: `y = Σ_i w_i · (−log softmax(Z_i)[label_i]) = Σ_i w_i [logsumexp(Z_i) −
    /// Z_i[label_i]]`. The weights say how rows count: `1/B` for a mean, `1` for a sum, `0`
    /// where a mask leaves a row out.
    ///
    /// Backward: `Z̄_i = ȳ · w_i · (P_i − onehot(label_i))` with `P = softmax(Z)` row by row.
    /// `logsumexp` is computed as `m + log Σ e^(Z − m)` with the row maximum `m`, so the loss
    /// stays finite for any finite logits.
    pub fn weighted_cross_entropy(self, labels: &[usize], weights: &[T]) -> Result<Var<'t, T>> {
        let op = Op::SoftmaxCrossEntropy {
            labels: labels.to_vec(),
            weights: weights.to_vec(),
        };
        self.tape.record(op, &[self])
    }
}

/// The forward value of [`Var::weighted_cross_entropy`] as a `1×1` matrix; the heads call it
/// directly when no tape is needed.
pub(crate) fn softmax_cross_entropy<T: Scalar>(
    z: &Matrix<T>,
    labels: &[usize],
    weights: &[T],
) -> Result<Matrix<T>> {
    check_labels(z, labels)?;
    if weights.len() != z.rows() {
        return Err(Error::bad_shape(
            "weights",
            format!("{} weights (one per row of the logits)", z.rows()),
            format!("{} weights", weights.len()),
        ));
    }
    let mut total = T::zero();
    for (i, (&label, &w)) in labels.iter().zip(weights).enumerate() {
        let row = z.row(i);
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let log_sum: T = row.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
        total += w * (m + log_sum - row[label]);
    }
    Ok(Matrix::row_vector(&[total]))
}

/// The VJP of [`Var::weighted_cross_entropy`], `Z̄_i = ȳ · w_i · (P_i − onehot(label_i))`;
/// the softmax heads' hand gradient is this with `ȳ = 1`.
pub(crate) fn softmax_cross_entropy_vjp<T: Scalar>(
    z: &Matrix<T>,
    labels: &[usize],
    weights: &[T],
    g: &Matrix<T>,
) -> Matrix<T> {
    let mut dz = softmax(z);
    for (i, (&label, &w)) in labels.iter().zip(weights).enumerate() {
        dz[(i, label)] -= T::one();
        let scale = g[(0, 0)] * w;
        for j in 0..z.cols() {
            dz[(i, j)] *= scale;
        }
    }
    dz
}

/// `ẏ = Σ_i w_i ⟨P_i − onehot(label_i), Ż_i⟩`: the gradient of the loss, along the tangent.
fn softmax_cross_entropy_jvp<T: Scalar>(
    z: &Matrix<T>,
    labels: &[usize],
    weights: &[T],
    dz: &Matrix<T>,
) -> Matrix<T> {
    let grad = softmax_cross_entropy_vjp(z, labels, weights, &Matrix::filled(1, 1, T::one()));
    Matrix::row_vector(&[grad
        .dot(dz)
        .expect("invariant: a tangent has the shape of its input")])
}

// ---------------------------------------------------------------------------------------------
// fused: a cell's whole step as one node, defined with the cell

/// An op a cell defines for itself: a whole step recorded as one node, so that the tape keeps
/// only what the step's backward pass needs (the RNN's fused step keeps `h_t` alone). Like every
/// op, it is its forward value beside its vector-Jacobian and Jacobian-vector products; it lives in the cell's file
/// ([`crate::cells::rnn`]), and the tape's sweep reaches it through [`Op::Fused`] knowing
/// nothing of the cell.
pub trait Fused<T: Scalar>: fmt::Debug {
    /// The op's name as traces print it (`"rnn_step"`).
    fn name(&self) -> &'static str;

    /// The forward value on the inputs' values.
    fn forward(&self, inputs: &[&Matrix<T>]) -> Result<Matrix<T>>;

    /// The adjoints of the inputs, given the inputs, the output and its adjoint `g`.
    fn vjp(&self, inputs: &[&Matrix<T>], out: &Matrix<T>, g: &Matrix<T>) -> Vec<Matrix<T>>;

    /// The tangent of the output along the inputs' tangents `dots`, given the inputs and the
    /// output.
    fn jvp(&self, inputs: &[&Matrix<T>], out: &Matrix<T>, dots: &[&Matrix<T>]) -> Matrix<T>;

    /// [`Fused::vjp`] added into `sums`, the inputs' adjoints so far (`None` where nothing has
    /// been added yet). The default forms each contribution and adds it; a fused step
    /// overrides it to sum its weight products in place (see [`add_product`]).
    fn accumulate_vjp(
        &self,
        inputs: &[&Matrix<T>],
        out: &Matrix<T>,
        g: &Matrix<T>,
        sums: &mut [Option<Matrix<T>>],
    ) {
        for (sum, contribution) in sums.iter_mut().zip(self.vjp(inputs, out, g)) {
            add_into(sum, contribution);
        }
    }
}

impl<'t, T: Scalar> Var<'t, T> {
    /// Records `op`, a cell's fused step, on `inputs` (`self` is not among them: call it on any
    /// handle of the tape, usually the step's input `x_t`).
    pub fn fused(self, op: Rc<dyn Fused<T>>, inputs: &[Var<'t, T>]) -> Result<Var<'t, T>> {
        self.tape.record(Op::Fused(op), inputs)
    }
}

/// `sum += A·B`, or `sum = A·B` when there is nothing yet, summed in place by the kernel: how a
/// fused step adds a weight's product into its gradient without a copy per step.
pub fn add_product<T: Scalar>(sum: &mut Option<Matrix<T>>, a: View<'_, T>, b: View<'_, T>) {
    match sum {
        Some(s) => kernel::matmul_into(a, b, s.as_mut_slice(), true),
        None => {
            let mut s = Matrix::zeros(a.rows(), b.cols());
            kernel::matmul_into(a, b, s.as_mut_slice(), false);
            *sum = Some(s);
        }
    }
}

/// `sum += c`, or `sum = c` when there is nothing yet.
pub fn add_into<T: Scalar>(sum: &mut Option<Matrix<T>>, c: Matrix<T>) {
    match sum {
        Some(s) => s
            .add_assign(&c)
            .expect("invariant: a vector-Jacobian product has the shape of its input"),
        None => *sum = Some(c),
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

/// A copy of `x` with `f` applied to its entries in place.
fn in_place<T: Scalar>(x: &Matrix<T>, f: impl Fn(&mut [T])) -> Matrix<T> {
    let mut y = x.clone();
    f(y.as_mut_slice());
    y
}

impl<'t, T: Scalar> Var<'t, T> {
    fn unary(self, op: Op<T>) -> Var<'t, T> {
        self.tape
            .record(op, &[self])
            .expect("invariant: an element-wise op accepts any one input on its own tape")
    }
}

impl<T: Scalar> Op<T> {
    /// The op's name as traces print it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Leaf => "input",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::MatMul => "matmul",
            Op::AddBias => "add_bias",
            Op::Tanh => "tanh",
            Op::Sigmoid => "sigmoid",
            Op::Identity => "alias",
            Op::OneMinus => "one_minus",
            Op::Columns { .. } => "columns",
            Op::Sum => "sum",
            Op::Mean => "mean",
            Op::Square => "square",
            Op::Scale(_) => "scale",
            Op::SoftmaxCrossEntropy { .. } => "softmax_ce",
            Op::Fused(op) => op.name(),
        }
    }

    /// The forward value of the op on `inputs`; shape errors name the op and both shapes.
    pub(crate) fn forward(&self, inputs: &[&Matrix<T>]) -> Result<Matrix<T>> {
        match (self, inputs) {
            (Op::Leaf, _) => unreachable!("a leaf is recorded with its value, never computed"),
            (Op::Add, [a, b]) => a.add(b),
            (Op::Sub, [a, b]) => a.sub(b),
            (Op::Mul, [a, b]) => a.hadamard(b),
            (Op::MatMul, [a, b]) => a.matmul(b),
            (Op::AddBias, [x, b]) => x.add_row(b),
            (Op::Tanh, [x]) => Ok(in_place(x, |v| Activation::Tanh.apply_in_place(v))),
            (Op::Sigmoid, [x]) => Ok(in_place(x, |v| Activation::Sigmoid.apply_in_place(v))),
            (Op::Identity, [x]) => Ok((*x).clone()),
            (Op::OneMinus, [x]) => Ok(x.map(|v| T::one() - v)),
            (Op::Columns { first, count }, [x]) => x.col_block(*first, *count),
            (Op::Sum, [x]) => Ok(Matrix::row_vector(&[x.sum()])),
            (Op::Mean, [x]) => Ok(Matrix::row_vector(&[x.sum() / T::from_f64(x.len() as f64)])),
            (Op::Square, [x]) => Ok(x.map(|v| v * v)),
            (Op::Scale(c), [x]) => Ok(x.scale(*c)),
            (Op::SoftmaxCrossEntropy { labels, weights }, [z]) => {
                softmax_cross_entropy(z, labels, weights)
            }
            (Op::Fused(op), inputs) => op.forward(inputs),
            (op, inputs) => unreachable!("{} called with {} inputs", op.name(), inputs.len()),
        }
    }

    /// Adds the adjoints of the inputs, [`Op::vjp`], into `sums` (one per input; `None` where
    /// nothing has been added yet): what the tape's one reverse sweep calls at every node. Every
    /// elementary op forms its contributions and adds them, so its numbers are exactly those of
    /// `vjp` followed by a sum; a fused step may sum in place ([`Fused::accumulate_vjp`]).
    pub(crate) fn accumulate_vjp(
        &self,
        inputs: &[&Matrix<T>],
        out: &Matrix<T>,
        g: &Matrix<T>,
        sums: &mut [Option<Matrix<T>>],
    ) {
        match self {
            Op::Fused(op) => op.accumulate_vjp(inputs, out, g, sums),
            _ => {
                for (sum, contribution) in sums.iter_mut().zip(self.vjp(inputs, out, g)) {
                    add_into(sum, contribution);
                }
            }
        }
    }

    /// The adjoints of the inputs, given the inputs, the output and the output's adjoint `g`.
    pub(crate) fn vjp(
        &self,
        inputs: &[&Matrix<T>],
        out: &Matrix<T>,
        g: &Matrix<T>,
    ) -> Vec<Matrix<T>> {
        match (self, inputs) {
            (Op::Leaf, _) => Vec::new(),
            (Op::Add, [_, _]) => add_vjp(g),
            (Op::Sub, [_, _]) => sub_vjp(g),
            (Op::Mul, [a, b]) => mul_vjp(a, b, g),
            (Op::MatMul, [a, b]) => matmul_vjp(a, b, g),
            (Op::AddBias, [_, _]) => add_bias_vjp(g),
            (Op::Tanh, [_]) => vec![tanh_vjp(out, g)],
            (Op::Sigmoid, [_]) => vec![sigmoid_vjp(out, g)],
            (Op::Identity, [_]) => vec![g.clone()],
            (Op::OneMinus, [_]) => vec![one_minus_vjp(g)],
            (Op::Columns { first, .. }, [x]) => vec![columns_vjp(x, *first, g)],
            (Op::Sum, [x]) => vec![sum_vjp(x, g)],
            (Op::Mean, [x]) => vec![mean_vjp(x, g)],
            (Op::Square, [x]) => vec![square_vjp(x, g)],
            (Op::Scale(c), [_]) => vec![g.scale(*c)],
            (Op::SoftmaxCrossEntropy { labels, weights }, [z]) => {
                vec![softmax_cross_entropy_vjp(z, labels, weights, g)]
            }
            (Op::Fused(op), inputs) => op.vjp(inputs, out, g),
            (op, inputs) => unreachable!("{} called with {} inputs", op.name(), inputs.len()),
        }
    }

    /// The tangent of the output, `J·Ẋ`, given the inputs, the output and the inputs' tangents
    /// `dots` (one per input, each of its input's shape).
    pub(crate) fn jvp(
        &self,
        inputs: &[&Matrix<T>],
        out: &Matrix<T>,
        dots: &[&Matrix<T>],
    ) -> Matrix<T> {
        match (self, inputs, dots) {
            (Op::Leaf, _, _) => unreachable!("a leaf's tangent is given, never computed"),
            (Op::Add, _, [da, db]) => add_jvp(da, db),
            (Op::Sub, _, [da, db]) => sub_jvp(da, db),
            (Op::Mul, [a, b], [da, db]) => mul_jvp(a, b, da, db),
            (Op::MatMul, [a, b], [da, db]) => matmul_jvp(a, b, da, db),
            (Op::AddBias, _, [dx, db]) => add_bias_jvp(dx, db),
            (Op::Tanh, _, [dx]) => tanh_jvp(out, dx),
            (Op::Sigmoid, _, [dx]) => sigmoid_jvp(out, dx),
            (Op::Identity, _, [dx]) => (*dx).clone(),
            (Op::OneMinus, _, [dx]) => one_minus_jvp(dx),
            (Op::Columns { first, count }, _, [dx]) => columns_jvp(dx, *first, *count),
            (Op::Sum, _, [dx]) => sum_jvp(dx),
            (Op::Mean, _, [dx]) => mean_jvp(dx),
            (Op::Square, [x], [dx]) => square_jvp(x, dx),
            (Op::Scale(c), _, [dx]) => dx.scale(*c),
            (Op::SoftmaxCrossEntropy { labels, weights }, [z], [dz]) => {
                softmax_cross_entropy_jvp(z, labels, weights, dz)
            }
            (Op::Fused(op), inputs, dots) => op.jvp(inputs, out, dots),
            (op, inputs, _) => unreachable!("{} called with {} inputs", op.name(), inputs.len()),
        }
    }
}
