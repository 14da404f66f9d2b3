//! # 5. Checking gradients at every time step
//!
//! The check: hand BPTT, the tape, forward mode and central finite differences, for every per-step
//! quantity (`dh`, `da`, `dx`, `dW_x[t]`, `dW_h[t]`, `db[t]`) and every total, on the canonical
//! example and on a seeded random case with a softmax head. Copy `gradcheck` into your own
//! program: build a case, run `check_case`, read the report (`passed`, `first_failure`, each
//! row's comparisons, pair by pair) or print it as a table.
//!
//! `cargo run --release --example 05-check-your-gradients` prints the relative errors; the
//! snapshot test prints the same tables with verdicts only, which no platform's libm can change.

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::check::{Mode, check_case};
use tapegrad::trace::{self, CheckStyle};

/// The seeded random case of the `gradcheck` example: batch 2, 6 steps, 3 features, 5 hidden,
/// softmax over 3 classes.
pub fn softmax_case() -> Case<f64> {
    let dims = Dims {
        batch: 2,
        steps: 6,
        features: 3,
        hidden: 5,
    };
    Case::random(7, dims, HeadKind::SoftmaxCe(3), Rnn::new(Activation::Tanh))
}

/// The per-step check of the canonical example and of [`softmax_case`], exhaustive.
pub fn gradcheck(style: CheckStyle) -> Result<String> {
    let mut out = String::new();
    for case in [Case::<f64>::canonical(), softmax_case()] {
        // Exhaustive: every entry of every quantity perturbed where it lives, ±ε.
        let report = check_case(&case, Mode::Exhaustive)?;
        assert!(report.passed(), "{:?}", report.first_failure());
        let _ = writeln!(out, "{}", trace::case_header(&case));
        out.push_str(&trace::check_table(&report, style));
        out.push('\n');
    }
    Ok(out)
}

fn main() -> Result<()> {
    print!("{}", gradcheck(CheckStyle::Errors)?);
    Ok(())
}
