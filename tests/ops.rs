//! Every op's vector-Jacobian product against central finite differences, on random shapes
//! (including 1×1, 1×n and n×1) and random values from a seeded ChaCha8 stream, in f64 and f32.
//!
//! The test function for an op `Y = f(A, …)` is `L = Σ Y ⊙ W` with a fixed random `W`, so the
//! adjoint `Ȳ = W` that reaches the op is not all ones and every entry of the VJP is exercised.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::rc::Rc;
use tapegrad::activation::Activation;
use tapegrad::cells::rnn::RnnStep;
use tapegrad::cells::{Gru, Lstm};
use tapegrad::fd::{Verdict, default_step, fd_gradient, relative_error, resolution, rng};
use tapegrad::gated::Step;
use tapegrad::{Matrix, Result, Scalar, Tape, Var};

/// The RNN cell's fused step `H = φ(X·W_x + H_prev·W_h + b)` recorded on `[X, H_prev, W_x, W_h,
/// b]`.
fn rnn_step<'t, T: Scalar>(v: &[Var<'t, T>], phi: Activation) -> Result<Var<'t, T>> {
    let op = RnnStep::new(phi, &v[2].value(), &v[3].value(), v[0].shape().0);
    v[0].fused(Rc::new(op), v)
}

/// f64: the bound the foundation issue sets; the worst seen is 8e-10.
const TOL_F64: f64 = 1e-7;
/// f32: with `ε = ∛ε_mach ≈ 4.9e-3`, truncation (`ε²·f'''/6 ≈ 4e-6·f'''`) and round-off
/// (`ε_mach·|L|/2ε ≈ 1.2e-5·|L|`) leave three to four correct digits of the estimate: the
/// worst seen over these seeds is 1.3e-4 (softmax_ce), against 8e-10 in f64.
const TOL_F32: f64 = 1e-3;

fn random<T: Scalar>(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix<T> {
    Matrix::from_fn(rows, cols, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        T::from_f64(z)
    })
}

/// The shapes every op is tried on: 1×1, 1×n, n×1 and a general m×n.
fn shapes(rng: &mut ChaCha8Rng) -> Vec<(usize, usize)> {
    let n = rng.random_range(2..6);
    let m = rng.random_range(2..6);
    vec![(1, 1), (1, n), (n, 1), (m, n)]
}

type Build<T> = for<'t> fn(&[Var<'t, T>], &[usize]) -> Result<Var<'t, T>>;

/// Compares the tape's gradient of `L = Σ op(inputs) ⊙ W` with finite differences for every
/// input, and returns the worst relative error.
fn worst_error<T: Scalar>(
    inputs: &[Matrix<T>],
    labels: &[usize],
    build: Build<T>,
    rng: &mut ChaCha8Rng,
) -> f64 {
    let loss_of = |values: &[Matrix<T>], w: Option<&Matrix<T>>| -> (T, Vec<Matrix<T>>) {
        let tape = Tape::new();
        let vars: Vec<Var<T>> = values.iter().map(|v| tape.var(v.clone())).collect();
        let y = build(&vars, labels).expect("the test builds well-shaped graphs");
        let w = match w {
            Some(w) => w.clone(),
            None => Matrix::filled(y.shape().0, y.shape().1, T::one()),
        };
        let loss = y.mul(tape.var(w)).unwrap().sum();
        let grads = loss.backward();
        (
            loss.value()[(0, 0)],
            vars.iter().map(|&v| grads.wrt(v)).collect(),
        )
    };
    let out_shape = {
        let tape = Tape::new();
        let vars: Vec<Var<T>> = inputs.iter().map(|v| tape.var(v.clone())).collect();
        build(&vars, labels).unwrap().shape()
    };
    let w = random::<T>(rng, out_shape.0, out_shape.1);
    let (_, analytic) = loss_of(inputs, Some(&w));
    let eps = default_step::<T>();
    let mut worst = 0.0f64;
    for (i, g) in analytic.iter().enumerate() {
        let fd = fd_gradient(&inputs[i], eps, |xi| {
            let mut values = inputs.to_vec();
            values[i] = xi.clone();
            loss_of(&values, Some(&w)).0
        });
        worst = worst.max(relative_error(g, &fd));
    }
    worst
}

/// How a test measures one op on given inputs: the worst relative error it finds.
type Measure<T> = fn(&[Matrix<T>], &[usize], Build<T>, &mut ChaCha8Rng) -> f64;

/// `⟨Ȳ, J·Ẋ⟩` against `⟨Jᵀ·Ȳ, Ẋ⟩` for one op: the forward sweep's JVP ([`Var::tangent`] of
/// `L = Σ op(inputs) ⊙ Ȳ` along random tangents of every input) against the reverse sweep's VJP
/// (the gradients of the same `L`, dotted with the same tangents). Returns their relative
/// difference.
fn adjoint_error<T: Scalar>(
    inputs: &[Matrix<T>],
    labels: &[usize],
    build: Build<T>,
    rng: &mut ChaCha8Rng,
) -> f64 {
    let tape = Tape::new();
    let vars: Vec<Var<T>> = inputs.iter().map(|v| tape.var(v.clone())).collect();
    let y = build(&vars, labels).expect("the test builds well-shaped graphs");
    let (rows, cols) = y.shape();
    let loss = y.mul(tape.var(random::<T>(rng, rows, cols))).unwrap().sum();
    let seeds: Vec<(Var<T>, Matrix<T>)> = vars
        .iter()
        .map(|&v| (v, random::<T>(rng, v.shape().0, v.shape().1)))
        .collect();
    let forward = loss.tangent(&seeds).unwrap()[(0, 0)].as_f64();
    let grads = loss.backward();
    let reverse: f64 = seeds
        .iter()
        .map(|(v, dot)| grads.wrt(*v).dot(dot).unwrap().as_f64())
        .sum();
    (forward - reverse).abs() / forward.abs().max(reverse.abs()).max(f64::MIN_POSITIVE)
}

fn all_ops<T: Scalar>(seed: u64) -> Vec<(&'static str, f64)> {
    measure_ops(seed, worst_error::<T>)
}

/// `measure` applied to every op, on every shape of [`shapes`].
fn measure_ops<T: Scalar>(seed: u64, measure: Measure<T>) -> Vec<(&'static str, f64)> {
    let mut rng = rng(seed);
    let mut results = Vec::new();
    for (r, c) in shapes(&mut rng) {
        let k = rng.random_range(1..5);
        let a = random::<T>(&mut rng, r, c);
        let b = random::<T>(&mut rng, r, c);
        let left = random::<T>(&mut rng, r, k);
        let right = random::<T>(&mut rng, k, c);
        let bias = random::<T>(&mut rng, 1, c);
        let labels: Vec<usize> = (0..r).map(|_| rng.random_range(0..c)).collect();
        let cell = [
            random::<T>(&mut rng, r, k),
            random::<T>(&mut rng, r, c),
            random::<T>(&mut rng, k, c),
            random::<T>(&mut rng, c, c),
            random::<T>(&mut rng, 1, c),
        ];
        let mut run = |name, inputs: &[Matrix<T>], labels: &[usize], build: Build<T>| {
            results.push((name, measure(inputs, labels, build, &mut rng)));
        };
        let two = [a.clone(), b.clone()];
        let one = [a.clone()];
        run("add", &two, &[], |v, _| v[0].add(v[1]));
        run("sub", &two, &[], |v, _| v[0].sub(v[1]));
        run("mul", &two, &[], |v, _| v[0].mul(v[1]));
        run("matmul", &[left, right], &[], |v, _| v[0].matmul(v[1]));
        run("add_bias", &[a.clone(), bias], &[], |v, _| {
            v[0].add_bias(v[1])
        });
        run("tanh", &one, &[], |v, _| Ok(v[0].tanh()));
        run("sigmoid", &one, &[], |v, _| Ok(v[0].sigmoid()));
        run("alias", &one, &[], |v, _| Ok(v[0].alias()));
        run("one_minus", &one, &[], |v, _| Ok(v[0].one_minus()));
        // The last two thirds of the columns (all of them when there is one).
        run("columns", &one, &[], |v, _| {
            let cols = v[0].shape().1;
            v[0].columns(cols / 3, cols - cols / 3)
        });
        run("sum", &one, &[], |v, _| Ok(v[0].sum()));
        run("mean", &one, &[], |v, _| Ok(v[0].mean()));
        run("square", &one, &[], |v, _| Ok(v[0].square()));
        run("scale", &one, &[], |v, _| Ok(v[0].scale(T::from_f64(-1.7))));
        run("softmax_ce", &one, &labels, |v, l| {
            v[0].softmax_cross_entropy(l)
        });
        // Weights as a sum (1), a mask (0) and a mean (1/4) give them, and one above 1.
        run("weighted_ce", &one, &labels, |v, l| {
            let weights: Vec<T> = (0..l.len())
                .map(|i| T::from_f64([1.0, 0.0, 0.25, 2.0][i % 4]))
                .collect();
            v[0].weighted_cross_entropy(l, &weights)
        });
        run("rnn_step tanh", &cell, &[], |v, _| {
            rnn_step(v, Activation::Tanh)
        });
        run("rnn_step sigmoid", &cell, &[], |v, _| {
            rnn_step(v, Activation::Sigmoid)
        });
        // The gated steps on [x, state, W_x, W_h, biases…], from a stream of their own so that
        // the ops above see the same values as before them.
        let mut own = tapegrad::fd::rng(1000 + seed);
        let mut draw = |shapes: &[(usize, usize)]| -> Vec<Matrix<T>> {
            shapes
                .iter()
                .map(|&(m, n)| random::<T>(&mut own, m, n))
                .collect()
        };
        let lstm = draw(&[(r, k), (r, 2 * c), (k, 4 * c), (c, 4 * c), (1, 4 * c)]);
        let gru = draw(&[
            (r, k),
            (r, c),
            (k, 3 * c),
            (c, 3 * c),
            (1, 3 * c),
            (1, 3 * c),
        ]);
        run("lstm_step", &lstm, &[], |v, _| {
            v[0].fused(Rc::new(Step::new(Lstm::default())), v)
        });
        run("gru_step", &gru, &[], |v, _| {
            v[0].fused(Rc::new(Step::new(Gru::default())), v)
        });
    }
    results
}

#[test]
fn every_op_backward_matches_finite_differences_f64() {
    for seed in 0..4 {
        for (op, err) in all_ops::<f64>(seed) {
            assert!(
                err <= TOL_F64,
                "{op} (seed {seed}): relative error {err:.3e}"
            );
        }
    }
}

#[test]
fn every_op_backward_matches_finite_differences_f32() {
    for seed in 0..4 {
        for (op, err) in all_ops::<f32>(seed) {
            // A fused step chains two products, a bias and σ or tanh over up to 6 inputs: f32
            // central differences of it reach only ~1e-3 (seen: 1.0e-3), the limit of the
            // estimate, not of the cell. The RNN step's f32 VJP is held to its f64 VJP below,
            // and the gated steps' f32 training paths to f64 in tests/gated.rs.
            if op.contains("_step") {
                continue;
            }
            assert!(
                err <= TOL_F32,
                "{op} (seed {seed}): relative error {err:.3e}"
            );
        }
    }
}

/// Every op's JVP is the transpose of its VJP: `⟨Ȳ, J·Ẋ⟩ = ⟨Jᵀ·Ȳ, Ẋ⟩`, to round-off, on
/// 1×1, 1×n, n×1 and m×n inputs, in f64 and f32.
#[test]
fn every_op_forward_mode_is_the_transpose_of_its_backward() {
    for seed in 0..4 {
        for (op, err) in measure_ops::<f64>(seed, adjoint_error::<f64>) {
            assert!(
                err <= 1e-12,
                "{op} (seed {seed}): ⟨Ȳ, J·Ẋ⟩ vs ⟨Jᵀ·Ȳ, Ẋ⟩ {err:.2e}"
            );
        }
        for (op, err) in measure_ops::<f32>(seed, adjoint_error::<f32>) {
            assert!(
                err <= 1e-4,
                "{op} (seed {seed}): ⟨Ȳ, J·Ẋ⟩ vs ⟨Jᵀ·Ȳ, Ẋ⟩ {err:.2e}"
            );
        }
    }
}

/// A directional derivative by forward mode has no step size: on the canonical example,
/// `⟨∇_{W_h} L, V⟩` from [`Var::tangent`] equals the gradient dotted with `V` to round-off, and a
/// seed that is not a leaf, or of the wrong shape, is refused by name.
#[test]
fn forward_mode_gives_directional_derivatives_of_a_loss() {
    let case = tapegrad::case::Case::<f64>::canonical();
    let tape = Tape::new();
    let (rec, head) = case.record(&tape).unwrap();
    let w_h = rec.params[1];
    let v = random::<f64>(&mut rng(3), 4, 4);
    let along = head.loss.tangent(&[(w_h, v.clone())]).unwrap()[(0, 0)];
    let grads = head.loss.backward();
    let want = grads.wrt(w_h).dot(&v).unwrap();
    assert!(
        (along - want).abs() <= 1e-14 * want.abs(),
        "{along} vs {want}"
    );
    assert_eq!(head.loss.tangent(&[]).unwrap()[(0, 0)], 0.0);
    let err = head
        .loss
        .tangent(&[(rec.states[1][0], Matrix::zeros(1, 4))]);
    assert!(err.unwrap_err().to_string().contains("not a leaf"));
    let err = head.loss.tangent(&[(w_h, Matrix::zeros(2, 2))]);
    assert!(err.unwrap_err().to_string().contains("tangent"));
}

#[test]
fn finite_differences_catch_a_wrong_backward() {
    // The classic slip: tanh's derivative taken as 1 − tanh(h)² instead of 1 − h², i.e. the
    // activation applied twice.
    let mut rng = rng(11);
    let a: Matrix<f64> = random(&mut rng, 3, 4);
    let loss = |a: &Matrix<f64>| a.map(f64::tanh).sum();
    let h = a.map(f64::tanh);
    let wrong = h.map(|h| 1.0 - h.tanh() * h.tanh());
    let right = h.map(|h| 1.0 - h * h);
    let eps = default_step();
    let fd = fd_gradient(&a, eps, loss);
    let floor = resolution(loss(&a), eps);
    let verdict = |g: &Matrix<f64>| {
        let abs = tapegrad::fd::abs_error_of(g.as_slice(), fd.as_slice());
        Verdict::decide(relative_error(g, &fd), abs, TOL_F64, floor)
    };
    assert_eq!(verdict(&right), Verdict::Ok);
    assert_eq!(verdict(&wrong), Verdict::Fail);
}

#[test]
fn shape_mismatches_name_the_op_and_both_shapes() {
    let tape = Tape::<f64>::new();
    let a = tape.var(Matrix::zeros(2, 3));
    let b = tape.var(Matrix::zeros(2, 2));
    let cases = [
        (
            a.add(b).unwrap_err(),
            "add: shapes do not fit: left is 2×3, right is 2×2",
        ),
        (
            a.sub(b).unwrap_err(),
            "sub: shapes do not fit: left is 2×3, right is 2×2",
        ),
        (
            a.mul(b).unwrap_err(),
            "mul: shapes do not fit: left is 2×3, right is 2×2",
        ),
        (
            a.matmul(b).unwrap_err(),
            "matmul: shapes do not fit: left is 2×3, right is 2×2",
        ),
        (
            a.add_bias(b).unwrap_err(),
            "add_bias: shapes do not fit: left is 2×3, right is 2×2",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
    }
    let labels = a.softmax_cross_entropy(&[0]).unwrap_err();
    assert_eq!(
        labels.to_string(),
        "labels: expected shape 2 labels (one per row of the logits), found 1 labels"
    );
    let range = a.softmax_cross_entropy(&[0, 3]).unwrap_err();
    assert_eq!(
        range.to_string(),
        "labels[1]: label 3 is out of range for 3 classes"
    );
}

#[test]
fn softmax_cross_entropy_is_finite_for_huge_logits() {
    let tape = Tape::<f64>::new();
    let z = tape.var(Matrix::from_rows(&[[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]).unwrap());
    let loss = z.softmax_cross_entropy(&[1, 2]).unwrap();
    let value = loss.value()[(0, 0)];
    // Row 0 puts all mass on class 0 but the label is 1: −log softmax = 2e4; row 1 is right: 0.
    assert_eq!(value, 1e4);
    let g = loss.backward().wrt(z);
    assert!(g.first_non_finite().is_none());
    assert_eq!(
        g,
        Matrix::from_rows(&[[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]]).unwrap()
    );
}

/// The fused cell's f32 vector-Jacobian product against its f64 one, on the same numbers: the
/// f32 arithmetic is right to f32 round-off (finite differences in f32 cannot tell, see above).
#[test]
fn rnn_step_f32_backward_matches_f64() {
    let mut rng = rng(5);
    let shapes = [(3, 4), (3, 5), (4, 5), (5, 5), (1, 5)];
    let inputs: Vec<Matrix<f64>> = shapes
        .iter()
        .map(|&(r, c)| random(&mut rng, r, c))
        .collect();
    let w = random::<f64>(&mut rng, 3, 5);
    fn grads<T: Scalar>(
        inputs: &[Matrix<f64>],
        w: &Matrix<f64>,
        phi: Activation,
    ) -> Vec<Matrix<f64>> {
        let tape = Tape::<T>::new();
        let v: Vec<Var<T>> = inputs.iter().map(|m| tape.var(m.cast())).collect();
        let h = rnn_step(&v, phi).unwrap();
        let loss = h.mul(tape.var(w.cast())).unwrap().sum();
        let g = loss.backward();
        v.iter().map(|&x| g.wrt(x).cast()).collect()
    }
    for phi in Activation::ALL {
        let (single, double) = (
            grads::<f32>(&inputs, &w, phi),
            grads::<f64>(&inputs, &w, phi),
        );
        for (s, d) in single.iter().zip(&double) {
            let err = relative_error(s, d);
            assert!(err <= 1e-5, "{phi}: f32 against f64 {err:.2e}");
        }
    }
}

/// The fused RNN step's readable VJP (the cell's own backward step) and the in-place one the
/// sweep runs agree, on products below and above the packed kernel's threshold, in f64 and f32.
#[test]
fn rnn_step_in_place_vjp_agrees_with_the_cells_backward_step() {
    use tapegrad::ops::Fused;
    fn agree<T: Scalar>(batch: usize, features: usize, hidden: usize, tol: f64) {
        let mut r = rng(9);
        let x = random::<T>(&mut r, batch, features);
        let h_prev = random::<T>(&mut r, batch, hidden);
        let w_x = random::<T>(&mut r, features, hidden);
        let w_h = random::<T>(&mut r, hidden, hidden);
        let b = random::<T>(&mut r, 1, hidden);
        let g = random::<T>(&mut r, batch, hidden);
        for phi in Activation::ALL {
            let op = RnnStep::new(phi, &w_x, &w_h, batch);
            let inputs = [&x, &h_prev, &w_x, &w_h, &b];
            let h = op.forward(&inputs).unwrap();
            let readable = op.vjp(&inputs, &h, &g);
            let mut sums: Vec<Option<Matrix<T>>> = vec![None; 5];
            op.accumulate_vjp(&inputs, &h, &g, &mut sums);
            for (i, (want, got)) in readable.iter().zip(&sums).enumerate() {
                let err = relative_error(got.as_ref().unwrap(), want);
                assert!(err <= tol, "{phi} B={batch} H={hidden} input {i}: {err:e}");
            }
        }
    }
    agree::<f64>(2, 3, 4, 1e-12);
    agree::<f64>(16, 24, 40, 1e-12);
    agree::<f32>(16, 24, 40, 1e-5);
}

/// Columns beyond the matrix's are refused with the range and the shape, not a panic.
#[test]
fn columns_beyond_the_matrix_are_refused() {
    let tape = Tape::new();
    let x = tape.var(Matrix::<f64>::zeros(2, 4));
    let err = x.columns(3, 2).unwrap_err().to_string();
    assert!(
        err.contains("columns 3..5") && err.contains("(2, 4)"),
        "{err}"
    );
    assert_eq!(x.columns(1, 3).unwrap().shape(), (2, 3));
}
