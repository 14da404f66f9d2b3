//! What the command line prints, for any case: one function per trace, each returning the text
//! `tapegrad` writes for the same case, so that a test suite can pin it with a snapshot,
//! `insta::assert_snapshot!(printed::forward(&case)?)`
//! ([chapter 11](crate::tutorial::ch11_snapshot_testing_your_traces) shows how).
//!
//! | function | the command that prints it |
//! |---|---|
//! | [`forward`] | `tapegrad forward --case FILE` |
//! | [`backward`] | `tapegrad grads --case FILE` (hand BPTT) |
//! | [`tape`] | none: the tape's listing after the backward sweep, as chapter 3 shows it |
//! | [`graph`] | `tapegrad graph --case FILE` |
//! | [`check`] | `tapegrad check --case FILE --steps all [--mode …]` |
//! | [`verdicts`] | the same table with each cell's verdict in place of its error: the one to snapshot |
//! | [`against`] | `tapegrad check --case FILE --against GRADS` |
//!
//! # What stays the same
//!
//! The text depends on the case and nothing else: no clock, no thread count, no machine. Every
//! number is printed at a fixed precision that platform maths libraries cannot reach (numpy's
//! 8 decimals, at most 9 significant digits, for `f64`); random cases come from seeded ChaCha8
//! streams ([`crate::case::Case::random`]), the same on every machine. An `f32` case prints its
//! values at the same precision, so its forward trace differs from the `f64` one only where
//! the two computations differ by more than half a unit in the 8th decimal.
//!
//! # What not to snapshot
//!
//! A finite difference's own error depends on the step it chose and on the last bits of every
//! evaluation, down to how the machine's maths library rounds `tanh`: it is a measurement, not
//! a result. [`check`] prints those errors (two digits each), as the command line does; to pin
//! a check in a snapshot, use [`verdicts`], which prints `ok`, `FAIL` or `inconclusive` in
//! their place, and test a number you care about with an inequality. The same holds for the
//! relative errors in `check --json`: redact them (chapter 11).

use crate::case::Case;
use crate::cell::Cell;
use crate::check::{Mode, Report, check_steps};
use crate::diagnose::{Diagnosis, referee};
use crate::error::Result;
use crate::gradients::Given;
use crate::scalar::Scalar;
use crate::tape::Tape;
use crate::trace::{self, CheckStyle};

/// The forward trace, as `tapegrad forward` prints it: the case's header, then `a_t` and `h_t`
/// (each cell's internal values and states) at every step, and the loss `L`.
pub fn forward<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<String> {
    let fwd = case.forward()?;
    let loss = case.head.loss(fwd.states())?;
    Ok(trace::forward_trace(case, &fwd, loss))
}

/// The backward trace by hand BPTT, as `tapegrad grads` prints it: for `t = T` down to 1,
/// each per-step quantity (`dh_t`, `da_t = dh_t ⊙ φ'(a_t)`, …) beside its equation, then the
/// totals.
pub fn backward<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<String> {
    Ok(trace::backward_trace(case, &case.bptt()?, "hand BPTT"))
}

/// The tape's listing after the backward sweep: one line per node (its op, inputs, shape and
/// value), with the gradient `∂L/∂node` the sweep left there.
pub fn tape<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<String> {
    let tape = Tape::new();
    let (_, head) = case.record(&tape)?;
    let grads = head.loss.backward();
    Ok(trace::tape_listing(&tape, Some(&grads)))
}

/// The unrolled network as a Graphviz graph, as `tapegrad graph` prints it (`| dot -Tsvg >
/// graph.svg`): every node up to [`crate::graph::OPS_STEPS`] steps, one box per step beyond
/// ([`crate::graph::unrolled`]).
pub fn graph<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<String> {
    crate::graph::unrolled(case, crate::graph::Detail::for_steps(case.x.len()))
}

/// The check table at every step, as `tapegrad check --steps all` prints it: hand BPTT
/// against the tape, forward mode and finite differences, one row per step and quantity.
pub fn check<T: Scalar, C: Cell>(case: &Case<T, C>, mode: Mode) -> Result<String> {
    let steps: Vec<usize> = (1..=case.x.len()).collect();
    let report = check_steps(case, &case.bptt()?, mode, &steps)?;
    Ok(report_text(case, &report))
}

/// The check table at every step with a verdict in each cell (`ok`, `FAIL`, `inconclusive`)
/// where [`check`] prints the relative error: the same text on every machine, for snapshots.
pub fn verdicts<T: Scalar, C: Cell>(case: &Case<T, C>, mode: Mode) -> Result<String> {
    let steps: Vec<usize> = (1..=case.x.len()).collect();
    let report = check_steps(case, &case.bptt()?, mode, &steps)?;
    Ok(format!(
        "{}\n{}",
        trace::case_header(case),
        trace::check_table(&report, CheckStyle::Verdicts)
    ))
}

/// A check's report as `tapegrad check` prints it: the case's header, then the table.
pub fn report_text<T: Scalar, C: Cell>(case: &Case<T, C>, report: &Report) -> String {
    format!(
        "{}\n{}",
        trace::case_header(case),
        trace::check_table(report, CheckStyle::Errors)
    )
}

/// The diagnosis of a student's gradients, as `tapegrad check --against` prints it: where
/// the error enters, walking back from `t = T`, the equation it points to, and per step and
/// quantity whether each given value agrees ([`referee`] judges them).
pub fn against<C: Cell>(case: &Case<f64, C>, given: &Given) -> Result<String> {
    Ok(diagnosis(case, &referee(case, given)?))
}

/// A diagnosis as `tapegrad check --against` prints it: the case's header, then the
/// diagnosis.
pub fn diagnosis<C: Cell>(case: &Case<f64, C>, d: &Diagnosis) -> String {
    format!("{}\n{}", trace::case_header(case), trace::diagnosis(d))
}
