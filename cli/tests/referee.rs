//! `check --against` as a referee: it reads every value it is given, takes float32 homework at
//! float32's precision, and does not call a backward pass wrong for a loss that differs alone.

use serde_json::Value;
use std::process::Command;
use tapegrad::case::Case;
use tapegrad::cells::Rnn;
use tapegrad::diagnose::diagnose;
use tapegrad::gradients::Dtype;
use tapegrad_cli::json::{gradients_json, parse_given};

/// The canonical case's own gradients, as `grads --json` writes them.
fn canonical_grads() -> Value {
    let case = Case::<f64>::canonical();
    gradients_json::<Rnn>(&case.bptt().unwrap())
}

/// Every number of a JSON value rounded to float32, as numpy's float32 arrays export.
fn to_float32(v: &mut Value) {
    match v {
        Value::Number(n) => {
            let x = f64::from(n.as_f64().unwrap() as f32);
            *v = serde_json::json!(x);
        }
        Value::Array(items) => items.iter_mut().for_each(to_float32),
        Value::Object(map) => map.values_mut().for_each(to_float32),
        _ => {}
    }
}

/// `tapegrad check --against FILE` on the canonical case: exit status and stdout.
fn against(name: &str, grads: &Value, json: bool) -> (Option<i32>, String) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("referee");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, grads.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tapegrad"));
    cmd.args(["check", "--against"]).arg(&path);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// Garbage in `grads.x` beside correct per-step `dx` is read and blamed, not passed over.
#[test]
fn grads_x_is_compared_beside_the_per_step_dx() {
    let mut grads = canonical_grads();
    grads["grads"]["x"][0][1][0] = serde_json::json!(123.0);
    let case = Case::<f64>::canonical();
    let given = parse_given(&grads.to_string(), &case).unwrap().value;
    let scale = case.roundoff_scales().unwrap();
    let d = diagnose(&case.tape_gradients().unwrap(), &scale, &given, &case.cell);
    assert!(!d.ok);
    assert_eq!(d.first_mismatch, None, "every per-step value is right");
    assert!(d.explanation.contains("the totals x"), "{}", d.explanation);
    let (code, _) = against("garbage_x", &grads, false);
    assert_eq!(code, Some(1));
    // Right everywhere: the same file agrees, x included.
    let (code, text) = against("right_x", &canonical_grads(), false);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("x ok"), "{text}");
}

/// A loss off by 3e-7 (an ε inside the log) while every gradient agrees: AGREE, exit 0, and a
/// warning that says so; a loss given alone, and wrong, is still DISAGREE.
#[test]
fn a_loss_that_differs_alone_is_a_warning() {
    let mut grads = canonical_grads();
    let loss = grads["loss"].as_f64().unwrap();
    grads["loss"] = serde_json::json!(loss * (1.0 + 3e-7));
    let (code, text) = against("eps_in_log", &grads, false);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("warning: the loss differs") && text.contains("AGREE"),
        "{text}"
    );
    let (code, text) = against("eps_in_log_json", &grads, true);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(report["ok"], true);
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("ε inside the log")
    );
    let only_loss = serde_json::json!({"loss": loss * 1.01});
    assert_eq!(against("only_loss", &only_loss, false).0, Some(1));
}

/// Correct float32 homework agrees, at float32's tolerance, and says which it used; float32
/// homework with a real mistake is still found at its step.
#[test]
fn float32_homework_is_judged_at_float32_precision() {
    let mut grads = canonical_grads();
    to_float32(&mut grads);
    let case = Case::<f64>::canonical();
    let given = parse_given(&grads.to_string(), &case).unwrap().value;
    assert_eq!(given.dtype, Dtype::Float32);
    let (code, text) = against("float32", &grads, true);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(report["dtype"], "float32");
    assert_eq!(report["tolerance"], 1e-5);
    // float64 gradients stay at float64's tolerance.
    let given = parse_given(&canonical_grads().to_string(), &case)
        .unwrap()
        .value;
    assert_eq!(given.dtype, Dtype::Float64);
    // A real mistake in float32: da at t = 2 off by 1% in one entry.
    let da = &mut grads["steps"][1]["da"][0][2];
    *da = serde_json::json!(f64::from((da.as_f64().unwrap() * 1.01) as f32));
    let (code, text) = against("float32_bug", &grads, true);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code, Some(1));
    assert_eq!(report["first_mismatch"]["t"], 2);
    assert_eq!(report["first_mismatch"]["quantity"], "da");
}

/// A declared `"dtype"` is taken at its word: float32 homework exported through float64 (no
/// longer exact float32 numbers, still float32's rounding) is judged at 1e-5 when it says
/// so and at 1e-7 when it does not; a dtype numpy does not have is refused, naming the field.
#[test]
fn a_declared_dtype_is_taken_at_its_word() {
    // Each value off by 3e-7 relative, as float32 rounding leaves it, and not a float32 number.
    let mut grads = canonical_grads();
    fn nudge(v: &mut Value) {
        match v {
            Value::Number(n) => *v = serde_json::json!(n.as_f64().unwrap() * (1.0 + 3e-7)),
            Value::Array(items) => items.iter_mut().for_each(nudge),
            // Each step's number `t` stays whole.
            Value::Object(map) => map
                .iter_mut()
                .filter(|(key, _)| key.as_str() != "t")
                .for_each(|(_, v)| nudge(v)),
            _ => {}
        }
    }
    nudge(&mut grads["grads"]);
    nudge(&mut grads["steps"]);
    let (code, text) = against("float32_undeclared", &grads, true);
    assert_eq!(code, Some(1), "{text}");
    grads["dtype"] = serde_json::json!("float32");
    let (code, text) = against("float32_declared", &grads, true);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(report["dtype"], "float32");
    grads["dtype"] = serde_json::json!("float16");
    let (code, _) = against("float16", &grads, false);
    assert_eq!(code, Some(2));
    let case = Case::<f64>::canonical();
    let err = parse_given(&grads.to_string(), &case)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dtype") && err.contains("\"float16\""),
        "{err}"
    );
}

/// The reference is the tape in double-double: where `1 − h²` cancels (a saturated RNN), every
/// entry of it is exact gradient rounded to f64 (against forward mode in double-double), while
/// the f64 tape is off by far more in some entries.
#[test]
fn the_reference_is_more_precise_than_the_f64_tape() {
    use tapegrad::case::{Dims, HeadKind};
    use tapegrad::check::reference_gradients;
    use tapegrad::double_double::DoubleDouble;
    use tapegrad::forward::forward_gradients;
    let dims = Dims {
        batch: 2,
        steps: 6,
        features: 3,
        hidden: 4,
    };
    let mut case = Case::<f64>::random(5, dims, HeadKind::SumLast, Rnn::default());
    for p in &mut case.params {
        *p = p.scale(12.0);
    }
    let (reference, which) = reference_gradients(&case).unwrap();
    assert_eq!(which, "the tape in double-double");
    let exact = forward_gradients(&case.cast::<DoubleDouble>()).unwrap();
    let tape = case.tape_gradients().unwrap();
    let (mut off_reference, mut off_tape) = (0.0f64, 0.0f64);
    for t in 1..=dims.steps {
        for q in ["dh", "da", "dx", "dw_x", "dw_h", "db"] {
            let (e, r, f) = (exact.get(t, q), reference.get(t, q), tape.get(t, q));
            let (e, r, f) = (e.unwrap(), r.unwrap(), f.unwrap());
            for i in 0..e.len() {
                let x = e.as_slice()[i].value;
                if x != 0.0 {
                    off_reference = off_reference.max(((r.as_slice()[i] - x) / x).abs());
                    off_tape = off_tape.max(((f.as_slice()[i] - x) / x).abs());
                }
            }
        }
    }
    assert!(
        off_reference <= 2.3e-16,
        "reference off by {off_reference:e}"
    );
    assert!(off_tape > 1e-6, "the f64 tape is off by only {off_tape:e}");
    // The command line says which reference it used, in its text and its JSON.
    let (code, text) = against("reference", &canonical_grads(), false);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Diagnosis against the tape in double-double"),
        "{text}"
    );
    let (_, json) = against("reference_json", &canonical_grads(), true);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["reference"], "the tape in double-double");
}

/// `check --against` on LSTM and GRU homework: the autograd reference gradients agree, and one
/// entry of one step's `dc` (LSTM) or `da_h` (GRU) off by 1% is blamed at that step and
/// quantity, exit 1.
#[test]
fn gated_homework_is_refereed_per_step() {
    for (cell, step, key) in [("lstm", 1, "dc"), ("gru", 2, "da_h")] {
        let case = format!("../cases/{cell}_mse_all.case.json");
        let grads = format!("../cases/{cell}_mse_all.grads.json");
        let run = |grads_file: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
                .args(["check", "--json", "--case", &case, "--against", grads_file])
                .output()
                .unwrap();
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            (out.status.code(), report)
        };
        let (code, report) = run(&grads);
        assert_eq!(
            (code, report["ok"].as_bool()),
            (Some(0), Some(true)),
            "{cell}: {report}"
        );
        let mut wrong: Value =
            serde_json::from_str(&std::fs::read_to_string(&grads).unwrap()).unwrap();
        let entry = &mut wrong["steps"][step][key][0][1];
        *entry = serde_json::json!(entry.as_f64().unwrap() * 1.01);
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("referee");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{cell}_wrong.json"));
        std::fs::write(&path, wrong.to_string()).unwrap();
        let (code, report) = run(path.to_str().unwrap());
        assert_eq!(code, Some(1), "{cell}");
        let first = &report["first_mismatch"];
        assert_eq!(
            (first["t"].as_u64(), first["quantity"].as_str()),
            (Some(step as u64 + 1), Some(key)),
            "{cell}: {report}"
        );
    }
}

/// `tapegrad graph` draws the gated cells' tapes, each gate a named node of its step.
#[test]
fn graph_draws_the_gated_cells() {
    for (cell, names) in [
        ("lstm", ["i_3", "f_3", "o_3", "g_3", "c_3", "h_3"]),
        ("gru", ["r_3", "z_3", "n_3", "a_x_3", "a_h_3", "h_3"]),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
            .args([
                "graph",
                "--case",
                &format!("../cases/{cell}_sum_last.case.json"),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cell}");
        let dot = String::from_utf8(out.stdout).unwrap();
        assert!(dot.starts_with("digraph unrolled {"), "{cell}");
        for name in names {
            assert!(
                dot.contains(&format!("[label=\"{name} = ")),
                "{cell}: no node {name}"
            );
        }
        // The last step's nodes are in its box.
        assert!(dot.contains("subgraph cluster_step_3 {"), "{cell}");
    }
}
