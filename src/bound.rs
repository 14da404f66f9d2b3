//! Magnitudes: the scale of the round-off a computation carries, by arithmetic alone.
//!
//! A [`Bound`] is a value with the scale `‖·‖` of its round-off: every operation's result is
//! rounded once (by up to `ε_mach/2` of itself) and passes on its inputs' errors through its
//! own derivative. The errors of many operations have no common sign, so they add in
//! quadrature, as independent errors do (a probabilistic running error analysis):
//!
//! ```text
//! ‖a ± b‖² = ‖a‖² + ‖b‖² + (a ± b)²
//! ‖a·b‖²   = (|b|·‖a‖)² + (|a|·‖b‖)² + (ε·‖a‖·‖b‖)² + (a·b)²
//! ‖f(a)‖²  = (f'(a)·‖a‖)² + f(a)²
//! ```
//!
//! A result computed in floating point is off from the exact one by a few `ε_mach` times that
//! scale, however much the terms cancel: where a gradient is exactly zero (a softmax layer
//! with equal columns) or where `φ'` is taken from a saturated output (`1 − h²` with `h`
//! rounded to 1), two correct computations differ by round-off of the terms, not of the result.
//! Through a long recurrence the scale grows as the errors themselves do, with the size of the
//! weights, not with the sum of their absolute values: `‖dh_(t−1)‖` grows by the rows'
//! Euclidean norms of `W_h`, as the gradient does, where a sum of magnitudes would grow by the
//! rows' absolute sums, exponentially faster. Run through the same generic code as any
//! [`Scalar`], `Bound` gives that scale for every gradient: [`crate::check`] allows hand BPTT,
//! the tape and forward mode to differ by a few `ε_mach` of it, and no more.

use crate::dual::Dual;
use crate::scalar::{Scalar, companion_float_plumbing, companion_number};
use num_traits::{Float, One};
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

/// A value, and the square of the scale of its round-off (never below `value²`).
///
/// The square is what adds in quadrature, with no square root per operation; [`Bound::magnitude`]
/// takes the root once, at the end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bound<T> {
    /// The ordinary value.
    pub value: T,
    /// `‖·‖²`: the square of the scale of the value's round-off, from everything added or
    /// multiplied to make it.
    pub square: T,
}

impl<T: Scalar> Bound<T> {
    /// A value made of nothing else: its scale is its size.
    pub fn exact(value: T) -> Self {
        Bound {
            value,
            square: value * value,
        }
    }

    /// `‖·‖`, the scale of the value's round-off: infinite when its square overflowed, and then
    /// no allowance at all can be made from it.
    pub fn magnitude(&self) -> T {
        self.square.sqrt()
    }

    /// `f(self)`, `‖f(a)‖² = (f'(a)·‖a‖)² + f(a)²`, with `f(a)` and `f'(a)` from forward
    /// mode: the crate keeps one table of derivatives, [`Dual`]'s.
    fn through(self, f: impl Fn(Dual<T>) -> Dual<T>) -> Self {
        let d = f(Dual::new(self.value, T::one()));
        Bound {
            value: d.value,
            square: d.tangent * d.tangent * self.square + d.value * d.value,
        }
    }
}

impl<T: Scalar> PartialEq for Bound<T> {
    /// Compares values only, as the forward code's branches do.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Scalar> PartialOrd for Bound<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Scalar> Add for Bound<T> {
    type Output = Self;
    fn add(self, b: Self) -> Self {
        let value = self.value + b.value;
        Bound {
            value,
            square: self.square + b.square + value * value,
        }
    }
}

impl<T: Scalar> Sub for Bound<T> {
    type Output = Self;
    fn sub(self, b: Self) -> Self {
        let value = self.value - b.value;
        Bound {
            value,
            square: self.square + b.square + value * value,
        }
    }
}

impl<T: Scalar> Mul for Bound<T> {
    type Output = Self;
    /// `‖a·b‖² = (|b|·‖a‖)² + (|a|·‖b‖)² + (ε_mach·‖a‖·‖b‖)² + (a·b)²`. The third term is the
    /// product of the two errors, negligible unless both factors are (nearly) zero while their
    /// scales are not: `dh · (1 − h²)` where `dh` and `1 − h²` each cancelled to 0, and the
    /// exact product is the product of two rounding errors.
    fn mul(self, b: Self) -> Self {
        let value = self.value * b.value;
        let eps = T::epsilon();
        Bound {
            value,
            square: b.value * b.value * self.square
                + self.value * self.value * b.square
                + eps * eps * self.square * b.square
                + value * value,
        }
    }
}

impl<T: Scalar> Div for Bound<T> {
    type Output = Self;
    /// `‖a/b‖² = (‖a‖/b)² + (a·‖b‖/b²)² + (a/b)²`.
    fn div(self, b: Self) -> Self {
        let value = self.value / b.value;
        Bound {
            value,
            square: (self.square + value * value * b.square) / (b.value * b.value) + value * value,
        }
    }
}

impl<T: Scalar> Rem for Bound<T> {
    type Output = Self;
    fn rem(self, b: Self) -> Self {
        Bound::exact(self.value % b.value)
    }
}

impl<T: Scalar> Neg for Bound<T> {
    type Output = Self;
    fn neg(self) -> Self {
        Bound {
            value: -self.value,
            square: self.square,
        }
    }
}

companion_number!(Bound, Bound::exact);

impl<T: Scalar> fmt::Display for Bound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (‖·‖ {})", self.value, self.magnitude())
    }
}

impl<T: Scalar> fmt::LowerExp for Bound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:e} (‖·‖ {:e})", self.value, self.magnitude())
    }
}

impl<T: Scalar> Float for Bound<T> {
    companion_float_plumbing!(Bound::exact);
    fn is_nan(self) -> bool {
        self.value.is_nan() || self.square.is_nan()
    }
    fn is_infinite(self) -> bool {
        self.value.is_infinite()
    }
    fn is_finite(self) -> bool {
        self.value.is_finite()
    }
    fn fract(self) -> Self {
        Bound::exact(self.value.fract())
    }
    fn abs(self) -> Self {
        Bound {
            value: self.value.abs(),
            square: self.square,
        }
    }
    fn recip(self) -> Self {
        Bound::one() / self
    }
    fn powi(self, n: i32) -> Self {
        self.through(|d| d.powi(n))
    }
    fn powf(self, b: Self) -> Self {
        self.through(|d| d.powf(Dual::constant(b.value)))
    }
    fn atan2(self, x: Self) -> Self {
        let r2 = self.value * self.value + x.value * x.value;
        let value = self.value.atan2(x.value);
        Bound {
            value,
            square: (x.value * x.value * self.square + self.value * self.value * x.square)
                / (r2 * r2)
                + value * value,
        }
    }
    fn sqrt(self) -> Self {
        self.through(Dual::sqrt)
    }
    fn exp(self) -> Self {
        self.through(Dual::exp)
    }
    fn exp2(self) -> Self {
        self.through(Dual::exp2)
    }
    fn ln(self) -> Self {
        self.through(Dual::ln)
    }
    fn log2(self) -> Self {
        self.through(Dual::log2)
    }
    fn log10(self) -> Self {
        self.through(Dual::log10)
    }
    fn cbrt(self) -> Self {
        self.through(Dual::cbrt)
    }
    fn sin(self) -> Self {
        self.through(Dual::sin)
    }
    fn cos(self) -> Self {
        self.through(Dual::cos)
    }
    fn tan(self) -> Self {
        self.through(Dual::tan)
    }
    fn asin(self) -> Self {
        self.through(Dual::asin)
    }
    fn acos(self) -> Self {
        self.through(Dual::acos)
    }
    fn atan(self) -> Self {
        self.through(Dual::atan)
    }
    fn exp_m1(self) -> Self {
        self.through(Dual::exp_m1)
    }
    fn ln_1p(self) -> Self {
        self.through(Dual::ln_1p)
    }
    fn sinh(self) -> Self {
        self.through(Dual::sinh)
    }
    fn cosh(self) -> Self {
        self.through(Dual::cosh)
    }
    fn tanh(self) -> Self {
        self.through(Dual::tanh)
    }
    fn asinh(self) -> Self {
        self.through(Dual::asinh)
    }
    fn acosh(self) -> Self {
        self.through(Dual::acosh)
    }
    fn atanh(self) -> Self {
        self.through(Dual::atanh)
    }
}

impl<T: Scalar> Scalar for Bound<T> {
    const NAME: &'static str = "bound";

    fn from_f64(v: f64) -> Self {
        Bound::exact(T::from_f64(v))
    }

    fn as_f64(self) -> f64 {
        self.value.as_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum that cancels keeps the scale of its terms.
    #[test]
    fn cancellation_keeps_the_terms_scale() {
        let (a, b) = (Bound::exact(0.3f64), Bound::exact(0.1f64));
        // 2·0.3 − (0.3 + 0.1 + 0.1 + 0.1): zero but for round-off, made of terms up to 0.6.
        let zero = a * Bound::exact(2.0) - (a + b + b + b);
        assert!(zero.value.abs() < 1e-15, "{zero}");
        assert!(zero.magnitude() > 0.6 && zero.magnitude() < 2.0, "{zero}");
        // 1 − h² at a saturated h = 1: the value is 0, the scale is √(1 + 3) = 2.
        let h = Bound::exact(1.0f64);
        let d = Bound::one() - h * h;
        assert_eq!(d.value, 0.0);
        assert!((d.magnitude() - 2.0).abs() < 1e-15, "{d}");
    }

    /// Through a recurrence `x ← w·x` the scale grows as `|w|` per step, as the value does,
    /// and stays a few times the value (one rounding per step, in quadrature).
    #[test]
    fn a_recurrence_grows_its_scale_as_its_value() {
        let w = Bound::exact(1.5f64);
        let mut x = Bound::exact(1.0f64);
        for _ in 0..40 {
            x *= w;
        }
        let ratio = x.magnitude() / x.value;
        assert!(ratio > 1.0 && ratio < 12.0, "{x}: {ratio}");
    }
}
