//! See [`tapegrad::demo::tape_graph`]: `cargo run --release --example tape_graph`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::demo::tape_graph()?);
    Ok(())
}
