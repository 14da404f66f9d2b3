//! # 2. The forward pass, step by step
//!
//! The canonical example of the seed notebooks, a 3-step tanh RNN with 2 features and 4 hidden
//! units, run forward: at each step `a_t = x_t·W_x + h_(t-1)·W_h + b` and `h_t = tanh(a_t)`,
//! printed as numpy prints them, so the output sits beside the notebook's. The last state is
//! `h_3 = [0.79494228 0.81839002 0.83939649 0.85584174]`.
//!
//! `cargo run --release --example 02-forward-trace`

use tapegrad::Result;
use tapegrad::case::Case;
use tapegrad::trace;

/// The canonical example's forward trace, step by step, as the seed notebooks print it.
pub fn forward_trace() -> Result<String> {
    // The canonical case: its parameters, inputs and head (L = Σ h_3) in one value.
    let case = Case::<f64>::canonical();
    // The plain forward pass keeps every a_t and h_t, what hand BPTT will need.
    let fwd = case.forward()?;
    let loss = case.head.loss(fwd.states())?;
    Ok(trace::forward_trace(&case, &fwd, loss))
}

fn main() -> Result<()> {
    print!("{}", forward_trace()?);
    Ok(())
}
