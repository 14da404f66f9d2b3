//! The LSTM and GRU cells: hand BPTT, the tape, forward mode and finite differences agree at
//! every step, for every head (and both LSTM gate orders), in f64 and f32.

use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::lstm::GateOrder;
use tapegrad::cells::{Gru, Lstm};
use tapegrad::check::{Mode, Report, check_case};
use tapegrad::fd::Verdict;
use tapegrad::fd::worst_relative_error;
use tapegrad::forward::forward_gradients;

/// True when finite differences confirmed every quantity and total (`ok`, not merely not
/// failed).
fn all_confirmed(report: &Report) -> bool {
    let steps = report.steps.iter().flatten().map(|(_, c)| c);
    let totals = report.totals.iter().map(|(_, c)| c);
    steps.chain(totals).all(|c| c.fd_verdict() == Verdict::Ok)
}

#[test]
fn lstm_hand_tape_and_forward_mode_agree_for_every_head_and_gate_order() {
    let mut seed = 100;
    for head in HeadKind::all(3) {
        for order in [GateOrder::Ifog, GateOrder::Ifgo] {
            for (batch, steps) in [(1, 1), (3, 4)] {
                seed += 1;
                let dims = Dims {
                    batch,
                    steps,
                    features: 3,
                    hidden: 4,
                };
                let case = Case::<f64, Lstm>::random(seed, dims, head, Lstm::new(order));
                let hand = case.bptt().unwrap();
                let tape = case.tape_gradients().unwrap();
                let forward = forward_gradients(&case).unwrap();
                for (other, name) in [(&tape, "tape"), (&forward, "forward")] {
                    let (err, at) = worst_relative_error(&hand, other);
                    assert!(
                        err <= 1e-12,
                        "{head:?} {order:?}: hand vs {name}: {err:e} at {at}"
                    );
                }
                let report = check_case(&case, Mode::Exhaustive).unwrap();
                assert!(report.passed(), "{head:?} {order:?} B{batch} T{steps}");
                assert!(
                    all_confirmed(&report),
                    "{head:?} {order:?} B{batch} T{steps}"
                );
            }
        }
    }
}

#[test]
fn gru_hand_tape_and_forward_mode_agree_for_every_head() {
    let mut seed = 200;
    for head in HeadKind::all(3) {
        for (batch, steps) in [(1, 1), (3, 4)] {
            seed += 1;
            let dims = Dims {
                batch,
                steps,
                features: 3,
                hidden: 4,
            };
            let case = Case::<f64, Gru>::random(seed, dims, head, Gru);
            let hand = case.bptt().unwrap();
            let tape = case.tape_gradients().unwrap();
            let forward = forward_gradients(&case).unwrap();
            for (other, name) in [(&tape, "tape"), (&forward, "forward")] {
                let (err, at) = worst_relative_error(&hand, other);
                assert!(err <= 1e-12, "{head:?}: hand vs {name}: {err:e} at {at}");
            }
            let report = check_case(&case, Mode::Exhaustive).unwrap();
            assert!(report.passed(), "{head:?} B{batch} T{steps}");
            assert!(all_confirmed(&report), "{head:?} B{batch} T{steps}");
        }
    }
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
        for mode in [Mode::Exhaustive, Mode::Directional { seed: 1 }] {
            assert!(check_case(&lstm, mode).unwrap().passed(), "LSTM {head:?}");
            let gru = Case::<f32, Gru>::random(seed, dims, head, Gru);
            assert!(check_case(&gru, mode).unwrap().passed(), "GRU {head:?}");
        }
    }
}
