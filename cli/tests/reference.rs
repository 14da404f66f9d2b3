//! The shipped samples in `cases/`, read as the command line reads them: hand BPTT and the tape
//! reproduce their independently computed float64 gradients, and the softmax sample's backward
//! trace is kept as a snapshot.

use serde_json::Value;
use tapegrad::Matrix;
use tapegrad::case::Case;
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

/// Both methods reproduce the reference gradients shipped in `cases/` to round-off.
fn matches_reference(case_file: &str, grads_file: &str) {
    let text = std::fs::read_to_string(case_file).unwrap();
    let case: Case<f64> = tapegrad_cli::json::parse_case(&text).unwrap().value;
    let want: Value = serde_json::from_str(&std::fs::read_to_string(grads_file).unwrap()).unwrap();
    for got in [case.bptt().unwrap(), case.tape_gradients().unwrap()] {
        assert!((got.loss - want["loss"].as_f64().unwrap()).abs() < 1e-13);
        // Every total: w_x, w_h, b, h0, and w_out, b_out for the softmax head.
        let expected = if case.head.kind() == "softmax_ce" {
            6
        } else {
            4
        };
        assert_eq!(got.totals.len(), expected);
        for (key, m) in &got.totals {
            let err = relative_error(m, &reference(&want["grads"][key]));
            assert!(err < 1e-13, "{grads_file}: grads.{key} off by {err:e}");
        }
        for (i, step) in got.steps.iter().enumerate() {
            assert_eq!(step.len(), 6, "dh, da, dx, dw_x, dw_h, db");
            for (name, m) in step {
                let err = relative_error(m, &reference(&want["steps"][i][name]));
                assert!(
                    err < 1e-13,
                    "{grads_file}: step {} {name} off by {err:e}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn canonical_gradients_match_the_reference() {
    matches_reference(
        "../cases/canonical.case.json",
        "../cases/canonical.grads.json",
    );
}

#[test]
fn softmax_gradients_match_the_reference() {
    matches_reference(
        "../cases/softmax_small.case.json",
        "../cases/softmax_small.grads.json",
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
