//! # 4. The tape the RNN records
//!
//! A dynamic graph: the loop over time steps is plain Rust, and each pass through it appends one
//! step's nodes to the tape, with an alias of each weight per step (`W_h[t]`), so that after
//! the reverse sweep each alias holds that step's contribution. Printed as a node list with
//! every gradient, then as a Graphviz picture.
//!
//! `cargo run --release --example 04-tape-graph | sed -n '/^digraph/,$p' | dot -Tsvg > tape.svg`

use tapegrad::Result;
use tapegrad::case::Case;
use tapegrad::tape::Tape;
use tapegrad::trace;

/// The tape the canonical example records, as a table and as a Graphviz picture.
pub fn tape_graph() -> Result<String> {
    let case = Case::<f64>::canonical();
    let tape = Tape::new();
    // Record the forward pass and the head, then one reverse sweep from the loss.
    let (_, head) = case.record(&tape)?;
    let grads = head.loss.backward();
    let mut out = trace::tape_listing(&tape, Some(&grads));
    // The picture alone is what `tapegrad graph` prints: `tapegrad graph | dot -Tsvg`.
    out.push_str("\nGraphviz (the same graph alone: tapegrad graph | dot -Tsvg > graph.svg):\n");
    out.push_str(&trace::dot(&tape, Some(&grads)));
    Ok(out)
}

fn main() -> Result<()> {
    print!("{}", tape_graph()?);
    Ok(())
}
