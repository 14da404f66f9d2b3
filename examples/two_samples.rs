//! Seed 002's two-sample toy stuck at ln 2, explained and fixed:
//! `cargo run --release --example two_samples`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::experiments::two_samples::run(20, 200)?);
    Ok(())
}
