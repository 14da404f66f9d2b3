//! The verdict in every regime: finite differences that choose their own steps never fail a
//! correct gradient, whether gradients vanish, explode or saturate, in either mode; a mistake
//! of one part in a million in one entry of a late step is caught at that step; and the cases
//! where one fixed step failed correct gradients now pass.

use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::check::{Mode, check_case, check_gradients};
use tapegrad::fd::{Verdict, rng};
use tapegrad::forward::forward_gradients;
use tapegrad::init;
use tapegrad::loss::Head;
use tapegrad::matrix::Matrix;
use tapegrad::scalar::Scalar;
use tapegrad::spectral::orthogonal;

const DIMS: Dims = Dims {
    batch: 2,
    steps: 12,
    features: 3,
    hidden: 6,
};

/// An RNN with `W_h = ρ·Q` (`Q` orthogonal) and inputs of size `input`, loss `Σ h_T`.
fn with_radius(steps: usize, activation: Activation, rho: f64, input: f64) -> Case<f64> {
    let mut r = rng(11);
    let w_x = init::normal(&mut r, DIMS.features, DIMS.hidden, 0.5);
    let w_h = orthogonal(DIMS.hidden, &mut r).scale(rho);
    let x = (0..steps)
        .map(|_| init::normal(&mut r, DIMS.batch, DIMS.features, input))
        .collect();
    let params = vec![w_x, w_h, Matrix::zeros(1, DIMS.hidden)];
    Case::new(Rnn::new(activation), params, x, vec![], Head::SumLast).unwrap()
}

/// A seeded random case with every weight scaled by `scale`.
fn scaled(activation: Activation, scale: f64) -> Case<f64> {
    let mut case = Case::random(5, DIMS, HeadKind::SumLast, Rnn::new(activation));
    for p in &mut case.params {
        *p = p.scale(scale);
    }
    case
}

fn regimes() -> Vec<(&'static str, Case<f64>)> {
    vec![
        ("exploding", with_radius(40, Activation::Tanh, 1.5, 1e-6)),
        ("vanishing", with_radius(12, Activation::Tanh, 0.5, 1.0)),
        ("saturated tanh", scaled(Activation::Tanh, 12.0)),
        ("sigmoid", scaled(Activation::Sigmoid, 1.0)),
        ("identity", with_radius(12, Activation::Identity, 0.9, 1.0)),
    ]
}

/// In both modes: the check of `case` passes, and hand BPTT with the largest entry of `dW_h` at
/// step T − 1 off by `off` (relative) fails at that step.
fn passes_and_catches<T: Scalar>(name: &str, case: &Case<T>, off: f64) {
    let late = case.x.len() - 1;
    let mut hand = case.bptt().unwrap();
    let g = hand.get_mut(late, "dw_h").unwrap();
    let i = (0..g.len())
        .max_by(|&a, &b| {
            g.as_slice()[a]
                .as_f64()
                .abs()
                .total_cmp(&g.as_slice()[b].as_f64().abs())
        })
        .unwrap();
    g.as_mut_slice()[i] = g.as_slice()[i] * T::from_f64(1.0 + off);
    for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
        let report = check_case(case, mode).unwrap();
        let (t, m) = (T::NAME, mode.name());
        assert!(
            report.passed(),
            "{name} {t} {m}: {:?}",
            report.first_failure()
        );
        let caught = check_gradients(case, &hand, mode).unwrap();
        assert_eq!(
            caught.first_failure(),
            Some((late, "dw_h")),
            "{name} {t} {m}"
        );
    }
}

#[test]
fn no_correct_gradient_fails_and_a_planted_error_is_caught_in_every_regime() {
    for (name, case) in regimes() {
        passes_and_catches(name, &case, 1e-6);
    }
}

/// The same regimes in float32, where a central difference's step starts at `∛ε_mach ≈ 5e-3`
/// and the loss rounds ten million times more coarsely: no correct gradient fails, in either
/// mode, and a planted error of one part in a hundred is caught at its step. (One part in a
/// thousand is not, in the saturated case: there `dW_h`'s largest entry is itself known to
/// float32 only to about that, since `1 − h²` cancels.)
#[test]
fn no_correct_gradient_fails_in_float32_either() {
    for (name, case) in regimes() {
        passes_and_catches(name, &case.cast::<f32>(), 1e-2);
    }
}

/// Where gradients explode (by 1.5 a step, to 4e5 at t = 1 of 40), one fixed step of 6e-6 is far
/// off at every early step; each estimate walks down to smaller steps, and confirms nearly every
/// quantity that is not exactly zero.
#[test]
fn exploding_gradients_are_confirmed_by_finite_differences() {
    let case = with_radius(40, Activation::Tanh, 1.5, 1e-6);
    let exact = forward_gradients(&case).unwrap();
    assert!(exact.dh(1).max_abs() > 1e5, "the gradients explode");
    let report = check_case(&case, Mode::Directional { seed: 1 }).unwrap();
    let (mut confirmed, mut all) = (0, 0);
    for (t, row) in report.steps.iter().enumerate() {
        for (q, c) in row {
            if exact.get(t + 1, q).unwrap().max_abs() > 0.0 {
                all += 1;
                confirmed += usize::from(c.fd_verdict() == Verdict::Ok);
            }
        }
    }
    assert!(
        confirmed * 100 >= 95 * all,
        "{confirmed} of {all} confirmed"
    );
}

/// A large `W_h` (entries up to 2100): `∂L/∂h_0` is about 3e5, and a perturbation of 6e-6
/// saturates the next step. One fixed step failed it at relative error 1.6; the estimate walks
/// down to 1e-10 and confirms it.
#[test]
fn a_large_recurrent_weight_passes() {
    let m = |rows: &[&[f64]]| Matrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j]);
    let params = vec![
        m(&[&[0.046, 0.31]]),
        m(&[&[2100.0, 40.0], &[210.0, -1100.0]]),
        m(&[&[0.051, -0.59]]),
    ];
    let x = vec![m(&[&[0.017]]), m(&[&[0.0014]])];
    let head = Head::mse_last(m(&[&[-0.59, -0.58]]));
    let case = Case::new(Rnn::default(), params, x, vec![], head).unwrap();
    let report = check_case(&case, Mode::Exhaustive).unwrap();
    assert!(report.passed(), "{:?}", report.first_failure());
    let (_, h0) = report
        .totals
        .iter()
        .find(|(t, _)| t.key == "h0")
        .expect("the initial state's gradient is checked");
    assert_eq!(h0.fd_verdict(), Verdict::Ok, "{:?}", h0.fd);
}

/// Where the loss's rounding in f64 hides most gradients (vanishing over 24 steps, saturated,
/// sigmoid), every quantity that can be resolved in principle, its largest entry at least
/// `1e-8·max(|L|, 1)`, is confirmed by finite differences in both modes: those that f64 leaves
/// undecided are taken again in double-double, whose bounds f64 cannot reach.
#[test]
fn every_resolvable_quantity_is_confirmed_where_f64_rounds_it_away() {
    let cases = [
        ("vanishing", with_radius(24, Activation::Tanh, 0.5, 1.0)),
        ("saturated tanh", scaled(Activation::Tanh, 12.0)),
        ("sigmoid", scaled(Activation::Sigmoid, 1.0)),
    ];
    for (name, case) in cases {
        let exact = forward_gradients(&case).unwrap();
        for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
            let report = check_case(&case, mode).unwrap();
            let floor = 1e-8 * report.loss.abs().max(1.0);
            // In f64 a bound is at least (65/60)·2ε·max(|L|, 1)/0.5: four roundings of the
            // loss, at the largest step.
            let f64_floor = 9e-16 * report.loss.abs().max(1.0);
            let (mut confirmed, mut resolvable, mut sharpened) = (0, 0, 0);
            for (t, row) in report.steps.iter().enumerate() {
                for (q, c) in row {
                    if exact.get(t + 1, q).unwrap().max_abs() >= floor {
                        resolvable += 1;
                        confirmed += usize::from(c.fd_verdict() == Verdict::Ok);
                        sharpened += usize::from(c.fd.error < f64_floor);
                    }
                }
            }
            let m = mode.name();
            assert_eq!(confirmed, resolvable, "{name} {m}");
            assert!(sharpened > 0, "{name} {m}: double-double was never needed");
        }
    }
}

/// An error of one part in a million where only double-double can see it: in the largest entry
/// of `dW_h` at the earliest step whose check needed double-double, in a vanishing sequence.
#[test]
fn an_error_only_double_double_resolves_is_caught_at_its_step() {
    let case = with_radius(24, Activation::Tanh, 0.5, 1.0);
    for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
        let report = check_case(&case, mode).unwrap();
        let t = (1..=case.x.len())
            .find(|&t| {
                let (_, c) = report.steps[t - 1]
                    .iter()
                    .find(|(q, _)| *q == "dw_h")
                    .unwrap();
                c.fd.number == "double-double" && c.fd_verdict() == Verdict::Ok
            })
            .expect("some step's dW_h needs double-double");
        let mut hand = case.bptt().unwrap();
        let g = hand.get_mut(t, "dw_h").unwrap();
        let i = (0..g.len())
            .max_by(|&a, &b| g.as_slice()[a].abs().total_cmp(&g.as_slice()[b].abs()))
            .unwrap();
        g.as_mut_slice()[i] *= 1.0 + 1e-6;
        let caught = check_gradients(&case, &hand, mode).unwrap();
        assert_eq!(caught.first_failure(), Some((t, "dw_h")), "{}", mode.name());
        let (_, c) = caught.steps[t - 1]
            .iter()
            .find(|(q, _)| *q == "dw_h")
            .unwrap();
        assert_eq!(c.hand_forward.verdict, Verdict::Fail);
        assert_eq!(c.tape_fd.verdict, Verdict::Ok);
        // Along a direction, finite differences fail it on their own, in double-double. (In
        // exhaustive mode the largest entry is decided in f64, to 1e-6 of the quantity: an
        // error of that size is at their tolerance, and forward mode is what fails it.)
        if mode != Mode::Exhaustive {
            assert_eq!(c.hand_fd.verdict, Verdict::Fail, "t = {t}: {:?}", c.fd);
        }
    }
}

/// The referee's allowance in every regime, float64 and float32: a homework whose inputs had
/// other last digits (what a student who stored the case in float32 computes from) agrees, its
/// difference from the exact gradients being the case's input spread; the same homework with
/// one late entry of `dW_h` off by 1e-2 (float32: in saturated tanh its own round-off reaches
/// 1e-3) or 1e-6 (float64) is blamed at that step.
/// The input spread stays within the allowance the terms' scale alone gives (`32·ε·scale`), so
/// the two measures of the case's conditioning are consistent.
#[test]
fn the_referee_allows_the_input_spread_and_no_more() {
    use tapegrad::diagnose::diagnose;
    use tapegrad::fd::ROUNDOFF;
    use tapegrad::gradients::{Dtype, Given};
    let mut grew = 0;
    for (name, case) in regimes() {
        for (dtype, off) in [(Dtype::Float64, 1e-6), (Dtype::Float32, 1e-2)] {
            let eps = dtype.epsilon();
            let exact = case.bptt().unwrap();
            let terms = case.roundoff_scales().unwrap();
            let spread = case.input_spread(eps).unwrap();
            let scale = case.referee_scales(eps).unwrap();
            for t in 1..=case.x.len() {
                for (q, m) in terms.step(t) {
                    let (s, r) = (spread.get(t, q).unwrap(), scale.get(t, q).unwrap());
                    for ((m, s), r) in m.as_slice().iter().zip(s.as_slice()).zip(r.as_slice()) {
                        assert!(s.is_finite() && *s <= ROUNDOFF * eps * m, "{name}: {q}_{t}");
                        assert_eq!(*r, m.max(s / eps));
                        grew += usize::from(r > m);
                    }
                }
            }
            // A homework computed from inputs with other last digits.
            let mut nudged = case.clone();
            for (k, x) in nudged.x.iter_mut().enumerate() {
                *x = x.map(|v| v * (1.0 + eps * if k % 2 == 0 { 0.5 } else { -0.5 }));
            }
            nudged.params[1] = nudged.params[1].map(|v| v * (1.0 - 0.5 * eps));
            let mut homework = Given::all(&nudged.bptt().unwrap());
            homework.dtype = dtype;
            let d = diagnose(&exact, &scale, &homework, &case.cell);
            assert!(d.ok, "{name}, {dtype:?}: {}", d.explanation);
            // One late entry wrong.
            let late = case.x.len() - 1;
            let mut wrong = nudged.bptt().unwrap();
            let dw = wrong.get_mut(late, "dw_h").unwrap();
            let (i, _) = dw
                .as_slice()
                .iter()
                .enumerate()
                .fold(
                    (0, 0.0),
                    |b, (i, v)| if v.abs() > b.1 { (i, v.abs()) } else { b },
                );
            dw.as_mut_slice()[i] *= 1.0 + off;
            let mut homework = Given::all(&wrong);
            homework.dtype = dtype;
            let d = diagnose(&exact, &scale, &homework, &case.cell);
            assert_eq!(d.first_mismatch, Some((late, "dw_h")), "{name}, {dtype:?}");
        }
    }
    // Somewhere the spread is the larger measure, so the allowance is not the terms' alone.
    assert!(grew > 0, "the input spread never exceeded ε·scale");
}
