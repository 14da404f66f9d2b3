//! The command line's files: case files and gradient files that users export from numpy with
//! `json.dump({...: arr.tolist()})`, and the `--json` output.
//!
//! Every error names the field (`w_h`, `loss.labels[2]`, `x[0][1]`), the shape expected and the
//! shape found, in numpy's `(a, b, c)` notation. One module per concern, in reading order:
//!
//! | module | holds |
//! |---|---|
//! | `lex` | JSON text into a value; numpy's `NaN` and `Infinity` marked where they stand |
//! | `duplicates` | a key given twice in one object, found by its path |
//! | `arrays` | nested lists into matrices, in numpy's shapes; whole numbers |
//! | `keys` | known keys, misspellings refused, others read past with a warning |
//! | `layout` | the user's layout (time-major, column vectors) into tapegrad's and back |
//! | `case` | case files |
//! | `grads` | gradient files |
//! | `output` | what `--json` writes |

mod arrays;
mod case;
mod duplicates;
mod grads;
mod keys;
mod layout;
mod lex;
mod output;

pub use arrays::numpy_shape;
pub use case::{case_from_value, case_in_layout, cell_kind, parse_case};
pub use grads::{given_from_value, parse_given};
pub use keys::misspelling_of;
pub use layout::Convention;
pub(crate) use lex::MARK;
pub use lex::parse_json;
pub use output::{
    diagnosis_json, forward_head_json, forward_json, forward_step_json, gradients_head_json,
    gradients_json, gradients_step_json, non_finite_json, report_json, write_with_steps,
};

/// What a file held, checked, and the keys in it that the tool does not read.
#[derive(Clone, Debug)]
pub struct Parsed<T> {
    /// The file's content.
    pub value: T,
    /// One line per key that was not read (`path: why`), for the command to warn about: a file
    /// may carry more than the tool reads, but the user should know what was left out.
    pub ignored: Vec<String>,
}
