//! Vanishing and exploding gradients: `‖dh_t‖` against `t` as the largest singular value of
//! `W_h` crosses `1/γ`.
//!
//! Backward through one step, `dh_(t-1) = (dh_t ⊙ φ'(a_t))·W_hᵀ`, so
//!
//! ```text
//! ‖dh_(t-1)‖ ≤ γ · σ_max(W_h) · ‖dh_t‖,     γ = max φ' (1 for tanh, 1/4 for sigmoid)
//! ```
//!
//! When `σ_max(W_h) < 1/γ` every step shrinks the gradient by at least that factor: it vanishes
//! geometrically, whatever the inputs (Pascanu, Mikolov & Bengio 2013). Above `1/γ` it *can*
//! grow geometrically: it does while the units stay near their steepest point (`φ' ≈ γ`), and
//! saturation (`φ' → 0`) can still make it shrink. Clipping by the global norm rescales the
//! whole gradient at once: it bounds the size of an update, and leaves the proportions between
//! steps (and so any vanishing) exactly as they were.

use super::Report;
use crate::activation::Activation;
use crate::case::Case;
use crate::cells::Rnn;
use crate::error::{Error, Result};
use crate::fd::rng;
use crate::gradients::Gradients;
use crate::init;
use crate::loss::Head;
use crate::matrix::Matrix;
use crate::trace::{log_bar_chart, number};
use crate::train::{clip_global_norm, gradient_list};
use std::fmt::Write;

/// Hidden units.
pub const HIDDEN: usize = 8;
/// Input features.
pub const FEATURES: usize = 2;
/// The clipping threshold `θ` used in the charts.
pub const CLIP: f64 = 1.0;
/// Iterations of the power method.
const POWER_ITERATIONS: usize = 500;

/// The largest singular value `σ_max(W) = √λ_max(WᵀW)`, by power iteration on `WᵀW`:
///
/// ```text
/// v ← WᵀW·v / ‖WᵀW·v‖   (500 times, from a fixed N(0, 1) vector of ChaCha8 seed 0)
/// σ_max ≈ ‖W·v‖
/// ```
///
/// `WᵀW` is symmetric and positive semi-definite, so the iteration turns `v` towards its top
/// eigenvector, whose eigenvalue is `σ_max²`. (A start orthogonal to that eigenvector would
/// stall; a random start is one with probability 1.)
pub fn largest_singular_value(w: &Matrix<f64>) -> Result<f64> {
    let n = w.cols();
    if n == 0 || w.rows() == 0 {
        return Err(Error::bad_shape(
            "largest_singular_value",
            "a non-empty matrix",
            "0 rows or columns",
        ));
    }
    let wtw = w.transpose().matmul(w)?;
    let mut v = init::normal(&mut rng(0), n, 1, 1.0);
    v = v.scale(1.0 / v.norm());
    for _ in 0..POWER_ITERATIONS {
        let next = wtw.matmul(&v)?;
        let norm = next.norm();
        if norm == 0.0 {
            return Ok(0.0);
        }
        v = next.scale(1.0 / norm);
    }
    Ok(w.matmul(&v)?.norm())
}

/// The shape of a random `W_h` before scaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `S = Z + Zᵀ` with `Z ~ N(0, 1)`: symmetric, so its largest |eigenvalue| equals its
    /// largest singular value and repeated multiplication can grow a vector by `σ_max` per step.
    Symmetric,
    /// `S = Z ~ N(0, 1)`: its largest |eigenvalue| is typically well below `σ_max`.
    Gaussian,
}

/// A `HIDDEN × HIDDEN` matrix `W_h = S · s/σ_max(S)`, with `S` of the given shape drawn from
/// ChaCha8 seed `seed`: its largest singular value is `s`.
pub fn recurrent_weights(shape: Shape, seed: u64, s: f64) -> Result<Matrix<f64>> {
    let z = init::normal(&mut rng(seed), HIDDEN, HIDDEN, 1.0);
    let base = match shape {
        Shape::Symmetric => z.add(&z.transpose())?,
        Shape::Gaussian => z,
    };
    Ok(base.scale(s / largest_singular_value(&base)?))
}

/// The probe: one sequence of `steps` steps with inputs `x_t ~ N(0, input_std²)`, Xavier
/// `W_x`, the given `W_h`, and the loss `L = Σ h_T` (so `dh_T = 1`). The bias puts every unit
/// at its steepest point when the inputs are 0: `b = 0` for tanh (`h = 0`, `φ' = 1`), and
/// `b = −½·1ᵀW_h` for sigmoid (`h = ½`, `φ' = ¼`), with `h_0` at that point.
pub fn probe(
    activation: Activation,
    w_h: Matrix<f64>,
    steps: usize,
    input_std: f64,
) -> Result<Case<f64>> {
    let mut r = rng(1);
    let w_x = init::xavier(&mut r, FEATURES, HIDDEN);
    let x = (0..steps)
        .map(|_| init::normal(&mut r, 1, FEATURES, input_std))
        .collect();
    let (b, h0) = match activation {
        Activation::Sigmoid => {
            let half = Matrix::filled(1, HIDDEN, 0.5);
            (half.matmul(&w_h)?.scale(-1.0), half)
        }
        Activation::Tanh | Activation::Identity => (init::zeros(1, HIDDEN), init::zeros(1, HIDDEN)),
    };
    let cell = Rnn::new(activation);
    Case::new(cell, vec![w_x, w_h, b], x, vec![Some(h0)], Head::SumLast)
}

/// `(t, ‖dh_t‖)` for `t = T … 1`, scaled by `factor`.
fn dh_rows(g: &Gradients<f64>, factor: f64) -> Vec<(String, f64)> {
    (1..=g.steps.len())
        .rev()
        .map(|t| (format!("   t={t:<2}"), factor * g.dh(t).norm()))
        .collect()
}

/// Inputs small enough to keep the units near their steepest point.
const SMALL_INPUTS: f64 = 0.01;

/// `‖dh_1‖ / ‖dh_T‖` of a probe.
fn ratio(g: &Gradients<f64>) -> f64 {
    g.dh(1).norm() / g.dh(g.steps.len()).norm()
}

/// Runs the experiment over sequences of `steps` steps.
pub fn run(steps: usize) -> Result<Report> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Vanishing and exploding gradients: ‖dh_t‖ = ‖∂L/∂h_t‖ against t, with L = Σ h_T"
    );
    let _ = writeln!(
        out,
        "{HIDDEN} hidden units, {steps} steps, inputs x_t ~ N(0, {SMALL_INPUTS}²), units start at their steepest point"
    );
    let _ = writeln!(
        out,
        "W_h = S·s/σ_max(S) with S = Z + Zᵀ, Z ~ N(0, 1): symmetric, largest singular value s"
    );
    let _ = writeln!(
        out,
        "backward per step: ‖dh_(t-1)‖ ≤ γ·σ_max(W_h)·‖dh_t‖ with γ = max φ'; threshold σ_max = 1/γ"
    );
    let _ = writeln!(
        out,
        "clipping: g ← θ·g/‖g‖ when ‖g‖ > θ = {CLIP}, ‖g‖ over dW_x, dW_h, db together"
    );
    let _ = writeln!(out);
    let cases = [
        (Activation::Tanh, 0.5),
        (Activation::Tanh, 1.5),
        (Activation::Sigmoid, 2.0),
        (Activation::Sigmoid, 6.0),
    ];
    let mut summary = Vec::new();
    for (i, (activation, s)) in cases.into_iter().enumerate() {
        let w_h = recurrent_weights(Shape::Symmetric, 10, s)?;
        let sigma = largest_singular_value(&w_h)?;
        let gamma = activation.max_slope();
        let probed = probe(activation, w_h, steps, SMALL_INPUTS)?;
        let g = probed.bptt()?;
        let above = gamma * sigma > 1.0;
        let _ = writeln!(
            out,
            "{}. {activation}, σ_max(W_h) = {sigma:.4} (power iteration), γ = {gamma}: γ·σ_max = {:.4}, {} 1",
            i + 1,
            gamma * sigma,
            if above { "above" } else { "below" }
        );
        let _ = write!(
            out,
            "{}",
            log_bar_chart("   ‖dh_t‖ without clipping", &dh_rows(&g, 1.0))
        );
        let _ = writeln!(
            out,
            "   ‖dh_1‖/‖dh_{steps}‖ = {}; (γ·σ_max)^{} = {}",
            number(ratio(&g)),
            steps - 1,
            number((gamma * sigma).powi(steps as i32 - 1))
        );
        let mut grads: Vec<Matrix<f64>> = gradient_list(&probed, &g)?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        let norm = clip_global_norm(&mut grads, CLIP);
        let factor = if norm > CLIP { CLIP / norm } else { 1.0 };
        if above {
            let title = format!(
                "   ‖dh_t‖ with clipping: ‖g‖ = {} > θ, so every step is scaled by θ/‖g‖ = {}",
                number(norm),
                number(factor)
            );
            let _ = write!(out, "{}", log_bar_chart(&title, &dh_rows(&g, factor)));
        } else {
            let _ = writeln!(
                out,
                "   with clipping: ‖g‖ = {}, every step scaled by {}: the decay is the same",
                number(norm),
                number(factor)
            );
        }
        let _ = writeln!(out);
        summary.push(g.dh(1).norm());
        summary.push(factor * g.dh(1).norm());
    }

    let _ = writeln!(out, "Above 1/γ the gradient can explode; it need not:");
    let tanh_high = recurrent_weights(Shape::Symmetric, 10, 1.5)?;
    let saturated = probe(Activation::Tanh, tanh_high, steps, 1.0)?.bptt()?;
    let _ = writeln!(
        out,
        "   tanh, σ_max = 1.5, inputs N(0, 1) instead: ‖dh_1‖/‖dh_{steps}‖ = {}: the states saturate",
        number(ratio(&saturated))
    );
    let _ = writeln!(
        out,
        "   (1 − h² → 0), and the slopes, not W_h, set the rate."
    );
    let gaussian = recurrent_weights(Shape::Gaussian, 10, 1.5)?;
    let non_symmetric = probe(Activation::Tanh, gaussian, steps, SMALL_INPUTS)?.bptt()?;
    let _ = writeln!(
        out,
        "   tanh, σ_max = 1.5, W_h = Z·s/σ_max(Z) not symmetric: ‖dh_1‖/‖dh_{steps}‖ = {}: over many",
        number(ratio(&non_symmetric))
    );
    let _ = writeln!(
        out,
        "   steps the growth rate is W_h's largest |eigenvalue|, which σ_max only bounds."
    );
    let _ = writeln!(
        out,
        "Clipping multiplies every step's gradient by the same θ/‖g‖: an exploding update gets"
    );
    let _ = writeln!(
        out,
        "length θ, while ‖dh_1‖/‖dh_T‖, and so any vanishing, stays as it was."
    );
    let keys = [
        "tanh_below_dh1",
        "tanh_below_clipped_dh1",
        "tanh_above_dh1",
        "tanh_above_clipped_dh1",
        "sigmoid_below_dh1",
        "sigmoid_below_clipped_dh1",
        "sigmoid_above_dh1",
        "sigmoid_above_clipped_dh1",
    ];
    Ok(Report {
        text: out,
        summary: keys.into_iter().zip(summary).collect(),
    })
}
