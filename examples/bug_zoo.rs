//! The BPTT mistakes students make, each planted in the hand backward pass and found by the
//! diagnosis at the step and equation where it enters: `cargo run --release --example bug_zoo`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::demo::bug_zoo()?);
    Ok(())
}
