//! The user's layout: arrays as the homework holds them, turned into tapegrad's one layout on
//! the way in and back on the way out.
//!
//! tapegrad computes with row vectors, `a_t = x_t·W_x + h_(t-1)·W_h + b`, and `x` of shape
//! `(batch, steps, features)` (CS231n's layout). A case file may say otherwise:
//!
//! - `"layout": "time_major"`: the arrays that run over steps come steps first, `x` as
//!   `(steps, batch, features)`, `loss.targets` and `loss.dh` as `(steps, batch, hidden)`,
//!   `loss.labels` and `loss.mask` of `softmax_ce_all` as `(steps, batch)`;
//! - `"weights": "column"`: column vectors, `a_t = W_x·x_t + W_h·h_(t-1) + b` (Coursera's
//!   shapes): every matrix is the transpose of tapegrad's (`w_x` is `(hidden, features)`,
//!   `h0` is `(hidden, batch)`, `loss.w_out` is `(classes, hidden)`), a bias may be a column
//!   `(hidden, 1)`, and `x`, `loss.targets`, `loss.dh` are `(features or hidden, batch, steps)`,
//!   as Coursera's `x` is `(n_x, m, T_x)`. Class indices stay `(batch,)` or `(batch, steps)`;
//!   one-hot labels are columns, `(classes, batch)` or `(classes, batch, steps)`.
//!
//! Gradients are written back in the same layout (`grads.w_x` as `(hidden, features)`), and a
//! gradient file for `--against` is read in it.

use super::arrays::shape_of;
use serde_json::{Map, Value};
use tapegrad::error::{Error, Result};

/// How a case file's arrays are laid out: tapegrad's own, or the user's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Convention {
    /// Steps first (`"layout": "time_major"`).
    pub time_major: bool,
    /// Column vectors and transposed matrices (`"weights": "column"`).
    pub column: bool,
    /// Whether the case gave its biases as columns `(n, 1)`, to write their gradients so.
    pub bias_columns: bool,
}

/// The keys of biases: 1-D in tapegrad's layout, possibly `(n, 1)` columns in the user's.
const BIASES: [&str; 4] = ["b", "b_x", "b_h", "b_out"];

impl Convention {
    /// The convention a case file names with `"layout"` and `"weights"`.
    pub fn of_case(obj: &Map<String, Value>) -> Result<Convention> {
        let word = |key: &str, choices: [&str; 2]| -> Result<bool> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::String(w)) if w == choices[0] => Ok(false),
                Some(Value::String(w)) if w == choices[1] => Ok(true),
                Some(other) => Err(Error::invalid(
                    key,
                    format!(
                        "expected \"{}\" (the default) or \"{}\", found {}",
                        choices[0],
                        choices[1],
                        super::arrays::describe(other)
                    ),
                )),
            }
        };
        let time_major = word("layout", ["batch_major", "time_major"])?;
        let column = word("weights", ["row", "column"])?;
        if time_major && column {
            return Err(Error::invalid(
                "layout",
                "\"time_major\" with \"weights\": \"column\" is not a layout any course uses: \
                 with column vectors, x is (features, batch, steps)",
            ));
        }
        let bias_columns = column
            && BIASES.iter().any(|b| {
                let v = obj
                    .get(*b)
                    .or_else(|| obj.get("loss").and_then(|l| l.get(*b)));
                v.is_some_and(|v| shape_of(v).len() == 2)
            });
        Ok(Convention {
            time_major,
            column,
            bias_columns,
        })
    }

    /// Whether the arrays are tapegrad's own layout, with nothing to turn.
    pub fn is_default(&self) -> bool {
        !self.time_major && !self.column
    }

    /// What an error about a turned array should add: the shapes it names are tapegrad's.
    pub fn note(&self) -> &'static str {
        if self.column {
            " (with \"weights\": \"column\", tapegrad reads every matrix transposed: the shapes \
             named are the transposes of yours, x as (batch, steps, features))"
        } else if self.time_major {
            " (with \"layout\": \"time_major\", tapegrad reads x steps first: the shapes named \
             are batch first)"
        } else {
            ""
        }
    }

    /// A case file's value turned into tapegrad's layout.
    pub fn case_to_rows(&self, value: &Value) -> Value {
        let Value::Object(obj) = value else {
            return value.clone();
        };
        let mut out = obj.clone();
        for (key, v) in out.iter_mut() {
            match key.as_str() {
                "x" => *v = self.sequence_in(v),
                "h0" | "c0" => *v = self.matrix_in(v),
                "loss" => {
                    if let Value::Object(loss) = v {
                        let kind = loss.get("kind").and_then(Value::as_str).unwrap_or("");
                        let per_step = kind == "softmax_ce_all";
                        for (k, item) in loss.iter_mut() {
                            *item = match k.as_str() {
                                "targets" | "dh" => self.sequence_in(item),
                                "target" | "w_out" => self.matrix_in(item),
                                "b_out" => self.bias_in(item),
                                "labels" | "mask" => self.labels_in(item, per_step),
                                _ => continue,
                            };
                        }
                    }
                }
                k if BIASES.contains(&k) => *v = self.bias_in(v),
                "w_x" | "w_h" => *v = self.matrix_in(v),
                _ => {}
            }
        }
        Value::Object(out)
    }

    /// A gradient file's value (the `grads --json` form) turned into tapegrad's layout.
    pub fn grads_to_rows(&self, value: &Value) -> Value {
        self.turn_grads(value, true)
    }

    /// `grads --json` or `forward --json` output turned into the user's layout.
    pub fn output_to_user(&self, value: &Value) -> Value {
        self.turn_grads(value, false)
    }

    /// The `grads`, `steps`, `h0` and `c0` of an output or gradient file, into tapegrad's
    /// layout (`inward`) or out of it.
    fn turn_grads(&self, value: &Value, inward: bool) -> Value {
        let Value::Object(obj) = value else {
            return value.clone();
        };
        if self.is_default() {
            return value.clone();
        }
        // One array of a step or of the totals, by its key.
        let array = |key: &str, v: &Value| -> Value {
            let bias = BIASES
                .iter()
                .any(|b| key == *b || key.strip_prefix('d') == Some(b));
            match (key, inward) {
                ("x", true) => self.sequence_in(v),
                ("x", false) if shape_of(v).len() == 3 => self.sequence_out(v),
                _ if bias && inward => self.bias_in(v),
                _ if bias => self.bias_out(v),
                _ => self.matrix_in(v),
            }
        };
        let step = |s: &Value| -> Value {
            match s {
                Value::Object(m) => Value::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), if k == "t" { v.clone() } else { array(k, v) }))
                        .collect(),
                ),
                other => other.clone(),
            }
        };
        let mut out = obj.clone();
        for (key, v) in out.iter_mut() {
            *v = match (key.as_str(), &*v) {
                ("grads", Value::Object(g)) => {
                    Value::Object(g.iter().map(|(k, v)| (k.clone(), array(k, v))).collect())
                }
                ("steps", Value::Array(items)) => Value::Array(items.iter().map(step).collect()),
                // The stacked form: each quantity's steps along the first axis.
                ("steps", Value::Object(stacked)) => Value::Object(
                    stacked
                        .iter()
                        .map(|(k, v)| {
                            let turned = match v {
                                Value::Array(items) => {
                                    Value::Array(items.iter().map(|i| array(k, i)).collect())
                                }
                                other => other.clone(),
                            };
                            (k.clone(), turned)
                        })
                        .collect(),
                ),
                ("h0" | "c0", _) => self.matrix_in(v),
                _ => continue,
            };
        }
        Value::Object(out)
    }

    /// A `(batch, steps, n)` array from the user's layout: `(steps, batch, n)` time-major,
    /// `(n, batch, steps)` with column vectors.
    fn sequence_in(&self, v: &Value) -> Value {
        if self.time_major {
            permute(v, [1, 0, 2])
        } else if self.column {
            permute(v, [1, 2, 0])
        } else {
            v.clone()
        }
    }

    /// The inverse of [`Convention::sequence_in`].
    fn sequence_out(&self, v: &Value) -> Value {
        if self.time_major {
            permute(v, [1, 0, 2])
        } else if self.column {
            permute(v, [2, 0, 1])
        } else {
            v.clone()
        }
    }

    /// A matrix from the user's layout: transposed with column vectors (its own inverse).
    fn matrix_in(&self, v: &Value) -> Value {
        if self.column && shape_of(v).len() == 2 {
            permute(v, [1, 0])
        } else {
            v.clone()
        }
    }

    /// A bias from the user's layout: a column `(n, 1)` read as the 1-D `(n,)`.
    fn bias_in(&self, v: &Value) -> Value {
        match v {
            Value::Array(rows) if self.column && shape_of(v).get(1) == Some(&1) => Value::Array(
                rows.iter()
                    .map(|r| r.get(0).cloned().unwrap_or(Value::Null))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// A bias into the user's layout: a column `(n, 1)` when the case gave its biases so.
    fn bias_out(&self, v: &Value) -> Value {
        match v {
            Value::Array(items) if self.bias_columns && shape_of(v).len() == 1 => Value::Array(
                items
                    .iter()
                    .map(|x| Value::Array(vec![x.clone()]))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// Labels or a mask from the user's layout: class indices and masks are `(batch, steps)`
    /// time-major `(steps, batch)`; one-hot labels are columns with column vectors.
    fn labels_in(&self, v: &Value, per_step: bool) -> Value {
        let rank = shape_of(v).len();
        match (per_step, rank) {
            (true, 2) if self.time_major => permute(v, [1, 0]),
            (true, 3) if self.time_major => permute(v, [1, 0, 2]),
            (true, 3) if self.column => permute(v, [1, 2, 0]),
            (false, 2) if self.column => permute(v, [1, 0]),
            _ => v.clone(),
        }
    }
}

/// `e` with `note` added to its explanation (a note says how the user's layout was read).
pub(crate) fn noted(e: Error, note: &str) -> Error {
    match e {
        Error::BadShape {
            what,
            expected,
            found,
        } => Error::BadShape {
            what,
            expected,
            found: found + note,
        },
        Error::Invalid { what, why } => Error::Invalid {
            what,
            why: why + note,
        },
        other => other,
    }
}

/// A rectangular nested array with its axes reordered: axis `i` of the result is axis
/// `axes[i]` of `v`. Anything not a rectangular array of that rank is returned as it is, for
/// the readers to refuse with their own message.
fn permute<const N: usize>(v: &Value, axes: [usize; N]) -> Value {
    let shape = shape_of(v);
    if shape.len() < N || shape.contains(&0) {
        return v.clone();
    }
    let get = |index: &[usize]| -> Option<&Value> {
        let mut at = v;
        for &i in index {
            at = at.as_array()?.get(i)?;
        }
        Some(at)
    };
    let new_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    fn build(
        new_shape: &[usize],
        axes: &[usize],
        prefix: &mut Vec<usize>,
        get: &dyn Fn(&[usize]) -> Option<Value>,
    ) -> Option<Value> {
        if prefix.len() == new_shape.len() {
            let mut old = vec![0; axes.len()];
            for (new_axis, &old_axis) in axes.iter().enumerate() {
                old[old_axis] = prefix[new_axis];
            }
            return get(&old);
        }
        let n = new_shape[prefix.len()];
        let mut items = Vec::with_capacity(n);
        for i in 0..n {
            prefix.push(i);
            items.push(build(new_shape, axes, prefix, get)?);
            prefix.pop();
        }
        Some(Value::Array(items))
    }
    let owned = |index: &[usize]| get(index).cloned();
    // A ragged array cannot be turned: the readers name where it breaks.
    build(&new_shape, &axes, &mut Vec::new(), &owned).unwrap_or_else(|| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn axes_are_reordered() {
        let v = json!([[[1, 2], [3, 4], [5, 6]]]); // (1, 3, 2)
        assert_eq!(
            permute(&v, [1, 0, 2]),
            json!([[[1, 2]], [[3, 4]], [[5, 6]]])
        );
        assert_eq!(permute(&v, [2, 0, 1]), json!([[[1, 3, 5]], [[2, 4, 6]]]));
        assert_eq!(permute(&json!([[1, 2, 3]]), [1, 0]), json!([[1], [2], [3]]));
        // Ragged or of too few axes: left for the readers to name.
        assert_eq!(permute(&json!([[1, 2], [3]]), [1, 0]), json!([[1, 2], [3]]));
        assert_eq!(permute(&json!([1, 2]), [1, 0]), json!([1, 2]));
    }

    #[test]
    fn column_vectors_turn_and_turn_back() {
        let case = json!({"x": [[[1, 2, 3]], [[4, 5, 6]]], "w_x": [[1, 2]], "b": [[1], [2]],
                          "weights": "column"});
        let conv = Convention::of_case(case.as_object().unwrap()).unwrap();
        assert!(conv.column && conv.bias_columns);
        let rows = conv.case_to_rows(&case);
        // x: (features 2, batch 1, steps 3) → (1, 3, 2).
        assert_eq!(rows["x"], json!([[[1, 4], [2, 5], [3, 6]]]));
        assert_eq!(rows["w_x"], json!([[1], [2]]));
        assert_eq!(rows["b"], json!([1, 2]));
        let out = json!({"grads": {"x": rows["x"], "w_x": [[1], [2]], "b": [1, 2]},
                         "steps": [{"t": 1, "dh": [[7, 8]], "db": [1, 2]}]});
        let user = conv.output_to_user(&out);
        assert_eq!(user["grads"]["x"], case["x"]);
        assert_eq!(user["grads"]["w_x"], case["w_x"]);
        assert_eq!(user["grads"]["b"], case["b"]);
        assert_eq!(user["steps"][0]["dh"], json!([[7], [8]]));
        assert_eq!(conv.grads_to_rows(&user), out);
    }
}
