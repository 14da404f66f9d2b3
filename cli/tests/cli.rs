//! The `tapegrad` command, run as a user runs it.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output};

fn tapegrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(args)
        .output()
        .expect("the tapegrad binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A case file with `text` in a fresh temporary directory.
fn case_file(name: &str, text: &str) -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new(name);
    let path = dir.path.join("case.json");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

mod tempdir {
    use std::path::PathBuf;

    /// A directory under the target dir, removed when dropped.
    pub struct Dir {
        pub path: PathBuf,
    }

    impl Dir {
        pub fn new(name: &str) -> Dir {
            let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[test]
fn forward_prints_the_canonical_trace() {
    let out = tapegrad(&["forward"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("  h_3: [[0.79494228 0.81839002 0.83939649 0.85584174]]"),
        "{text}"
    );
    assert!(text.contains("Loss: L = Σ h_3 = 3.30857053"), "{text}");
}

#[test]
fn forward_json_has_every_step() {
    let out = tapegrad(&["forward", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    assert_eq!(v["steps"][2]["t"], 3);
    let h3 = v["steps"][2]["h"][0][3].as_f64().unwrap();
    assert!((h3 - 0.85584174).abs() < 1e-8);
}

/// Finite differences are not computed by BPTT's equations: their trace does not print them.
#[test]
fn grads_by_finite_differences_are_labelled_as_such() {
    let out = tapegrad(&["grads", "--method", "fd"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with("Central finite differences, tanh RNN"),
        "{text}"
    );
    assert!(text.contains("  da_3: [[0.36806677"), "{text}");
    assert!(!text.contains('⊙') && !text.contains("·W_hᵀ"), "{text}");
    let hand = stdout(&tapegrad(&["grads"]));
    assert!(
        hand.contains("  da_3 = dh_3 ⊙ (1 − h_3²): [[0.36806677"),
        "{hand}"
    );
}

/// `grads --json` has exactly the documented keys and shapes, and every method gives the
/// reference numbers (fd to its own accuracy).
#[test]
fn grads_json_matches_the_documented_shape_and_reference() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string("../cases/softmax_small.grads.json").unwrap(),
    )
    .unwrap();
    for (method, tol) in [("bptt", 1e-13), ("tape", 1e-13), ("fd", 1e-7)] {
        let out = tapegrad(&[
            "grads",
            "--case",
            "../cases/softmax_small.case.json",
            "--method",
            method,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&got), ["grads", "loss", "steps"]);
        assert_eq!(keys(&got["grads"]), keys(&reference["grads"]));
        assert_eq!(keys(&got["steps"][0]), keys(&reference["steps"][0]));
        assert_close(&got, &reference, tol, method);
    }
}

/// Walks two JSON values of the same structure, comparing numbers to `tol` relative to 1.
fn assert_close(got: &Value, want: &Value, tol: f64, at: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!((g - w).abs() <= tol * w.abs().max(1.0), "{at}: {g} vs {w}");
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: length");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_close(g, w, tol, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            for (k, w) in w {
                assert_close(&g[k], w, tol, &format!("{at}.{k}"));
            }
        }
        _ => panic!("{at}: {got} vs {want}"),
    }
}

#[test]
fn check_passes_on_both_sample_cases_in_both_modes() {
    for case in [
        "../cases/canonical.case.json",
        "../cases/softmax_small.case.json",
    ] {
        for mode in ["exhaustive", "directional"] {
            let out = tapegrad(&["check", "--case", case, "--mode", mode]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{case} {mode}: {}",
                stdout(&out)
            );
            assert!(stdout(&out).contains("PASS"));
        }
    }
    let out = tapegrad(&["check", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["first_failure"], Value::Null);
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    // Small enough that double-double's work never runs out.
    assert_eq!(v["double_double_exhausted"], false);
    // Every per-step quantity of the canonical example is confirmed by finite differences,
    // each with its own error bound; dW_h at t = 1 is exactly zero (h_0 = 0), and so is
    // every estimate of it.
    for step in v["steps"].as_array().unwrap() {
        for q in ["dh", "da", "dx", "dw_x", "dw_h", "db"] {
            let fd = &step[q]["fd"];
            assert_eq!(fd["verdict"], "ok", "t = {}: {q} {fd}", step["t"]);
            assert_eq!(fd["reason"], Value::Null);
            assert!(fd["error"].as_f64().unwrap() >= 0.0);
            // f64 decides every estimate of this well-scaled case, and the JSON names it.
            assert_eq!(fd["number"], "f64", "{q} {fd}");
            // null where the quantity is exactly zero: no resolution relative to it.
            let zero = step["t"] == 1 && q == "dw_h";
            assert_eq!(fd["resolution"].as_f64().is_none(), zero, "{q} {fd}");
            assert!(
                fd["resolution"].as_f64().is_none_or(|r| r <= 1e-6),
                "{q} {fd}"
            );
        }
    }
}

#[test]
fn a_malformed_case_exits_2_naming_the_field() {
    let (_dir, path) = case_file(
        "malformed",
        r#"{"x": [[[1, 2], [2, 3]]], "w_x": [[1, 2, 3], [4, 5, 6]], "w_h": [[1, 0], [0, 1]], "b": [0, 0, 0]}"#,
    );
    let out = tapegrad(&["check", "--case", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("w_h: expected shape (3, 3) (hidden, hidden), hidden from w_x, found (2, 2)"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(tapegrad(&["help"]).status.code(), Some(0));
    assert_eq!(tapegrad(&["check", "--help"]).status.code(), Some(0));
    let help_check = tapegrad(&["help", "check"]);
    assert_eq!(help_check.status.code(), Some(0));
    assert!(stdout(&help_check).contains("tapegrad check   [--case FILE] --against GRADS"));
    let version = tapegrad(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        stdout(&version),
        format!("tapegrad {}\n", env!("CARGO_PKG_VERSION"))
    );
    for args in [
        &[][..],
        &["frobnicate"],
        &["grads", "--method", "magic"],
        &["check", "--mode"],
        &["check", "--seed", "-1"],
        &["check", "--case", "no/such/file.json"],
        &["help", "frobnicate"],
        &["--version", "--bogus"],
    ] {
        let out = tapegrad(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with("tapegrad: "), "{args:?}");
    }
}

#[test]
fn check_against_user_gradients() {
    // The reference gradients agree.
    let out = tapegrad(&[
        "check",
        "--case",
        "../cases/softmax_small.case.json",
        "--against",
        "../cases/softmax_small.grads.json",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["first_mismatch"], Value::Null);

    // One entry of da at t = 2 off by 1%: found there, exit 1.
    let mut grads: Value =
        serde_json::from_str(&std::fs::read_to_string("../cases/canonical.grads.json").unwrap())
            .unwrap();
    let entry = grads["steps"][1]["da"][0][2].as_f64().unwrap();
    grads["steps"][1]["da"][0][2] = serde_json::json!(entry * 1.01);
    let (_dir, path) = case_file("against", &grads.to_string());
    let out = tapegrad(&["check", "--against", &path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["first_mismatch"],
        serde_json::json!({"t": 2, "quantity": "da"})
    );
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .contains("activation derivative")
    );
    let human = stdout(&tapegrad(&["check", "--against", &path]));
    assert!(human.contains("DISAGREE"), "{human}");

    // Totals only, and wrong: exit 1, and the advice to give per-step values.
    let (_dir, path) = case_file("totals", r#"{"grads": {"b": [0.4, 0.35, 0.32, 0.29]}}"#);
    let out = tapegrad(&["check", "--against", &path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .contains("per-step values")
    );

    // A mis-shaped gradient file is bad input: exit 2, the key and both shapes named.
    let (_dir, path) = case_file(
        "misshaped",
        r#"{"steps": [{"t": 1, "dw_h": [[1, 2], [3, 4]]}]}"#,
    );
    let out = tapegrad(&["check", "--against", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("steps[0].dw_h: expected shape (4, 4)"),
        "{err}"
    );
    assert!(err.contains("found (2, 2)"), "{err}");
}

/// `check --steps`: a sample of steps, the totals only, and refusals of steps that do not
/// exist, all in the same JSON form as a full check.
#[test]
fn check_steps_option() {
    let out = tapegrad(&["check", "--steps", "3,1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["steps_checked"], serde_json::json!([1, 3]));
    let ts: Vec<&Value> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["t"])
        .collect();
    assert_eq!(ts, [1, 3]);
    assert_eq!(v["first_non_finite"], Value::Null);
    assert_eq!(v["totals"].as_object().unwrap().len(), 4);

    let out = tapegrad(&["check", "--steps", "none"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("checked: no single step of T = 3, and the totals"),
        "{text}"
    );
    assert!(
        text.contains("PASS: 4 ok, 0 inconclusive, 0 failed"),
        "{text}"
    );

    let out = tapegrad(&["check", "--steps", "2-3"]);
    assert!(stdout(&out).contains("checked: steps 2, 3 of T = 3"));
    // The full check is unchanged: no "checked:" line, every step.
    assert!(!stdout(&tapegrad(&["check"])).contains("checked:"));

    for (steps, message) in [
        (
            "4",
            "--steps: step 4 does not exist: the case has 3 steps, numbered 1 to 3",
        ),
        ("0,1", "--steps: step 0 does not exist"),
        ("3-1", "--steps: the range \"3-1\" runs backward"),
        ("first", "--steps: \"first\" is not a step number"),
    ] {
        let out = tapegrad(&["check", "--steps", steps]);
        assert_eq!(out.status.code(), Some(2), "{steps}");
        assert!(stderr(&out).contains(message), "{steps}: {}", stderr(&out));
    }
    let out = tapegrad(&[
        "check",
        "--against",
        "../cases/canonical.grads.json",
        "--steps",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--steps chooses the steps"));
}

/// A case whose full per-step check would run for many minutes is not started: the message
/// says why and offers a sample, the totals, directional mode or `--steps all`.
#[test]
fn a_long_case_asks_for_a_sample_instead_of_hanging() {
    let steps = 4000;
    let x: Vec<[f64; 2]> = (0..steps).map(|t| [(t as f64).sin(), 0.5]).collect();
    let case = serde_json::json!({
        "x": [x],
        "w_x": [[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]],
        "w_h": [[0.1, 0.0, 0.0, 0.0], [0.0, 0.1, 0.0, 0.0], [0.0, 0.0, 0.1, 0.0], [0.0, 0.0, 0.0, 0.1]],
        "b": [0.0, 0.0, 0.0, 0.0],
    });
    let (_dir, path) = case_file("long", &case.to_string());
    let out = tapegrad(&["check", "--case", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("check: checking all 4000 steps would take about"),
        "{err}"
    );
    assert!(err.contains("--steps 1,2000,4000"), "{err}");
    assert!(err.contains("grows as T²"), "{err}");
    let out = tapegrad(&["grads", "--case", &path, "--method", "fd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("use --method bptt or tape"));
    // A sample of the same case runs, and passes.
    let out = tapegrad(&["check", "--case", &path, "--steps", "1,2000,4000", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["steps_checked"], serde_json::json!([1, 2000, 4000]));

    // A wide model is costly even for three steps, in exhaustive mode: the advice says so.
    let n = 300;
    let wide = serde_json::json!({
        "x": [vec![vec![0.1; n]; 3]],
        "w_x": vec![vec![0.01; n]; n],
        "w_h": vec![vec![0.001; n]; n],
        "b": vec![0.0; n],
    });
    let (_dir, path) = case_file("wide", &wide.to_string());
    let out = tapegrad(&["check", "--case", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("even a sample of steps costs that much in exhaustive mode"),
        "{}",
        stderr(&out)
    );
}

/// Weights so large that `a_2` overflows: tanh hides it from every comparison, but the check
/// fails, exit 1, naming the step; so does a diagnosis against any gradients.
#[test]
fn a_case_that_overflows_fails_and_names_the_step() {
    let big = [1e308, 1e308, 1e308, 1e308];
    let case = serde_json::json!({
        "x": [[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]],
        "w_x": [big, big],
        "w_h": [big, big, big, big],
        "b": [0.0, 0.0, 0.0, 0.0],
    });
    let (_dir, path) = case_file("overflow", &case.to_string());
    let out = tapegrad(&["check", "--case", &path, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["first_non_finite"],
        serde_json::json!({"t": 1, "quantity": "a", "source": "forward"})
    );
    let text = stdout(&tapegrad(&["check", "--case", &path]));
    assert!(
        text.contains("NON-FINITE: a_1 in the forward pass is NaN or infinite"),
        "{text}"
    );
    assert!(text.contains("\nFAIL: "), "{text}");

    let (_dir2, grads) = case_file("overflow_grads", r#"{"grads": {"b": [0, 0, 0, 0]}}"#);
    let out = tapegrad(&["check", "--case", &path, "--against", &grads, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_non_finite"]["t"], 1);
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .starts_with("The case itself does not compute to finite numbers: a_1")
    );
}

#[test]
fn an_option_the_command_does_not_use_is_refused() {
    for args in [
        &["grads", "--against", "../cases/canonical.grads.json"][..],
        &["forward", "--mode", "directional"],
        &[
            "check",
            "--against",
            "../cases/canonical.grads.json",
            "--mode",
            "directional",
        ],
        &["graph", "--json"],
    ] {
        let out = tapegrad(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("is not an option of"), "{args:?}");
    }
    // The options listed are the ones that work: `--steps` is refused with `--against` too.
    let out = tapegrad(&[
        "check",
        "--against",
        "../cases/canonical.grads.json",
        "--mode",
        "directional",
    ]);
    assert!(
        stderr(&out).contains("(its options: --case, --against, --json)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn forward_and_grads_of_an_overflowing_case_exit_2_after_printing() {
    // Identity activation and W_h = 1e200: h_t overflows to infinity by the third step.
    let (_dir, path) = case_file(
        "overflow",
        r#"{"x": [[[1], [1], [1]]], "w_x": [[1]], "w_h": [[1e200]], "b": [0], "activation": "identity"}"#,
    );
    for command in ["forward", "grads"] {
        let out = tapegrad(&[command, "--case", &path]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            !stdout(&out).is_empty(),
            "{command}: the trace is still printed"
        );
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!(
                "tapegrad: {path}: the case does not compute to finite numbers"
            )) && !err.contains("null"),
            "{command}: {err}"
        );
        let out = tapegrad(&[command, "--case", &path, "--json"]);
        assert_eq!(out.status.code(), Some(2), "{command} --json");
        assert!(stderr(&out).contains("(JSON writes it as null)"));
    }
}

/// A usage error is one line and a pointer to the command's help, with "did you mean" where a
/// near name exists; `help COMMAND` prints that command alone; `--opt=value` is `--opt value`.
#[test]
fn usage_errors_say_what_was_meant() {
    let refused = |args: &[&str], want: &str| {
        let out = tapegrad(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {err}");
        assert!(lines[0].contains(want), "{args:?}: {err}");
        assert!(
            lines[1].starts_with("(see tapegrad help"),
            "{args:?}: {err}"
        );
    };
    refused(
        &["chek"],
        "unknown command \"chek\"; did you mean \"check\"?",
    );
    refused(&["check", "--agains", "g.json"], "did you mean --against?");
    refused(
        &["check", "-c", "case.json"],
        "no short options: did you mean --case?",
    );
    refused(
        &["check", "case.json"],
        "to use it as the case, write --case case.json",
    );
    refused(
        &["check", "--json", "--json"],
        "--json is given twice: give it once",
    );
    refused(&["check", "--seed", "5"], "the exhaustive check has none");
    refused(&["check", "--steps", "-1"], "\"-1\" is not a step number");
    refused(&["forward", "--json=yes"], "--json takes no value");
    let case = format!(
        "--case={}/../cases/canonical.case.json",
        env!("CARGO_MANIFEST_DIR")
    );
    assert_eq!(tapegrad(&["forward", &case]).status.code(), Some(0));
    let help = stdout(&tapegrad(&["help", "check"]));
    assert!(
        help.contains("tapegrad check   [--case FILE] --against GRADS"),
        "{help}"
    );
    assert!(!help.contains("tapegrad forward"), "{help}");
    assert_eq!(stdout(&tapegrad(&["check", "--help"])), help);
}

/// A marked NaN is named as the NaN it was, a trailing comma as a trailing comma, and a graph
/// of a case that overflows exits 2 as forward does.
#[test]
fn messages_name_what_the_file_holds() {
    let one = |name: &str, text: &str, args: &[&str]| {
        let (_dir, path) = case_file(name, text);
        let mut all = args.to_vec();
        all.extend(["--case", &path]);
        let out = tapegrad(&all);
        (out.status.code(), stderr(&out))
    };
    let base = r#""x":[[[1.0]]],"w_x":[[1.0]],"w_h":[[0.5]],"b":[0.0]"#;
    let (code, err) = one(
        "nan_activation",
        &format!("{{{base},\"activation\":NaN}}"),
        &["forward"],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains(
            "activation: expected a string (\"tanh\", \"sigmoid\" or \"identity\"), found NaN"
        ),
        "{err}"
    );
    assert!(!err.contains('\0'), "{err:?}");
    let (_, err) = one(
        "nan_kind",
        &format!("{{{base},\"loss\":{{\"kind\":NaN}}}}"),
        &["forward"],
    );
    assert!(
        err.contains("loss.kind: expected") && err.contains("found NaN"),
        "{err}"
    );
    let (_, err) = one("comma", &format!("{{{base},}}"), &["forward"]);
    assert!(
        err.contains("trailing comma (JSON allows no comma after the last item"),
        "{err}"
    );
    let overflow =
        r#"{"x":[[[1e300],[1.0]]],"w_x":[[1e10]],"w_h":[[1.0]],"b":[0.0],"activation":"identity"}"#;
    let (code, err) = one("overflow_graph", overflow, &["graph"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("does not compute to finite numbers: a_1"),
        "{err}"
    );
}

/// Keys of another head are named on stderr, not read in silence.
#[test]
fn keys_a_head_does_not_read_are_named() {
    let text = r#"{"x":[[[1.0]]],"w_x":[[1.0]],"w_h":[[0.5]],"b":[0.0],
                   "loss":{"kind":"sum_last","w_out":[[1.0]],"labels":[0]}}"#;
    let (_dir, path) = case_file("unread_head_keys", text);
    let out = tapegrad(&["forward", "--case", &path]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    for key in ["loss.w_out", "loss.labels"] {
        assert!(
            err.contains(&format!(
                "{key}: the sum_last head does not read it; ignored"
            )),
            "{err}"
        );
    }
}

/// An explicit --steps is costed like every step: a wide case's one step in exhaustive mode
/// is refused with the figure, and the command the refusal suggests runs.
#[test]
fn an_explicit_step_list_is_costed_too() {
    let (steps, hidden) = (400, 64);
    let case = serde_json::json!({
        "x": [vec![[0.5]; steps]],
        "w_x": [vec![0.01; hidden]],
        "w_h": vec![vec![0.01; hidden]; hidden],
        "b": vec![0.0; hidden],
    });
    let (_dir, path) = case_file("wide_case", &case.to_string());
    let out = tapegrad(&["check", "--case", &path, "--steps", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("checking 1 step would take about 1e11 multiply-adds"),
        "{err}"
    );
    assert!(err.contains("add --mode directional"), "{err}");
    let out = tapegrad(&[
        "check",
        "--case",
        &path,
        "--steps",
        "1",
        "--mode",
        "directional",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A very long unknown key is warned about in a short line, and costs no time.
#[test]
fn a_long_unknown_key_is_shown_cut() {
    let key = "k".repeat(100_000);
    let text = format!(r#"{{"x":[[[1.0]]],"w_x":[[1.0]],"w_h":[[0.5]],"b":[0.0],"{key}":1}}"#);
    let (_dir, path) = case_file("long_key", &text);
    let out = tapegrad(&["forward", "--case", &path]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("… (100000 characters): not a key the tool reads here"),
        "{err}"
    );
    assert!(err.len() < 400, "{} bytes", err.len());
}

/// Gradients that do not fit the canonical example, when no --case was given, say that the
/// canonical example was used.
#[test]
fn a_forgotten_case_is_named() {
    let grads = format!(
        "{}/../cases/softmax_small.grads.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = tapegrad(&["check", "--against", &grads]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no --case was given, so this is the canonical example's shape"),
        "{err}"
    );
}

/// A UTF-16 file (PowerShell's `>`) is named as such.
#[test]
fn a_utf16_file_is_named() {
    let text: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("{\"x\": 1}".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("utf16");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("case.json");
    std::fs::write(&path, text).unwrap();
    let out = tapegrad(&["forward", "--case", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("it is UTF-16 text (what PowerShell's > writes)"),
        "{}",
        stderr(&out)
    );
}

/// A long case whose every command would need more memory than tapegrad uses is refused
/// before anything runs, with the estimate, and the refusal's advice is a command that fits:
/// the directional check of three steps of `T = 100 000, H = 512` (the advice tapegrad once
/// gave) held every step's `dW_h` and died asking for 200 GiB.
#[test]
fn a_case_too_long_for_memory_is_refused_before_it_starts() {
    let (steps, hidden) = (100_000, 128);
    let case = serde_json::json!({
        "x": [vec![[0.5]; steps]],
        "w_x": [vec![0.01; hidden]],
        "w_h": vec![vec![0.01; hidden]; hidden],
        "b": vec![0.0; hidden],
    });
    let (_dir, path) = case_file("too_long", &case.to_string());
    for args in [
        vec![
            "check",
            "--mode",
            "directional",
            "--steps",
            "1,50000,100000",
        ],
        vec!["check", "--steps", "none"],
        vec!["grads"],
        vec!["grads", "--json"],
        vec!["check", "--against", &path],
        vec!["graph"],
    ] {
        let mut full = args.clone();
        full.extend(["--case", &path]);
        let out = tapegrad(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("GiB of memory"), "{full:?}: {err}");
        assert!(err.contains("more than the 1.5 GiB"), "{full:?}: {err}");
        assert!(stdout(&out).is_empty(), "{full:?}");
    }
    // The check says how long a case of this width fits, and one that long runs.
    let out = tapegrad(&[
        "check",
        "--mode",
        "directional",
        "--steps",
        "1",
        "--case",
        &path,
    ]);
    let err = stderr(&out);
    let fit: usize = err
        .split("(about ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no length that fits in: {err}"));
    assert!((1_000..steps).contains(&fit), "{err}");
}

/// The check splits its work into two fixed parts and runs them at once where it has two cores:
/// its report must be the same, byte for byte, on one core (`taskset -c 0`) as on two.
#[test]
fn the_check_reports_the_same_on_one_core_as_on_two() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let pinned = Command::new("taskset").args(["-c", "0", "true"]).output();
    if cores < 2 || !pinned.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "the_check_reports_the_same_on_one_core_as_on_two: skipped, needs two cores and taskset"
        );
        return;
    }
    for (case, mode) in [
        ("../cases/cs231n_temporal_softmax.case.json", "exhaustive"),
        ("../cases/lstm_mse_all.case.json", "directional"),
        ("../cases/gru_softmax_ce.case.json", "exhaustive"),
    ] {
        let args = ["check", "--case", case, "--mode", mode, "--json"];
        let two = tapegrad(&args);
        let one = Command::new("taskset")
            .args(["-c", "0", env!("CARGO_BIN_EXE_tapegrad")])
            .args(args)
            .output()
            .expect("taskset runs tapegrad");
        assert_eq!(two.status.code(), Some(0), "{case}: {}", stderr(&two));
        assert_eq!(one.status.code(), two.status.code(), "{case}");
        assert!(
            stdout(&one) == stdout(&two),
            "{case} {mode}: one core and two differ"
        );
    }
}
