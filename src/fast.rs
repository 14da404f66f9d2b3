//! The two paths of a training step, written for speed: what `examples/bench.rs` times.
//!
//! A training step needs the loss and the gradients of the weights and inputs, not the per-step
//! records that [`crate::bptt`] and [`crate::case::Case::tape_gradients`] keep for checking.
//! Without those records the same mathematics can be arranged for the machine:
//!
//! - [`Bptt`], hand BPTT: the equations of [`crate::bptt`], with what does not depend on the
//!   previous step taken out of the time loop. `x_t·W_x` for all steps is one product of the
//!   stacked inputs `X = [x_1; …; x_T]`; `dW_x = Xᵀ·dA` and `dW_h = H_prevᵀ·dA`, with
//!   `dA = [da_1; …; da_T]` and `H_prev = [h_0; …; h_(T-1)]`, are summed a few steps at a time
//!   (`CHUNK` = 8 steps). What remains in the loop is `h_(t-1)·W_h` forward and `da_t·W_hᵀ`,
//!   `da_t·W_xᵀ` backward, written into buffers allocated once.
//! - [`tape_totals`], the tape: the forward pass recorded with one fused node per step
//!   ([`crate::cells::Rnn::record_fused`]), so the tape keeps only `x_t` and `h_t`, then the
//!   ordinary [`crate::tape::Tape`]'s sweep for training, [`crate::tape::Var::backward_leaves`],
//!   which keeps the gradients of the inputs and weights only.
//!
//! Both return [`Gradients`] with `dx` alone at each step and every total; tests hold them to
//! [`crate::bptt::backward`] at 1e-12 in f64. Both are the RNN's: they are what the benchmark
//! times against numpy and JAX.

use crate::case::{Case, Dims};
use crate::cell::{Cell, DX};
use crate::cells::Rnn;
use crate::error::{Error, Result};
use crate::gradients::{Gradients, Keep};
use crate::kernel::{self, View};
use crate::loss::{Head, Reduction};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sequence;
use crate::tape::Tape;

/// The weight gradients `dW_x = Σ_t x_tᵀ·da_t` and `dW_h = Σ_t h_(t-1)ᵀ·da_t` are summed as one
/// product per chunk of this many steps (`K = CHUNK·B`), while the chunk's `da_t` are still in
/// cache. Measured on the benchmark sizes: as fast as, or up to 5% faster than, one product per
/// step or one product over all `T` steps after the loop.
const CHUNK: usize = 8;

/// Hand BPTT for one size of problem, with its buffers: make it once, [`Bptt::run`] it on every
/// case of that size (as a training loop would), and nothing is allocated inside the time loop.
#[derive(Clone, Debug)]
pub struct Bptt<T> {
    dims: Dims,
    /// `X = [x_1; …; x_T]`, `T·B × F`: step t's rows start at row `(t − 1)·B`.
    xs: Vec<T>,
    /// `[h_0; h_1; …; h_T]`, `(T + 1)·B × H`: step t's rows start at row `t·B`.
    hs: Vec<T>,
    /// `da_t` for the steps of the current chunk (see `CHUNK`), `CHUNK·B × H`: step t's rows
    /// start at row `(t − t0)·B`, `t0` being the chunk's first step.
    das: Vec<T>,
    /// `dh_t` of the step being processed, `B × H`.
    dh: Vec<T>,
    /// `W_xᵀ` and `W_hᵀ`, copied once per run so the loop's products read rows in order.
    w_x_t: Matrix<T>,
    w_h_t: Matrix<T>,
    /// The results, overwritten by each run: `dx` at every step, then the totals `W_x`, `W_h`,
    /// `b`, `h0` and the head's.
    out: Gradients<T>,
}

/// Where [`Bptt`]'s results keep `∂L/∂h_0`: after the totals of `W_x`, `W_h`, `b`; the head's
/// follow it.
const H0: usize = 3;

impl<T: Scalar> Bptt<T> {
    /// Buffers for cases of size `dims`.
    pub fn new(dims: Dims) -> Bptt<T> {
        let Dims {
            batch: bs,
            steps,
            features: f,
            hidden: h,
        } = dims;
        Bptt {
            dims,
            xs: vec![T::zero(); steps * bs * f],
            hs: vec![T::zero(); (steps + 1) * bs * h],
            das: vec![T::zero(); CHUNK * bs * h],
            dh: vec![T::zero(); bs * h],
            w_x_t: Matrix::zeros(h, f),
            w_h_t: Matrix::zeros(h, h),
            out: Gradients {
                loss: T::zero(),
                steps: (0..steps)
                    .map(|_| vec![(DX, Matrix::zeros(bs, f))])
                    .collect(),
                totals: vec![
                    ("w_x", Matrix::zeros(f, h)),
                    ("w_h", Matrix::zeros(h, h)),
                    ("b", Matrix::zeros(1, h)),
                    ("h0", Matrix::zeros(bs, h)),
                ],
            },
        }
    }

    /// The loss, every `dx_t` and every total gradient of `case`, which must have this
    /// workspace's size.
    pub fn run(&mut self, case: &Case<T>) -> Result<&Gradients<T>> {
        self.check(case)?;
        self.forward(case);
        self.backward(case);
        Ok(&self.out)
    }

    fn check(&self, case: &Case<T>) -> Result<()> {
        case.check_shapes()?;
        let dims = case.dims();
        if dims != self.dims {
            let size = |d: Dims| {
                format!(
                    "B={} T={} F={} H={}",
                    d.batch, d.steps, d.features, d.hidden
                )
            };
            return Err(Error::bad_shape("case", size(self.dims), size(dims)));
        }
        Ok(())
    }

    /// `h_t = φ(x_t·W_x + h_(t-1)·W_h + b)` for every step, into `hs`, and the loss.
    fn forward(&mut self, case: &Case<T>) {
        let Dims {
            batch: bs,
            hidden: h,
            features: f,
            steps,
        } = self.dims;
        let [w_x, w_h, b] = &case.params[..] else {
            unreachable!("invariant: an RNN case has three parameters")
        };
        let phi = case.cell.activation;
        for (rows, x_t) in self.xs.chunks_exact_mut(bs * f).zip(&case.x) {
            rows.copy_from_slice(x_t.as_slice());
        }
        let (h0, states) = self.hs.split_at_mut(bs * h);
        h0.copy_from_slice(case.h0().as_slice());
        // x_t·W_x for every step at once: one product.
        let xs = View::row_major(&self.xs, steps * bs, f);
        kernel::matmul_into(xs, w_x.view(), states, false);
        for t in 1..=steps {
            let (before, after) = self.hs.split_at_mut(t * bs * h);
            let h_prev = View::row_major(&before[(t - 1) * bs * h..], bs, h);
            let a_t = &mut after[..bs * h];
            kernel::matmul_into(h_prev, w_h.view(), a_t, true);
            // + b, here rather than before the product above, while a_t is in cache.
            kernel::wide(|| {
                for row in a_t.chunks_exact_mut(h) {
                    for (a, &b) in row.iter_mut().zip(b.as_slice()) {
                        *a += b;
                    }
                }
            });
            phi.apply_in_place_vectorized(a_t);
        }
        self.out.loss = match &case.head {
            Head::MseAll {
                targets,
                reduction: Reduction::Sum,
                half: true,
            } => {
                let half = T::from_f64(0.5);
                let squares = |(h_t, y_t): (&[T], &Matrix<T>)| {
                    h_t.iter()
                        .zip(y_t.as_slice())
                        .map(|(&h, &y)| (h - y) * (h - y))
                        .sum::<T>()
                };
                let states = self.hs[bs * h..].chunks_exact(bs * h);
                half * states.zip(targets).map(squares).sum::<T>()
            }
            // Σ h_T, read in place: the canonical example's head, where copying the states
            // for the general case was a twentieth of a training step.
            Head::SumLast => self.hs[steps * bs * h..].iter().copied().sum::<T>(),
            // Bptt::run checked the head first.
            head => head.loss_of(&self.states_read(head)),
        };
    }

    /// The states `head` reads, as matrices: `[h_0, h_T]`, or every one for a head that reads
    /// them all.
    fn states_read(&self, head: &Head<T>) -> Vec<Matrix<T>> {
        if head.reads_every_state() {
            (0..=self.dims.steps).map(|t| self.state(t)).collect()
        } else {
            vec![self.state(0), self.state(self.dims.steps)]
        }
    }

    /// The state `h_t` as a matrix.
    fn state(&self, t: usize) -> Matrix<T> {
        let (bs, h) = (self.dims.batch, self.dims.hidden);
        Matrix::new(bs, h, self.hs[t * bs * h..(t + 1) * bs * h].to_vec())
            .expect("invariant: a state is batch × hidden")
    }

    /// The backward loop: every `da_t`, `dx_t` and `dh_0`, and the weights' sums.
    fn backward(&mut self, case: &Case<T>) {
        let Dims {
            batch: bs,
            hidden: h,
            features: f,
            steps,
        } = self.dims;
        let [w_x, w_h, _] = &case.params[..] else {
            unreachable!("invariant: an RNN case has three parameters")
        };
        let phi = case.cell.activation;
        // mse_all as written (½, summed) reads its targets here, step by step, with no copy of
        // the states; any other head gives its ∂ℓ/∂h_t all at once.
        let targets = match &case.head {
            Head::MseAll {
                targets,
                reduction: Reduction::Sum,
                half: true,
            } => Some(targets),
            _ => None,
        };
        let mut direct = Vec::new();
        // dh_T = ∂ℓ/∂h_T.
        match (targets, &case.head) {
            (Some(y), _) => {
                let h_last = &self.hs[steps * bs * h..];
                head_term(&mut self.dh, h_last, &y[steps - 1], false);
                self.out.totals.truncate(H0 + 1);
            }
            // L = Σ h_T: ∂ℓ/∂h_T is all ones.
            (None, Head::SumLast) => {
                self.dh.fill(T::one());
                self.out.totals.truncate(H0 + 1);
            }
            (None, _) => {
                // Bptt::run checked the head first.
                let head = case.head.grads_of(&self.states_read(&case.head));
                direct = head.dl_dh;
                let last = direct.pop().expect("invariant: a head gives ∂ℓ/∂h_T");
                self.dh.copy_from_slice(last.as_slice());
                self.out.totals.truncate(H0 + 1);
                self.out.totals.extend(head.params);
            }
        }
        w_x.transpose_into(&mut self.w_x_t);
        w_h.transpose_into(&mut self.w_h_t);
        let out = &mut self.out;
        for (_, m) in &mut out.totals[..H0] {
            m.as_mut_slice().fill(T::zero());
        }
        let [(_, dw_x), (_, dw_h), (_, db), ..] = &mut out.totals[..] else {
            unreachable!("invariant: the totals start with W_x, W_h, b")
        };
        for t in (1..=steps).rev() {
            let t0 = (t - 1) / CHUNK * CHUNK + 1;
            let slot = (t - t0) * bs * h;
            let h_t = &self.hs[t * bs * h..(t + 1) * bs * h];
            // da_t = dh_t ⊙ φ'(a_t), φ' written in terms of h_t.
            let da_t = &mut self.das[slot..slot + bs * h];
            phi.backward_in_place(&self.dh, h_t, da_t);
            let da = View::row_major(&self.das[slot..], bs, h);
            // dx_t = da_t · W_xᵀ.
            let dx_t = out.steps[t - 1][0].1.as_mut_slice();
            kernel::matmul_into(da, self.w_x_t.view(), dx_t, false);
            // dW_x += Xᵀ · dA, dW_h += H_prevᵀ · dA over the chunk's steps, once the chunk is
            // complete; db += Σ_batch da_t.
            if t == t0 {
                let len = (t0 + CHUNK - 1).min(steps) - t0 + 1;
                let das = View::row_major(&self.das, len * bs, h);
                let xs = View::row_major(&self.xs[(t - 1) * bs * f..], len * bs, f);
                kernel::matmul_into(xs.t(), das, dw_x.as_mut_slice(), true);
                let h_prevs = View::row_major(&self.hs[(t - 1) * bs * h..], len * bs, h);
                kernel::matmul_into(h_prevs.t(), das, dw_h.as_mut_slice(), true);
            }
            kernel::wide(|| {
                for row in self.das[slot..slot + bs * h].chunks_exact(h) {
                    for (s, &v) in db.as_mut_slice().iter_mut().zip(row) {
                        *s += v;
                    }
                }
            });
            // dh_(t-1) = da_t · W_hᵀ + ∂ℓ/∂h_(t-1).
            kernel::matmul_into(da, self.w_h_t.view(), &mut self.dh, false);
            if let (Some(y), true) = (targets, t >= 2) {
                head_term(
                    &mut self.dh,
                    &self.hs[(t - 1) * bs * h..t * bs * h],
                    &y[t - 2],
                    true,
                );
            }
            // A head reading every state gave ∂ℓ/∂h_1 … ∂ℓ/∂h_(T-1) in `direct` (none else).
            if let Some(d) = t.checked_sub(2).and_then(|i| direct.get(i)) {
                for (dh, &v) in self.dh.iter_mut().zip(d.as_slice()) {
                    *dh += v;
                }
            }
        }
        self.out.totals[H0]
            .1
            .as_mut_slice()
            .copy_from_slice(&self.dh);
    }
}

/// `dh ← h_t − y_t` (or `dh += h_t − y_t` when `add`): the `mse_all` head's direct gradient.
fn head_term<T: Scalar>(dh: &mut [T], h_t: &[T], y_t: &Matrix<T>, add: bool) {
    for ((dh, &h), &y) in dh.iter_mut().zip(h_t).zip(y_t.as_slice()) {
        *dh = if add { *dh + (h - y) } else { h - y };
    }
}

/// Hand BPTT's `dx_t` and totals for one case, with a workspace made for it (see [`Bptt`]).
pub fn bptt_totals<T: Scalar>(case: &Case<T>) -> Result<Gradients<T>> {
    Bptt::new(case.dims()).run(case).cloned()
}

/// The same by the tape: the forward pass recorded with one fused node per step
/// ([`Rnn::record_fused`]), the head on top, and one backward sweep that keeps the gradients of
/// the leaves ([`crate::tape::Var::backward_leaves`]).
pub fn tape_totals<T: Scalar>(case: &Case<T>) -> Result<Gradients<T>> {
    // W_x, W_h, b, h_0, then x_t and the step for each t, then the head's few nodes.
    let tape = Tape::with_capacity(2 * case.x.len() + 16);
    let rec = case
        .cell
        .record_fused(&tape, &case.params, &case.x, case.h0())?;
    let head = case.head.on_tape(&rec.h)?;
    let mut grads = head.loss.backward_leaves();
    let steps = rec.x.iter().map(|&x| vec![(DX, grads.take(x))]).collect();
    let mut totals = Vec::with_capacity(Rnn::PARAMS.len() + 1 + head.params.len());
    for (p, &w) in Rnn::PARAMS.iter().zip(&rec.params) {
        totals.push((p.key, grads.take(w)));
    }
    totals.push(("h0", grads.take(rec.h[0])));
    totals.extend(head.params.iter().map(|&(key, w)| (key, grads.take(w))));
    Ok(Gradients {
        loss: head.loss.value()[(0, 0)],
        steps,
        totals,
    })
}

/// Memory per time step, in bytes: what the tape keeps, against what BPTT must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepMemory {
    /// The values one step adds to the tape of [`tape_totals`] (`x_t` and `h_t`).
    pub fused_tape: usize,
    /// The values one step adds to the tape of [`crate::case::Case::tape_gradients`] (the
    /// teaching recording: `x_t`, three weight aliases, two products, a sum, `a_t`, `h_t`).
    pub teaching_tape: usize,
    /// What any backward pass must keep of a step: its activations `h_t`, `B·H` numbers.
    pub activations: usize,
}

/// Measures [`StepMemory`] on `case` by adding up the sizes of the values each recording puts
/// on its tape, from `x_1` on, divided by the number of steps.
pub fn step_memory<T: Scalar>(case: &Case<T>) -> Result<StepMemory> {
    let bytes_from = |tape: &Tape<T>, first: usize| -> usize {
        let nodes = tape.nodes();
        nodes[first..]
            .iter()
            .map(|n| n.value.len() * std::mem::size_of::<T>())
            .sum()
    };
    let steps = case.x.len();
    let fused = Tape::new();
    let rec = case
        .cell
        .record_fused(&fused, &case.params, &case.x, case.h0())?;
    let fused_tape = bytes_from(&fused, rec.x[0].id().0) / steps;
    let teaching = Tape::new();
    let rec = sequence::record(
        &case.cell,
        &teaching,
        &case.params,
        &case.x,
        &case.initial,
        Keep::Every,
    )?;
    let teaching_tape = bytes_from(&teaching, rec.x[0].id().0) / steps;
    let dims = case.dims();
    Ok(StepMemory {
        fused_tape,
        teaching_tape,
        activations: dims.batch * dims.hidden * std::mem::size_of::<T>(),
    })
}
