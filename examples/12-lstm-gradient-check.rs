//! # 12. Checking an LSTM's gradients at every time step
//!
//! CS231n assignment 3's LSTM (`lstm_forward`'s check: `N, D, H, T = 2, 5, 4, 3`, every array an
//! `np.linspace`), built in code as the notebook builds it. The forward trace shows each step's
//! gates `i, f, o, g` beside `a_t`, `h_t` and `c_t`, and `h_t` is the notebook's `expected_h`.
//! The per-step check then confirms every quantity four ways, the cell state's total gradient
//! `dc_t` included; last, a backward pass with the forget gate dropped from the cell-state path
//! (`dprev_c = dc`) is diagnosed at the step and equation where it goes wrong.
//!
//! `cargo run --release --example 12-lstm-gradient-check`

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::case::Case;
use tapegrad::cells::Lstm;
use tapegrad::check::{Mode, check_case};
use tapegrad::diagnose::diagnose;
use tapegrad::gradients::Given;
use tapegrad::matrix::Matrix;
use tapegrad::trace::{self, CheckStyle};
use tapegrad::zoo::lstm::{LstmBug, buggy_backward};

/// numpy's `np.linspace(start, stop, num=rows * cols).reshape(rows, cols)`.
fn linspace(start: f64, stop: f64, rows: usize, cols: usize) -> Matrix<f64> {
    let n = rows * cols;
    let step = (stop - start) / (n - 1) as f64;
    Matrix::from_fn(rows, cols, |i, j| {
        let k = i * cols + j;
        if k == n - 1 {
            stop
        } else {
            start + k as f64 * step
        }
    })
}

/// The notebook's case: `x` of shape `(N, T, D)` cut into `x_1 … x_T`, `h0`, `Wx`, `Wh`, `b`
/// (`c0` zeros), and `L = Σ h_T`.
pub fn cs231n_case() -> Result<Case<f64, Lstm>> {
    let (n, d, h, t) = (2, 5, 4, 3);
    let x = linspace(-0.4, 0.6, n, t * d);
    let xs = (0..t)
        .map(|s| Matrix::from_fn(n, d, |i, f| x[(i, s * d + f)]))
        .collect();
    let params = vec![
        linspace(-0.2, 0.9, d, 4 * h),
        linspace(-0.3, 0.6, h, 4 * h),
        linspace(0.2, 0.7, 1, 4 * h),
    ];
    let h0 = linspace(-0.4, 0.8, n, h);
    // c_0 is not given: zeros.
    let head = tapegrad::loss::Head::SumLast;
    Case::new(Lstm::default(), params, xs, vec![Some(h0), None], head)
}

/// The forward trace, the check table (`style`), and the diagnosis of the planted bug.
pub fn lstm_check(style: CheckStyle) -> Result<String> {
    let case = cs231n_case()?;
    let mut out = String::new();
    let fwd = case.forward()?;
    out.push_str(&trace::forward_trace(&case, &fwd, case.loss()?));
    // Hand BPTT, the tape, forward mode and finite differences, at every step.
    let report = check_case(&case, Mode::Exhaustive)?;
    assert!(report.passed(), "{:?}", report.first_failure());
    let _ = writeln!(out, "\n{}", trace::check_table(&report, style));
    // A student's lstm_backward with `dprev_c = dc`: the forget gate forgotten.
    let bug = LstmBug::ForgetGateDropped;
    let buggy = buggy_backward(&case, bug)?;
    let d = diagnose(
        &case.tape_gradients()?,
        &case.roundoff_scales()?,
        &Given::all(&buggy),
        &case.cell,
    );
    let _ = writeln!(out, "\nPlanted: {} ({})", bug.name(), bug.mistake());
    out.push_str(&trace::diagnosis(&d));
    Ok(out)
}

fn main() -> Result<()> {
    print!("{}", lstm_check(CheckStyle::Errors)?);
    Ok(())
}
