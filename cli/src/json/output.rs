//! What `--json` writes: gradients, forward passes, check reports and diagnoses.

use super::arrays::batch_major;
use serde_json::{Map, Value, json};
use tapegrad::case::Case;
use tapegrad::cell::{Cell, DX};
use tapegrad::check::{Comparisons, NonFiniteAt, Report};
use tapegrad::diagnose::Diagnosis;
use tapegrad::fd::Verdict;
use tapegrad::gradients::Gradients;
use tapegrad::loss::HEAD_PARAMS;
use tapegrad::matrix::Matrix;
use tapegrad::sequence::Forward;

/// The rows of a matrix as JSON, or a flat list for a `1 × n` row that stands for numpy's 1-D
/// array (`b`, `db`, `b_out`).
pub(crate) fn to_json(m: &Matrix<f64>, one_d: bool) -> Value {
    if one_d {
        json!(m.as_slice())
    } else {
        json!(m.to_rows())
    }
}

/// Whether the total `key` of a case of the cell `C` is a row that numpy stores 1-D (`b`,
/// `b_out`).
pub(crate) fn total_is_row<C: Cell>(key: &str) -> bool {
    C::PARAMS.iter().any(|p| p.key == key && p.is_row())
        || HEAD_PARAMS.iter().any(|p| p.key == key && p.row)
}

/// `grads --json`: `{"loss", "grads": {each parameter, x, h0[, w_out, b_out]}, "steps": [{"t",
/// each per-step quantity}, …]}` (for the RNN, `w_x, w_h, b` and `dh, da, dx, dw_x, dw_h,
/// db`). Rows that numpy stores 1-D (`b`, `db`) are written 1-D.
pub fn gradients_json<C: Cell>(g: &Gradients<f64>) -> Value {
    with_steps(gradients_head_json::<C>(g), g.steps.len(), |t| {
        gradients_step_json::<C>(g, t)
    })
}

/// [`gradients_json`] without its `"steps"`.
pub fn gradients_head_json<C: Cell>(g: &Gradients<f64>) -> Value {
    let mut grads = Map::new();
    for (key, m) in &g.totals {
        grads.insert((*key).into(), to_json(m, total_is_row::<C>(key)));
    }
    let dx: Vec<Matrix<f64>> = (1..=g.steps.len())
        .filter_map(|t| g.get(t, DX).cloned())
        .collect();
    grads.insert("x".into(), batch_major(&dx));
    json!({"loss": g.loss, "grads": grads})
}

/// Step t's entry of [`gradients_json`]'s `"steps"`.
pub fn gradients_step_json<C: Cell>(g: &Gradients<f64>, t: usize) -> Value {
    let row_quantity = |name: &str| C::PARAMS.iter().any(|p| p.grad == name && p.is_row());
    let mut step = Map::new();
    step.insert("t".into(), json!(t));
    for (name, m) in g.step(t) {
        step.insert((*name).into(), to_json(m, row_quantity(name)));
    }
    Value::Object(step)
}

/// `forward --json`: `{"loss", "h0", "steps": [{"t", "x", each internal value, each state},
/// …]}` (for the RNN `"a"` and `"h"`).
pub fn forward_json<C: Cell>(case: &Case<f64, C>, fwd: &Forward<f64>, loss: f64) -> Value {
    with_steps(forward_head_json::<C>(fwd, loss), fwd.steps(), |t| {
        forward_step_json(case, fwd, t)
    })
}

/// [`forward_json`] without its `"steps"`.
pub fn forward_head_json<C: Cell>(fwd: &Forward<f64>, loss: f64) -> Value {
    let mut out = Map::new();
    out.insert("loss".into(), json!(loss));
    for (s, state) in C::STATES.iter().enumerate() {
        out.insert(state.initial.into(), json!(fwd.state(s, 0).to_rows()));
    }
    Value::Object(out)
}

/// Step t's entry of [`forward_json`]'s `"steps"`.
pub fn forward_step_json<C: Cell>(case: &Case<f64, C>, fwd: &Forward<f64>, t: usize) -> Value {
    let mut step = Map::new();
    step.insert("t".into(), json!(t));
    step.insert("x".into(), json!(case.x[t - 1].to_rows()));
    for (i, v) in C::INTERNALS.iter().enumerate() {
        step.insert(v.key.into(), json!(fwd.internal(i, t).to_rows()));
    }
    for (s, state) in C::STATES.iter().enumerate() {
        step.insert(state.key.into(), json!(fwd.state(s, t).to_rows()));
    }
    Value::Object(step)
}

/// `head` with `"steps": [step(1), …, step(count)]` added.
fn with_steps(mut head: Value, count: usize, step: impl Fn(usize) -> Value) -> Value {
    head["steps"] = Value::Array((1..=count).map(step).collect());
    head
}

/// Writes `head` (an object whose keys all sort before `"steps"`) with `"steps": [step(1), …,
/// step(count)]` added, exactly as `serde_json::to_string_pretty` prints the whole followed by
/// a newline, but one step at a time: the output of a long sequence, which as one JSON value
/// takes a hundred bytes a number, is never held whole.
pub fn write_with_steps(
    out: &mut impl std::io::Write,
    head: &Value,
    count: usize,
    step: impl Fn(usize) -> Value,
) -> std::io::Result<()> {
    let pretty = |v: &Value| {
        serde_json::to_string_pretty(v).expect("invariant: a serde_json::Value always serializes")
    };
    let head = pretty(head);
    // `{…\n}`: reopen the object after its last key ("{}" when it has none).
    let open = head.strip_suffix('}').unwrap_or(&head).trim_end();
    let comma = if open.len() > 1 { "," } else { "" };
    if count == 0 {
        return writeln!(out, "{open}{comma}\n  \"steps\": []\n}}");
    }
    write!(out, "{open}{comma}\n  \"steps\": [")?;
    for t in 1..=count {
        let text = pretty(&step(t));
        let sep = if t == 1 { "" } else { "," };
        writeln!(out, "{sep}")?;
        for (i, line) in text.lines().enumerate() {
            let newline = if i == 0 { "" } else { "\n" };
            write!(out, "{newline}    {line}")?;
        }
    }
    writeln!(out, "\n  ]\n}}")
}

/// One quantity's comparisons as JSON: each pair's relative error; what finite differences
/// could vouch for, `"fd": {"verdict": "ok" | "fail" | "inconclusive", "error" (their own
/// bound, absolute), "resolution" (that bound over the quantity's size; null when the quantity
/// is exactly zero), "reason" (why not ok, or null), "number" (the number type that bound was
/// reached in: the case's own, or "double-double" where it could not decide)}`; and the verdict
/// of all pairs.
pub(crate) fn comparisons_json(c: &Comparisons) -> Value {
    let verdict = |v: Verdict| v.to_string();
    json!({
        "hand_tape": c.hand_tape.rel,
        "hand_forward": c.hand_forward.rel,
        "tape_forward": c.tape_forward.rel,
        "hand_fd": c.hand_fd.rel,
        "tape_fd": c.tape_fd.rel,
        "fd": {
            "verdict": verdict(c.fd_verdict()).to_lowercase(),
            "error": c.fd.error,
            "resolution": c.fd.resolution,
            "reason": c.fd.reason(c.fd_verdict()),
            "number": c.fd.number,
        },
        "verdict": verdict(c.verdict()),
    })
}

/// `check --json`: `{"ok", "mode", "eps", "loss", "resolution", "double_double_exhausted"
/// (whether double-double's work ran out: see `tapegrad::check::PRECISE_WORK`), "tolerances",
/// "first_failure": {"t", "quantity"} | null, "first_non_finite": {"t", "quantity", "source"} |
/// null, "steps_checked": [1, 2, …], "steps": [{"t", "dh": {…}, …}], "totals": {…}}`, with one
/// entry in `steps` per step checked. A relative error of +∞ (a NaN or infinity met) is written
/// as `null`.
pub fn report_json(report: &Report) -> Value {
    let steps: Vec<Value> = report
        .steps
        .iter()
        .enumerate()
        .filter(|(_, row)| !row.is_empty())
        .map(|(i, row)| {
            let mut step = Map::new();
            step.insert("t".into(), json!(i + 1));
            for (q, c) in row {
                step.insert((*q).into(), comparisons_json(c));
            }
            Value::Object(step)
        })
        .collect();
    let totals: Map<String, Value> = report
        .totals
        .iter()
        .map(|(total, c)| (total.key.to_string(), comparisons_json(c)))
        .collect();
    json!({
        "ok": report.passed(),
        "mode": report.mode.name(),
        "eps": report.eps,
        "loss": report.loss,
        "resolution": report.resolution,
        "double_double_exhausted": report.precise_exhausted,
        "tolerances": {"hand_tape": report.tolerances.hand_tape, "fd": report.tolerances.fd},
        "first_failure": report.first_failure().map(|(t, q)| json!({"t": t, "quantity": q})),
        "first_non_finite": non_finite_json(report.first_non_finite),
        "steps_checked": report.checked_steps(),
        "steps": steps,
        "totals": totals,
    })
}

/// Where a computation first went NaN or infinite, as JSON: `{"t", "quantity", "source"}`, or
/// `null` when everything was finite.
pub fn non_finite_json(at: Option<NonFiniteAt>) -> Value {
    at.map_or(
        Value::Null,
        |at| json!({"t": at.t, "quantity": at.quantity, "source": at.source}),
    )
}

/// `check --against --json`: `{"ok", "first_mismatch": {"t", "quantity"} | null,
/// "explanation", "tolerance", "entry_roundoff" (`32·ε` of the given precision: how far an
/// entry may be off, relative to the scale of its terms), "dtype", "reference", "loss":
/// {"given", "tape"} | null, "findings": [{"t", "quantity",
/// "rel", "error_norm", "ok"}, …]}`, findings from `t = T` down, then the totals (`t = 0`).
pub fn diagnosis_json(d: &Diagnosis) -> Value {
    let finite = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    let findings: Vec<Value> = d
        .findings
        .iter()
        .map(|f| {
            json!({
                "t": f.t,
                "quantity": f.name,
                "rel": finite(f.rel),
                "error_norm": finite(f.error_norm),
                "ok": f.ok,
            })
        })
        .collect();
    json!({
        "ok": d.ok,
        "first_mismatch": d.first_mismatch.map(|(t, q)| json!({"t": t, "quantity": q})),
        "explanation": d.explanation,
        "tolerance": d.dtype.tolerance(),
        "entry_roundoff": tapegrad::fd::ROUNDOFF * d.dtype.epsilon(),
        "dtype": d.dtype.name(),
        "reference": d.reference,
        "warnings": d.warnings,
        "loss": d.loss.map(|(given, tape)| json!({"given": given, "tape": tape})),
        "findings": findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapegrad::case::Case;
    use tapegrad::cells::Lstm;

    /// Streamed output is the whole value's pretty text, for forward and gradients, and for a
    /// head without keys.
    #[test]
    fn streamed_steps_print_what_the_whole_value_prints() {
        let case = Case::<f64>::canonical();
        let fwd = case.forward().unwrap();
        let loss = case.loss().unwrap();
        let whole = forward_json(&case, &fwd, loss);
        let mut streamed = Vec::new();
        let head = forward_head_json::<tapegrad::cells::Rnn>(&fwd, loss);
        write_with_steps(&mut streamed, &head, fwd.steps(), |t| {
            forward_step_json(&case, &fwd, t)
        })
        .unwrap();
        let expected = serde_json::to_string_pretty(&whole).unwrap() + "\n";
        assert_eq!(String::from_utf8(streamed).unwrap(), expected);

        let lstm = Case::<f64, Lstm>::random(
            3,
            tapegrad::case::Dims {
                batch: 2,
                steps: 3,
                features: 2,
                hidden: 2,
            },
            tapegrad::case::HeadKind::SumLast,
            Lstm::default(),
        );
        let g = lstm.bptt().unwrap();
        let mut streamed = Vec::new();
        write_with_steps(&mut streamed, &gradients_head_json::<Lstm>(&g), 3, |t| {
            gradients_step_json::<Lstm>(&g, t)
        })
        .unwrap();
        let whole = serde_json::to_string_pretty(&gradients_json::<Lstm>(&g)).unwrap() + "\n";
        assert_eq!(String::from_utf8(streamed).unwrap(), whole);

        for count in [0, 2] {
            let mut streamed = Vec::new();
            write_with_steps(&mut streamed, &json!({}), count, |t| json!({"t": t})).unwrap();
            let whole = with_steps(json!({}), count, |t| json!({"t": t}));
            let expected = serde_json::to_string_pretty(&whole).unwrap() + "\n";
            assert_eq!(String::from_utf8(streamed).unwrap(), expected);
        }
    }
}
