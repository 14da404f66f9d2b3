//! The gated cells' training paths, `gated::Bptt` and `gated::tape_totals`, agree with the
//! readable hand BPTT of each cell (`Case::bptt`), for the LSTM in both gate orders and the GRU,
//! on every head, at shapes from 1×1 up, with more steps than the weights' sums take at once.

use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cell::Pointwise;
use tapegrad::cells::gru::Reset;
use tapegrad::cells::lstm::GateOrder;
use tapegrad::cells::{Gru, Lstm};
use tapegrad::fd::relative_error;
use tapegrad::gated::{self, Bptt};
use tapegrad::gradients::Gradients;
use tapegrad::{Matrix, Scalar};

fn assert_close<T: Scalar>(what: &str, got: &Matrix<T>, want: &Matrix<T>, tol: f64) {
    let rel = relative_error(got, want);
    assert!(rel <= tol, "{what}: relative error {rel:e}");
}

/// `dx` at every step and every total of `got` against the teaching BPTT's, by key.
fn assert_match<T: Scalar>(label: &str, got: &Gradients<T>, want: &Gradients<T>, tol: f64) {
    let (loss, want_loss) = (got.loss.as_f64(), want.loss.as_f64());
    assert!(
        (loss - want_loss).abs() <= tol * want_loss.abs().max(1e-300),
        "{label}: loss {loss} vs {want_loss}"
    );
    assert_eq!(
        got.steps.len(),
        want.steps.len(),
        "{label}: one dx per step"
    );
    for t in 1..=want.steps.len() {
        let (dx, want_dx) = (got.get(t, "dx").unwrap(), want.get(t, "dx").unwrap());
        assert_close(&format!("{label} dx[{t}]"), dx, want_dx, tol);
    }
    let keys: Vec<&str> = got.totals.iter().map(|(k, _)| *k).collect();
    let want_keys: Vec<&str> = want.totals.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want_keys, "{label}: the same totals");
    for ((key, m), (_, m_want)) in got.totals.iter().zip(&want.totals) {
        assert_close(&format!("{label} d{key}"), m, m_want, tol);
    }
}

/// Random cases of `cell` with a nonzero initial state, at several shapes and every head.
fn cases<C: Pointwise>(cell: C) -> Vec<(String, Case<f64, C>)> {
    let shapes = [
        (1, 1, 1, 1),
        (1, 3, 2, 4),
        (3, 1, 2, 5),
        (4, 6, 3, 7),
        (8, 5, 16, 32),
        // More steps than the weights' sums take at once, and not a multiple of them.
        (2, 19, 3, 5),
    ];
    let mut out = Vec::new();
    for (i, &(batch, steps, features, hidden)) in shapes.iter().enumerate() {
        for (j, &head) in HeadKind::all(3).iter().enumerate() {
            let dims = Dims {
                batch,
                steps,
                features,
                hidden,
            };
            let mut case = Case::random((10 * i + j) as u64, dims, head, cell.clone());
            // A nonzero initial state, so that dh_0 (and dc_0) are more than products by zero.
            for (k, s) in case.initial.iter_mut().enumerate() {
                *s = Matrix::from_fn(batch, hidden, |r, c| {
                    0.1 * ((r + 2 * c + k) as f64 * 0.7).sin()
                });
            }
            let label = format!(
                "{} B{batch} T{steps} F{features} H{hidden} {head:?}",
                case.cell.title()
            );
            out.push((label, case));
        }
    }
    out
}

fn both_paths_agree<C: Pointwise>(cell: C) {
    for (label, case) in cases(cell) {
        let want = case.bptt().unwrap();
        let hand = gated::bptt_totals(&case).unwrap();
        assert_match(&format!("{label} (hand)"), &hand, &want, 1e-12);
        let tape = gated::tape_totals(&case).unwrap();
        assert_match(&format!("{label} (tape)"), &tape, &want, 1e-12);
    }
}

#[test]
fn the_lstm_training_paths_agree_with_its_teaching_bptt_in_both_gate_orders() {
    both_paths_agree(Lstm::new(GateOrder::Ifog));
    both_paths_agree(Lstm::new(GateOrder::Ifgo));
}

#[test]
fn the_gru_training_paths_agree_with_its_teaching_bptt() {
    both_paths_agree(Gru::new(Reset::After));
}

/// In f32 the paths keep to the f64 teaching BPTT as far as f32 can: a few hundred ulp of
/// accumulated round-off over the steps, well inside 1e-4.
#[test]
fn in_f32_the_training_paths_keep_to_the_f64_gradients() {
    let dims = Dims {
        batch: 8,
        steps: 12,
        features: 16,
        hidden: 32,
    };
    let lstm = Case::<f64, Lstm>::random(3, dims, HeadKind::SumLast, Lstm::default());
    let gru = Case::<f64, Gru>::random(4, dims, HeadKind::SumLast, Gru::default());
    let check = |label: &str, want: Gradients<f64>, got: Gradients<f32>| {
        assert_match(label, &got.map(|v| v as f64), &want, 1e-4);
    };
    check(
        "lstm hand f32",
        lstm.bptt().unwrap(),
        gated::bptt_totals(&lstm.cast::<f32>()).unwrap(),
    );
    check(
        "lstm tape f32",
        lstm.bptt().unwrap(),
        gated::tape_totals(&lstm.cast::<f32>()).unwrap(),
    );
    check(
        "gru hand f32",
        gru.bptt().unwrap(),
        gated::bptt_totals(&gru.cast::<f32>()).unwrap(),
    );
    check(
        "gru tape f32",
        gru.bptt().unwrap(),
        gated::tape_totals(&gru.cast::<f32>()).unwrap(),
    );
}

#[test]
fn a_workspace_is_reused_and_refuses_another_size_or_cell() {
    let dims = Dims {
        batch: 4,
        steps: 10,
        features: 3,
        hidden: 6,
    };
    let mut work = Bptt::new::<Lstm>(dims);
    let one = Case::<f64, Lstm>::random(1, dims, HeadKind::SumLast, Lstm::default());
    let two = Case::<f64, Lstm>::random(2, dims, HeadKind::MseAll, Lstm::default());
    let first = work.run(&one).unwrap().clone();
    let second = work.run(&two).unwrap().clone();
    assert_eq!(first, gated::bptt_totals(&one).unwrap());
    assert_eq!(second, gated::bptt_totals(&two).unwrap());
    assert_eq!(work.run(&one).unwrap(), &first);
    let wider = Dims { hidden: 7, ..dims };
    let other = Case::<f64, Lstm>::random(3, wider, HeadKind::SumLast, Lstm::default());
    assert_eq!(
        work.run(&other).unwrap_err().to_string(),
        "case: expected shape lstm B=4 T=10 F=3 H=6, found lstm B=4 T=10 F=3 H=7"
    );
    let gru = Case::<f64, Gru>::random(3, dims, HeadKind::SumLast, Gru::default());
    assert_eq!(
        work.run(&gru).unwrap_err().to_string(),
        "case: expected shape lstm B=4 T=10 F=3 H=6, found gru B=4 T=10 F=3 H=6"
    );
}

#[test]
fn a_gru_with_the_reset_gate_before_the_product_is_refused_by_name() {
    let dims = Dims {
        batch: 2,
        steps: 3,
        features: 2,
        hidden: 3,
    };
    let case = Case::<f64, Gru>::random(1, dims, HeadKind::SumLast, Gru::new(Reset::Before));
    for err in [
        gated::bptt_totals(&case).unwrap_err(),
        gated::tape_totals(&case).unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(text.starts_with("reset: "), "{text}");
        assert!(text.contains("Case::bptt"), "{text}");
    }
}
