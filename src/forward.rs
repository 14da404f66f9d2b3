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

use crate::case::Case;
use crate::cell::Cell;
use crate::dual::Dual;
use crate::error::Result;
use crate::gradients::Gradients;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sites::{At, Context, every_site, loss_at};

/// Every gradient of `case` by forward mode: each per-step quantity and each total, entry by
/// entry, one dual-number rerun of the steps after its site per entry.
pub fn forward_gradients<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<Gradients<T>> {
    let dual: Case<Dual<T>, C> = case.cast();
    let fwd = dual.forward()?;
    let ctx = Context::new(&dual, &fwd);
    let loss = dual.head.loss(fwd.states())?.value;
    Ok(every_site(&ctx, loss, |at, point| entries(&ctx, at, point)))
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
