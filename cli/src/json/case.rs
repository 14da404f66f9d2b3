//! Case files: `x`, the cell's parameters, its initial state and options, and the `loss`.

use super::Parsed;
use super::arrays::{
    by_step, describe, expect_len, expect_shape, matrix, numpy_shape, required, row, whole_number,
};
use super::keys::{check_keys, misspelling_of, shown_key};
use super::layout::{Convention, noted};
use super::lex::{marked_token, parse_json};
use serde_json::{Map, Value};
use tapegrad::case::Case;
use tapegrad::cell::{Cell, Dim};
use tapegrad::error::{Error, Result};
use tapegrad::loss::{Head, Reduction};
use tapegrad::matrix::Matrix;

/// Reads a case file into a [`Case`] of the cell `C`: [`case_from_value`] on the parsed text.
pub fn parse_case<C: Cell>(text: &str) -> Result<Parsed<Case<f64, C>>> {
    case_from_value(&parse_json(text, "case file")?)
}

/// The cell a case file names with `"cell"` (`"rnn"`), or `None` when it names none. Which
/// names exist is the command line's to say: it maps each to its cell.
pub fn cell_kind(value: &Value) -> Result<Option<&str>> {
    match value.get("cell") {
        None | Some(Value::Null) => Ok(None),
        // A marked NaN is not a name: the arm below describes it as the token it was.
        Some(v @ Value::String(kind)) if marked_token(v).is_none() => Ok(Some(kind)),
        Some(other) => Err(Error::invalid(
            "cell",
            format!("expected the name of a cell, found {}", describe(other)),
        )),
    }
}

/// A case of the cell `C` from a case file's value in the user's layout (`"layout"`,
/// `"weights"`, see [`Convention`]): the case in tapegrad's layout, and the convention to
/// write its gradients back in. When a case in the default layout is refused and its shapes
/// fit another layout, the message says so.
pub fn case_in_layout<C: Cell>(value: &Value) -> Result<(Parsed<Case<f64, C>>, Convention)> {
    let conv = match value {
        Value::Object(obj) => Convention::of_case(obj)?,
        _ => Convention::default(),
    };
    match case_from_value::<C>(&conv.case_to_rows(value)) {
        Ok(parsed) => Ok((parsed, conv)),
        Err(e) if !conv.is_default() => Err(noted(e, conv.note())),
        Err(e) if !value.is_object() => Err(e),
        Err(e) => {
            // Would the arrays make a case in another layout?
            let fits = [("layout", "time_major"), ("weights", "column")]
                .into_iter()
                .find(|&(key, word)| {
                    let mut other = value.clone();
                    other[key] = Value::from(word);
                    Convention::of_case(other.as_object().expect("an object: it was indexed"))
                        .is_ok_and(|c| case_from_value::<C>(&c.case_to_rows(&other)).is_ok())
                });
            Err(match fits {
                Some((key, word)) => noted(
                    e,
                    &format!(
                        "; the arrays fit \"{key}\": \"{word}\": add it to the case if that is \
                         how they are laid out"
                    ),
                ),
                None => e,
            })
        }
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
    case_keys.push("layout");
    case_keys.push("weights");
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
            Some(v @ Value::String(value)) if marked_token(v).is_none() => {
                options.push((key, value.clone()))
            }
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
pub(crate) const KINDS: &str = "\"sum_last\", \"softmax_ce\", \"softmax_ce_all\", \"mse_all\", \
                                \"mse_last\" or \"upstream\"";

/// The keys of the `loss` object.
pub(crate) const LOSS_KEYS: [&str; 10] = [
    "kind",
    "w_out",
    "b_out",
    "labels",
    "mask",
    "targets",
    "target",
    "dh",
    "reduction",
    "half",
];

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
        v @ Value::String(k) if marked_token(v).is_none() => k.as_str(),
        other => {
            return Err(Error::invalid(
                "loss.kind",
                format!("expected {KINDS}, found {}", describe(other)),
            ));
        }
    };
    // A key of another head is read past, with a warning naming it (reduction and half are
    // refused below where a head takes none).
    let reads: &[&str] = match kind {
        "softmax_ce" => &["w_out", "b_out", "labels"],
        "softmax_ce_all" => &["w_out", "b_out", "labels", "mask"],
        "mse_all" => &["targets"],
        "mse_last" => &["target"],
        "upstream" => &["dh"],
        _ => &[],
    };
    for key in loss.keys() {
        let data = LOSS_KEYS.contains(&key.as_str())
            && !["kind", "reduction", "half"].contains(&key.as_str());
        if data && !reads.contains(&key.as_str()) {
            ignored.push(format!(
                "loss.{key}: the {kind} head does not read it; ignored"
            ));
        }
    }
    // Which heads take "reduction" and "half", and their defaults.
    let reduction_default = match kind {
        "softmax_ce" | "softmax_ce_all" | "mse_last" => Some(Reduction::Mean),
        "mse_all" => Some(Reduction::Sum),
        _ => None,
    };
    let half_default = match kind {
        "mse_all" => Some(true),
        "mse_last" => Some(false),
        _ => None,
    };
    let reduction = option_of(
        loss,
        "reduction",
        kind,
        reduction_default,
        |v| match v {
            Value::String(r) if r == "mean" => Some(Reduction::Mean),
            Value::String(r) if r == "sum" => Some(Reduction::Sum),
            _ => None,
        },
        "\"mean\" or \"sum\"",
    )?;
    let half = option_of(
        loss,
        "half",
        kind,
        half_default,
        Value::as_bool,
        "true or false",
    )?;
    let per_step = |key: &str, meaning: &str| -> Result<Vec<Matrix<f64>>> {
        let path = format!("loss.{key}");
        let values = by_step(
            required(loss, key, "loss.", &format!("an array of shape {meaning}"))?,
            &path,
            meaning,
        )?;
        let (rows, cols) = values[0].shape();
        if (rows, values.len(), cols) != (batch, steps, hidden) {
            return Err(Error::bad_shape(
                path,
                format!(
                    "{} {meaning}, from x and {from}",
                    numpy_shape(&[batch, steps, hidden])
                ),
                numpy_shape(&[rows, values.len(), cols]),
            ));
        }
        Ok(values)
    };
    match kind {
        "sum_last" => Ok(Head::SumLast),
        "softmax_ce" => {
            let (w_out, b_out) = softmax_layer(loss, hidden, from)?;
            let classes = w_out.cols();
            let labels = match required(loss, "labels", "loss.", "one class index per sequence")? {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| label(v, &format!("loss.labels[{i}]"), classes))
                    .collect::<Result<Vec<usize>>>()?,
                other => {
                    let indices = if batch == 1 { "index" } else { "indices" };
                    return Err(Error::invalid(
                        "loss.labels",
                        format!(
                            "expected a 1-D array of {batch} class {indices} (or one-hot rows), \
                             found {}",
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
            Ok(Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
                reduction: reduction.expect("softmax_ce takes a reduction"),
            })
        }
        "softmax_ce_all" => {
            let (w_out, b_out) = softmax_layer(loss, hidden, from)?;
            let classes = w_out.cols();
            let labels = by_sequence_and_step(
                loss,
                "labels",
                (batch, steps),
                "(batch, steps) class indices, or (batch, steps, classes) one-hot",
                |v, path| label(v, path, classes),
            )?;
            let mask = match loss.get("mask") {
                None | Some(Value::Null) => vec![vec![true; batch]; steps],
                Some(_) => by_sequence_and_step(
                    loss,
                    "mask",
                    (batch, steps),
                    "(batch, steps) of true/false or 1/0",
                    mask_entry,
                )?,
            };
            Ok(Head::SoftmaxCeAll {
                w_out,
                b_out,
                labels,
                mask,
                reduction: reduction.expect("softmax_ce_all takes a reduction"),
            })
        }
        "mse_all" => Ok(Head::MseAll {
            targets: per_step("targets", "(batch, steps, hidden)")?,
            reduction: reduction.expect("mse_all takes a reduction"),
            half: half.expect("mse_all takes half"),
        }),
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
            Ok(Head::MseLast {
                target,
                reduction: reduction.expect("mse_last takes a reduction"),
                half: half.expect("mse_last takes half"),
            })
        }
        "upstream" => Ok(Head::Upstream {
            dout: per_step("dh", "(batch, steps, hidden)")?,
        }),
        other => Err(Error::invalid(
            "loss.kind",
            format!("unknown loss kind {other:?}; expected {KINDS}"),
        )),
    }
}

/// The head option `key` (`reduction`, `half`): its value read by `read`, `default` when it
/// is absent, and an error when the head `kind` takes no such option (`default` is `None`) or
/// the value is not one of `choices`.
fn option_of<V>(
    loss: &Map<String, Value>,
    key: &str,
    kind: &str,
    default: Option<V>,
    read: impl Fn(&Value) -> Option<V>,
    choices: &str,
) -> Result<Option<V>> {
    let path = format!("loss.{key}");
    match (loss.get(key), default) {
        (None | Some(Value::Null), default) => Ok(default),
        (Some(_), None) => {
            let takes = if key == "half" {
                "mse_all and mse_last"
            } else {
                "softmax_ce, softmax_ce_all, mse_all and mse_last"
            };
            Err(Error::invalid(
                path,
                format!("the {kind} head takes no {key} (only {takes} do)"),
            ))
        }
        (Some(v), Some(_)) => read(v).map(Some).ok_or_else(|| {
            Error::invalid(path, format!("expected {choices}, found {}", describe(v)))
        }),
    }
}

/// The softmax layer of a head: `w_out` (hidden, classes) and `b_out` (classes,).
fn softmax_layer(
    loss: &Map<String, Value>,
    hidden: usize,
    from: &str,
) -> Result<(Matrix<f64>, Matrix<f64>)> {
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
    let b_out = row(
        required(loss, "b_out", "loss.", "an array of shape (classes,)")?,
        "loss.b_out",
        "(classes,)",
    )?;
    expect_len(
        &b_out,
        "loss.b_out",
        w_out.cols(),
        "(classes,), classes from loss.w_out",
    )?;
    Ok((w_out, b_out))
}

/// A `(batch, steps)` array of the `loss` object, each entry read by `entry`, returned by step:
/// `result[t − 1][i]` is `loss.key[i][t − 1]`.
fn by_sequence_and_step<V: Clone>(
    loss: &Map<String, Value>,
    key: &str,
    (batch, steps): (usize, usize),
    meaning: &str,
    entry: impl Fn(&Value, &str) -> Result<V>,
) -> Result<Vec<Vec<V>>> {
    let path = format!("loss.{key}");
    let v = required(loss, key, "loss.", &format!("an array of shape {meaning}"))?;
    let rows = match v {
        Value::Array(rows) if rows.len() == batch => rows,
        other => {
            return Err(Error::invalid(
                &path,
                format!(
                    "expected {} {meaning}, batch and steps from x; found {}",
                    numpy_shape(&[batch, steps]),
                    describe(other)
                ),
            ));
        }
    };
    let mut by_step: Vec<Vec<V>> = vec![Vec::with_capacity(batch); steps];
    for (i, row) in rows.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match row {
            Value::Array(items) if items.len() == steps => {
                for (t, item) in items.iter().enumerate() {
                    by_step[t].push(entry(item, &format!("{at}[{t}]"))?);
                }
            }
            other => {
                return Err(Error::invalid(
                    at,
                    format!(
                        "expected {steps} entries (one per step of x), found {}",
                        describe(other)
                    ),
                ));
            }
        }
    }
    Ok(by_step)
}

/// One entry of a mask: `true`/`false`, or `1`/`0` as numpy writes a mask of numbers.
fn mask_entry(v: &Value, path: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => match whole_number(v) {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(Error::invalid(
                path,
                format!("expected true/false or 1/0, found {}", describe(v)),
            )),
        },
    }
}

/// One class label at `path`: a whole number in `0..classes`, or a one-hot row of `classes`
/// entries (one 1, the rest 0), read as the index of its 1.
pub(crate) fn label(v: &Value, path: &str, classes: usize) -> Result<usize> {
    if let Value::Array(items) = v {
        return one_hot(items, path, classes);
    }
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
            Err(Error::invalid(
                path,
                format!(
                    "expected a class index (a whole number ≥ 0) or a one-hot row, found {found}"
                ),
            ))
        }
    }
}

/// A one-hot row: `classes` entries, exactly one of them 1 and the others 0.
fn one_hot(items: &[Value], path: &str, classes: usize) -> Result<usize> {
    if items.len() != classes {
        return Err(Error::bad_shape(
            path,
            format!("({classes},) for a one-hot label (classes from loss.w_out)"),
            numpy_shape(&[items.len()]),
        ));
    }
    let mut hot = None;
    for (j, item) in items.iter().enumerate() {
        match (whole_number(item), hot) {
            (Some(0), _) => {}
            (Some(1), None) => hot = Some(j),
            (Some(1), Some(first)) => {
                return Err(Error::invalid(
                    path,
                    format!(
                        "a one-hot label has one 1, found two (at [{first}] and [{j}]); \
                         soft labels are not read"
                    ),
                ));
            }
            _ => {
                return Err(Error::invalid(
                    format!("{path}[{j}]"),
                    format!(
                        "a one-hot label holds 0 and 1 only, found {}",
                        describe(item)
                    ),
                ));
            }
        }
    }
    hot.ok_or_else(|| Error::invalid(path, "a one-hot label has one 1, found none"))
}
