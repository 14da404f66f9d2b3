//! The number types tapegrad computes with: `f64` (the default, and what numpy uses), `f32`,
//! and any other type that implements [`Scalar`] (a dual number, for forward mode).
//!
//! Everything generic in the crate is generic over [`Scalar`] only, so a reader can always
//! substitute "f64" in their head.

use num_traits::Float;
use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::ops::{AddAssign, MulAssign, SubAssign};

/// A floating-point number type: `f32`, `f64`, or any type with their arithmetic. The fast
/// kernels serve `f32` and `f64`; any other type takes the readable loops.
///
/// `Float` supplies the arithmetic and `tanh`/`exp`/`ln`; the extra methods convert literals,
/// which is all the numerical code needs beyond `Float`.
pub trait Scalar:
    Float
    + Debug
    + Display
    + LowerExp
    + Default
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
    + Send
    + Sync
    + 'static
{
    /// The type's name as Rust writes it, and as the benchmark's tables print it: `"f64"` or
    /// `"f32"` (numpy's `float64` and `float32`).
    const NAME: &'static str;

    /// Converts an `f64` literal, rounding to the nearest value of `Self`.
    fn from_f64(v: f64) -> Self;

    /// Widens to `f64` (exact for `f32` and `f64`; a dual number gives its value).
    fn as_f64(self) -> f64;
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";

    fn from_f64(v: f64) -> Self {
        v
    }

    fn as_f64(self) -> f64 {
        self
    }
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";

    fn from_f64(v: f64) -> Self {
        v as f32
    }

    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

/// Converts an `f64` literal to any [`Scalar`]: `lit::<T>(0.5)`.
pub fn lit<T: Scalar>(v: f64) -> T {
    T::from_f64(v)
}

/// The plumbing a number made of a real `value` and a companion part needs to be a
/// [`Scalar`], the same for every such type: `+=`, `−=`, `×=`, `Sum`, `Zero`, `One`, `Num`,
/// `ToPrimitive` and `NumCast`, each through the type's own `+`, `−`, `×` or through `$lift`,
/// which makes it from a plain constant. Used by [`crate::dual::Dual`] and
/// [`crate::bound::Bound`], whose arithmetic (the part worth reading) stays in their own files.
macro_rules! companion_number {
    ($ty:ident, $lift:path) => {
        impl<T: Scalar> std::ops::AddAssign for $ty<T> {
            fn add_assign(&mut self, b: Self) {
                *self = *self + b;
            }
        }

        impl<T: Scalar> std::ops::SubAssign for $ty<T> {
            fn sub_assign(&mut self, b: Self) {
                *self = *self - b;
            }
        }

        impl<T: Scalar> std::ops::MulAssign for $ty<T> {
            fn mul_assign(&mut self, b: Self) {
                *self = *self * b;
            }
        }

        impl<T: Scalar> std::iter::Sum for $ty<T> {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                iter.fold(<Self as num_traits::Zero>::zero(), |a, b| a + b)
            }
        }

        impl<T: Scalar> num_traits::Zero for $ty<T> {
            fn zero() -> Self {
                $lift(T::zero())
            }
            fn is_zero(&self) -> bool {
                self.value.is_zero()
            }
        }

        impl<T: Scalar> num_traits::One for $ty<T> {
            fn one() -> Self {
                $lift(T::one())
            }
        }

        impl<T: Scalar> num_traits::Num for $ty<T> {
            type FromStrRadixErr = T::FromStrRadixErr;
            fn from_str_radix(text: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
                T::from_str_radix(text, radix).map($lift)
            }
        }

        impl<T: Scalar> num_traits::ToPrimitive for $ty<T> {
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

        impl<T: Scalar> num_traits::NumCast for $ty<T> {
            fn from<N: num_traits::ToPrimitive>(n: N) -> Option<Self> {
                <T as num_traits::NumCast>::from(n).map($lift)
            }
        }
    };
}
pub(crate) use companion_number;

/// Inside a companion number's `Float` impl: the constants (NaN, ∞, `ε_mach`, …, each
/// `$lift`ed), the questions about the value alone (`is_normal`, the sign, `classify`,
/// `integer_decode`), the step functions (`floor`, `ceil`, `round`, `trunc`, `signum`), which
/// are flat: their derivative is zero and their result is exact, and the functions built from
/// others (`mul_add`, `log`, `hypot`, `sin_cos`, `abs_sub`, `max`, `min`).
macro_rules! companion_float_plumbing {
    ($lift:path) => {
        fn nan() -> Self {
            $lift(T::nan())
        }
        fn infinity() -> Self {
            $lift(T::infinity())
        }
        fn neg_infinity() -> Self {
            $lift(T::neg_infinity())
        }
        fn neg_zero() -> Self {
            $lift(T::neg_zero())
        }
        fn min_value() -> Self {
            $lift(T::min_value())
        }
        fn min_positive_value() -> Self {
            $lift(T::min_positive_value())
        }
        fn epsilon() -> Self {
            $lift(T::epsilon())
        }
        fn max_value() -> Self {
            $lift(T::max_value())
        }
        fn is_normal(self) -> bool {
            self.value.is_normal()
        }
        fn classify(self) -> std::num::FpCategory {
            self.value.classify()
        }
        fn is_sign_positive(self) -> bool {
            self.value.is_sign_positive()
        }
        fn is_sign_negative(self) -> bool {
            self.value.is_sign_negative()
        }
        fn integer_decode(self) -> (u64, i16, i8) {
            self.value.integer_decode()
        }
        fn floor(self) -> Self {
            $lift(self.value.floor())
        }
        fn ceil(self) -> Self {
            $lift(self.value.ceil())
        }
        fn round(self) -> Self {
            $lift(self.value.round())
        }
        fn trunc(self) -> Self {
            $lift(self.value.trunc())
        }
        fn signum(self) -> Self {
            $lift(self.value.signum())
        }
        // Written with the type's own arithmetic, so each carries its companion part along.
        fn mul_add(self, a: Self, b: Self) -> Self {
            self * a + b
        }
        fn log(self, base: Self) -> Self {
            self.ln() / base.ln()
        }
        fn hypot(self, b: Self) -> Self {
            (self * self + b * b).sqrt()
        }
        fn sin_cos(self) -> (Self, Self) {
            (self.sin(), self.cos())
        }
        fn abs_sub(self, b: Self) -> Self {
            (self - b).max(<Self as num_traits::Zero>::zero())
        }
        /// The larger by value, the whole number kept (NaN loses, as in `f64::max`).
        fn max(self, b: Self) -> Self {
            if b.value > self.value || self.value.is_nan() {
                b
            } else {
                self
            }
        }
        /// The smaller by value, the whole number kept (NaN loses, as in `f64::min`).
        fn min(self, b: Self) -> Self {
            if b.value < self.value || self.value.is_nan() {
                b
            } else {
                self
            }
        }
    };
}
pub(crate) use companion_float_plumbing;
