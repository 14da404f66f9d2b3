//! A long sequence, T = 100 000 steps of a 4-unit tanh RNN: how long each path takes and how
//! much memory it holds, to show both grow linearly in T.
//!
//! ```sh
//! cargo run --release --example long_sequence                  # T = 25 000, 50 000, 100 000
//! cargo run --release --example long_sequence -- --steps 100000
//! ```
//!
//! Each T runs in a fresh process so that its peak resident memory (`VmHWM` in
//! `/proc/self/status`, Linux only) is its own. Times are wall-clock, for this machine only.

use std::process::Command;
use std::time::Instant;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::check::{Mode, check_steps, check_totals};
use tapegrad::fd::relative_error;

/// The peak resident memory of this process so far, in bytes (`None` off Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("?".into(), |b| {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    })
}

/// Times `f`, printing its name, the seconds and the peak memory after it.
fn timed<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let out = f();
    println!(
        "  {what:<44} {:>7.3} s   peak RSS {}",
        start.elapsed().as_secs_f64(),
        mib(peak_rss())
    );
    out
}

/// One sequence of `steps` steps: both backward paths, a sampled check and the totals check.
fn run(steps: usize) {
    let dims = Dims {
        batch: 1,
        steps,
        features: 2,
        hidden: 4,
    };
    println!(
        "T = {steps}, batch 1, 2 features, 4 hidden, tanh, loss mse_all (a target at every step)"
    );
    let case = timed("building the case", || {
        Case::<f64>::random(11, dims, HeadKind::MseAll, Rnn::new(Activation::Tanh))
    });
    let before = peak_rss();
    timed("forward pass", || {
        case.forward().expect("the case is valid")
    });
    let hand = timed("hand BPTT, case.bptt() (forward + backward)", || {
        case.bptt().expect("the case is valid")
    });
    let tape = timed("tape, case.tape_gradients() (record + sweep)", || {
        case.tape_gradients().expect("the case is valid")
    });
    let after = peak_rss();
    println!(
        "  hand vs tape: rel(dW_h) = {:.1e}, rel(dh_0) = {:.1e}",
        relative_error(hand.total("w_h").unwrap(), tape.total("w_h").unwrap()),
        relative_error(hand.dh(0), tape.dh(0))
    );
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "  memory held by the two paths at their peak: {} = {:.0} bytes per step",
            mib(Some(after - before)),
            (after - before) as f64 / steps as f64
        );
    }
    drop(tape);
    let sample = [1, steps / 2, steps];
    let report = timed("check_steps [1, T/2, T] + totals (exhaustive)", || {
        check_steps(&case, &hand, Mode::Exhaustive, &sample).expect("the steps exist")
    });
    let non_finite = match report.first_non_finite {
        Some(at) => format!("first non-finite value: {at}"),
        None => "every value finite".to_string(),
    };
    println!(
        "  sampled check: {}, {non_finite}",
        if report.passed() { "PASS" } else { "FAIL" },
    );
    let report = timed("check_totals (exhaustive)", || {
        check_totals(&case, &hand, Mode::Exhaustive).expect("the case is valid")
    });
    println!(
        "  totals check: {}",
        if report.passed() { "PASS" } else { "FAIL" }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--steps") {
        let steps = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .expect("--steps needs a whole number");
        run(steps);
        return;
    }
    // One fresh process per length, so each peak is that length's own.
    let me = std::env::current_exe().expect("the example knows its own path");
    for steps in [25_000, 50_000, 100_000] {
        let status = Command::new(&me)
            .args(["--steps", &steps.to_string()])
            .status()
            .expect("the example can run itself");
        assert!(status.success(), "T = {steps} failed");
        println!();
    }
}
