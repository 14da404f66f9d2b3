//! Diagnosis: where a student's BPTT gradients go wrong, and which equation that points to.
//!
//! Errors in a backward pass travel backward in time, so the place to look is where an error
//! *enters*: walking from `t = T` down to 1, the first step that disagrees with the tape, and
//! within it the first quantity in the order the backward pass computes them,
//! `dh → da → dx, dW_x[t], dW_h[t], db[t]`. Everything before that point in the walk agreed,
//! so the equation that produced the first wrong quantity is the one to fix.

use crate::activation::Activation;
use crate::check::{Quantity, Total, abs_error_of, relative_error_of};
use crate::matrix::Matrix;
use crate::rnn::Gradients;
use std::fmt::Write;

/// Relative error above which a given gradient disagrees with the tape.
///
/// A correct float64 numpy backward pass agrees with the tape to about 1e-14: the same
/// arithmetic in another order. A mistake in an equation is off by far more than 1e-7 (usually
/// by tens of percent), so the threshold separates the two with room on both sides. Gradients
/// computed in float32 do not meet it.
pub const TOLERANCE: f64 = 1e-7;

/// Gradients handed in for diagnosis: any subset of what [`Gradients`] holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given {
    /// The loss, if given.
    pub loss: Option<f64>,
    /// Totals, `∂L/∂h_0` and head parameters that were given.
    pub totals: Vec<(Total, Matrix<f64>)>,
    /// For step `t` (index `t − 1`), the quantities that were given.
    pub steps: Vec<Vec<(Quantity, Matrix<f64>)>>,
}

impl Given {
    /// Everything in `g`: a full set, as a complete backward pass would export it.
    pub fn all(g: &Gradients<f64>) -> Given {
        let mut totals = vec![
            (Total::WX, g.w_x.clone()),
            (Total::WH, g.w_h.clone()),
            (Total::B, g.b.clone()),
            (Total::H0, g.dh0.clone()),
        ];
        if let Some((w_out, b_out)) = &g.head {
            totals.push((Total::WOut, w_out.clone()));
            totals.push((Total::BOut, b_out.clone()));
        }
        Given {
            loss: Some(g.loss),
            totals,
            steps: g
                .steps
                .iter()
                .map(|s| {
                    Quantity::ALL
                        .iter()
                        .map(|&q| (q, q.of(s).clone()))
                        .collect()
                })
                .collect(),
        }
    }

    /// The same set keeping only the totals (what a training loop usually exports).
    pub fn totals_only(mut self) -> Given {
        for step in &mut self.steps {
            step.clear();
        }
        self
    }

    /// The given value of `q` at step `t`, if any.
    pub fn get(&self, t: usize, q: Quantity) -> Option<&Matrix<f64>> {
        self.steps
            .get(t.checked_sub(1)?)?
            .iter()
            .find(|(k, _)| *k == q)
            .map(|(_, m)| m)
    }
}

/// One given quantity compared with the tape.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The step (`0` for totals and `∂L/∂h_0`).
    pub t: usize,
    /// The key of the quantity: `dh`, `da`, …, or a total's `w_x`, `h0`, ….
    pub name: &'static str,
    /// Relative error against the tape (+∞ for NaN or infinity).
    pub rel: f64,
    /// `‖given − tape‖`, the Frobenius norm of the error (+∞ for NaN or infinity).
    pub error_norm: f64,
    /// True when `rel ≤ TOLERANCE`.
    pub ok: bool,
}

/// The verdict on a set of given gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    /// True when everything given agrees with the tape.
    pub ok: bool,
    /// Where the error enters: `(t, quantity)`, walking from `t = T` down.
    pub first_mismatch: Option<(usize, Quantity)>,
    /// What that points to, in words.
    pub explanation: String,
    /// Every given quantity, per step from `t = T` down, then the totals.
    pub findings: Vec<Finding>,
    /// The given loss and the tape's, when a loss was given.
    pub loss: Option<(f64, f64)>,
}

fn compare(t: usize, name: &'static str, given: &Matrix<f64>, tape: &Matrix<f64>) -> Finding {
    let rel = relative_error_of(given.as_slice(), tape.as_slice());
    let error_norm = if abs_error_of(given.as_slice(), tape.as_slice()).is_finite() {
        given.sub(tape).map_or(f64::INFINITY, |d| d.norm())
    } else {
        f64::INFINITY
    };
    Finding {
        t,
        name,
        rel,
        error_norm,
        ok: rel <= TOLERANCE,
    }
}

/// Compares what `given` holds with the tape's gradients `tape` and explains where the first
/// error enters; `activation` is the case's `φ`, whose derivative the explanation of a wrong
/// `da` names. Shapes must already match (the JSON reader checks them).
pub fn diagnose(tape: &Gradients<f64>, given: &Given, activation: Activation) -> Diagnosis {
    let steps = tape.steps.len();
    let mut findings = Vec::new();
    let mut first_mismatch = None;
    for t in (1..=steps).rev() {
        for q in Quantity::ALL {
            let Some(m) = given.get(t, q) else { continue };
            let finding = compare(t, q.name(), m, q.of(tape.step(t)));
            if !finding.ok && first_mismatch.is_none() {
                first_mismatch = Some((t, q));
            }
            findings.push(finding);
        }
    }
    let mut wrong_totals = Vec::new();
    for (total, m) in &given.totals {
        let Some(reference) = total.of(tape) else {
            continue;
        };
        let finding = compare(0, total.name(), m, reference);
        if !finding.ok {
            wrong_totals.push(total.name());
        }
        findings.push(finding);
    }
    let loss = given.loss.map(|l| (l, tape.loss));
    let loss_wrong = loss.is_some_and(|(g, t)| relative_error_of(&[g], &[t]) > TOLERANCE);
    let ok = findings.iter().all(|f| f.ok) && !loss_wrong;
    let explanation = explain(
        given,
        steps,
        first_mismatch,
        &wrong_totals,
        loss_wrong,
        &findings,
        activation,
    );
    Diagnosis {
        ok,
        first_mismatch,
        explanation,
        findings,
        loss,
    }
}

/// Whether `q` at step `t` was given and agreed.
fn agreed(findings: &[Finding], t: usize, q: Quantity) -> Option<bool> {
    findings
        .iter()
        .find(|f| f.t == t && f.name == q.name())
        .map(|f| f.ok)
}

/// The words of a diagnosis.
fn explain(
    given: &Given,
    steps: usize,
    first: Option<(usize, Quantity)>,
    wrong_totals: &[&str],
    loss_wrong: bool,
    findings: &[Finding],
    activation: Activation,
) -> String {
    let mut out = String::new();
    if loss_wrong {
        out.push_str(
            "The loss itself disagrees: the forward pass or the loss differs from the case \
             (check that the arrays exported are the ones the gradients were computed from). ",
        );
    }
    let Some((t, q)) = first else {
        let any_steps = given.steps.iter().any(|s| !s.is_empty());
        if wrong_totals.is_empty() {
            if !loss_wrong {
                out.push_str("Everything given agrees with the tape.");
            }
        } else if any_steps {
            let _ = write!(
                out,
                "Every per-step value given agrees, but the totals {} do not: a total must be \
                 the sum over steps of the per-step contributions, e.g. dW_h = Σ_t dW_h[t] \
                 (look for a step left out of the sum, or a scaling such as clipping or an \
                 average applied to the total only).",
                wrong_totals.join(", ")
            );
        } else {
            let _ = write!(
                out,
                "The totals {} disagree with the tape. Only totals were given, so the error \
                 cannot be placed in time: export the per-step values (\"steps\": dh, da, dx, \
                 dw_x, dw_h, db for every t) and run again to find the step and the equation \
                 where it enters.",
                wrong_totals.join(", ")
            );
        }
        return out;
    };
    let later = |q: Quantity| agreed(findings, t + 1, q);
    let here = |q: Quantity| agreed(findings, t, q);
    let _ = write!(
        out,
        "The first error, walking back from t = {steps}, is {} at t = {t}. ",
        q.name()
    );
    let (equation, hint) = match q {
        Quantity::Dh if t == steps => (
            format!("dh_{t} = ∂ℓ/∂h_{t}"),
            "the gradient of the loss with respect to the last state: check the head's \
             derivative (sum_last: ones; softmax_ce: (P − Y)/B · W_outᵀ, with the same 1/B \
             as the loss's mean over the batch; mse: h − y, with its own factor), and anything \
             done to it afterwards, such as clipping (which belongs in the optimizer, after the \
             check)"
                .to_string(),
        ),
        Quantity::Dh => (
            format!("dh_{t} = da_{}·W_hᵀ + ∂ℓ/∂h_{t}", t + 1),
            match later(Quantity::Da) {
                Some(true) => format!(
                    "da_{} is right, so the recurrence itself is wrong: W_hᵀ (not W_h), da_{} \
                     (not dh_{}), the recurrent term not forgotten, the head's direct term \
                     ∂ℓ/∂h_{t} only where the loss touches h_{t}, and no rescaling such as \
                     clipping",
                    t + 1,
                    t + 1,
                    t + 1
                ),
                _ => format!(
                    "da_{} was not given, so the error may also have entered at t = {}",
                    t + 1,
                    t + 1
                ),
            },
        ),
        Quantity::Da => {
            let before = t - 1;
            let (derivative, why) = match activation {
                Activation::Tanh => (
                    format!("(1 − h_{t}²)"),
                    format!(
                        "it takes the state h_{t} = tanh(a_{t}) itself: not tanh(h_{t}), not \
                         a_{t}, not h_{before}, not the last state"
                    ),
                ),
                Activation::Sigmoid => (
                    format!("h_{t}(1 − h_{t})"),
                    format!(
                        "it takes the state h_{t} = σ(a_{t}) itself: not σ(h_{t}), not a_{t}, \
                         not h_{before}, not the last state"
                    ),
                ),
                Activation::Identity => (
                    "1".to_string(),
                    format!("with the identity, da_{t} must equal dh_{t}"),
                ),
            };
            (
                format!("da_{t} = dh_{t} ⊙ φ'(a_{t}) = dh_{t} ⊙ {derivative} for {activation}"),
                match here(Quantity::Dh) {
                    Some(true) => {
                        format!("dh_{t} is right, so the activation derivative is wrong: {why}")
                    }
                    _ => format!("dh_{t} was not given, so the error may be in dh_{t} instead"),
                },
            )
        }
        Quantity::Dx => (
            format!("dx_{t} = da_{t}·W_xᵀ"),
            "da is right (or not given), so look at this product: da, not dh, times W_x \
             transposed"
                .to_string(),
        ),
        Quantity::DwX => (
            format!("dW_x[{t}] = x_{t}ᵀ·da_{t}"),
            format!(
                "da_{t} is right (or not given), so look at the input: x_{t} of this very step, transposed"
            ),
        ),
        Quantity::DwH => (
            format!("dW_h[{t}] = h_{}ᵀ·da_{t}", t - 1),
            format!(
                "da_{t} is right (or not given), so look at the state: h_{} (the state that \
                 went into step {t}) versus h_{t} (the one that came out), and at the wrap of \
                 a negative index at t = 1",
                t - 1
            ),
        ),
        Quantity::Db => (
            format!("db[{t}] = Σ_batch da_{t}"),
            "da is right (or not given), so look at the reduction: a sum over the batch axis \
             (axis 0), not a mean and not over the hidden axis"
                .to_string(),
        ),
    };
    let _ = write!(out, "It comes from {equation}: {hint}.");
    if !wrong_totals.is_empty() {
        let _ = write!(
            out,
            " The totals {} disagree as a consequence.",
            wrong_totals.join(", ")
        );
    }
    out
}
