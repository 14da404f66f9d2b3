//! The crate's one error type.
//!
//! Every function that takes user data returns `Result<_, Error>`. A message always names what
//! was wrong (the op, the argument or the JSON field) and, for shapes, both the shape expected
//! and the shape found, so that a student can fix their arrays without reading our source.

use std::fmt;

/// A `(rows, cols)` pair, printed as `2×4`.
pub type Shape = (usize, usize);

/// Everything that can go wrong when tapegrad is handed data.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Two operands of `op` do not fit together, e.g. `matmul` of `1×2` and `3×4`.
    ShapeMismatch {
        /// The operation that refused its operands (`"matmul"`, `"add"`, …).
        op: &'static str,
        /// Shape of the left (or only) operand.
        left: Shape,
        /// Shape of the right operand, or the shape that was expected.
        right: Shape,
    },
    /// An argument has the wrong shape: `what` expected `expected`, found `found`.
    BadShape {
        /// The argument or field, e.g. `"w_h"` or `"rows of from_rows"`.
        what: String,
        /// What the shape should have been, in words (`"4×4"`, `"3-D (batch, steps, features)"`).
        expected: String,
        /// What was found, in words.
        found: String,
    },
    /// An input holds NaN or infinity where finite numbers are required.
    NonFinite {
        /// The argument or field that held the value.
        what: String,
        /// A `[i][j]…` index of the first non-finite entry, in the user's layout.
        index: String,
    },
    /// A value is outside its domain (a label out of range, an unknown activation name, …).
    Invalid {
        /// The argument or field.
        what: String,
        /// Why it was refused.
        why: String,
    },
    /// A `Var` from one tape was handed to an op on another tape.
    ForeignVar {
        /// The op that was refused.
        op: &'static str,
    },
}

/// The crate's `Result`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::BadShape`].
    pub fn bad_shape(
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Error {
        Error::BadShape {
            what: what.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
}

/// Formats a shape as `rows×cols`, the way every message and trace prints it.
pub fn shape_str(shape: Shape) -> String {
    format!("{}×{}", shape.0, shape.1)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch { op, left, right } => write!(
                f,
                "{op}: shapes do not fit: left is {}, right is {}",
                shape_str(*left),
                shape_str(*right)
            ),
            Error::BadShape {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected shape {expected}, found {found}"),
            Error::NonFinite { what, index } => {
                write!(f, "{what}{index}: value is NaN or infinite")
            }
            Error::Invalid { what, why } => write!(f, "{what}: {why}"),
            Error::ForeignVar { op } => write!(
                f,
                "{op}: the operands live on different tapes; record every Var of one \
                 computation on the same Tape"
            ),
        }
    }
}

impl std::error::Error for Error {}
