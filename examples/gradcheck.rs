//! See [`tapegrad::demo::gradcheck`]: `cargo run --release --example gradcheck`.
//! Prints the relative errors; the snapshot test prints the same table with verdicts only.

fn main() -> tapegrad::Result<()> {
    print!(
        "{}",
        tapegrad::demo::gradcheck(tapegrad::trace::CheckStyle::Errors)?
    );
    Ok(())
}
