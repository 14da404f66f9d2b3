//! # 1. A small expression on a tape
//!
//! `y = Σ tanh(x·w + b)`: each op appends a node to the tape as it runs, one reverse sweep from
//! `y` gives the gradient of every node, and the gradients are read back by handle beside what a
//! hand derivation gives (`∂y/∂b = 1 − tanh(a)²`, `∂y/∂w = xᵀ·(1 − h²)`). Chapter 2 of the
//! tutorial builds the same expression, and a doc test checks its listing.
//!
//! `cargo run --release --example 01-expression`

use tapegrad::{Matrix, Result, Tape};

fn main() -> Result<()> {
    // The inputs are leaves of the tape; each op on their handles records one node.
    let tape = Tape::new();
    let x = tape.named_var("x", Matrix::from_rows(&[[0.5, -1.0]])?);
    let w = tape.named_var(
        "w",
        Matrix::from_rows(&[[0.1, 0.2, 0.3], [-0.4, 0.5, -0.6]])?,
    );
    let b = tape.named_var("b", Matrix::row_vector(&[0.0, 0.1, -0.1]));
    let a = x.matmul(w)?.add_bias(b)?.named("a");
    let h = a.tanh().named("h");
    let y = h.sum().named("y");

    // One reverse loop over the nodes, from y back to the start.
    let grads = y.backward();
    print!("{}", tapegrad::trace::tape_listing(&tape, Some(&grads)));
    // The same gradients from the chain rule, written out.
    let by_hand = h.value().map(|h| 1.0 - h * h);
    println!("\ndy/db (tape) = {}", grads.wrt(b));
    println!("dy/db (hand) = {by_hand}");
    println!("dy/dw (tape) = {}", grads.wrt(w));
    println!("dy/dw (hand) = {}", x.value().transpose().matmul(&by_hand)?);
    Ok(())
}
