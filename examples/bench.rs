//! Timings of one training step of a tanh RNN (loss `Σ h_T`; returning the loss, `dx`, `dW_x`,
//! `dW_h`, `db` and `dh_0`) by the two fast paths of `tapegrad::fast`, in f64 and f32, at the five
//! sizes, from the canonical example to B=64 T=128 F=64 H=256; the tape's memory per step; the
//! per-step checks; and one training step of an LSTM and a GRU by the two paths of
//! `tapegrad::gated`.
//!
//! `cargo run --release --example bench [-- --json] [-- --quick]`
//!
//! - `bptt`: `fast::Bptt::run`, hand BPTT with the products hoisted out of the time loop, on a
//!   workspace made once per size (as a training loop would).
//! - `tape`: `fast::tape_totals`, a fresh tape per run with one fused `rnn_step` node per step,
//!   then one backward sweep that keeps the leaves' gradients (`Var::backward_leaves`).
//! - `lstm bptt`, `gru bptt`: `gated::Bptt::run`, the same arrangement for a gated cell, the
//!   gates computed row by row in the cell's file; `lstm tape`, `gru tape`: `gated::tape_totals`,
//!   one fused `lstm_step`/`gru_step` node per step.
//!
//! Each figure is the median of repeated runs (at least 7, and at least 0.5 s per path), in one
//! process, the two paths taking turns after one untimed round each, so that sizes and paths
//! compare as ratios. GFLOP/s counts `6·B·T·(F+H)·H` flops:
//! forward `2·B·(F+H)·H` per step, backward twice that. `act%` is the share of the `bptt` time
//! that the forward activations take (tanh over `T` blocks of `B×H`, timed alone); `libm` is what
//! the same tanh costs with the standard `f64::tanh`/`f32::tanh` instead.
//!
//! The bench measures its own reference first: the single-thread peak of the product kernel
//! every path runs on (the best of square products of side 256, 512 and 1024), and prints each path's share of it, which
//! compares across machines where microseconds do not. Last, it times the per-step check of
//! every step in both modes on the cases `benches/peers.py` times `torch.autograd.gradcheck` on.
//! `--json` prints `gemm_peak_gflops`, `results` (one row per path, size and dtype), `memory`,
//! `check`, `check_cores` and `checks` (`{case, mode, seconds, runs, passed}`), which the peers
//! script reads to write the README's table. The training steps run on one thread; the check
//! runs its two parts at once where it has two cores (`taskset -c 0` gives it one).

use std::time::Instant;
use tapegrad::Scalar;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cell::Pointwise;
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::check::{Mode, check_case};
use tapegrad::fast::{self, Bptt};
use tapegrad::fd::Verdict;
use tapegrad::gated;
use tapegrad::matrix::Matrix;

/// The five sizes `(B, T, F, H)`, from the canonical example's to the largest.
const SIZES: [(usize, usize, usize, usize); 5] = [
    (1, 3, 2, 4),
    (8, 16, 8, 16),
    (32, 32, 16, 64),
    (32, 64, 32, 128),
    (64, 128, 64, 256),
];

/// The sides of the square products the kernel's peak is measured on: a BLAS's peak is quoted
/// on the one of these it runs fastest.
const PEAK_SIDES: [usize; 3] = [256, 512, 1024];

/// The single-thread peak of the product kernel every path here runs on: the best over
/// [`PEAK_SIDES`] of the median GFLOP/s of `C = A·B` for square `n × n` matrices (`2n³`
/// flops). Each path's share of it says how close to the machine a training step runs, on any
/// machine.
fn gemm_peak<T: Scalar>() -> f64 {
    PEAK_SIDES
        .iter()
        .map(|&n| {
            let entry = |k: usize, m: usize| T::from_f64((k % m) as f64 / m as f64);
            let a = Matrix::<T>::from_fn(n, n, |i, j| entry(i * 7 + j * 3, 17));
            let b = Matrix::<T>::from_fn(n, n, |i, j| entry(i * 5 + j, 13));
            let us = median_us(|| {
                std::hint::black_box(a.matmul(&b).expect("square matrices fit"));
            });
            2.0 * (n * n * n) as f64 / us / 1e3
        })
        .fold(0.0, f64::max)
}

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
    /// Forward tanh time, fast and standard (bptt rows only).
    activation: Option<(f64, f64)>,
}

fn run<T: Scalar>(dims: Dims, rows: &mut Vec<Row>) {
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
            activation: (path == "bptt").then_some((fast_tanh, libm_tanh)),
        });
    }
}

/// One training step of `cell` (`k` stacked gates) at `dims` by the two paths of
/// `tapegrad::gated`: hand BPTT on a workspace made once (`gated::Bptt`), and a fresh tape of
/// fused steps per run (`gated::tape_totals`). GFLOP/s counts `6·B·T·(F+H)·k·H`.
fn run_cell<T: Scalar, C: Pointwise>(
    name: &'static [&'static str; 2],
    cell: C,
    k: usize,
    dims: Dims,
    rows: &mut Vec<Row>,
) {
    let case = Case::<T, C>::random(1, dims, HeadKind::SumLast, cell);
    let flops =
        6.0 * (dims.batch * dims.steps * (dims.features + dims.hidden) * k * dims.hidden) as f64;
    let mut work = gated::Bptt::new::<C>(dims);
    let [bptt, tape] = medians_us([
        &mut || {
            std::hint::black_box(work.run(&case).expect("valid case"));
        },
        &mut || {
            std::hint::black_box(gated::tape_totals(&case).expect("valid case"));
        },
    ]);
    for (path, us) in [(name[0], bptt), (name[1], tape)] {
        rows.push(Row {
            path,
            dtype: T::NAME,
            dims,
            median_us: us,
            gflops: flops / us / 1e3,
            activation: None,
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick { &SIZES[..4] } else { &SIZES[..] };
    let peak = Peak {
        f64: gemm_peak::<f64>(),
        f32: gemm_peak::<f32>(),
    };
    let mut rows = Vec::new();
    for &size in sizes {
        run::<f64>(dims_of(size), &mut rows);
        run::<f32>(dims_of(size), &mut rows);
    }
    // The gated cells, at every size.
    let mut gated = Vec::new();
    for &size in sizes {
        let dims = dims_of(size);
        run_cell::<f64, _>(&LSTM_PATHS, Lstm::default(), 4, dims, &mut gated);
        run_cell::<f32, _>(&LSTM_PATHS, Lstm::default(), 4, dims, &mut gated);
        run_cell::<f64, _>(&GRU_PATHS, Gru::default(), 3, dims, &mut gated);
        run_cell::<f32, _>(&GRU_PATHS, Gru::default(), 3, dims, &mut gated);
    }
    let memory: Vec<(Dims, fast::StepMemory)> = sizes
        .iter()
        .map(|&size| {
            let case = rnn_case(size);
            (case.dims(), fast::step_memory(&case).expect("valid case"))
        })
        .collect();

    let canonical = Case::<f64>::canonical();
    let canonical_us = median_us(|| {
        std::hint::black_box(check_case(&canonical, Mode::Exhaustive).expect("valid case"));
    });
    let t = Instant::now();
    let report = check_case(&rnn_case((32, 64, 32, 128)), Mode::Directional { seed: 0 })
        .expect("valid case");
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
    let checks = time_checks(quick);
    // The check splits its work in two and runs the parts at once on as many cores as it may.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if json {
        print_json(&rows, &memory, &check, &gated, &peak, (&checks, cores));
    } else {
        print_table(&rows, &memory, &check, &peak);
        print_gated(&gated, &peak);
        print_checks(&checks, cores);
    }
}

/// The names of the gated cells' two paths.
const LSTM_PATHS: [&str; 2] = ["lstm bptt", "lstm tape"];
const GRU_PATHS: [&str; 2] = ["gru bptt", "gru tape"];

fn dims_of((batch, steps, features, hidden): (usize, usize, usize, usize)) -> Dims {
    Dims {
        batch,
        steps,
        features,
        hidden,
    }
}

/// The benchmark's case at `size`: a seeded random tanh RNN with loss `Σ h_T`, the case the
/// peers script builds too (`benches/peers.py`, which writes it as a case file).
fn rnn_case(size: (usize, usize, usize, usize)) -> Case<f64> {
    Case::<f64>::random(
        1,
        dims_of(size),
        HeadKind::SumLast,
        Rnn::new(Activation::Tanh),
    )
}

/// The kernel's single-thread peak in each dtype, GFLOP/s.
struct Peak {
    f64: f64,
    f32: f64,
}

impl Peak {
    /// `gflops` as a percentage of the peak of `dtype`.
    fn share(&self, dtype: &str, gflops: f64) -> f64 {
        let peak = if dtype == "f32" { self.f32 } else { self.f64 };
        100.0 * gflops / peak
    }
}

/// One timed check: the case's size, the mode, and the median seconds of `runs` runs.
struct TimedCheck {
    size: (usize, usize, usize, usize),
    mode: &'static str,
    seconds: f64,
    runs: usize,
    passed: bool,
}

/// The per-step check (every step, every oracle) on the sizes `torch.autograd.gradcheck` is
/// timed on by the peers script, in both modes, on the cores this process may use; the
/// exhaustive check of `16,32,16,32` (about a minute) only in the full run.
fn time_checks(quick: bool) -> Vec<TimedCheck> {
    let mut plan = vec![
        ((8, 16, 8, 16), "exhaustive", 3),
        ((8, 16, 8, 16), "directional", 5),
        ((16, 32, 16, 32), "directional", 5),
        ((32, 64, 32, 128), "directional", 3),
    ];
    if !quick {
        plan.insert(2, ((16, 32, 16, 32), "exhaustive", 1));
    }
    plan.into_iter()
        .map(|(size, mode, runs)| {
            let case = rnn_case(size);
            let mode_of = if mode == "exhaustive" {
                Mode::Exhaustive
            } else {
                Mode::Directional { seed: 0 }
            };
            let mut seconds = Vec::new();
            let mut passed = true;
            for _ in 0..runs {
                let t = Instant::now();
                passed &= check_case(&case, mode_of).expect("valid case").passed();
                seconds.push(t.elapsed().as_secs_f64());
            }
            seconds.sort_by(f64::total_cmp);
            TimedCheck {
                size,
                mode,
                seconds: seconds[runs / 2],
                runs,
                passed,
            }
        })
        .collect()
}

fn print_checks(checks: &[TimedCheck], cores: usize) {
    println!(
        "\nThe per-step check of every step (hand BPTT, tape, forward mode, finite differences),"
    );
    println!(
        "on the peers script's cases (tanh RNN, loss Σ h_T); median seconds, on {cores} core(s):"
    );
    println!(
        "{:<18} {:<12} {:>10} {:>5} {:>7}",
        "B,T,F,H", "mode", "seconds", "runs", "verdict"
    );
    for c in checks {
        println!(
            "{:<18} {:<12} {:>10.3} {:>5} {:>7}",
            size_label(dims_of(c.size)),
            c.mode,
            c.seconds,
            c.runs,
            if c.passed { "PASS" } else { "FAIL" }
        );
    }
}

/// The gated cells' table: median µs and GFLOP/s of each path.
fn print_gated(rows: &[Row], peak: &Peak) {
    println!();
    println!("One training step of an LSTM and a GRU (loss Σ h_T) by the two paths of gated:");
    println!("hand BPTT (gated::Bptt) and the tape of fused steps (gated::tape_totals).");
    println!("Median µs; GFLOP/s counts 6·B·T·(F+H)·k·H, k = 4 (LSTM) or 3 (GRU); one thread.");
    println!(
        "{:<18} {:<10} {:<5} {:>12} {:>8} {:>6}",
        "B,T,F,H", "path", "dtype", "µs", "GFLOP/s", "%peak"
    );
    for r in rows {
        println!(
            "{:<18} {:<10} {:<5} {:>12.1} {:>8.2} {:>6.1}",
            size_label(r.dims),
            r.path,
            r.dtype,
            r.median_us,
            r.gflops,
            peak.share(r.dtype, r.gflops)
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

fn print_table(rows: &[Row], memory: &[(Dims, fast::StepMemory)], check: &Check, peak: &Peak) {
    println!(
        "The product kernel's single-thread peak (C = A·B, square, best of n = {PEAK_SIDES:?}): \
         {:.1} GFLOP/s f64, {:.1} f32.\n",
        peak.f64, peak.f32
    );
    println!(
        "One training step of a tanh RNN (loss Σ h_T): forward + backward, returning dx, dW_x,"
    );
    println!("dW_h, db. Median µs; GFLOP/s counts 6·B·T·(F+H)·H; one thread. %pk: share of the");
    println!("kernel's peak in the same dtype. act%: forward tanh's share of bptt's time.\n");
    println!(
        "{:<15} {:>5} {:>10} {:>7} {:>5} {:>10} {:>7} {:>5} {:>6} {:>5} {:>9}",
        "B,T,F,H",
        "dtype",
        "bptt µs",
        "GF/s",
        "%pk",
        "tape µs",
        "GF/s",
        "%pk",
        "t/b",
        "act%",
        "libm µs"
    );
    for pair in rows.chunks(2) {
        let (b, t) = (&pair[0], &pair[1]);
        let (fast_tanh, libm_tanh) = b.activation.unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<15} {:>5} {:>10.1} {:>7.1} {:>5.1} {:>10.1} {:>7.1} {:>5.1} {:>6.2} {:>5.1} {:>9.1}",
            size_label(b.dims),
            b.dtype,
            b.median_us,
            b.gflops,
            peak.share(b.dtype, b.gflops),
            t.median_us,
            t.gflops,
            peak.share(t.dtype, t.gflops),
            t.median_us / b.median_us,
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

fn print_json(
    rows: &[Row],
    memory: &[(Dims, fast::StepMemory)],
    check: &Check,
    gated: &[Row],
    peak: &Peak,
    (checks, cores): (&[TimedCheck], usize),
) {
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
                "{{\"path\": \"{}\", \"dtype\": \"{}\", {}, \"median_us\": {:.2}, \"gflops\": {:.3}, \"peak_share\": {:.4}{activation}}}",
                r.path,
                r.dtype,
                dims_json(r.dims),
                r.median_us,
                r.gflops,
                peak.share(r.dtype, r.gflops) / 100.0
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
    let checks: Vec<String> = checks
        .iter()
        .map(|c| {
            format!(
                "{{\"case\": \"{}\", \"mode\": \"{}\", \"seconds\": {:.4}, \"runs\": {}, \"passed\": {}}}",
                size_label(dims_of(c.size)),
                c.mode,
                c.seconds,
                c.runs,
                c.passed
            )
        })
        .collect();
    println!(
        "{{\"gemm_peak_gflops\": {{\"f64\": {:.3}, \"f32\": {:.3}}}, \"results\": [{}], \"memory\": [{}], \"check\": {{\"canonical_exhaustive_us\": {:.1}, \"directional_32_64_32_128_s\": {:.3}, \"directional_passed\": {}, \"fd_evaluations_per_quantity\": {:.2}, \"fd_confirmed\": {}, \"quantities\": {}, \"double_double_exhausted\": {}}}, \"check_cores\": {cores}, \"checks\": [{}]}}",
        peak.f64,
        peak.f32,
        results.join(", "),
        memory.join(", "),
        check.canonical_us,
        check.directional_s,
        check.passed,
        check.evaluations_per_quantity,
        check.confirmed,
        check.quantities,
        check.exhausted,
        checks.join(", ")
    );
}
