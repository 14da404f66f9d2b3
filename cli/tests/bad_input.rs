//! Bad input, class by class: every case or gradient file a student may get wrong
//! ends in exit status 2 and one line that names the field and, where it applies, the shape
//! expected and the shape found. Nothing panics, overflows the stack or hangs.

use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::Instant;
use tapegrad::case::Case;
use tapegrad::cells::Rnn;
use tapegrad_cli::json::{parse_case, parse_given};

/// The canonical case as a JSON value, to be broken one field at a time.
fn canonical() -> Value {
    json!({
        "x": [[[0.01, 0.02], [0.02, 0.03], [0.03, 0.04]]],
        "w_x": [[0.01, 0.03, 0.05, 0.07], [0.03, 0.05, 0.07, 0.08]],
        "w_h": [[0.01, 0.03, 0.05, 0.07], [0.02, 0.04, 0.06, 0.08],
                [0.03, 0.05, 0.07, 0.08], [0.04, 0.06, 0.08, 0.1]],
        "b": [1.0, 1.0, 1.0, 1.0],
    })
}

/// The canonical case with `key` set to `value` (or removed, for `Value::Null`).
fn with(key: &str, value: Value) -> String {
    let mut case = canonical();
    let obj = case.as_object_mut().unwrap();
    if value.is_null() {
        obj.remove(key);
    } else {
        obj.insert(key.to_string(), value);
    }
    case.to_string()
}

/// A softmax head on the canonical case (hidden 4, 3 classes, batch 1), with `key` changed.
fn softmax_with(key: &str, value: Value) -> String {
    let mut loss = json!({
        "kind": "softmax_ce",
        "w_out": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]],
        "b_out": [0, 0, 0],
        "labels": [2],
    });
    loss.as_object_mut().unwrap().insert(key.to_string(), value);
    with("loss", loss)
}

/// Runs `tapegrad ARGS… FLAG FILE` with `text` written to FILE, one file per test name.
fn run_with_file(name: &str, flag: &str, text: &str, args: &[&str]) -> Output {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(args)
        .arg(flag)
        .arg(&path)
        .output()
        .expect("the tapegrad binary runs");
    let _ = std::fs::remove_file(&path);
    out
}

/// Asserts that `out` is a bad-input refusal: exit status 2, and one line on stderr that
/// contains every one of `parts`. Returns the line, without the `tapegrad: FILE: ` prefix.
fn refused(out: &Output, parts: &[&str]) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(out.stdout.is_empty(), "nothing on stdout for bad input");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("tapegrad: "), "{err}");
    for part in parts {
        assert!(err.contains(part), "expected {part:?} in: {err}");
    }
    err.trim_end().to_string()
}

/// A bad case file: `check --case FILE` refuses it with a message holding `parts`.
fn bad_case(name: &str, text: &str, parts: &[&str]) -> String {
    refused(&run_with_file(name, "--case", text, &["check"]), parts)
}

/// A bad gradient file for the canonical case: `check --against FILE` refuses it.
fn bad_grads(name: &str, text: &str, parts: &[&str]) -> String {
    refused(&run_with_file(name, "--against", text, &["check"]), parts)
}

#[test]
fn empty_and_blank_files() {
    bad_case("empty", "", &["case file: the file is empty"]);
    bad_case("blank", " \n\t\n", &["case file: the file is empty"]);
    bad_grads("empty_grads", "", &["gradient file: the file is empty"]);
}

#[test]
fn text_that_is_not_json() {
    bad_case(
        "not_json",
        "x = [[1, 2]]",
        &["case file: not valid JSON at line 1, column 1"],
    );
    // Python's repr pasted instead of json.dump: single quotes, True/None.
    bad_case(
        "repr",
        "{'x': [[[1.0]]]}",
        &["line 1, column 2", "JSON needs double quotes"],
    );
    bad_case(
        "python_none",
        r#"{"x": None}"#,
        &["line 1, column 7", "true, false and null"],
    );
    bad_grads(
        "not_json_grads",
        "grads",
        &["gradient file: not valid JSON"],
    );
}

#[test]
fn a_top_level_list_or_number() {
    bad_case(
        "list",
        "[[[0.01, 0.02]]]",
        &[
            "case file: expected a JSON object",
            "found a 3-D array of shape (1, 1, 2)",
        ],
    );
    bad_case(
        "number",
        "3",
        &["expected a JSON object", "found the number 3"],
    );
    bad_grads(
        "list_grads",
        "[1, 2]",
        &[
            "gradient file: expected a JSON object",
            "found a 1-D array of shape (2,)",
        ],
    );
}

#[test]
fn truncated_json() {
    let text = canonical().to_string();
    bad_case(
        "truncated",
        &text[..text.len() / 2],
        &[
            "not valid JSON at line 1, column",
            "EOF while parsing",
            "ends too early",
        ],
    );
    let grads = std::fs::read_to_string("../cases/canonical.grads.json").unwrap();
    bad_grads(
        "truncated_grads",
        &grads[..grads.len() - 10],
        &["gradient file: not valid JSON", "ends too early"],
    );
}

#[test]
fn trailing_garbage() {
    let text = format!("{}\n}}", canonical());
    bad_case(
        "trailing",
        &text,
        &["not valid JSON at line 2, column 1: trailing characters"],
    );
}

#[test]
fn missing_required_fields() {
    for (key, expected) in [
        ("x", "(batch, steps, features)"),
        ("w_x", "(features, hidden)"),
        ("w_h", "(hidden, hidden)"),
        ("b", "(hidden,)"),
    ] {
        bad_case(
            &format!("missing_{key}"),
            &with(key, Value::Null),
            &[&format!(
                ": {key}: required field is missing: expected an array of shape {expected}"
            )],
        );
    }
    bad_case(
        "missing_kind",
        &with("loss", json!({"w_out": [[1.0]]})),
        &["loss.kind: required field is missing", "\"softmax_ce\""],
    );
    bad_case(
        "missing_labels",
        &with(
            "loss",
            json!({"kind": "softmax_ce", "w_out": [[1], [1], [1], [1]], "b_out": [0]}),
        ),
        &["loss.labels: required field is missing"],
    );
}

/// A key spelled with other case or underscores would be ignored: it is refused by name.
#[test]
fn misspelled_keys_are_named() {
    let mut case = canonical();
    let w_h = case.as_object_mut().unwrap().remove("w_h").unwrap();
    case.as_object_mut().unwrap().insert("W_h".into(), w_h);
    bad_case(
        "misspelled",
        &case.to_string(),
        &["W_h: unknown key; did you mean \"w_h\"?"],
    );
    bad_case(
        "misspelled_h0",
        &with("H0", json!([[0, 0, 0, 0]])),
        &["H0: unknown key; did you mean \"h0\"?"],
    );
    bad_case(
        "head_outside_loss",
        &with("labels", json!([1])),
        &["labels: belongs inside the \"loss\" object"],
    );
    bad_case(
        "targets_outside_loss",
        &with("targets", json!([[[0, 0, 0, 0]]])),
        &["targets: belongs inside the \"loss\" object, e.g. {\"loss\": {\"kind\": \"mse_all\""],
    );
    bad_case(
        "head_misspelled_outside_loss",
        &with("W_out", json!([[1, 2, 3]])),
        &["W_out: belongs inside the \"loss\" object"],
    );
    // A control character in a key is shown escaped, so the message stays on one line.
    bad_case(
        "newline_in_key",
        &with("activatio\n", json!("sigmoid")),
        &["\"activatio\\n\": unknown key; did you mean \"activation\"?"],
    );
    // One letter off a long key: running on would silently use tanh.
    bad_case(
        "one_letter_off",
        &with("activaton", json!("sigmoid")),
        &["activaton: unknown key; did you mean \"activation\"?"],
    );
    bad_grads(
        "misspelled_grads",
        r#"{"grads": {"dW_h": [[1]]}}"#,
        &["grads.dW_h: unknown key; did you mean \"w_h\"?"],
    );
    bad_grads(
        "misspelled_step",
        r#"{"steps": [{"t": 1, "dW_h": [[1]]}]}"#,
        &["steps[0].dW_h: unknown key; did you mean \"dw_h\"?"],
    );
}

/// A key the tool does not read, and that is not a misspelling of one, is read past with a
/// warning on stderr: the output and the exit status are those of the file without it.
#[test]
fn unknown_keys_are_read_past_with_a_warning() {
    let plain = run_with_file(
        "plain",
        "--case",
        &canonical().to_string(),
        &["grads", "--json"],
    );
    let noted = run_with_file(
        "noted",
        "--case",
        &with("notes", json!("exported from my notebook")),
        &["grads", "--json"],
    );
    assert_eq!(noted.status.code(), Some(0));
    assert_eq!(noted.stdout, plain.stdout);
    let err = String::from_utf8(noted.stderr).unwrap();
    assert!(
        err.starts_with("tapegrad: warning: ")
            && err.contains(": notes: not a key the tool reads here (x, w_x, w_h, b, h0, activation, loss, cell, layout, weights); ignored"),
        "{err}"
    );
    // In a gradient file: the rest of the step is still compared, and found wrong.
    let grads = r#"{"steps": [{"t": 3, "dh": [[2, 2, 2, 2]], "dh_extra": [[1, 1, 1, 1]]}]}"#;
    let out = run_with_file("noted_grads", "--against", grads, &["check"]);
    assert_eq!(out.status.code(), Some(1), "dh_3 is all ones, not twos");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("steps[0].dh_extra: not a key the tool reads here"),
        "{err}"
    );
    // A note beside a loss leaves the loss to compare; arrays under unread keys would not.
    let noted_loss = r#"{"loss": 3.30857053, "notes": "from my notebook"}"#;
    let out = run_with_file("noted_loss", "--against", noted_loss, &["check"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("notes: not a key the tool reads here"),
        "{err}"
    );
}

#[test]
fn two_dimensional_where_three_are_needed() {
    bad_case(
        "x_2d",
        &with("x", json!([[0.01, 0.02], [0.02, 0.03]])),
        &[
            "x: expected a 3-D array (batch, steps, features), found a 2-D array of shape (2, 2) \
             (for a batch of one, add the axis in numpy: x[None].tolist())",
        ],
    );
    bad_case(
        "targets_2d",
        &with(
            "loss",
            json!({"kind": "mse_all", "targets": [[0, 0, 0, 0]]}),
        ),
        &[
            "loss.targets: expected a 3-D array (batch, steps, hidden), found a 2-D array of shape (1, 4)",
        ],
    );
    bad_case(
        "b_2d",
        &with("b", json!([[1, 1, 1, 1]])),
        &["b: expected a 1-D array (hidden,), found a 2-D array of shape (1, 4)"],
    );
    bad_case(
        "w_h_1d",
        &with("w_h", json!([1, 2, 3, 4])),
        &["w_h: expected a 2-D array (hidden, hidden), found a 1-D array of shape (4,)"],
    );
}

#[test]
fn ragged_arrays() {
    bad_case(
        "ragged_row",
        &with("x", json!([[[0.01, 0.02], [0.02]]])),
        &["x[0][1]: the array is ragged: expected 2 entries, as x[0][0] has, found 1"],
    );
    bad_case(
        "ragged_steps",
        &with("x", json!([[[0.01, 0.02], [0.02, 0.03]], [[0.01, 0.02]]])),
        &["x[1]: the array is ragged: expected 2 entries, as x[0] has, found 1"],
    );
    bad_case(
        "ragged_w_h",
        &with(
            "w_h",
            json!([[1, 2, 3, 4], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4]]),
        ),
        &["w_h[1]: the array is ragged: expected 4 entries, as w_h[0] has, found 3"],
    );
    bad_case(
        "number_for_row",
        &with("x", json!([[[0.01, 0.02], 5]])),
        &["x[0][1]: expected an array of 2 entries, as x[0][0] is, found the number 5"],
    );
    bad_grads(
        "ragged_grads",
        r#"{"grads": {"w_x": [[1, 2, 3, 4], [1, 2]]}}"#,
        &["grads.w_x[1]: the array is ragged: expected 4 entries, as grads.w_x[0] has, found 2"],
    );
}

#[test]
fn wrong_shape_for_each_field() {
    bad_case(
        "w_x_rows",
        &with("w_x", json!([[0.01, 0.03, 0.05, 0.07]])),
        &["w_x: expected shape (2, hidden) with features = 2 from x, found (1, 4)"],
    );
    bad_case(
        "w_h_not_square",
        &with("w_h", json!([[1, 2, 3, 4], [1, 2, 3, 4]])),
        &["w_h: expected shape (4, 4) (hidden, hidden), hidden from w_x, found (2, 4)"],
    );
    bad_case(
        "b_length",
        &with("b", json!([1, 1, 1])),
        &["b: expected shape (4,) (hidden,), hidden from w_x, found (3,)"],
    );
    bad_case(
        "h0_batch",
        &with("h0", json!([[0, 0, 0, 0], [0, 0, 0, 0]])),
        &["h0: expected shape (1, 4) (batch, hidden), from x and w_x, found (2, 4)"],
    );
    bad_case(
        "w_out_rows",
        &softmax_with("w_out", json!([[1, 2, 3]])),
        &["loss.w_out: expected shape (4, classes) with hidden = 4 from w_x, found (1, 3)"],
    );
    bad_case(
        "b_out_length",
        &softmax_with("b_out", json!([0, 0])),
        &["loss.b_out: expected shape (3,) (classes,), classes from loss.w_out, found (2,)"],
    );
    bad_case(
        "mse_targets",
        &with(
            "loss",
            json!({"kind": "mse_all", "targets": [[[0, 0, 0, 0], [0, 0, 0, 0]]]}),
        ),
        &[
            "loss.targets: expected shape (1, 3, 4) (batch, steps, hidden), from x and w_x, found (1, 2, 4)",
        ],
    );
    bad_case(
        "mse_last_target",
        &with("loss", json!({"kind": "mse_last", "target": [[0, 0, 0]]})),
        &["loss.target: expected shape (1, 4) (batch, hidden), from x and w_x, found (1, 3)"],
    );
    // The gradient file: each key against the case's shapes.
    bad_grads(
        "grads_w_h",
        r#"{"grads": {"w_h": [[1, 2], [3, 4]]}}"#,
        &["grads.w_h: expected shape (4, 4) (as in the case), found (2, 2)"],
    );
    bad_grads(
        "grads_b",
        r#"{"grads": {"b": [1, 2]}}"#,
        &["grads.b: expected shape (4,) (as in the case), found (2,)"],
    );
    bad_grads(
        "grads_x",
        r#"{"grads": {"x": [[[1, 2]]]}}"#,
        &["grads.x: expected shape (1, 3, 2) (batch, steps, features), as x, found (1, 1, 2)"],
    );
    bad_grads(
        "step_dh",
        r#"{"steps": [{"t": 3, "dh": [[1, 2, 3, 4], [1, 2, 3, 4]]}]}"#,
        &["steps[0].dh: expected shape (1, 4) (as in the case), found (2, 4)"],
    );
    bad_grads(
        "w_out_without_head",
        r#"{"grads": {"w_out": [[1]]}}"#,
        &["grads.w_out: the case's head has no such parameter"],
    );
}

#[test]
fn strings_where_numbers_belong() {
    bad_case(
        "string_entry",
        &with("b", json!([1, "1", 1, 1])),
        &["b[1]: expected a number, found the string \"1\""],
    );
    bad_case(
        "string_array",
        &with("w_h", json!("[[1, 2], [3, 4]]")),
        &["w_h: expected a 2-D array (hidden, hidden), found the string"],
    );
    bad_case(
        "activation_number",
        &with("activation", json!(1)),
        &["activation: expected a string", "found the number 1"],
    );
    bad_grads(
        "string_loss",
        r#"{"loss": "3.3"}"#,
        &["loss: expected a number, found the string \"3.3\""],
    );
    bad_grads(
        "string_t",
        r#"{"steps": [{"t": "1", "dh": [[1, 2, 3, 4]]}]}"#,
        &[
            "steps[0].t: expected the step number, a whole number from 1 to 3, found the string \"1\"",
        ],
    );
}

/// Python's `json.dump` writes `NaN`, `Infinity` and `-Infinity`, which JSON does not allow;
/// the message names the exact entry.
#[test]
fn nan_and_infinity_tokens_name_the_entry() {
    let text = with("b", json!([1, 1, 1, 1])).replace("[1,1,1,1]", "[1,NaN,1,1]");
    bad_case(
        "nan",
        &text,
        &["b[1]: found NaN, which Python's json.dump writes for nan or inf"],
    );
    let text = canonical()
        .to_string()
        .replace("0.03,0.04", "0.03,-Infinity");
    bad_case("neg_inf", &text, &["x[0][2][1]: found -Infinity"]);
    let text = with("h0", json!([[0, 0, 0, 0]])).replace("[[0,0,0,0]]", "[[0,0,Infinity,0]]");
    bad_case("inf", &text, &["h0[0][2]: found Infinity"]);
    bad_grads(
        "nan_grads",
        r#"{"loss": 3.3, "steps": [{"t": 2, "da": [[0.1, NaN, 0.2, 0.3]]}]}"#,
        &["steps[0].da[0][1]: found NaN"],
    );
    bad_grads("nan_loss", r#"{"loss": NaN}"#, &["loss: found NaN"]);
    // A NaN token and a real syntax error after it: the syntax error, at its place in the
    // user's own text.
    bad_case(
        "nan_then_garbage",
        "{\"b\": [NaN, 1],\n \"x\": [1, 2,, 3]}",
        &["not valid JSON at line 2, column 13: expected value"],
    );
}

#[test]
fn numbers_that_overflow_a_float64() {
    let text = with("b", json!([1, 1, 1, 1])).replace("[1,1,1,1]", "[1,1,1e999,1]");
    bad_case(
        "overflow",
        &text,
        &["b[2]: the number 1e999 does not fit in a float64"],
    );
    let text = canonical()
        .to_string()
        .replace("0.05,0.07]", "0.05,-2e400]");
    bad_case(
        "overflow_neg",
        &text,
        &["w_x[0][3]: the number -2e400 does not fit"],
    );
}

#[test]
fn zero_steps_and_empty_batches() {
    bad_case(
        "zero_steps",
        &with("x", json!([[]])),
        &[
            "x: expected a 3-D array (batch, steps, features) with no empty axis, found shape (1, 0): x[0] is empty",
        ],
    );
    bad_case(
        "empty_batch",
        &with("x", json!([])),
        &[
            "x: expected a 3-D array (batch, steps, features)",
            "found shape (0,): x is empty",
        ],
    );
    bad_case(
        "zero_features",
        &with("x", json!([[[], [], []]])),
        &["found shape (1, 3, 0): x[0][0] is empty"],
    );
    bad_case(
        "empty_b",
        &with("b", json!([])),
        &["b: expected a 1-D array (hidden,) with no empty axis, found shape (0,)"],
    );
    bad_case(
        "empty_labels",
        &softmax_with("labels", json!([])),
        &["loss.labels: expected shape (1,) (one label per sequence, batch from x), found (0,)"],
    );
}

#[test]
fn unknown_activation_or_loss_kind() {
    bad_case(
        "relu",
        &with("activation", json!("relu")),
        &[
            "activation: unknown activation \"relu\"; expected \"tanh\", \"sigmoid\" or \"identity\"",
        ],
    );
    bad_case(
        "hinge",
        &with("loss", json!({"kind": "hinge"})),
        &["loss.kind: unknown loss kind \"hinge\"; expected \"sum_last\", \"softmax_ce\""],
    );
    bad_case(
        "loss_string",
        &with("loss", json!("softmax_ce")),
        &["loss: expected an object {\"kind\": …}, found the string \"softmax_ce\""],
    );
}

/// `"cell"` names the cell; the RNN is the only one yet, and the default.
#[test]
fn the_cell_a_case_names() {
    let plain = run_with_file(
        "cell_absent",
        "--case",
        &canonical().to_string(),
        &["grads"],
    );
    let named = run_with_file(
        "cell_rnn",
        "--case",
        &with("cell", json!("rnn")),
        &["grads"],
    );
    assert_eq!(named.status.code(), Some(0));
    assert!(named.stderr.is_empty(), "\"cell\" is a key the tool reads");
    assert_eq!(
        named.stdout, plain.stdout,
        "\"cell\": \"rnn\" is the default"
    );
    bad_case(
        "cell_unknown",
        &with("cell", json!("transformer")),
        &["cell: unknown cell \"transformer\"; expected \"rnn\", \"lstm\" or \"gru\""],
    );
    bad_case(
        "cell_number",
        &with("cell", json!(3)),
        &["cell: expected the name of a cell, found the number 3"],
    );
}

#[test]
fn bad_labels() {
    bad_case(
        "label_range",
        &softmax_with("labels", json!([3])),
        &["loss.labels[0]: label 3 is out of range: expected 0 ≤ label < 3"],
    );
    bad_case(
        "label_negative",
        &softmax_with("labels", json!([-1])),
        &["loss.labels[0]: expected a class index (a whole number ≥ 0) or a one-hot row, found -1"],
    );
    bad_case(
        "label_fraction",
        &softmax_with("labels", json!([1.5])),
        &[
            "loss.labels[0]: expected a class index (a whole number ≥ 0) or a one-hot row, found 1.5",
        ],
    );
    bad_case(
        "label_count",
        &softmax_with("labels", json!([0, 1])),
        &["loss.labels: expected shape (1,) (one label per sequence, batch from x), found (2,)"],
    );
    bad_case(
        "label_one_hot_two",
        &softmax_with("labels", json!([[0, 1, 1]])),
        &["loss.labels[0]: a one-hot label has one 1, found two (at [1] and [2])"],
    );
    bad_case(
        "label_one_hot_none",
        &softmax_with("labels", json!([[0, 0, 0]])),
        &["loss.labels[0]: a one-hot label has one 1, found none"],
    );
    bad_case(
        "label_one_hot_soft",
        &softmax_with("labels", json!([[0.2, 0.8, 0]])),
        &["loss.labels[0][0]: a one-hot label holds 0 and 1 only, found the number 0.2"],
    );
    bad_case(
        "label_one_hot_width",
        &softmax_with("labels", json!([[0, 1]])),
        &[
            "loss.labels[0]: expected shape (3,) for a one-hot label (classes from loss.w_out), found (2,)",
        ],
    );
    // A float array of whole numbers, as numpy writes float labels, is fine.
    let out = run_with_file(
        "label_float",
        "--case",
        &softmax_with("labels", json!([2.0])),
        &["forward"],
    );
    assert_eq!(out.status.code(), Some(0));
}

/// The options of the heads: a reduction is "mean" or "sum", half is true or false, and a head
/// that takes neither says so; softmax_ce_all's labels and mask are (batch, steps).
#[test]
fn bad_head_options() {
    bad_case(
        "reduction_word",
        &softmax_with("reduction", json!("average")),
        &["loss.reduction: expected \"mean\" or \"sum\", found the string \"average\""],
    );
    bad_case(
        "half_on_softmax",
        &softmax_with("half", json!(true)),
        &["loss.half: the softmax_ce head takes no half (only mse_all and mse_last do)"],
    );
    bad_case(
        "reduction_on_sum_last",
        &with("loss", json!({"kind": "sum_last", "reduction": "sum"})),
        &["loss.reduction: the sum_last head takes no reduction"],
    );
    bad_case(
        "half_not_bool",
        &with(
            "loss",
            json!({"kind": "mse_last", "target": [[0, 0, 0, 0]], "half": 1}),
        ),
        &["loss.half: expected true or false, found the number 1"],
    );
    let all = |key: &str, value: Value| {
        let mut loss = json!({
            "kind": "softmax_ce_all",
            "w_out": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]],
            "b_out": [0, 0, 0],
            "labels": [[2, 0, 1]],
        });
        loss.as_object_mut().unwrap().insert(key.to_string(), value);
        with("loss", loss)
    };
    bad_case(
        "all_labels_steps",
        &all("labels", json!([[2, 0]])),
        &[
            "loss.labels[0]: expected 3 entries (one per step of x), found a 1-D array of shape (2,)",
        ],
    );
    bad_case(
        "all_labels_batch",
        &all("labels", json!([2, 0, 1])),
        &["loss.labels: expected (1, 3) (batch, steps) class indices"],
    );
    bad_case(
        "all_mask_value",
        &all("mask", json!([[1, 0, 0.5]])),
        &["loss.mask[0][2]: expected true/false or 1/0, found the number 0.5"],
    );
    bad_case(
        "upstream_shape",
        &with("loss", json!({"kind": "upstream", "dh": [[[1, 1, 1, 1]]]})),
        &[
            "loss.dh: expected shape (1, 3, 4) (batch, steps, hidden), from x and w_x, found (1, 1, 4)",
        ],
    );
}

/// A key given twice in one object is refused by its path, in case and gradient files alike
/// (JSON readers keep one of the two values without a word).
#[test]
fn a_key_given_twice() {
    bad_case(
        "twice_b",
        r#"{"x": [[[1.0]]], "w_x": [[1.0]], "w_h": [[0.5]], "b": [0.0], "b": [1.0]}"#,
        &["b: given twice in one object of the case file"],
    );
    bad_case(
        "twice_kind",
        r#"{"x": [[[1.0]]], "w_x": [[1.0]], "w_h": [[0.5]], "b": [0.0],
            "loss": {"kind": "sum_last", "kind": "mse_last", "target": [[0.0]]}}"#,
        &["loss.kind: given twice"],
    );
    bad_grads(
        "twice_steps",
        r#"{"steps": [{"t": 1}, {"t": 2, "dh": [[0, 0, 0, 0]], "dh": [[1, 1, 1, 1]]}]}"#,
        &["steps[1].dh: given twice in one object of the gradient file"],
    );
}

/// A layout the shapes contradict, or two that do not go together, is named; a default-layout
/// case whose arrays fit another layout says which.
#[test]
fn layouts_that_do_not_fit() {
    let time_major = json!({
        "x": [[[0.01, 0.02]], [[0.02, 0.03]], [[0.03, 0.04]]],
        "w_x": [[0.01, 0.03, 0.05, 0.07], [0.03, 0.05, 0.07, 0.08]],
        "w_h": [[0.1, 0.0, 0.0, 0.0], [0.0, 0.1, 0.0, 0.0], [0.0, 0.0, 0.1, 0.0], [0.0, 0.0, 0.0, 0.1]],
        "b": [1, 1, 1, 1],
        "h0": [[0, 0, 0, 0]],
    });
    bad_case(
        "fits_time_major",
        &time_major.to_string(),
        &[
            "h0: expected shape (3, 4)",
            "the arrays fit \"layout\": \"time_major\"",
        ],
    );
    let mut both = time_major.clone();
    both["layout"] = json!("time_major");
    both["weights"] = json!("column");
    bad_case(
        "time_major_columns",
        &both.to_string(),
        &["layout: \"time_major\" with \"weights\": \"column\" is not a layout"],
    );
    let mut word = time_major.clone();
    word["weights"] = json!("columns");
    bad_case(
        "weights_word",
        &word.to_string(),
        &["weights: expected \"row\" (the default) or \"column\", found the string \"columns\""],
    );
    let mut column = time_major;
    column["weights"] = json!("column");
    bad_case(
        "column_shapes",
        &column.to_string(),
        &[
            "w_x: expected shape",
            "with \"weights\": \"column\", tapegrad reads every matrix transposed",
        ],
    );
}

/// An .npz entry of a dtype tapegrad does not read is named with its dtype; an archive that is
/// not one is said to be so.
#[test]
fn npz_entries_that_cannot_be_read() {
    use std::io::Write as _;
    let npy = |descr: &str, shape: &str, body: &[u8]| {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
        while (10 + header.len()) % 64 != 0 {
            header.insert(header.len() - 1, ' ');
        }
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(body);
        out
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("x.npy", options).unwrap();
    zip.write_all(&npy("<c16", "(1, 1, 1)", &[0; 16])).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("complex.npz");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["check", "--case"])
        .arg(&path)
        .output()
        .unwrap();
    refused(&out, &["x: dtype <c16 (complex128) is not read"]);
    let broken = dir.join("broken.npz");
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["check", "--case"])
        .arg(&broken)
        .output()
        .unwrap();
    refused(&out, &["case file: not a readable .npz archive"]);
}

#[test]
fn a_missing_file_a_directory_and_binary_data() {
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["check", "--case", "no/such/case.json"])
        .output()
        .unwrap();
    refused(
        &out,
        &["--case no/such/case.json: cannot read the file: No such file"],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["check", "--against", "no/such/grads.json"])
        .output()
        .unwrap();
    refused(
        &out,
        &["--against no/such/grads.json: cannot read the file"],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["forward", "--case", "src"])
        .output()
        .unwrap();
    refused(&out, &["--case src: cannot read the file"]);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("arrays.npy");
    std::fs::write(&npy, b"\x93NUMPY\x01\x00v\x00").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["check", "--case"])
        .arg(&npy)
        .output()
        .unwrap();
    refused(&out, &["this is one .npy array (np.save)", "np.savez"]);
    // A pickle (np.save of an object array, or pickle.dump) is neither.
    let pickle = dir.join("arrays.pkl");
    std::fs::write(&pickle, b"\x80\x04\x95\x00").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(["check", "--case"])
        .arg(&pickle)
        .output()
        .unwrap();
    refused(&out, &["byte 0 is not UTF-8 text", "not a pickle file"]);
}

/// Nesting far deeper than serde_json's recursion limit (128) is an error, not a stack
/// overflow: in the file, at the top and inside a field, for both loaders.
#[test]
fn absurd_nesting_depth() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    bad_case(
        "deep",
        &deep,
        &["case file: not valid JSON at line 1, column 128: recursion limit exceeded"],
    );
    let deep_objects = "{\"x\":".repeat(100_000);
    bad_case("deep_objects", &deep_objects, &["recursion limit exceeded"]);
    let inside = format!("{{\"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    bad_grads(
        "deep_grads",
        &inside,
        &["gradient file: not valid JSON", "recursion limit"],
    );
    // The library's loaders directly, on this thread's (smaller) stack.
    assert!(parse_case::<Rnn>(&deep).is_err());
    assert!(parse_given(&inside, &Case::canonical()).is_err());
    // 127 levels pass the parser and are then refused by shape, without deep recursion.
    let nested = format!("{}0{}", "[".repeat(126), "]".repeat(126));
    let err = parse_case::<Rnn>(&format!("{{\"x\": {nested}}}")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("x: expected a 3-D array (batch, steps, features), found a 126-D array"),
        "{err}"
    );
}

/// The two files given the other way round: each reader says what the file looks like.
#[test]
fn a_case_and_a_gradient_file_swapped() {
    let grads = std::fs::read_to_string("../cases/canonical.grads.json").unwrap();
    bad_case(
        "swapped_case",
        &grads,
        &["case file: this looks like a gradient file", "--against"],
    );
    bad_grads(
        "swapped_grads",
        &canonical().to_string(),
        &["gradient file: this looks like a case file", "--case"],
    );
}

/// A gradient file with nothing the diagnosis can compare would agree with anything: it is
/// refused instead of passing.
/// A 1-D gradient given as a 2-D array, read by the library's reader directly.
#[test]
fn a_row_given_as_a_matrix_in_a_gradient_file() {
    let case = Case::canonical();
    let wrong = r#"{"steps": [{"t": 3, "db": [[0.368, 0.330, 0.295, 0.268]]}]}"#;
    let err = parse_given(wrong, &case).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("steps[0].db: expected a 1-D array"),
        "{err}"
    );
    let right = r#"{"steps": [{"t": 3, "db": [0.36806677, 0.33023777, 0.29541353, 0.26753492]}]}"#;
    let given = parse_given(right, &case).unwrap();
    assert!(given.ignored.is_empty(), "{:?}", given.ignored);
    assert_eq!(given.value.get(3, "db").map(|m| m.shape()), Some((1, 4)));
}

#[test]
fn a_gradient_file_with_nothing_to_compare() {
    bad_grads(
        "nothing",
        "{}",
        &["gradient file: nothing to compare", "found the keys []"],
    );
    bad_grads(
        "unrelated",
        r#"{"gradients": {"w_x": [[1]]}}"#,
        &["nothing to compare", "found the keys [\"gradients\"]"],
    );
    // A loss alone would be compared, and a pass reported for gradients never looked at.
    bad_grads(
        "loss_and_unrelated",
        r#"{"loss": 3.29, "gradients": {"w_x": [[1]]}}"#,
        &[
            "nothing to compare",
            "found the keys [\"gradients\", \"loss\"]",
        ],
    );
    bad_grads(
        "step_twice",
        r#"{"steps": [{"t": 1, "dh": [[1, 2, 3, 4]]}, {"t": 1, "dh": [[1, 2, 3, 5]]}]}"#,
        &["steps[1].t: step 1 is already given by steps[0]: give each step once"],
    );
    bad_grads(
        "step_zero",
        r#"{"steps": [{"t": 0, "dh": [[1, 2, 3, 4]]}]}"#,
        &["steps[0].t: step 0 does not exist: steps are numbered 1 to 3"],
    );
    bad_grads(
        "step_missing",
        r#"{"steps": [{"dh": [[1, 2, 3, 4]]}]}"#,
        &["steps[0].t: required field is missing"],
    );
}

// =============================================================================================
// The fuzzer of `examples/fuzz_loader.rs`, briefly.

// `main` and its reporting belong to the example; the test uses the generator and `fuzz`.
#[allow(dead_code)]
#[path = "../examples/fuzz_loader.rs"]
mod fuzz_loader;

/// A few thousand mutated case and gradient files: no panic, every refusal a one-line
/// `FIELD: why`, no check passing on NaN or infinity. The long run is
/// `cargo run --release -p tapegrad-cli --example fuzz_loader -- --seconds 600`.
#[test]
fn fuzzed_files_never_panic_and_always_explain() {
    let start = Instant::now();
    let tally = fuzz_loader::fuzz(7, |inputs| inputs < INPUTS);
    assert!(tally.problems.is_empty(), "{:?}", tally.problems.first());
    assert_eq!(tally.inputs + tally.archives, INPUTS);
    assert!(tally.archives > INPUTS / 20, "{tally:?}");
    // Both sides of the loaders were reached: files refused, and files that loaded and ran.
    assert!(tally.refused > INPUTS / 2, "{tally:?}");
    assert!(
        tally.cases_loaded > 50 && tally.grads_loaded > 20,
        "{tally:?}"
    );
    assert!(tally.checks_not_passed > 0, "{tally:?}");
    eprintln!("{INPUTS} fuzzed inputs in {:?}: {tally:?}", start.elapsed());
}

/// How many inputs the quick fuzz test tries.
const INPUTS: usize = 3000;

/// A few hundred mutated command lines through the binary: each ends with exit 0, 1 or 2, and
/// an exit 2 says why in lines that start `tapegrad: `.
#[test]
fn fuzzed_command_lines_never_panic_and_always_explain() {
    let binary = fuzz_loader::binary().expect("Cargo builds the binary for the tests");
    let tally = fuzz_loader::fuzz_arguments(3, &binary, |runs| runs < 300);
    assert!(tally.problems.is_empty(), "{:?}", tally.problems.first());
    assert!(tally.runs_ran > 20 && tally.refused > 100, "{tally:?}");
}

/// A gated cell's shape messages name the cell whose multiples of hidden they ask for, and a
/// GRU with its reset before the product refuses a bias it has no room for, by entry.
#[test]
fn gated_cells_name_themselves_in_shape_messages() {
    // The canonical RNN's arrays under "cell": "lstm": w_x (2, 4) gives hidden = 1.
    let lstm = with("cell", json!("lstm"));
    bad_case(
        "lstm_rnn_arrays",
        &lstm,
        &[
            "w_h: expected shape (1, 4) (hidden, 4·hidden) for \"cell\": \"lstm\", hidden from w_x, found (4, 4)",
        ],
    );
    let mut gru = canonical();
    let obj = gru.as_object_mut().unwrap();
    obj.insert("cell".into(), json!("gru"));
    obj.insert(
        "w_x".into(),
        json!([[0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5]]),
    );
    bad_case(
        "gru_columns",
        &gru.to_string(),
        &[
            "w_x: expected shape (features, 3·hidden) for \"cell\": \"gru\": columns a multiple of 3, found (2, 5)",
        ],
    );
    let before = json!({
        "cell": "gru", "reset": "before",
        "x": [[[0.5]]], "w_x": [[0.1, 0.2, 0.3]], "w_h": [[0.4, 0.5, 0.6]],
        "b_x": [0.0, 0.0, 0.0], "b_h": [0.0, 0.25, 0.0],
    });
    bad_case(
        "gru_before_bias",
        &before.to_string(),
        &["b_h[1]: must be 0 with \"reset\": \"before\"", "found 0.25"],
    );
}
