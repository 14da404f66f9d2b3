//! The JSON side of the command line (DESIGN §5): reading case files and gradient files that
//! users export from numpy with `json.dump({...: arr.tolist()})`, and writing `--json` output.
//!
//! Only built with the `cli` feature. Every error names the field (`w_h`, `loss.labels[2]`,
//! `x[0][1]`), the shape expected and the shape found, in numpy's `(a, b, c)` notation.

use crate::case::Case;
use crate::cell::{Cell, DX, Dim, Site, quantities};
use crate::check::{NonFiniteAt, Report, Triple};
use crate::diagnose::Diagnosis;
use crate::error::{Error, Result};
use crate::fd::Verdict;
use crate::gradients::{Given, Gradients};
use crate::loss::{HEAD_PARAMS, Head};
use crate::matrix::Matrix;
use crate::sequence::Forward;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// The first character of the string that stands in for a number JSON cannot hold (`NaN`,
/// `Infinity`, `-Infinity`, or a literal too large for a float64) once [`mark_non_numbers`] has
/// rewritten it: a NUL, which no numpy export writes inside a string.
const MARK: char = '\u{0}';

/// Parses JSON text, explaining the mistakes numpy users make: an empty file, truncation,
/// trailing text, Python's `repr` pasted instead of JSON, and the `NaN` and `Infinity` tokens
/// that Python's `json.dump` writes but JSON does not allow.
///
/// Those tokens, and numbers too large for a float64, do not stop the parse: they are read as
/// marked strings, so that the loader that meets one can name its exact place,
/// `b[1]` or `steps[2].dh[0][3]`, instead of a line and a column.
pub fn parse_json(text: &str, what: &str) -> Result<Value> {
    // A byte-order mark (some editors write one) is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::invalid(
            what,
            "the file is empty; expected a JSON object { … }",
        ));
    }
    let error = match serde_json::from_str(text) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let offset = byte_offset(text, error.line(), error.column());
    if !is_non_number_at(text, offset, &error) {
        return Err(syntax_error(what, text, offset, &error));
    }
    let (marked, shifts) = mark_non_numbers(text);
    serde_json::from_str(&marked).map_err(|e| {
        // Report the position in the user's text, not in the rewritten one.
        let in_marked = byte_offset(&marked, e.line(), e.column());
        let grown: usize = shifts
            .iter()
            .filter(|(at, _)| *at < in_marked)
            .map(|(_, by)| by)
            .sum();
        syntax_error(what, text, in_marked.saturating_sub(grown), &e)
    })
}

/// Whether serde_json stopped at `offset` because of a `NaN`, `Infinity` or `-Infinity` token,
/// or a number too large for a float64.
fn is_non_number_at(text: &str, offset: usize, error: &serde_json::Error) -> bool {
    let rest = text.get(offset..).unwrap_or("").trim_start();
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    rest.starts_with("NaN")
        || rest.starts_with("Infinity")
        || error.to_string().starts_with("number out of range")
}

/// Rewrites every `NaN`, `Infinity`, `-Infinity` and too-large number outside strings as a
/// JSON string `"\u0000TOKEN"` (see [`MARK`]). Returns the new text and, for each rewrite, its
/// byte position in the new text and how many bytes longer it made the text.
fn mark_non_numbers(text: &str) -> (String, Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut shifts = Vec::new();
    let (mut i, mut copied) = (0, 0);
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        let token_len = if c == b'"' {
            in_string = true;
            0
        } else if let Some(word) = ["NaN", "Infinity", "-Infinity"]
            .iter()
            .find(|w| bytes[i..].starts_with(w.as_bytes()))
        {
            word.len()
        } else if c == b'-' || c.is_ascii_digit() {
            let len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                .count();
            match text[i..i + len].parse::<f64>() {
                Ok(v) if v.is_infinite() => len,
                // A number that fits stays as it is: skip past its digits.
                _ => {
                    i += len;
                    continue;
                }
            }
        } else {
            0
        };
        if token_len == 0 {
            i += 1;
            continue;
        }
        out.push_str(&text[copied..i]);
        let replacement = format!("\"\\u0000{}\"", &text[i..i + token_len]);
        shifts.push((out.len(), replacement.len() - token_len));
        out.push_str(&replacement);
        i += token_len;
        copied = i;
    }
    out.push_str(&text[copied..]);
    (out, shifts)
}

/// The token a marked string stands for (`NaN`, `-Infinity`, `1e999`), if `v` is one.
fn marked_token(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => s.strip_prefix(MARK),
        _ => None,
    }
}

/// Why a marked token cannot be used, in the words a numpy user needs.
fn non_number_why(token: &str) -> String {
    if token.contains("NaN") || token.contains("Infinity") {
        format!(
            "found {token}, which Python's json.dump writes for nan or inf but JSON does not \
             allow; tapegrad needs finite numbers (np.isfinite(arr).all() finds the bad entries)"
        )
    } else {
        format!("the number {token} does not fit in a float64 (the largest is about 1.8e308)")
    }
}

/// A syntax error as one line: where, what serde_json says, and a hint at the usual cause.
fn syntax_error(what: &str, text: &str, offset: usize, error: &serde_json::Error) -> Error {
    let offset = char_floor(text, offset);
    let (line, column) = line_column(text, offset);
    let full = error.to_string();
    // serde_json's message ends in " at line L column C"; the position is given in our words.
    let message = full.split(" at line ").next().unwrap_or(&full);
    let hint = if message.starts_with("EOF") {
        " (the file ends too early: was it cut off while copying or saving?)"
    } else if message.starts_with("trailing") {
        " (there is more text after the closing bracket of the JSON value)"
    } else if message.starts_with("recursion limit") {
        " (arrays or objects are nested more than 128 deep; a case needs at most 3 levels)"
    } else if message.starts_with("key must be a string") || text[offset..].starts_with('\'') {
        " (JSON needs double quotes: write the file with json.dump, not print or str)"
    } else if ["True", "False", "None"]
        .iter()
        .any(|w| text[offset..].starts_with(w))
    {
        " (Python's True, False and None are true, false and null in JSON: use json.dump)"
    } else {
        ""
    };
    Error::invalid(
        what,
        format!("not valid JSON at line {line}, column {column}: {message}{hint}"),
    )
}

/// The byte offset of serde_json's 1-based `(line, column)` position.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    char_floor(text, line_start + column.saturating_sub(1))
}

/// The largest character boundary at or before `offset` (at most the end of `text`), so that
/// slicing there cannot split a multi-byte character.
fn char_floor(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Says what a JSON value is, for messages: `a number`, `a 2-D array of shape (1, 3)`, ….
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "true/false".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(text) => match marked_token(v) {
            Some(token) => token.to_string(),
            None if text.chars().count() <= 24 => format!("the string {text:?}"),
            None => "a string".into(),
        },
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
/// returns its shape and its entries in row-major order. `meaning` names the axes, as in
/// `(batch, steps, features)`, or gives the expected shape itself.
fn array(v: &Value, path: &str, dims: usize, meaning: &str) -> Result<(Vec<usize>, Vec<f64>)> {
    let expected = format!("a {dims}-D array {meaning}");
    let shape = shape_of(v);
    if let Some(axis) = shape.iter().position(|&n| n == 0) {
        // An empty array has no first element to read deeper shapes from, so the number of
        // dimensions is unknown: say which array is empty.
        let empty = format!("{path}{}", "[0]".repeat(axis));
        return Err(Error::invalid(
            path,
            format!(
                "expected {expected} with no empty axis, found shape {}: {empty} is empty",
                numpy_shape(&shape)
            ),
        ));
    }
    if !matches!(v, Value::Array(_)) || shape.len() != dims {
        // A 2-D array where (batch, steps, …) belongs is most often one sequence: say how to
        // add the batch axis.
        let hint = if matches!(v, Value::Array(_)) && (shape.len(), dims) == (2, 3) {
            format!(" (for a batch of one, add the axis in numpy: {path}[None].tolist())")
        } else {
            String::new()
        };
        return Err(Error::invalid(
            path,
            format!("expected {expected}, found {}{hint}", describe(v)),
        ));
    }
    let mut data = Vec::with_capacity(shape.iter().product());
    collect(v, path, path, &shape, &mut data)?;
    Ok((shape, data))
}

/// Walks a nested array that should have shape `shape`, appending its numbers to `out`.
///
/// `first` is the path of the array at this depth that `shape` was read from (`x[0][0]` while
/// at `x[0][1]`), for the message about a ragged array. The recursion is as deep as `shape` is
/// long, at most three levels.
fn collect(v: &Value, path: &str, first: &str, shape: &[usize], out: &mut Vec<f64>) -> Result<()> {
    let Some((&len, inner)) = shape.split_first() else {
        return match v {
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => {
                    out.push(x);
                    Ok(())
                }
                _ => Err(Error::invalid(path, non_number_why(&n.to_string()))),
            },
            other => match marked_token(other) {
                Some(token) => Err(Error::invalid(path, non_number_why(token))),
                None => Err(Error::invalid(
                    path,
                    format!("expected a number, found {}", describe(other)),
                )),
            },
        };
    };
    match v {
        Value::Array(items) if items.len() == len => {
            for (i, item) in items.iter().enumerate() {
                collect(
                    item,
                    &format!("{path}[{i}]"),
                    &format!("{first}[0]"),
                    inner,
                    out,
                )?;
            }
            Ok(())
        }
        Value::Array(items) => Err(Error::invalid(
            path,
            format!(
                "the array is ragged: expected {len} entries, as {first} has, found {} \
                 (every row of a numpy array has the same length)",
                items.len()
            ),
        )),
        other => Err(Error::invalid(
            path,
            format!(
                "expected an array of {len} entries, as {first} is, found {}",
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

/// A required field of an object; `meaning` says what it should hold.
fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    prefix: &str,
    meaning: &str,
) -> Result<&'a Value> {
    obj.get(key).ok_or_else(|| {
        Error::invalid(
            format!("{prefix}{key}"),
            format!("required field is missing: expected {meaning}"),
        )
    })
}

/// Checks the keys of one object of a file against those the tool reads there (`known`).
///
/// A key that looks like a misspelling of a known one is refused: one that differs only in
/// case, `_`, `-` or a leading `d` (`W_x`, `wx`, `H0`, `dW_h`, `dh0`), or by one letter (or two
/// neighbours swapped) from a known key of at least 4 letters (`activaton`, `lables`), by two
/// from one of at least 8: reading on
/// without it would silently leave out the user's array or setting. Any other key is not
/// refused, since a file may carry more than the tool reads, but it is noted in `ignored` (as
/// `path: message`), for the command to warn about. Returns how many of those hold an array or
/// an object: values that may be gradients the user meant to give.
fn check_keys(
    obj: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
    ignored: &mut Vec<String>,
) -> Result<usize> {
    let mut containers = 0;
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let shown = shown_key(key);
        if let Some(meant) = misspelling_of(key, known) {
            return Err(Error::invalid(
                format!("{prefix}{shown}"),
                format!("unknown key; did you mean {meant:?}? (keys are case-sensitive)"),
            ));
        }
        ignored.push(format!(
            "{prefix}{shown}: not a key the tool reads here ({}); ignored",
            known.join(", ")
        ));
        if matches!(obj[key], Value::Array(_) | Value::Object(_)) {
            containers += 1;
        }
    }
    Ok(containers)
}

/// A key of the user's file as messages print it: as it is, or quoted with its escapes if it
/// holds a control character (a newline in a key would break the one-line message).
fn shown_key(key: &str) -> Cow<'_, str> {
    if key.chars().any(char::is_control) {
        Cow::Owned(format!("{key:?}"))
    } else {
        Cow::Borrowed(key)
    }
}

/// The known key that `key` looks like a misspelling of, as [`check_keys`] decides: the
/// nearest one (`Target` is `target`, not `targets`), the first listed among equals.
fn misspelling_of<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let fold = |k: &str| -> Vec<char> {
        k.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(key);
    let d_prefixed = |a: &[char], b: &[char]| a.first() == Some(&'d') && a[1..] == *b;
    // How far `key` is from `k`: 0 when they differ only in case, `_` or `-`, 1 for a leading
    // `d`, and one more than the letters to change for a near spelling of a long key.
    let distance = |k: &str| -> Option<usize> {
        let k = fold(k);
        let letters = edit_distance(&folded, &k);
        if k == folded {
            Some(0)
        } else if d_prefixed(&folded, &k) || d_prefixed(&k, &folded) {
            Some(1)
        } else if (k.len() >= 4 && letters <= 1) || (k.len() >= 8 && letters <= 2) {
            Some(1 + letters)
        } else {
            None
        }
    };
    known
        .iter()
        .filter_map(|&k| distance(k).map(|d| (d, k)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The number of letters to insert, delete or replace, or of neighbours to swap, to turn `a`
/// into `b` (the optimal-string-alignment distance: `lables` is one swap from `labels`).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // d[i][j]: the distance between the first i letters of a and the first j of b.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
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

/// What a file held, checked, and the keys in it that the tool does not read.
#[derive(Clone, Debug)]
pub struct Parsed<T> {
    /// The file's content.
    pub value: T,
    /// One line per key that was not read (`path: why`), for the command to warn about: a file
    /// may carry more than the tool reads, but the user should know what was left out.
    pub ignored: Vec<String>,
}

/// Reads a case file into a [`Case`] of the cell `C`, checking every field: `x`, the cell's
/// parameters (`w_x`, `w_h`, `b`), its initial state (`h0`, optional), its options
/// (`activation`) and the `loss`.
pub fn parse_case<C: Cell>(text: &str) -> Result<Parsed<Case<f64, C>>> {
    let value = parse_json(text, "case file")?;
    let Value::Object(obj) = &value else {
        return Err(Error::invalid(
            "case file",
            format!(
                "expected a JSON object {{\"x\": …, \"{}\": …}}, found {}",
                C::PARAMS[0].key,
                describe(&value)
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
    for p in C::PARAMS {
        let meaning = p.words();
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
            (None, _) => unreachable!("invariant: a cell's first parameter has hidden columns"),
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
    Ok(Parsed {
        value: Case::new(cell, params, x, initial, head)?,
        ignored,
    })
}

/// The loss kinds a case file may name, for messages.
const KINDS: &str = "\"sum_last\", \"softmax_ce\", \"mse_all\" or \"mse_last\"";

/// The keys of the `loss` object.
const LOSS_KEYS: [&str; 6] = ["kind", "w_out", "b_out", "labels", "targets", "target"];

/// Reads the `loss` object of a case file, for states of `(batch, steps, hidden)`, with
/// `hidden` read from the parameter `from`.
fn parse_head(
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
            Ok(Head::SoftmaxCe {
                w_out,
                b_out,
                labels,
            })
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
            Ok(Head::MseAll { targets })
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
            Ok(Head::MseLast { target })
        }
        other => Err(Error::invalid(
            "loss.kind",
            format!("unknown loss kind {other:?}; expected {KINDS}"),
        )),
    }
}

/// A whole number ≥ 0, written as numpy writes it: `2`, or `2.0` from a float array (below
/// 2^53, where every float is a whole number and the test means nothing).
fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x < 9e15)
            .map(|x| x as u64)
    })
}

/// One class label: a whole number in `0..classes`.
fn label(v: &Value, i: usize, classes: usize) -> Result<usize> {
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

/// The rows of a matrix as JSON, or a flat list for a `1 × n` row that stands for numpy's 1-D
/// array (`b`, `db`, `b_out`).
fn to_json(m: &Matrix<f64>, one_d: bool) -> Value {
    if one_d {
        json!(m.as_slice())
    } else {
        json!(m.to_rows())
    }
}

/// Whether the total `key` of `case` is a row that numpy stores 1-D (`b`, `b_out`).
fn total_is_row<C: Cell>(key: &str) -> bool {
    C::PARAMS.iter().any(|p| p.key == key && p.is_row())
        || HEAD_PARAMS.iter().any(|p| p.key == key && p.row)
}

/// `grads --json`: `{"loss", "grads": {each parameter, x, h0[, w_out, b_out]}, "steps": [{"t",
/// each per-step quantity}, …]}` (for the RNN, `w_x, w_h, b` and `dh, da, dx, dw_x, dw_h,
/// db`). Rows that numpy stores 1-D (`b`, `db`) are written 1-D.
pub fn gradients_json<C: Cell>(g: &Gradients<f64>) -> Value {
    let mut grads = Map::new();
    for (key, m) in &g.totals {
        grads.insert((*key).into(), to_json(m, total_is_row::<C>(key)));
    }
    let dx: Vec<Matrix<f64>> = (1..=g.steps.len())
        .filter_map(|t| g.get(t, DX).cloned())
        .collect();
    grads.insert("x".into(), batch_major(&dx));
    let row_quantity = |name: &str| C::PARAMS.iter().any(|p| p.grad == name && p.is_row());
    let steps: Vec<Value> = g
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut step = Map::new();
            step.insert("t".into(), json!(i + 1));
            for (name, m) in s {
                step.insert((*name).into(), to_json(m, row_quantity(name)));
            }
            Value::Object(step)
        })
        .collect();
    json!({"loss": g.loss, "grads": grads, "steps": steps})
}

/// `forward --json`: `{"loss", "h0", "steps": [{"t", "x", each internal value, each state},
/// …]}` (for the RNN `"a"` and `"h"`).
pub fn forward_json<C: Cell>(case: &Case<f64, C>, fwd: &Forward<f64>, loss: f64) -> Value {
    let steps: Vec<Value> = (1..=fwd.steps())
        .map(|t| {
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
        })
        .collect();
    let mut out = Map::new();
    out.insert("loss".into(), json!(loss));
    for (s, state) in C::STATES.iter().enumerate() {
        out.insert(state.initial.into(), json!(fwd.state(s, 0).to_rows()));
    }
    out.insert("steps".into(), Value::Array(steps));
    Value::Object(out)
}

/// The shape a gradient file's array must have: rows, columns, and whether numpy stores it 1-D.
type Expected = (usize, usize, bool);

/// Reads a gradient file in the `grads --json` format in which any key may be missing, and
/// checks every shape that is there against `case`.
pub fn parse_given<C: Cell>(text: &str, case: &Case<f64, C>) -> Result<Parsed<Given>> {
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
    let mut unread = check_keys(obj, &["loss", "grads", "steps"], "", &mut ignored)?;
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
                for (step, m) in user.steps.iter_mut().zip(dx) {
                    step.push((DX, m));
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
                    let path = format!("steps[{i}].{}", q.name);
                    let m = read(v, &path, quantity_shape(q.site))?;
                    let entry = &mut user.steps[at - 1];
                    entry.retain(|(known, _)| *known != q.name);
                    entry.push((q.name, m));
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
        step.sort_by_key(|(name, _)| qs.iter().position(|q| q.name == *name));
    }
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

/// A step number `t` of a gradient file: a whole number from 1 to `steps` (`3` or `3.0`).
fn step_number(v: Option<&Value>, path: &str, steps: usize) -> Result<usize> {
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
                step.insert((*q).into(), triple_json(c));
            }
            Value::Object(step)
        })
        .collect();
    let totals: Map<String, Value> = report
        .totals
        .iter()
        .map(|(total, c)| (total.key.to_string(), triple_json(c)))
        .collect();
    json!({
        "ok": report.passed(),
        "mode": report.mode.name(),
        "eps": report.eps,
        "loss": report.loss,
        "resolution": report.resolution,
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
        "first_mismatch": d.first_mismatch.map(|(t, q)| json!({"t": t, "quantity": q})),
        "explanation": d.explanation,
        "tolerance": crate::diagnose::TOLERANCE,
        "loss": d.loss.map(|(given, tape)| json!({"given": given, "tape": tape})),
        "findings": findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn edit_distance_counts_letters_inserted_deleted_or_replaced() {
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(edit_distance(&chars("activaton"), &chars("activation")), 1);
        assert_eq!(edit_distance(&chars(""), &chars("dh")), 2);
        assert_eq!(edit_distance(&chars("dw_x"), &chars("dw_x")), 0);
        assert_eq!(
            edit_distance(&chars("lables"), &chars("labels")),
            1,
            "one swap"
        );
        assert_eq!(edit_distance(&chars("ab"), &chars("ba")), 1);
    }

    #[test]
    fn the_nearest_known_key_is_suggested() {
        let loss = LOSS_KEYS;
        assert_eq!(misspelling_of("Target", &loss), Some("target"));
        assert_eq!(misspelling_of("target_", &loss), Some("target"));
        assert_eq!(misspelling_of("Targets", &loss), Some("targets"));
        assert_eq!(misspelling_of("target", &loss), Some("target"));
        assert_eq!(misspelling_of("taregts", &loss), Some("targets"));
        assert_eq!(misspelling_of("lables", &loss), Some("labels"));
    }

    #[test]
    fn misspellings_are_told_from_other_keys() {
        let case = ["x", "w_x", "w_h", "b", "h0", "activation", "loss"];
        assert_eq!(misspelling_of("activaton", &case), Some("activation"));
        assert_eq!(misspelling_of("Activatoin", &case), Some("activation"));
        assert_eq!(misspelling_of("W_H", &case), Some("w_h"));
        assert_eq!(
            misspelling_of("lsos", &case),
            Some("loss"),
            "two letters swapped"
        );
        assert_eq!(misspelling_of("lxss", &case), Some("loss"));
        assert_eq!(
            misspelling_of("lxsx", &case),
            None,
            "two letters off a 4-letter key"
        );
        assert_eq!(misspelling_of("losss", &case), Some("loss"));
        // Short keys only by case, `_`, `-` or a leading `d`: `y` is not a misspelled `b`.
        assert_eq!(misspelling_of("y", &case), None);
        assert_eq!(misspelling_of("notes", &case), None);
    }
}
