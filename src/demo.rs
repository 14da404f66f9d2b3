//! The bodies of the trace examples (`forward_trace`, `bptt_trace`, `gradcheck`, `tape_graph`,
//! `vanishing`), as functions that return the text the examples print. The examples only
//! print it, and the snapshot tests in `tests/traces.rs` check the very same text.

use crate::activation::Activation;
use crate::case::{Case, Dims, HeadKind};
use crate::cells::Rnn;
use crate::check::{Mode, check_case};
use crate::diagnose::diagnose;
use crate::error::Result;
use crate::fd::relative_error;
use crate::gradients::Given;
use crate::loss::Head;
use crate::matrix::Matrix;
use crate::tape::Tape;
use crate::trace::{self, CheckStyle};
use crate::zoo::{Bug, buggy_backward};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt::Write;

/// The canonical example's forward trace, step by step, as the seed notebooks print it.
pub fn forward_trace() -> Result<String> {
    let case = Case::<f64>::canonical();
    let fwd = case.forward()?;
    let loss = case.head.loss(fwd.states())?;
    Ok(trace::forward_trace(&case, &fwd, loss))
}

/// The canonical example's backward pass by hand BPTT, equation by equation, and whether the
/// tape agrees with it.
pub fn bptt_trace() -> Result<String> {
    let case = Case::<f64>::canonical();
    let hand = case.bptt()?;
    let tape = case.tape_gradients()?;
    let mut out = trace::backward_trace(&case, &hand, "hand BPTT");
    let worst = hand
        .steps
        .iter()
        .zip(&tape.steps)
        .flat_map(|(h, t)| h.iter().zip(t).map(|((_, h), (_, t))| relative_error(h, t)))
        .fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "The tape, read back by handle at every node, {} hand BPTT at every step (tolerance 1e-12).",
        if worst <= 1e-12 {
            "agrees with"
        } else {
            "DISAGREES with"
        }
    );
    Ok(out)
}

/// The seeded random case of the `gradcheck` example: batch 2, 6 steps, 3 features, 5 hidden,
/// softmax over 3 classes.
pub fn softmax_case() -> Case<f64> {
    let dims = Dims {
        batch: 2,
        steps: 6,
        features: 3,
        hidden: 5,
    };
    Case::random(7, dims, HeadKind::SoftmaxCe(3), Rnn::new(Activation::Tanh))
}

/// The per-step three-way check of the canonical example and of [`softmax_case`], exhaustive.
pub fn gradcheck(style: CheckStyle) -> Result<String> {
    let mut out = String::new();
    for case in [Case::<f64>::canonical(), softmax_case()] {
        let report = check_case(&case, Mode::Exhaustive)?;
        let _ = writeln!(out, "{}", trace::case_header(&case));
        out.push_str(&trace::check_table(&report, style));
        out.push('\n');
    }
    Ok(out)
}

/// The tape the canonical example records, as a table and as a Graphviz picture.
pub fn tape_graph() -> Result<String> {
    let case = Case::<f64>::canonical();
    let tape = Tape::new();
    let (_, head) = case.record(&tape)?;
    let grads = head.loss.backward();
    let mut out = trace::tape_listing(&tape, Some(&grads));
    out.push_str("\nGraphviz (save as graph.dot, then: dot -Tsvg graph.dot > graph.svg):\n");
    out.push_str(&trace::dot(&tape, Some(&grads)));
    Ok(out)
}

/// A random orthogonal `n × n` matrix: Gram–Schmidt on standard normal columns. Every
/// eigenvalue and every singular value of `ρ·Q` has magnitude `ρ`, so scaling it sets the
/// spectral radius and the largest singular value at once.
pub fn orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Matrix<f64> {
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(n);
    while columns.len() < n {
        let mut v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
        for q in &columns {
            let along: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(q) {
                *a -= along * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        // A draw (almost) inside the span of the columns so far is redrawn.
        if norm > 1e-6 {
            columns.push(v.iter().map(|a| a / norm).collect());
        }
    }
    Matrix::from_fn(n, n, |i, j| columns[j][i])
}

/// `‖dh_t‖` against `t` for `W_h = ρ·Q` (`Q` orthogonal, so `ρ` is both the spectral radius and
/// the largest singular value) with `ρ ∈ {0.5, 1.0, 1.5}`, for tanh and identity activations:
/// the picture of vanishing and exploding gradients.
pub fn vanishing() -> Result<String> {
    let (steps, hidden, features) = (30, 8, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let q = orthogonal(hidden, &mut rng);
    let w_x = Matrix::from_fn(features, hidden, |_, _| {
        let z: f64 = StandardNormal.sample(&mut rng);
        0.5 * z
    });
    let x: Vec<Matrix<f64>> = (0..steps)
        .map(|_| Matrix::from_fn(1, features, |_, _| StandardNormal.sample(&mut rng)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "‖dh_t‖ = ‖∂L/∂h_t‖ for L = Σ h_{steps}, batch 1, {features} features, {hidden} hidden, \
         W_h = ρ·Q with Q orthogonal"
    );
    let _ = writeln!(
        out,
        "Backward, dh_(t-1) = (dh_t ⊙ φ'(a_t))·W_hᵀ: each step multiplies by W_hᵀ (norm ρ) \
         and by φ' ≤ 1.\n"
    );
    for activation in [Activation::Identity, Activation::Tanh] {
        for rho in [0.5, 1.0, 1.5] {
            let params = vec![w_x.clone(), q.scale(rho), Matrix::zeros(1, hidden)];
            let case = Case::new(
                Rnn::new(activation),
                params,
                x.clone(),
                vec![],
                Head::SumLast,
            )?;
            let g = case.bptt()?;
            let rows: Vec<(String, f64)> = (1..=steps)
                .rev()
                .filter(|t| t % 3 == 0 || *t == 1)
                .map(|t| (format!("t={t}"), g.dh(t).norm()))
                .collect();
            let title = format!(
                "{activation}, ρ = {rho}: ‖dh_1‖ / ‖dh_{steps}‖ = {}",
                trace::short(g.dh(1).norm() / g.dh(steps).norm())
            );
            out.push_str(&trace::log_bar_chart(&title, &rows));
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "Identity: ‖dh_t‖ = ρ^(T−t)·‖dh_T‖ exactly (Q keeps norms), so 0.5 vanishes, 1.0 holds, \
         1.5 explodes.\ntanh: φ' = 1 − h² < 1 shrinks every step, and large states saturate \
         (φ' → 0), so even ρ = 1.5 need not explode."
    );
    Ok(out)
}

/// The bug zoo: for each mistake, the line the student wrote, where the diagnosis finds it
/// (and where the zoo predicted it), the explanation, and `‖given − tape‖` per step and
/// quantity (`·` where it agrees).
pub fn bug_zoo() -> Result<String> {
    let mut out = String::new();
    for bug in Bug::ALL {
        let case = bug.case();
        let tape = case.tape_gradients()?;
        let buggy = buggy_backward(&case, bug)?;
        let d = diagnose(&tape, &Given::all(&buggy), &case.cell);
        let place = |p: Option<(usize, &str)>| match p {
            Some((t, q)) => format!("{q} at t = {t}"),
            None => "nowhere".to_string(),
        };
        let _ = writeln!(out, "== {} ==", bug.name());
        let _ = writeln!(out, "{}", trace::case_header(&case));
        let _ = writeln!(out, "the mistake:  {}", bug.mistake());
        let _ = writeln!(
            out,
            "found:        {} (predicted: {})",
            place(d.first_mismatch),
            place(bug.predicted(&tape))
        );
        let _ = writeln!(out, "{}", trace::wrap(&d.explanation, 96));
        let _ = write!(out, "‖given − tape‖ per step:\n{:>4}", "t");
        for q in &d.quantities {
            let _ = write!(out, " {q:>9}");
        }
        out.push('\n');
        for t in (1..=tape.steps.len()).rev() {
            let _ = write!(out, "{t:>4}");
            for q in &d.quantities {
                let f = d.findings.iter().find(|f| f.t == t && f.name == *q);
                let cell = match f {
                    Some(f) if !f.ok => trace::short(f.error_norm),
                    _ => "·".to_string(),
                };
                let _ = write!(out, " {cell:>9}");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}

/// The step-size trade-off of central differences: the relative error of
/// `(L(θ + ε) − L(θ − ε)) / 2ε` against the exact `∂L/∂W_h[0][0]` of the canonical example,
/// for `ε` from 1e-1 down to 1e-12, computed in f64 and in f32. The exact value is hand BPTT's,
/// in f64.
pub fn step_sweep() -> Result<String> {
    let exact = Case::<f64>::canonical()
        .bptt()?
        .total("w_h")
        .map_or(f64::NAN, |g| g[(0, 0)]);
    let mut out = String::from("    ε     error (f64)  error (f32)\n");
    for k in 1..=12 {
        let eps = 10f64.powi(-k);
        let f64_error = (central_w_h00::<f64>(eps)? - exact).abs() / exact.abs();
        let f32_error = (central_w_h00::<f32>(eps)? - exact).abs() / exact.abs();
        let _ = writeln!(
            out,
            "{:>6}  {:>11}  {:>11}",
            format!("1e-{k}"),
            trace::error_text(f64_error),
            trace::error_text(f32_error)
        );
    }
    Ok(out)
}

/// `(L(W_h[0][0] + ε) − L(W_h[0][0] − ε)) / 2ε` on the canonical example, in `T` arithmetic.
fn central_w_h00<T: crate::Scalar>(eps: f64) -> Result<f64> {
    let loss = |sign: f64| -> Result<T> {
        let mut case = Case::<T>::canonical();
        let w_h = &mut case.params[1];
        w_h[(0, 0)] += T::from_f64(sign * eps);
        case.loss()
    };
    let (plus, minus) = (loss(1.0)?.as_f64(), loss(-1.0)?.as_f64());
    Ok((plus - minus) / (2.0 * eps))
}
