//! Diagnosis: where a student's BPTT gradients go wrong, and which equation that points to.
//!
//! Errors in a backward pass travel backward in time, so the place to look is where an error
//! *enters*: walking from `t = T` down to 1, the first step that disagrees with the tape, and
//! within it the first quantity in the order the backward pass computes them (for the RNN
//! `dh → da → dx, dW_x[t], dW_h[t], db[t]`). Everything before that point in the walk agreed,
//! so the equation that produced the first wrong quantity is the one to fix; the cell says
//! which equation that is ([`Cell::explain`]).

use crate::case::Case;
use crate::cell::DX;
use crate::cell::{Cell, quantities};
use crate::check::{NonFiniteAt, first_non_finite, reference_gradients};
use crate::error::Result;
use crate::fd::{ROUNDOFF, abs_error_of, relative_error_of};
use crate::gradients::{Dtype, Given, Gradients};
use crate::matrix::Matrix;
use std::fmt::Write;

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
    /// True when `rel` is within the tolerance of the given values' precision.
    pub ok: bool,
}

/// The verdict on a set of given gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    /// True when everything given agrees with the tape.
    pub ok: bool,
    /// Where the error enters: `(t, quantity)`, walking from `t = T` down.
    pub first_mismatch: Option<(usize, &'static str)>,
    /// The cell's per-step quantities, in order: the columns of a diagnosis table.
    pub quantities: Vec<&'static str>,
    /// What that points to, in words.
    pub explanation: String,
    /// Every given quantity, per step from `t = T` down, then the totals.
    pub findings: Vec<Finding>,
    /// The given loss and the tape's, when a loss was given.
    pub loss: Option<(f64, f64)>,
    /// The precision of the given values, and so the tolerance applied
    /// ([`Dtype::tolerance`]).
    pub dtype: Dtype,
    /// What is worth knowing but is no error: a loss that differs while every gradient agrees.
    pub warnings: Vec<String>,
    /// What the gradients were compared with, in words: `"the tape"`, or `"the tape in
    /// double-double"` ([`crate::check::reference_gradients`]).
    pub reference: &'static str,
    /// Where the case itself first stops computing to finite numbers, if it does
    /// ([`referee`] fills it in; then nothing given can agree).
    pub non_finite: Option<NonFiniteAt>,
}

/// `given` against `tape` at the relative tolerance `tol`, or entry by entry within the
/// round-off `ROUNDOFF·ε·scale_i` of the given precision (`ε`) on terms of size `scale_i`: a
/// difference that small is rounding, whatever the relative error, and names no equation.
fn compare(t: usize, name: &'static str, given: &[f64], tape: &[f64], tol: Tolerance) -> Finding {
    let rel = relative_error_of(given, tape);
    let within_roundoff = given.len() == tol.scale.len()
        && given
            .iter()
            .zip(tape)
            .zip(tol.scale)
            .all(|((g, r), m)| m.is_finite() && (g - r).abs() <= ROUNDOFF * tol.epsilon * m);
    let error_norm = if abs_error_of(given, tape).is_finite() {
        given
            .iter()
            .zip(tape)
            .map(|(g, t)| (g - t) * (g - t))
            .sum::<f64>()
            .sqrt()
    } else {
        f64::INFINITY
    };
    Finding {
        t,
        name,
        rel,
        error_norm,
        ok: rel.is_finite() && (rel <= tol.relative || within_roundoff),
    }
}

/// What a comparison allows: a relative error, and the round-off of the entries' terms.
#[derive(Clone, Copy)]
struct Tolerance<'a> {
    relative: f64,
    epsilon: f64,
    scale: &'a [f64],
}

impl Tolerance<'_> {
    /// The tolerance of values given in `dtype`, on entries whose round-off has the scale
    /// `scale`.
    fn of(dtype: Dtype, scale: &[f64]) -> Tolerance<'_> {
        Tolerance {
            relative: dtype.tolerance(),
            epsilon: dtype.epsilon(),
            scale,
        }
    }
}

/// The entries of `m`, or none.
fn entries(m: Option<&Matrix<f64>>) -> &[f64] {
    m.map_or(&[], Matrix::as_slice)
}

/// Compares what `given` holds with the tape's gradients `tape` and explains where the first
/// error enters, by the equations of `cell`, the case's cell. Shapes must already match (the
/// JSON reader checks them).
///
/// A given entry agrees when the relative error of its quantity is within the tolerance of
/// the given precision ([`Dtype::tolerance`](crate::gradients::Dtype::tolerance)), or when it
/// is within `ROUNDOFF·ε` of the scale of its round-off, `scale` (for the case,
/// [`crate::case::Case::roundoff_scales`]): where the terms of an entry cancel (an exact zero,
/// `1 − h²` at a saturated `h`), two correct computations differ relatively by far more than
/// the tolerance, and by no more than that round-off.
pub fn diagnose<C: Cell>(
    tape: &Gradients<f64>,
    scale: &Gradients<f64>,
    given: &Given,
    cell: &C,
) -> Diagnosis {
    let steps = tape.steps.len();
    let relative = given.dtype.tolerance();
    let tol = |scale| Tolerance::of(given.dtype, scale);
    let qs = quantities::<C>();
    let mut findings = Vec::new();
    let mut first_mismatch = None;
    for t in (1..=steps).rev() {
        for q in &qs {
            let (Some(m), Some(reference)) = (given.get(t, q.name), tape.get(t, q.name)) else {
                continue;
            };
            let at = tol(entries(scale.get(t, q.name)));
            let finding = compare(t, q.name, m.as_slice(), reference.as_slice(), at);
            if !finding.ok && first_mismatch.is_none() {
                first_mismatch = Some((t, q.name));
            }
            findings.push(finding);
        }
    }
    let mut wrong_totals = Vec::new();
    for (key, m) in &given.totals {
        let Some(reference) = tape.total(key) else {
            continue;
        };
        let at = tol(entries(scale.total(key)));
        let finding = compare(0, key, m.as_slice(), reference.as_slice(), at);
        if !finding.ok {
            wrong_totals.push(*key);
        }
        findings.push(finding);
    }
    // `grads.x` given beside per-step `dx`: every step's dx at once, compared too.
    if !given.x.is_empty() {
        let flat = |ms: Vec<&[f64]>| ms.concat();
        let every = |g: &Gradients<f64>| -> Vec<f64> {
            flat((1..=steps).map(|t| entries(g.get(t, DX))).collect())
        };
        let x_scale = every(scale);
        let finding = compare(
            0,
            "x",
            &flat(given.x.iter().map(|m| m.as_slice()).collect()),
            &every(tape),
            tol(&x_scale),
        );
        if !finding.ok {
            wrong_totals.push("x");
        }
        findings.push(finding);
    }
    let loss = given.loss.map(|l| (l, tape.loss));
    let loss_error = loss.map_or(0.0, |(g, t)| relative_error_of(&[g], &[t]));
    let loss_wrong = loss_error > relative;
    let gradients_agree = findings.iter().all(|f| f.ok);
    let mut warnings = Vec::new();
    // A loss that differs while every gradient agrees is no error in a backward pass: usually
    // an ε inside the log, or a term the gradients do not include.
    let gradients_given = !findings.is_empty();
    if loss_wrong && gradients_agree && gradients_given {
        warnings.push(format!(
            "the loss differs from the tape's by {} (relative) while every gradient agrees: \
             usually an ε inside the log (np.log(p + 1e-7)) or a term, such as a \
             regularization, that the case does not have",
            crate::trace::error_text(loss_error)
        ));
    }
    let loss_counts = loss_wrong && !(gradients_agree && gradients_given);
    let ok = gradients_agree && !loss_counts;
    let mut explanation = String::new();
    if loss_counts {
        explanation.push_str(
            "The loss itself disagrees: the forward pass or the loss differs from the case \
             (check that the arrays exported are the ones the gradients were computed from). ",
        );
    }
    match first_mismatch {
        Some((t, name)) => {
            let q = qs
                .iter()
                .find(|q| q.name == name)
                .expect("invariant: the mismatch is one of the cell's quantities");
            let agreed = |t: usize, name: &str| {
                findings
                    .iter()
                    .find(|f| f.t == t && f.name == name)
                    .map(|f| f.ok)
            };
            let (equation, hint) = cell.explain(q, t, steps, &agreed);
            let _ = write!(
                explanation,
                "The first error, walking back from t = {steps}, is {name} at t = {t}. It comes \
                 from {equation}: {hint}."
            );
            if !wrong_totals.is_empty() {
                let _ = write!(
                    explanation,
                    " The totals {} disagree as a consequence.",
                    wrong_totals.join(", ")
                );
            }
        }
        None => explain_totals::<C>(&mut explanation, given, &wrong_totals, loss_counts),
    }
    Diagnosis {
        ok,
        first_mismatch,
        quantities: qs.iter().map(|q| q.name).collect(),
        explanation,
        findings,
        loss,
        dtype: given.dtype,
        warnings,
        reference: "the tape",
        non_finite: None,
    }
}

/// The words of a diagnosis in which no per-step quantity is wrong.
fn explain_totals<C: Cell>(out: &mut String, given: &Given, wrong: &[&str], loss_wrong: bool) {
    let any_steps = given.steps.iter().any(|s| !s.is_empty());
    if wrong.is_empty() {
        if !loss_wrong {
            out.push_str("Everything given agrees with the tape.");
        }
    } else if any_steps {
        let _ = write!(
            out,
            "Every per-step value given agrees, but the totals {} do not: a total must be the \
             sum over steps of the per-step contributions, e.g. dW_h = Σ_t dW_h[t] (look for a \
             step left out of the sum, or a scaling such as clipping or an average applied to \
             the total only).",
            wrong.join(", ")
        );
    } else {
        let names: Vec<&str> = quantities::<C>().iter().map(|q| q.name).collect();
        let _ = write!(
            out,
            "The totals {} disagree with the tape. Only totals were given, so the error cannot \
             be placed in time: export the per-step values (\"steps\": {} for every t) and run \
             again to find the step and the equation where it enters.",
            wrong.join(", "),
            names.join(", ")
        );
    }
}
/// The referee of `check --against`: the student's `given` gradients against a reference more
/// precise than any homework (the tape in double-double, rounded to f64, where affordable;
/// [`crate::check::reference_gradients`]), each entry allowed the round-off of its terms and
/// the case's conditioning in the student's precision ([`Case::referee_scales`]).
///
/// If the case itself does not compute to finite numbers (a NaN or infinity in the tape's
/// forward pass or gradients), no comparison can be trusted: the diagnosis fails and says
/// where, whatever was given.
pub fn referee<C: Cell>(case: &Case<f64, C>, given: &Given) -> Result<Diagnosis> {
    let tape = case.tape_gradients()?;
    let non_finite = first_non_finite(case, &case.forward()?, tape.loss, &[("tape", &tape)]);
    let (reference, which) = reference_gradients(case)?;
    let scale = case.referee_scales(given.dtype.epsilon())?;
    let mut d = diagnose(&reference, &scale, given, &case.cell);
    d.reference = which;
    d.non_finite = non_finite;
    if let Some(at) = non_finite {
        d.ok = false;
        d.explanation = format!(
            "The case itself does not compute to finite numbers: {at}, so no gradient can be \
             compared with it (look for very large weights or inputs, or an identity activation \
             whose states grow without bound). {}",
            d.explanation
        );
    }
    Ok(d)
}
