//! The two paths of a gated cell's training step, written for speed: what `examples/bench.rs`
//! times for the LSTM and the GRU, as [`crate::fast`] is for the RNN.
//!
//! A gated step is two products with a part between them that reads each batch row on its own
//! ([`Pointwise`]):
//!
//! ```text
//! p^x_t = x_t·W_x + b_x,   p^h_t = h_(t-1)·W_h [+ b_h],   state_t = gates(p^x_t, p^h_t, state_(t-1))
//! ```
//!
//! Both paths run the products on the packed kernel, and the rest row by row in the cell's own
//! file ([`Pointwise::forward_row`], [`Pointwise::backward_row`]):
//!
//! - [`Bptt`], hand BPTT with what does not depend on the previous step taken out of the time
//!   loop: `P^x = X·W_x + b_x` for all steps is one product of the stacked inputs, and so are
//!   `dX = dP^x·W_xᵀ` and `dW_x = Xᵀ·dP^x` after the loop; `dW_h = H_prevᵀ·dP^h` is summed a
//!   few steps at a time. What remains in the loop is `h_(t-1)·W_h` forward and `dp^h_t·W_hᵀ`
//!   backward, into buffers allocated once.
//! - [`tape_totals`], the tape: one fused node per step ([`Step`]), which keeps the step's state
//!   and saves what its backward step needs, then the sweep that keeps the leaves' gradients
//!   ([`crate::tape::Var::backward_leaves`]).
//!
//! Both return [`Gradients`] with `dx` alone at each step and every total; tests hold them to
//! [`crate::case::Case::bptt`], the cell's readable backward step, at 1e-12 in f64.

use crate::case::{Case, Dims};
use crate::cell::{Cell, DX, Pointwise};
use crate::dual::Dual;
use crate::error::{Error, Result};
use crate::gradients::Gradients;
use crate::kernel::{self, View};
use crate::matrix::Matrix;
use crate::ops::{Fused, add_into, add_product};
use crate::scalar::Scalar;
use crate::tape::{Tape, Var};
use std::cell::RefCell;
use std::rc::Rc;

/// `dW_h = H_prevᵀ·dP^h` is summed as one product per chunk of this many steps, while the
/// chunk's `dp^h_t` are still in cache (as [`crate::fast`] does for the RNN).
const CHUNK: usize = 8;

/// The widths of one batch row, in numbers: the products' `G·H`, the state's `S·H` (the parts
/// side by side) and what a step keeps, `KEPT·H`.
#[derive(Clone, Copy, Debug)]
struct Widths {
    products: usize,
    state: usize,
    kept: usize,
}

impl Widths {
    fn of<C: Pointwise>(hidden: usize) -> Widths {
        Widths {
            products: C::WIDTH * hidden,
            state: C::STATES.len() * hidden,
            kept: C::KEPT * hidden,
        }
    }
}

/// `Σ_rows m` added into `sum`, for the `cols`-wide rows of `m`: a bias's gradient.
fn add_column_sums<T: Scalar>(sum: &mut [T], m: &[T], cols: usize) {
    kernel::wide(|| {
        for row in m.chunks_exact(cols) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += v;
            }
        }
    });
}

/// `m += b` for every `cols`-wide row of `m`.
fn add_bias<T: Scalar>(m: &mut [T], b: &[T], cols: usize) {
    kernel::wide(|| {
        for row in m.chunks_exact_mut(cols) {
            for (v, &b) in row.iter_mut().zip(b) {
                *v += b;
            }
        }
    });
}

/// The state parts (`h_0`, `c_0`), each `B × H`, side by side in rows of `S·H`.
fn pack<T: Scalar>(parts: &[Matrix<T>], out: &mut [T]) {
    let hidden = parts[0].cols();
    let width = parts.len() * hidden;
    for (p, part) in parts.iter().enumerate() {
        for (row, from) in out
            .chunks_exact_mut(width)
            .zip(part.as_slice().chunks_exact(hidden))
        {
            row[p * hidden..(p + 1) * hidden].copy_from_slice(from);
        }
    }
}

/// Part `p` of rows of `S·H` packed state, as a `B × H` matrix.
fn part<T: Scalar>(packed: &[T], rows: usize, hidden: usize, parts: usize, p: usize) -> Matrix<T> {
    let width = parts * hidden;
    Matrix::from_fn(rows, hidden, |i, j| packed[i * width + p * hidden + j])
}

/// Hand BPTT for one size of problem and one gated cell, with its buffers: make it once,
/// [`Bptt::run`] it on every case of that size, and nothing is allocated inside the time loop.
#[derive(Clone, Debug)]
pub struct Bptt<T> {
    dims: Dims,
    /// The cell this workspace was made for (`"lstm"`).
    kind: &'static str,
    widths: Widths,
    /// `X = [x_1; …; x_T]`, `T·B × F`.
    xs: Vec<T>,
    /// `P^x = X·W_x + b_x`, `T·B × G·H`, in the forward pass; in the backward pass, step t's
    /// rows are overwritten with `dp^x_t` (the backward step reads only `kept`), so that
    /// `dX = dP^x·W_xᵀ` and `dW_x = Xᵀ·dP^x` are one product each after the loop.
    px: Vec<T>,
    /// `p^h_t` of the step being computed, `B × G·H`.
    ph: Vec<T>,
    /// `[state_0; …; state_T]`, `(T + 1)·B × S·H`, each row its parts side by side.
    states: Vec<T>,
    /// What each step keeps for its backward step, `T·B × KEPT·H`.
    kept: Vec<T>,
    /// `dp^h_t` for the steps of the current chunk, `CHUNK·B × G·H`.
    dph: Vec<T>,
    /// `dX = [dx_1; …; dx_T]`, `T·B × F`.
    dxs: Vec<T>,
    /// `W_hᵀ`, copied once per run so that the loop's product `dp^h_t·W_hᵀ` reads rows in
    /// order (see [`crate::cells::rnn::RnnStep`] for what the copy buys).
    w_h_t: Matrix<T>,
    /// The state gradient being carried back, `B × S·H`.
    d_state: Vec<T>,
    /// `dp^h_t·W_hᵀ`, `B × H`.
    dh: Vec<T>,
    /// The results, overwritten by each run.
    out: Gradients<T>,
}

impl<T: Scalar> Bptt<T> {
    /// Buffers for cases of size `dims` of the cell `C`.
    pub fn new<C: Pointwise>(dims: Dims) -> Bptt<T> {
        let Dims {
            batch: bs,
            steps,
            features: f,
            hidden: h,
        } = dims;
        let w = Widths::of::<C>(h);
        let totals = C::PARAMS
            .iter()
            .map(|p| {
                let (rows, cols) = p.shape(f, h);
                (p.key, Matrix::zeros(rows, cols))
            })
            .chain(C::STATES.iter().map(|s| (s.initial, Matrix::zeros(bs, h))))
            .collect();
        Bptt {
            dims,
            kind: C::KIND,
            widths: w,
            xs: vec![T::zero(); steps * bs * f],
            px: vec![T::zero(); steps * bs * w.products],
            ph: vec![T::zero(); bs * w.products],
            states: vec![T::zero(); (steps + 1) * bs * w.state],
            kept: vec![T::zero(); steps * bs * w.kept],
            dph: vec![T::zero(); CHUNK * bs * w.products],
            dxs: vec![T::zero(); steps * bs * f],
            w_h_t: Matrix::zeros(w.products, h),
            d_state: vec![T::zero(); bs * w.state],
            dh: vec![T::zero(); bs * h],
            out: Gradients {
                loss: T::zero(),
                steps: (0..steps)
                    .map(|_| vec![(DX, Matrix::zeros(bs, f))])
                    .collect(),
                totals,
            },
        }
    }

    /// The loss, every `dx_t` and every total gradient of `case`, which must have this
    /// workspace's size and cell.
    pub fn run<C: Pointwise>(&mut self, case: &Case<T, C>) -> Result<&Gradients<T>> {
        case.check_shapes()?;
        case.cell.pointwise()?;
        let size = |d: Dims| {
            format!(
                "B={} T={} F={} H={}",
                d.batch, d.steps, d.features, d.hidden
            )
        };
        if (case.dims(), C::KIND) != (self.dims, self.kind) {
            return Err(Error::bad_shape(
                "case",
                format!("{} {}", self.kind, size(self.dims)),
                format!("{} {}", C::KIND, size(case.dims())),
            ));
        }
        self.forward(case);
        self.backward(case);
        Ok(&self.out)
    }

    /// Every step's state and kept values, and the loss.
    fn forward<C: Pointwise>(&mut self, case: &Case<T, C>) {
        let Dims {
            batch: bs,
            steps,
            features: f,
            hidden: h,
        } = self.dims;
        let w = self.widths;
        let (w_x, w_h) = (&case.params[0], &case.params[1]);
        for (rows, x_t) in self.xs.chunks_exact_mut(bs * f).zip(&case.x) {
            rows.copy_from_slice(x_t.as_slice());
        }
        pack(&case.initial, &mut self.states[..bs * w.state]);
        // P^x = X·W_x + b_x for every step at once.
        let xs = View::row_major(&self.xs, steps * bs, f);
        kernel::matmul_into(xs, w_x.view(), &mut self.px, false);
        add_bias(
            &mut self.px,
            case.params[C::BIASES.0].as_slice(),
            w.products,
        );
        for t in 1..=steps {
            let (before, after) = self.states.split_at_mut(t * bs * w.state);
            let prev = &before[(t - 1) * bs * w.state..];
            // p^h_t = h_(t-1)·W_h (+ b_h): h is the first H numbers of each state row.
            let h_prev = View::first_columns(prev, bs, h, w.state);
            kernel::matmul_into(h_prev, w_h.view(), &mut self.ph, false);
            if let Some(b_h) = C::BIASES.1 {
                add_bias(&mut self.ph, case.params[b_h].as_slice(), w.products);
            }
            let px = &self.px[(t - 1) * bs * w.products..];
            let kept = &mut self.kept[(t - 1) * bs * w.kept..];
            for r in 0..bs {
                case.cell.forward_row(
                    &px[r * w.products..(r + 1) * w.products],
                    &self.ph[r * w.products..(r + 1) * w.products],
                    &prev[r * w.state..(r + 1) * w.state],
                    &mut after[r * w.state..(r + 1) * w.state],
                    &mut kept[r * w.kept..(r + 1) * w.kept],
                );
            }
        }
        // Bptt::run checked the head with the shapes.
        self.out.loss = case.head.loss_of(&self.states_read(case));
    }

    /// The states `h_t` the head reads, as matrices: `[h_0, h_T]`, or all of them.
    fn states_read<C: Cell>(&self, case: &Case<T, C>) -> Vec<Matrix<T>> {
        let steps = self.dims.steps;
        let read: Vec<usize> = if case.head.reads_every_state() {
            (0..=steps).collect()
        } else {
            vec![0, steps]
        };
        read.into_iter().map(|t| self.h(t)).collect()
    }

    /// `h_t`, the first part of the state.
    fn h(&self, t: usize) -> Matrix<T> {
        let (bs, h, w) = (self.dims.batch, self.dims.hidden, self.widths);
        let rows = &self.states[t * bs * w.state..(t + 1) * bs * w.state];
        part(rows, bs, h, w.state / h, 0)
    }

    /// The backward loop: every `dp^x_t` and `dp^h_t`, the state gradient carried back to
    /// `state_0`, and the sums over steps.
    fn backward<C: Pointwise>(&mut self, case: &Case<T, C>) {
        let Dims {
            batch: bs,
            steps,
            features: f,
            hidden: h,
        } = self.dims;
        let w = self.widths;
        let head = case.head.grads_of(&self.states_read(case));
        let mut direct = head.dl_dh;
        let params = C::PARAMS.len();
        self.out.totals.truncate(params + C::STATES.len());
        self.out.totals.extend(head.params);
        for (_, m) in &mut self.out.totals[..params] {
            m.as_mut_slice().fill(T::zero());
        }
        // d_state = [∂ℓ/∂h_T | 0]: the head reads h only.
        self.d_state.fill(T::zero());
        let last = direct.pop().expect("invariant: a head gives ∂ℓ/∂h_T");
        add_to_h(&mut self.d_state, last.as_slice(), h, w.state);
        let (w_x, w_h) = (&case.params[0], &case.params[1]);
        w_h.transpose_into(&mut self.w_h_t);
        let totals = &mut self.out.totals;
        for t in (1..=steps).rev() {
            let t0 = (t - 1) / CHUNK * CHUNK + 1;
            let slot = (t - t0) * bs * w.products;
            let prev = &self.states[(t - 1) * bs * w.state..t * bs * w.state];
            let kept = &self.kept[(t - 1) * bs * w.kept..t * bs * w.kept];
            let dpx = &mut self.px[(t - 1) * bs * w.products..t * bs * w.products];
            let dph = &mut self.dph[slot..slot + bs * w.products];
            for r in 0..bs {
                case.cell.backward_row(
                    &kept[r * w.kept..(r + 1) * w.kept],
                    &prev[r * w.state..(r + 1) * w.state],
                    &mut self.d_state[r * w.state..(r + 1) * w.state],
                    &mut dpx[r * w.products..(r + 1) * w.products],
                    &mut dph[r * w.products..(r + 1) * w.products],
                );
            }
            // state_(t-1) gets dp^h_t·W_hᵀ into its h.
            let dph = View::row_major(dph, bs, w.products);
            kernel::matmul_into(dph, self.w_h_t.view(), &mut self.dh, false);
            add_to_h(&mut self.d_state, &self.dh, h, w.state);
            if let Some(b_h) = C::BIASES.1 {
                add_column_sums(
                    totals[b_h].1.as_mut_slice(),
                    &self.dph[slot..slot + bs * w.products],
                    w.products,
                );
            }
            // dW_h += H_prevᵀ·dP^h over the chunk, once it is complete.
            if t == t0 {
                let len = (t0 + CHUNK - 1).min(steps) - t0 + 1;
                let dphs = View::row_major(&self.dph, len * bs, w.products);
                let first = (t - 1) * bs * w.state;
                let h_prevs = View::first_columns(&self.states[first..], len * bs, h, w.state);
                kernel::matmul_into(h_prevs.t(), dphs, totals[1].1.as_mut_slice(), true);
            }
            // A head reading every state gave ∂ℓ/∂h_1 … ∂ℓ/∂h_(T-1) in `direct` (none else).
            if let Some(d) = t.checked_sub(2).and_then(|i| direct.get(i)) {
                add_to_h(&mut self.d_state, d.as_slice(), h, w.state);
            }
        }
        // What reads the input alone, for every step at once: dX = dP^x·W_xᵀ, dW_x = Xᵀ·dP^x,
        // db_x = Σ dP^x.
        let dpxs = View::row_major(&self.px, steps * bs, w.products);
        kernel::matmul_into(dpxs, w_x.view().t(), &mut self.dxs, false);
        for (step, dx) in self.out.steps.iter_mut().zip(self.dxs.chunks_exact(bs * f)) {
            step[0].1.as_mut_slice().copy_from_slice(dx);
        }
        let xs = View::row_major(&self.xs, steps * bs, f);
        kernel::matmul_into(xs.t(), dpxs, totals[0].1.as_mut_slice(), false);
        add_column_sums(totals[C::BIASES.0].1.as_mut_slice(), &self.px, w.products);
        let parts = C::STATES.len();
        for p in 0..parts {
            totals[params + p].1 = part(&self.d_state, bs, h, parts, p);
        }
    }
}

/// `d_state[h] += d` row by row: `d` (`B × H`) into the `h` part of rows of `width`.
fn add_to_h<T: Scalar>(d_state: &mut [T], d: &[T], hidden: usize, width: usize) {
    for (row, from) in d_state.chunks_exact_mut(width).zip(d.chunks_exact(hidden)) {
        for (s, &v) in row.iter_mut().zip(from) {
            *s += v;
        }
    }
}

/// Hand BPTT's `dx_t` and totals for one case, with a workspace made for it (see [`Bptt`]).
pub fn bptt_totals<T: Scalar, C: Pointwise>(case: &Case<T, C>) -> Result<Gradients<T>> {
    Bptt::new::<C>(case.dims()).run(case).cloned()
}

/// The same by the tape: one fused [`Step`] per time step, the head on top, and one backward
/// sweep that keeps the gradients of the leaves.
pub fn tape_totals<T: Scalar, C: Pointwise>(case: &Case<T, C>) -> Result<Gradients<T>> {
    case.check_shapes()?;
    case.cell.pointwise()?;
    let parts = C::STATES.len();
    let (bs, h) = (case.dims().batch, case.dims().hidden);
    // The parameters and the initial state, then x_t, the step and its h_t for each t, then
    // the head's few nodes.
    let tape = Tape::with_capacity(3 * case.x.len() + 16);
    let params: Vec<Var<T>> = C::PARAMS
        .iter()
        .zip(&case.params)
        .map(|(p, m)| tape.named_var(p.shown, m.clone()))
        .collect();
    let mut packed = vec![T::zero(); bs * parts * h];
    pack(&case.initial, &mut packed);
    let initial = tape.named_var("state_0", Matrix::new(bs, parts * h, packed)?);
    // The head reads h, the first H columns of the state.
    fn h_of<'t, T: Scalar>(state: Var<'t, T>, parts: usize, h: usize) -> Result<Var<'t, T>> {
        if parts == 1 {
            Ok(state)
        } else {
            state.columns(0, h)
        }
    }
    // Measured at 32,32,16,64 and 32,64,32,128 (LSTM, f64 and f32, interleaved runs): the
    // tape's time over the hand path's, median 1.03 reading W through views, 0.97 with copies.
    let transposed = Rc::new(Transposed::of(&case.params[0], &case.params[1]));
    let mut hs = vec![h_of(initial, parts, h)?];
    let mut xs = Vec::with_capacity(case.x.len());
    let mut state = initial;
    for x_t in &case.x {
        let x = tape.var(x_t.clone());
        let mut inputs = vec![x, state];
        inputs.extend(&params);
        let step = Step::sharing(case.cell.clone(), transposed.clone());
        state = x.fused(Rc::new(step), &inputs)?;
        hs.push(h_of(state, parts, h)?);
        xs.push(x);
    }
    let head = case.head.on_tape(&hs)?;
    let mut grads = head.loss.backward_leaves();
    let steps = xs.iter().map(|&x| vec![(DX, grads.take(x))]).collect();
    let mut totals: Vec<_> = C::PARAMS
        .iter()
        .zip(&params)
        .map(|(p, &w)| (p.key, grads.take(w)))
        .collect();
    let d_initial = grads.take(initial);
    for (p, s) in C::STATES.iter().enumerate() {
        totals.push((s.initial, part(d_initial.as_slice(), bs, h, parts, p)));
    }
    totals.extend(head.params.iter().map(|&(key, w)| (key, grads.take(w))));
    Ok(Gradients {
        loss: head.loss.value()[(0, 0)],
        steps,
        totals,
    })
}

/// One gated step as a single node, inputs `[x_t, state_(t-1), W_x, W_h, biases…]` (the
/// parameters in the order of [`Cell::PARAMS`]), output `state_t`, its parts side by side
/// (`[h_t | c_t]` for the LSTM).
///
/// Forward: `p^x = x_t·W_x + b_x`, `p^h = h_(t-1)·W_h [+ b_h]`, then the cell row by row
/// ([`Pointwise::forward_row`]). The node saves what the row's backward step keeps (the gates),
/// as PyTorch's `ctx.save_for_backward` does, so each node has its own `Step`: recording one
/// twice is refused. Backward: the cell's [`Pointwise::backward_row`] gives `dp^x`, `dp^h` and
/// the direct flow into the previous state; then `x̄_t = dp^x·W_xᵀ`, `h̄_(t-1) += dp^h·W_hᵀ`,
/// `W̄_x = x_tᵀ·dp^x`, `W̄_h = h_(t-1)ᵀ·dp^h`, `b̄_x = Σ_i dp^x_i`, `b̄_h = Σ_i dp^h_i`.
/// Forward mode (the JVP) runs the same forward on dual numbers.
#[derive(Debug)]
pub struct Step<T, C> {
    cell: C,
    saved: RefCell<Option<Matrix<T>>>,
    /// `W_xᵀ` and `W_hᵀ`, copied once for every step of a recording, or `None` to read `W`
    /// through a transposed view.
    transposed: Option<Rc<Transposed<T>>>,
}

/// `W_xᵀ` and `W_hᵀ`, copied once for all the steps of a recording, so that the backward
/// products `dp^x·W_xᵀ` and `dp^h·W_hᵀ` read rows in order (see
/// [`crate::cells::rnn::RnnStep`] for what the copy buys).
#[derive(Debug)]
pub struct Transposed<T> {
    w_x: Matrix<T>,
    w_h: Matrix<T>,
}

impl<T: Scalar> Transposed<T> {
    /// The copies of `W_xᵀ` and `W_hᵀ`.
    pub fn of(w_x: &Matrix<T>, w_h: &Matrix<T>) -> Transposed<T> {
        Transposed {
            w_x: w_x.transpose(),
            w_h: w_h.transpose(),
        }
    }
}

impl<T: Scalar, C: Pointwise> Step<T, C> {
    /// A step of `cell`, not yet recorded, reading the weights through transposed views.
    pub fn new(cell: C) -> Step<T, C> {
        Step {
            cell,
            saved: RefCell::new(None),
            transposed: None,
        }
    }

    /// A step of `cell` that multiplies by the shared copies `transposed`, which must be of the
    /// weights it is recorded on.
    pub fn sharing(cell: C, transposed: Rc<Transposed<T>>) -> Step<T, C> {
        Step {
            cell,
            saved: RefCell::new(None),
            transposed: Some(transposed),
        }
    }

    /// The inputs' shapes, named where they do not fit.
    fn check(&self, inputs: &[&Matrix<T>]) -> Result<()> {
        let expected = 2 + C::PARAMS.len();
        if inputs.len() != expected {
            let names: Vec<&str> = C::PARAMS.iter().map(|p| p.key).collect();
            return Err(Error::invalid(
                C::STEP,
                format!(
                    "expected {expected} inputs (x, state, {}), found {}",
                    names.join(", "),
                    inputs.len()
                ),
            ));
        }
        let (x, prev) = (inputs[0], inputs[1]);
        let hidden = inputs[3].rows();
        let w = Widths::of::<C>(hidden);
        let mut wanted = vec![
            ("state", (x.rows(), w.state), prev.shape()),
            ("w_x", (x.cols(), w.products), inputs[2].shape()),
        ];
        for (p, m) in C::PARAMS.iter().zip(&inputs[2..]).skip(1) {
            wanted.push((p.key, p.shape(x.cols(), hidden), m.shape()));
        }
        // Copies shared with the step must be of its weights' shapes, transposed.
        if let Some(copies) = &self.transposed {
            let (w_x, w_h) = (inputs[2], inputs[3]);
            wanted.push(("copy of W_xᵀ", (w_x.cols(), w_x.rows()), copies.w_x.shape()));
            wanted.push(("copy of W_hᵀ", (w_h.cols(), w_h.rows()), copies.w_h.shape()));
        }
        match wanted.into_iter().find(|(_, want, found)| want != found) {
            Some((name, want, found)) => Err(Error::bad_shape(
                format!("{} input {name}", C::STEP),
                format!("{}×{}", want.0, want.1),
                format!("{}×{}", found.0, found.1),
            )),
            None => Ok(()),
        }
    }
}

/// The step's forward values on inputs of checked shapes: the new state and what is kept.
fn step_values<U: Scalar, C: Pointwise>(cell: &C, inputs: &[&Matrix<U>]) -> (Matrix<U>, Matrix<U>) {
    let (x, prev, w_x, w_h) = (inputs[0], inputs[1], inputs[2], inputs[3]);
    let params = &inputs[2..];
    let (bs, hidden) = (x.rows(), w_h.rows());
    let w = Widths::of::<C>(hidden);
    let mut px = x
        .matmul(w_x)
        .expect("invariant: Step::check checked the shapes");
    add_bias(
        px.as_mut_slice(),
        params[C::BIASES.0].as_slice(),
        w.products,
    );
    let h_prev = View::first_columns(prev.as_slice(), bs, hidden, w.state);
    let mut ph = vec![U::zero(); bs * w.products];
    kernel::matmul_into(h_prev, w_h.view(), &mut ph, false);
    if let Some(b_h) = C::BIASES.1 {
        add_bias(&mut ph, params[b_h].as_slice(), w.products);
    }
    let mut next = Matrix::zeros(bs, w.state);
    let mut kept = Matrix::zeros(bs, w.kept);
    let rows = px
        .as_slice()
        .chunks_exact(w.products)
        .zip(ph.chunks_exact(w.products));
    let states = prev.as_slice().chunks_exact(w.state);
    let outs = next.as_mut_slice().chunks_exact_mut(w.state);
    let keeps = kept.as_mut_slice().chunks_exact_mut(w.kept);
    for (((px, ph), prev), (next, kept)) in rows.zip(states).zip(outs.zip(keeps)) {
        cell.forward_row(px, ph, prev, next, kept);
    }
    (next, kept)
}

/// The backward rows of a step: `dp^x`, `dp^h` and the direct flow into the previous state.
fn step_back<T: Scalar, C: Pointwise>(
    cell: &C,
    kept: &Matrix<T>,
    prev: &Matrix<T>,
    g: &Matrix<T>,
) -> (Matrix<T>, Matrix<T>, Matrix<T>) {
    let products = C::WIDTH * (g.cols() / C::STATES.len());
    let mut dpx = Matrix::zeros(g.rows(), products);
    let mut dph = Matrix::zeros(g.rows(), products);
    let mut d_prev = g.clone();
    let kept_rows = kept.as_slice().chunks_exact(kept.cols());
    let prev_rows = prev.as_slice().chunks_exact(prev.cols());
    let d_rows = d_prev.as_mut_slice().chunks_exact_mut(g.cols());
    let dpx_rows = dpx.as_mut_slice().chunks_exact_mut(products);
    let dph_rows = dph.as_mut_slice().chunks_exact_mut(products);
    for (((kept, prev), d), (dpx, dph)) in kept_rows
        .zip(prev_rows)
        .zip(d_rows)
        .zip(dpx_rows.zip(dph_rows))
    {
        cell.backward_row(kept, prev, d, dpx, dph);
    }
    (dpx, dph, d_prev)
}

impl<T: Scalar, C: Pointwise> Fused<T> for Step<T, C> {
    fn name(&self) -> &'static str {
        C::STEP
    }

    /// The cell's step, after checking the shapes; the kept values are saved for the backward.
    fn forward(&self, inputs: &[&Matrix<T>]) -> Result<Matrix<T>> {
        self.check(inputs)?;
        if self.saved.borrow().is_some() {
            return Err(Error::invalid(
                C::STEP,
                "this step was recorded already; make one Step per node, as it saves its own \
                 values for the backward pass",
            ));
        }
        let (next, kept) = step_values(&self.cell, inputs);
        *self.saved.borrow_mut() = Some(kept);
        Ok(next)
    }

    /// `[x̄_t, statē_(t-1), W̄_x, W̄_h, b̄…]` from the cell's backward rows and the products.
    fn vjp(&self, inputs: &[&Matrix<T>], _state: &Matrix<T>, g: &Matrix<T>) -> Vec<Matrix<T>> {
        let mut sums: Vec<Option<Matrix<T>>> = vec![None; inputs.len()];
        self.accumulate_vjp(inputs, _state, g, &mut sums);
        sums.into_iter()
            .map(|s| s.expect("invariant: a gated step gives every input's adjoint"))
            .collect()
    }

    /// The tangent of `state_t`: the step itself on dual numbers, `value + tangent·ε`.
    fn jvp(&self, inputs: &[&Matrix<T>], _state: &Matrix<T>, dots: &[&Matrix<T>]) -> Matrix<T> {
        let duals: Vec<Matrix<Dual<T>>> = inputs
            .iter()
            .zip(dots)
            .map(|(v, d)| {
                Matrix::from_fn(v.rows(), v.cols(), |i, j| Dual {
                    value: v[(i, j)],
                    tangent: d[(i, j)],
                })
            })
            .collect();
        let refs: Vec<&Matrix<Dual<T>>> = duals.iter().collect();
        let state = step_values(&self.cell, &refs).0;
        Matrix::from_fn(state.rows(), state.cols(), |i, j| state[(i, j)].tangent)
    }

    /// [`Fused::vjp`] with the weight products summed in place by the kernel.
    fn accumulate_vjp(
        &self,
        inputs: &[&Matrix<T>],
        _state: &Matrix<T>,
        g: &Matrix<T>,
        sums: &mut [Option<Matrix<T>>],
    ) {
        let (x, prev, w_x, w_h) = (inputs[0], inputs[1], inputs[2], inputs[3]);
        let (bs, hidden) = (x.rows(), w_h.rows());
        let w = Widths::of::<C>(hidden);
        // What the forward pass saved, or the forward values again for a step never recorded.
        let saved = self.saved.borrow();
        let recomputed;
        let kept = match &*saved {
            Some(kept) => kept,
            None => {
                recomputed = step_values(&self.cell, inputs).1;
                &recomputed
            }
        };
        let (dpx, dph, mut d_prev) = step_back(&self.cell, kept, prev, g);
        let (w_x_t, w_h_t) = match &self.transposed {
            Some(copies) => (copies.w_x.view(), copies.w_h.view()),
            None => (w_x.view().t(), w_h.view().t()),
        };
        let mut dh = vec![T::zero(); bs * hidden];
        kernel::matmul_into(dph.view(), w_h_t, &mut dh, false);
        add_to_h(d_prev.as_mut_slice(), &dh, hidden, w.state);
        add_product(&mut sums[0], dpx.view(), w_x_t);
        add_into(&mut sums[1], d_prev);
        add_product(&mut sums[2], x.view().t(), dpx.view());
        let h_prev = View::first_columns(prev.as_slice(), bs, hidden, w.state);
        add_product(&mut sums[3], h_prev.t(), dph.view());
        add_into(&mut sums[2 + C::BIASES.0], dpx.sum_rows());
        if let Some(b_h) = C::BIASES.1 {
            add_into(&mut sums[2 + b_h], dph.sum_rows());
        }
    }
}
