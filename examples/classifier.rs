//! Seed 000's RNN classifier, with held-out accuracy: `cargo run --release --example classifier`.

fn main() -> tapegrad::Result<()> {
    let settings = tapegrad::experiments::classifier::Settings::default();
    print!("{}", tapegrad::experiments::classifier::run(&settings)?);
    Ok(())
}
