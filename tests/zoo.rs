//! The bug zoo and the diagnosis of users' gradients.

use tapegrad::case::Case;
use tapegrad::cell::Cell;
use tapegrad::check::{Mode, check_gradients};
use tapegrad::diagnose::diagnose;
use tapegrad::gradients::{Given, Gradients};
use tapegrad::zoo::{Bug, buggy_backward};

// The example's own code: the snapshot is what it prints.
#[allow(dead_code)]
#[path = "../examples/10-bug-zoo.rs"]
mod bug_zoo;

#[test]
fn every_bug_is_found_where_it_enters() {
    for bug in Bug::ALL {
        let case = bug.case();
        let tape = case.tape_gradients().unwrap();
        let predicted = bug.predicted(&tape);
        assert!(
            predicted.is_some(),
            "{}: the case does not show the bug",
            bug.name()
        );
        let buggy = buggy_backward(&case, bug).unwrap();
        let d = diagnose(
            &tape,
            &case.roundoff_scales().unwrap(),
            &Given::all(&buggy),
            &case.cell,
        );
        assert!(!d.ok, "{}", bug.name());
        assert_eq!(
            d.first_mismatch,
            predicted,
            "{}: {}",
            bug.name(),
            d.explanation
        );
        // The per-step check agrees on where it enters.
        let report = check_gradients(&case, &buggy, Mode::Exhaustive).unwrap();
        assert_eq!(report.first_failure(), predicted, "{}", bug.name());
    }
}

#[test]
fn the_correct_backward_passes() {
    for bug in Bug::ALL {
        let case = bug.case();
        let d = diagnose(
            &case.tape_gradients().unwrap(),
            &case.roundoff_scales().unwrap(),
            &Given::all(&case.bptt().unwrap()),
            &case.cell,
        );
        assert!(d.ok, "{}", d.explanation);
        assert_eq!(d.first_mismatch, None);
    }
}

#[test]
fn totals_only_say_so() {
    let bug = Bug::ActivationTwice;
    let case = bug.case();
    let tape = case.tape_gradients().unwrap();
    let given = Given::all(&buggy_backward(&case, bug).unwrap()).totals_only();
    let d = diagnose(&tape, &case.roundoff_scales().unwrap(), &given, &case.cell);
    assert!(!d.ok);
    assert_eq!(d.first_mismatch, None);
    assert!(
        d.explanation.contains("per-step values"),
        "{}",
        d.explanation
    );
}

#[test]
fn some_quantities_only() {
    // Only dW_h per step: the wrapped index at t = 1 is still found, in dw_h.
    let bug = Bug::NegativeIndexWrap;
    let case = bug.case();
    let tape = case.tape_gradients().unwrap();
    let mut given = Given::all(&buggy_backward(&case, bug).unwrap());
    given.totals.clear();
    given.loss = None;
    for step in &mut given.steps {
        step.retain(|(q, _)| *q == "dw_h");
    }
    let d = diagnose(&tape, &case.roundoff_scales().unwrap(), &given, &case.cell);
    assert_eq!(d.first_mismatch, Some((1, "dw_h")));
    assert!(d.explanation.contains("h_0"), "{}", d.explanation);
}

/// The diagnosis text of three zoo entries, and the whole bug_zoo example.
#[test]
fn diagnosis_snapshots() {
    for (name, bug) in [
        (
            "diagnosis_output_error_every_step",
            Bug::OutputErrorEveryStep,
        ),
        ("diagnosis_activation_twice", Bug::ActivationTwice),
        ("diagnosis_negative_index_wrap", Bug::NegativeIndexWrap),
    ] {
        let case = bug.case();
        let d = diagnose(
            &case.tape_gradients().unwrap(),
            &case.roundoff_scales().unwrap(),
            &Given::all(&buggy_backward(&case, bug).unwrap()),
            &case.cell,
        );
        insta::assert_snapshot!(name, tapegrad::trace::diagnosis(&d));
    }
    insta::assert_snapshot!("bug_zoo", bug_zoo::bug_zoo().unwrap());
}

/// The explanation of a wrong `da` names the case's own activation derivative.
#[test]
fn the_da_explanation_follows_the_activation() {
    use tapegrad::activation::Activation;
    use tapegrad::case::{Case, Dims, HeadKind};
    use tapegrad::cells::Rnn;
    let dims = Dims {
        batch: 2,
        steps: 3,
        features: 2,
        hidden: 3,
    };
    for (activation, derivative) in [
        (Activation::Sigmoid, "dh_3 ⊙ h_3(1 − h_3) for sigmoid"),
        (Activation::Tanh, "dh_3 ⊙ (1 − h_3²) for tanh"),
        (Activation::Identity, "dh_3 ⊙ 1 for identity"),
    ] {
        let case = Case::<f64>::random(3, dims, HeadKind::MseAll, Rnn::new(activation));
        let mut g = case.bptt().unwrap();
        g.get_mut(3, "da").unwrap()[(0, 0)] += 0.5;
        let d = diagnose(
            &case.tape_gradients().unwrap(),
            &case.roundoff_scales().unwrap(),
            &Given::all(&g),
            &case.cell,
        );
        assert_eq!(d.first_mismatch, Some((3, "da")));
        assert!(d.explanation.contains(derivative), "{}", d.explanation);
    }
}

/// Where the terms of an entry cancel (saturated units, weights × 14), two correct computations
/// can differ relatively by more than the float64 tolerance of 1e-7, and by no more than a few
/// `ε` of the entry's round-off scale: such a difference names no equation. An error of one
/// part in a million in a late step is still found there.
#[test]
fn round_off_differences_name_no_equation() {
    use tapegrad::activation::Activation;
    use tapegrad::case::{Case, Dims, HeadKind};
    use tapegrad::cells::Rnn;
    let dims = Dims {
        batch: 2,
        steps: 5,
        features: 3,
        hidden: 4,
    };
    let mut case = Case::<f64>::random(2, dims, HeadKind::SumLast, Rnn::new(Activation::Tanh));
    for p in &mut case.params {
        *p = p.scale(14.0);
    }
    let (tape, scale) = (
        case.tape_gradients().unwrap(),
        case.roundoff_scales().unwrap(),
    );
    // Another computation within round-off: every entry moved by 16 ε of its scale (half the
    // allowance), alternately up and down, as rounding in another order moves it.
    let mut other = tape.clone();
    let mut sign = 1.0;
    for t in 1..=dims.steps {
        for (name, m) in other.steps[t - 1].iter_mut() {
            let s = scale.get(t, name).unwrap();
            for (v, s) in m.as_mut_slice().iter_mut().zip(s.as_slice()) {
                *v += sign * 16.0 * f64::EPSILON * s;
                sign = -sign;
            }
        }
    }
    let d = diagnose(&tape, &scale, &Given::all(&other), &case.cell);
    let worst = d.findings.iter().map(|f| f.rel).fold(0.0, f64::max);
    assert!(
        worst > 1e-7,
        "the test needs cancelling entries: worst rel {worst:e}"
    );
    assert!(d.ok, "{}", d.explanation);
    // A real error, in the largest entry of dW_h at t = 4.
    let g = other.get_mut(4, "dw_h").unwrap();
    let i = (0..g.len())
        .max_by(|&a, &b| g.as_slice()[a].abs().total_cmp(&g.as_slice()[b].abs()))
        .unwrap();
    g.as_mut_slice()[i] *= 1.0 + 1e-6;
    let d = diagnose(&tape, &scale, &Given::all(&other), &case.cell);
    assert_eq!(d.first_mismatch, Some((4, "dw_h")), "{}", d.explanation);
}

/// The diagnosis of `buggy` on `case` and the per-step check both find its first error at
/// `predicted`; the cell's own backward pass agrees.
fn found_where_it_enters<C: Cell>(
    name: &str,
    case: &Case<f64, C>,
    buggy: &Gradients<f64>,
    predicted: (usize, &'static str),
) {
    let tape = case.tape_gradients().unwrap();
    let scale = case.roundoff_scales().unwrap();
    let right = diagnose(
        &tape,
        &scale,
        &Given::all(&case.bptt().unwrap()),
        &case.cell,
    );
    assert!(right.ok, "{name}: {}", right.explanation);
    let d = diagnose(&tape, &scale, &Given::all(buggy), &case.cell);
    assert_eq!(
        d.first_mismatch,
        Some(predicted),
        "{name}: {}",
        d.explanation
    );
    let report = check_gradients(case, buggy, Mode::Exhaustive).unwrap();
    assert_eq!(report.first_failure(), Some(predicted), "{name}");
}

/// Every LSTM and GRU bug is found at the step and quantity where it enters, by the diagnosis
/// and by the per-step check.
#[test]
fn every_lstm_and_gru_bug_is_found_where_it_enters() {
    use tapegrad::zoo::gru::{self, GruBug};
    use tapegrad::zoo::lstm::{self, LstmBug};
    for bug in LstmBug::ALL {
        let case = bug.case();
        let buggy = lstm::buggy_backward(&case, bug).unwrap();
        found_where_it_enters(bug.name(), &case, &buggy, bug.predicted(case.x.len()));
    }
    for bug in GruBug::ALL {
        let case = bug.case();
        let buggy = gru::buggy_backward(&case, bug).unwrap();
        found_where_it_enters(bug.name(), &case, &buggy, bug.predicted(case.x.len()));
    }
}
