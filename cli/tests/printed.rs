//! `tapegrad::printed` returns, for a user's own case, exactly the text the command line
//! prints for it: a snapshot taken through the library pins what the tool shows.

use std::process::Command;
use tapegrad::check::Mode;
use tapegrad::printed;
use tapegrad_cli::json;

fn stdout(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(args)
        .output()
        .expect("the tapegrad binary runs");
    String::from_utf8(out.stdout).unwrap()
}

fn cases_dir(name: &str) -> String {
    format!("{}/../cases/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The forward, backward, graph and check texts of the case file `value`, of the cell `C`.
fn texts<C: tapegrad::Cell>(value: &serde_json::Value) -> (String, String, String, String) {
    let (parsed, _) = json::case_in_layout::<C>(value).unwrap();
    let case = parsed.value;
    (
        printed::forward(&case).unwrap(),
        printed::backward(&case).unwrap(),
        printed::graph(&case).unwrap(),
        printed::check(&case, Mode::Directional { seed: 0 }).unwrap(),
    )
}

#[test]
fn the_library_returns_what_the_command_line_prints() {
    // An RNN with a softmax head, and an LSTM.
    for (name, lstm) in [("softmax_small", false), ("lstm_mse_last", true)] {
        let path = cases_dir(&format!("{name}.case.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        let value = json::parse_json(&text, "case file").unwrap();
        let case_arg = ["--case", path.as_str()];
        let run = |command: &[&str]| stdout(&[command, &case_arg].concat());
        let (forward, backward, graph, check) = if lstm {
            texts::<tapegrad::cells::Lstm>(&value)
        } else {
            texts::<tapegrad::cells::Rnn>(&value)
        };
        assert_eq!(run(&["forward"]), forward, "{name}");
        assert_eq!(run(&["grads"]), backward, "{name}");
        assert_eq!(run(&["graph"]), graph, "{name}");
        assert_eq!(
            run(&[
                "check",
                "--mode",
                "directional",
                "--seed",
                "0",
                "--steps",
                "all"
            ]),
            check,
            "{name}"
        );
    }
}

#[test]
fn the_diagnosis_is_what_check_against_prints() {
    let case_path = cases_dir("canonical.case.json");
    let grads_path = cases_dir("canonical.grads.json");
    let case = tapegrad::case::Case::<f64>::canonical();
    let text = std::fs::read_to_string(&grads_path).unwrap();
    let given = json::parse_given(&text, &case).unwrap().value;
    assert_eq!(
        stdout(&["check", "--case", &case_path, "--against", &grads_path]),
        printed::against(&case, &given).unwrap()
    );
}
