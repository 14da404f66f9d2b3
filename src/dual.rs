//! Dual numbers: forward-mode differentiation by arithmetic alone.
//!
//! A dual number is `a + ȧ·ε` with `ε² = 0`. Carry one through any computation built from
//! `+ − × ÷` and smooth functions, and the rule `ε² = 0` does the chain rule by itself:
//!
//! ```text
//! (a + ȧε)(b + ḃε) = ab + (ȧb + aḃ)ε          f(a + ȧε) = f(a) + f'(a)·ȧ·ε
//! ```
//!
//! so the `ε` part of the result is the derivative along the tangents that were put into the
//! inputs, exactly, with no step size. [`Dual`] is a [`Scalar`]: the crate's generic forward code
//! (every cell's step, every head) runs on it unchanged, which is how
//! [`crate::forward::forward_gradients`] computes every per-step quantity exactly.

use crate::scalar::{Scalar, companion_float_plumbing, companion_number};
use num_traits::Float;
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

/// `value + tangent·ε`, with `ε² = 0`.
///
/// `#[repr(C)]`: the two parts side by side, so a matrix of dual numbers is two real matrices
/// at twice the strides, which the packed product kernel multiplies without copying.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Dual<T> {
    /// The ordinary value.
    pub value: T,
    /// The derivative along the tangents put into the inputs.
    pub tangent: T,
}

impl<T: Scalar> Dual<T> {
    /// `value + tangent·ε`.
    pub fn new(value: T, tangent: T) -> Self {
        Dual { value, tangent }
    }

    /// A constant: tangent zero.
    pub fn constant(value: T) -> Self {
        Dual::new(value, T::zero())
    }

    /// `f(self)` given `f(a)` and `f'(a)` at `a = self.value`: the chain rule, `ȧ·f'(a)`.
    fn chain(self, f: T, f_prime: T) -> Self {
        Dual::new(f, self.tangent * f_prime)
    }
}

impl<T: Scalar> PartialEq for Dual<T> {
    /// Compares values only: a comparison in the forward code decides a branch, and a branch
    /// depends on the value.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Scalar> PartialOrd for Dual<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Scalar> Add for Dual<T> {
    type Output = Self;
    fn add(self, b: Self) -> Self {
        Dual::new(self.value + b.value, self.tangent + b.tangent)
    }
}

impl<T: Scalar> Sub for Dual<T> {
    type Output = Self;
    fn sub(self, b: Self) -> Self {
        Dual::new(self.value - b.value, self.tangent - b.tangent)
    }
}

impl<T: Scalar> Mul for Dual<T> {
    type Output = Self;
    /// `(a + ȧε)(b + ḃε) = ab + (ȧb + aḃ)ε`.
    fn mul(self, b: Self) -> Self {
        Dual::new(
            self.value * b.value,
            self.tangent * b.value + self.value * b.tangent,
        )
    }
}

impl<T: Scalar> Div for Dual<T> {
    type Output = Self;
    /// `(a/b)' = (ȧb − aḃ)/b²`.
    fn div(self, b: Self) -> Self {
        let q = self.value / b.value;
        Dual::new(q, (self.tangent - q * b.tangent) / b.value)
    }
}

impl<T: Scalar> Rem for Dual<T> {
    type Output = Self;
    /// `a mod b = a − trunc(a/b)·b`, the quotient held constant where it is.
    fn rem(self, b: Self) -> Self {
        let k = (self.value / b.value).trunc();
        Dual::new(self.value % b.value, self.tangent - k * b.tangent)
    }
}

impl<T: Scalar> Neg for Dual<T> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual::new(-self.value, -self.tangent)
    }
}

companion_number!(Dual, Dual::constant);

impl<T: Scalar> fmt::Display for Dual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε", self.value, self.tangent)
    }
}

impl<T: Scalar> fmt::LowerExp for Dual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:e} + {:e}ε", self.value, self.tangent)
    }
}

impl<T: Scalar> Float for Dual<T> {
    companion_float_plumbing!(Dual::constant);
    /// NaN in the value or the tangent: a derivative that broke is not a number either.
    fn is_nan(self) -> bool {
        self.value.is_nan() || self.tangent.is_nan()
    }
    fn is_infinite(self) -> bool {
        self.value.is_infinite() || self.tangent.is_infinite()
    }
    /// Finite in both parts, so that a check never passes on a broken derivative.
    fn is_finite(self) -> bool {
        self.value.is_finite() && self.tangent.is_finite()
    }
    fn fract(self) -> Self {
        Dual::new(self.value.fract(), self.tangent)
    }
    fn abs(self) -> Self {
        self.chain(self.value.abs(), self.value.signum())
    }
    fn recip(self) -> Self {
        let r = self.value.recip();
        self.chain(r, -r * r)
    }
    fn powi(self, n: i32) -> Self {
        let nf = T::from_f64(<f64 as From<i32>>::from(n));
        self.chain(self.value.powi(n), nf * self.value.powi(n - 1))
    }
    /// `(a^b)' = b·a^(b−1)·ȧ + a^b·ln(a)·ḃ`; the second term only where `b` moves.
    fn powf(self, b: Self) -> Self {
        let p = self.value.powf(b.value);
        let along_a = self.tangent * b.value * self.value.powf(b.value - T::one());
        let along_b = if b.tangent.is_zero() {
            T::zero()
        } else {
            b.tangent * p * self.value.ln()
        };
        Dual::new(p, along_a + along_b)
    }
    fn sqrt(self) -> Self {
        let r = self.value.sqrt();
        self.chain(r, T::one() / (r + r))
    }
    fn exp(self) -> Self {
        let e = self.value.exp();
        self.chain(e, e)
    }
    fn exp2(self) -> Self {
        let e = self.value.exp2();
        self.chain(e, e * T::from_f64(std::f64::consts::LN_2))
    }
    fn ln(self) -> Self {
        self.chain(self.value.ln(), self.value.recip())
    }
    fn log2(self) -> Self {
        let scale = T::from_f64(std::f64::consts::LN_2) * self.value;
        self.chain(self.value.log2(), scale.recip())
    }
    fn log10(self) -> Self {
        let scale = T::from_f64(std::f64::consts::LN_10) * self.value;
        self.chain(self.value.log10(), scale.recip())
    }
    fn cbrt(self) -> Self {
        let r = self.value.cbrt();
        self.chain(r, T::one() / (T::from_f64(3.0) * r * r))
    }
    fn sin(self) -> Self {
        self.chain(self.value.sin(), self.value.cos())
    }
    fn cos(self) -> Self {
        self.chain(self.value.cos(), -self.value.sin())
    }
    fn tan(self) -> Self {
        let t = self.value.tan();
        self.chain(t, T::one() + t * t)
    }
    fn asin(self) -> Self {
        let d = (T::one() - self.value * self.value).sqrt().recip();
        self.chain(self.value.asin(), d)
    }
    fn acos(self) -> Self {
        let d = -(T::one() - self.value * self.value).sqrt().recip();
        self.chain(self.value.acos(), d)
    }
    fn atan(self) -> Self {
        self.chain(
            self.value.atan(),
            (T::one() + self.value * self.value).recip(),
        )
    }
    /// `atan2(y, x)`, with `d = (x·ẏ − y·ẋ)/(x² + y²)`.
    fn atan2(self, x: Self) -> Self {
        let r2 = self.value * self.value + x.value * x.value;
        Dual::new(
            self.value.atan2(x.value),
            (x.value * self.tangent - self.value * x.tangent) / r2,
        )
    }
    fn exp_m1(self) -> Self {
        self.chain(self.value.exp_m1(), self.value.exp())
    }
    fn ln_1p(self) -> Self {
        self.chain(self.value.ln_1p(), (T::one() + self.value).recip())
    }
    fn sinh(self) -> Self {
        self.chain(self.value.sinh(), self.value.cosh())
    }
    fn cosh(self) -> Self {
        self.chain(self.value.cosh(), self.value.sinh())
    }
    /// `tanh' = 1 − tanh²`, from the value already computed.
    fn tanh(self) -> Self {
        let t = self.value.tanh();
        self.chain(t, T::one() - t * t)
    }
    fn asinh(self) -> Self {
        let d = (self.value * self.value + T::one()).sqrt().recip();
        self.chain(self.value.asinh(), d)
    }
    fn acosh(self) -> Self {
        let d = (self.value * self.value - T::one()).sqrt().recip();
        self.chain(self.value.acosh(), d)
    }
    fn atanh(self) -> Self {
        let d = (T::one() - self.value * self.value).recip();
        self.chain(self.value.atanh(), d)
    }
}

impl<T: Scalar> Scalar for Dual<T> {
    const NAME: &'static str = "dual";

    /// A constant: tangent zero.
    fn from_f64(v: f64) -> Self {
        Dual::constant(T::from_f64(v))
    }

    /// The value (the tangent is not a number of the same kind).
    fn as_f64(self) -> f64 {
        self.value.as_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ε part of `f(x + ε)` is `f'(x)`, for the functions the crate's forward code uses.
    #[test]
    fn the_tangent_is_the_derivative() {
        let x = Dual::new(0.7f64, 1.0);
        let cases: [(Dual<f64>, f64); 6] = [
            (x * x * x, 3.0 * 0.49),
            (x.tanh(), 1.0 - 0.7f64.tanh().powi(2)),
            (x.exp(), 0.7f64.exp()),
            (x.ln(), 1.0 / 0.7),
            (Dual::constant(1.0) / (Dual::constant(1.0) + (-x).exp()), {
                let s = 1.0 / (1.0 + (-0.7f64).exp());
                s * (1.0 - s)
            }),
            (x.sqrt(), 0.5 / 0.7f64.sqrt()),
        ];
        for (i, (got, want)) in cases.iter().enumerate() {
            assert!(
                (got.tangent - want).abs() < 1e-15,
                "case {i}: {got} vs {want}"
            );
        }
        assert!(
            !Dual::new(1.0, f64::NAN).is_finite(),
            "a NaN tangent is not finite"
        );
    }
}
