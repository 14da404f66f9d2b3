//! The operations a tape can record, each op's forward value beside its vector-Jacobian product.
//!
//! Notation: an op computes `Y = f(A, B, …)`. In the backward sweep it receives the adjoint
//! `Ȳ = ∂L/∂Y` (same shape as `Y`) and returns the adjoints of its inputs, `Ā = ∂L/∂A = Ȳ·∂Y/∂A`,
//! without ever forming the Jacobian: that product is the *vector-Jacobian product* (VJP).
//!
//! Each op below is one section: the method on [`Var`] that records it, with its forward and
//! backward equations in the doc comment, then its VJP (and its forward, where it is more than
//! one call on [`Matrix`]). `Op::forward` and `Op::vjp` at the end only dispatch to them.
//!
//! One op is not elementary: `rnn_cell`, a whole RNN step as one node, kept for the fast tape
//! path ([`crate::fast`]), which needs only the activations per step. It is the one place below
//! the `rnn` module that knows the RNN's step; the teaching recording
//! ([`crate::rnn::Rnn::forward_on_tape`]) never uses it.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::kernel::{self, View};
use crate::matrix::Matrix;
use crate::scalar::{Scalar, lit};
use crate::tape::{NodeId, Var};

/// What produced a node: the kind of operation and any constant it carries.
#[derive(Clone, Debug, PartialEq)]
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
    /// `y = Σ X` (a `1×1` result).
    Sum,
    /// `y = mean(X)` (a `1×1` result).
    Mean,
    /// `Y = X ⊙ X`.
    Square,
    /// `Y = c · X` for a constant `c`.
    Scale(T),
    /// `y = (1/B) Σ_i −log softmax(Z_i)[label_i]`, for logits `Z` of shape `B × classes`.
    SoftmaxCrossEntropy(Vec<usize>),
    /// `H = φ(X·W_x + H_prev·W_h + b)`: a whole RNN step as one node (inputs in that order).
    RnnCell(Activation),
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

// ---------------------------------------------------------------------------------------------
// scale: Y = c · X;  X̄ = c · Ȳ

impl<'t, T: Scalar> Var<'t, T> {
    /// `Y = c · X` for a constant `c`. Backward: `X̄ = c · Ȳ`.
    pub fn scale(self, c: T) -> Var<'t, T> {
        self.unary(Op::Scale(c))
    }
}

// ---------------------------------------------------------------------------------------------
// softmax cross-entropy: y = (1/B) Σ_i [logsumexp(Z_i) − Z_i[label_i]];  Z̄ = ȳ (P − onehot) / B

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

impl<'t, T: Scalar> Var<'t, T> {
    /// Mean cross-entropy of the softmax of the logits `Z: B × classes` against integer labels:
    /// `y = (1/B) Σ_i −log softmax(Z_i)[label_i] = (1/B) Σ_i [logsumexp(Z_i) − Z_i[label_i]]`.
    ///
    /// Backward: `Z̄ = ȳ · (P − onehot(labels)) / B` with `P = softmax(Z)` row by row.
    /// `logsumexp` is computed as `m + log Σ e^(Z − m)` with the row maximum `m`, so the loss
    /// stays finite for any finite logits.
    pub fn softmax_cross_entropy(self, labels: &[usize]) -> Result<Var<'t, T>> {
        self.tape
            .record(Op::SoftmaxCrossEntropy(labels.to_vec()), &[self])
    }
}

/// The forward value of [`Var::softmax_cross_entropy`] as a `1×1` matrix; the heads call it
/// directly when no tape is needed.
pub(crate) fn softmax_cross_entropy<T: Scalar>(
    z: &Matrix<T>,
    labels: &[usize],
) -> Result<Matrix<T>> {
    check_labels(z, labels)?;
    let mut total = T::zero();
    for (i, &label) in labels.iter().enumerate() {
        let row = z.row(i);
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let log_sum: T = row.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
        total += m + log_sum - row[label];
    }
    Ok(Matrix::row_vector(&[total / T::from_f64(z.rows() as f64)]))
}

fn softmax_cross_entropy_vjp<T: Scalar>(
    z: &Matrix<T>,
    labels: &[usize],
    g: &Matrix<T>,
) -> Matrix<T> {
    let mut dz = softmax(z);
    for (i, &label) in labels.iter().enumerate() {
        dz[(i, label)] -= T::one();
    }
    dz.scale(g[(0, 0)] / T::from_f64(z.rows() as f64))
}

// ---------------------------------------------------------------------------------------------
// rnn_cell: H = φ(A), A = X·W_x + H_prev·W_h + b;
//   Ā = H̄ ⊙ φ'(A),  X̄ = Ā·W_xᵀ,  H̄_prev = Ā·W_hᵀ,  W̄_x = Xᵀ·Ā,  W̄_h = H_prevᵀ·Ā,  b̄ = Σ_rows Ā

impl<'t, T: Scalar> Var<'t, T> {
    /// One RNN step `H = φ(X·W_x + H_prev·W_h + b)` as a single node, `self` being `X`.
    ///
    /// The same numbers as recording the matmuls, the adds and `φ` one by one (the forward pass
    /// does the same arithmetic in the same order), but the tape keeps only `H`: the backward
    /// pass needs no other value of the step, because `φ'(A)` is written in terms of `H` (see
    /// [`Activation::derivative_from_output`]). That is how a framework's fused RNN cell keeps
    /// its memory to the activations. Backward: with `Ā = H̄ ⊙ φ'(A)`, `X̄ = Ā·W_xᵀ`,
    /// `H̄_prev = Ā·W_hᵀ`, `W̄_x = Xᵀ·Ā`, `W̄_h = H_prevᵀ·Ā`, `b̄ = Σ_i Ā_i`.
    pub fn rnn_cell(
        self,
        h_prev: Var<'t, T>,
        w_x: Var<'t, T>,
        w_h: Var<'t, T>,
        b: Var<'t, T>,
        activation: Activation,
    ) -> Result<Var<'t, T>> {
        self.tape
            .record(Op::RnnCell(activation), &[self, h_prev, w_x, w_h, b])
    }
}

fn rnn_cell<T: Scalar>(
    phi: Activation,
    x: &Matrix<T>,
    h_prev: &Matrix<T>,
    w_x: &Matrix<T>,
    w_h: &Matrix<T>,
    b: &Matrix<T>,
) -> Result<Matrix<T>> {
    let mut a = x.matmul(w_x)?;
    let recurrent = h_prev.matmul(w_h)?;
    a.add_assign(&recurrent)?;
    a.add_row_in_place(b)?;
    phi.apply_in_place(a.as_mut_slice());
    Ok(a)
}

/// [`rnn_cell_vjp`] accumulated into the inputs' adjoints so far: the same products, each summed in
/// place by the kernel, so that `W̄_x` and `W̄_h`, summed over every step, need no copy per step;
/// `W_xᵀ` and `W_hᵀ` come from `transposes`, made once per sweep (`parents` names the inputs).
fn rnn_cell_accumulate_vjp<T: Scalar>(
    phi: Activation,
    inputs: &[&Matrix<T>],
    parents: &[NodeId],
    h: &Matrix<T>,
    g: &Matrix<T>,
    sums: &mut [Option<Matrix<T>>],
    transposes: &mut Transposes<T>,
) {
    let ([x, h_prev, w_x, w_h, _], [_, _, w_x_id, w_h_id, _]) = (inputs, parents) else {
        unreachable!("invariant: rnn_cell has five inputs")
    };
    let [x_bar, h_bar, w_x_bar, w_h_bar, b_bar] = sums else {
        unreachable!("invariant: rnn_cell has five inputs")
    };
    let mut da = Matrix::zeros(h.rows(), h.cols());
    phi.backward_in_place(g.as_slice(), h.as_slice(), da.as_mut_slice());
    transposes.prepare(*w_x_id, w_x, da.rows());
    transposes.prepare(*w_h_id, w_h, da.rows());
    add_product(x_bar, da.view(), transposes.view(*w_x_id, w_x));
    add_product(h_bar, da.view(), transposes.view(*w_h_id, w_h));
    add_product(w_x_bar, x.view().t(), da.view());
    add_product(w_h_bar, h_prev.view().t(), da.view());
    add_into(b_bar, da.sum_rows());
}

/// Transposed copies of node values, made the first time a vector-Jacobian product asks for one
/// during a backward sweep and kept until the sweep ends.
///
/// Why: the fused `rnn_cell` multiplies by `W_xᵀ` and `W_hᵀ` at every step. The `gemm` kernel
/// repacks its right operand at each call, and gathering it from the transposed view of a
/// row-major `W` is slower than copying rows: 58 against 82 GFLOP/s for `da·W_hᵀ` at
/// `B = 32, H = 128` (f64). One copy per sweep costs `H²` reads where the products cost
/// `B·H²` multiply-adds per step; measured on the whole fused tape at B=32 T=64 F=32 H=128,
/// it took 5% (f64) and 13% (f32) off the time of a training step. A product small enough for
/// the plain loop (see [`kernel::KERNEL_MIN_WORK`]) reads the view, and no copy is made.
#[derive(Debug)]
pub(crate) struct Transposes<T> {
    made: Vec<(NodeId, Matrix<T>)>,
}

impl<T: Scalar> Transposes<T> {
    /// None made yet.
    pub(crate) fn new() -> Self {
        Transposes { made: Vec::new() }
    }

    /// Makes `valueᵀ`, the value of node `id` transposed, for products `A·valueᵀ` with `rows`
    /// rows, unless it is made already or those products are left to the plain loop.
    fn prepare(&mut self, id: NodeId, value: &Matrix<T>, rows: usize) {
        // Only the packed kernel gains from a copy; without the `gemm` feature there is none.
        let packed = cfg!(feature = "gemm") && rows * value.len() > kernel::KERNEL_MIN_WORK;
        if packed && !self.made.iter().any(|(made, _)| *made == id) {
            self.made.push((id, value.transpose()));
        }
    }

    /// `valueᵀ` for node `id`: the copy [`Transposes::prepare`] made, or else the view.
    fn view<'a>(&'a self, id: NodeId, value: &'a Matrix<T>) -> View<'a, T> {
        match self.made.iter().find(|(made, _)| *made == id) {
            Some((_, copy)) => copy.view(),
            None => value.view().t(),
        }
    }
}

/// `sum += A·B`, or `sum = A·B` when there is nothing yet.
fn add_product<T: Scalar>(sum: &mut Option<Matrix<T>>, a: View<'_, T>, b: View<'_, T>) {
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
fn add_into<T: Scalar>(sum: &mut Option<Matrix<T>>, c: Matrix<T>) {
    match sum {
        Some(s) => s
            .add_assign(&c)
            .expect("invariant: a vector-Jacobian product has the shape of its input"),
        None => *sum = Some(c),
    }
}

fn rnn_cell_vjp<T: Scalar>(
    phi: Activation,
    x: &Matrix<T>,
    h_prev: &Matrix<T>,
    w_x: &Matrix<T>,
    w_h: &Matrix<T>,
    h: &Matrix<T>,
    g: &Matrix<T>,
) -> Vec<Matrix<T>> {
    let invariant = "invariant: rnn_cell adjoint shapes follow the forward shapes";
    let da = g
        .zip_map(h, "rnn_cell_vjp", |g, h| g * phi.derivative_from_output(h))
        .expect(invariant);
    vec![
        da.matmul_nt(w_x).expect(invariant),
        da.matmul_nt(w_h).expect(invariant),
        x.matmul_tn(&da).expect(invariant),
        h_prev.matmul_tn(&da).expect(invariant),
        da.sum_rows(),
    ]
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
            Op::Sum => "sum",
            Op::Mean => "mean",
            Op::Square => "square",
            Op::Scale(_) => "scale",
            Op::SoftmaxCrossEntropy(_) => "softmax_ce",
            Op::RnnCell(_) => "rnn_cell",
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
            (Op::Sum, [x]) => Ok(Matrix::row_vector(&[x.sum()])),
            (Op::Mean, [x]) => Ok(Matrix::row_vector(&[x.sum() / T::from_f64(x.len() as f64)])),
            (Op::Square, [x]) => Ok(x.map(|v| v * v)),
            (Op::Scale(c), [x]) => Ok(x.scale(*c)),
            (Op::SoftmaxCrossEntropy(labels), [z]) => softmax_cross_entropy(z, labels),
            (Op::RnnCell(phi), [x, h, w_x, w_h, b]) => rnn_cell(*phi, x, h, w_x, w_h, b),
            (op, inputs) => unreachable!("{} called with {} inputs", op.name(), inputs.len()),
        }
    }

    /// Adds the adjoints of the inputs, [`Op::vjp`], into `sums` (one per input; `None` where
    /// nothing has been added yet): the form the fast reverse loop
    /// ([`crate::tape::Var::backward_leaves`]) uses. `rnn_cell` adds its weight products in
    /// place, multiplying by transposes made once per sweep (`parents` names the inputs'
    /// nodes, see [`Transposes`]); every other op forms its contributions and adds them, so its
    /// numbers are exactly those of `vjp` followed by a sum.
    pub(crate) fn accumulate_vjp(
        &self,
        inputs: &[&Matrix<T>],
        parents: &[NodeId],
        out: &Matrix<T>,
        g: &Matrix<T>,
        sums: &mut [Option<Matrix<T>>],
        transposes: &mut Transposes<T>,
    ) {
        match self {
            Op::RnnCell(phi) => {
                rnn_cell_accumulate_vjp(*phi, inputs, parents, out, g, sums, transposes)
            }
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
            (Op::Sum, [x]) => vec![sum_vjp(x, g)],
            (Op::Mean, [x]) => vec![mean_vjp(x, g)],
            (Op::Square, [x]) => vec![square_vjp(x, g)],
            (Op::Scale(c), [_]) => vec![g.scale(*c)],
            (Op::SoftmaxCrossEntropy(labels), [z]) => {
                vec![softmax_cross_entropy_vjp(z, labels, g)]
            }
            (Op::RnnCell(phi), [x, h_prev, w_x, w_h, _]) => {
                rnn_cell_vjp(*phi, x, h_prev, w_x, w_h, out, g)
            }
            (op, inputs) => unreachable!("{} called with {} inputs", op.name(), inputs.len()),
        }
    }
}
