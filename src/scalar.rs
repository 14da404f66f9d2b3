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
