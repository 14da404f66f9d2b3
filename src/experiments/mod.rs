//! The seed notebooks' experiments, reproduced with the crate's public functions and explained
//! with measured numbers. Each `run` returns a [`Report`]: the text a student reads, ending in
//! one machine-readable `summary:` line. The examples print these reports; the snapshot tests
//! keep short runs of them.
//!
//! | module | seed | question |
//! |---|---|---|
//! | [`classifier`] | 000 | does the RNN classifier generalize, or only fit its 100 sequences? |
//! | [`two_samples`] | 002 | why does the loss sit at `ln 2 = 0.6931`, and what makes it move? |
//! | [`counting`] | 004 | why two learning rates for a linear RNN that counts ones? |
//! | [`vanishing_exploding`] | — | how `‖dh_t‖` shrinks or grows with the largest singular value of `W_h` |
//!
//! Every random number comes from a seeded ChaCha8 stream and every printed number has a fixed
//! precision, so a report is the same text on every machine.

pub mod classifier;
pub mod counting;
pub mod two_samples;
pub mod vanishing_exploding;

use crate::trace::number;
use std::fmt;

/// The result of an experiment: the text to read and the numbers of its `summary:` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Headings, tables and charts, each line ending in a newline.
    pub text: String,
    /// The `key=value` pairs of the summary line, in order.
    pub summary: Vec<(&'static str, f64)>,
}

impl Report {
    /// The summary value named `key`, if the report has one.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.summary
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, v)| v)
    }

    /// The last line: `summary: key=value key=value …`, each value formatted by [`number`].
    pub fn summary_line(&self) -> String {
        let pairs: Vec<String> = self
            .summary
            .iter()
            .map(|(k, v)| format!("{k}={}", number(*v)))
            .collect();
        format!("summary: {}", pairs.join(" "))
    }
}

impl fmt::Display for Report {
    /// The text, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}{}", self.text, self.summary_line())
    }
}

/// A loss in 4 decimals, as the seed notebooks print it (`0.6931`).
pub fn loss_text(loss: f64) -> String {
    format!("{loss:.4}")
}
