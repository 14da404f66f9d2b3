//! ‖dh_t‖ against t below and above σ_max(W_h) = 1/γ, with and without clipping:
//! `cargo run --release --example vanishing_exploding`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::experiments::vanishing_exploding::run(20)?);
    Ok(())
}
