//! The heads' options mean what they say: a sum over the batch is `B` times the mean, `half`
//! halves, a masked step counts for nothing, and the upstream head hands BPTT its `dout` as is.
//! (Every head's gradients against the tape, forward mode and finite differences, for every
//! cell, are in `rnn.rs` and `cells.rs`.)

use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::{Lstm, Rnn};
use tapegrad::fast;
use tapegrad::fd::relative_error;
use tapegrad::gradients::Gradients;
use tapegrad::loss::{Head, Reduction};

const DIMS: Dims = Dims {
    batch: 3,
    steps: 4,
    features: 2,
    hidden: 5,
};

/// Every gradient of `a` equals `c` times the same gradient of `b`, to round-off.
fn scaled(a: &Gradients<f64>, b: &Gradients<f64>, c: f64, what: &str) {
    for (key, m) in &a.totals {
        let want = b.total(key).unwrap().scale(c);
        let err = relative_error(m, &want);
        assert!(err <= 1e-14, "{what}: {key} {err:e}");
    }
    for t in 1..=a.steps.len() {
        for (key, m) in a.step(t) {
            let want = b.get(t, key).unwrap().scale(c);
            let err = relative_error(m, &want);
            assert!(err <= 1e-14, "{what}: {key} at t = {t}: {err:e}");
        }
    }
}

/// The case with its head changed by `change`.
fn with_head(case: &Case<f64>, change: impl FnOnce(&mut Head<f64>)) -> Case<f64> {
    let mut case = case.clone();
    change(&mut case.head);
    case
}

fn set_reduction(head: &mut Head<f64>, to: Reduction) {
    match head {
        Head::SoftmaxCe { reduction, .. }
        | Head::SoftmaxCeAll { reduction, .. }
        | Head::MseAll { reduction, .. }
        | Head::MseLast { reduction, .. } => *reduction = to,
        Head::SumLast | Head::Upstream { .. } => panic!("{} takes no reduction", head.kind()),
    }
}

/// For each head that sums over the batch, `"reduction": "sum"` is `B` times the mean: the loss
/// and every gradient, by hand, on the tape and on the fast path.
#[test]
fn a_sum_over_the_batch_is_b_times_the_mean() {
    let b = DIMS.batch as f64;
    let kinds = [
        HeadKind::SoftmaxCe(3),
        HeadKind::SoftmaxCeAll(3),
        HeadKind::MseAll,
        HeadKind::MseLast,
    ];
    for (seed, kind) in kinds.into_iter().enumerate() {
        let case = Case::<f64>::random(seed as u64, DIMS, kind, Rnn::default());
        let mean = with_head(&case, |h| set_reduction(h, Reduction::Mean));
        let sum = with_head(&case, |h| set_reduction(h, Reduction::Sum));
        let what = format!("{kind:?}");
        let (loss_mean, loss_sum) = (mean.loss().unwrap(), sum.loss().unwrap());
        assert!(
            ((loss_sum - b * loss_mean) / loss_sum).abs() < 1e-14,
            "{what}"
        );
        scaled(&sum.bptt().unwrap(), &mean.bptt().unwrap(), b, &what);
        scaled(
            &sum.tape_gradients().unwrap(),
            &mean.tape_gradients().unwrap(),
            b,
            &what,
        );
        scaled(
            &fast::bptt_totals(&sum).unwrap(),
            &fast::bptt_totals(&mean).unwrap(),
            b,
            &what,
        );
    }
}

/// `"half": true` halves the squared errors' loss and gradients, and `false` doubles them back.
#[test]
fn half_halves_the_squared_errors() {
    for (seed, kind) in [HeadKind::MseAll, HeadKind::MseLast]
        .into_iter()
        .enumerate()
    {
        let case = Case::<f64>::random(10 + seed as u64, DIMS, kind, Rnn::default());
        let set = |value: bool| {
            with_head(&case, |h| match h {
                Head::MseAll { half, .. } | Head::MseLast { half, .. } => *half = value,
                _ => unreachable!(),
            })
        };
        let (halved, whole) = (set(true), set(false));
        let what = format!("{kind:?}");
        assert_eq!(
            halved.loss().unwrap(),
            0.5 * whole.loss().unwrap(),
            "{what}"
        );
        scaled(&halved.bptt().unwrap(), &whole.bptt().unwrap(), 0.5, &what);
        scaled(
            &fast::bptt_totals(&halved).unwrap(),
            &fast::bptt_totals(&whole).unwrap(),
            0.5,
            &what,
        );
    }
}

/// A masked-out entry of `softmax_ce_all` counts for nothing: changing its label changes no
/// number; and with one step unmasked, the head is `softmax_ce` on that step.
#[test]
fn a_masked_step_counts_for_nothing() {
    let case = Case::<f64>::random(3, DIMS, HeadKind::SoftmaxCeAll(3), Rnn::default());
    let Head::SoftmaxCeAll { mask, .. } = &case.head else {
        unreachable!()
    };
    let (t, i) = (0..DIMS.steps)
        .flat_map(|t| (0..DIMS.batch).map(move |i| (t, i)))
        .find(|&(t, i)| !mask[t][i])
        .expect("the random mask leaves some entry out");
    let relabelled = with_head(&case, |h| {
        if let Head::SoftmaxCeAll { labels, .. } = h {
            labels[t][i] = (labels[t][i] + 1) % 3;
        }
    });
    assert_eq!(case.loss().unwrap(), relabelled.loss().unwrap());
    assert_eq!(case.bptt().unwrap(), relabelled.bptt().unwrap());

    // Only the last step counted: the loss and gradients of softmax_ce on h_T.
    let last_only = with_head(&case, |h| {
        if let Head::SoftmaxCeAll { mask, .. } = h {
            for (s, row) in mask.iter_mut().enumerate() {
                row.fill(s + 1 == DIMS.steps);
            }
        }
    });
    let Head::SoftmaxCeAll {
        w_out,
        b_out,
        labels,
        ..
    } = &case.head
    else {
        unreachable!()
    };
    let softmax_ce = with_head(&case, |h| {
        *h = Head::softmax_ce(w_out.clone(), b_out.clone(), labels[DIMS.steps - 1].clone())
    });
    let err = (last_only.loss().unwrap() - softmax_ce.loss().unwrap()).abs();
    assert!(err < 1e-15, "{err:e}");
    scaled(
        &last_only.bptt().unwrap(),
        &softmax_ce.bptt().unwrap(),
        1.0,
        "last step",
    );
}

/// The upstream head's direct gradient is `dout` itself: with one step, `dh[T] = dout_T`
/// exactly, and `L = Σ_t ⟨dout_t, h_t⟩` from the forward pass's own states. An LSTM too.
#[test]
fn the_upstream_head_hands_bptt_its_dout() {
    let one_step = Dims { steps: 1, ..DIMS };
    let case = Case::<f64>::random(4, one_step, HeadKind::Upstream, Rnn::default());
    let Head::Upstream { dout } = &case.head else {
        unreachable!()
    };
    assert_eq!(case.bptt().unwrap().get(1, "dh").unwrap(), &dout[0]);

    let lstm = Case::<f64, Lstm>::random(5, DIMS, HeadKind::Upstream, Lstm::default());
    let Head::Upstream { dout } = &lstm.head else {
        unreachable!()
    };
    let states = lstm.forward().unwrap();
    let want: f64 = (1..=DIMS.steps)
        .map(|t| states.state(0, t).dot(&dout[t - 1]).unwrap())
        .sum();
    let got = lstm.loss().unwrap();
    assert!(((got - want) / want).abs() < 1e-14, "{got} against {want}");
}

/// The trace's header states the loss with its options, as the check table prints it.
#[test]
fn the_header_states_the_options() {
    let header = |kind: HeadKind, change: &dyn Fn(&mut Head<f64>)| {
        let case = Case::<f64>::random(6, DIMS, kind, Rnn::default());
        tapegrad::trace::case_header(&with_head(&case, change))
    };
    let sum = header(HeadKind::SoftmaxCe(3), &|h| {
        set_reduction(h, Reduction::Sum)
    });
    assert!(
        sum.ends_with("(L = Σ_i −log softmax(h_4·W_out + b_out)_i[label_i])"),
        "{sum}"
    );
    let half_mean = header(HeadKind::MseLast, &|h| {
        if let Head::MseLast { half, .. } = h {
            *half = true;
        }
    });
    assert!(
        half_mean.ends_with("(L = (1/2B) Σ (h_4 − y)²)"),
        "{half_mean}"
    );
    let masked = header(HeadKind::SoftmaxCeAll(3), &|_| {});
    assert!(
        masked.contains("L = mean_i Σ_(t=1..4) mask_ti · −log"),
        "{masked}"
    );
    let upstream = header(HeadKind::Upstream, &|_| {});
    assert!(
        upstream.ends_with("(L = Σ_(t=1..4) ⟨dout_t, h_t⟩)"),
        "{upstream}"
    );
}

/// The new heads where gradients vanish (weights × 0.3) and where tanh saturates (× 12): the
/// check passes the correct gradients and still fails hand BPTT with one late `dW_h` entry off
/// by 1e-6, at its step.
#[test]
fn the_new_heads_pass_and_catch_where_gradients_vanish_or_saturate() {
    use tapegrad::check::{Mode, check_case, check_gradients};
    let dims = Dims {
        batch: 2,
        steps: 6,
        features: 2,
        hidden: 3,
    };
    for kind in [HeadKind::SoftmaxCeAll(3), HeadKind::Upstream] {
        for scale in [0.3, 12.0] {
            let mut case = Case::<f64>::random(21, dims, kind, Rnn::default());
            for p in &mut case.params {
                *p = p.scale(scale);
            }
            let what = format!("{kind:?} × {scale}");
            assert!(
                check_case(&case, Mode::Exhaustive).unwrap().passed(),
                "{what}"
            );
            let late = dims.steps - 1;
            let mut hand = case.bptt().unwrap();
            let dw = hand.get_mut(late, "dw_h").unwrap();
            let i = (0..dw.len())
                .max_by(|&a, &b| dw.as_slice()[a].abs().total_cmp(&dw.as_slice()[b].abs()))
                .unwrap();
            dw.as_mut_slice()[i] *= 1.0 + 1e-6;
            let report = check_gradients(&case, &hand, Mode::Exhaustive).unwrap();
            assert_eq!(report.first_failure(), Some((late, "dw_h")), "{what}");
        }
    }
}
