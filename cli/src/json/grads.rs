//! Gradient files: what `check --against` reads, in the form `grads --json` writes, any key
//! missing.

use super::Parsed;
use super::arrays::{
    by_step, describe, expect_len, expect_shape, matrix, numpy_shape, row, whole_number,
};
use super::keys::check_keys;
use super::lex::{marked_token, non_number_why, parse_json};
use serde_json::Value;
use tapegrad::case::Case;
use tapegrad::cell::{Cell, DX, Site, quantities};
use tapegrad::error::{Error, Result};
use tapegrad::gradients::{Dtype, Given};
use tapegrad::loss::HEAD_PARAMS;
use tapegrad::matrix::Matrix;

/// The shape a gradient file's array must have: rows, columns, and whether numpy stores it 1-D.
pub(crate) type Expected = (usize, usize, bool);

/// Reads a gradient file in the `grads --json` format in which any key may be missing, and
/// checks every shape that is there against `case`.
pub fn parse_given<C: Cell>(text: &str, case: &Case<f64, C>) -> Result<Parsed<Given>> {
    given_from_value(&parse_json(text, "gradient file")?, case)
}

/// [`parse_given`] on a value already read, from JSON or an `.npz`.
pub fn given_from_value<C: Cell>(value: &Value, case: &Case<f64, C>) -> Result<Parsed<Given>> {
    let Value::Object(obj) = value else {
        return Err(Error::invalid(
            "gradient file",
            format!(
                "expected a JSON object {{\"grads\": …, \"steps\": …}}, found {}",
                describe(value)
            ),
        ));
    };
    let first_param = C::PARAMS[0].key;
    if obj.contains_key("x") || obj.contains_key(first_param) {
        return Err(Error::invalid(
            "gradient file",
            format!(
                "this looks like a case file (it has \"x\" or \"{first_param}\"): give it with \
                 --case, and the gradients (as grads --json writes them) with --against"
            ),
        ));
    }
    let mut ignored = Vec::new();
    // Unread keys holding arrays or objects, anywhere in the file.
    let mut unread = check_keys(obj, &["loss", "grads", "steps", "dtype"], "", &mut ignored)?;
    let dims = case.dims();
    let (b, t, f, h) = (dims.batch, dims.steps, dims.features, dims.hidden);
    let mut user = Given {
        loss: None,
        totals: Vec::new(),
        steps: vec![Vec::new(); t],
        x: Vec::new(),
        dtype: Dtype::Float64,
    };
    // Whether `steps[]` gave a `dx` of its own: then `grads.x` is compared apart.
    let mut steps_give_dx = false;
    if let Some(v) = obj.get("loss") {
        user.loss = Some(match v {
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => {
                let why = match marked_token(other) {
                    Some(token) => non_number_why(token),
                    None => format!("expected a number, found {}", describe(other)),
                };
                return Err(Error::invalid("loss", why));
            }
        });
    }
    // Each total, the shape it must have (numpy's) and whether numpy stores it 1-D; `None` for
    // a head parameter the case's head does not have.
    let head_params = case.head.params();
    let mut total_shapes: Vec<(&'static str, Option<Expected>)> = Vec::new();
    for p in C::PARAMS {
        let (rows, cols) = p.shape(f, h);
        total_shapes.push((p.key, Some((rows, cols, p.is_row()))));
    }
    for s in C::STATES {
        total_shapes.push((s.initial, Some((b, h, false))));
    }
    for p in HEAD_PARAMS {
        let of_case = head_params.iter().find(|(q, _)| q.key == p.key);
        total_shapes.push((p.key, of_case.map(|(_, m)| (m.rows(), m.cols(), p.row))));
    }
    let read = |v: &Value, path: &str, (rows, cols, one_d): Expected| -> Result<Matrix<f64>> {
        if one_d {
            let m = row(v, path, &numpy_shape(&[cols]))?;
            expect_len(&m, path, cols, "(as in the case)")?;
            Ok(m)
        } else {
            let m = matrix(v, path, &numpy_shape(&[rows, cols]))?;
            expect_shape(&m, path, rows, cols, "(as in the case)")?;
            Ok(m)
        }
    };
    let mut grads_keys: Vec<&str> = C::PARAMS.iter().map(|p| p.key).collect();
    grads_keys.push("x");
    grads_keys.extend(C::STATES.iter().map(|s| s.initial));
    match obj.get("grads") {
        None => {}
        Some(Value::Object(grads)) => {
            let mut known = grads_keys.clone();
            known.extend(HEAD_PARAMS.iter().map(|p| p.key));
            unread += check_keys(grads, &known, "grads.", &mut ignored)?;
            for &(key, shape) in &total_shapes {
                let Some(v) = grads.get(key) else {
                    continue;
                };
                let path = format!("grads.{key}");
                let Some(shape) = shape else {
                    return Err(Error::invalid(
                        path,
                        "the case's head has no such parameter",
                    ));
                };
                user.totals.push((key, read(v, &path, shape)?));
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
                for (step, m) in user.steps.iter_mut().zip(&dx) {
                    step.push((DX, m.clone()));
                }
                user.x = dx;
            }
        }
        Some(other) => {
            return Err(Error::invalid(
                "grads",
                format!("expected an object, found {}", describe(other)),
            ));
        }
    }
    let qs = quantities::<C>();
    let quantity_shape = |site: Site| -> Expected {
        match site {
            Site::State(_) => (b, h, false),
            Site::Internal(i) => (b, C::INTERNALS[i].cols.size(f, h), false),
            Site::Input => (b, f, false),
            Site::Param(i) => {
                let (rows, cols) = C::PARAMS[i].shape(f, h);
                (rows, cols, C::PARAMS[i].is_row())
            }
        }
    };
    match obj.get("steps") {
        None => {}
        Some(Value::Array(items)) => {
            // Where each step number was first given, to refuse a second entry for it.
            let mut first_given = vec![None; t];
            for (i, item) in items.iter().enumerate() {
                let Value::Object(step) = item else {
                    return Err(Error::invalid(
                        format!("steps[{i}]"),
                        format!("expected an object, found {}", describe(item)),
                    ));
                };
                let mut known = vec!["t"];
                known.extend(qs.iter().map(|q| q.name));
                unread += check_keys(step, &known, &format!("steps[{i}]."), &mut ignored)?;
                let at = step_number(step.get("t"), &format!("steps[{i}].t"), t)?;
                if let Some(first) = first_given[at - 1].replace(i) {
                    return Err(Error::invalid(
                        format!("steps[{i}].t"),
                        format!(
                            "step {at} is already given by steps[{first}]: give each step once"
                        ),
                    ));
                }
                for q in &qs {
                    let Some(v) = step.get(q.name) else {
                        continue;
                    };
                    steps_give_dx |= q.name == DX;
                    let path = format!("steps[{i}].{}", q.name);
                    let m = read(v, &path, quantity_shape(q.site))?;
                    let entry = &mut user.steps[at - 1];
                    entry.retain(|(known, _)| *known != q.name);
                    entry.push((q.name, m));
                }
            }
        }
        // The stacked form, as an .npz holds it: one array per quantity, step after step.
        Some(Value::Object(stacked)) => {
            let known: Vec<&str> = qs.iter().map(|q| q.name).collect();
            unread += check_keys(stacked, &known, "steps.", &mut ignored)?;
            for q in &qs {
                let Some(v) = stacked.get(q.name) else {
                    continue;
                };
                let path = format!("steps.{}", q.name);
                // A state's gradient may start at t = 0 (dh_0, which the totals call h0).
                let initial = match q.site {
                    Site::State(s) => Some(C::STATES[s].initial),
                    _ => None,
                };
                let items = match v {
                    Value::Array(items) if items.len() == t => items.as_slice(),
                    Value::Array(items) if initial.is_some() && items.len() == t + 1 => {
                        let key = initial.expect("checked in the guard");
                        if user.totals.iter().any(|(k, _)| *k == key) {
                            return Err(Error::invalid(
                                format!("{path}[0]"),
                                format!(
                                    "the gradient for t = 0 is also given as grads.{key}: give \
                                     it once"
                                ),
                            ));
                        }
                        user.totals
                            .push((key, read(&items[0], &format!("{path}[0]"), (b, h, false))?));
                        &items[1..]
                    }
                    other => {
                        let lengths = if initial.is_some() {
                            format!("{t} steps (t = 1..{t}) or {} (t = 0..{t})", t + 1)
                        } else {
                            format!("{t} steps (t = 1..{t})")
                        };
                        return Err(Error::invalid(
                            path,
                            format!(
                                "expected the per-step values stacked along the first axis, \
                                 {lengths}; found {}",
                                describe(other)
                            ),
                        ));
                    }
                };
                let first = if items.len() < v.as_array().map_or(0, Vec::len) {
                    1
                } else {
                    0
                };
                steps_give_dx |= q.name == DX;
                for (k, item) in items.iter().enumerate() {
                    let at = format!("{path}[{}]", k + first);
                    let m = read(item, &at, quantity_shape(q.site))?;
                    user.steps[k].push((q.name, m));
                }
            }
        }
        Some(other) => {
            return Err(Error::invalid(
                "steps",
                format!(
                    "expected an array of steps [{{\"t\": 1, …}}, …] or an object of stacked \
                     arrays {{\"dh\": (steps, batch, hidden), …}}, found {}",
                    describe(other)
                ),
            ));
        }
    }
    for step in &mut user.steps {
        step.sort_by_key(|(name, _)| qs.iter().position(|q| q.name == *name));
    }
    // `grads.x` alone stands in for the per-step `dx` (and is compared there); beside per-step
    // `dx` of its own, it is compared apart, so that neither goes unread.
    if !steps_give_dx {
        user.x.clear();
    }
    // A declared precision is taken at its word (values cast to float64 before export keep
    // float32's rounding but are no longer exact float32 numbers); otherwise the values say.
    user.dtype = match obj.get("dtype") {
        Some(v) => declared_dtype(v)?,
        None => precision_of(&user),
    };
    // An empty comparison would agree with anything: refuse it rather than report a pass. So is
    // a file whose arrays all sit under keys the tool does not read: comparing its loss alone
    // would report a pass for gradients never looked at.
    let no_gradient = user.totals.is_empty() && user.steps.iter().all(Vec::is_empty);
    if no_gradient && (user.loss.is_none() || unread > 0) {
        let keys: Vec<&String> = obj.keys().collect();
        return Err(Error::invalid(
            "gradient file",
            format!(
                "nothing to compare: expected \"loss\", \"grads\" {{{}, …}} or \"steps\" \
                 [{{\"t\", \"{}\", …}}] as `grads --json` writes them, found the keys {keys:?}",
                grads_keys.join(", "),
                qs[0].name
            ),
        ));
    }
    Ok(Parsed {
        value: user,
        ignored,
    })
}

/// The `"dtype"` of a gradient file: numpy's name of the precision, `"float32"` or `"float64"`.
fn declared_dtype(v: &Value) -> Result<Dtype> {
    match v.as_str() {
        Some("float64") => Ok(Dtype::Float64),
        Some("float32") => Ok(Dtype::Float32),
        _ => Err(Error::invalid(
            "dtype",
            format!(
                "expected \"float32\" or \"float64\" (numpy's names, as `str(a.dtype)` \
                 gives), found {}",
                v
            ),
        )),
    }
}

/// How many values with a fraction must be given, all exactly float32 numbers, before the
/// values are read as float32: a few round numbers (0.5, 0.25) are exact in both precisions.
const FLOAT32_EVIDENCE: usize = 8;

/// The precision the given values were computed in: float32 when every value is exactly a
/// float32 number and enough of them have a fraction to tell (numpy's `float32` arrays, written
/// by `tolist()`, are exactly that), float64 otherwise.
fn precision_of(given: &Given) -> Dtype {
    let matrices = given
        .steps
        .iter()
        .flatten()
        .chain(&given.totals)
        .map(|(_, m)| m)
        .chain(&given.x);
    let values = matrices
        .flat_map(|m| m.as_slice().iter().copied())
        .chain(given.loss);
    let mut fractional = 0;
    for v in values {
        if f64::from(v as f32) != v {
            return Dtype::Float64;
        }
        if v.fract() != 0.0 {
            fractional += 1;
        }
    }
    if fractional >= FLOAT32_EVIDENCE {
        Dtype::Float32
    } else {
        Dtype::Float64
    }
}

/// A step number `t` of a gradient file: a whole number from 1 to `steps` (`3` or `3.0`).
pub(crate) fn step_number(v: Option<&Value>, path: &str, steps: usize) -> Result<usize> {
    let Some(v) = v else {
        return Err(Error::invalid(
            path,
            format!("required field is missing: the step number, 1 to {steps}"),
        ));
    };
    match whole_number(v).map(usize::try_from) {
        Some(Ok(at)) if (1..=steps).contains(&at) => Ok(at),
        Some(_) => Err(Error::invalid(
            path,
            format!(
                "step {v} does not exist: steps are numbered 1 to {steps} (t = 0 is h0, whose \
                 gradient goes in grads.h0)"
            ),
        )),
        None => Err(Error::invalid(
            path,
            format!(
                "expected the step number, a whole number from 1 to {steps}, found {}",
                describe(v)
            ),
        )),
    }
}
