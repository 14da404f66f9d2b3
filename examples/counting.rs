//! Seed 004's counting RNN: two learning rates, the exploding gradient, the sigmoid variant:
//! `cargo run --release --example counting`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::experiments::counting::run(50_000, 15_000)?);
    Ok(())
}
