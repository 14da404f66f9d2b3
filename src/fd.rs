//! Finite differences on any function, and the one way tapegrad compares two gradients.
//!
//! A central difference estimates a directional derivative from two evaluations:
//!
//! ```text
//! ⟨∇f(x), v⟩ ≈ (f(x + εv) − f(x − εv)) / 2ε
//! ```
//!
//! Its error has two sources. Truncation: the Taylor terms it ignores, `ε²·f'''/6`, shrink as `ε`
//! does. Round-off: `f` is only known to about `ε_mach·|f|`, and that error is divided by `2ε`,
//! so it grows as `ε` shrinks. The sum is smallest near `ε = ∛ε_mach` (about 6e-6 for `f64`,
//! 5e-3 for `f32`), which is [`default_step`].
//!
//! Two modes: *exhaustive* ([`fd_gradient`]) perturbs every coordinate, `x ± ε·e_i`, and so
//! estimates the whole gradient; *directional* ([`fd_directional`]) perturbs along one random
//! unit direction `v` ([`random_direction`]) and is compared with `⟨g, v⟩`, as
//! `torch.autograd.gradcheck(fast_mode=True)` does: two evaluations instead of `2n`.
//!
//! Every comparison uses [`relative_error`] and ends in a [`Verdict`]. Nothing here knows a
//! cell or a sequence: [`crate::check`] applies these tools at every step of one.

use crate::init;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::fmt;

/// The finite-difference step `ε = ∛ε_mach` (≈ 6.06e-6 for `f64`, ≈ 4.92e-3 for `f32`).
pub fn default_step<T: Scalar>() -> T {
    T::epsilon().cbrt()
}

/// The relative error between two arrays, the one formula used everywhere in tapegrad:
///
/// ```text
/// rel(a, b) = max_i |a_i − b_i| / max(max_i |a_i|, max_i |b_i|, f_min)
/// ```
///
/// i.e. the largest difference measured against the largest magnitude of either side (the
/// ∞-norm relative error). `f_min` is the smallest normal number of the float type (2.2e-308
/// for f64, 1.2e-38 for f32): a gradient that has vanished below it is *subnormal* and keeps
/// fewer significant digits, down to one, so two correct computations of it differ in their
/// first digit; against `f_min` such differences measure as the round-off they are. It is 0
/// when both are all zeros, and +∞ when either side holds NaN or infinity, or when the shapes
/// differ, so that such a gradient can never pass.
pub fn relative_error<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> f64 {
    if a.shape() != b.shape() {
        return f64::INFINITY;
    }
    relative_error_of(a.as_slice(), b.as_slice())
}

/// [`relative_error`] on plain slices (+∞ when their lengths differ: they cannot agree).
pub fn relative_error_of<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        if !x.is_finite() || !y.is_finite() {
            return f64::INFINITY;
        }
        diff = diff.max((x - y).abs());
        scale = scale.max(x.abs()).max(y.abs());
    }
    diff / scale.max(T::min_positive_value().as_f64())
}

/// The largest absolute difference `max_i |a_i − b_i|` (+∞ if either side is not finite, or
/// if the lengths differ).
pub fn abs_error_of<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let mut diff = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        if !x.is_finite() || !y.is_finite() {
            return f64::INFINITY;
        }
        diff = diff.max((x - y).abs());
    }
    diff
}

/// How many rounding errors of `f` a central difference is assumed to divide by `2ε`.
///
/// The loss is a long chain of operations, so its computed value can be off by several units
/// in the last place; 16 is a generous count that still keeps the floor far below any gradient
/// worth checking.
const NOISE_ULPS: f64 = 16.0;

/// The smallest absolute error a central difference with step `eps` can resolve on a function
/// whose value is about `f_value`: `δ = 16·ε_mach·max(|f|, 1) / 2ε`.
///
/// A difference between a finite-difference estimate and a gradient that is no larger than
/// this is round-off of the estimate, not evidence against the gradient.
pub fn resolution<T: Scalar>(f_value: T, eps: T) -> f64 {
    NOISE_ULPS * T::epsilon().as_f64() * f_value.as_f64().abs().max(1.0) / (2.0 * eps.as_f64())
}

/// The outcome of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Agreement within the tolerance.
    Ok,
    /// The two differ by more than the tolerance and by more than finite differences can
    /// explain, or one of them is NaN or infinite.
    Fail,
    /// Finite differences differ by more than the tolerance but by no more than their own
    /// noise floor ([`resolution`]): they can neither confirm nor refute the gradient.
    BelowResolution,
}

impl Verdict {
    /// Decides a comparison: `rel` and `abs` are [`relative_error`] and [`abs_error_of`] of the
    /// pair, `tol` the relative tolerance, `floor` the finite-difference [`resolution`] (0 when
    /// neither side is a finite-difference estimate).
    pub fn decide(rel: f64, abs: f64, tol: f64, floor: f64) -> Verdict {
        if !rel.is_finite() || !abs.is_finite() {
            Verdict::Fail
        } else if rel <= tol {
            Verdict::Ok
        } else if abs <= floor {
            Verdict::BelowResolution
        } else {
            Verdict::Fail
        }
    }

    /// True unless the verdict is [`Verdict::Fail`].
    pub fn passed(self) -> bool {
        self != Verdict::Fail
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Fail => "FAIL",
            Verdict::BelowResolution => "below-res",
        })
    }
}

/// Exhaustive central differences: `G_ij ≈ (f(X + εE_ij) − f(X − εE_ij)) / 2ε` for every entry,
/// where `E_ij` is 1 at `(i, j)` and 0 elsewhere. Costs `2·rows·cols` evaluations of `f`.
pub fn fd_gradient<T: Scalar>(
    x: &Matrix<T>,
    eps: T,
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> Matrix<T> {
    let mut probe = x.clone();
    let two_eps = eps + eps;
    Matrix::from_fn(x.rows(), x.cols(), |i, j| {
        let original = probe[(i, j)];
        probe[(i, j)] = original + eps;
        let plus = f(&probe);
        probe[(i, j)] = original - eps;
        let minus = f(&probe);
        probe[(i, j)] = original;
        (plus - minus) / two_eps
    })
}

/// Directional central difference `(f(X + εV) − f(X − εV)) / 2ε ≈ ⟨∇f(X), V⟩`.
pub fn fd_directional<T: Scalar>(
    x: &Matrix<T>,
    v: &Matrix<T>,
    eps: T,
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> T {
    let shifted = |sign: T| {
        x.zip_map(v, "fd_directional", |x, v| x + sign * eps * v)
            .expect("fd_directional: the direction must have the shape of the point")
    };
    let plus = f(&shifted(T::one()));
    let minus = f(&shifted(-T::one()));
    (plus - minus) / (eps + eps)
}

/// A random direction of unit Frobenius norm: standard normal entries, divided by their norm,
/// so every direction is equally likely.
pub fn random_direction<T: Scalar>(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix<T> {
    let v: Matrix<T> = init::normal(rng, rows, cols, 1.0);
    let n = v.norm();
    if n > T::zero() {
        v.scale(T::one() / n)
    } else {
        v
    }
}

/// The seeded, portable random stream used for directions: the same seed gives the same
/// directions on every machine.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// One comparison of two gradients: [`relative_error`], the largest absolute difference, and
/// the verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// [`relative_error`] of the pair.
    pub rel: f64,
    /// `max_i |a_i − b_i|`.
    pub abs: f64,
    /// What the numbers mean against the tolerance and the resolution.
    pub verdict: Verdict,
}

impl Comparison {
    /// Compares `a` with `b` (same length) at tolerance `tol` and finite-difference floor
    /// `floor` (0 when neither side is a finite-difference estimate).
    pub fn of<T: Scalar>(a: &[T], b: &[T], tol: f64, floor: f64) -> Comparison {
        let rel = relative_error_of(a, b);
        let abs = abs_error_of(a, b);
        Comparison {
            rel,
            abs,
            verdict: Verdict::decide(rel, abs, tol, floor),
        }
    }

    /// Compares two exact methods (hand BPTT, the tape, forward mode) at tolerance `tol`,
    /// allowing each entry the round-off of its terms: `|a_i − b_i| ≤ ROUNDOFF · ε_mach ·
    /// scale_i`, where `scale_i` is the magnitude of everything summed to make the entry
    /// ([`crate::bound`]). Where the terms cancel (a gradient that is exactly zero, `1 − h²`
    /// at a saturated `h`), the relative error of two correct results can be 1; their
    /// difference is still within the round-off of the terms, and that is `ok`. A NaN or an
    /// infinity never passes.
    pub fn of_exact<T: Scalar>(a: &[T], b: &[T], tol: f64, scale: &[T]) -> Comparison {
        let mut c = Comparison::of(a, b, tol, 0.0);
        let eps = T::epsilon().as_f64();
        let within_roundoff = a.len() == scale.len()
            && a.iter().zip(b).zip(scale).all(|((&x, &y), &m)| {
                (x.as_f64() - y.as_f64()).abs() <= ROUNDOFF * eps * m.as_f64()
            });
        if c.verdict == Verdict::Fail && c.rel.is_finite() && c.abs.is_finite() && within_roundoff {
            c.verdict = Verdict::Ok;
        }
        c
    }
}

/// How many `ε_mach` of its terms' magnitude two exact computations of one entry may differ
/// by (see [`Comparison::of_exact`]). A running error bound grows with the length of the
/// longest chain of operations; over the test suite the differences of correct results stay
/// below `0.9·ε_mach` of the magnitude (`1e-7` of it where the terms cancel), and those of the
/// bug zoo's wrong ones reach `1e15`.
pub const ROUNDOFF: f64 = 32.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_scale_free_and_never_passes_nan() {
        let a = Matrix::row_vector(&[1.0, -2.0]);
        let b = Matrix::row_vector(&[1.0, -2.002]);
        assert!((relative_error(&a, &b) - 0.002 / 2.002).abs() < 1e-15);
        let tiny = 2f64.powi(-40);
        assert_eq!(
            relative_error(&a.scale(tiny), &b.scale(tiny)),
            relative_error(&a, &b)
        );
        assert_eq!(
            relative_error(&Matrix::<f64>::zeros(1, 2), &Matrix::zeros(1, 2)),
            0.0
        );
        let nan = Matrix::row_vector(&[f64::NAN, -2.0]);
        assert_eq!(relative_error(&nan, &nan), f64::INFINITY);
        assert_eq!(
            Verdict::decide(relative_error(&nan, &nan), 0.0, 1.0, 1.0),
            Verdict::Fail
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::decide(1e-9, 1e-9, 1e-6, 1e-10), Verdict::Ok);
        assert_eq!(
            Verdict::decide(1e-3, 1e-11, 1e-6, 1e-10),
            Verdict::BelowResolution
        );
        assert_eq!(Verdict::decide(1e-3, 1e-9, 1e-6, 1e-10), Verdict::Fail);
        assert_eq!(Verdict::decide(f64::NAN, 0.0, 1e-6, 1e-10), Verdict::Fail);
    }

    #[test]
    fn exact_methods_may_differ_by_the_round_off_of_their_terms() {
        // A saturated φ': one method says 0, the other the true 1e-22; the terms were of size 2.
        let zero = Comparison::of_exact(&[0.0], &[1e-22], 1e-12, &[2.0]);
        assert_eq!((zero.rel, zero.verdict), (1.0, Verdict::Ok));
        // Off by more than the round-off: a wrong gradient, however small, fails.
        let wrong = Comparison::of_exact(&[0.0], &[1e-12], 1e-12, &[2.0]);
        assert_eq!(wrong.verdict, Verdict::Fail);
        let nan = Comparison::of_exact(&[f64::NAN], &[f64::NAN], 1e-12, &[f64::INFINITY]);
        assert_eq!(nan.verdict, Verdict::Fail);
    }

    #[test]
    fn central_differences_of_a_cubic() {
        // f(X) = Σ x³, ∇f = 3x².
        let x = Matrix::from_rows(&[[0.5, -1.0], [2.0, 0.1]]).unwrap();
        let g = fd_gradient(&x, default_step(), |x| {
            x.as_slice().iter().map(|v| v * v * v).sum()
        });
        let exact = x.map(|v| 3.0 * v * v);
        assert!(relative_error(&g, &exact) < 1e-9, "{g} vs {exact}");
        let v: Matrix<f64> = random_direction(2, 2, &mut rng(7));
        assert!((v.norm() - 1.0).abs() < 1e-15);
        let d = fd_directional(&x, &v, default_step(), |x| {
            x.as_slice().iter().map(|v| v * v * v).sum()
        });
        assert!((d - exact.dot(&v).unwrap()).abs() < 1e-9);
    }
}
