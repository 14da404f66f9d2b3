//! # 4. The tape the RNN records
//!
//! A dynamic graph: the loop over time steps is plain Rust, and each pass through it appends one
//! step's nodes to the tape, with an alias of each weight per step (`W_h[t]`), so that after
//! the reverse sweep each alias holds that step's contribution. Printed as a node list with
//! every gradient, then as a Graphviz picture.
//!
//! `cargo run --release --example 04-tape-graph | sed -n '/^digraph/,$p' | dot -Tsvg > tape.svg`
//! (with `-- --figures`, it writes chapter 3's figure of the unrolled graph instead)

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

/// Where chapter 3's figure is committed: the unrolled graph of the canonical example as DOT
/// ([`unrolled_graph`]), and beside it (`.svg`) as Graphviz drew it.
pub const UNROLLED_FIGURE: &str = "docs/03-unrolled-graph";

/// The canonical example's unrolled graph, as `tapegrad graph` prints it.
pub fn unrolled_graph() -> Result<String> {
    tapegrad::graph::unrolled(&Case::<f64>::canonical(), tapegrad::graph::Detail::Ops)
}

fn main() -> Result<()> {
    // `-- --figures` writes chapter 3's figure (from the repository's root; needs Graphviz).
    if std::env::args().any(|a| a == "--figures") {
        let dot = unrolled_graph()?;
        let svg = tapegrad::graph::draw(&dot)?
            .ok_or_else(|| {
                tapegrad::Error::invalid("dot", "Graphviz is needed: apt install graphviz")
            })?
            .svg;
        for (ext, text) in [("dot", &dot), ("svg", &svg)] {
            let path = format!("{UNROLLED_FIGURE}.{ext}");
            std::fs::write(&path, text)
                .map_err(|e| tapegrad::Error::invalid(path.clone(), e.to_string()))?;
            println!("wrote {path}");
        }
        return Ok(());
    }
    print!("{}", tape_graph()?);
    Ok(())
}
