//! # 13. Checking a GRU's gradients at every time step
//!
//! A GRU in PyTorch's convention (the reset gate after the recurrent product, two biases),
//! seeded: the forward trace shows each step's gates `r, z, n`, and the per-step check confirms
//! every quantity, `da_x` and `da_h` (the gradients of the two affine maps) included. Then each
//! of the GRU's bug-zoo mistakes is planted in turn and diagnosed where it enters: `z` and
//! `1 − z` swapped (as Chung et al. (2014) write the update), the reset gate's derivative taken
//! as if reset came before the product (Cho's and d2l's convention), and the direct path
//! `dh_t ⊙ z_t` into `h_(t-1)` forgotten.
//!
//! `cargo run --release --example 13-gru-gradient-check`

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Gru;
use tapegrad::check::{Mode, check_case};
use tapegrad::diagnose::diagnose;
use tapegrad::gradients::Given;
use tapegrad::trace::{self, CheckStyle};
use tapegrad::zoo::gru::{GruBug, buggy_backward};

/// A seeded GRU: one sequence of 3 steps, 2 features, 3 hidden, softmax over 2 classes.
pub fn gru_case() -> Case<f64, Gru> {
    let dims = Dims {
        batch: 1,
        steps: 3,
        features: 2,
        hidden: 3,
    };
    Case::random(13, dims, HeadKind::SoftmaxCe(2), Gru::default())
}

/// The forward trace, the check table (`style`), and each planted bug's diagnosis in a line.
pub fn gru_check(style: CheckStyle) -> Result<String> {
    let case = gru_case();
    let mut out = String::new();
    out.push_str(&trace::forward_trace(&case, &case.forward()?, case.loss()?));
    let report = check_case(&case, Mode::Exhaustive)?;
    assert!(report.passed(), "{:?}", report.first_failure());
    let _ = writeln!(out, "\n{}", trace::check_table(&report, style));
    let tape = case.tape_gradients()?;
    let scale = case.roundoff_scales()?;
    for bug in GruBug::ALL {
        // The zoo's own case for each bug: five steps, a loss at every one.
        let zoo_case = bug.case();
        let d = diagnose(
            &zoo_case.tape_gradients()?,
            &zoo_case.roundoff_scales()?,
            &Given::all(&buggy_backward(&zoo_case, bug)?),
            &zoo_case.cell,
        );
        let (t, q) = d.first_mismatch.expect("every zoo bug shows");
        let _ = writeln!(
            out,
            "{:<38} {:<64} found at t = {t}, {q}",
            bug.name(),
            bug.mistake()
        );
    }
    // The correct backward pass, diagnosed the same way, agrees.
    let right = diagnose(&tape, &scale, &Given::all(&case.bptt()?), &case.cell);
    let _ = writeln!(
        out,
        "the cell's own backward pass: {}",
        if right.ok { "agrees" } else { "DISAGREES" }
    );
    Ok(out)
}

fn main() -> Result<()> {
    print!("{}", gru_check(CheckStyle::Errors)?);
    Ok(())
}
