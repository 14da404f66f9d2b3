//! What a computation will cost before it runs: its work in multiply-adds and its peak memory
//! in bytes, from the case's sizes alone. The command line consults it on every path and
//! refuses what would run for hours or take more memory than a laptop should give, naming both
//! figures and a command that fits.
//!
//! Memory is counted from what each computation keeps at once: the forward passes a check
//! reruns from (in `f64`, double-double, dual numbers and round-off bounds), the tape with its
//! gradients, and the per-step records that are kept. Every matrix also costs its header and
//! the allocator's bookkeeping, which is most of the memory of a long sequence of one hidden
//! unit. `tests/memory.rs` holds the estimates to what an allocator that counts measures.

use crate::bound::Bound;
use crate::case::Case;
use crate::cell::{Cell, Site, quantities};
use crate::check::{Mode, PARTS};
use crate::double_double::DoubleDouble;
use crate::dual::Dual;
use crate::forward::Lanes;
use crate::gradients::Keep;
use crate::kernel;
use crate::scalar::Scalar;
use crate::sequence;
use crate::sites::{total_value, totals};
use crate::tape::{Node, Tape};
use std::mem::size_of;

/// The real evaluations of the loss finite differences take per entry (or per direction) at
/// least: `L(θ ± h)` at the first two steps of their sweep ([`crate::fd::Sweep`]). Estimates
/// that walk take more: 8.2 on average over the directional check of a random `B=32 T=64
/// F=32 H=128` case, whose early steps' gradients vanished, so the cost model is a floor.
pub const FD_EVALUATIONS: f64 = 4.0;

/// What forward mode's one dual-number evaluation per entry (or per direction) costs, in real
/// evaluations: each product of dual matrices is three real ones, and the rest of the step
/// carries two numbers for one; measured at about five on `B=32 T=64 F=32 H=128`.
pub const FORWARD_EVALUATIONS: f64 = 5.0;

/// Roughly how many multiply-adds a check of `steps` chosen steps of `case` costs, to refuse
/// one that would run for hours. Every finite-difference evaluation reruns the sequence (the
/// steps before the perturbation are copied, those after it recomputed): about `T` steps of
/// `B` times the parameters' entries multiply-adds (`B·H·(F + H + 1)` for the RNN), plus a
/// fixed cost per step for its small allocations. Each quantity takes [`FD_EVALUATIONS`] real
/// evaluations and one in dual numbers ([`FORWARD_EVALUATIONS`] real ones' time): per entry in
/// exhaustive mode, in all in directional mode. An entry of a value that moves one row of the
/// batch (a state, an internal value, an input) costs less in exhaustive mode, because its
/// finite differences rerun that row alone and its dual rerun carries the rest of its column
/// ([`crate::check::check_steps`]); the estimate keeps the whole batch's cost for it, so that it
/// stays an upper bound and the cases the command line runs unasked stay those it ran before.
pub fn check_work<T: Scalar, C: Cell>(case: &Case<T, C>, mode: Mode, steps: usize) -> f64 {
    let per_probe = FD_EVALUATIONS + FORWARD_EVALUATIONS;
    let evaluations = |entries: usize| match mode {
        Mode::Exhaustive => per_probe * entries as f64,
        Mode::Directional { .. } => per_probe,
    };
    let d = case.dims();
    let per_step: f64 = quantities::<C>()
        .iter()
        .map(|q| {
            evaluations(match q.site {
                Site::State(_) => d.batch * d.hidden,
                Site::Internal(i) => d.batch * C::INTERNALS[i].cols.size(d.features, d.hidden),
                Site::Input => d.batch * d.features,
                Site::Param(i) => case.params[i].len(),
            })
        })
        .sum();
    let all: f64 = totals(case)
        .iter()
        .map(|t| evaluations(total_value(case, t.of).len()))
        .sum();
    let batch = d.batch as f64;
    let step_work: f64 = batch * case.params.iter().map(|p| p.len() as f64).sum::<f64>();
    const PER_STEP_OVERHEAD: f64 = 64.0;
    (steps as f64 * per_step + all) * case.x.len() as f64 * (step_work + PER_STEP_OVERHEAD)
}

/// What a matrix costs beyond its entries: its header (a `Vec` and its shape, 40 bytes) and
/// the allocator's bookkeeping of its entries (16 bytes, in chunks of 16).
const MATRIX_OVERHEAD: usize = 64;

/// The bytes of `entries` numbers of `size` bytes in `matrices` matrices.
fn bytes(entries: usize, size: usize, matrices: usize) -> f64 {
    (entries * size + matrices * MATRIX_OVERHEAD) as f64
}

/// The entries of one step's quantities ([`crate::cell::quantities`]), and how many there are.
fn step_quantities<T: Scalar, C: Cell>(case: &Case<T, C>) -> (usize, usize) {
    let d = case.dims();
    let qs = quantities::<C>();
    let entries = qs
        .iter()
        .map(|q| match q.site {
            Site::State(_) => d.batch * d.hidden,
            Site::Internal(i) => d.batch * C::INTERNALS[i].cols.size(d.features, d.hidden),
            Site::Input => d.batch * d.features,
            Site::Param(i) => case.params[i].len(),
        })
        .sum();
    (entries, qs.len())
}

/// The memory of one forward pass of `case` in numbers of `size` bytes: every state and
/// internal value of every step; with `inputs`, a copy of the case's inputs in those numbers;
/// with `projected`, the projected inputs a [`crate::sites`] context keeps for its reruns.
fn sequence_bytes<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    size: usize,
    inputs: bool,
    projected: bool,
) -> f64 {
    let d = case.dims();
    let mut widths: Vec<usize> = Vec::new();
    widths.extend(C::STATES.iter().map(|_| d.hidden));
    widths.extend(
        C::INTERNALS
            .iter()
            .map(|v| v.cols.size(d.features, d.hidden)),
    );
    if inputs {
        widths.push(d.features);
    }
    if projected {
        widths.push(C::PARAMS[0].shape(d.features, d.hidden).1);
    }
    let per_step = bytes(widths.iter().sum::<usize>() * d.batch, size, widths.len());
    per_step * d.steps as f64
}

/// The memory of the tape that records `case` in `f64` with `untied` steps given their own
/// copies of the parameters, and of its backward sweep's gradient of every node. The nodes of
/// one step are counted by recording one step.
fn tape_bytes<T: Scalar, C: Cell>(case: &Case<T, C>, untied: usize) -> f64 {
    let tape = Tape::<f64>::new();
    let p: Vec<_> = case.params.iter().map(|m| m.cast::<f64>()).collect();
    let x = [case.x[0].cast::<f64>()];
    let initial: Vec<_> = case.initial.iter().map(|m| m.cast::<f64>()).collect();
    let leaves = p.len() + initial.len();
    if sequence::record(&case.cell, &tape, &p, &x, &initial, Keep::Steps(&[])).is_err() {
        return 0.0;
    }
    let nodes = tape.nodes();
    let step = &nodes[leaves..];
    // A node: its value, its gradient (both matrices), its parents, its name and its place in
    // the tape's vector, which grows by doubling: while it copies itself into twice the room,
    // it holds both, up to three times what it holds.
    let node = 3 * size_of::<Node<f64>>() + 2 * MATRIX_OVERHEAD + 2 * 32;
    let entries: usize = step.iter().map(|n| n.value.len()).sum();
    let per_step = 2.0 * (entries * size_of::<f64>()) as f64 + (step.len() * node) as f64;
    let params: usize = case.params.iter().map(|m| m.len()).sum();
    let copies = 2.0 * bytes(params, size_of::<f64>(), 0) + (case.params.len() * node) as f64;
    per_step * case.x.len() as f64 + copies * untied as f64
}

/// Roughly the peak memory, in bytes, of a check of `steps` chosen steps of `case`
/// ([`crate::check::check_steps`] after [`Case::bptt_keeping`]), beyond the case itself: first
/// the tape of the whole sequence, then the forward passes the finite differences and forward
/// mode rerun from (in the case's numbers, in double-double and in dual numbers, each with its
/// projected inputs, and once more in round-off bounds), exhaustive mode's stacked copies of
/// the batch, and the chosen steps' quantities by hand, by the tape, their round-off scales
/// and what the comparisons keep.
pub fn check_memory<C: Cell>(case: &Case<f64, C>, mode: Mode, steps: usize) -> f64 {
    let d = case.dims();
    let tape = tape_bytes(case, steps);
    let reruns = sequence_bytes(case, size_of::<f64>(), false, true)
        + sequence_bytes(case, size_of::<DoubleDouble>(), true, true)
        + sequence_bytes(case, size_of::<Dual<f64>>(), true, true)
        + sequence_bytes(case, size_of::<Bound<f64>>(), true, false);
    let dual: Case<Dual<f64>, C> = case.cast();
    let stacked = match mode {
        Mode::Exhaustive if steps > 0 => Lanes::count(&dual),
        _ => 1,
    };
    // The copies, and a fifth more for the steps each stacked rerun makes along the way, or
    // (in a short sequence) at least four stacked steps: the state a rerun starts from, the
    // values it computes, and the seeded copies of a weight's step. The check's parts rerun at
    // once, each with its own.
    let lanes = match stacked {
        1 => 0.0,
        count => {
            let copies = (count * Lanes::copy_bytes(&dual)) as f64;
            let rerun = (0.25 * copies).max(4.0 * copies / case.x.len() as f64);
            copies + PARTS as f64 * rerun
        }
    };
    // A head that reads every state (`mse_all`) has each rerun keep the states it recomputes
    // (in dual numbers at the most, and their gradients), and the round-off bounds' BPTT its
    // gradient of every state.
    let head = if case.head.reads_every_state() {
        let states = bytes(d.batch * d.hidden, size_of::<Dual<f64>>(), 1) * d.steps as f64;
        3.0 * states
    } else {
        0.0
    };
    let (entries, matrices) = step_quantities(case);
    let kept = 4.0 * bytes(entries, size_of::<f64>(), matrices) * steps as f64;
    // Exhaustive mode's finite differences rerun one row of the batch where they can, each
    // row a case of its own: a copy of the parameters, and the row's forward pass, inputs and
    // projected inputs.
    let rows = match mode {
        Mode::Exhaustive if d.batch > 1 => {
            let params = case.params.iter().map(|p| p.len()).sum::<usize>();
            let copy = bytes(params, size_of::<f64>(), case.params.len());
            let (row, _) = case.row(0);
            d.batch as f64 * (copy + sequence_bytes(&row, size_of::<f64>(), true, true))
        }
        _ => 0.0,
    };
    // Each part runs on a thread of its own (the first on the caller's), whose products get
    // their own packing buffers.
    let threads = PARTS as f64 * workspace(case, stacked * d.batch);
    (tape + workspace(case, d.batch)).max(reruns + lanes + head + threads + rows) + kept
}

/// The packing buffer the product kernel keeps on a thread that multiplies
/// ([`kernel::thread_workspace_bytes`]), counted once per thread as a command's own process
/// sees it: allocated at the thread's first product larger than [`kernel::KERNEL_MIN_WORK`].
/// A pass's largest product is `rows` rows (the batch, or exhaustive mode's stacked copies of
/// it) times its largest weight. The buffer is the size of a core's L2 cache, so it is most of
/// a small case's estimate on a machine with a large one (2 MiB here).
fn workspace<C: Cell>(case: &Case<f64, C>, rows: usize) -> f64 {
    let largest = case.params.iter().map(|p| p.len()).max().unwrap_or(0);
    if rows * largest > kernel::KERNEL_MIN_WORK {
        kernel::thread_workspace_bytes() as f64
    } else {
        0.0
    }
}

/// Roughly the peak memory, in bytes, of every gradient of `case` with every step's quantities
/// kept, beyond the case itself: by hand BPTT ([`Case::bptt`]), the forward pass and the
/// records; with `tape`, the tape's ([`Case::tape_gradients`]), the tape and the records; and
/// the product kernel's packing buffer.
pub fn gradients_memory<C: Cell>(case: &Case<f64, C>, tape: bool) -> f64 {
    let steps = case.x.len();
    let (entries, matrices) = step_quantities(case);
    let records = bytes(entries, size_of::<f64>(), matrices) * steps as f64;
    let computing = if tape {
        tape_bytes(case, steps)
    } else {
        sequence_bytes(case, size_of::<f64>(), false, false)
    };
    computing + records + workspace(case, case.dims().batch)
}

/// Roughly the memory, in bytes, of `case`'s forward pass ([`Case::forward`]): every state and
/// internal value of every step, and the product kernel's packing buffer.
pub fn forward_memory<C: Cell>(case: &Case<f64, C>) -> f64 {
    sequence_bytes(case, size_of::<f64>(), false, false) + workspace(case, case.dims().batch)
}
