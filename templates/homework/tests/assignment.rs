//! The assignment: CS231n's `rnn_backward(dout, cache)` on the case in `assignment.case.json`.
//!
//! The first tests pin what tapegrad prints for the reference solution; the last one checks a
//! student's gradients (`student.grads.json`, as `tapegrad grads --json` writes them, or from
//! their own numpy) and pins the diagnosis. After changing the case, run `cargo insta review`
//! and read every changed line before accepting it.

use serde_json::Value;
use tapegrad::case::Case;
use tapegrad::cells::Rnn;
use tapegrad::check::Mode;
use tapegrad::printed;
use tapegrad_cli::json;

/// The assignment's case, read as `tapegrad --case` reads it.
fn case() -> Case<f64, Rnn> {
    let text = std::fs::read_to_string("assignment.case.json").expect("the case file is here");
    let value = json::parse_json(&text, "case file").expect("the case is valid JSON");
    let (parsed, _layout) = json::case_in_layout::<Rnn>(&value).expect("the case is valid");
    parsed.value
}

#[test]
fn the_forward_trace() {
    insta::assert_snapshot!("forward", printed::forward(&case()).unwrap());
}

#[test]
fn the_backward_trace_by_hand() {
    insta::assert_snapshot!("backward", printed::backward(&case()).unwrap());
}

/// The check's verdicts, not its errors: a finite difference's error is a measurement that
/// may move in its last digit from one machine to another; its verdict does not.
#[test]
fn every_step_checks() {
    let text = printed::verdicts(&case(), Mode::Exhaustive).unwrap();
    assert!(
        text.contains("PASS: ") && text.contains(", 0 failed"),
        "{text}"
    );
    insta::assert_snapshot!("check", text);
}

/// Every number rounded to 9 significant digits, as the traces print them: the JSON then
/// reads the same on every machine.
fn rounded(v: Value) -> Value {
    match v {
        Value::Number(n) => {
            let x: f64 = format!("{:.8e}", n.as_f64().unwrap()).parse().unwrap();
            serde_json::json!(x)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(rounded).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, rounded(v))).collect())
        }
        other => other,
    }
}

/// The loss and the totals of `tapegrad grads --json` (its `steps` are in the traces above).
#[test]
fn the_gradients_as_json() {
    let grads = json::gradients_json::<Rnn>(&case().bptt().unwrap());
    let totals = serde_json::json!({"loss": grads["loss"], "grads": grads["grads"]});
    insta::assert_json_snapshot!("grads", rounded(totals));
}

#[test]
fn the_students_gradients() {
    let case = case();
    let text = std::fs::read_to_string("student.grads.json").expect("the student's file");
    let given = json::parse_given(&text, &case)
        .expect("a readable gradient file")
        .value;
    let diagnosis = printed::against(&case, &given).unwrap();
    // The snapshot first: when the diagnosis changes, the diff says where and why.
    insta::assert_snapshot!("student", diagnosis);
    assert!(diagnosis.trim_end().ends_with("AGREE"), "{diagnosis}");
}
