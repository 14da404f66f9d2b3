//! See [`tapegrad::demo::vanishing`]: `cargo run --release --example vanishing`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::demo::vanishing()?);
    Ok(())
}
