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

use crate::scalar::Scalar;
use num_traits::{Float, Num, NumCast, One, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::fmt;
use std::iter::Sum;
use std::num::FpCategory;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Rem, Sub, SubAssign};

/// `value + tangent·ε`, with `ε² = 0`.
#[derive(Clone, Copy, Debug, Default)]
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

impl<T: Scalar> AddAssign for Dual<T> {
    fn add_assign(&mut self, b: Self) {
        *self = *self + b;
    }
}

impl<T: Scalar> SubAssign for Dual<T> {
    fn sub_assign(&mut self, b: Self) {
        *self = *self - b;
    }
}

impl<T: Scalar> MulAssign for Dual<T> {
    fn mul_assign(&mut self, b: Self) {
        *self = *self * b;
    }
}

impl<T: Scalar> Sum for Dual<T> {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Dual::zero(), |a, b| a + b)
    }
}

impl<T: Scalar> Zero for Dual<T> {
    fn zero() -> Self {
        Dual::constant(T::zero())
    }
    fn is_zero(&self) -> bool {
        self.value.is_zero()
    }
}

impl<T: Scalar> One for Dual<T> {
    fn one() -> Self {
        Dual::constant(T::one())
    }
}

impl<T: Scalar> Num for Dual<T> {
    type FromStrRadixErr = T::FromStrRadixErr;
    fn from_str_radix(text: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        T::from_str_radix(text, radix).map(Dual::constant)
    }
}

impl<T: Scalar> ToPrimitive for Dual<T> {
    fn to_i64(&self) -> Option<i64> {
        self.value.to_i64()
    }
    fn to_u64(&self) -> Option<u64> {
        self.value.to_u64()
    }
    fn to_f64(&self) -> Option<f64> {
        self.value.to_f64()
    }
}

impl<T: Scalar> NumCast for Dual<T> {
    fn from<N: ToPrimitive>(n: N) -> Option<Self> {
        <T as NumCast>::from(n).map(Dual::constant)
    }
}

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

/// The derivative of a step function (`floor`, `signum`, …): zero wherever it is defined.
fn flat<T: Scalar>(x: Dual<T>, f: impl Fn(T) -> T) -> Dual<T> {
    Dual::constant(f(x.value))
}

impl<T: Scalar> Float for Dual<T> {
    fn nan() -> Self {
        Dual::constant(T::nan())
    }
    fn infinity() -> Self {
        Dual::constant(T::infinity())
    }
    fn neg_infinity() -> Self {
        Dual::constant(T::neg_infinity())
    }
    fn neg_zero() -> Self {
        Dual::constant(T::neg_zero())
    }
    fn min_value() -> Self {
        Dual::constant(T::min_value())
    }
    fn min_positive_value() -> Self {
        Dual::constant(T::min_positive_value())
    }
    fn epsilon() -> Self {
        Dual::constant(T::epsilon())
    }
    fn max_value() -> Self {
        Dual::constant(T::max_value())
    }
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
    fn is_normal(self) -> bool {
        self.value.is_normal()
    }
    fn classify(self) -> FpCategory {
        self.value.classify()
    }
    fn floor(self) -> Self {
        flat(self, T::floor)
    }
    fn ceil(self) -> Self {
        flat(self, T::ceil)
    }
    fn round(self) -> Self {
        flat(self, T::round)
    }
    fn trunc(self) -> Self {
        flat(self, T::trunc)
    }
    fn fract(self) -> Self {
        Dual::new(self.value.fract(), self.tangent)
    }
    fn abs(self) -> Self {
        self.chain(self.value.abs(), self.value.signum())
    }
    fn signum(self) -> Self {
        flat(self, T::signum)
    }
    fn is_sign_positive(self) -> bool {
        self.value.is_sign_positive()
    }
    fn is_sign_negative(self) -> bool {
        self.value.is_sign_negative()
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
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
    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }
    fn log2(self) -> Self {
        let scale = T::from_f64(std::f64::consts::LN_2) * self.value;
        self.chain(self.value.log2(), scale.recip())
    }
    fn log10(self) -> Self {
        let scale = T::from_f64(std::f64::consts::LN_10) * self.value;
        self.chain(self.value.log10(), scale.recip())
    }
    fn max(self, b: Self) -> Self {
        if b.value > self.value || self.value.is_nan() {
            b
        } else {
            self
        }
    }
    fn min(self, b: Self) -> Self {
        if b.value < self.value || self.value.is_nan() {
            b
        } else {
            self
        }
    }
    fn abs_sub(self, b: Self) -> Self {
        (self - b).max(Dual::zero())
    }
    fn cbrt(self) -> Self {
        let r = self.value.cbrt();
        self.chain(r, T::one() / (T::from_f64(3.0) * r * r))
    }
    fn hypot(self, b: Self) -> Self {
        (self * self + b * b).sqrt()
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
    fn sin_cos(self) -> (Self, Self) {
        (self.sin(), self.cos())
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
    fn integer_decode(self) -> (u64, i16, i8) {
        self.value.integer_decode()
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
            (Dual::one() / (Dual::one() + (-x).exp()), {
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
