//! Magnitudes: the scale of the round-off a computation carries, by arithmetic alone.
//!
//! A [`Bound`] is a value with the sum of the magnitudes of everything that was added or
//! multiplied to make it (a running error analysis):
//!
//! ```text
//! |a + b| ≤ ‖a‖ + ‖b‖        ‖a·b‖ = ‖a‖·‖b‖        ‖f(a)‖ = |f(a)| + |f'(a)|·‖a‖
//! ```
//!
//! A result computed in floating point is off from the exact one by at most a few `ε_mach`
//! times that magnitude, however much the terms cancel: where a gradient is exactly zero
//! (a softmax layer with equal columns) or where `φ'` is taken from a saturated output
//! (`1 − h²` with `h` rounded to 1), two correct computations differ by round-off of the terms,
//! not of the result. Run through the same generic code as any [`Scalar`], `Bound` gives that
//! scale for every gradient: [`crate::check`] allows hand BPTT, the tape and forward mode to
//! differ by a few `ε_mach` of it, and no more.

use crate::dual::Dual;
use crate::scalar::{Scalar, companion_float_plumbing, companion_number};
use num_traits::{Float, One};
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

/// A value, and the magnitude of the terms that made it (never below `|value|`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bound<T> {
    /// The ordinary value.
    pub value: T,
    /// `‖·‖`: the sum of the magnitudes of everything added or multiplied to make the value.
    pub magnitude: T,
}

impl<T: Scalar> Bound<T> {
    /// A value made of nothing else: its magnitude is its size.
    pub fn exact(value: T) -> Self {
        Bound {
            value,
            magnitude: value.abs(),
        }
    }

    /// `f(self)`, `‖f(a)‖ = |f(a)| + |f'(a)|·‖a‖`, with `f(a)` and `f'(a)` from forward mode:
    /// the crate keeps one table of derivatives, [`Dual`]'s.
    fn through(self, f: impl Fn(Dual<T>) -> Dual<T>) -> Self {
        let d = f(Dual::new(self.value, T::one()));
        Bound {
            value: d.value,
            magnitude: d.value.abs() + d.tangent.abs() * self.magnitude,
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
        Bound {
            value: self.value + b.value,
            magnitude: self.magnitude + b.magnitude,
        }
    }
}

impl<T: Scalar> Sub for Bound<T> {
    type Output = Self;
    fn sub(self, b: Self) -> Self {
        Bound {
            value: self.value - b.value,
            magnitude: self.magnitude + b.magnitude,
        }
    }
}

impl<T: Scalar> Mul for Bound<T> {
    type Output = Self;
    fn mul(self, b: Self) -> Self {
        Bound {
            value: self.value * b.value,
            magnitude: self.magnitude * b.magnitude,
        }
    }
}

impl<T: Scalar> Div for Bound<T> {
    type Output = Self;
    /// `‖a/b‖ = ‖a‖/|b|`: the divisor's own error is second order unless `b` is tiny.
    fn div(self, b: Self) -> Self {
        Bound {
            value: self.value / b.value,
            magnitude: self.magnitude / b.value.abs(),
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
            magnitude: self.magnitude,
        }
    }
}

companion_number!(Bound, Bound::exact);

impl<T: Scalar> fmt::Display for Bound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (‖·‖ {})", self.value, self.magnitude)
    }
}

impl<T: Scalar> fmt::LowerExp for Bound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:e} (‖·‖ {:e})", self.value, self.magnitude)
    }
}

impl<T: Scalar> Float for Bound<T> {
    companion_float_plumbing!(Bound::exact);
    fn is_nan(self) -> bool {
        self.value.is_nan() || self.magnitude.is_nan()
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
            magnitude: self.magnitude,
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
        Bound {
            value: self.value.atan2(x.value),
            magnitude: (x.value.abs() * self.magnitude + self.value.abs() * x.magnitude) / r2,
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

    /// A sum that cancels keeps the magnitude of its terms.
    #[test]
    fn cancellation_keeps_the_terms_magnitude() {
        let (a, b) = (Bound::exact(0.3f64), Bound::exact(0.1f64));
        // 2·0.3 − (0.3 + 0.1 + 0.1 + 0.1): zero but for round-off, made of terms of size 1.2.
        let zero = a * Bound::exact(2.0) - (a + b + b + b);
        assert!(zero.value.abs() < 1e-15, "{zero}");
        assert!((zero.magnitude - 1.2).abs() < 1e-15, "{zero}");
        // 1 − h² at a saturated h = 1: the value is 0, the scale is 2.
        let h = Bound::exact(1.0f64);
        let d = Bound::one() - h * h;
        assert_eq!((d.value, d.magnitude), (0.0, 2.0));
    }
}
