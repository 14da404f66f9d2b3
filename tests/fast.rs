//! The fast paths agree with the readable ones: `Matrix::matmul` (and its transposed forms) with
//! `Matrix::matmul_reference`, `fast::Bptt` and `fast::tape_totals` with `bptt::backward`.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::fast::{self, Bptt};
use tapegrad::fd::relative_error;
use tapegrad::gradients::Gradients;
use tapegrad::{Matrix, Scalar, Tape};

fn random<T: Scalar>(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix<T> {
    Matrix::from_fn(rows, cols, |_, _| T::from_f64(StandardNormal.sample(rng)))
}

fn products_agree<T: Scalar>(tol: f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // Shapes on both sides of the kernel threshold, with 1×1, 1×n and n×1 among them.
    let sizes = [1, 2, 5, 17, 64, 130];
    for &m in &sizes {
        for &k in &sizes {
            for &n in &sizes {
                let a = random::<T>(&mut rng, m, k);
                let b = random::<T>(&mut rng, k, n);
                let want = a.matmul_reference(&b).unwrap();
                let got = a.matmul(&b).unwrap();
                let rel = relative_error(&got, &want);
                assert!(rel <= tol, "matmul {m}×{k}·{k}×{n}: {rel:e}");
                let nt = a.matmul_nt(&b.transpose()).unwrap();
                assert!(
                    relative_error(&nt, &want) <= tol,
                    "matmul_nt {m}×{k}·{k}×{n}"
                );
                let tn = a.transpose().matmul_tn(&b).unwrap();
                assert!(
                    relative_error(&tn, &want) <= tol,
                    "matmul_tn {m}×{k}·{k}×{n}"
                );
            }
        }
    }
}

#[test]
fn matmul_agrees_with_the_reference_loop_in_f64_and_f32() {
    products_agree::<f64>(1e-12);
    products_agree::<f32>(1e-5);
}

#[test]
fn transposed_products_name_the_shapes_they_refuse() {
    let a = Matrix::<f64>::zeros(2, 3);
    let err = a.matmul_nt(&Matrix::zeros(4, 5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "matmul: shapes do not fit: left is 2×3, right is 5×4"
    );
    let err = a.matmul_tn(&Matrix::zeros(4, 5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "matmul: shapes do not fit: left is 3×2, right is 4×5"
    );
}

fn assert_close(what: &str, got: &Matrix<f64>, want: &Matrix<f64>) {
    let rel = relative_error(got, want);
    assert!(rel <= 1e-12, "{what}: relative error {rel:e}");
}

/// The training path's gradients (`dx` at every step, and every total) against the teaching
/// BPTT's.
fn assert_totals_match(label: &str, got: &Gradients<f64>, want: &Gradients<f64>) {
    let scale = want.loss.abs().max(1e-300);
    assert!(
        (got.loss - want.loss).abs() <= 1e-12 * scale,
        "{label}: loss {} vs {}",
        got.loss,
        want.loss
    );
    assert_eq!(
        got.steps.len(),
        want.steps.len(),
        "{label}: one dx per step"
    );
    for t in 1..=want.steps.len() {
        let (dx, want_dx) = (got.get(t, "dx").unwrap(), want.get(t, "dx").unwrap());
        assert_close(&format!("{label} dx[{t}]"), dx, want_dx);
    }
    let keys: Vec<&str> = got.totals.iter().map(|(k, _)| *k).collect();
    let want_keys: Vec<&str> = want.totals.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want_keys, "{label}: the same totals");
    for ((key, m), (_, m_want)) in got.totals.iter().zip(&want.totals) {
        assert_close(&format!("{label} d{key}"), m, m_want);
    }
}

fn cases() -> Vec<(String, Case<f64>)> {
    let shapes = [
        (1, 1, 1, 1),
        (1, 3, 2, 4),
        (3, 1, 2, 5),
        (4, 6, 3, 7),
        (8, 5, 16, 32),
        // More steps than the fast path sums at once, and not a multiple of them.
        (2, 19, 3, 5),
    ];
    let heads = HeadKind::all(3);
    let activations = Activation::ALL;
    let mut out = Vec::new();
    for (i, &(batch, steps, features, hidden)) in shapes.iter().enumerate() {
        for (j, &head) in heads.iter().enumerate() {
            for (k, &activation) in activations.iter().enumerate() {
                let dims = Dims {
                    batch,
                    steps,
                    features,
                    hidden,
                };
                let seed = (100 * i + 10 * j + k) as u64;
                let label =
                    format!("B{batch} T{steps} F{features} H{hidden} {head:?} {activation}");
                out.push((label, Case::random(seed, dims, head, Rnn::new(activation))));
            }
        }
    }
    out
}

#[test]
fn fast_hand_bptt_agrees_with_the_teaching_bptt() {
    for (label, case) in cases() {
        let want = case.bptt().unwrap();
        assert_totals_match(&label, &fast::bptt_totals(&case).unwrap(), &want);
    }
}

#[test]
fn the_fused_tape_agrees_with_the_teaching_bptt() {
    for (label, case) in cases() {
        let want = case.bptt().unwrap();
        assert_totals_match(&label, &fast::tape_totals(&case).unwrap(), &want);
    }
}

#[test]
fn the_fused_recording_computes_the_same_states_bit_for_bit() {
    for (label, case) in cases() {
        let fwd = case.forward().unwrap();
        let tape = Tape::new();
        let cells = case
            .cell
            .record_fused(&tape, &case.params, &case.x, case.h0())
            .unwrap();
        for (t, h) in cells.h.iter().enumerate() {
            assert_eq!(&h.value(), fwd.h(t), "{label}: h_{t}");
        }
    }
}

#[test]
fn a_workspace_is_reused_and_refuses_another_size() {
    let dims = Dims {
        batch: 4,
        steps: 6,
        features: 3,
        hidden: 20,
    };
    let mut work = Bptt::new(dims);
    let one = Case::<f64>::random(1, dims, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    let two = Case::<f64>::random(2, dims, HeadKind::MseAll, Rnn::new(Activation::Tanh));
    let three = Case::<f64>::random(3, dims, HeadKind::SoftmaxCe(3), Rnn::new(Activation::Tanh));
    let first = work.run(&one).unwrap().clone();
    let third = work.run(&three).unwrap().clone();
    let second = work.run(&two).unwrap().clone();
    assert_eq!(first, fast::bptt_totals(&one).unwrap());
    assert_eq!(second, fast::bptt_totals(&two).unwrap());
    assert_eq!(third, fast::bptt_totals(&three).unwrap());
    assert_eq!(work.run(&one).unwrap(), &first);
    let other = Case::<f64>::random(
        3,
        Dims { hidden: 21, ..dims },
        HeadKind::SumLast,
        Rnn::new(Activation::Tanh),
    );
    let err = work.run(&other).unwrap_err().to_string();
    assert!(err.contains("H=20") && err.contains("H=21"), "{err}");
}

#[test]
fn the_fused_tape_keeps_inputs_and_activations_only() {
    let dims = Dims {
        batch: 8,
        steps: 16,
        features: 8,
        hidden: 16,
    };
    let case = Case::<f64>::random(1, dims, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    let memory = fast::step_memory(&case).unwrap();
    assert_eq!(memory.activations, 8 * 16 * 8);
    assert_eq!(memory.fused_tape, (8 * 16 + 8 * 8) * 8);
    assert!(memory.fused_tape as f64 <= 1.5 * memory.activations as f64);
    assert!(memory.teaching_tape > 5 * memory.activations);
}

#[test]
fn f32_paths_agree_with_each_other() {
    let dims = Dims {
        batch: 8,
        steps: 12,
        features: 16,
        hidden: 32,
    };
    let case = Case::<f32>::random(5, dims, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    let want = case.bptt().unwrap();
    for got in [
        fast::bptt_totals(&case).unwrap(),
        fast::tape_totals(&case).unwrap(),
    ] {
        for key in ["w_h", "w_x", "h0"] {
            let err = relative_error(got.total(key).unwrap(), want.total(key).unwrap());
            assert!(err <= 1e-5, "{key}: {err:e}");
        }
        assert!(relative_error(got.get(1, "dx").unwrap(), want.get(1, "dx").unwrap()) <= 1e-5);
    }
}

#[test]
fn backward_in_place_is_the_derivative_entry_by_entry() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let dh = random::<f64>(&mut rng, 7, 45);
    let h = random::<f64>(&mut rng, 7, 45).map(f64::tanh);
    for phi in Activation::ALL {
        let mut da = Matrix::zeros(7, 45);
        phi.backward_in_place(dh.as_slice(), h.as_slice(), da.as_mut_slice());
        let want = dh
            .zip_map(&h, "test", |g, h| g * phi.derivative_from_output(h))
            .unwrap();
        assert_eq!(da, want, "{phi}");
    }
}

#[test]
fn large_activations_are_within_3_ulp_of_the_standard_functions() {
    // Blocks of at least kernel::VECTOR_MIN_LEN entries take the vectorized functions.
    let a: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) * 0.013).collect();
    for phi in [Activation::Tanh, Activation::Sigmoid] {
        let mut h = a.clone();
        phi.apply_in_place(&mut h);
        for (&a, &h) in a.iter().zip(&h) {
            let want = phi.apply(a);
            assert!(
                (h - want).abs() <= 3.0 * f64::EPSILON * want.abs(),
                "{phi}({a}) = {h}, standard {want}"
            );
        }
    }
}

/// The sweep used for speed gives the leaves' gradients of the plain teaching sweep: bit for
/// bit on the teaching recording (its ops add exactly as `vjp` then a sum), and to round-off
/// on the fused recording (the cell sums its weight products in place).
#[test]
fn the_leaves_sweep_agrees_with_the_plain_one() {
    let dims = Dims {
        batch: 3,
        steps: 12,
        features: 4,
        hidden: 6,
    };
    for head in [HeadKind::SoftmaxCe(3), HeadKind::MseAll] {
        let case = Case::<f64>::random(8, dims, head, Rnn::new(Activation::Tanh));
        let tape = Tape::new();
        let (rec, loss) = case.record(&tape).unwrap();
        let (plain, leaves) = (loss.loss.backward(), loss.loss.backward_leaves());
        let inputs = rec.x.iter().chain(&rec.params).chain(&rec.states[0]);
        for &v in inputs {
            assert_eq!(plain.wrt(v), leaves.wrt(v));
        }
        let tape = Tape::new();
        let cells = case
            .cell
            .record_fused(&tape, &case.params, &case.x, case.h0())
            .unwrap();
        let loss = case.head.on_tape(&cells.h).unwrap().loss;
        let (plain, leaves) = (loss.backward(), loss.backward_leaves());
        for &v in cells.x.iter().chain(&cells.params).chain([&cells.h[0]]) {
            assert!(relative_error(&plain.wrt(v), &leaves.wrt(v)) <= 1e-12);
        }
        // What it dropped is gone, not zero: `get` has nothing for a computed state.
        assert!(plain.get(cells.h[1].id()).is_some());
        assert!(leaves.get(cells.h[1].id()).is_none());
    }
}

/// Asking the leaves-only sweep for a computed node's gradient is a bug, not a zero.
#[test]
#[should_panic(expected = "keeps the leaves' only; use Var::backward to read it")]
fn the_leaves_sweep_refuses_to_answer_for_a_computed_node() {
    let tape = Tape::<f64>::new();
    let a = tape.var(Matrix::filled(1, 1, 2.0));
    let b = a.tanh();
    let loss = b.sum();
    let grads = loss.backward_leaves();
    assert!(grads.wrt(a)[(0, 0)] != 0.0);
    grads.wrt(b);
}
