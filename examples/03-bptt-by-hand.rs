//! # 3. Backpropagation through time, by hand and on the tape
//!
//! The canonical example's backward pass by hand BPTT (the RNN cell's backward step, from
//! `t = T` down to 1), each quantity printed beside the equation that produced it: `dh_t`,
//! `da_t = dh_t ⊙ (1 − h_t²)`, `dx_t`, and step t's contributions `dW_x[t]`, `dW_h[t]`, `db[t]`,
//! then the totals, each the sum of its per-step copies. Then the same gradients read back from
//! the tape, node by node, and compared.
//!
//! `cargo run --release --example 03-bptt-by-hand`

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::case::Case;
use tapegrad::fd::relative_error;
use tapegrad::trace;

/// The canonical example's backward pass by hand BPTT, equation by equation, and whether the
/// tape agrees with it.
pub fn bptt_trace() -> Result<String> {
    let case = Case::<f64>::canonical();
    // Two independent ways to the same numbers: the equations of the derivation, and one
    // reverse sweep of the tape, read back at every step's nodes.
    let hand = case.bptt()?;
    let tape = case.tape_gradients()?;
    let mut out = trace::backward_trace(&case, &hand, "hand BPTT");
    // Every quantity of every step, pair by pair: dh, da, dx, dw_x, dw_h, db.
    let worst = hand
        .steps
        .iter()
        .zip(&tape.steps)
        .flat_map(|(h, t)| h.iter().zip(t).map(|((_, h), (_, t))| relative_error(h, t)))
        .fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "The tape, read back by handle at every node, {} hand BPTT at every step (tolerance 1e-12).",
        if worst <= 1e-12 {
            "agrees with"
        } else {
            "DISAGREES with"
        }
    );
    Ok(out)
}

fn main() -> Result<()> {
    print!("{}", bptt_trace()?);
    Ok(())
}
