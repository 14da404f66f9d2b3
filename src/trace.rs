//! Rendering: forward and backward traces, tape listings and check tables, as text.
//!
//! Nothing here computes: every number printed was computed by another module. Matrices print
//! like numpy (see [`crate::matrix`]), at 8 decimals, which keeps every line identical on any
//! machine (≤ 9 significant digits, beyond the reach of libm differences) so traces can be
//! snapshot-tested.

use crate::case::Case;
use crate::cell::{Cell, Site, quantities, quantity_label};
use crate::check::{Comparisons, Mode, PRECISE_SHARE, PRECISE_WORK, Report};
use crate::diagnose::Diagnosis;
use crate::error::shape_str;
use crate::fd::{Comparison, Verdict};
use crate::gradients::{Dtype, Gradients};
use crate::loss::{Head, Reduction};
use crate::matrix::{Matrix, format_numbers, numpy_exponent};
use crate::scalar::Scalar;
use crate::sequence::Forward;
use crate::sites::TotalOf;
use crate::tape::{Grads, NodeId, Tape};
use std::fmt::{self, Write};

/// A number as numpy prints a scalar, but with at most 9 significant digits, so that no
/// platform's last-bit differences can show: 8 decimals below 10 (`0.69314718`), fewer above
/// (`185.43248`, `127834.043`), scientific notation when tiny or huge (`3.33549981e-06`).
pub fn number(v: f64) -> String {
    let magnitude = v.abs();
    let integer_digits = if (10.0..1e8).contains(&magnitude) {
        magnitude.log10().floor() as usize
    } else {
        0
    };
    format_numbers(&[v], 8 - integer_digits).remove(0)
}

/// A label longer than this (an LSTM's `da_t` equation) puts its matrix on the next line,
/// where the continuation lines need not sit far to the right under it.
const LONG_LABEL: usize = 48;

/// `label` followed by a matrix, continuation lines indented under the first bracket; after a
/// label of more than 48 characters the matrix starts on its own line, indented
/// four columns past the label's own indent.
pub fn labelled<T: Scalar>(label: &str, m: &Matrix<T>) -> String {
    let text = m.to_string();
    let width = label.chars().count();
    let mut out = String::new();
    let pad = if width > LONG_LABEL {
        let indent = label.len() - label.trim_start().len() + 4;
        out.push_str(label.trim_end());
        out.push('\n');
        " ".repeat(indent)
    } else {
        " ".repeat(width)
    };
    for (i, line) in text.lines().enumerate() {
        match i {
            0 if width > LONG_LABEL => out.push_str(&pad),
            0 => out.push_str(label),
            _ => {
                out.push('\n');
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
}

/// The loss as an equation in words: `L = Σ h_3`, `L = mean_i −log softmax(…)`, ….
pub(crate) fn loss_equation<T: Scalar>(head: &Head<T>, steps: usize) -> String {
    let over_batch = |reduction: &Reduction| match reduction {
        Reduction::Mean => "mean_i",
        Reduction::Sum => "Σ_i",
    };
    // The factor before a sum of squares: ½ with `half`, 1/B for the mean.
    let squares = |reduction: &Reduction, half: &bool| match (reduction, half) {
        (Reduction::Sum, true) => "½ ",
        (Reduction::Sum, false) => "",
        (Reduction::Mean, true) => "(1/2B) ",
        (Reduction::Mean, false) => "(1/B) ",
    };
    match head {
        Head::SumLast => format!("L = Σ h_{steps}"),
        Head::SoftmaxCe { reduction, .. } => format!(
            "L = {} −log softmax(h_{steps}·W_out + b_out)_i[label_i]",
            over_batch(reduction)
        ),
        Head::SoftmaxCeAll {
            reduction, mask, ..
        } => {
            let masked = if mask.iter().flatten().all(|&m| m) {
                ""
            } else {
                "mask_ti · "
            };
            format!(
                "L = {} Σ_(t=1..{steps}) {masked}−log softmax(h_t·W_out + b_out)_i[label_ti]",
                over_batch(reduction)
            )
        }
        Head::MseAll {
            reduction, half, ..
        } => format!(
            "L = {}Σ_(t=1..{steps}) Σ (h_t − y_t)²",
            squares(reduction, half)
        ),
        Head::MseLast {
            reduction, half, ..
        } => format!("L = {}Σ (h_{steps} − y)²", squares(reduction, half)),
        Head::Upstream { .. } => format!("L = Σ_(t=1..{steps}) ⟨dout_t, h_t⟩"),
    }
}

/// One line describing a case: the cell, the sizes, the head.
pub fn case_header<T: Scalar, C: Cell>(case: &Case<T, C>) -> String {
    let d = case.dims();
    format!(
        "{}: batch {}, {} steps, {} features, {} hidden; loss {} ({})",
        case.cell.title(),
        d.batch,
        d.steps,
        d.features,
        d.hidden,
        case.head.kind(),
        loss_equation(&case.head, d.steps)
    )
}

/// The forward trace: per step `x_t`, the step's internal values and its state (`a_t`, `h_t`
/// for the RNN), then the cell's equations and the loss. For the canonical example it reads
/// like the seed notebooks' step-by-step printout.
pub fn forward_trace<T: Scalar, C: Cell>(case: &Case<T, C>, fwd: &Forward<T>, loss: T) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Forward pass, {}", case_header(case));
    for (s, state) in C::STATES.iter().enumerate() {
        let label = format!("{}_0: ", state.key);
        let _ = writeln!(out, "{}", labelled(&label, fwd.state(s, 0)));
    }
    for t in 1..=fwd.steps() {
        let _ = writeln!(out, "Time t={t}:");
        let _ = writeln!(out, "{}", labelled(&format!("  x_{t}: "), &case.x[t - 1]));
        for (i, v) in C::INTERNALS.iter().enumerate() {
            let label = format!("  {}_{t}: ", v.key);
            let _ = writeln!(out, "{}", labelled(&label, fwd.internal(i, t)));
        }
        for (name, gate) in case.cell.trace_gates(&fwd.internals_at(t)) {
            let _ = writeln!(out, "{}", labelled(&format!("  {name}_{t}: "), &gate));
        }
        for (s, state) in C::STATES.iter().enumerate() {
            let label = format!("  {}_{t}: ", state.key);
            let _ = writeln!(out, "{}", labelled(&label, fwd.state(s, t)));
        }
    }
    let _ = writeln!(out, "{}", case.cell.equations());
    let _ = writeln!(
        out,
        "Loss: {} = {}",
        loss_equation(&case.head, fwd.steps()),
        number(loss.as_f64())
    );
    out
}

/// The backward trace, from `t = T` down to 1: each step's quantities (for the RNN `dh`, `da`,
/// `dx` and the contributions to `dW_x`, `dW_h`, `db`), each with the equation that produced it,
/// then the initial state's gradient and the totals.
pub fn backward_trace<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    g: &Gradients<T>,
    method: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Backward pass ({method}), {}", case_header(case));
    steps_and_totals(&mut out, case, g, true);
    out
}

/// The same layout for gradients estimated by central finite differences
/// ([`crate::check::fd_gradients`]): each line names its quantity without an equation, since no
/// equation produced it.
pub fn fd_trace<T: Scalar, C: Cell>(case: &Case<T, C>, g: &Gradients<T>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Central finite differences, {}\nEach entry is (L(v + ε) − L(v − ε)) / 2ε, with v \
         that entry alone: {}",
        case_header(case),
        sites_text::<C>()
    );
    steps_and_totals(&mut out, case, g, false);
    out
}

/// The same layout for gradients by forward mode ([`crate::forward::forward_gradients`]).
pub fn forward_mode_trace<T: Scalar, C: Cell>(case: &Case<T, C>, g: &Gradients<T>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Forward mode (dual numbers), {}\nEach entry is the tangent of L when that entry alone \
         carries the tangent 1: {}",
        case_header(case),
        sites_text::<C>()
    );
    steps_and_totals(&mut out, case, g, false);
    out
}

/// Where the entries of a gradient without equations live, in words: `of step t's h_t, a_t,
/// x_t or copy of W_x, W_h, b; of h_0; …`.
fn sites_text<C: Cell>() -> String {
    let internals: Vec<String> = C::INTERNALS
        .iter()
        .map(|v| format!("{}_t", v.key))
        .collect();
    let states: Vec<String> = C::STATES.iter().map(|s| format!("{}_t", s.key)).collect();
    let params: Vec<&str> = C::PARAMS.iter().map(|p| p.shown).collect();
    let initial: Vec<String> = C::STATES.iter().map(|s| format!("{}_0", s.key)).collect();
    format!(
        "of step t's {}, {}, x_t or copy of {}; of {}; of a whole weight (totals); of the \
         head's parameters",
        states.join(", "),
        internals.join(", "),
        params.join(", "),
        initial.join(", "),
    )
}

/// The body of [`backward_trace`], [`fd_trace`] and [`forward_mode_trace`]: the loss, every step, the initial state's
/// gradient, the totals; each line labelled with its equation when `equations`, else with its
/// name.
fn steps_and_totals<T: Scalar, C: Cell>(
    out: &mut String,
    case: &Case<T, C>,
    g: &Gradients<T>,
    equations: bool,
) {
    let steps = g.steps.len();
    // `name = equation: ` when `equations`, else `name: `.
    let label = |name: String, equation: String| {
        if equations {
            format!("{name} = {equation}: ")
        } else {
            format!("{name}: ")
        }
    };
    let _ = writeln!(out, "Loss: L = {}", number(g.loss.as_f64()));
    let qs = quantities::<C>();
    for t in (1..=steps).rev() {
        let _ = writeln!(out, "Time t={t}:");
        for q in &qs {
            let Some(m) = g.get(t, q.name) else { continue };
            let line = label(
                format!("  {}", quantity_label::<C>(q, t)),
                case.cell.equation(q, t, steps),
            );
            let _ = writeln!(out, "{}", labelled(&line, m));
        }
    }
    for q in qs.iter().filter(|q| matches!(q.site, Site::State(_))) {
        let Site::State(s) = q.site else { continue };
        let Some(m) = g.total(C::STATES[s].initial) else {
            continue;
        };
        let line = label(
            format!("d{}_0", C::STATES[s].key),
            case.cell.equation(q, 0, steps),
        );
        let _ = writeln!(out, "{}", labelled(&line, m));
    }
    let _ = writeln!(
        out,
        "Totals (a shared weight's gradient is the sum of its per-step copies'):"
    );
    for p in C::PARAMS {
        let Some(total) = g.total(p.key) else {
            continue;
        };
        let name = format!("d{}", p.shown);
        let line = label(format!("  {name}"), format!("Σ_t {name}[t]"));
        let _ = writeln!(out, "{}", labelled(&line, total));
    }
    for (p, _) in case.head.params() {
        if let Some(m) = g.total(p.key) {
            let _ = writeln!(out, "{}", labelled(&format!("  d{}: ", p.shown), m));
        }
    }
}

/// Whether a check table shows the error numbers, or only the verdicts.
///
/// Finite-difference errors are round-off, different in their last digits from one libm to
/// another; snapshots use [`CheckStyle::Verdicts`], people the numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckStyle {
    /// `ok`, `FAIL` or `inconclusive` in every cell.
    Verdicts,
    /// The relative error in every cell, marked when it is not `ok`.
    Errors,
}

/// A relative error in two significant digits: `2.4e-11`, `0`, `inf`.
pub fn error_text(rel: f64) -> String {
    if rel == 0.0 {
        "0".into()
    } else if rel.is_finite() {
        with_exponent(&format!("{rel:.1e}"))
    } else {
        "inf".into()
    }
}

/// Rust writes `2.4e-11` and `1.0e0`; numpy writes exponents with a sign and two digits.
fn with_exponent(text: &str) -> String {
    match text.split_once('e') {
        Some((m, e)) => format!("{m}{}", numpy_exponent(e)),
        None => text.to_string(),
    }
}

fn cell(c: &Comparison, style: CheckStyle) -> String {
    match (style, c.verdict) {
        (CheckStyle::Verdicts, v) => v.to_string(),
        (CheckStyle::Errors, Verdict::Ok) => error_text(c.rel),
        (CheckStyle::Errors, v) => format!("{} {v}", error_text(c.rel)),
    }
}

/// One row of a check table; `width` is that of the `t` column.
fn check_row(
    out: &mut String,
    (t, width): (&str, usize),
    name: &str,
    c: &Comparisons,
    style: CheckStyle,
) {
    // The resolution finite differences reached is round-off, so only the Errors style shows it.
    let reached = match style {
        CheckStyle::Errors => format!("{:<8} ", error_text(c.fd.resolution)),
        CheckStyle::Verdicts => String::new(),
    };
    let _ = writeln!(
        out,
        "{t:>width$}  {name:<6} {:<17} {:<17} {:<17} {:<20} {:<20} {reached}{}",
        cell(&c.hand_tape, style),
        cell(&c.hand_forward, style),
        cell(&c.tape_forward, style),
        cell(&c.hand_fd, style),
        cell(&c.tape_fd, style),
        c.verdict()
    );
}

/// The per-step check table: one row per step and quantity, one column per pair. Only the
/// steps checked have rows; above them, a line says when they are a sample
/// ([`crate::check::check_steps`]), and another where a NaN or infinity first appeared.
pub fn check_table(report: &Report, style: CheckStyle) -> String {
    let mut out = String::new();
    let tol = report.tolerances;
    let _ = writeln!(
        out,
        "Gradient check: hand BPTT vs tape vs forward mode vs central finite differences ({}, \
         ε = {:.2e})",
        report.mode.name(),
        report.eps
    );
    let _ = writeln!(
        out,
        "rel(a, b) = max|a − b| / max(max|a|, max|b|, f_min); ok when hand, tape and forward \
         agree to {:.0e} (each entry: to its terms' round-off)",
        tol.hand_tape
    );
    let _ = writeln!(
        out,
        "fd: each estimate chooses its steps and bounds its own error; ok when the bound holds \
         the gradient and is within {:.0e} of it, FAIL when it excludes it, inconclusive when \
         it is wider{}",
        tol.fd,
        match style {
            CheckStyle::Errors => " (fd res: the bound reached, relative)",
            CheckStyle::Verdicts => "",
        }
    );
    let _ = writeln!(
        out,
        "fd that {} cannot decide is taken again in double-double{}",
        report.number,
        match report.mode {
            Mode::Exhaustive =>
                ": a quantity's undecided entries together, along a random direction",
            Mode::Directional { .. } => ", along the same direction",
        }
    );
    if report.precise_exhausted {
        let _ = writeln!(
            out,
            "double-double's work ({:.0e} multiply-adds a check, {:.0e} an estimate) was not \
             enough for every undecided estimate: the others keep their {} bounds",
            PRECISE_WORK,
            PRECISE_SHARE * PRECISE_WORK,
            report.number
        );
    }
    let checked = report.checked_steps();
    if checked.len() < report.steps.len() {
        let list: Vec<String> = checked.iter().map(usize::to_string).collect();
        let which = if list.is_empty() {
            "no single step".to_string()
        } else {
            format!("steps {}", list.join(", "))
        };
        let _ = writeln!(
            out,
            "checked: {which} of T = {}, and the totals (a sample: checking every step costs T² \
             partial forward passes)",
            report.steps.len()
        );
    }
    if let Some(at) = report.first_non_finite {
        let _ = writeln!(out, "NON-FINITE: {at}; no check can pass on it");
    }
    // Four columns for t, or as many as the largest step number needs.
    let width = report.steps.len().to_string().len().max(4);
    let reached = match style {
        CheckStyle::Errors => "fd res   ",
        CheckStyle::Verdicts => "",
    };
    let _ = writeln!(
        out,
        "{:>width$}  {:<6} {:<17} {:<17} {:<17} {:<20} {:<20} {reached}verdict",
        "t", "grad", "hand–tape", "hand–fwd", "tape–fwd", "hand–fd", "tape–fd"
    );
    for t in (1..=report.steps.len()).rev() {
        for (q, c) in &report.steps[t - 1] {
            check_row(&mut out, (&t.to_string(), width), q, c, style);
        }
    }
    // `∂L/∂h_0` continues the steps backward in time (t = 0); the weights' totals follow.
    for (total, c) in &report.totals {
        if let TotalOf::Initial { grad, .. } = total.of {
            check_row(&mut out, ("0", width), grad, c, style);
        }
    }
    for (total, c) in &report.totals {
        if !matches!(total.of, TotalOf::Initial { .. }) {
            check_row(&mut out, ("all", width), total.key, c, style);
        }
    }
    let (ok, inconclusive, fail) = count(report);
    let _ = writeln!(
        out,
        "{}: {ok} ok, {inconclusive} inconclusive, {fail} failed",
        if report.passed() { "PASS" } else { "FAIL" }
    );
    out
}

/// How many quantities ended ok, inconclusive, failed.
fn count(report: &Report) -> (usize, usize, usize) {
    let verdicts = report
        .steps
        .iter()
        .flatten()
        .map(|(_, c)| c.verdict())
        .chain(report.totals.iter().map(|(_, c)| c.verdict()));
    let mut counts = (0, 0, 0);
    for v in verdicts {
        match v {
            Verdict::Ok => counts.0 += 1,
            Verdict::Inconclusive => counts.1 += 1,
            Verdict::Fail => counts.2 += 1,
        }
    }
    counts
}

/// A short summary of a value for one-line listings: the entries themselves (4 decimals) when
/// there are at most four, otherwise the range and the Frobenius norm.
pub fn summary<T: Scalar>(m: &Matrix<T>) -> String {
    if m.len() <= 4 {
        let values: Vec<f64> = m.as_slice().iter().map(|v| v.as_f64()).collect();
        format!("[{}]", format_numbers(&values, 4).join(" "))
    } else {
        let values: Vec<f64> = m.as_slice().iter().map(|v| v.as_f64()).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!(
            "min {} max {} ‖·‖ {}",
            short(lo),
            short(hi),
            short(m.norm().as_f64())
        )
    }
}

/// The tape as a table: one line per node with its index, op, name, parents, shape and a short
/// value summary, and, when `grads` are given, a summary of the node's gradient `∂L/∂node`.
pub fn tape_listing<T: Scalar>(tape: &Tape<T>, grads: Option<&Grads<T>>) -> String {
    let nodes = tape.nodes();
    let mut out = String::new();
    let _ = writeln!(out, "Tape: {} nodes, in recording order", nodes.len());
    let _ = write!(
        out,
        "{:>4}  {:<10} {:<8} {:<9} {:<6} value",
        "#", "op", "name", "parents", "shape"
    );
    if grads.is_some() {
        let _ = write!(out, "  →  gradient ∂L/∂node");
    }
    out.push('\n');
    for (i, node) in nodes.iter().enumerate() {
        let parents: Vec<String> = node.parents.iter().map(|p| p.0.to_string()).collect();
        let parents = if parents.is_empty() {
            "-".to_string()
        } else {
            parents.join(",")
        };
        let _ = write!(
            out,
            "{i:>4}  {:<10} {:<8} {parents:<9} {:<6} {}",
            node.op.name(),
            node.name.as_deref().unwrap_or(""),
            shape_str(node.value.shape()),
            summary(&node.value)
        );
        if let Some(g) = grads {
            let text = g.get(NodeId(i)).map_or("(not reached)".into(), summary);
            let _ = write!(out, "  →  {text}");
        }
        out.push('\n');
    }
    out
}

/// Escapes text for a double-quoted Graphviz label.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Largest number of entries for which a graph picture shows a value in full.
const DOT_FULL: usize = 8;

/// A Graphviz DOT picture of a tape: one box per node, named `n<index>` so the output is the
/// same on every run, labelled with the index, op, name, shape and, for values of at most 8
/// entries, the value and (when `grads` are given) the gradient. Edges run from parents to
/// children. Render it with `dot -Tsvg graph.dot > graph.svg`.
pub fn dot<T: Scalar>(tape: &Tape<T>, grads: Option<&Grads<T>>) -> String {
    let nodes = tape.nodes();
    let mut out = String::from("digraph tape {\n  rankdir=TB;\n");
    out.push_str("  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
    for (i, node) in nodes.iter().enumerate() {
        let mut label = format!("#{i} {}", node.op.name());
        if let Some(name) = &node.name {
            let _ = write!(label, " {name}");
        }
        let _ = write!(label, "\n{}", shape_str(node.value.shape()));
        if node.value.len() <= DOT_FULL {
            let _ = write!(label, "\nvalue {:.4}", node.value);
            if let Some(g) = grads.and_then(|g| g.get(NodeId(i))) {
                let _ = write!(label, "\ngrad {g:.4}");
            }
        }
        let style = match node.op {
            crate::ops::Op::Leaf => ", style=filled, fillcolor=\"#e8f0ff\"",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  n{i} [label=\"{}\"{style}];",
            dot_escape(&label).replace('\n', "\\n")
        );
    }
    for (i, node) in nodes.iter().enumerate() {
        for p in &node.parents {
            let _ = writeln!(out, "  n{} -> n{i};", p.0);
        }
    }
    out.push_str("}\n");
    out
}

/// A diagnosis of given gradients: the explanation, then a grid with one row per step (from
/// `t = T` down) and one column per quantity, each cell `ok`, the relative error of a
/// mismatch, or `-` where nothing was given; then the totals.
pub fn diagnosis(d: &Diagnosis) -> String {
    let mut out = String::new();
    let precision = match d.dtype {
        Dtype::Float64 => String::new(),
        other => format!("{} values: ", other.name()),
    };
    let _ = writeln!(
        out,
        "Diagnosis against {} ({precision}a quantity agrees when its relative error ≤ {:.0e}, \
         an entry when within {}·ε = {:.1e} of its terms' scale):",
        d.reference,
        d.dtype.tolerance(),
        crate::fd::ROUNDOFF,
        crate::fd::ROUNDOFF * d.dtype.epsilon()
    );
    let _ = writeln!(out, "{}", wrap(&d.explanation, 96));
    for warning in &d.warnings {
        let _ = writeln!(out, "{}", wrap(&format!("warning: {warning}"), 96));
    }
    if let Some((given, tape)) = d.loss {
        let _ = writeln!(out, "loss: given {}, tape {}", number(given), number(tape));
    }
    let cell = |f: Option<&crate::diagnose::Finding>| match f {
        None => "-".to_string(),
        Some(f) if f.ok => "ok".to_string(),
        Some(f) => error_text(f.rel),
    };
    let steps = d.findings.iter().map(|f| f.t).max().unwrap_or(0);
    let _ = write!(
        out,
        "relative error per step (ok, or the error where it is wrong; - not given)\n{:>4}",
        "t"
    );
    for q in &d.quantities {
        let _ = write!(out, " {q:>8}");
    }
    out.push('\n');
    // The findings by step, so that a long sequence's grid takes one pass over them.
    let mut by_step: Vec<Vec<&crate::diagnose::Finding>> = vec![Vec::new(); steps + 1];
    for f in &d.findings {
        by_step[f.t].push(f);
    }
    for t in (1..=steps).rev() {
        let _ = write!(out, "{t:>4}");
        for q in &d.quantities {
            let f = by_step[t].iter().find(|f| f.name == *q).copied();
            let _ = write!(out, " {:>8}", cell(f));
        }
        out.push('\n');
    }
    let totals: Vec<String> = d
        .findings
        .iter()
        .filter(|f| f.t == 0)
        .map(|f| format!("{} {}", f.name, cell(Some(f))))
        .collect();
    if !totals.is_empty() {
        let _ = writeln!(out, "totals: {}", totals.join(", "));
    }
    let _ = writeln!(out, "{}", if d.ok { "AGREE" } else { "DISAGREE" });
    out
}

/// Breaks text into lines of at most `width` characters at spaces.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        let len = word.chars().count();
        if line > 0 && line + 1 + len > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += len;
    }
    out
}

/// The eight heights of a sparkline, lowest first.
const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A one-line picture of a series (a loss history): each value becomes one of `▁▂▃▄▅▆▇█`,
/// scaled linearly from the smallest value to the largest. NaN or infinity shows as `!`.
pub fn sparkline(values: &[f64]) -> String {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                '!'
            } else if hi > lo {
                let level = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                SPARKS[level.min(7)]
            } else {
                SPARKS[0]
            }
        })
        .collect()
}

/// Width in characters of the longest bar of a [`log_bar_chart`].
const BAR_WIDTH: usize = 40;

/// A horizontal bar chart of positive values on a log scale, one row per `(label, value)`:
/// the picture of gradients vanishing or exploding through time, where the values span many
/// decades. The axis runs over whole decades from below the smallest value to above the
/// largest. Zero shows as `0` with no bar; NaN or infinity as `nan`/`inf` with a `!` bar.
pub fn log_bar_chart(title: &str, rows: &[(String, f64)]) -> String {
    let positive = rows
        .iter()
        .map(|r| r.1)
        .filter(|v| v.is_finite() && *v > 0.0);
    let lo = positive.clone().fold(f64::INFINITY, f64::min);
    let hi = positive.fold(0.0f64, f64::max);
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let label_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    if !lo.is_finite() {
        for (label, v) in rows {
            let _ = writeln!(out, "{label:>label_width$}  {:>9}", short(*v));
        }
        return out;
    }
    let (lo_decade, hi_decade) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let span = hi_decade - lo_decade;
    for (label, v) in rows {
        let bar = if !v.is_finite() {
            "!".repeat(BAR_WIDTH)
        } else if *v > 0.0 {
            let len = ((v.log10() - lo_decade) / span * BAR_WIDTH as f64).round() as usize;
            "█".repeat(len.max(1))
        } else {
            String::new()
        };
        let _ = writeln!(out, "{label:>label_width$}  {:>9} |{bar}", short(*v));
    }
    let (left, right) = (
        format!("1e{}", lo_decade as i64),
        format!("1e{}", hi_decade as i64),
    );
    let pad = " ".repeat(BAR_WIDTH.saturating_sub(left.len() + right.len()));
    let _ = writeln!(
        out,
        "{:>label_width$}  {:>9} |{left}{pad}{right}",
        "", "log scale"
    );
    out
}

/// A value in three significant digits, for charts and summaries: `1.23e-05`, `0`, `nan`.
pub fn short(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        "inf".into()
    } else {
        with_exponent(&format!("{v:.2e}"))
    }
}

/// The result of an experiment (the examples that reproduce the seed notebooks): the text to
/// read, and the numbers of its last line, `summary: key=value …`, which tests read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Writeup {
    /// Headings, tables and charts, each line ending in a newline.
    pub text: String,
    /// The `key=value` pairs of the summary line, in order.
    pub summary: Vec<(&'static str, f64)>,
}

impl Writeup {
    /// The summary value named `key`, if the report has one.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.summary
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, v)| v)
    }

    /// The last line: `summary: key=value key=value …`, each value formatted by [`number`].
    pub fn summary_line(&self) -> String {
        let pairs: Vec<String> = self
            .summary
            .iter()
            .map(|(k, v)| format!("{k}={}", number(*v)))
            .collect();
        format!("summary: {}", pairs.join(" "))
    }
}

impl fmt::Display for Writeup {
    /// The text, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}{}", self.text, self.summary_line())
    }
}

/// A loss in 4 decimals, as the seed notebooks print it (`0.6931`).
pub fn loss_text(loss: f64) -> String {
    format!("{loss:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_lowest_to_highest() {
        assert_eq!(sparkline(&[3.0, 2.0, 1.0, 0.0]), "█▆▃▁");
        assert_eq!(sparkline(&[1.0, 1.0]), "▁▁");
        assert_eq!(sparkline(&[1.0, f64::NAN]), "▁!");
    }

    #[test]
    fn log_bars_grow_by_decades() {
        let rows = vec![
            ("t=1".to_string(), 1e-6),
            ("t=2".to_string(), 1e-3),
            ("t=3".to_string(), 1.0),
        ];
        let chart = log_bar_chart("‖dh_t‖", &rows);
        let bars: Vec<usize> = chart
            .lines()
            .skip(1)
            .take(3)
            .map(|l| l.chars().filter(|&c| c == '█').count())
            .collect();
        assert_eq!(bars, [1, 20, 40]);
        assert!(chart.contains("1.00e-06"), "{chart}");
    }
}
