//! Forward mode (dual numbers through the cell's own forward code) against hand BPTT and the
//! tape: every per-step quantity and every total, on the cases where finite differences are
//! weakest too.

use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::fd::{rng, worst_relative_error};
use tapegrad::forward::forward_gradients;
use tapegrad::loss::Head;
use tapegrad::matrix::Matrix;
use tapegrad::scalar::Scalar;
use tapegrad::spectral::orthogonal;

/// Every head, activation and a few shapes: forward mode gives hand BPTT's numbers to
/// round-off, and the tape's.
#[test]
fn forward_mode_agrees_with_both_backward_passes_everywhere() {
    let heads = HeadKind::all(3);
    let activations = Activation::ALL;
    let mut seed = 0;
    for head in heads {
        for activation in activations {
            for (batch, steps) in [(1, 1), (3, 4), (2, 9)] {
                seed += 1;
                let dims = Dims {
                    batch,
                    steps,
                    features: 3,
                    hidden: 4,
                };
                let case = Case::<f64>::random(seed, dims, head, Rnn::new(activation));
                let forward = forward_gradients(&case).unwrap();
                let (hand, tape) = (case.bptt().unwrap(), case.tape_gradients().unwrap());
                assert_eq!(forward.loss, hand.loss);
                for (other, name) in [(&hand, "hand"), (&tape, "tape")] {
                    let (err, at) = worst_relative_error(&forward, other);
                    assert!(
                        err <= 1e-12,
                        "{head:?} {activation} B={batch} T={steps}: forward vs {name} {err:e} at {at}"
                    );
                }
            }
        }
    }
}

/// In f32 too: the dual numbers carry f32 values and tangents.
#[test]
fn forward_mode_in_f32() {
    let dims = Dims {
        batch: 2,
        steps: 5,
        features: 3,
        hidden: 4,
    };
    let case = Case::<f32>::random(3, dims, HeadKind::SoftmaxCe(3), Rnn::new(Activation::Tanh));
    let (err, at) = worst_relative_error(&forward_gradients(&case).unwrap(), &case.bptt().unwrap());
    assert!(err <= 1e-5, "{err:e} at {at}");
}

/// The regime where one fixed finite-difference step fails correct gradients: a tanh RNN in its
/// linear regime (inputs of 1e-9) with `W_h = 1.5·Q` (`Q` orthogonal), 40 steps, so that the
/// gradients of the early steps grow as `1.5^(T−t)`, to about 1e7, and a step `ε` at them
/// moves the last states by `ε·1e7`, out of the linear regime. Forward mode, with no step,
/// matches hand BPTT at every step.
#[test]
fn forward_mode_is_exact_where_gradients_explode() {
    let (steps, hidden, features) = (40, 6, 2);
    let mut r = rng(8);
    let w_h = orthogonal(hidden, &mut r).scale(1.5);
    let w_x = tapegrad::init::normal(&mut r, features, hidden, 0.1);
    let x: Vec<Matrix<f64>> = (0..steps)
        .map(|_| tapegrad::init::normal(&mut r, 1, features, 1e-9))
        .collect();
    let params = vec![w_x, w_h, Matrix::zeros(1, hidden)];
    let case = Case::new(Rnn::default(), params, x, vec![], Head::SumLast).unwrap();
    let hand = case.bptt().unwrap();
    let largest = hand.dh(1).max_abs();
    assert!(
        largest > 1e6,
        "the gradients explode: ‖dh_1‖∞ = {largest:e}"
    );
    let (err, at) = worst_relative_error(&forward_gradients(&case).unwrap(), &hand);
    assert!(err <= 1e-10, "forward vs hand {err:e} at {at}");
    // Central differences at one fixed step of 6e-6 were off by 99% in h_0 here; each entry's
    // own sweep walks down to steps small enough (4.8e-5 at worst, in dW_x at t = 40, where the
    // inputs are 1e-9).
    let (fd_err, fd_at) =
        worst_relative_error(&tapegrad::check::fd_gradients(&case).unwrap(), &hand);
    assert!(
        fd_err <= 1e-4,
        "central differences off by {fd_err:.1e} at {fd_at}"
    );
}

/// The check's forward columns in every regime, in f64 and f32: vanishing (weights × 0.3),
/// saturated tanh and σ (× 12), exploding identity (× 2.5). Hand BPTT, the tape and forward
/// mode agree pair by pair at every step: where saturation makes `φ'` round to 0 in one method
/// and not another, within the round-off of the terms, and nowhere more.
#[test]
fn forward_columns_pass_in_every_regime_and_precision() {
    use tapegrad::check::{Mode, check_case};
    use tapegrad::fd::Verdict;
    fn exact_pairs_agree<T: Scalar>(case: &Case<T, Rnn>, name: &str) {
        let report = check_case(case, Mode::Directional { seed: 1 }).unwrap();
        let every = report
            .steps
            .iter()
            .flatten()
            .map(|(q, c)| (q.to_string(), c));
        let every = every.chain(report.totals.iter().map(|(t, c)| (t.key.to_string(), c)));
        for (q, c) in every {
            for (pair, v) in [
                ("hand–tape", c.hand_tape),
                ("hand–forward", c.hand_forward),
                ("tape–forward", c.tape_forward),
            ] {
                assert_eq!(
                    v.verdict,
                    Verdict::Ok,
                    "{name} {}: {q} {pair} {v:?}",
                    T::NAME
                );
            }
        }
        assert!(report.passed(), "{name} {}", T::NAME);
    }
    let dims = Dims {
        batch: 4,
        steps: 12,
        features: 3,
        hidden: 6,
    };
    let regimes = [
        ("vanishing", Activation::Tanh, 0.3),
        ("saturated tanh", Activation::Tanh, 12.0),
        ("saturated sigmoid", Activation::Sigmoid, 12.0),
        ("exploding", Activation::Identity, 2.5),
    ];
    for (name, activation, scale) in regimes {
        let mut case = Case::<f64>::random(5, dims, HeadKind::SoftmaxCe(3), Rnn::new(activation));
        for p in &mut case.params {
            *p = p.scale(scale);
        }
        exact_pairs_agree(&case, name);
        exact_pairs_agree(&case.cast::<f32>(), name);
    }
}
