//! The RNN, hand BPTT and the tape, on the canonical example and on seeded random cases.

use approx::assert_abs_diff_eq;
use tapegrad::Matrix;
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::check::{Mode, check_case, check_gradients};
use tapegrad::fd::{Verdict, relative_error};
use tapegrad::gradients::Gradients;

fn row(v: &[f64]) -> Matrix<f64> {
    Matrix::row_vector(v)
}

#[test]
fn canonical_forward_reproduces_the_seed_trace() {
    // Printed by the seed 001 notebook (numpy rounds to 8 decimals).
    let a = [
        row(&[1.0007, 1.0013, 1.0019, 1.0023]),
        row(&[1.07733574, 1.13931527, 1.20129481, 1.25535044]),
        row(&[1.08471832, 1.15192269, 1.21912707, 1.27759095]),
    ];
    let h = [
        row(&[0.76188798, 0.76213958, 0.76239095, 0.76255841]),
        row(&[0.792209, 0.8141834, 0.83404912, 0.84977719]),
        row(&[0.79494228, 0.81839002, 0.83939649, 0.85584174]),
    ];
    let fwd = Case::<f64>::canonical().forward().unwrap();
    for t in 1..=3 {
        assert_abs_diff_eq!(fwd.internal(0, t), &a[t - 1], epsilon = 1e-8);
        assert_abs_diff_eq!(fwd.h(t), &h[t - 1], epsilon = 1e-8);
    }
    assert_eq!(
        fwd.h(3).to_string(),
        "[[0.79494228 0.81839002 0.83939649 0.85584174]]"
    );
}

fn sums_match(g: &Gradients<f64>) {
    for (step_key, total_key) in [("dw_x", "w_x"), ("dw_h", "w_h"), ("db", "b")] {
        let mut total = g.get(1, step_key).unwrap().clone();
        for t in 2..=g.steps.len() {
            total.add_assign(g.get(t, step_key).unwrap()).unwrap();
        }
        let err = relative_error(&total, g.total(total_key).unwrap());
        assert!(err <= 1e-12, "Σ_t {step_key}[t] vs {total_key}: {err:e}");
    }
}

/// Every head × activation, T from 1 to 20, batch 1 to 4: hand vs tape to round-off, both vs
/// exhaustive finite differences, and per-step contributions summing to the totals.
#[test]
fn random_cases_agree_three_ways_at_every_step() {
    let heads = HeadKind::all(3);
    let activations = Activation::ALL;
    let (mut ok, mut below, mut seed) = (0, 0, 0);
    for head in heads {
        for activation in activations {
            for (steps, batch) in [(1, 1), (2, 3), (7, 4), (20, 2)] {
                seed += 1;
                let dims = Dims {
                    batch,
                    steps,
                    features: 3,
                    hidden: 4,
                };
                let case = Case::<f64>::random(seed, dims, head, Rnn::new(activation));
                let report = check_case(&case, Mode::Exhaustive).unwrap();
                let label = format!("{head:?} {activation} T={steps} B={batch}");
                for (t, row) in report.steps.iter().enumerate() {
                    for (q, c) in row {
                        let at = format!("{label}: t={} {q}", t + 1);
                        assert!(
                            c.hand_tape.rel <= 1e-12,
                            "{at}: hand vs tape {:e}",
                            c.hand_tape.rel
                        );
                        assert_ne!(
                            c.hand_fd.verdict,
                            Verdict::Fail,
                            "{at}: hand vs fd {:e}",
                            c.hand_fd.rel
                        );
                        assert_ne!(
                            c.tape_fd.verdict,
                            Verdict::Fail,
                            "{at}: tape vs fd {:e}",
                            c.tape_fd.rel
                        );
                        match c.hand_fd.verdict {
                            Verdict::Ok => ok += 1,
                            // Below resolution only where the gradient itself is tiny: an error
                            // within a floor of ~1e-9 is > 1e-6 relative only below ~1e-3.
                            _ => {
                                let scale = c.hand_fd.abs / c.hand_fd.rel;
                                assert!(scale < 1e-3, "{at}: excused at magnitude {scale:e}");
                                below += 1;
                            }
                        }
                    }
                }
                assert!(report.passed(), "{label}");
                sums_match(&case.bptt().unwrap());
                sums_match(&case.tape_gradients().unwrap());
            }
        }
    }
    // The rest are below resolution: gradients that vanished to below 1e-3 through many
    // sigmoid or tanh steps, which central differences cannot resolve to 1e-6 (asserted above:
    // a gradient larger than that is either ok or a FAIL, never excused).
    eprintln!("{ok} quantities confirmed by finite differences, {below} below resolution");
    assert!(
        ok >= 4 * below,
        "only {ok} quantities confirmed by finite differences against {below} below resolution"
    );
}

/// A hand BPTT with a planted mistake: `dW_h[t] = h_tᵀ·da_t` instead of `h_(t-1)ᵀ·da_t`.
/// The error enters at `t = T` in `dw_h`, and nothing before it in the walk is wrong.
#[test]
fn a_planted_mistake_is_flagged_where_it_enters() {
    let dims = Dims {
        batch: 2,
        steps: 5,
        features: 3,
        hidden: 4,
    };
    let case = Case::<f64>::random(42, dims, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    let fwd = case.forward().unwrap();
    let mut buggy = case.bptt().unwrap();
    for t in 1..=5 {
        let wrong = fwd
            .h(t)
            .transpose()
            .matmul(buggy.get(t, "da").unwrap())
            .unwrap();
        *buggy.get_mut(t, "dw_h").unwrap() = wrong;
    }
    let report = check_gradients(&case, &buggy, Mode::Exhaustive).unwrap();
    assert!(!report.passed());
    assert_eq!(report.first_failure(), Some((5, "dw_h")));

    // Corrupt only step 2's da (a typo at one step): found at t = 2, da, not before.
    let mut typo = case.bptt().unwrap();
    typo.get_mut(2, "da").unwrap()[(0, 1)] += 1e-3;
    let report = check_gradients(&case, &typo, Mode::Directional { seed: 3 }).unwrap();
    assert_eq!(report.first_failure(), Some((2, "da")));
}

#[test]
fn nan_never_passes() {
    let case = Case::<f64>::canonical();
    let mut g = case.bptt().unwrap();
    g.get_mut(3, "dh").unwrap()[(0, 0)] = f64::NAN;
    let report = check_gradients(&case, &g, Mode::Exhaustive).unwrap();
    assert!(!report.passed());
    assert_eq!(report.first_failure(), Some((3, "dh")));
}

#[test]
fn gradients_without_the_head_parameters_fail_a_softmax_check() {
    let dims = Dims {
        batch: 2,
        steps: 3,
        features: 2,
        hidden: 3,
    };
    let case = Case::<f64>::random(5, dims, HeadKind::SoftmaxCe(3), Rnn::new(Activation::Tanh));
    let mut g = case.bptt().unwrap();
    g.totals
        .retain(|(key, _)| !["w_out", "b_out"].contains(key));
    let report = check_gradients(&case, &g, Mode::Exhaustive).unwrap();
    assert!(!report.passed());
    assert_eq!(
        report.first_failure(),
        None,
        "every per-step quantity is right"
    );
    assert_eq!(
        relative_error(&Matrix::<f64>::zeros(2, 3), &Matrix::zeros(3, 2)),
        f64::INFINITY
    );
}
