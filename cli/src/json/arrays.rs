//! Arrays and numbers: nested JSON lists into matrices, checked against numpy's shapes.
//!
//! A case file holds what `json.dump({k: arr.tolist()})` writes: lists of lists. These
//! functions read them as 1-D, 2-D and 3-D arrays, name the first entry that breaks the shape
//! (`x[0][1]`), and describe what they found in numpy's notation, `(2, 3)`.

use super::lex::{marked_token, non_number_why};
use serde_json::{Map, Value, json};
use tapegrad::error::{Error, Result};
use tapegrad::matrix::Matrix;

/// Says what a JSON value is, for messages: `a number`, `a 2-D array of shape (1, 3)`, ….
pub(crate) fn describe(v: &Value) -> String {
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
pub(crate) fn shape_of(v: &Value) -> Vec<usize> {
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
pub(crate) fn array(
    v: &Value,
    path: &str,
    dims: usize,
    meaning: &str,
) -> Result<(Vec<usize>, Vec<f64>)> {
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
pub(crate) fn collect(
    v: &Value,
    path: &str,
    first: &str,
    shape: &[usize],
    out: &mut Vec<f64>,
) -> Result<()> {
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
pub(crate) fn matrix(v: &Value, path: &str, meaning: &str) -> Result<Matrix<f64>> {
    let (shape, data) = array(v, path, 2, meaning)?;
    Matrix::new(shape[0], shape[1], data)
}

/// A 1-D array as a `1 × n` row.
pub(crate) fn row(v: &Value, path: &str, meaning: &str) -> Result<Matrix<f64>> {
    let (_, data) = array(v, path, 1, meaning)?;
    Ok(Matrix::row_vector(&data))
}

/// A `(batch, steps, n)` array as `steps` matrices of shape `batch × n`: numpy's `x[:, t, :]`.
pub(crate) fn by_step(v: &Value, path: &str, meaning: &str) -> Result<Vec<Matrix<f64>>> {
    let (shape, data) = array(v, path, 3, meaning)?;
    let (batch, steps, n) = (shape[0], shape[1], shape[2]);
    Ok((0..steps)
        .map(|t| Matrix::from_fn(batch, n, |i, j| data[(i * steps + t) * n + j]))
        .collect())
}

/// The `(batch, steps, n)` array of per-step matrices: the inverse of [`by_step`].
pub(crate) fn batch_major(steps: &[Matrix<f64>]) -> Value {
    let batch = steps.first().map_or(0, Matrix::rows);
    Value::Array(
        (0..batch)
            .map(|i| json!(steps.iter().map(|m| m.row(i).to_vec()).collect::<Vec<_>>()))
            .collect(),
    )
}

/// A required field of an object; `meaning` says what it should hold.
pub(crate) fn required<'a>(
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

/// Checks one matrix's shape in numpy terms, naming the field.
pub(crate) fn expect_shape(
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
pub(crate) fn expect_len(m: &Matrix<f64>, path: &str, n: usize, meaning: &str) -> Result<()> {
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

/// A whole number ≥ 0, written as numpy writes it: `2`, or `2.0` from a float array (below
/// 2^53, where every float is a whole number and the test means nothing).
pub(crate) fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x < 9e15)
            .map(|x| x as u64)
    })
}
