//! The LSTM and GRU cells: hand BPTT, the tape, forward mode and finite differences agree at
//! every step, for every head (and both LSTM gate orders), in f64 and f32.

use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::lstm::GateOrder;
use tapegrad::cells::{Gru, Lstm};
use tapegrad::check::{Mode, check_case};
use tapegrad::fd::worst_relative_error;
use tapegrad::forward::forward_gradients;

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
        }
    }
}
