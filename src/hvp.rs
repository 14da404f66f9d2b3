//! Hessian-vector products: forward mode over reverse mode.
//!
//! Give the parameters `θ` a tangent `v` ([`Dual`] numbers, `θ + v·ε` with `ε² = 0`) and run the
//! reverse sweep on them: every gradient the sweep computes carries a tangent too, and that
//! tangent is the directional derivative of the gradient along `v`, a Hessian-vector product:
//!
//! ```text
//! H·v = d/dε ∇L(θ + ε·v) |ε=0        (the tangent of ∇L when θ carries the tangent v)
//! ```
//!
//! Nothing new is written for it: the tape, its ops' VJPs and hand BPTT are all generic over
//! the number type, so they run on dual numbers as they are. The cost is one reverse sweep in
//! dual arithmetic (about three real ones), against `n` sweeps for the whole `n × n` Hessian;
//! the product with the per-step quantities comes with it (`d(dh_t)/dε`, …). Hessian-vector
//! products are what Newton-CG, curvature estimates and sharpness measures are built on.

use crate::case::Case;
use crate::cell::Cell;
use crate::dual::Dual;
use crate::error::{Error, Result, shape_str};
use crate::gradients::Gradients;
use crate::matrix::Matrix;
use crate::scalar::Scalar;

/// `H·v` for the direction `v` in the cell's parameters (one matrix per parameter, in the
/// cell's order, `W_x, W_h, b` for the RNN): every gradient of [`Case::tape_gradients`],
/// differentiated along `v`, by the tape run on dual numbers. The totals are `H·v` itself
/// (`∂(∇_θ L)/∂θ · v`, and the same for `h_0` and the head's parameters); each per-step
/// quantity is the derivative of that step's gradient along `v`.
///
/// Refuses a direction with the wrong number of matrices or a matrix of the wrong shape,
/// naming the parameter.
pub fn hessian_vector<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    v: &[Matrix<T>],
) -> Result<Gradients<T>> {
    Ok(tangents(&seeded(case, v)?.tape_gradients()?))
}

/// `case` in dual numbers, its parameters carrying the tangents `v`.
pub fn seeded<T: Scalar, C: Cell>(case: &Case<T, C>, v: &[Matrix<T>]) -> Result<Case<Dual<T>, C>> {
    if v.len() != case.params.len() {
        return Err(Error::bad_shape(
            "direction",
            format!("{} matrices, one per parameter", case.params.len()),
            format!("{}", v.len()),
        ));
    }
    let mut dual: Case<Dual<T>, C> = case.cast();
    for ((param, v), spec) in dual.params.iter_mut().zip(v).zip(C::PARAMS) {
        if param.shape() != v.shape() {
            return Err(Error::bad_shape(
                format!("direction for {}", spec.key),
                shape_str(param.shape()),
                shape_str(v.shape()),
            ));
        }
        for (p, &t) in param.as_mut_slice().iter_mut().zip(v.as_slice()) {
            p.tangent = t;
        }
    }
    Ok(dual)
}

/// The tangent parts of gradients computed in dual numbers (the loss's too: `⟨∇L, v⟩`).
pub fn tangents<T: Scalar>(g: &Gradients<Dual<T>>) -> Gradients<T> {
    g.map(|d| d.tangent)
}
