//! The JSON side of the command line (DESIGN §5): reading case files and gradient files that
//! users export from numpy with `json.dump({...: arr.tolist()})`, and writing `--json` output.
//!
//! Only built with the `cli` feature. Every error names the field (`w_h`, `loss.labels[2]`,
//! `x[0][1]`), the shape expected and the shape found, in numpy's `(a, b, c)` notation.

use crate::case::Case;
use crate::check::{Quantity, Report, Total, Triple, Verdict};
use crate::diagnose::{Diagnosis, Given};
use crate::error::{Error, Result};
use crate::loss::Head;
use crate::matrix::Matrix;
use crate::rnn::{Activation, Forward, Gradients, Rnn};
use serde_json::{Map, Value, json};

/// Parses JSON text, explaining the mistakes numpy users make: `NaN` and `Infinity` (which
/// Python's `json.dump` writes but JSON does not allow), truncation, trailing text.
pub fn parse_json(text: &str, what: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Err(Error::invalid(
            what,
            "the file is empty; expected a JSON object { … }",
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        let offset = byte_offset(text, e.line(), e.column());
        let rest = text.get(offset..).unwrap_or("").trim_start();
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        if rest.starts_with("NaN") || rest.starts_with("Infinity") {
            let field = last_key_before(text, offset).unwrap_or_else(|| "a value".to_string());
            Error::NonFinite {
                what: format!("{what}: {field}"),
                index: format!(
                    " (line {}, column {}: Python's json.dump wrote NaN or Infinity, which JSON \
                     does not allow and tapegrad cannot check)",
                    e.line(),
                    e.column()
                ),
            }
        } else {
            Error::invalid(what, format!("not valid JSON: {e}"))
        }
    })
}

/// The byte offset of serde_json's 1-based `(line, column)` position.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// The last object key (`"name":`) that starts before `offset`, to name where a bad token sits.
fn last_key_before(text: &str, offset: usize) -> Option<String> {
    let head = text.get(..offset)?;
    let colon = head.rfind(':')?;
    let before = head[..colon].trim_end().strip_suffix('"')?;
    let start = before.rfind('"')?;
    Some(before[start + 1..].to_string())
}

/// Says what a JSON value is, for messages: `a number`, `a 2-D array of shape (1, 3)`, ….
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "true/false".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Object(_) => "an object".into(),
        Value::Array(_) => {
            let shape = shape_of(v);
            format!("a {}-D array of shape {}", shape.len(), numpy_shape(&shape))
        }
    }
}

/// The shape of a nested array, read along first elements: `[[1, 2, 3]]` is `(1, 3)`.
fn shape_of(v: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut current = v;
    while let Value::Array(items) = current {
        shape.push(items.len());
        match items.first() {
            Some(first) => current = first,
            None => break,
        }
    }
    shape
}

/// numpy's way of writing a shape: `(1, 3, 2)`, `(4,)`.
pub fn numpy_shape(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// A rectangular array of exactly `dims` dimensions, all at least 1, of finite numbers:
/// returns its shape and its entries in row-major order. `meaning` names the axes.
fn array(v: &Value, path: &str, dims: usize, meaning: &str) -> Result<(Vec<usize>, Vec<f64>)> {
    let expected = format!("a {dims}-D array {meaning}");
    let shape = shape_of(v);
    if !matches!(v, Value::Array(_)) || shape.len() != dims && !shape.contains(&0) {
        return Err(Error::bad_shape(path, expected, describe(v)));
    }
    if shape.len() != dims || shape.contains(&0) {
        return Err(Error::bad_shape(
            path,
            format!("{expected}, every size at least 1"),
            format!("shape {}", numpy_shape(&shape)),
        ));
    }
    let mut data = Vec::with_capacity(shape.iter().product());
    collect(v, path, &shape, &mut data)?;
    Ok((shape, data))
}

/// Walks a nested array that should have shape `shape`, appending its numbers to `out`.
fn collect(v: &Value, path: &str, shape: &[usize], out: &mut Vec<f64>) -> Result<()> {
    let Some((&len, inner)) = shape.split_first() else {
        return match v {
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => {
                    out.push(x);
                    Ok(())
                }
                _ => Err(Error::invalid(
                    path,
                    format!("{n} does not fit in a float64"),
                )),
            },
            other => Err(Error::invalid(
                path,
                format!("expected a number, found {}", describe(other)),
            )),
        };
    };
    match v {
        Value::Array(items) if items.len() == len => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{path}[{i}]"), inner, out)?;
            }
            Ok(())
        }
        Value::Array(items) => Err(Error::bad_shape(
            path,
            format!("{len} entries, like the first array at this depth (the array is ragged)"),
            format!("{} entries", items.len()),
        )),
        other => Err(Error::invalid(
            path,
            format!(
                "expected an array of {len} entries, found {}",
                describe(other)
            ),
        )),
    }
}

/// A 2-D array as a matrix.
fn matrix(v: &Value, path: &str, meaning: &str) -> Result<Matrix<f64>> {
    let (shape, data) = array(v, path, 2, meaning)?;
    Matrix::new(shape[0], shape[1], data)
}

/// A 1-D array as a `1 × n` row.
fn row(v: &Value, path: &str, meaning: &str) -> Result<Matrix<f64>> {
    let (_, data) = array(v, path, 1, meaning)?;
    Ok(Matrix::row_vector(&data))
}

/// A `(batch, steps, n)` array as `steps` matrices of shape `batch × n`: numpy's `x[:, t, :]`.
fn by_step(v: &Value, path: &str, meaning: &str) -> Result<Vec<Matrix<f64>>> {
    let (shape, data) = array(v, path, 3, meaning)?;
    let (batch, steps, n) = (shape[0], shape[1], shape[2]);
    Ok((0..steps)
        .map(|t| Matrix::from_fn(batch, n, |i, j| data[(i * steps + t) * n + j]))
        .collect())
}

/// The `(batch, steps, n)` array of per-step matrices: the inverse of [`by_step`].
fn batch_major(steps: &[Matrix<f64>]) -> Value {
    let batch = steps.first().map_or(0, Matrix::rows);
    Value::Array(
        (0..batch)
            .map(|i| json!(steps.iter().map(|m| m.row(i).to_vec()).collect::<Vec<_>>()))
            .collect(),
    )
}

/// A required field of an object.
fn required<'a>(obj: &'a Map<String, Value>, key: &str, prefix: &str) -> Result<&'a Value> {
    obj.get(key).ok_or_else(|| {
        let near = obj.keys().find(|k| k.eq_ignore_ascii_case(key));
        let hint = match near {
            Some(k) => format!(" (found {k:?}: keys are case-sensitive)"),
            None => String::new(),
        };
        Error::invalid(
            format!("{prefix}{key}"),
            format!("required field is missing{hint}"),
        )
    })
}

/// Checks one matrix's shape in numpy terms, naming the field.
fn expect_shape(
    m: &Matrix<f64>,
    path: &str,
    rows: usize,
    cols: usize,
    meaning: &str,
) -> Result<()> {
    if m.shape() == (rows, cols) {
        Ok(())
    } else {
        Err(Error::bad_shape(
            path,
            format!("{} {meaning}", numpy_shape(&[rows, cols])),
            numpy_shape(&[m.rows(), m.cols()]),
        ))
    }
}

/// Checks a `1 × n` row's length in numpy terms.
fn expect_len(m: &Matrix<f64>, path: &str, n: usize, meaning: &str) -> Result<()> {
    if m.cols() == n {
        Ok(())
    } else {
        Err(Error::bad_shape(
            path,
            format!("{} {meaning}", numpy_shape(&[n])),
            numpy_shape(&[m.cols()]),
        ))
    }
}

/// Reads a case file (DESIGN §5) into a [`Case`], checking every field.
pub fn parse_case(text: &str) -> Result<Case<f64>> {
    let value = parse_json(text, "case file")?;
    let Value::Object(obj) = &value else {
        return Err(Error::invalid(
            "case file",
            format!(
                "expected a JSON object {{\"x\": …, \"w_x\": …}}, found {}",
                describe(&value)
            ),
        ));
    };
    let x = by_step(required(obj, "x", "")?, "x", "(batch, steps, features)")?;
    let (batch, features) = x[0].shape();
    let w_x = matrix(required(obj, "w_x", "")?, "w_x", "(features, hidden)")?;
    let hidden = w_x.cols();
    let steps = x.len();
    if w_x.rows() != features {
        return Err(Error::bad_shape(
            "w_x",
            format!("({features}, hidden) with features = {features} from x"),
            numpy_shape(&[w_x.rows(), w_x.cols()]),
        ));
    }
    let w_h = matrix(required(obj, "w_h", "")?, "w_h", "(hidden, hidden)")?;
    expect_shape(
        &w_h,
        "w_h",
        hidden,
        hidden,
        "(hidden, hidden), hidden from w_x",
    )?;
    let b = row(required(obj, "b", "")?, "b", "(hidden,)")?;
    expect_len(&b, "b", hidden, "(hidden,), hidden from w_x")?;
    let h0 = match obj.get("h0") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let h0 = matrix(v, "h0", "(batch, hidden)")?;
            expect_shape(&h0, "h0", batch, hidden, "(batch, hidden), from x and w_x")?;
            Some(h0)
        }
    };
    let activation = match obj.get("activation") {
        None | Some(Value::Null) => Activation::Tanh,
        Some(Value::String(name)) => Activation::parse(name)?,
        Some(other) => {
            return Err(Error::invalid(
                "activation",
                format!(
                    "expected a string (\"tanh\", \"sigmoid\" or \"identity\"), found {}",
                    describe(other)
                ),
            ));
        }
    };
    let head = match obj.get("loss") {
        None | Some(Value::Null) => Head::SumLast,
        Some(Value::Object(loss)) => parse_head(loss, batch, steps, hidden)?,
        Some(other) => {
            return Err(Error::invalid(
                "loss",
                format!(
                    "expected an object {{\"kind\": …}}, found {}",
                    describe(other)
                ),
            ));
        }
    };
    let rnn = Rnn::new(w_x, w_h, b, activation)?;
    Case::new(rnn, x, h0, head)
}

/// Reads the `loss` object of a case file.
fn parse_head(
    loss: &Map<String, Value>,
    batch: usize,
    steps: usize,
    hidden: usize,
) -> Result<Head<f64>> {
    let kind = match required(loss, "kind", "loss.")? {
        Value::String(k) => k.as_str(),
        other => {
            return Err(Error::invalid(
                "loss.kind",
                format!("expected a string, found {}", describe(other)),
            ));
        }
    };
    match kind {
        "sum_last" => Ok(Head::SumLast),
        "softmax_ce" => {
            let w_out = matrix(
                required(loss, "w_out", "loss.")?,
                "loss.w_out",
                "(hidden, classes)",
            )?;
            if w_out.rows() != hidden {
                return Err(Error::bad_shape(
                    "loss.w_out",
                    format!("({hidden}, classes) with hidden = {hidden} from w_x"),
                    numpy_shape(&[w_out.rows(), w_out.cols()]),
                ));
            }
            let classes = w_out.cols();
            let b_out = row(
                required(loss, "b_out", "loss.")?,
                "loss.b_out",
                "(classes,)",
            )?;
            expect_len(
                &b_out,
                "loss.b_out",
                classes,
                "(classes,), classes from loss.w_out",
            )?;
            let labels = match required(loss, "labels", "loss.")? {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| label(v, i, classes))
                    .collect::<Result<Vec<usize>>>()?,
                other => {
                    return Err(Error::bad_shape(
                        "loss.labels",
                        format!("a 1-D array of {batch} class indices"),
                        describe(other),
                    ));
                }
            };
            if labels.len() != batch {
                return Err(Error::bad_shape(
                    "loss.labels",
                    format!(
                        "{} (one label per sequence, batch from x)",
                        numpy_shape(&[batch])
                    ),
                    numpy_shape(&[labels.len()]),
                ));
            }
            Ok(Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
            })
        }
        "mse_all" => {
            let targets = by_step(
                required(loss, "targets", "loss.")?,
                "loss.targets",
                "(batch, steps, hidden)",
            )?;
            let (rows, cols) = targets[0].shape();
            if (rows, targets.len(), cols) != (batch, steps, hidden) {
                return Err(Error::bad_shape(
                    "loss.targets",
                    format!(
                        "{} (batch, steps, hidden), from x and w_x",
                        numpy_shape(&[batch, steps, hidden])
                    ),
                    numpy_shape(&[rows, targets.len(), cols]),
                ));
            }
            Ok(Head::MseAll { targets })
        }
        "mse_last" => {
            let target = matrix(
                required(loss, "target", "loss.")?,
                "loss.target",
                "(batch, hidden)",
            )?;
            expect_shape(
                &target,
                "loss.target",
                batch,
                hidden,
                "(batch, hidden), from x and w_x",
            )?;
            Ok(Head::MseLast { target })
        }
        other => Err(Error::invalid(
            "loss.kind",
            format!(
                "unknown loss kind {other:?}; expected \"sum_last\", \"softmax_ce\", \"mse_all\" or \"mse_last\""
            ),
        )),
    }
}

/// One class label: a whole number in `0..classes`.
fn label(v: &Value, i: usize, classes: usize) -> Result<usize> {
    let path = format!("loss.labels[{i}]");
    let whole = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x < 9e15)
                .map(|x| x as u64)
        }),
        _ => None,
    };
    match whole {
        Some(l) if (l as usize) < classes => Ok(l as usize),
        Some(l) => Err(Error::invalid(
            path,
            format!(
                "label {l} is out of range: expected 0 ≤ label < {classes} (classes, from loss.w_out)"
            ),
        )),
        None => Err(Error::invalid(
            path,
            format!(
                "expected a class index (a whole number ≥ 0), found {}",
                match v {
                    Value::Number(n) => n.to_string(),
                    other => describe(other),
                }
            ),
        )),
    }
}

/// The rows of a matrix as JSON, or a flat list for a `1 × n` row that stands for numpy's 1-D
/// array (`b`, `db`, `b_out`).
fn to_json(m: &Matrix<f64>, one_d: bool) -> Value {
    if one_d {
        json!(m.as_slice())
    } else {
        json!(m.to_rows())
    }
}

/// `grads --json` (DESIGN §5): `{"loss", "grads": {w_x, w_h, b, x, h0[, w_out, b_out]},
/// "steps": [{"t", "dh", "da", "dx", "dw_x", "dw_h", "db"}, …]}`.
pub fn gradients_json(g: &Gradients<f64>) -> Value {
    let mut grads = Map::new();
    grads.insert("w_x".into(), to_json(&g.w_x, false));
    grads.insert("w_h".into(), to_json(&g.w_h, false));
    grads.insert("b".into(), to_json(&g.b, true));
    let dx: Vec<Matrix<f64>> = g.steps.iter().map(|s| s.dx.clone()).collect();
    grads.insert("x".into(), batch_major(&dx));
    grads.insert("h0".into(), to_json(&g.dh0, false));
    if let Some((w_out, b_out)) = &g.head {
        grads.insert("w_out".into(), to_json(w_out, false));
        grads.insert("b_out".into(), to_json(b_out, true));
    }
    let steps: Vec<Value> = g
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut step = Map::new();
            step.insert("t".into(), json!(i + 1));
            for q in Quantity::ALL {
                step.insert(q.name().into(), to_json(q.of(s), q == Quantity::Db));
            }
            Value::Object(step)
        })
        .collect();
    json!({"loss": g.loss, "grads": grads, "steps": steps})
}

/// `forward --json`: `{"loss", "h0", "steps": [{"t", "x", "a", "h"}, …]}`.
pub fn forward_json(case: &Case<f64>, fwd: &Forward<f64>, loss: f64) -> Value {
    let steps: Vec<Value> = (1..=fwd.steps())
        .map(|t| {
            json!({
                "t": t,
                "x": case.x[t - 1].to_rows(),
                "a": fwd.a(t).to_rows(),
                "h": fwd.h(t).to_rows(),
            })
        })
        .collect();
    json!({"loss": loss, "h0": fwd.h(0).to_rows(), "steps": steps})
}

/// Reads a gradient file in the `grads --json` format in which any key may be missing, and
/// checks every shape that is there against `case`.
pub fn parse_given(text: &str, case: &Case<f64>) -> Result<Given> {
    let value = parse_json(text, "gradient file")?;
    let Value::Object(obj) = &value else {
        return Err(Error::invalid(
            "gradient file",
            format!(
                "expected a JSON object {{\"grads\": …, \"steps\": …}}, found {}",
                describe(&value)
            ),
        ));
    };
    let dims = case.dims();
    let (b, t, f, h) = (dims.batch, dims.steps, dims.features, dims.hidden);
    let mut user = Given {
        loss: None,
        totals: Vec::new(),
        steps: vec![Vec::new(); t],
    };
    if let Some(v) = obj.get("loss") {
        user.loss = Some(match v {
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => {
                return Err(Error::invalid(
                    "loss",
                    format!("expected a number, found {}", describe(other)),
                ));
            }
        });
    }
    let classes = match &case.head {
        Head::SoftmaxCe { w_out, .. } => Some(w_out.cols()),
        _ => None,
    };
    // Each key, the shape it must have (numpy's), and whether numpy stores it 1-D.
    let shape_of_total = |total: Total| -> Option<(usize, usize, bool)> {
        match total {
            Total::WX => Some((f, h, false)),
            Total::WH => Some((h, h, false)),
            Total::B => Some((1, h, true)),
            Total::H0 => Some((b, h, false)),
            Total::WOut => classes.map(|c| (h, c, false)),
            Total::BOut => classes.map(|c| (1, c, true)),
        }
    };
    let read =
        |v: &Value, path: &str, (rows, cols, one_d): (usize, usize, bool)| -> Result<Matrix<f64>> {
            if one_d {
                let m = row(v, path, "")?;
                expect_len(&m, path, cols, "(as in the case)")?;
                Ok(m)
            } else {
                let m = matrix(v, path, "")?;
                expect_shape(&m, path, rows, cols, "(as in the case)")?;
                Ok(m)
            }
        };
    match obj.get("grads") {
        None => {}
        Some(Value::Object(grads)) => {
            for total in [
                Total::WX,
                Total::WH,
                Total::B,
                Total::H0,
                Total::WOut,
                Total::BOut,
            ] {
                let Some(v) = grads.get(total.name()) else {
                    continue;
                };
                let path = format!("grads.{}", total.name());
                let Some(shape) = shape_of_total(total) else {
                    return Err(Error::invalid(
                        path,
                        "the case's head has no such parameter",
                    ));
                };
                user.totals.push((total, read(v, &path, shape)?));
            }
            if let Some(v) = grads.get("x") {
                let dx = by_step(v, "grads.x", "(batch, steps, features)")?;
                let (rows, cols) = dx[0].shape();
                if (rows, dx.len(), cols) != (b, t, f) {
                    return Err(Error::bad_shape(
                        "grads.x",
                        format!("{} (batch, steps, features), as x", numpy_shape(&[b, t, f])),
                        numpy_shape(&[rows, dx.len(), cols]),
                    ));
                }
                for (step, m) in user.steps.iter_mut().zip(dx) {
                    step.push((Quantity::Dx, m));
                }
            }
        }
        Some(other) => {
            return Err(Error::invalid(
                "grads",
                format!("expected an object, found {}", describe(other)),
            ));
        }
    }
    match obj.get("steps") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(step) = item else {
                    return Err(Error::invalid(
                        format!("steps[{i}]"),
                        format!("expected an object, found {}", describe(item)),
                    ));
                };
                let at = match step.get("t").and_then(Value::as_u64) {
                    Some(at) if (1..=t as u64).contains(&at) => at as usize,
                    Some(at) => {
                        return Err(Error::invalid(
                            format!("steps[{i}].t"),
                            format!("step {at} does not exist: steps are numbered 1 to {t}"),
                        ));
                    }
                    None => {
                        return Err(Error::invalid(
                            format!("steps[{i}].t"),
                            "required: the step number, 1 to T",
                        ));
                    }
                };
                for q in Quantity::ALL {
                    let Some(v) = step.get(q.name()) else {
                        continue;
                    };
                    let shape = match q {
                        Quantity::Dh | Quantity::Da => (b, h, false),
                        Quantity::Dx => (b, f, false),
                        Quantity::DwX => (f, h, false),
                        Quantity::DwH => (h, h, false),
                        Quantity::Db => (1, h, true),
                    };
                    let m = read(v, &format!("steps[{i}].{}", q.name()), shape)?;
                    let entry = &mut user.steps[at - 1];
                    entry.retain(|(known, _)| *known != q);
                    entry.push((q, m));
                }
            }
        }
        Some(other) => {
            return Err(Error::invalid(
                "steps",
                format!("expected an array, found {}", describe(other)),
            ));
        }
    }
    for step in &mut user.steps {
        step.sort_by_key(|(q, _)| Quantity::ALL.iter().position(|k| k == q));
    }
    Ok(user)
}

/// One three-way comparison as JSON: the three relative errors and the verdict.
fn triple_json(c: &Triple) -> Value {
    let verdict = |v: Verdict| v.to_string();
    json!({
        "hand_tape": c.hand_tape.rel,
        "hand_fd": c.hand_fd.rel,
        "tape_fd": c.tape_fd.rel,
        "verdict": verdict(c.verdict()),
    })
}

/// `check --json`: `{"ok", "mode", "eps", "loss", "resolution", "tolerances",
/// "first_failure": {"t", "quantity"} | null, "steps": [{"t", "dh": {…}, …}], "totals": {…}}`.
/// A relative error of +∞ (a NaN or infinity met) is written as `null`.
pub fn report_json(report: &Report) -> Value {
    let steps: Vec<Value> = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut step = Map::new();
            step.insert("t".into(), json!(i + 1));
            for (q, c) in row {
                step.insert(q.name().into(), triple_json(c));
            }
            Value::Object(step)
        })
        .collect();
    let totals: Map<String, Value> = report
        .totals
        .iter()
        .map(|(total, c)| (total.name().to_string(), triple_json(c)))
        .collect();
    json!({
        "ok": report.passed(),
        "mode": report.mode.name(),
        "eps": report.eps,
        "loss": report.loss,
        "resolution": report.resolution,
        "tolerances": {"hand_tape": report.tolerances.hand_tape, "fd": report.tolerances.fd},
        "first_failure": report.first_failure().map(|(t, q)| json!({"t": t, "quantity": q.name()})),
        "steps": steps,
        "totals": totals,
    })
}

/// `check --against --json`: `{"ok", "first_mismatch": {"t", "quantity"} | null,
/// "explanation", "tolerance", "loss": {"given", "tape"} | null, "findings": [{"t", "quantity",
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
        "first_mismatch": d.first_mismatch.map(|(t, q)| json!({"t": t, "quantity": q.name()})),
        "explanation": d.explanation,
        "tolerance": crate::diagnose::TOLERANCE,
        "loss": d.loss.map(|(given, tape)| json!({"given": given, "tape": tape})),
        "findings": findings,
    })
}
