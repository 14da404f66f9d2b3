//! # 11. A verdict in every regime
//!
//! A gradient check is only worth running if its verdict can be trusted where gradients are
//! hardest to get right: where they vanish over many steps, where they explode, where the
//! activations saturate. This program builds one case of each kind, checks it at every step
//! in both modes, and counts what each method could say:
//!
//! - *forward mode* (dual numbers, exact) must agree with hand BPTT on every quantity;
//! - *finite differences* choose their own steps and bound their own error, so they may say
//!   `ok`, `FAIL` or `inconclusive`. A quantity is *resolvable in principle* when its largest
//!   entry is at least `1e-8·max(|L|, 1)`: smaller than that, the loss's rounding in f64 hides
//!   it from any step (double-double still sees many of them). The program counts how many
//!   resolvable quantities they confirm, and (`in dd`) for how many quantities the bound was
//!   reached only by evaluating the loss again in double-double.
//!
//! Then it plants a mistake of one part in a million in one entry of a late step's gradient
//! and shows that the check fails at that step, in every regime.
//!
//! `cargo run --release --example 11-a-verdict-in-every-regime` (about 30 s, most of it the
//! estimates that f64 cannot decide, taken again in double-double; `--quick` for smaller
//! cases).

use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::check::{Comparisons, Mode, Report, check_case, check_gradients};
use tapegrad::double_double::DoubleDouble;
use tapegrad::error::Result;
use tapegrad::fd::{Verdict, rng};
use tapegrad::forward::forward_gradients;
use tapegrad::gradients::Gradients;
use tapegrad::init;
use tapegrad::loss::Head;
use tapegrad::matrix::Matrix;
use tapegrad::scalar::Scalar;
use tapegrad::spectral::orthogonal;

/// A tanh (or other) RNN whose recurrent weight is `ρ·Q`, `Q` orthogonal: `ρ` sets how fast
/// gradients vanish (`ρ < 1`) or explode (`ρ > 1`). Inputs of size `input` keep the units
/// near their linear regime when small.
fn with_radius(dims: Dims, activation: Activation, rho: f64, input: f64) -> Result<Case<f64>> {
    let mut r = rng(11);
    let w_x = init::normal(
        &mut r,
        dims.features,
        dims.hidden,
        1.0 / (dims.features as f64).sqrt(),
    );
    let w_h = orthogonal(dims.hidden, &mut r).scale(rho);
    let b = Matrix::zeros(1, dims.hidden);
    let x = (0..dims.steps)
        .map(|_| init::normal(&mut r, dims.batch, dims.features, input))
        .collect();
    Case::new(
        Rnn::new(activation),
        vec![w_x, w_h, b],
        x,
        vec![],
        Head::SumLast,
    )
}

/// A seeded random case with every weight scaled by `scale`.
fn scaled(dims: Dims, activation: Activation, scale: f64) -> Case<f64> {
    let mut case = Case::random(5, dims, HeadKind::SumLast, Rnn::new(activation));
    for p in &mut case.params {
        *p = p.scale(scale);
    }
    case
}

/// What one check said, quantity by quantity.
#[derive(Default)]
struct Counts {
    quantities: usize,
    forward_ok: usize,
    resolvable: usize,
    fd_ok: usize,
    fd_ok_resolvable: usize,
    inconclusive: usize,
    failed: usize,
    evaluations: usize,
    double_double: usize,
}

fn count(report: &Report, exact: &Gradients<f64>) -> Counts {
    let floor = 1e-8 * report.loss.abs().max(1.0);
    let mut counts = Counts::default();
    let mut tally = |c: &Comparisons, largest: f64| {
        counts.quantities += 1;
        counts.forward_ok += usize::from(c.hand_forward.verdict == Verdict::Ok);
        let resolvable = largest >= floor;
        counts.resolvable += usize::from(resolvable);
        let fd = [c.hand_fd.verdict, c.tape_fd.verdict]
            .into_iter()
            .find(|&v| v != Verdict::Ok)
            .unwrap_or(Verdict::Ok);
        counts.fd_ok += usize::from(fd == Verdict::Ok);
        counts.fd_ok_resolvable += usize::from(resolvable && fd == Verdict::Ok);
        counts.inconclusive += usize::from(fd == Verdict::Inconclusive);
        counts.failed += usize::from(c.verdict() == Verdict::Fail);
        counts.evaluations += c.fd.evaluations;
        counts.double_double += usize::from(c.fd.number == DoubleDouble::NAME);
    };
    for (t, row) in report.steps.iter().enumerate() {
        for (q, c) in row {
            let largest = exact.get(t + 1, q).map_or(0.0, Matrix::max_abs);
            tally(c, largest);
        }
    }
    for (total, c) in &report.totals {
        tally(c, exact.total(total.key).map_or(0.0, Matrix::max_abs));
    }
    counts
}

/// Hand BPTT with one entry of `name` at step `t` off by one part in a million.
fn planted(case: &Case<f64>, t: usize, name: &str) -> Result<Gradients<f64>> {
    let mut hand = case.bptt()?;
    if let Some(g) = hand.get_mut(t, name) {
        let (i, _) = g
            .as_slice()
            .iter()
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (i, v)| if v.abs() > best.1 { (i, v.abs()) } else { best },
            );
        g.as_mut_slice()[i] *= 1.0 + 1e-6;
    }
    Ok(hand)
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (blind, small) = if quick {
        (
            Dims {
                batch: 4,
                steps: 12,
                features: 4,
                hidden: 8,
            },
            Dims {
                batch: 2,
                steps: 12,
                features: 3,
                hidden: 6,
            },
        )
    } else {
        (
            Dims {
                batch: 16,
                steps: 32,
                features: 16,
                hidden: 32,
            },
            Dims {
                batch: 4,
                steps: 40,
                features: 4,
                hidden: 8,
            },
        )
    };
    let mut blind_case = Case::random(1, blind, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    blind_case.params[1] = blind_case.params[1].scale(0.9);
    let regimes: Vec<(&str, Case<f64>)> = vec![
        ("ordinary (W_h ~ N(0, 0.9²/H))", blind_case),
        (
            "exploding (ρ = 1.5, near-linear)",
            with_radius(small, Activation::Tanh, 1.5, 1e-6)?,
        ),
        (
            "vanishing (ρ = 0.5)",
            with_radius(small, Activation::Tanh, 0.5, 1.0)?,
        ),
        (
            "saturated tanh (weights × 12)",
            scaled(small, Activation::Tanh, 12.0),
        ),
        ("sigmoid", scaled(small, Activation::Sigmoid, 1.0)),
        (
            "identity (ρ = 0.9)",
            with_radius(small, Activation::Identity, 0.9, 1.0)?,
        ),
    ];
    println!(
        "{:<34} {:<11} {:>5} {:>8} {:>10} {:>8} {:>6} {:>6} {:>9} {:>6}  planted 1e-6",
        "case",
        "mode",
        "qty",
        "fwd ok",
        "resolvable",
        "fd ok",
        "incon",
        "FAIL",
        "fd evals",
        "in dd"
    );
    for (name, case) in &regimes {
        let exact = forward_gradients(case)?;
        let steps = case.x.len();
        for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
            if mode == Mode::Exhaustive && name.starts_with("ordinary") && !quick {
                // Every entry of every step of B16 T32 F16 H32 takes minutes: directional only.
                continue;
            }
            let report = check_case(case, mode)?;
            let c = count(&report, &exact);
            let caught = check_gradients(case, &planted(case, steps - 1, "dw_h")?, mode)?;
            let at = caught.first_failure();
            println!(
                "{name:<34} {:<11} {:>5} {:>8} {:>10} {:>8} {:>6} {:>6} {:>9} {:>6}  {}",
                mode.name(),
                c.quantities,
                c.forward_ok,
                c.resolvable,
                format!("{}/{}", c.fd_ok_resolvable, c.resolvable),
                c.inconclusive,
                c.failed,
                c.evaluations,
                c.double_double,
                match at {
                    Some((t, q)) => format!("caught at t = {t}, {q}"),
                    None => "MISSED".to_string(),
                }
            );
            if !report.passed() {
                println!(
                    "  the check FAILED a correct gradient: {:?}",
                    report.first_failure()
                );
            }
        }
    }
    Ok(())
}
