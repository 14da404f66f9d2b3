//! The activation `φ` of `h_t = φ(a_t)`: tanh, the sigmoid σ, or the identity, with the
//! derivative written in terms of the output, `φ'(a_t)` from `h_t`, which is how the backward
//! pass uses it.
//!
//! `apply` and `derivative_from_output` are the readable definitions; `apply_in_place` and
//! `backward_in_place` compute the same over whole slices on the vectorized functions of
//! [`crate::kernel`], which are tested against them.

use crate::error::{Error, Result};
use crate::kernel;
use crate::scalar::Scalar;
use std::fmt;

/// `σ(x) = 1 / (1 + e^(−x))`, evaluated so that neither branch can overflow: for `x < 0` it uses
/// the equal form `e^x / (1 + e^x)`.
///
/// This is the readable definition; the tape and the RNN compute σ over large matrices with
/// [`crate::kernel::sigmoid_in_place`], which is tested against it.
pub fn sigmoid<T: Scalar>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// The activation `φ` in `h_t = φ(a_t)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// `φ(a) = tanh(a)`, `φ'(a) = 1 − tanh(a)² = 1 − h²`.
    #[default]
    Tanh,
    /// `φ(a) = σ(a) = 1 / (1 + e^(−a))`, `φ'(a) = σ(a)(1 − σ(a)) = h(1 − h)`.
    Sigmoid,
    /// `φ(a) = a`, `φ'(a) = 1`: a linear RNN.
    Identity,
}

impl Activation {
    /// Every activation: what a test that should hold for any RNN loops over.
    pub const ALL: [Activation; 3] = [Activation::Tanh, Activation::Sigmoid, Activation::Identity];

    /// Parses the names a case file uses: `"tanh"`, `"sigmoid"`, `"identity"`.
    pub fn parse(name: &str) -> Result<Activation> {
        match name {
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            "identity" => Ok(Activation::Identity),
            other => Err(Error::invalid(
                "activation",
                format!(
                    "unknown activation {other:?}; expected \"tanh\", \"sigmoid\" or \"identity\""
                ),
            )),
        }
    }

    /// The name a case file uses.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Identity => "identity",
        }
    }

    /// `h = φ(a)` for one number, by the standard `tanh` and [`sigmoid`].
    pub fn apply<T: Scalar>(self, a: T) -> T {
        match self {
            Activation::Tanh => a.tanh(),
            Activation::Sigmoid => sigmoid(a),
            Activation::Identity => a,
        }
    }

    /// `h = φ(a)` for every entry, in place. A slice of at least [`kernel::VECTOR_MIN_LEN`]
    /// entries goes to the vectorized [`kernel::tanh_in_place`] or [`kernel::sigmoid_in_place`]
    /// (within 3 ulp of [`Activation::apply`]); a shorter one is computed by `apply` itself, so
    /// small examples keep the standard function's last digit.
    pub fn apply_in_place<T: Scalar>(self, a: &mut [T]) {
        if a.len() < kernel::VECTOR_MIN_LEN {
            a.iter_mut().for_each(|v| *v = self.apply(*v));
            return;
        }
        self.apply_in_place_vectorized(a);
    }

    /// `a ← φ(a)` on the vector code at every length, within 3 ulp of the standard functions:
    /// for the training paths ([`crate::fast::Bptt`]), which print nothing and so have no digit
    /// of a tutorial to keep. In the canonical example's training step, libm's `tanh` of four
    /// numbers at a time was a tenth of the instructions.
    pub fn apply_in_place_vectorized<T: Scalar>(self, a: &mut [T]) {
        match self {
            Activation::Tanh => kernel::tanh_in_place(a),
            Activation::Sigmoid => kernel::sigmoid_in_place(a),
            Activation::Identity => {}
        }
    }

    /// `φ'(a)` written in terms of the output `h = φ(a)`, which the forward pass already keeps:
    /// `1 − h²` for tanh, `h(1 − h)` for sigmoid, `1` for identity.
    pub fn derivative_from_output<T: Scalar>(self, h: T) -> T {
        match self {
            Activation::Tanh => T::one() - h * h,
            Activation::Sigmoid => h * (T::one() - h),
            Activation::Identity => T::one(),
        }
    }

    /// `da = dh ⊙ φ'(a)` over whole slices, with `φ'` written in terms of the outputs `h` as in
    /// [`Activation::derivative_from_output`] (the same numbers): one loop per activation, so
    /// that each runs on vector instructions.
    pub fn backward_in_place<T: Scalar>(self, dh: &[T], h: &[T], da: &mut [T]) {
        let (dh, h) = (&dh[..da.len()], &h[..da.len()]);
        let one = T::one();
        kernel::wide(|| match self {
            Activation::Tanh => {
                for ((da, &g), &h) in da.iter_mut().zip(dh).zip(h) {
                    *da = g * (one - h * h);
                }
            }
            Activation::Sigmoid => {
                for ((da, &g), &h) in da.iter_mut().zip(dh).zip(h) {
                    *da = g * (h * (one - h));
                }
            }
            Activation::Identity => da.copy_from_slice(dh),
        });
    }

    /// The largest slope `γ = max φ'`: 1 for tanh and identity, 1/4 for sigmoid. Each backward
    /// step multiplies `dh` by at most `γ·σ_max(W_h)`, so when the largest singular value
    /// `σ_max(W_h) < 1/γ` gradients through many steps are sure to vanish; above `1/γ` they
    /// may explode, but need not (Pascanu et al. 2013).
    pub fn max_slope(self) -> f64 {
        match self {
            Activation::Sigmoid => 0.25,
            Activation::Tanh | Activation::Identity => 1.0,
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
