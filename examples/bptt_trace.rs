//! See [`tapegrad::demo::bptt_trace`]: `cargo run --release --example bptt_trace`.

fn main() -> tapegrad::Result<()> {
    print!("{}", tapegrad::demo::bptt_trace()?);
    Ok(())
}
