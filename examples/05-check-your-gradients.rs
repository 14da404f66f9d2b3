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
//! With `-- --figures`, it writes chapter 5's figure instead: the check of a backward pass that
//! forgot `dh_next`, as a heat map.

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::chart::check_heat_map;
use tapegrad::check::{Mode, check_case, check_gradients};
use tapegrad::trace::{self, CheckStyle};
use tapegrad::zoo::{Bug, buggy_backward};

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

/// Where chapter 5's figure is committed.
pub const CHECK_FIGURE: &str = "docs/05-check-heat-map.svg";

/// Chapter 5's figure: the exhaustive check of a backward pass that forgot the recurrent term
/// of `dh_t` (`dh_next`, the bug zoo's [`Bug::ForgotDhNext`]), as a heat map. The gradient is
/// right at `t = T`; from `t = T − 1` down every step fails, and so does every total.
pub fn check_figure() -> Result<String> {
    let bug = Bug::ForgotDhNext;
    let case = bug.case();
    let report = check_gradients(&case, &buggy_backward(&case, bug)?, Mode::Exhaustive)?;
    Ok(check_heat_map(&report))
}

fn main() -> Result<()> {
    // `-- --figures` writes chapter 5's figure (run from the repository's root).
    if std::env::args().any(|a| a == "--figures") {
        std::fs::write(CHECK_FIGURE, check_figure()?)
            .map_err(|e| tapegrad::Error::invalid(CHECK_FIGURE, e.to_string()))?;
        println!("wrote {CHECK_FIGURE}");
        return Ok(());
    }
    print!("{}", gradcheck(CheckStyle::Errors)?);
    Ok(())
}
