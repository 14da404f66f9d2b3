//! # tapegrad
//!
//! Reverse-mode automatic differentiation on a tape, taught through the model where it is
//! hardest to get right by hand: a recurrent network trained with backpropagation through time.
//!
//! The modules build on each other in the order the tutorial teaches them:
//!
//! | module | holds |
//! |---|---|
//! | [`scalar`] | the [`Scalar`] trait: `f64`, `f32`, or any type with their arithmetic |
//! | [`matrix`] | [`Matrix`], a row-major 2-D array that prints like numpy |
//! | [`kernel`] | the fast arithmetic under it: packed matrix products, vectorized `tanh` and `σ` |
//! | [`activation`] | `φ`: tanh, sigmoid, identity, with `φ'` from the output `h` |
//! | [`tape`] | [`Tape`], [`Var`] handles and [`Grads`]: a Wengert list, one reverse loop, and forward accumulation |
//! | [`ops`] | each op's forward value beside its vector-Jacobian and Jacobian-vector products |
//! | [`cell`] | the [`Cell`] trait: a cell's named parameters, state and per-step quantities |
//! | [`cells`] | the cells, one file each: [`cells::rnn`], [`cells::lstm`], [`cells::gru`] |
//! | [`sequence`] | the unrolled forward pass of any cell, plain and recorded on a tape |
//! | [`gradients`] | gradients by name: [`gradients::Gradients`], and [`gradients::Given`] for a student's |
//! | [`loss`] | the heads: `sum_last`, `softmax_ce`, `softmax_ce_all`, `mse_all`, `mse_last`, `upstream`, with their reductions |
//! | [`bptt`] | backpropagation through time: the cell's hand-derived backward step, from `T` down |
//! | [`case`] | a complete problem (cell, parameters, inputs, head): canonical, random, or the user's |
//! | [`fast`] | the RNN's training step written for speed: hoisted hand BPTT, the tape with fused steps |
//! | [`double_double`] | double-double numbers: about 32 digits from pairs of `f64`, where `f64` rounds a finite difference away |
//! | [`dual`] | dual numbers `a + ȧε`, `ε² = 0`: a [`Scalar`] that differentiates forward |
//! | [`sites`] | where each checked gradient lives, and the loss with the value there replaced |
//! | [`forward`] | every gradient exactly, by dual numbers through the cell's own forward code |
//! | [`hvp`] | Hessian-vector products: the tape (or hand BPTT) run on dual numbers, forward over reverse |
//! | [`fd`] | finite differences on any function, the one relative-error formula, verdicts |
//! | [`bound`] | a [`Scalar`] carrying the scale of a value's round-off, every operation's rounding in quadrature |
//! | [`check`] | the per-step check of a case (hand, tape, forward, finite differences), its cost |
//! | [`init`] | initializers (He, Xavier, small normal, zeros, ones) on a seeded generator |
//! | [`train`] | SGD, momentum, Adam, clipping by the global norm, mini-batches, a loss history |
//! | [`classifier`] | [`Classifier`] of any cell ([`RnnClassifier`], the tutorial's): fit / predict / accuracy with the softmax head |
//! | [`spectral`] | `σ_max(W_h)` and orthogonal matrices: how far a backward step can stretch `dh` |
//! | [`trace`] | rendering: numpy-like traces, check tables, tape listings, charts |
//! | [`printed`] | what the command line prints, for any case: one function per trace, for snapshot tests |
//! | [`diagnose`] | where a student's gradients first go wrong, and which equation that points to |
//! | [`zoo`] | the bug zoo: BPTT mistakes students make, planted in the hand backward pass of each cell |
//! | [`tutorial`] | the chapters of `docs/`, whose code runs under `cargo test` |
//! | [`error`] | the crate's one [`Error`] type |

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod activation;
pub mod bound;
pub mod bptt;
pub mod case;
pub mod cell;
pub mod cells;
pub mod chart;
pub mod check;
pub mod classifier;
pub mod cost;
pub mod diagnose;
pub mod double_double;
pub mod dual;
pub mod error;
pub mod fast;
pub mod fd;
pub mod forward;
pub mod gated;
pub mod gradients;
pub mod graph;
pub mod hvp;
pub mod init;
pub mod kernel;
pub mod loss;
pub mod matrix;
pub mod ops;
pub mod printed;
pub mod report_page;
pub mod scalar;
pub mod sequence;
pub mod sites;
pub mod spectral;
pub mod tape;
pub mod trace;
pub mod train;
pub mod tutorial;
pub mod zoo;

pub use cell::Cell;
pub use classifier::{Classifier, RnnClassifier};
pub use error::{Error, Result};
pub use matrix::Matrix;
pub use scalar::Scalar;
pub use tape::{Grads, NodeId, Tape, Var};
