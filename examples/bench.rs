//! Timings: one forward + backward of a tanh RNN (loss `Σ h_T`) by hand BPTT and on the tape,
//! in f64 and f32, at the five sizes of the performance issue; then the per-step checks.
//!
//! `cargo run --release --example bench [-- --json] [-- --quick]`
//!
//! Each figure is the median of repeated runs (at least 5, and at least 0.3 s in all), measured
//! in one process so that sizes and paths compare as ratios. GFLOP/s counts `6·B·T·(F+H)·H`
//! flops: forward `2·B·(F+H)·H` per step, backward twice that.

use std::time::Instant;
use tapegrad::Scalar;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::check::{Mode, check_case};
use tapegrad::rnn::Activation;

/// Median wall time of `f` in microseconds.
fn median_us(mut f: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed().as_secs_f64() < 0.3 && times.len() < 10_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

struct Row {
    path: &'static str,
    dtype: &'static str,
    dims: Dims,
    median_us: f64,
    gflops: f64,
}

fn run<T: Scalar>(dims: Dims, rows: &mut Vec<Row>) {
    let case = Case::<T>::random(1, dims, HeadKind::SumLast, Activation::Tanh);
    let flops =
        6.0 * (dims.batch * dims.steps * (dims.features + dims.hidden) * dims.hidden) as f64;
    let bptt = median_us(|| {
        std::hint::black_box(case.bptt().expect("valid case"));
    });
    let tape = median_us(|| {
        std::hint::black_box(case.tape_gradients().expect("valid case"));
    });
    for (path, us) in [("bptt", bptt), ("tape", tape)] {
        rows.push(Row {
            path,
            dtype: T::NAME,
            dims,
            median_us: us,
            gflops: flops / us / 1e3,
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let mut sizes = vec![
        (1, 3, 2, 4),
        (8, 16, 8, 16),
        (32, 32, 16, 64),
        (32, 64, 32, 128),
    ];
    if !quick {
        sizes.push((64, 128, 64, 256));
    }
    let mut rows = Vec::new();
    for &(batch, steps, features, hidden) in &sizes {
        let dims = Dims {
            batch,
            steps,
            features,
            hidden,
        };
        run::<f64>(dims, &mut rows);
        run::<f32>(dims, &mut rows);
    }

    let canonical = Case::<f64>::canonical();
    let canonical_us = median_us(|| {
        std::hint::black_box(check_case(&canonical, Mode::Exhaustive).expect("valid case"));
    });
    let big = Dims {
        batch: 32,
        steps: 64,
        features: 32,
        hidden: 128,
    };
    let big_case = Case::<f64>::random(1, big, HeadKind::SumLast, Activation::Tanh);
    let t = Instant::now();
    let report = check_case(&big_case, Mode::Directional { seed: 0 }).expect("valid case");
    let directional_s = t.elapsed().as_secs_f64();

    if json {
        let results: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"path\": \"{}\", \"dtype\": \"{}\", \"B\": {}, \"T\": {}, \"F\": {}, \"H\": {}, \"median_us\": {:.2}, \"gflops\": {:.3}}}",
                    r.path, r.dtype, r.dims.batch, r.dims.steps, r.dims.features, r.dims.hidden, r.median_us, r.gflops
                )
            })
            .collect();
        println!(
            "{{\"results\": [{}], \"check\": {{\"canonical_exhaustive_us\": {canonical_us:.1}, \"directional_32_64_32_128_s\": {directional_s:.3}, \"directional_passed\": {}}}}}",
            results.join(", "),
            report.passed()
        );
        return;
    }
    println!("One forward + backward of a tanh RNN, loss Σ h_T: median wall time (µs) and GFLOP/s");
    println!("(GFLOP/s counts 6·B·T·(F+H)·H flops; one thread)\n");
    println!(
        "{:<18} {:>6} {:>12} {:>9} {:>12} {:>9} {:>10}",
        "B,T,F,H", "dtype", "bptt µs", "GFLOP/s", "tape µs", "GFLOP/s", "tape/bptt"
    );
    for pair in rows.chunks(2) {
        let (b, t) = (&pair[0], &pair[1]);
        let d = b.dims;
        println!(
            "{:<18} {:>6} {:>12.1} {:>9.2} {:>12.1} {:>9.2} {:>10.2}",
            format!("{},{},{},{}", d.batch, d.steps, d.features, d.hidden),
            b.dtype,
            b.median_us,
            b.gflops,
            t.median_us,
            t.gflops,
            t.median_us / b.median_us
        );
    }
    println!("\nPer-step three-way check (hand BPTT, tape, central differences):");
    println!("  canonical example, exhaustive: median {canonical_us:.1} µs");
    println!(
        "  B=32 T=64 F=32 H=128, directional: {directional_s:.2} s (one run; {})",
        if report.passed() { "PASS" } else { "FAIL" }
    );
}
