//! The LSTM and GRU cells: hand BPTT, the tape, forward mode and finite differences agree at
//! every step, for every head (both LSTM gate orders, both GRU reset conventions), in f64 and
//! f32.

use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cell::Cell;
use tapegrad::cells::gru::Reset;
use tapegrad::cells::lstm::GateOrder;
use tapegrad::cells::{Gru, Lstm};
use tapegrad::check::{Mode, Report, check_case};
use tapegrad::fd::Verdict;
use tapegrad::fd::worst_relative_error;
use tapegrad::forward::forward_gradients;
use tapegrad::matrix::Matrix;

/// True when finite differences confirmed every quantity and total (`ok`, not merely not
/// failed).
fn all_confirmed(report: &Report) -> bool {
    let steps = report.steps.iter().flatten().map(|(_, c)| c);
    let totals = report.totals.iter().map(|(_, c)| c);
    steps.chain(totals).all(|c| c.fd_verdict() == Verdict::Ok)
}

/// On `case`: hand BPTT, the tape and forward mode agree to round-off, and finite differences
/// confirm every quantity at every step.
fn agrees_four_ways<C: Cell>(case: &Case<f64, C>, what: &str) {
    let hand = case.bptt().unwrap();
    let others = [
        (case.tape_gradients().unwrap(), "tape"),
        (forward_gradients(case).unwrap(), "forward mode"),
    ];
    for (other, name) in others {
        let (err, at) = worst_relative_error(&hand, &other);
        assert!(err <= 1e-12, "{what}: hand vs {name}: {err:e} at {at}");
    }
    let report = check_case(case, Mode::Exhaustive).unwrap();
    assert!(report.passed() && all_confirmed(&report), "{what}");
}

/// Every head, one step of one sequence and four steps of three, 3 features and 4 hidden units:
/// the cases each cell is held to; `each(seed, dims, head)` builds and checks one.
fn every_shape_and_head(first_seed: u64, mut each: impl FnMut(u64, Dims, HeadKind)) {
    let mut seed = first_seed;
    for head in HeadKind::all(3) {
        for (batch, steps) in [(1, 1), (3, 4)] {
            seed += 1;
            let dims = Dims {
                batch,
                steps,
                features: 3,
                hidden: 4,
            };
            each(seed, dims, head);
        }
    }
}

#[test]
fn the_lstm_agrees_four_ways_for_every_head_and_gate_order() {
    for order in [GateOrder::Ifog, GateOrder::Ifgo] {
        every_shape_and_head(100, |seed, dims, head| {
            let case = Case::<f64, Lstm>::random(seed, dims, head, Lstm::new(order));
            agrees_four_ways(&case, &format!("LSTM {order:?} {head:?} {dims:?}"));
        });
    }
}

#[test]
fn the_gru_agrees_four_ways_for_every_head() {
    every_shape_and_head(200, |seed, dims, head| {
        let case = Case::<f64, Gru>::random(seed, dims, head, Gru::default());
        agrees_four_ways(&case, &format!("GRU {head:?} {dims:?}"));
    });
}

/// The GRU with the reset gate before the product (Cho, d2l): the same four-way agreement, and
/// a nonzero `b_h`, which that convention has no room for, refused by name.
#[test]
fn the_gru_with_reset_before_agrees_and_refuses_a_bias_it_has_no_room_for() {
    every_shape_and_head(400, |seed, dims, head| {
        let mut case = Case::<f64, Gru>::random(seed, dims, head, Gru::new(Reset::Before));
        case.params[3] = Matrix::zeros(1, 3 * dims.hidden);
        agrees_four_ways(&case, &format!("GRU reset before {head:?} {dims:?}"));
    });
    // The cell says why a nonzero b_h does not belong: case files are refused with this.
    let dims = Dims {
        batch: 1,
        steps: 2,
        features: 2,
        hidden: 2,
    };
    let mut case = Case::<f64, Gru>::random(1, dims, HeadKind::SumLast, Gru::new(Reset::Before));
    let err = case
        .cell
        .check_params(&case.param_refs())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b_h[0]") && err.contains("\"reset\": \"before\""),
        "{err}"
    );
    case.params[3] = Matrix::zeros(1, 6);
    assert!(case.cell.check_params(&case.param_refs()).is_ok());
}

/// In f32 the check passes both cells too, every head: the tolerances follow the number type.
#[test]
fn lstm_and_gru_pass_the_check_in_f32() {
    let dims = Dims {
        batch: 2,
        steps: 3,
        features: 3,
        hidden: 3,
    };
    for (k, head) in HeadKind::all(3).into_iter().enumerate() {
        let seed = 300 + k as u64;
        let lstm = Case::<f32, Lstm>::random(seed, dims, head, Lstm::new(GateOrder::Ifgo));
        let gru = Case::<f32, Gru>::random(seed, dims, head, Gru::default());
        for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
            assert!(check_case(&lstm, mode).unwrap().passed(), "LSTM {head:?}");
            assert!(check_case(&gru, mode).unwrap().passed(), "GRU {head:?}");
        }
    }
}

/// Where gradients vanish (weights × 0.3) and where the gates saturate (weights × 12), the check
/// fails no correct gradient of either cell and still catches one late `dW_h` entry off by 1e-6.
#[test]
fn gated_cells_pass_and_catch_where_gradients_vanish_or_saturate() {
    let dims = Dims {
        batch: 2,
        steps: 8,
        features: 3,
        hidden: 3,
    };
    for scale in [0.3, 12.0] {
        let mut lstm = Case::<f64, Lstm>::random(5, dims, HeadKind::MseAll, Lstm::default());
        let mut gru = Case::<f64, Gru>::random(5, dims, HeadKind::SoftmaxCe(3), Gru::default());
        for p in lstm.params.iter_mut().chain(gru.params.iter_mut()) {
            *p = p.scale(scale);
        }
        passes_and_catches(&lstm, &format!("LSTM × {scale}"));
        passes_and_catches(&gru, &format!("GRU × {scale}"));
    }
}

/// The check passes `case`, and fails hand BPTT with the largest entry of `dW_h` at step T − 1
/// off by 1e-6, at that step.
fn passes_and_catches<C: Cell>(case: &Case<f64, C>, what: &str) {
    assert!(
        check_case(case, Mode::Exhaustive).unwrap().passed(),
        "{what}"
    );
    let late = case.x.len() - 1;
    let mut hand = case.bptt().unwrap();
    let dw = hand.get_mut(late, "dw_h").unwrap();
    let i = (0..dw.len())
        .max_by(|&a, &b| dw.as_slice()[a].abs().total_cmp(&dw.as_slice()[b].abs()))
        .unwrap();
    dw.as_mut_slice()[i] *= 1.0 + 1e-6;
    let report = tapegrad::check::check_gradients(case, &hand, Mode::Exhaustive).unwrap();
    assert_eq!(report.first_failure(), Some((late, "dw_h")), "{what}");
}
