//! Forward mode: every gradient of a case, exactly, by dual numbers run through the cell's own
//! forward code.
//!
//! The gradient of `L` with respect to one entry of the value at a site (`h_t`, `a_t`, `x_t`,
//! step t's copy of a weight, or a whole weight) is the tangent of `L` when that entry carries
//! the tangent 1 and everything else 0:
//!
//! ```text
//! ∂L/∂v_ij = tangent of L(v + e_ij·ε),   ε² = 0
//! ```
//!
//! `sites::loss_at` reruns the steps after the site, as finite differences do, but in
//! [`Dual`] numbers, so the answer has no step size, no truncation error and no cancellation:
//! it is exact up to the rounding of the forward pass itself, like the two backward passes. It
//! is a fourth method, independent of both: it reads no backward equation and no tape.
//!
//! One entry per rerun would make every product of a rerun a thin one (a single row when the
//! batch is one sequence). Tangents are linear and a step treats the rows of its batch
//! independently, so the check reruns several entries at once: it stacks copies of the batch
//! one under the other, copy k carrying entry k's tangent, and takes each copy's loss on its
//! own rows. The products of a rerun become `(copies·batch) × hidden` by `hidden × hidden`,
//! and `entries`, one entry per rerun, stays beside it as the reference a test holds it to.

use crate::case::Case;
use crate::cell::{Cell, Site};
use crate::dual::Dual;
use crate::error::Result;
use crate::gradients::Gradients;
use crate::loss::Head;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sequence::{self, Forward};
use crate::sites::{At, Context, every_site, loss_at, point_at, recompute, restart};
use std::borrow::Cow;

/// Every gradient of `case` by forward mode: each per-step quantity and each total, entry by
/// entry, by dual-number reruns of the steps after its site, several entries a rerun.
pub fn forward_gradients<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<Gradients<T>> {
    let dual: Case<Dual<T>, C> = case.cast();
    let fwd = dual.forward()?;
    let ctx = Context::new(&dual, &fwd);
    let lanes = Lanes::new(&dual);
    let loss = dual.head.loss(fwd.states())?.value;
    Ok(every_site(&ctx, loss, |at, point| {
        lanes.entries(&ctx, at, point)
    }))
}

/// The gradient at the site `at`, whose value is `point`, entry by entry: one dual-number
/// rerun per entry, that entry alone carrying the tangent 1.
pub(crate) fn entries<'a, T: Scalar, C: Cell>(
    ctx: &Context<'a, Dual<T>, C>,
    at: At,
    point: &'a Matrix<Dual<T>>,
) -> Matrix<T> {
    let mut seeded = point.clone();
    Matrix::from_fn(point.rows(), point.cols(), |i, j| {
        seeded[(i, j)].tangent = T::one();
        let along = loss_at(ctx, at, &seeded).tangent;
        seeded[(i, j)].tangent = T::zero();
        along
    })
}

/// The rows a stacked rerun aims at: enough that its products are matrix products rather than
/// a row or two at a time, few enough that the stacked copy of the forward pass stays small.
/// Measured (release, medians of interleaved runs): 64 and 256 rows were both slower than 128.
const STACKED_ROWS: usize = 128;

/// A batch this wide already makes a rerun's products matrix products: stacking it (into 64
/// rows) measured within the noise at 16 rows (0.66 s stacked against 0.69 s not) and slower
/// at 32 (4.6 against 4.1 s).
const WIDE_BATCH: usize = 16;

/// The most memory the stacked copies may take: a long sequence of a narrow batch would
/// otherwise hold 128 copies of its whole forward pass (a million steps of one hidden unit:
/// 6 GB), to speed up reruns that a case that long cannot afford many of anyway.
pub(crate) const STACKED_BYTES: usize = 64 << 20;

/// A stacked case and its forward pass.
type Stacked<T, C> = (Case<Dual<T>, C>, Forward<Dual<T>>);

/// A dual-number case with its batch stacked `lanes` times, for reruns that carry one
/// entry's tangent in each copy: `∂L/∂v_e` for `lanes` entries `e` at once.
pub(crate) struct Lanes<T: Scalar, C> {
    /// The case with `lanes` copies of `x_t` and of the initial state, one under the other,
    /// and its forward pass (copies of the original's); none for one copy. Its head is the
    /// original one, for `lanes` copies' losses taken one copy at a time: it is never applied
    /// to the stacked states.
    stacked: Option<Stacked<T, C>>,
    /// Copies of the batch.
    lanes: usize,
    /// Rows of one copy: the case's batch.
    batch: usize,
    /// Each row's head and the weight of its loss in the case's ([`Case::row`]).
    rows: Vec<(Head<Dual<T>>, Dual<T>)>,
}

impl<T: Scalar, C: Cell> Lanes<T, C> {
    /// `STACKED_ROWS / batch` copies of `case`'s batch, as many as fit in [`STACKED_BYTES`], or
    /// one copy of a wide batch.
    pub(crate) fn new(case: &Case<Dual<T>, C>) -> Self {
        let batch = case.initial[0].rows();
        let lanes = Self::count(case);
        let tile = |ms: &[Matrix<Dual<T>>]| ms.iter().map(|m| m.tile_rows(lanes)).collect();
        let stacked = (lanes > 1).then(|| {
            let stacked = Case {
                cell: case.cell.clone(),
                params: case.params.clone(),
                x: tile(&case.x),
                initial: tile(&case.initial),
                head: case.head.clone(),
            };
            let fwd = sequence::forward(
                &stacked.cell,
                &stacked.param_refs(),
                &stacked.x,
                &stacked.initial,
            );
            (stacked, fwd)
        });
        Lanes {
            stacked,
            lanes,
            batch,
            rows: Self::row_heads(case),
        }
    }

    /// Each row's head, for [`Lanes::by_columns`].
    fn row_heads(case: &Case<Dual<T>, C>) -> Vec<(Head<Dual<T>>, Dual<T>)> {
        let batch = case.initial[0].rows();
        (0..batch).map(|i| case.head.row(i, batch)).collect()
    }

    /// One copy of `case`'s batch: reruns one entry at a time, with nothing stacked.
    pub(crate) fn unstacked(case: &Case<Dual<T>, C>) -> Self {
        Lanes {
            stacked: None,
            lanes: 1,
            batch: case.initial[0].rows(),
            rows: Self::row_heads(case),
        }
    }

    /// How many copies of `case`'s batch [`Lanes::new`] stacks.
    pub(crate) fn count(case: &Case<Dual<T>, C>) -> usize {
        let batch = case.initial[0].rows();
        if batch >= WIDE_BATCH {
            return 1;
        }
        (STACKED_ROWS / batch).min(STACKED_BYTES / Self::copy_bytes(case).max(1))
    }

    /// The memory of one copy of `case`'s batch in a stacked case: its inputs, its forward
    /// pass and the projected inputs each stacked rerun computes.
    pub(crate) fn copy_bytes(case: &Case<Dual<T>, C>) -> usize {
        let d = case.dims();
        let widths: usize = (C::STATES.iter().map(|_| d.hidden))
            .chain(
                C::INTERNALS
                    .iter()
                    .map(|v| v.cols.size(d.features, d.hidden)),
            )
            .sum();
        let projected = C::PARAMS[0].shape(d.features, d.hidden).1;
        d.steps * d.batch * (d.features + widths + projected) * std::mem::size_of::<Dual<T>>()
    }

    /// The gradient at the site `at` of `ctx`'s case, whose value is `point`: the same numbers
    /// as [`entries`], `lanes` entries a rerun. A total (a whole weight, an initial state, a
    /// head parameter) is taken entry by entry: its perturbation reaches every copy alike.
    pub(crate) fn entries<'a>(
        &self,
        ctx: &Context<'a, Dual<T>, C>,
        at: At,
        point: &'a Matrix<Dual<T>>,
    ) -> Matrix<T> {
        let one_row = matches!(
            at,
            At::Step(_, Site::State(_) | Site::Internal(_) | Site::Input)
        );
        if one_row && self.batch > 1 {
            return self.by_columns(ctx, at, point);
        }
        let (At::Step(t, _), Some((stacked, fwd))) = (at, &self.stacked) else {
            return entries(ctx, at, point);
        };
        let steps = stacked.x.len();
        let stacked = Context::new(stacked, fwd);
        let n = point.len();
        let mut gradient = Vec::with_capacity(n);
        for first in (0..n).step_by(self.lanes) {
            let chunk = first..(first + self.lanes).min(n);
            let ending = match at {
                // Step t's copy of a weight is shared by the rows: each copy's step t is taken
                // on its own, and the steps after it on the stacked states.
                At::Step(_, Site::Param(_)) => {
                    let after_t = self.each_lane_step(ctx, at, point, chunk.clone());
                    let start = after_t.into_iter().map(Cow::Owned).collect();
                    // The steps after t read the case's own weight: the stacked context's.
                    let own = point_at(&stacked, at);
                    recompute(&stacked, at, own, start, t + 1..=steps)
                }
                _ => {
                    let seeded = self.seeded(point, chunk.clone());
                    let (start, from) = restart(&stacked, at, &seeded);
                    recompute(&stacked, at, &seeded, start, from..=steps)
                }
            };
            let states = ending.head_states();
            for lane in 0..chunk.len() {
                let own: Vec<Matrix<Dual<T>>> = states
                    .iter()
                    .map(|h| h.row_block(lane * self.batch, self.batch))
                    .collect();
                gradient.push(ctx.case().head.loss_of(&own).tangent);
            }
        }
        Matrix::new(point.rows(), point.cols(), gradient)
            .expect("invariant: one tangent per entry of the site")
    }

    /// [`Lanes::entries`] of a value that moves one row of the batch per entry (a state, an
    /// internal value, an input): one rerun carries a whole column's entries, the tangent 1 at
    /// `(i, j)` in every row `i`, and each row's own loss gives its entry, because the rows of a
    /// batch do not meet until the head sums them. Each copy of the batch takes a column of its
    /// own: `lanes` columns a rerun.
    fn by_columns<'a>(
        &self,
        ctx: &Context<'a, Dual<T>, C>,
        at: At,
        point: &'a Matrix<Dual<T>>,
    ) -> Matrix<T> {
        let stacked = self
            .stacked
            .as_ref()
            .map(|(case, fwd)| Context::new(case, fwd));
        let (rerun, lanes) = match &stacked {
            Some(stacked) => (stacked, self.lanes),
            None => (ctx, 1),
        };
        let (cols, steps) = (point.cols(), ctx.case().x.len());
        let mut gradient = vec![T::zero(); point.len()];
        for first in (0..cols).step_by(lanes) {
            let chunk = first..(first + lanes).min(cols);
            let mut seeded = point.tile_rows(lanes);
            for (lane, j) in chunk.clone().enumerate() {
                for i in 0..self.batch {
                    seeded[(lane * self.batch + i, j)].tangent = T::one();
                }
            }
            let (start, from) = restart(rerun, at, &seeded);
            let states = recompute(rerun, at, &seeded, start, from..=steps).head_states();
            for (lane, j) in chunk.enumerate() {
                for (i, (head, weight)) in self.rows.iter().enumerate() {
                    let own: Vec<Matrix<Dual<T>>> = states
                        .iter()
                        .map(|h| h.row_block(lane * self.batch + i, 1))
                        .collect();
                    gradient[i * cols + j] = (*weight * head.loss_of(&own)).tangent;
                }
            }
        }
        Matrix::new(point.rows(), point.cols(), gradient)
            .expect("invariant: one tangent per entry of the site")
    }

    /// `point` (rows of one copy of the batch) stacked `lanes` times, copy k carrying the
    /// tangent 1 at entry `chunk.start + k`.
    fn seeded(&self, point: &Matrix<Dual<T>>, chunk: std::ops::Range<usize>) -> Matrix<Dual<T>> {
        let mut seeded = point.tile_rows(self.lanes);
        for (lane, e) in chunk.enumerate() {
            let (i, j) = (e / point.cols(), e % point.cols());
            seeded[(lane * self.batch + i, j)].tangent = T::one();
        }
        seeded
    }

    /// The state after step t of each copy, stacked, where `at` is step t's copy of a weight
    /// and copy k carries the tangent at entry `chunk.start + k` of it; copies past the chunk
    /// keep the forward pass's state.
    fn each_lane_step<'a>(
        &self,
        ctx: &Context<'a, Dual<T>, C>,
        at: At,
        point: &'a Matrix<Dual<T>>,
        chunk: std::ops::Range<usize>,
    ) -> Vec<Matrix<Dual<T>>> {
        let At::Step(t, _) = at else {
            unreachable!("invariant: a weight's copy lives at a step")
        };
        let mut lanes: Vec<Vec<Matrix<Dual<T>>>> = Vec::with_capacity(self.lanes);
        for e in chunk.clone() {
            let mut seeded = point.clone();
            seeded.as_mut_slice()[e].tangent = T::one();
            let (start, _) = restart(ctx, at, &seeded);
            lanes.push(recompute(ctx, at, &seeded, start, t..=t).state);
        }
        let unchanged: Vec<Matrix<Dual<T>>> =
            ctx.forward().state_at(t).into_iter().cloned().collect();
        lanes.resize(self.lanes, unchanged);
        (0..C::STATES.len())
            .map(|part| {
                let blocks: Vec<Matrix<Dual<T>>> =
                    lanes.iter().map(|lane| lane[part].clone()).collect();
                Matrix::stack_rows(&blocks, blocks[0].cols())
            })
            .collect()
    }
}

/// The directional derivative `⟨∇L, v⟩` at the site `at`, whose value is `point`: one
/// dual-number rerun, the tangents being `v`.
pub(crate) fn along<'a, T: Scalar, C: Cell>(
    ctx: &Context<'a, Dual<T>, C>,
    at: At,
    point: &'a Matrix<Dual<T>>,
    v: &Matrix<T>,
) -> T {
    let seeded = point
        .zip_map(&v.cast(), "forward::along", |p, d| {
            Dual::new(p.value, d.value)
        })
        .expect("invariant: a direction has the shape of its site");
    loss_at(ctx, at, &seeded).tangent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::case::{Dims, HeadKind};
    use crate::cells::Rnn;
    use crate::fd::relative_error;

    /// Stacked reruns give the numbers of one rerun per entry, at every site: for every head
    /// (`mse_all` reads every state), a batch of one (128 copies, each site a partial chunk),
    /// of five (25 copies: `W_h`, 16 entries, one partial chunk; `W_x`, 8; the states' columns
    /// in one chunk) and of seventeen (one copy, a column a rerun).
    #[test]
    fn stacked_reruns_agree_with_one_rerun_per_entry() {
        let mut seed = 40;
        for head in HeadKind::all(3) {
            for batch in [1, 5, 17] {
                seed += 1;
                let dims = Dims {
                    batch,
                    steps: 3,
                    features: 2,
                    hidden: 4,
                };
                let case = Case::<f64>::random(seed, dims, head, Rnn::new(Activation::Tanh));
                let dual: Case<Dual<f64>, Rnn> = case.cast();
                let fwd = dual.forward().unwrap();
                let ctx = Context::new(&dual, &fwd);
                let lanes = Lanes::new(&dual);
                let copies = if batch < WIDE_BATCH {
                    STACKED_ROWS / batch
                } else {
                    1
                };
                assert_eq!(lanes.lanes, copies);
                let by_lanes = every_site(&ctx, 0.0, |at, point| lanes.entries(&ctx, at, point));
                let one_by_one = every_site(&ctx, 0.0, |at, point| entries(&ctx, at, point));
                for t in 1..=dims.steps {
                    for (name, m) in one_by_one.step(t) {
                        let stacked = by_lanes.get(t, name).unwrap();
                        assert!(
                            // The stacked products are tall enough for the packed kernel,
                            // which sums in another order than a one-row product's loop:
                            // the hand–tape tolerance, as for any two exact methods.
                            relative_error(stacked, m) <= 1e-12,
                            "{head:?}, batch {batch}: {name} at t = {t}: {:?} against {:?}, {:e}",
                            stacked.as_slice(),
                            m.as_slice(),
                            relative_error(stacked, m)
                        );
                        assert!(
                            m.max_abs() > 0.0,
                            "{head:?}: {name} at t = {t} is all zeros"
                        );
                    }
                }
            }
        }
    }
}
