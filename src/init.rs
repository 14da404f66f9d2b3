//! Initializers: the starting values of the weights, drawn from a seeded generator.
//!
//! A weight matrix `W` of shape `fan_in × fan_out` maps `fan_in` inputs to `fan_out` units
//! (`W_x` is `features × hidden`, `W_h` is `hidden × hidden`, `W_out` is `hidden × classes`).
//! The scale of the draws decides whether signals and gradients keep their size from layer to
//! layer (and, in an RNN, from step to step), which is why the usual recipes scale by the fans:
//!
//! | initializer | distribution | keeps roughly constant |
//! |---|---|---|
//! | [`he`] | `N(0, 2/fan_in)` | the variance of ReLU-like outputs (He et al. 2015) |
//! | [`xavier`] | `U(−√(6/(fan_in+fan_out)), +√(6/(fan_in+fan_out)))` | forward and backward variance, tanh-like units (Glorot & Bengio 2010) |
//! | [`small_normal`] | `N(0, 0.01²)` | nothing: every signal shrinks ~100× per layer (the seed notebooks' `randn * 0.01`) |
//! | [`zeros`], [`ones`] | constant | — (biases) |
//!
//! Every draw comes from a [`ChaCha8Rng`] (see [`crate::fd::rng`]), whose stream is the same on
//! every machine, so a seed fixes a training run everywhere. Entries are drawn row by row, as
//! numpy's `randn(fan_in, fan_out)` fills its array.

use crate::matrix::Matrix;
use crate::scalar::Scalar;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// How to fill a weight matrix: one of the functions of this module, chosen by name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// [`he`]: `W ~ N(0, 2/fan_in)`.
    He,
    /// [`xavier`]: `W ~ U(−√(6/(fan_in+fan_out)), +√(6/(fan_in+fan_out)))`.
    Xavier,
    /// [`small_normal`]: `W ~ N(0, 0.01²)`.
    SmallNormal,
    /// [`zeros`]: `W = 0`.
    Zeros,
    /// [`ones`]: `W = 1`.
    Ones,
}

impl Init {
    /// A `fan_in × fan_out` matrix drawn by this initializer (the constant ones draw nothing).
    pub fn matrix(self, rng: &mut ChaCha8Rng, fan_in: usize, fan_out: usize) -> Matrix<f64> {
        match self {
            Init::He => he(rng, fan_in, fan_out),
            Init::Xavier => xavier(rng, fan_in, fan_out),
            Init::SmallNormal => small_normal(rng, fan_in, fan_out),
            Init::Zeros => zeros(fan_in, fan_out),
            Init::Ones => ones(fan_in, fan_out),
        }
    }

    /// The name used in printouts: `"He"`, `"Xavier"`, `"N(0, 0.01²)"`, `"zeros"`, `"ones"`.
    pub fn name(self) -> &'static str {
        match self {
            Init::He => "He",
            Init::Xavier => "Xavier",
            Init::SmallNormal => "N(0, 0.01²)",
            Init::Zeros => "zeros",
            Init::Ones => "ones",
        }
    }
}

/// `rows × cols` independent draws `W_ij ~ N(0, std²)`, i.e. `std · z` with `z ~ N(0, 1)`
/// drawn in f64 and rounded to `T`: the one normal stream of the crate, so the same seed gives
/// the same numbers in every use.
pub fn normal<T: Scalar>(rng: &mut ChaCha8Rng, rows: usize, cols: usize, std: f64) -> Matrix<T> {
    Matrix::from_fn(rows, cols, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        T::from_f64(std * z)
    })
}

/// He initialization: `W_ij ~ N(0, σ²)` with `σ = √(2 / fan_in)`, shape `fan_in × fan_out`.
pub fn he(rng: &mut ChaCha8Rng, fan_in: usize, fan_out: usize) -> Matrix<f64> {
    normal(rng, fan_in, fan_out, (2.0 / fan_in as f64).sqrt())
}

/// Xavier (Glorot) uniform initialization: `W_ij ~ U(−r, r)` with `r = √(6 / (fan_in + fan_out))`,
/// shape `fan_in × fan_out`. (Its variance `r²/3 = 2/(fan_in + fan_out)` averages the forward
/// and backward fans.)
pub fn xavier(rng: &mut ChaCha8Rng, fan_in: usize, fan_out: usize) -> Matrix<f64> {
    let r = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Matrix::from_fn(fan_in, fan_out, |_, _| rng.random_range(-r..r))
}

/// Small normal initialization: `W_ij ~ N(0, 0.01²)`, numpy's `np.random.randn(rows, cols) * 0.01`.
pub fn small_normal(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix<f64> {
    normal(rng, rows, cols, 0.01)
}

/// `W = 0`, numpy's `np.zeros((rows, cols))`: the usual start for biases.
pub fn zeros(rows: usize, cols: usize) -> Matrix<f64> {
    Matrix::zeros(rows, cols)
}

/// `W = 1`, numpy's `np.ones((rows, cols))`: the seed 002 notebook's bias `b = 1`.
pub fn ones(rows: usize, cols: usize) -> Matrix<f64> {
    Matrix::filled(rows, cols, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fd::rng;

    /// Sample mean and standard deviation of all entries.
    fn mean_std(m: &Matrix<f64>) -> (f64, f64) {
        let n = m.len() as f64;
        let mean = m.sum() / n;
        let var = m.map(|v| (v - mean) * (v - mean)).sum() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn he_has_standard_deviation_sqrt_2_over_fan_in() {
        let w = he(&mut rng(1), 50, 400);
        let (mean, std) = mean_std(&w);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((std - (2.0f64 / 50.0).sqrt()).abs() < 0.005, "std {std}");
    }

    #[test]
    fn xavier_stays_inside_its_bound_and_fills_it() {
        let w = xavier(&mut rng(2), 30, 70);
        let r = (6.0f64 / 100.0).sqrt();
        assert!(w.max_abs() < r);
        assert!(w.max_abs() > 0.99 * r);
        let (_, std) = mean_std(&w);
        assert!((std - r / 3.0f64.sqrt()).abs() < 0.01, "std {std}");
    }

    #[test]
    fn small_normal_has_standard_deviation_one_hundredth() {
        let (_, std) = mean_std(&small_normal(&mut rng(3), 100, 100));
        assert!((std - 0.01).abs() < 0.0005, "std {std}");
    }

    #[test]
    fn a_seed_fixes_the_draws_and_the_enum_dispatches() {
        assert_eq!(
            Init::He.matrix(&mut rng(7), 3, 4),
            he(&mut rng(7), 3, 4),
            "same seed, same matrix"
        );
        assert_ne!(he(&mut rng(7), 3, 4), he(&mut rng(8), 3, 4));
        assert_eq!(Init::Ones.matrix(&mut rng(0), 1, 2), ones(1, 2));
        assert_eq!(Init::Zeros.matrix(&mut rng(0), 2, 2), zeros(2, 2));
    }
}
