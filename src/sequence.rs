//! The unrolled network: one cell run over `x_1 … x_T`, plainly or recorded on a tape.
//!
//! ```text
//! state_0 = given (zeros unless given)
//! state_t = step(x_t, state_(t-1))     for t = 1..=T, the cell's step with shared parameters
//! ```
//!
//! Written once for every cell: the loop knows the cell's parameters, states and internal
//! values only by the names the cell declares ([`crate::cell::Cell`]).

use crate::cell::{Cell, Quantity, Site};
use crate::error::Result;
use crate::gradients::Keep;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::tape::{Tape, Var};

/// What the plain forward pass keeps: every state and every internal value of every step,
/// which is what hand BPTT needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward<T> {
    /// `states[s][t]`: part `s` of the state after step t, `t = 0..=T` (`t = 0` the initial
    /// state).
    states: Vec<Vec<Matrix<T>>>,
    /// `internals[i][t − 1]`: internal value `i` of step t, `t = 1..=T`.
    internals: Vec<Vec<Matrix<T>>>,
}

impl<T: Scalar> Forward<T> {
    /// Number of time steps `T`.
    pub fn steps(&self) -> usize {
        self.states[0].len() - 1
    }

    /// The state `h_t`, for `t = 0..=T` (`h_0` is the initial state).
    pub fn h(&self, t: usize) -> &Matrix<T> {
        &self.states[0][t]
    }

    /// The states `h_0 … h_T`: what the heads read.
    pub fn states(&self) -> &[Matrix<T>] {
        &self.states[0]
    }

    /// Part `s` of the state after step t, for `t = 0..=T`.
    pub fn state(&self, s: usize, t: usize) -> &Matrix<T> {
        &self.states[s][t]
    }

    /// Internal value `i` of step t (the RNN's `a_t` is `internal(0, t)`), for `t = 1..=T`.
    pub fn internal(&self, i: usize, t: usize) -> &Matrix<T> {
        assert!(
            (1..=self.steps()).contains(&t),
            "internal values exist for t = 1..=T, asked t = {t}"
        );
        &self.internals[i][t - 1]
    }

    /// Every part of the state after step t.
    pub fn state_at(&self, t: usize) -> Vec<&Matrix<T>> {
        self.states.iter().map(|s| &s[t]).collect()
    }

    /// Every internal value of step t.
    pub fn internals_at(&self, t: usize) -> Vec<&Matrix<T>> {
        self.internals.iter().map(|v| &v[t - 1]).collect()
    }
}

/// The plain forward pass of `cell` with parameters `p` over `xs` from `initial`, keeping every
/// state and internal value. Shapes must fit (see [`crate::case::Case::new`]).
pub fn forward<T: Scalar, C: Cell>(
    cell: &C,
    p: &[&Matrix<T>],
    xs: &[Matrix<T>],
    initial: &[Matrix<T>],
) -> Forward<T> {
    let mut states: Vec<Vec<Matrix<T>>> = initial
        .iter()
        .map(|s0| {
            let mut series = Vec::with_capacity(xs.len() + 1);
            series.push(s0.clone());
            series
        })
        .collect();
    let mut internals: Vec<Vec<Matrix<T>>> = C::INTERNALS
        .iter()
        .map(|_| Vec::with_capacity(xs.len()))
        .collect();
    for (i, x_t) in xs.iter().enumerate() {
        let prev: Vec<&Matrix<T>> = states.iter().map(|s| &s[i]).collect();
        let inside = cell.pre(p, &cell.project(p, x_t), &prev);
        let next = cell.post(p, inside.clone(), &prev);
        for (series, v) in internals.iter_mut().zip(inside) {
            series.push(v);
        }
        for (series, s) in states.iter_mut().zip(next) {
            series.push(s);
        }
    }
    Forward { states, internals }
}

/// Handles to the nodes a forward pass recorded on a tape.
///
/// Vectors indexed by time hold step `t` at index `t − 1`, except `states`, which holds the
/// initial state at index 0.
#[derive(Clone, Debug)]
pub struct Recording<'t, T> {
    /// The shared parameters (leaves), in the cell's order: their gradients are the totals.
    pub params: Vec<Var<'t, T>>,
    /// `copies[t − 1][i]`: step t's alias of parameter `i`, whose gradient is step t's
    /// contribution (`dW_h[t]`); empty at a step that was not untied, which reads the shared
    /// parameters themselves.
    pub copies: Vec<Vec<Var<'t, T>>>,
    /// The inputs `x_1 … x_T` (leaves).
    pub x: Vec<Var<'t, T>>,
    /// `internals[t − 1][i]`: step t's internal values (`a_t`).
    pub internals: Vec<Vec<Var<'t, T>>>,
    /// `states[t][s]`: the state after step t, `t = 0..=T` (the initial state is a leaf).
    pub states: Vec<Vec<Var<'t, T>>>,
}

impl<'t, T: Scalar> Recording<'t, T> {
    /// The states `h_0 … h_T`: what the heads read.
    pub fn h(&self) -> Vec<Var<'t, T>> {
        self.states.iter().map(|s| s[0]).collect()
    }

    /// The node whose gradient is `quantity` at step t (`t = 1..=T`); none for a parameter at
    /// a step that was not untied, whose contribution went straight into the total.
    pub fn node(&self, quantity: &Quantity, t: usize) -> Option<Var<'t, T>> {
        match quantity.site {
            Site::State(s) => Some(self.states[t][s]),
            Site::Internal(i) => Some(self.internals[t - 1][i]),
            Site::Input => Some(self.x[t - 1]),
            Site::Param(i) => self.copies[t - 1].get(i).copied(),
        }
    }
}

/// The forward pass recorded on `tape`, as a dynamic graph: the loop below is plain Rust, and
/// each pass through it appends one step's nodes.
///
/// Every step that `untie` keeps gets its *own* alias of each parameter (see [`Var::alias`]),
/// named `W_h[t]`, so after a backward sweep the alias of step t holds step t's contribution to
/// the weight's gradient, while the leaves hold the totals. The other steps read the leaves
/// directly: an alias holds a copy of the weight, which a check of a few steps of a long
/// sequence has no use for at the rest.
pub fn record<'t, T: Scalar, C: Cell>(
    cell: &C,
    tape: &'t Tape<T>,
    p: &[Matrix<T>],
    xs: &[Matrix<T>],
    initial: &[Matrix<T>],
    untie: Keep<'_>,
) -> Result<Recording<'t, T>> {
    let untied = untie.mask(xs.len());
    let params: Vec<Var<'t, T>> = C::PARAMS
        .iter()
        .zip(p)
        .map(|(param, value)| tape.named_var(param.shown, value.clone()))
        .collect();
    let first: Vec<Var<'t, T>> = C::STATES
        .iter()
        .zip(initial)
        .map(|(s, value)| tape.named_var(&format!("{}_0", s.key), value.clone()))
        .collect();
    let mut rec = Recording {
        params,
        copies: Vec::with_capacity(xs.len()),
        x: Vec::with_capacity(xs.len()),
        internals: Vec::with_capacity(xs.len()),
        states: vec![first],
    };
    for (i, x_t) in xs.iter().enumerate() {
        let t = i + 1;
        let x_t = tape.named_var(&format!("x_{t}"), x_t.clone());
        let copies: Vec<Var<'t, T>> = if untied[i] {
            C::PARAMS
                .iter()
                .zip(&rec.params)
                .map(|(param, w)| w.alias().named(&format!("{}[{t}]", param.shown)))
                .collect()
        } else {
            Vec::new()
        };
        let reads = if untied[i] { &copies } else { &rec.params };
        let step = cell.record(reads, x_t, &rec.states[i], t)?;
        rec.x.push(x_t);
        rec.copies.push(copies);
        rec.internals.push(step.internals);
        rec.states.push(step.state);
    }
    Ok(rec)
}
