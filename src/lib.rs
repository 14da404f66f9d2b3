//! # tapegrad
//!
//! Reverse-mode automatic differentiation on a tape, taught through the model where it is
//! hardest to get right by hand: a recurrent network trained with backpropagation through time.
//!
//! The modules build on each other in the order the tutorial teaches them:
//!
//! | module | holds |
//! |---|---|
//! | [`scalar`] | the [`Scalar`] trait: `f64` and `f32` |
//! | [`matrix`] | [`Matrix`], a row-major 2-D array that prints like numpy |
//! | [`tape`] | [`Tape`], [`Var`] handles and [`Grads`]: a Wengert list and one reverse loop |
//! | [`ops`] | each op's forward value beside its vector-Jacobian product |
//! | [`check`] | central finite differences and the one relative-error formula |
//! | [`error`] | the crate's one [`Error`] type |

pub mod check;
pub mod error;
pub mod matrix;
pub mod ops;
pub mod scalar;
pub mod tape;

pub use error::{Error, Result};
pub use matrix::Matrix;
pub use scalar::Scalar;
pub use tape::{Grads, NodeId, Tape, Var};
