//! Builds a small expression on a tape, prints every node, then runs one backward sweep and
//! prints each input's gradient next to the value a hand derivation gives.
//!
//! `y = Σ tanh(x · w + b)`, with `x: 1×2`, `w: 2×3`, `b: 1×3`.
//! By hand: `∂y/∂a = 1 − tanh(a)²`, `∂y/∂w = xᵀ · (1 − h²)`, `∂y/∂b = 1 − h²`.

use tapegrad::{Matrix, Result, Tape};

fn main() -> Result<()> {
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

    println!("The tape (one node per value, parents by index):");
    for (i, node) in tape.nodes().iter().enumerate() {
        let parents: Vec<String> = node.parents.iter().map(|p| p.0.to_string()).collect();
        let (rows, cols) = node.value.shape();
        println!(
            "  {i}: {:<8} {:<2} parents [{:<4}] {rows}×{cols}",
            node.op.name(),
            node.name.as_deref().unwrap_or(""),
            parents.join(", "),
        );
    }

    let grads = y.backward();
    let da = h.value().map(|h| 1.0 - h * h);
    println!("\nh = {}", h.value());
    println!("y = {:.8}", y.value()[(0, 0)]);
    println!("dy/dx (tape) = {}", grads.wrt(x));
    println!("dy/dw (tape) = {}", grads.wrt(w));
    println!("dy/dw (hand) = {}", x.value().transpose().matmul(&da)?);
    println!("dy/db (tape) = {}", grads.wrt(b));
    println!("dy/db (hand) = {da}");
    Ok(())
}
