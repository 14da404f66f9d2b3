//! Case files: `x`, the cell's parameters, its initial state and options, and the `loss`.

use super::Parsed;
use super::arrays::{
    by_step, describe, expect_len, expect_shape, matrix, numpy_shape, required, row, whole_number,
};
use super::keys::{check_keys, misspelling_of, shown_key};
use super::lex::parse_json;
use serde_json::{Map, Value};
use tapegrad::case::Case;
use tapegrad::cell::{Cell, Dim};
use tapegrad::error::{Error, Result};
use tapegrad::loss::Head;

/// Reads a case file into a [`Case`] of the cell `C`: [`case_from_value`] on the parsed text.
pub fn parse_case<C: Cell>(text: &str) -> Result<Parsed<Case<f64, C>>> {
    case_from_value(&parse_json(text, "case file")?)
}

/// The cell a case file names with `"cell"` (`"rnn"`), or `None` when it names none. Which
/// names exist is the command line's to say: it maps each to its cell.
pub fn cell_kind(value: &Value) -> Result<Option<&str>> {
    match value.get("cell") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(kind)) => Ok(Some(kind)),
        Some(other) => Err(Error::invalid(
            "cell",
            format!("expected the name of a cell, found {}", describe(other)),
        )),
    }
}

/// A case of the cell `C` from a case file's value, checking every field: `x`, the cell's
/// parameters (`w_x`, `w_h`, `b`), its initial state (`h0`, optional), its options
/// (`activation`) and the `loss`; `"cell"`, if there, is the caller's to have read.
pub fn case_from_value<C: Cell>(value: &Value) -> Result<Parsed<Case<f64, C>>> {
    let Value::Object(obj) = value else {
        return Err(Error::invalid(
            "case file",
            format!(
                "expected a JSON object {{\"x\": …, \"{}\": …}}, found {}",
                C::PARAMS[0].key,
                describe(value)
            ),
        ));
    };
    if !obj.contains_key("x") && (obj.contains_key("grads") || obj.contains_key("steps")) {
        return Err(Error::invalid(
            "case file",
            "this looks like a gradient file (it has \"grads\" or \"steps\" and no \"x\"): \
             give it with --against, and the case with --case",
        ));
    }
    let mut case_keys = vec!["x"];
    case_keys.extend(C::PARAMS.iter().map(|p| p.key));
    case_keys.extend(C::STATES.iter().map(|s| s.initial));
    case_keys.extend(C::OPTIONS.iter().map(|&(key, _)| key));
    case_keys.push("loss");
    case_keys.push("cell");
    let head_key = obj
        .keys()
        .filter(|key| !case_keys.contains(&key.as_str()))
        .find(|key| LOSS_KEYS.contains(&key.as_str()) || misspelling_of(key, &LOSS_KEYS).is_some());
    if !obj.contains_key("loss")
        && let Some(key) = head_key
    {
        let example = match misspelling_of(key, &LOSS_KEYS).unwrap_or(key) {
            "targets" => r#"{"kind": "mse_all", "targets": …}"#,
            "target" => r#"{"kind": "mse_last", "target": …}"#,
            _ => r#"{"kind": "softmax_ce", "w_out": …, "b_out": …, "labels": …}"#,
        };
        let key = shown_key(key);
        return Err(Error::invalid(
            key.as_ref(),
            format!(
                "belongs inside the \"loss\" object, e.g. {{\"loss\": {example}}}; without it \
                 the loss is sum_last and {key} would be ignored"
            ),
        ));
    }
    let mut ignored = Vec::new();
    check_keys(obj, &case_keys, "", &mut ignored)?;
    let x = by_step(
        required(obj, "x", "", "an array of shape (batch, steps, features)")?,
        "x",
        "(batch, steps, features)",
    )?;
    let (batch, features) = x[0].shape();
    let steps = x.len();
    // The parameters in the cell's order; the first whose columns count hidden units says how
    // many there are, and the others are checked against it.
    let mut hidden: Option<(usize, &str)> = None;
    let mut params = Vec::with_capacity(C::PARAMS.len());
    // A gated cell's shapes are multiples of hidden: the message says which cell asks for them.
    let gated = C::PARAMS
        .iter()
        .any(|p| matches!(p.cols, Dim::Hidden(k) if k > 1));
    for p in C::PARAMS {
        let meaning = if gated {
            format!("{} for \"cell\": \"{}\"", p.words(), C::KIND)
        } else {
            p.words()
        };
        let v = required(obj, p.key, "", &format!("an array of shape {meaning}"))?;
        let m = if p.is_row() {
            row(v, p.key, &meaning)?
        } else {
            matrix(v, p.key, &meaning)?
        };
        match (hidden, p.cols) {
            (None, Dim::Hidden(k)) => {
                if m.cols() % k != 0 {
                    return Err(Error::bad_shape(
                        p.key,
                        format!("{meaning}: columns a multiple of {k}"),
                        numpy_shape(&[m.rows(), m.cols()]),
                    ));
                }
                if p.rows == Dim::Features && m.rows() != features {
                    return Err(Error::bad_shape(
                        p.key,
                        format!(
                            "({features}, {}) with features = {features} from x",
                            p.cols.words()
                        ),
                        numpy_shape(&[m.rows(), m.cols()]),
                    ));
                }
                hidden = Some((m.cols() / k, p.key));
            }
            (Some((h, from)), _) => {
                let (rows, cols) = p.shape(features, h);
                let meaning = format!("{meaning}, hidden from {from}");
                if p.is_row() {
                    expect_len(&m, p.key, cols, &meaning)?;
                } else {
                    expect_shape(&m, p.key, rows, cols, &meaning)?;
                }
            }
            (None, _) => unreachable!(
                "invariant: a cell's first parameter is the input's weight, features × k·hidden"
            ),
        }
        params.push(m);
    }
    let (hidden, from) = hidden.expect("invariant: a cell has a parameter of hidden columns");
    let mut initial = Vec::with_capacity(C::STATES.len());
    for s in C::STATES {
        initial.push(match obj.get(s.initial) {
            None | Some(Value::Null) => None,
            Some(v) => {
                let s0 = matrix(v, s.initial, "(batch, hidden)")?;
                let meaning = format!("(batch, hidden), from x and {from}");
                expect_shape(&s0, s.initial, batch, hidden, &meaning)?;
                Some(s0)
            }
        });
    }
    let mut options: Vec<(&str, String)> = Vec::new();
    for &(key, choices) in C::OPTIONS {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) => options.push((key, value.clone())),
            Some(other) => {
                return Err(Error::invalid(
                    key,
                    format!("expected a string ({choices}), found {}", describe(other)),
                ));
            }
        }
    }
    let option = |key: &str| {
        options
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    };
    let cell = C::from_options(&option)?;
    let head = match obj.get("loss") {
        None | Some(Value::Null) => Head::SumLast,
        Some(Value::Object(loss)) => parse_head(loss, (batch, steps, hidden), from, &mut ignored)?,
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
    let case = Case::new(cell, params, x, initial, head)?;
    // Values of the right shapes that the cell's convention has no place for.
    case.cell.check_params(&case.param_refs())?;
    Ok(Parsed {
        value: case,
        ignored,
    })
}

/// The loss kinds a case file may name, for messages.
pub(crate) const KINDS: &str = "\"sum_last\", \"softmax_ce\", \"mse_all\" or \"mse_last\"";

/// The keys of the `loss` object.
pub(crate) const LOSS_KEYS: [&str; 6] = ["kind", "w_out", "b_out", "labels", "targets", "target"];

/// Reads the `loss` object of a case file, for states of `(batch, steps, hidden)`, with
/// `hidden` read from the parameter `from`.
pub(crate) fn parse_head(
    loss: &Map<String, Value>,
    (batch, steps, hidden): (usize, usize, usize),
    from: &str,
    ignored: &mut Vec<String>,
) -> Result<Head<f64>> {
    check_keys(loss, &LOSS_KEYS, "loss.", ignored)?;
    let kind = match required(loss, "kind", "loss.", KINDS)? {
        Value::String(k) => k.as_str(),
        other => {
            return Err(Error::invalid(
                "loss.kind",
                format!("expected {KINDS}, found {}", describe(other)),
            ));
        }
    };
    match kind {
        "sum_last" => Ok(Head::SumLast),
        "softmax_ce" => {
            let w_out = matrix(
                required(
                    loss,
                    "w_out",
                    "loss.",
                    "an array of shape (hidden, classes)",
                )?,
                "loss.w_out",
                "(hidden, classes)",
            )?;
            if w_out.rows() != hidden {
                return Err(Error::bad_shape(
                    "loss.w_out",
                    format!("({hidden}, classes) with hidden = {hidden} from {from}"),
                    numpy_shape(&[w_out.rows(), w_out.cols()]),
                ));
            }
            let classes = w_out.cols();
            let b_out = row(
                required(loss, "b_out", "loss.", "an array of shape (classes,)")?,
                "loss.b_out",
                "(classes,)",
            )?;
            expect_len(
                &b_out,
                "loss.b_out",
                classes,
                "(classes,), classes from loss.w_out",
            )?;
            let labels = match required(loss, "labels", "loss.", "one class index per sequence")? {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| label(v, i, classes))
                    .collect::<Result<Vec<usize>>>()?,
                other => {
                    let indices = if batch == 1 { "index" } else { "indices" };
                    return Err(Error::invalid(
                        "loss.labels",
                        format!(
                            "expected a 1-D array of {batch} class {indices}, found {}",
                            describe(other)
                        ),
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
            Ok(Head::softmax_ce(w_out, b_out, labels))
        }
        "mse_all" => {
            let targets = by_step(
                required(
                    loss,
                    "targets",
                    "loss.",
                    "an array of shape (batch, steps, hidden)",
                )?,
                "loss.targets",
                "(batch, steps, hidden)",
            )?;
            let (rows, cols) = targets[0].shape();
            if (rows, targets.len(), cols) != (batch, steps, hidden) {
                return Err(Error::bad_shape(
                    "loss.targets",
                    format!(
                        "{} (batch, steps, hidden), from x and {from}",
                        numpy_shape(&[batch, steps, hidden])
                    ),
                    numpy_shape(&[rows, targets.len(), cols]),
                ));
            }
            Ok(Head::mse_all(targets))
        }
        "mse_last" => {
            let target = matrix(
                required(loss, "target", "loss.", "an array of shape (batch, hidden)")?,
                "loss.target",
                "(batch, hidden)",
            )?;
            expect_shape(
                &target,
                "loss.target",
                batch,
                hidden,
                &format!("(batch, hidden), from x and {from}"),
            )?;
            Ok(Head::mse_last(target))
        }
        other => Err(Error::invalid(
            "loss.kind",
            format!("unknown loss kind {other:?}; expected {KINDS}"),
        )),
    }
}

/// One class label: a whole number in `0..classes`.
pub(crate) fn label(v: &Value, i: usize, classes: usize) -> Result<usize> {
    let path = format!("loss.labels[{i}]");
    match whole_number(v).map(usize::try_from) {
        Some(Ok(l)) if l < classes => Ok(l),
        Some(l) => Err(Error::invalid(
            path,
            format!(
                "label {} is out of range: expected 0 ≤ label < {classes} (classes, from loss.w_out)",
                l.map_or_else(|_| v.to_string(), |l| l.to_string())
            ),
        )),
        None => {
            let found = match v {
                Value::Number(n) => n.to_string(),
                other => describe(other),
            };
            let hint = if matches!(v, Value::Array(_)) {
                " (one-hot rows? give class indices instead: labels.argmax(axis=1).tolist())"
            } else {
                ""
            };
            Err(Error::invalid(
                path,
                format!("expected a class index (a whole number ≥ 0), found {found}{hint}"),
            ))
        }
    }
}
