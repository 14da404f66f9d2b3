//! Numbers at the edges: values that are legal but extreme (logits of ±1e4, saturated units,
//! overflow to infinity, gradients vanishing into subnormal floats), the smallest case there is,
//! and long sequences. Every check must hold there, and none may pass on NaN or infinity.

use std::time::Instant;
use tapegrad::Matrix;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::check::{
    Mode, NonFiniteAt, check_case, check_gradients, check_steps, check_totals, first_non_finite,
};
use tapegrad::fd::relative_error;
use tapegrad::gradients::Gradients;
use tapegrad::loss::Head;

fn all_finite(g: &Gradients<f64>) -> bool {
    let mut all: Vec<&Matrix<f64>> = g.totals.iter().map(|(_, m)| m).collect();
    assert_eq!(g.steps[0].len(), 6, "every per-step quantity");
    for s in &g.steps {
        all.extend(s.iter().map(|(_, m)| m));
    }
    g.loss.is_finite() && all.iter().all(|m| m.first_non_finite().is_none())
}

/// A one-unit, one-feature RNN: `a_t = w_x·x_t + w_h·h_{t-1} + b`.
fn scalar_case(
    (w_x, w_h, b): (f64, f64, f64),
    xs: &[f64],
    h0: f64,
    activation: Activation,
    head: Head<f64>,
) -> Case<f64> {
    let one = |v: f64| Matrix::row_vector(&[v]);
    Case::new(
        Rnn::new(activation),
        vec![one(w_x), one(w_h), one(b)],
        xs.iter().map(|&x| one(x)).collect(),
        vec![Some(one(h0))],
        head,
    )
    .unwrap()
}

/// Logits of ±1e4: the loss (≈ 2e4, the wrong class chosen with all confidence) and every
/// gradient stay finite on both paths, and the check does not fail.
#[test]
fn softmax_with_logits_of_ten_thousand() {
    let case = Case::<f64>::random(
        3,
        Dims {
            batch: 2,
            steps: 3,
            features: 2,
            hidden: 4,
        },
        HeadKind::SoftmaxCe(3),
        Rnn::new(Activation::Tanh),
    );
    // Saturate the last state to ±1 with a large bias, then scale W_out so the logits
    // reach ±1e4 exactly: z = h_T · W_out with h_T = [1, 1, 1, 1].
    let params = vec![
        case.param("w_x").clone(),
        case.param("w_h").clone(),
        Matrix::filled(1, 4, 40.0),
    ];
    let w_out = Matrix::from_rows(&[[2500.0, -2500.0, 0.0]; 4]).unwrap();
    let head = Head::softmax_ce(w_out, Matrix::zeros(1, 3), vec![1, 0]);
    let h0 = case.h0().clone();
    let case = Case::new(case.cell, params, case.x.clone(), vec![Some(h0)], head).unwrap();
    let fwd = case.forward().unwrap();
    assert_eq!(
        fwd.h(3).as_slice(),
        &[1.0; 8][..],
        "tanh(40 + …) is 1 in f64"
    );
    let (hand, tape) = (case.bptt().unwrap(), case.tape_gradients().unwrap());
    // Row 0 puts label 1 at −1e4 against the best 1e4: −log p = 2e4. Row 1's label 0 is
    // the best class: −log p = log(1 + e^−1e4 + e^−2e4) = 0 in f64.
    assert_eq!(hand.loss, 1e4);
    assert!(all_finite(&hand) && all_finite(&tape));
    let dw_out = hand.total("w_out").unwrap();
    // dW_out = h_Tᵀ · (P − Y)/B: row 0 of the batch put all its probability on class 0
    // where the label is 1 (row 1 is right and adds nothing), times h_T = 1 on every unit.
    assert_eq!(dw_out.row(0), &[0.5, -0.5, 0.0][..]);
    assert!(relative_error(dw_out, tape.total("w_out").unwrap()) <= 1e-12);
    let report = check_case(&case, Mode::Exhaustive).unwrap();
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.first_non_finite, None);
}

/// Saturated tanh and sigmoid: states at exactly ±1 (or 0 and 1), gradients through them
/// exactly 0, and the check passes without NaN from 0·∞ or 1 − 1.
#[test]
fn saturated_tanh_and_sigmoid() {
    for activation in [Activation::Tanh, Activation::Sigmoid] {
        for bias in [-800.0, -50.0, 50.0, 800.0] {
            let case = scalar_case(
                (0.5, 0.5, bias),
                &[0.1, -0.2, 0.3],
                0.0,
                activation,
                Head::mse_all(vec![Matrix::row_vector(&[0.3]); 3]),
            );
            let (hand, tape) = (case.bptt().unwrap(), case.tape_gradients().unwrap());
            assert!(
                all_finite(&hand) && all_finite(&tape),
                "{activation} {bias}"
            );
            // 0 for tanh, and below 1e-20 for sigmoid (σ(±50) is 2e-22 away from 0 or 1).
            let da_1 = hand.get(1, "da").unwrap()[(0, 0)];
            assert!(da_1.abs() < 1e-20, "{activation} {bias}");
            let report = check_case(&case, Mode::Exhaustive).unwrap();
            assert!(report.passed(), "{activation} {bias}: {report:?}");
        }
    }
}

/// The smallest case there is, T = B = F = H = 1, with every head and activation.
#[test]
fn one_step_one_sequence_one_unit() {
    let one = Matrix::row_vector(&[0.7]);
    let heads = [
        Head::SumLast,
        Head::softmax_ce(one.clone(), Matrix::row_vector(&[0.1]), vec![0]),
        Head::mse_all(vec![one.clone()]),
        Head::mse_last(one),
    ];
    for head in heads {
        for activation in Activation::ALL {
            let case = scalar_case((0.3, -0.4, 0.2), &[0.9], 0.5, activation, head.clone());
            for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
                let report = check_case(&case, mode).unwrap();
                assert!(report.passed(), "{} {activation}: {report:?}", head.kind());
                assert_eq!(report.checked_steps(), [1]);
            }
        }
    }
}

/// A NaN or infinity anywhere fails the check and is located. With the identity activation
/// and `W_h = 10`, `a_t = h_t = 10^t` overflows at t = 309, and the sampled steps need not
/// include it.
#[test]
fn a_check_never_passes_on_infinity_and_names_the_step() {
    let xs = vec![0.0; 400];
    let case = scalar_case(
        (1.0, 10.0, 0.0),
        &xs,
        1.0,
        Activation::Identity,
        Head::SumLast,
    );
    let fwd = case.forward().unwrap();
    let a = |t: usize| fwd.internal(0, t)[(0, 0)];
    assert!(a(308).is_finite() && a(309).is_infinite());
    let at = NonFiniteAt {
        t: 309,
        quantity: "a",
        source: "forward",
    };
    for steps in [&[1, 400][..], &[309], &[]] {
        let report = check_steps(&case, &case.bptt().unwrap(), Mode::Exhaustive, steps).unwrap();
        assert_eq!(report.first_non_finite, Some(at), "{steps:?}");
        assert!(!report.passed(), "{steps:?}");
    }
    assert_eq!(
        at.to_string(),
        "a_309 in the forward pass is NaN or infinite (the first step to go non-finite)"
    );
    // tanh hides an overflow from every comparison: a_2 = 1e308 + 1e308 is infinite, but
    // h_2 = tanh(∞) = 1 and every gradient through it is exactly 0, finite differences
    // included. Without the scan for non-finite values this check would pass.
    let case = scalar_case(
        (1e308, 1e308, 0.0),
        &[1.0; 4],
        0.0,
        Activation::Tanh,
        Head::SumLast,
    );
    let report = check_case(&case, Mode::Exhaustive).unwrap();
    assert_eq!(report.first_failure(), None);
    assert_eq!(
        report.first_non_finite.map(|at| (at.t, at.quantity)),
        Some((2, "a"))
    );
    assert!(!report.passed());
    // A loss that overflows on finite states.
    let case = scalar_case(
        (1.0, 0.5, 0.0),
        &[0.5, 0.5],
        0.0,
        Activation::Tanh,
        Head::mse_last(Matrix::row_vector(&[1e200])),
    );
    let report = check_case(&case, Mode::Directional { seed: 0 }).unwrap();
    assert_eq!(
        report.first_non_finite,
        Some(NonFiniteAt {
            t: 2,
            quantity: "loss",
            source: "forward"
        })
    );
    assert!(!report.passed());
}

/// A NaN in the gradients under trial is found at its step, walking back from t = T.
#[test]
fn a_nan_in_the_hand_gradients_is_located() {
    let case = Case::<f64>::canonical();
    let mut hand = case.bptt().unwrap();
    hand.get_mut(2, "da").unwrap()[(0, 2)] = f64::NAN;
    let report = check_gradients(&case, &hand, Mode::Exhaustive).unwrap();
    assert!(!report.passed());
    let at = report.first_non_finite.unwrap();
    assert_eq!((at.t, at.quantity, at.source), (2, "da", "hand"));
    let fwd = case.forward().unwrap();
    let tape = case.tape_gradients().unwrap();
    let non_finite = first_non_finite(&case, &fwd, tape.loss, &[("tape", &tape)]);
    assert_eq!(non_finite, None);
}

/// Chosen steps only: the report holds those rows and the totals, in any order asked.
#[test]
fn check_steps_checks_the_chosen_steps_and_the_totals() {
    let case = Case::<f64>::random(
        5,
        Dims {
            batch: 2,
            steps: 6,
            features: 3,
            hidden: 4,
        },
        HeadKind::SoftmaxCe(3),
        Rnn::new(Activation::Tanh),
    );
    let hand = case.bptt().unwrap();
    let full = check_gradients(&case, &hand, Mode::Exhaustive).unwrap();
    let sample = check_steps(&case, &hand, Mode::Exhaustive, &[6, 1, 6]).unwrap();
    assert_eq!(sample.checked_steps(), [1, 6]);
    assert_eq!(full.checked_steps(), [1, 2, 3, 4, 5, 6]);
    assert!(sample.steps[1].is_empty() && sample.passed());
    assert_eq!(sample.totals.len(), full.totals.len());
    // Exhaustive mode draws nothing at random: a checked step's comparisons are the same.
    for t in [1, 6] {
        for ((q1, a), (q2, b)) in sample.steps[t - 1].iter().zip(&full.steps[t - 1]) {
            assert_eq!(q1, q2);
            assert_eq!(a.hand_tape, b.hand_tape);
        }
    }
    let totals = check_totals(&case, &hand, Mode::Exhaustive).unwrap();
    assert!(totals.checked_steps().is_empty() && totals.passed());
    let err = check_steps(&case, &hand, Mode::Exhaustive, &[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "steps to check: step 0 does not exist: steps are numbered 1 to 6"
    );
    assert!(check_steps(&case, &hand, Mode::Exhaustive, &[7]).is_err());
}

/// Gradients that vanish over thousands of steps pass through the subnormal floats, where
/// hand BPTT and the tape, both correct, differ in the first digit: the check must not call
/// that a failure (it measures differences there against the smallest normal float).
#[test]
fn gradients_vanishing_into_subnormal_floats_are_not_failures() {
    let (batch, steps, features, hidden) = (2, 3_000, 4, 16);
    // Seed 5: hand and tape differ by up to 10% of the value at the subnormal steps
    // (found by a search over seeds 0–5; three of the six showed it).
    let mut r = tapegrad::fd::rng(5);
    let params: Vec<Matrix<f64>> = vec![
        tapegrad::init::normal(&mut r, features, hidden, 1.0),
        tapegrad::init::normal(&mut r, hidden, hidden, 0.2),
        tapegrad::init::normal(&mut r, 1, hidden, 0.1),
    ];
    let x = (0..steps)
        .map(|_| tapegrad::init::normal(&mut r, batch, features, 1.0))
        .collect();
    let case = Case::new(Rnn::default(), params, x, vec![], Head::SumLast).unwrap();
    let hand = case.bptt().unwrap();
    let largest = |t: usize| {
        hand.dh(t)
            .as_slice()
            .iter()
            .fold(0.0, |m, v| v.abs().max(m))
    };
    let subnormal: Vec<usize> = (1..=steps)
        .filter(|&t| largest(t) > 0.0 && largest(t) < f64::MIN_POSITIVE)
        .collect();
    assert!(subnormal.len() > 10, "{subnormal:?}");
    let report = check_steps(&case, &hand, Mode::Directional { seed: 2 }, &subnormal).unwrap();
    assert!(report.passed(), "{:?}", report.first_failure());
}

/// A long sequence, T = 10 000 with H = 4, through both backward paths and a sampled check,
/// in the debug profile the tests run in. (`examples/long_sequence.rs` measures T = 100 000
/// in a release build, with timings and peak memory.)
#[test]
fn ten_thousand_steps_on_both_paths_and_a_sampled_check() {
    let dims = Dims {
        batch: 1,
        steps: 10_000,
        features: 2,
        hidden: 4,
    };
    let case = Case::<f64>::random(9, dims, HeadKind::MseAll, Rnn::new(Activation::Tanh));
    let start = Instant::now();
    let hand = case.bptt().unwrap();
    let tape = case.tape_gradients().unwrap();
    assert!(all_finite(&hand) && all_finite(&tape));
    let w_h = |g: &Gradients<f64>| g.total("w_h").unwrap().clone();
    assert!(relative_error(&w_h(&hand), &w_h(&tape)) <= 1e-12);
    assert!(relative_error(hand.dh(0), tape.dh(0)) <= 1e-12);
    let report = check_steps(
        &case,
        &hand,
        Mode::Directional { seed: 4 },
        &[1, 5_000, 10_000],
    )
    .unwrap();
    assert!(report.passed(), "{:?}", report.first_failure());
    assert_eq!(report.checked_steps(), [1, 5_000, 10_000]);
    // A generous bound that only a hang or a quadratic slip would break.
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}
