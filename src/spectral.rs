//! How far one backward step can stretch a gradient: the largest singular value of the
//! recurrent weights, and orthogonal matrices, whose singular values are all 1.
//!
//! Backward through one RNN step, `dh_(t-1) = (dh_t ⊙ φ'(a_t))·W_hᵀ`, so
//! `‖dh_(t-1)‖ ≤ γ · σ_max(W_h) · ‖dh_t‖` with `γ = max φ'`: chapter 7 measures gradients
//! vanishing below `σ_max(W_h) = 1/γ` and exploding above it.

use crate::error::{Error, Result};
use crate::fd::rng;
use crate::init;
use crate::matrix::Matrix;
use rand::rngs::ChaCha8Rng;

/// Iterations of the power method.
const POWER_ITERATIONS: usize = 500;

/// The largest singular value `σ_max(W) = √λ_max(WᵀW)`, by power iteration on `WᵀW`:
///
/// ```text
/// v ← WᵀW·v / ‖WᵀW·v‖   (500 times, from a fixed N(0, 1) vector of ChaCha8 seed 0)
/// σ_max ≈ ‖W·v‖
/// ```
///
/// `WᵀW` is symmetric and positive semi-definite, so the iteration turns `v` towards its top
/// eigenvector, whose eigenvalue is `σ_max²`. (A start orthogonal to that eigenvector would
/// stall; a random start is one with probability 1.)
pub fn largest_singular_value(w: &Matrix<f64>) -> Result<f64> {
    let n = w.cols();
    if n == 0 || w.rows() == 0 {
        return Err(Error::bad_shape(
            "largest_singular_value",
            "a non-empty matrix",
            "0 rows or columns",
        ));
    }
    let wtw = w.transpose().matmul(w)?;
    let mut v = init::normal(&mut rng(0), n, 1, 1.0);
    v = v.scale(1.0 / v.norm());
    for _ in 0..POWER_ITERATIONS {
        let next = wtw.matmul(&v)?;
        let norm = next.norm();
        if norm == 0.0 {
            return Ok(0.0);
        }
        v = next.scale(1.0 / norm);
    }
    Ok(w.matmul(&v)?.norm())
}

/// A random orthogonal `n × n` matrix: Gram–Schmidt on standard normal columns. Every
/// eigenvalue and every singular value of `ρ·Q` has magnitude `ρ`, so scaling it sets the
/// spectral radius and the largest singular value at once.
pub fn orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Matrix<f64> {
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(n);
    while columns.len() < n {
        let mut v: Vec<f64> = init::normal(rng, 1, n, 1.0).as_slice().to_vec();
        for q in &columns {
            let along: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(q) {
                *a -= along * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        // A draw (almost) inside the span of the columns so far is redrawn.
        if norm > 1e-6 {
            columns.push(v.iter().map(|a| a / norm).collect());
        }
    }
    Matrix::from_fn(n, n, |i, j| columns[j][i])
}
