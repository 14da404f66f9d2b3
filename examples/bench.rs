//! Timings of one training step of a tanh RNN (loss `Σ h_T`; returning the loss, `dx`, `dW_x`,
//! `dW_h`, `db` and `dh_0`) by the two fast paths of `tapegrad::fast`, in f64 and f32, at the five
//! sizes, from the canonical example to B=64 T=128 F=64 H=256; the tape's memory per step; the
//! per-step checks; and one training step of an LSTM and a GRU by the generic paths.
//!
//! `cargo run --release --example bench [-- --json] [-- --quick]`
//!
//! - `bptt`: `fast::Bptt::run`, hand BPTT with the products hoisted out of the time loop, on a
//!   workspace made once per size (as a training loop would).
//! - `tape`: `fast::tape_totals`, a fresh tape per run with one fused `rnn_step` node per step,
//!   then one backward sweep that keeps the leaves' gradients (`Var::backward_leaves`).
//!
//! Each figure is the median of repeated runs (at least 7, and at least 0.5 s per path), in one
//! process, the two paths taking turns after one untimed round each, so that sizes and paths
//! compare as ratios. GFLOP/s counts `6·B·T·(F+H)·H` flops:
//! forward `2·B·(F+H)·H` per step, backward twice that. `act%` is the share of the `bptt` time
//! that the forward activations take (tanh over `T` blocks of `B×H`, timed alone); `libm` is what
//! the same tanh costs with the standard `f64::tanh`/`f32::tanh` instead.

use std::time::Instant;
use tapegrad::Scalar;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cell::Cell;
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::check::{Mode, check_case};
use tapegrad::fast::{self, Bptt};
use tapegrad::fd::Verdict;

/// The five sizes `(B, T, F, H)` and the fastest Python peer's median µs for each in f64
/// (numpy or JAX), measured once on the project's earlier Skylake-X machines: on any other
/// machine only the ratios within one run compare.
const SIZES: [((usize, usize, usize, usize), f64); 5] = [
    ((1, 3, 2, 4), 11.0),
    ((8, 16, 8, 16), 83.0),
    ((32, 32, 16, 64), 679.0),
    ((32, 64, 32, 128), 3911.0),
    ((64, 128, 64, 256), 62415.0),
];

/// numpy's f32 time at the largest size, on the same earlier machine (the only f32 peer figure).
const NUMPY_F32_LARGEST_US: f64 = 26471.0;

/// Median wall time of `f` in microseconds.
fn median_us(mut f: impl FnMut()) -> f64 {
    let [us] = medians_us([&mut f]);
    us
}

/// Median wall times of the `fs` in microseconds. They take turns of 20 ms or one call (`f_1`
/// repeatedly, then `f_2`, …, then `f_1` again), after one untimed call each, so that each sees
/// the same state of the machine: on these shared machines the speed drifts from second to
/// second, and when the two paths were timed one after the other, two runs gave tape/bptt
/// ratios of 1.22 and 1.06 at the largest size. (Turns of a single call slowed the small sizes
/// by a third: each path evicted the other's data from the caches.)
fn medians_us<const N: usize>(mut fs: [&mut dyn FnMut(); N]) -> [f64; N] {
    fs.iter_mut().for_each(|f| f());
    let mut times = [(); N].map(|_| Vec::new());
    let start = Instant::now();
    while times[0].len() < 7
        || (start.elapsed().as_secs_f64() < 0.5 * N as f64 && times[0].len() < 100_000)
    {
        for (f, times) in fs.iter_mut().zip(&mut times) {
            let turn = Instant::now();
            loop {
                let t = Instant::now();
                f();
                times.push(t.elapsed().as_secs_f64() * 1e6);
                if turn.elapsed().as_secs_f64() >= 0.02 {
                    break;
                }
            }
        }
    }
    times.map(|mut times| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    })
}

struct Row {
    path: &'static str,
    dtype: &'static str,
    dims: Dims,
    median_us: f64,
    gflops: f64,
    /// The fastest peer's time for this size and dtype, if there is one.
    peer_us: Option<f64>,
    /// Forward tanh time, fast and standard (bptt rows only).
    activation: Option<(f64, f64)>,
}

fn run<T: Scalar>(dims: Dims, peer_us: Option<f64>, rows: &mut Vec<Row>) {
    let case = Case::<T>::random(1, dims, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    let flops =
        6.0 * (dims.batch * dims.steps * (dims.features + dims.hidden) * dims.hidden) as f64;
    let mut work = Bptt::new(dims);
    let [bptt, tape] = medians_us([
        &mut || {
            std::hint::black_box(work.run(&case).expect("valid case"));
        },
        &mut || {
            std::hint::black_box(fast::tape_totals(&case).expect("valid case"));
        },
    ]);
    // The forward activations alone: T blocks of B×H, as the forward pass applies them.
    let block = dims.batch * dims.hidden;
    let mut a: Vec<T> = (0..block * dims.steps)
        .map(|i| T::from_f64((i % 97) as f64 / 24.0 - 2.0))
        .collect();
    let fast_tanh = median_us(|| {
        for a_t in a.chunks_exact_mut(block) {
            Activation::Tanh.apply_in_place(a_t);
        }
        std::hint::black_box(&mut a);
    });
    let libm_tanh = median_us(|| {
        a.iter_mut().for_each(|v| *v = v.tanh());
        std::hint::black_box(&mut a);
    });
    for (path, us) in [("bptt", bptt), ("tape", tape)] {
        rows.push(Row {
            path,
            dtype: T::NAME,
            dims,
            median_us: us,
            gflops: flops / us / 1e3,
            peer_us,
            activation: (path == "bptt").then_some((fast_tanh, libm_tanh)),
        });
    }
}

/// One training step of `cell` (`k` stacked gates) at `dims` by the generic paths, which every
/// cell has: hand BPTT (`Case::bptt`, every per-step quantity kept, as the check reads them)
/// and the teaching tape (`Case::tape_gradients`, every step's untied copies). GFLOP/s counts
/// `6·B·T·(F+H)·k·H`.
fn run_cell<T: Scalar, C: Cell>(
    name: &'static [&'static str; 2],
    cell: C,
    k: usize,
    dims: Dims,
    rows: &mut Vec<Row>,
) {
    let case = Case::<T, C>::random(1, dims, HeadKind::SumLast, cell);
    let flops =
        6.0 * (dims.batch * dims.steps * (dims.features + dims.hidden) * k * dims.hidden) as f64;
    let [bptt, tape] = medians_us([
        &mut || {
            std::hint::black_box(case.bptt().expect("valid case"));
        },
        &mut || {
            std::hint::black_box(case.tape_gradients().expect("valid case"));
        },
    ]);
    for (path, us) in [(name[0], bptt), (name[1], tape)] {
        rows.push(Row {
            path,
            dtype: T::NAME,
            dims,
            median_us: us,
            gflops: flops / us / 1e3,
            peer_us: None,
            activation: None,
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick { &SIZES[..4] } else { &SIZES[..] };
    let dims_of = |(batch, steps, features, hidden)| Dims {
        batch,
        steps,
        features,
        hidden,
    };
    let largest = SIZES[4].0;
    let mut rows = Vec::new();
    for &(size, peer) in sizes {
        run::<f64>(dims_of(size), Some(peer), &mut rows);
        let peer32 = (size == largest).then_some(NUMPY_F32_LARGEST_US);
        run::<f32>(dims_of(size), peer32, &mut rows);
    }
    // The gated cells by the generic paths, at the four smaller sizes.
    let mut gated = Vec::new();
    for &(size, _) in &sizes[..sizes.len().min(4)] {
        let dims = dims_of(size);
        run_cell::<f64, _>(
            &["lstm bptt", "lstm tape"],
            Lstm::default(),
            4,
            dims,
            &mut gated,
        );
        run_cell::<f32, _>(
            &["lstm bptt", "lstm tape"],
            Lstm::default(),
            4,
            dims,
            &mut gated,
        );
        run_cell::<f64, _>(
            &["gru bptt", "gru tape"],
            Gru::default(),
            3,
            dims,
            &mut gated,
        );
        run_cell::<f32, _>(
            &["gru bptt", "gru tape"],
            Gru::default(),
            3,
            dims,
            &mut gated,
        );
    }
    let memory: Vec<(Dims, fast::StepMemory)> = sizes
        .iter()
        .map(|&(size, _)| {
            let case = Case::<f64>::random(
                1,
                dims_of(size),
                HeadKind::SumLast,
                Rnn::new(Activation::Tanh),
            );
            (case.dims(), fast::step_memory(&case).expect("valid case"))
        })
        .collect();

    let canonical = Case::<f64>::canonical();
    let canonical_us = median_us(|| {
        std::hint::black_box(check_case(&canonical, Mode::Exhaustive).expect("valid case"));
    });
    let big = Case::<f64>::random(
        1,
        dims_of((32, 64, 32, 128)),
        HeadKind::SumLast,
        Rnn::new(Activation::Tanh),
    );
    let t = Instant::now();
    let report = check_case(&big, Mode::Directional { seed: 0 }).expect("valid case");
    let directional_s = t.elapsed().as_secs_f64();
    // How hard finite differences worked: loss evaluations per quantity (4 when every
    // estimate stops at its first two steps).
    let every = report
        .steps
        .iter()
        .flatten()
        .map(|(_, c)| c)
        .chain(report.totals.iter().map(|(_, c)| c));
    let (quantities, evaluations, confirmed) = every.fold((0, 0, 0), |(q, e, ok), c| {
        let confirmed = usize::from(c.fd_verdict() == Verdict::Ok);
        (q + 1, e + c.fd.evaluations, ok + confirmed)
    });
    let check = Check {
        canonical_us,
        directional_s,
        passed: report.passed(),
        evaluations_per_quantity: evaluations as f64 / quantities as f64,
        confirmed,
        quantities,
        exhausted: report.precise_exhausted,
    };
    if json {
        print_json(&rows, &memory, &check, &gated);
    } else {
        print_table(&rows, &memory, &check);
        print_gated(&gated);
    }
}

/// The gated cells' table: median µs and GFLOP/s of each generic path.
fn print_gated(rows: &[Row]) {
    println!();
    println!("One training step of an LSTM and a GRU (loss Σ h_T) by the generic paths: hand BPTT");
    println!(
        "(Case::bptt, every per-step quantity kept) and the teaching tape (Case::tape_gradients)."
    );
    println!("Median µs; GFLOP/s counts 6·B·T·(F+H)·k·H, k = 4 (LSTM) or 3 (GRU); one thread.");
    println!(
        "{:<18} {:<10} {:<5} {:>12} {:>8}",
        "B,T,F,H", "path", "dtype", "µs", "GFLOP/s"
    );
    for r in rows {
        println!(
            "{:<18} {:<10} {:<5} {:>12.1} {:>8.2}",
            size_label(r.dims),
            r.path,
            r.dtype,
            r.median_us,
            r.gflops
        );
    }
}

fn size_label(d: Dims) -> String {
    format!("{},{},{},{}", d.batch, d.steps, d.features, d.hidden)
}

/// The check's timings, and the finite differences' work in the directional one.
struct Check {
    canonical_us: f64,
    directional_s: f64,
    passed: bool,
    evaluations_per_quantity: f64,
    /// Quantities finite differences confirmed, of all checked.
    confirmed: usize,
    quantities: usize,
    /// Whether double-double's work ran out.
    exhausted: bool,
}

fn print_table(rows: &[Row], memory: &[(Dims, fast::StepMemory)], check: &Check) {
    println!(
        "One training step of a tanh RNN (loss Σ h_T): forward + backward, returning dx, dW_x,"
    );
    println!("dW_h, db. Median µs; GFLOP/s counts 6·B·T·(F+H)·H; one thread.");
    println!(
        "peer: fastest Python peer's µs, measured on an earlier machine (f64; f32 only at the \
         largest size);"
    );
    println!("×peer: how many times faster than it. act%: forward tanh's share of bptt's time.\n");
    println!(
        "{:<15} {:>5} {:>10} {:>7} {:>10} {:>7} {:>6} {:>8} {:>6} {:>6} {:>5} {:>9}",
        "B,T,F,H",
        "dtype",
        "bptt µs",
        "GF/s",
        "tape µs",
        "GF/s",
        "t/b",
        "peer",
        "×bptt",
        "×tape",
        "act%",
        "libm µs"
    );
    for pair in rows.chunks(2) {
        let (b, t) = (&pair[0], &pair[1]);
        let (fast_tanh, libm_tanh) = b.activation.unwrap_or((f64::NAN, f64::NAN));
        let peer = |us: f64| {
            b.peer_us
                .map_or("-".to_string(), |p| format!("{:.1}", p / us))
        };
        println!(
            "{:<15} {:>5} {:>10.1} {:>7.1} {:>10.1} {:>7.1} {:>6.2} {:>8} {:>6} {:>6} {:>5.1} {:>9.1}",
            size_label(b.dims),
            b.dtype,
            b.median_us,
            b.gflops,
            t.median_us,
            t.gflops,
            t.median_us / b.median_us,
            b.peer_us.map_or("-".to_string(), |p| format!("{p:.0}")),
            peer(b.median_us),
            peer(t.median_us),
            100.0 * fast_tanh / b.median_us,
            libm_tanh
        );
    }
    println!(
        "\nMemory per time step (f64 bytes): what the tape keeps vs the activations BPTT keeps"
    );
    println!(
        "{:<15} {:>12} {:>12} {:>8} {:>16}",
        "B,T,F,H", "activations", "fused tape", "ratio", "teaching tape"
    );
    for (dims, m) in memory {
        println!(
            "{:<15} {:>12} {:>12} {:>8.2} {:>16}",
            size_label(*dims),
            m.activations,
            m.fused_tape,
            m.fused_tape as f64 / m.activations as f64,
            m.teaching_tape
        );
    }
    println!("\nPer-step check (hand BPTT, tape, forward mode, central differences):");
    println!(
        "  canonical example, exhaustive: median {:.1} µs",
        check.canonical_us
    );
    println!(
        "  B=32 T=64 F=32 H=128, directional: {:.3} s (one run; {}; {:.1} loss evaluations per \
         quantity by finite differences; {} of {} quantities confirmed by them{})",
        check.directional_s,
        if check.passed { "PASS" } else { "FAIL" },
        check.evaluations_per_quantity,
        check.confirmed,
        check.quantities,
        if check.exhausted {
            "; double-double's work did not reach every undecided one"
        } else {
            ""
        }
    );
}

fn print_json(rows: &[Row], memory: &[(Dims, fast::StepMemory)], check: &Check, gated: &[Row]) {
    let dims_json = |d: Dims| {
        format!(
            "\"B\": {}, \"T\": {}, \"F\": {}, \"H\": {}",
            d.batch, d.steps, d.features, d.hidden
        )
    };
    let results: Vec<String> = rows
        .iter()
        .chain(gated)
        .map(|r| {
            let activation = r.activation.map_or(String::new(), |(fast, libm)| {
                format!(", \"activation_us\": {fast:.2}, \"libm_activation_us\": {libm:.2}")
            });
            format!(
                "{{\"path\": \"{}\", \"dtype\": \"{}\", {}, \"median_us\": {:.2}, \"gflops\": {:.3}{activation}}}",
                r.path,
                r.dtype,
                dims_json(r.dims),
                r.median_us,
                r.gflops
            )
        })
        .collect();
    let memory: Vec<String> = memory
        .iter()
        .map(|(d, m)| {
            format!(
                "{{{}, \"activation_bytes_per_step\": {}, \"fused_tape_bytes_per_step\": {}, \"teaching_tape_bytes_per_step\": {}}}",
                dims_json(*d),
                m.activations,
                m.fused_tape,
                m.teaching_tape
            )
        })
        .collect();
    println!(
        "{{\"results\": [{}], \"memory\": [{}], \"check\": {{\"canonical_exhaustive_us\": {:.1}, \"directional_32_64_32_128_s\": {:.3}, \"directional_passed\": {}, \"fd_evaluations_per_quantity\": {:.2}, \"fd_confirmed\": {}, \"quantities\": {}, \"double_double_exhausted\": {}}}}}",
        results.join(", "),
        memory.join(", "),
        check.canonical_us,
        check.directional_s,
        check.passed,
        check.evaluations_per_quantity,
        check.confirmed,
        check.quantities,
        check.exhausted
    );
}
