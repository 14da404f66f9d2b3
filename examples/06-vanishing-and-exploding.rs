//! # 6. Vanishing and exploding gradients
//!
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
//!
//! Part 1 takes `W_h = ρ·Q` with `Q` orthogonal, so that `ρ` is every singular value at once,
//! and shows `‖dh_t‖` for `ρ = 0.5, 1, 1.5` with the identity and tanh. Part 2 crosses `1/γ` for
//! tanh and sigmoid with a random symmetric `W_h`, and draws what clipping the update does to\n//! each step's part of it (it does not touch `dh_t`: the backward pass has run).
//!
//! `cargo run --release --example 06-vanishing-and-exploding` (with `-- --figures`, it writes
//! chapter 7's figure, `docs/07-gradient-norms.svg`, instead)

use std::fmt::Write;
use tapegrad::activation::Activation;
use tapegrad::case::Case;
use tapegrad::cells::Rnn;
use tapegrad::chart::{LineChart, Series};
use tapegrad::error::Result;
use tapegrad::fd::rng;
use tapegrad::gradients::Gradients;
use tapegrad::init;
use tapegrad::loss::Head;
use tapegrad::matrix::Matrix;
use tapegrad::spectral::{largest_singular_value, orthogonal};
use tapegrad::trace::{self, Writeup, log_bar_chart, number};
use tapegrad::train::{clip_global_norm, gradient_list};

/// Chapter 7's cases: `rho_case(φ, ρ)` is 30 steps of an 8-unit RNN with activation `φ`,
/// `W_h = ρ·Q` and `L = Σ h_30`, from the chapter's streams (`Q` from seed 5, `W_x` from seed
/// 6, `x_t` from seed 100 + t − 1), so that the charts show the chapter table's numbers.
pub fn rho_cases() -> impl Fn(Activation, f64) -> Result<Case<f64, Rnn>> {
    let (steps, hidden, features) = (30, 8, 4);
    let q = orthogonal(hidden, &mut rng(5));
    let w_x = init::normal(&mut rng(6), features, hidden, 0.5);
    let x: Vec<Matrix<f64>> = (0..steps)
        .map(|t| init::normal(&mut rng(100 + t as u64), 1, features, 1.0))
        .collect();
    move |activation, rho| {
        let params = vec![w_x.clone(), q.scale(rho), Matrix::zeros(1, hidden)];
        Case::new(
            Rnn::new(activation),
            params,
            x.clone(),
            vec![],
            Head::SumLast,
        )
    }
}

/// Part 1: `‖dh_t‖` against `t` for `W_h = ρ·Q` (`Q` orthogonal, so `ρ` is both the spectral radius and
/// the largest singular value) with `ρ ∈ {0.5, 1.0, 1.5}`, for tanh and identity activations:
/// the picture of vanishing and exploding gradients.
pub fn orthogonal_sweep() -> Result<String> {
    let (steps, hidden, features) = (30, 8, 4);
    let rho_case = rho_cases();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "‖dh_t‖ = ‖∂L/∂h_t‖ for L = Σ h_{steps}, batch 1, {features} features, {hidden} hidden, \
         W_h = ρ·Q with Q orthogonal"
    );
    let _ = writeln!(
        out,
        "Backward, dh_(t-1) = (dh_t ⊙ φ'(a_t))·W_hᵀ: each step multiplies by W_hᵀ (norm ρ) \
         and by φ' ≤ 1.\n"
    );
    for activation in [Activation::Identity, Activation::Tanh] {
        for rho in [0.5, 1.0, 1.5] {
            let g = rho_case(activation, rho)?.bptt()?;
            // Every third step, and the first: ten bars a chart.
            let rows: Vec<(String, f64)> = (1..=steps)
                .rev()
                .filter(|t| t % 3 == 0 || *t == 1)
                .map(|t| (format!("t={t}"), g.dh(t).norm()))
                .collect();
            let title = format!(
                "{activation}, ρ = {rho}: ‖dh_1‖ / ‖dh_{steps}‖ = {}",
                trace::short(g.dh(1).norm() / g.dh(steps).norm())
            );
            out.push_str(&trace::log_bar_chart(&title, &rows));
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "Identity: ‖dh_t‖ = ρ^(T−t)·‖dh_T‖ exactly (Q keeps norms), so 0.5 vanishes, 1.0 holds, \
         1.5 explodes.\ntanh: φ' = 1 − h² < 1 shrinks every step, and large states saturate \
         (φ' → 0), so even ρ = 1.5 need not explode."
    );
    Ok(out)
}

/// The figure of chapter 7: `‖dh_t‖` against `t` for tanh with `W_h = ρ·Q`, `ρ = 0.5, 1, 1.5`
/// (chapter 7's streams), on one log axis, each beside its bound `(γ·ρ)^(T−t)·‖dh_T‖` (dashed;
/// `γ = 1` for tanh): below `1/γ` every run vanishes at least that fast; above it the bound
/// allows growth that saturation takes away.
pub fn gradient_norm_figure() -> Result<String> {
    let steps = 30;
    let rho_case = rho_cases();
    let mut series = Vec::new();
    for (k, rho) in [0.5, 1.0, 1.5].into_iter().enumerate() {
        let g = rho_case(Activation::Tanh, rho)?.bptt()?;
        let last = g.dh(steps).norm();
        let points = (0..=steps).map(|t| (t as f64, g.dh(t).norm())).collect();
        series.push(Series {
            name: format!("ρ = {rho}"),
            points,
            dashed: false,
            colour: k,
        });
        let bound = (0..=steps)
            .map(|t| (t as f64, rho.powi((steps - t) as i32) * last))
            .collect();
        series.push(Series {
            name: format!("ρ = {rho} bound"),
            points: bound,
            dashed: true,
            colour: k,
        });
    }
    Ok(LineChart {
        title: format!(
            "‖dh_t‖, tanh, W_h = ρ·Q, T = {steps}; dashed: the bound (γρ)^(T−t)·‖dh_T‖, γ = 1"
        ),
        x_label: "t".into(),
        y_label: "‖dh_t‖".into(),
        log_y: true,
        series,
    }
    .svg())
}

/// Where [`gradient_norm_figure`] is committed, for chapter 7 to show.
pub const GRADIENT_NORM_FIGURE: &str = "docs/07-gradient-norms.svg";

/// Hidden units.
pub const HIDDEN: usize = 8;
/// Input features.
pub const FEATURES: usize = 2;
/// The clipping threshold `θ` used in the charts.
pub const CLIP: f64 = 1.0;
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
fn dh_rows(g: &Gradients<f64>) -> Vec<(String, f64)> {
    (1..=g.steps.len())
        .rev()
        .map(|t| (format!("   t={t:<2}"), g.dh(t).norm()))
        .collect()
}

/// The rows of a bar chart of `factor·‖q[t]‖`, step `t`'s contribution to a total, from `t = T`
/// down.
fn contribution_rows(g: &Gradients<f64>, q: &str, factor: f64) -> Vec<(String, f64)> {
    (1..=g.steps.len())
        .rev()
        .map(|t| {
            let norm = g.get(t, q).map_or(f64::NAN, |m| m.norm());
            (format!("   t={t:<2}"), factor * norm)
        })
        .collect()
}

/// Inputs small enough to keep the units near their steepest point.
const SMALL_INPUTS: f64 = 0.01;

/// `‖dh_1‖ / ‖dh_T‖` of a probe.
fn ratio(g: &Gradients<f64>) -> f64 {
    g.dh(1).norm() / g.dh(g.steps.len()).norm()
}

/// Part 2: `‖dh_t‖` below and above `σ_max(W_h) = 1/γ`, and each step's part of the clipped update, over
/// sequences of `steps` steps.
pub fn run(steps: usize) -> Result<Writeup> {
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
        let _ = write!(out, "{}", log_bar_chart("   ‖dh_t‖", &dh_rows(&g)));
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
        // Clipping acts on the update, after the backward pass: dh_t is not touched (clipping
        // it inside the loop is one of chapter 8's bugs). What it scales is each step's
        // contribution to the update, dW_h[t], all by the same factor.
        if above {
            let title = format!(
                "   clipping the update: ‖g‖ = {} > θ, so g ← g·{}; step t's part of it, ‖dW_h[t]‖·{}:",
                number(norm),
                number(factor),
                number(factor)
            );
            let _ = write!(
                out,
                "{}",
                log_bar_chart(&title, &contribution_rows(&g, "dw_h", factor))
            );
        } else {
            let _ = writeln!(
                out,
                "   clipping the update: ‖g‖ = {}, g ← g·{}; every step's dW_h[t] by the same factor",
                number(norm),
                number(factor)
            );
        }
        let _ = writeln!(out);
        summary.push(g.dh(1).norm());
        summary.push(factor);
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
        "Clipping multiplies the update, and so every step's part of it, by the same θ/‖g‖: an"
    );
    let _ = writeln!(
        out,
        "exploding update gets length θ, while the steps' proportions, and so any vanishing, stay."
    );
    let keys = [
        "tanh_below_dh1",
        "tanh_below_clip_factor",
        "tanh_above_dh1",
        "tanh_above_clip_factor",
        "sigmoid_below_dh1",
        "sigmoid_below_clip_factor",
        "sigmoid_above_dh1",
        "sigmoid_above_clip_factor",
    ];
    Ok(Writeup {
        text: out,
        summary: keys.into_iter().zip(summary).collect(),
    })
}

fn main() -> Result<()> {
    // `-- --figures` writes chapter 7's figure (run from the repository's root).
    if std::env::args().any(|a| a == "--figures") {
        std::fs::write(GRADIENT_NORM_FIGURE, gradient_norm_figure()?)
            .map_err(|e| tapegrad::Error::invalid(GRADIENT_NORM_FIGURE, e.to_string()))?;
        println!("wrote {GRADIENT_NORM_FIGURE}");
        return Ok(());
    }
    println!("{}", orthogonal_sweep()?);
    print!("{}", run(20)?);
    Ok(())
}
