//! The canonical example's forward pass, step by step (`x_t`, `a_t`, `h_t`), as the seed
//! notebooks print it: `cargo run --release --example forward_trace`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::demo::forward_trace()?);
    Ok(())
}
