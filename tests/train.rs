//! Training: optimizers and clipping against hand computations, reproducibility, hand BPTT
//! against the tape over whole training runs, the classifier, and the seed experiments (with
//! snapshots of their short runs).

use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::classifier::RnnClassifier;
use tapegrad::fd::{relative_error_of, rng};
use tapegrad::init::Init;
use tapegrad::matrix::Matrix;
use tapegrad::tape::Tape;
use tapegrad::trace::Writeup;
use tapegrad::train::{
    GradientSource, LearningRates, Optimizer, OptimizerState, TrainConfig, clip_global_norm,
    global_norm, parameters, sequences_to_steps, train,
};

// The seed experiments are the examples' own code.
#[allow(dead_code)]
#[path = "../examples/07-classifier.rs"]
mod classifier;
#[allow(dead_code)]
#[path = "../examples/09-counting.rs"]
mod counting;
#[allow(dead_code)]
#[path = "../examples/08-two-samples.rs"]
mod two_samples;
#[allow(dead_code)]
#[path = "../examples/06-vanishing-and-exploding.rs"]
mod vanishing_exploding;

fn row(v: &[f64]) -> Matrix<f64> {
    Matrix::row_vector(v)
}

// ---------------------------------------------------------------------------------------------
// Clipping and optimizers, against the formulas worked by hand.

#[test]
fn clipping_uses_one_norm_over_all_parameters() {
    // ‖(3, 4)‖ = 5, spread over two parameters.
    let mut g = vec![row(&[3.0]), row(&[4.0])];
    assert_eq!(global_norm(&g), 5.0);
    let before = clip_global_norm(&mut g, 1.0);
    assert_eq!(before, 5.0);
    // One global factor θ/‖g‖ = 1/5: the direction is kept. Per-parameter clipping would have
    // given (1, 1) instead.
    assert!((g[0][(0, 0)] - 0.6).abs() < 1e-15);
    assert!((g[1][(0, 0)] - 0.8).abs() < 1e-15);
    assert!((global_norm(&g) - 1.0).abs() < 1e-15);
}

#[test]
fn clipping_leaves_a_gradient_within_the_threshold_alone() {
    let original = vec![
        row(&[0.3, -0.4]),
        Matrix::from_rows(&[[0.0], [0.0]]).unwrap(),
    ];
    let mut g = original.clone();
    assert_eq!(clip_global_norm(&mut g, 0.5), 0.5);
    assert_eq!(g, original);
    assert_eq!(clip_global_norm(&mut g, 0.49), 0.5);
    assert_ne!(g, original);
}

#[test]
fn sgd_and_momentum_steps_match_the_hand_computation() {
    let (eta, beta) = (0.1, 0.9);
    let g0 = row(&[1.0, -2.0]);
    let g1 = row(&[0.5, 0.25]);

    let mut theta = row(&[1.0, 1.0]);
    let mut sgd = OptimizerState::new(Optimizer::Sgd);
    sgd.update(&mut [&mut theta], std::slice::from_ref(&g0), &[eta])
        .unwrap();
    assert_eq!(theta, row(&[1.0 - eta * 1.0, 1.0 - eta * -2.0]));

    // v₁ = g₀, θ₁ = θ₀ − η·v₁;  v₂ = β·v₁ + g₁, θ₂ = θ₁ − η·v₂.
    let mut theta = row(&[1.0, 1.0]);
    let mut momentum = OptimizerState::new(Optimizer::Momentum { beta });
    momentum
        .update(&mut [&mut theta], std::slice::from_ref(&g0), &[eta])
        .unwrap();
    momentum
        .update(&mut [&mut theta], std::slice::from_ref(&g1), &[eta])
        .unwrap();
    let expect = |i: usize| {
        let v1 = g0[(0, i)];
        let v2 = beta * v1 + g1[(0, i)];
        1.0 - eta * v1 - eta * v2
    };
    assert!(relative_error_of(theta.as_slice(), &[expect(0), expect(1)]) < 1e-15);
    assert_eq!(momentum.updates(), 2);
}

#[test]
fn adam_steps_match_the_hand_computation() {
    let (eta, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let grads = [row(&[0.5, -3.0]), row(&[-0.25, 1.0])];
    let mut theta = row(&[0.0, 2.0]);
    let mut adam = OptimizerState::new(Optimizer::adam());
    let (mut m, mut v, mut expect) = ([0.0; 2], [0.0; 2], [0.0, 2.0]);
    for (k, g) in grads.iter().enumerate() {
        adam.update(&mut [&mut theta], std::slice::from_ref(g), &[eta])
            .unwrap();
        let k = k as i32 + 1;
        for i in 0..2 {
            let gi = g[(0, i)];
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let m_hat = m[i] / (1.0 - b1.powi(k));
            let v_hat = v[i] / (1.0 - b2.powi(k));
            expect[i] -= eta * m_hat / (v_hat.sqrt() + eps);
        }
        assert!(relative_error_of(theta.as_slice(), &expect) < 1e-15);
    }
    // The first step has length η in every coordinate, whatever the gradient's size (as long
    // as it is far above ε: m̂/(√v̂ + ε) = g/(|g| + ε)).
    let mut theta = row(&[0.0, 0.0]);
    let mut fresh = OptimizerState::new(Optimizer::adam());
    fresh
        .update(&mut [&mut theta], &[row(&[1e-3, -1e3])], &[eta])
        .unwrap();
    assert!((theta[(0, 0)] + eta).abs() < 1e-4 * eta);
    assert!((theta[(0, 1)] - eta).abs() < 1e-10 * eta);
}

#[test]
fn every_optimizer_minimizes_a_quadratic() {
    // f(θ) = ½‖θ − c‖², ∇f = θ − c.
    let c = row(&[1.0, -2.0, 0.5]);
    for (optimizer, eta, steps) in [
        (Optimizer::Sgd, 0.1, 300),
        (Optimizer::momentum(), 0.05, 300),
        (Optimizer::adam(), 0.05, 2000),
    ] {
        let mut theta = row(&[0.0, 0.0, 0.0]);
        let mut state = OptimizerState::new(optimizer);
        for _ in 0..steps {
            let g = theta.sub(&c).unwrap();
            state.update(&mut [&mut theta], &[g], &[eta]).unwrap();
        }
        let err = theta.sub(&c).unwrap().max_abs();
        assert!(err < 1e-6, "{optimizer:?}: |θ − c| = {err}");
    }
}

#[test]
fn optimizer_refuses_mismatched_arguments() {
    let mut state = OptimizerState::new(Optimizer::Sgd);
    let mut theta = row(&[1.0, 2.0]);
    assert!(
        state
            .update(&mut [&mut theta], &[row(&[1.0])], &[0.1])
            .is_err()
    );
    assert!(state.update(&mut [&mut theta], &[], &[0.1]).is_err());
    assert!(
        state
            .update(&mut [&mut theta], &[row(&[1.0, 1.0])], &[])
            .is_err()
    );
}

#[test]
fn bad_settings_are_refused_by_name() {
    let mut case = Case::<f64>::canonical();
    let bad = [
        TrainConfig {
            rates: LearningRates::uniform(0.1).with("w_h", -0.1),
            ..TrainConfig::sgd(0.1, 1)
        },
        TrainConfig {
            clip: Some(0.0),
            ..TrainConfig::sgd(0.1, 1)
        },
        TrainConfig {
            batch_size: Some(0),
            ..TrainConfig::sgd(0.1, 1)
        },
        TrainConfig {
            optimizer: Optimizer::Momentum { beta: 1.0 },
            ..TrainConfig::sgd(0.1, 1)
        },
    ];
    for (config, word) in bad.iter().zip(["w_h", "clip", "batch_size", "β"]) {
        let err = train(&mut case, config).unwrap_err();
        assert!(err.to_string().contains(word), "{err}");
    }
    assert_eq!(case, Case::canonical(), "a refused run changes nothing");
}

// ---------------------------------------------------------------------------------------------
// Training runs.

/// Every option at once: mini-batches, shuffling, clipping, Adam.
fn busy_config(epochs: usize, gradients: GradientSource) -> TrainConfig {
    TrainConfig {
        epochs,
        rates: LearningRates::uniform(0.02),
        optimizer: Optimizer::adam(),
        clip: Some(0.5),
        batch_size: Some(3),
        shuffle_seed: Some(11),
        gradients,
    }
}

fn random_case(seed: u64, head: HeadKind) -> Case<f64> {
    let dims = Dims {
        batch: 8,
        steps: 4,
        features: 3,
        hidden: 5,
    };
    Case::random(seed, dims, head, Rnn::new(Activation::Tanh))
}

#[test]
fn a_seed_fixes_the_whole_run_bit_for_bit() {
    let run = || {
        let mut r = rng(5);
        let (x, y) = tapegrad::classifier::sum_sign_data(&mut r, 64);
        let mut model = RnnClassifier::new(3, 6, 2, Init::Xavier, &mut r).unwrap();
        let history = model
            .fit(&x, &y, &busy_config(4, GradientSource::Bptt))
            .unwrap();
        (model, history)
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a.1.losses.len(), 4);
    assert_eq!(
        a.1.grad_norms.len(),
        4 * 22,
        "64 sequences in batches of 3: 22 updates"
    );
}

#[test]
fn hand_bptt_and_the_tape_train_identically() {
    // Both backward passes do the same floating-point operations in the same order (the
    // tape's VJPs are the hand equations; adjoints add up in reverse step order as the hand
    // loop sums its steps), so the gradients, and with them every update and every weight of
    // a whole training run, agree bit for bit, and so do the recorded losses.
    for head in [
        HeadKind::SoftmaxCe(3),
        HeadKind::MseAll,
        HeadKind::MseLast,
        HeadKind::SumLast,
    ] {
        let mut by_hand = random_case(21, head);
        let mut by_tape = by_hand.clone();
        let h1 = train(&mut by_hand, &busy_config(5, GradientSource::Bptt)).unwrap();
        let h2 = train(&mut by_tape, &busy_config(5, GradientSource::Tape)).unwrap();
        assert_eq!(by_hand, by_tape, "{head:?}");
        assert_eq!(h1.grad_norms, h2.grad_norms, "{head:?}");
        assert_eq!(h1.clipped, h2.clipped, "{head:?}");
        assert_eq!(h1.losses, h2.losses, "{head:?}");
        assert_ne!(
            by_hand,
            random_case(21, head),
            "{head:?}: training changed nothing"
        );
    }
}

#[test]
fn a_mini_batch_epoch_is_a_sequence_of_single_updates() {
    let case = random_case(3, HeadKind::MseAll);
    let mut batched = case.clone();
    let config = TrainConfig {
        batch_size: Some(2),
        ..TrainConfig::sgd(0.05, 1)
    };
    let history = train(&mut batched, &config).unwrap();
    assert_eq!(history.grad_norms.len(), 4);

    // The same epoch, slicing the rows by hand: rows 0-1, 2-3, 4-5, 6-7 in turn.
    let mut params = case.params.clone();
    let mut loss_sum = 0.0;
    for start in (0..8).step_by(2) {
        let rows = |m: &Matrix<f64>| Matrix::from_fn(2, m.cols(), |i, j| m[(start + i, j)]);
        let head = match &case.head {
            tapegrad::loss::Head::MseAll { targets, .. } => {
                tapegrad::loss::Head::mse_all(targets.iter().map(rows).collect())
            }
            other => panic!("expected mse_all, found {other:?}"),
        };
        let small = Case::new(
            case.cell,
            params.clone(),
            case.x.iter().map(rows).collect(),
            vec![Some(rows(case.h0()))],
            head,
        )
        .unwrap();
        let g = small.bptt().unwrap();
        loss_sum += g.loss;
        for (p, key) in params.iter_mut().zip(["w_x", "w_h", "b"]) {
            *p = p.sub(&g.total(key).unwrap().scale(0.05)).unwrap();
        }
    }
    assert_eq!(batched.params, params);
    // mse_all sums over the batch: the epoch's loss is the sum of the batches' losses.
    assert!((history.losses[0] - loss_sum).abs() < 1e-12);
}

#[test]
fn full_batch_sgd_follows_the_gradient_and_lowers_the_loss() {
    let mut case = random_case(8, HeadKind::SoftmaxCe(2));
    let start = case.clone();
    let history = train(&mut case, &TrainConfig::sgd(0.1, 30)).unwrap();
    // Epoch 1 reports the loss before any update, and the first update is θ − η·g.
    let g = start.bptt().unwrap();
    assert_eq!(history.losses[0], g.loss);
    let mut one = start.clone();
    train(&mut one, &TrainConfig::sgd(0.1, 1)).unwrap();
    let stepped = start.param("w_h").sub(&g.total("w_h").unwrap().scale(0.1));
    assert_eq!(one.param("w_h"), &stepped.unwrap());
    // A small step on a smooth loss: every epoch lower than the one before.
    assert!(
        history.losses.windows(2).all(|w| w[1] < w[0]),
        "{:?}",
        history.losses
    );
    assert_eq!(history.clipped, 0);
    assert_eq!(parameters(&case).len(), 5, "W_x, W_h, b, W_out, b_out");
}

#[test]
fn clipping_counts_the_updates_it_shortened() {
    let mut case = random_case(9, HeadKind::MseLast);
    let config = TrainConfig {
        clip: Some(1e-3),
        ..TrainConfig::sgd(0.01, 3)
    };
    let history = train(&mut case, &config).unwrap();
    assert_eq!(history.clipped, 3);
    assert!(history.grad_norms.iter().all(|&n| n > 1e-3));
}

#[test]
fn a_diverging_run_stops_and_says_when() {
    let mut case = counting::case(0.2, 1.5).unwrap();
    let config = TrainConfig {
        rates: counting::rates(5.0, 5.0),
        ..TrainConfig::sgd(0.0, 100)
    };
    let history = train(&mut case, &config).unwrap();
    let at = history.diverged_at.expect("η = 5 diverges");
    assert_eq!(history.losses.len(), at);
    assert!(!history.last_loss().is_finite());
    assert!(history.losses[..at - 1].iter().all(|l| l.is_finite()));
}

#[test]
fn sequences_convert_from_numpy_layout() {
    let x = sequences_to_steps(&[
        vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]],
        vec![vec![7.0, 8.0], vec![9.0, 10.0], vec![11.0, 12.0]],
    ])
    .unwrap();
    assert_eq!(x.len(), 3);
    assert_eq!(x[1], Matrix::from_rows(&[[3.0, 4.0], [9.0, 10.0]]).unwrap());
    let ragged = sequences_to_steps(&[vec![vec![1.0]], vec![vec![1.0, 2.0]]]).unwrap_err();
    assert!(ragged.to_string().contains("sequences[1]"), "{ragged}");
    assert!(sequences_to_steps(&[]).is_err());
}

// ---------------------------------------------------------------------------------------------
// The classifier.

#[test]
fn classifier_predicts_the_argmax_of_its_logits() {
    let mut r = rng(2);
    let (x, y) = tapegrad::classifier::sum_sign_data(&mut r, 10);
    let model = RnnClassifier::new(3, 4, 2, Init::Xavier, &mut r).unwrap();
    let z = model.logits(&x).unwrap();
    let p = model.predict_proba(&x).unwrap();
    let predictions = model.predict(&x).unwrap();
    for (i, &k) in predictions.iter().enumerate() {
        assert!(z[(i, k)] >= z[(i, 1 - k)]);
        assert!((p.row(i).iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }
    let right = predictions.iter().zip(&y).filter(|(a, b)| a == b).count();
    assert_eq!(model.accuracy(&x, &y).unwrap(), right as f64 / 10.0);
    assert!(model.accuracy(&x, &y[..3]).is_err());
    let unfitted = model.clone();
    let err = model
        .clone()
        .fit(&x, &[0, 1], &TrainConfig::sgd(0.1, 1))
        .unwrap_err();
    assert!(err.to_string().contains("labels"), "{err}");
    assert_eq!(model, unfitted);
}

#[test]
fn classifier_generalizes_on_held_out_sequences() {
    // The example's defaults; the notebook's recipe (section 1) is left out to save time.
    let settings = classifier::Settings {
        notebook_seeds: 0,
        ..classifier::Settings::default()
    };
    let report = classifier::run(&settings).unwrap();
    let heldout = report.value("heldout_accuracy").unwrap();
    assert!(heldout >= 0.95, "held-out accuracy {heldout}");
    assert!(report.value("train_accuracy").unwrap() >= 0.95);
}

// ---------------------------------------------------------------------------------------------
// The seed experiments.

#[test]
fn counting_converges_to_one_and_one() {
    let run = counting::train_linear(counting::RATES, 15_000, 1000).unwrap();
    let wx = run.case.param("w_x")[(0, 0)];
    let wrec = run.case.param("w_h")[(0, 0)];
    assert!(
        (wx - 1.0).abs() <= 1e-3 && (wrec - 1.0).abs() <= 1e-3,
        "{wx} {wrec}"
    );
    let within = run.within.expect("reached");
    assert!(within <= 15_000);
    // Within means within from then on: one epoch before, it was not.
    let before = counting::train_linear(counting::RATES, within - 1, 1000).unwrap();
    let (bx, brec) = (
        before.case.param("w_x")[(0, 0)],
        before.case.param("w_h")[(0, 0)],
    );
    assert!((bx - 1.0).abs() > 1e-3 || (brec - 1.0).abs() > 1e-3);
    assert!(run.costs.windows(2).all(|w| w[1] < w[0]), "{:?}", run.costs);
}

#[test]
fn sigmoid_variant_gradients_match_finite_differences() {
    let (x, y) = counting::data().unwrap();
    let cost = |wx: f64, wr: f64| {
        let tape = Tape::new();
        let (_, l) =
            counting::sigmoid_variant(tape.var(row(&[wx])), tape.var(row(&[wr])), &x, &y).unwrap();
        l.value()[(0, 0)]
    };
    let (wx, wr) = (0.7, -0.4);
    let tape = Tape::new();
    let (vx, vr) = (tape.var(row(&[wx])), tape.var(row(&[wr])));
    let (h3, l) = counting::sigmoid_variant(vx, vr, &x, &y).unwrap();
    let g = l.backward();
    let eps = 1e-6;
    let fd_x = (cost(wx + eps, wr) - cost(wx - eps, wr)) / (2.0 * eps);
    let fd_r = (cost(wx, wr + eps) - cost(wx, wr - eps)) / (2.0 * eps);
    assert!((g.wrt(vx)[(0, 0)] - fd_x).abs() < 1e-7 * fd_x.abs().max(1.0));
    assert!((g.wrt(vr)[(0, 0)] - fd_r).abs() < 1e-7 * fd_r.abs().max(1.0));
    // The last step is linear: h_3 = x_3·w_x + σ(a_2)·w_rec.
    let s = |a: f64| 1.0 / (1.0 + (-a).exp());
    let h1 = s(x[0][(2, 0)] * wx);
    let h2 = s(x[1][(2, 0)] * wx + h1 * wr);
    assert!((h3.value()[(2, 0)] - (x[2][(2, 0)] * wx + h2 * wr)).abs() < 1e-15);
}

#[test]
fn power_iteration_finds_the_largest_singular_value() {
    // [[1, 2], [3, 4]]: σ_max = √((30 + √884)/2) from the eigenvalues of AᵀA.
    let a = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]]).unwrap();
    let expect = ((30.0 + 884f64.sqrt()) / 2.0).sqrt();
    let got = tapegrad::spectral::largest_singular_value(&a).unwrap();
    assert!((got - expect).abs() < 1e-12, "{got} vs {expect}");
    let w = vanishing_exploding::recurrent_weights(vanishing_exploding::Shape::Symmetric, 3, 0.7)
        .unwrap();
    assert!((tapegrad::spectral::largest_singular_value(&w).unwrap() - 0.7).abs() < 1e-12);
    assert!(tapegrad::spectral::largest_singular_value(&Matrix::zeros(0, 0)).is_err());
}

#[test]
fn gradients_shrink_below_one_over_gamma_as_the_bound_says() {
    for (activation, s) in [(Activation::Tanh, 0.9), (Activation::Sigmoid, 3.6)] {
        let w_h =
            vanishing_exploding::recurrent_weights(vanishing_exploding::Shape::Gaussian, 4, s)
                .unwrap();
        let g = vanishing_exploding::probe(activation, w_h, 12, 1.0)
            .unwrap()
            .bptt()
            .unwrap();
        let rate = activation.max_slope() * s;
        for t in 1..12 {
            assert!(
                g.dh(t).norm() <= rate * g.dh(t + 1).norm() * (1.0 + 1e-12),
                "{activation} t={t}"
            );
        }
    }
}

#[test]
fn reports_end_in_one_parsable_summary_line() {
    let report = two_samples::run(20, 20).unwrap();
    let text = report.to_string();
    let last = text.lines().last().unwrap();
    assert_eq!(text.matches("summary:").count(), 1);
    let pairs: Vec<(&str, f64)> = last
        .strip_prefix("summary: ")
        .unwrap()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse::<f64>().unwrap())
        })
        .collect();
    assert_eq!(pairs.len(), report.summary.len());
    for ((k, v), (key, value)) in pairs.iter().zip(&report.summary) {
        assert_eq!(k, key);
        assert!((v - value).abs() <= 1e-8 * value.abs().max(1.0));
    }
    // The notebook's loss sits at ln 2; the chosen change leaves it.
    assert!((report.value("stuck_loss").unwrap() - 2f64.ln()).abs() < 1e-4);
    assert!(report.value("fixed_loss").unwrap() < 0.2);
}

// ---------------------------------------------------------------------------------------------
// Snapshots of short runs of the examples (read line by line before committing).

#[test]
fn snapshot_classifier_short_run() {
    let report = classifier::run(&classifier::Settings::quick()).unwrap();
    insta::assert_snapshot!("classifier_short", report.to_string());
}

#[test]
fn snapshot_two_samples() {
    insta::assert_snapshot!(
        "two_samples",
        two_samples::run(20, 100).unwrap().to_string()
    );
}

#[test]
fn snapshot_counting_short_run() {
    insta::assert_snapshot!(
        "counting_short",
        counting::run(2000, 1000).unwrap().to_string()
    );
}

#[test]
fn snapshot_vanishing_exploding_short_run() {
    let report = vanishing_exploding::run(8).unwrap();
    insta::assert_snapshot!("vanishing_exploding_short", report.to_string());
}

#[test]
fn summary_values_print_like_numpy_scalars() {
    let report = Writeup {
        text: String::new(),
        summary: vec![("a", 0.5), ("b", 1.5e-9)],
    };
    assert_eq!(report.to_string(), "summary: a=0.5 b=1.5e-09\n");
}

#[test]
fn optimizer_keeps_its_moments_by_position() {
    let mut state = OptimizerState::new(Optimizer::adam());
    let (mut a, mut b) = (row(&[1.0]), row(&[1.0, 2.0]));
    let (ga, gb) = (row(&[0.1]), row(&[0.1, 0.2]));
    state
        .update(
            &mut [&mut a, &mut b],
            &[ga.clone(), gb.clone()],
            &[0.1, 0.1],
        )
        .unwrap();
    // Fewer parameters, or the same ones swapped, no longer match the moments.
    assert!(
        state
            .update(&mut [&mut a], std::slice::from_ref(&ga), &[0.1])
            .is_err()
    );
    assert!(
        state
            .update(&mut [&mut b, &mut a], &[gb, ga], &[0.1, 0.1])
            .is_err()
    );
    assert_eq!(state.updates(), 1, "a refused update does not count");
}

/// A learning rate named for a parameter the case does not have is refused by name, not
/// silently left out.
#[test]
fn a_rate_for_a_parameter_the_case_lacks_is_refused() {
    let mut case = Case::<f64>::canonical();
    let config = TrainConfig {
        rates: LearningRates::uniform(0.1).with("w_hh", 0.0),
        ..TrainConfig::sgd(0.1, 1)
    };
    let err = train(&mut case, &config).unwrap_err().to_string();
    assert!(err.contains("w_hh") && err.contains("w_x, w_h, b"), "{err}");
}

/// A classifier of any cell: `with_cell` on the RNN draws what `new` draws, and an LSTM and a
/// GRU classifier train (their loss falls) on the sum-sign task.
#[test]
fn a_classifier_takes_any_cell() {
    use tapegrad::cells::{Gru, Lstm};
    use tapegrad::classifier::Classifier;
    let new = RnnClassifier::new(3, 4, 2, Init::Xavier, &mut rng(1)).unwrap();
    let with = Classifier::with_cell(Rnn::default(), 3, 4, 2, Init::Xavier, &mut rng(1));
    assert_eq!(with.unwrap(), new);
    let (x, y) = tapegrad::classifier::sum_sign_data(&mut rng(2), 32);
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        ..TrainConfig::sgd(0.02, 30)
    };
    let mut lstm =
        Classifier::with_cell(Lstm::default(), 3, 4, 2, Init::Xavier, &mut rng(3)).unwrap();
    let history = lstm.fit(&x, &y, &config).unwrap();
    assert!(
        history.last_loss() < 0.8 * history.losses[0],
        "{:?}",
        history.losses
    );
    assert_eq!(lstm.params[0].shape(), (3, 16));
    let mut gru =
        Classifier::with_cell(Gru::default(), 3, 4, 2, Init::Xavier, &mut rng(3)).unwrap();
    let history = gru.fit(&x, &y, &config).unwrap();
    assert!(
        history.last_loss() < 0.8 * history.losses[0],
        "{:?}",
        history.losses
    );
    assert!(gru.accuracy(&x, &y).unwrap() > 0.5);
}

/// Chapter 6's committed figure is what the example draws now: three loss curves of 30 epochs.
#[test]
fn the_committed_loss_figure_is_up_to_date() {
    let path = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), classifier::LOSS_FIGURE);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let drawn = classifier::loss_figure().unwrap();
    assert!(
        committed == drawn,
        "{path} is out of date: cargo run --example 07-classifier -- --figures"
    );
    // Three runs of 30 epochs: three lines of 30 points each.
    let lines: Vec<&str> = drawn
        .lines()
        .filter(|l| l.starts_with("<polyline"))
        .collect();
    assert_eq!(lines.len(), 3);
    for line in lines {
        assert_eq!(line.matches(',').count(), 30, "{line}");
    }
}
