//! The shipped samples in `cases/`, read as the command line reads them: hand BPTT and the tape
//! reproduce their independently computed float64 gradients, and the softmax sample's backward
//! trace is kept as a snapshot.

use serde_json::Value;
use tapegrad::Matrix;
use tapegrad::case::Case;
use tapegrad::cell::{Cell, quantities};
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::fd::relative_error;
use tapegrad::trace;

/// Reads a matrix out of the independently computed reference gradients (numpy, float64).
fn reference(value: &Value) -> Matrix<f64> {
    let rows: Vec<Vec<f64>> = match value {
        Value::Array(items) if items.first().is_some_and(Value::is_array) => {
            serde_json::from_value(value.clone()).unwrap()
        }
        _ => vec![serde_json::from_value(value.clone()).unwrap()],
    };
    Matrix::from_rows(&rows).unwrap()
}

/// Both methods reproduce the reference gradients shipped in `cases/` to `tol`, relative: every
/// total and every per-step quantity of the cell `C`.
fn matches_reference<C: Cell>(case_file: &str, grads_file: &str, tol: f64) {
    let text = std::fs::read_to_string(case_file).unwrap();
    let case: Case<f64, C> = tapegrad_cli::json::parse_case(&text).unwrap().value;
    let want: Value = serde_json::from_str(&std::fs::read_to_string(grads_file).unwrap()).unwrap();
    for got in [case.bptt().unwrap(), case.tape_gradients().unwrap()] {
        let loss = want["loss"].as_f64().unwrap();
        assert!(
            (got.loss - loss).abs() <= tol * loss.abs(),
            "{grads_file}: loss"
        );
        // Every total: the cell's parameters, its initial states, and the head's parameters.
        let expected = C::PARAMS.len() + C::STATES.len() + case.head.params().len();
        assert_eq!(got.totals.len(), expected);
        for (key, m) in &got.totals {
            let err = relative_error(m, &reference(&want["grads"][key]));
            assert!(err < tol, "{grads_file}: grads.{key} off by {err:e}");
        }
        for (i, step) in got.steps.iter().enumerate() {
            assert_eq!(step.len(), quantities::<C>().len());
            for (name, m) in step {
                let err = relative_error(m, &reference(&want["steps"][i][name]));
                assert!(
                    err < tol,
                    "{grads_file}: step {} {name} off by {err:e}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn canonical_gradients_match_the_reference() {
    matches_reference::<Rnn>(
        "../cases/canonical.case.json",
        "../cases/canonical.grads.json",
        1e-13,
    );
}

#[test]
fn softmax_gradients_match_the_reference() {
    matches_reference::<Rnn>(
        "../cases/softmax_small.case.json",
        "../cases/softmax_small.grads.json",
        1e-13,
    );
}

/// The LSTM and GRU samples, every head (and the GRU with its reset gate before the product),
/// against HIPS autograd's float64 gradients
/// (`scripts/reference_cells.py`: the equations in numpy, the per-step quantities from untied
/// copies and added zeros).
#[test]
fn lstm_and_gru_gradients_match_autograd() {
    for head in ["sum_last", "softmax_ce", "mse_all", "mse_last"] {
        let files = |cell: &str| {
            (
                format!("../cases/{cell}_{head}.case.json"),
                format!("../cases/{cell}_{head}.grads.json"),
            )
        };
        let (case, grads) = files("lstm");
        matches_reference::<Lstm>(&case, &grads, 1e-13);
        let (case, grads) = files("gru");
        matches_reference::<Gru>(&case, &grads, 1e-13);
    }
    // The GRU with the reset gate before the product (Cho, d2l).
    matches_reference::<Gru>(
        "../cases/gru_reset_before_softmax_ce.case.json",
        "../cases/gru_reset_before_softmax_ce.grads.json",
        1e-13,
    );
}

#[test]
fn backward_trace_of_the_softmax_sample_by_tape() {
    let text = std::fs::read_to_string("../cases/softmax_small.case.json").unwrap();
    let case: Case<f64> = tapegrad_cli::json::parse_case(&text).unwrap().value;
    let grads = case.tape_gradients().unwrap();
    insta::assert_snapshot!(
        "backward_trace_softmax",
        trace::backward_trace(&case, &grads, "tape")
    );
}

/// `tapegrad forward --json` on a case file: each step's value of `key` (`h`, `c`).
fn forward_states(case_file: &str, key: &str) -> Vec<Vec<Vec<f64>>> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["forward", "--json", "--case", case_file])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    steps
        .iter()
        .map(|s| serde_json::from_value(s[key].clone()).unwrap())
        .collect()
}

/// Every value within half a unit of the last of the 8 printed decimals of `published`.
fn reproduces(got: &[Vec<f64>], published: &[&[f64]], what: &str) {
    assert_eq!(got.len(), published.len(), "{what}: rows");
    for (i, (g, p)) in got.iter().zip(published).enumerate() {
        assert_eq!(g.len(), p.len(), "{what}: row {i}");
        for (j, (g, p)) in g.iter().zip(p.iter()).enumerate() {
            assert!(
                (g - p).abs() <= 5e-9 + 1e-15,
                "{what}[{i}][{j}]: {g} against {p}"
            );
        }
    }
}

/// CS231n assignment 3's `lstm_forward` check (`N, D, H, T = 2, 5, 4, 3`, every array an
/// `np.linspace`; `cases/lstm_cs231n.case.json`): `expected_h`, as the notebook prints it.
#[test]
fn the_lstm_reproduces_the_cs231n_forward_values() {
    let h = forward_states("../cases/lstm_cs231n.case.json", "h");
    let expected_h: [[&[f64]; 2]; 3] = [
        [
            &[0.01764008, 0.01823233, 0.01882671, 0.0194232],
            &[0.45767879, 0.4761092, 0.4936887, 0.51041945],
        ],
        [
            &[0.11287491, 0.12146228, 0.13018446, 0.13902939],
            &[0.6704845, 0.69350089, 0.71486014, 0.7346449],
        ],
        [
            &[0.31358768, 0.33338627, 0.35304453, 0.37250975],
            &[0.81733511, 0.83677871, 0.85403753, 0.86935314],
        ],
    ];
    assert_eq!(h.len(), 3);
    for (t, (got, want)) in h.iter().zip(&expected_h).enumerate() {
        reproduces(got, want, &format!("h_{}", t + 1));
    }
    // Its `lstm_step_forward` check, one step from given h0 and c0: next_h and next_c.
    let step = "../cases/lstm_cs231n_step.case.json";
    let expected_next_h: [&[f64]; 3] = [
        &[0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        &[0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        &[0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299],
    ];
    let expected_next_c: [&[f64]; 3] = [
        &[0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        &[0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        &[0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676],
    ];
    reproduces(&forward_states(step, "h")[0], &expected_next_h, "next_h");
    reproduces(&forward_states(step, "c")[0], &expected_next_c, "next_c");
}
