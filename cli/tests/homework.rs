//! The homework as students write it: the heads and their options, read from case files and
//! run through the command line.

use serde_json::{Value, json};
use std::process::Command;

/// Runs `tapegrad COMMAND --case FILE --json` on `case` (written to a file named `name`) and
/// returns the parsed output, asserting exit status 0.
fn run_json(command: &str, name: &str, case: &Value) -> Value {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("homework");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, case.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args([command, "--case"])
        .arg(&path)
        .arg("--json")
        .output()
        .expect("the tapegrad binary runs");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every number of two JSON values, side by side (same structure).
fn numbers(a: &Value, b: &Value, at: &str, each: &mut dyn FnMut(f64, f64, &str)) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => each(x.as_f64().unwrap(), y.as_f64().unwrap(), at),
        (Value::Array(xs), Value::Array(ys)) => {
            assert_eq!(xs.len(), ys.len(), "{at}");
            for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
                numbers(x, y, &format!("{at}[{i}]"), each);
            }
        }
        (Value::Object(xs), Value::Object(ys)) => {
            let keys: Vec<_> = xs.keys().collect();
            assert_eq!(keys, ys.keys().collect::<Vec<_>>(), "{at}");
            for key in keys {
                numbers(&xs[key], &ys[key], &format!("{at}.{key}"), each);
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// `a` and `b` agree entry by entry to `tol`, relative to the largest entry of each array.
fn close(a: &Value, b: &Value, tol: f64) {
    numbers(a, b, "", &mut |x, y, at| {
        assert!(
            (x - y).abs() <= tol * x.abs().max(y.abs()).max(1e-300) || x == y,
            "{at}: {x} against {y}"
        );
    });
}

/// A small RNN case (batch 2, 3 steps, 2 features, 3 hidden) with the head `loss`.
fn case(loss: Value) -> Value {
    json!({
        "x": [[[0.5, -1.0], [0.25, 0.75], [-0.5, 0.1]],
              [[1.0, 0.3], [-0.2, 0.4], [0.6, -0.9]]],
        "w_x": [[0.3, -0.2, 0.5], [0.1, 0.4, -0.3]],
        "w_h": [[0.2, -0.1, 0.3], [0.05, 0.25, -0.2], [-0.3, 0.1, 0.15]],
        "b": [0.1, -0.05, 0.02],
        "loss": loss,
    })
}

const W_OUT: [[f64; 3]; 3] = [[0.5, -0.4, 0.2], [0.1, 0.3, -0.6], [-0.2, 0.7, 0.4]];

/// The upstream head hands BPTT `dout`: the same gradients as `mse_all` with the targets
/// `y_t = h_t − dout_t` (whose `∂ℓ/∂h_t = h_t − y_t` is that `dout_t`).
#[test]
fn upstream_is_the_mse_all_trick_without_computing_h() {
    let dh = json!([
        [[0.3, -0.1, 0.2], [0.0, 0.5, -0.4], [1.0, 0.2, 0.1]],
        [[-0.6, 0.2, 0.0], [0.1, 0.1, 0.1], [0.4, -0.3, 0.9]]
    ]);
    let upstream = run_json(
        "grads",
        "upstream",
        &case(json!({"kind": "upstream", "dh": dh})),
    );
    let forward = run_json(
        "forward",
        "upstream_forward",
        &case(json!({"kind": "sum_last"})),
    );
    let targets: Vec<Value> = (0..2)
        .map(|i| {
            (0..3)
                .map(|t| {
                    let h = &forward["steps"][t]["h"][i];
                    (0..3)
                        .map(|j| h[j].as_f64().unwrap() - dh[i][t][j].as_f64().unwrap())
                        .collect::<Vec<f64>>()
                })
                .collect::<Vec<_>>()
        })
        .map(|rows| json!(rows))
        .collect();
    let mse = run_json(
        "grads",
        "upstream_as_mse",
        &case(json!({"kind": "mse_all", "targets": targets})),
    );
    close(&upstream["grads"], &mse["grads"], 1e-12);
    close(&upstream["steps"], &mse["steps"], 1e-12);
}

/// `"reduction": "sum"` is B times the mean, `"half": true` half of the squares; one-hot labels
/// are the class indices they encode.
#[test]
fn reductions_half_and_one_hot_labels() {
    let softmax = |labels: Value, extra: (&str, Value)| {
        let mut loss = json!({"kind": "softmax_ce", "w_out": W_OUT, "b_out": [0.1, 0.0, -0.1],
                              "labels": labels});
        if !extra.0.is_empty() {
            loss[extra.0] = extra.1;
        }
        case(loss)
    };
    let indices = run_json(
        "grads",
        "indices",
        &softmax(json!([2, 0]), ("", Value::Null)),
    );
    let one_hot = run_json(
        "grads",
        "one_hot",
        &softmax(json!([[0, 0, 1], [1.0, 0.0, 0.0]]), ("", Value::Null)),
    );
    assert_eq!(indices, one_hot);
    let sum = run_json(
        "grads",
        "sum",
        &softmax(json!([2, 0]), ("reduction", json!("sum"))),
    );
    let doubled = |v: &Value| -> Value {
        let mut v = v.clone();
        scale(&mut v, 2.0);
        v
    };
    close(&sum, &doubled(&indices), 1e-14);

    let target = json!([[0.1, 0.2, 0.3], [-0.1, 0.0, 0.4]]);
    let mse = |half: bool| {
        run_json(
            "grads",
            &format!("mse_half_{half}"),
            &case(json!({"kind": "mse_last", "target": target, "half": half})),
        )
    };
    close(&doubled(&mse(true)), &mse(false), 1e-15);
}

/// Multiplies every number in `v`, except step numbers, by `c`.
fn scale(v: &mut Value, c: f64) {
    match v {
        Value::Number(x) => *v = json!(x.as_f64().unwrap() * c),
        Value::Array(items) => items.iter_mut().for_each(|item| scale(item, c)),
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key != "t" {
                    scale(item, c);
                }
            }
        }
        _ => {}
    }
}

/// softmax_ce_all with every step masked but the last is softmax_ce on the last step, and its
/// check passes; its labels may be one-hot too.
#[test]
fn temporal_softmax_with_a_mask() {
    let b_out = json!([0.1, 0.0, -0.1]);
    let masked = case(json!({
        "kind": "softmax_ce_all", "w_out": W_OUT, "b_out": b_out,
        "labels": [[1, 1, 2], [[0, 1, 0], [1, 0, 0], [1, 0, 0]]],
        "mask": [[false, false, true], [0, 0, 1]],
    }));
    let last = case(json!({"kind": "softmax_ce", "w_out": W_OUT, "b_out": b_out,
                           "labels": [2, 0]}));
    let (a, b) = (
        run_json("grads", "masked", &masked),
        run_json("grads", "last", &last),
    );
    close(&a, &b, 1e-15);
    let check = run_json("check", "masked_check", &masked);
    assert_eq!(check["ok"], json!(true));
}

/// A float as Python's `repr` (and so `json.dump`) writes it: the shortest digits that read
/// back to it, positional from 1e-4 to 1e16 (`0.0001`, `5.0`), else `1.5e-07`, `1e+16`.
fn python_repr(x: f64) -> String {
    let exponent = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    if (-4..16).contains(&exponent) {
        let s = format!("{x}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        // Rust's `{:e}` has the same shortest digits: only the exponent is written differently.
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Every number `json.dump` writes reads back bit for bit: random magnitudes over the whole
/// range, their neighbours one ulp away, subnormals, and the ends of the range.
#[test]
fn every_float_json_dump_writes_reads_back_exactly() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(16);
    let mut values = vec![
        f64::MIN_POSITIVE,
        f64::MAX,
        -f64::MAX,
        f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        0.1,
        1.0 / 3.0,
        9007199254740993.0,
    ];
    for _ in 0..10_000 {
        // Uniform in the bit pattern: every exponent as likely, subnormals included.
        let x = f64::from_bits(
            rng.random::<u64>() & !(0x7ff << 52) | (rng.random_range(0..0x7ffu64) << 52),
        );
        values.extend([x, x.next_up(), x.next_down()]);
        // And numbers as homework holds them, of order one, with their neighbours.
        let y: f64 = rng.random_range(-4.0..4.0);
        values.extend([y, y.next_up(), y.next_down()]);
    }
    values.retain(|v| v.is_finite());
    let text = format!(
        "[{}]",
        values
            .iter()
            .map(|&v| python_repr(v))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let parsed = tapegrad_cli::json::parse_json(&text, "test").unwrap();
    let read = parsed.as_array().unwrap();
    assert_eq!(read.len(), values.len());
    let wrong: Vec<String> = values
        .iter()
        .zip(read)
        .filter(|(v, r)| r.as_f64().map(f64::to_bits) != Some(v.to_bits()))
        .map(|(v, r)| format!("{} read as {r}", python_repr(*v)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} differ: {:?}",
        wrong.len(),
        values.len(),
        &wrong[..wrong.len().min(5)]
    );
}

/// The homework-shaped samples in `cases/` (written by `scripts/homework_samples.py`, each in
/// its course's layout, gradients by HIPS autograd from that course's equations).
const SAMPLES: [&str; 4] = [
    "cs231n_rnn_backward",
    "coursera_rnn_backward",
    "time_major_mse_all",
    "cs231n_temporal_softmax",
];

fn sample(name: &str) -> String {
    format!("{}/../cases/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tapegrad(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(args)
        .output()
        .expect("the tapegrad binary runs")
}

/// Every array of `want` (a reference gradient file) against the same array of `got`, each to
/// `tol` relative to the array's largest entry; per-step values matched by step.
fn matches_reference(got: &Value, want: &Value, tol: f64, name: &str) {
    let rel = |a: &Value, b: &Value, at: &str| {
        let (mut diff, mut size) = (0.0f64, 0.0f64);
        numbers(a, b, at, &mut |x, y, _| {
            diff = diff.max((x - y).abs());
            size = size.max(y.abs());
        });
        assert!(
            diff <= tol * size,
            "{name} {at}: off by {diff:e} of {size:e}"
        );
    };
    let loss = (
        got["loss"].as_f64().unwrap(),
        want["loss"].as_f64().unwrap(),
    );
    assert!(
        (loss.0 - loss.1).abs() <= tol * loss.1.abs(),
        "{name} loss {loss:?}"
    );
    for (key, w) in want["grads"].as_object().unwrap() {
        rel(&got["grads"][key], w, &format!("grads.{key}"));
    }
    for (t, w) in want["steps"].as_array().unwrap().iter().enumerate() {
        for (key, w) in w.as_object().unwrap() {
            if key != "t" {
                rel(&got["steps"][t][key], w, &format!("steps[{t}].{key}"));
            }
        }
    }
}

/// CS231n's rnn_backward(dout) and Coursera's rnn_backward(da) set-ups, a time-major case and a
/// masked temporal softmax, each in its own layout with no transposes by hand: tapegrad's
/// gradients, written back in that layout, match the independent float64 references to 1e-10.
#[test]
fn homework_samples_match_their_independent_references() {
    for name in SAMPLES {
        let case = format!("{}.case.json", sample(name));
        let out = tapegrad(&["grads", "--case", &case, "--json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = std::fs::read_to_string(format!("{}.grads.json", sample(name))).unwrap();
        let want: Value = serde_json::from_str(&text).unwrap();
        matches_reference(&got, &want, 1e-10, name);
    }
}

/// The same case as .json and as .npz gives the same output, byte for byte; its gradients
/// as .npz (stacked per step, one file with dh_0 first) agree with it.
#[test]
fn json_and_npz_give_identical_output() {
    for name in SAMPLES {
        let (json, npz) = (
            format!("{}.case.json", sample(name)),
            format!("{}.case.npz", sample(name)),
        );
        for args in [&["grads", "--json"][..], &["forward", "--json"], &["check"]] {
            let run = |case: &str| {
                let mut all = args.to_vec();
                all.extend(["--case", case]);
                tapegrad(&all)
            };
            let (a, b) = (run(&json), run(&npz));
            assert_eq!(a.status.code(), Some(0), "{name} {args:?}");
            assert_eq!(a.stdout, b.stdout, "{name} {args:?}");
            assert_eq!(a.stderr, b.stderr, "{name} {args:?}");
        }
        let against = format!("{}.grads.npz", sample(name));
        let out = tapegrad(&["check", "--case", &npz, "--against", &against, "--json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["ok"], json!(true), "{name}: {report}");
        assert_eq!(out.status.code(), Some(0), "{name}");
    }
}

/// A time-major case gives the gradients of its batch-major twin, `grads.x` in its own layout.
#[test]
fn a_time_major_case_is_its_batch_major_twin() {
    let text =
        std::fs::read_to_string(format!("{}.case.json", sample("time_major_mse_all"))).unwrap();
    let time_major: Value = serde_json::from_str(&text).unwrap();
    // (T, B, n) → (B, T, n).
    let swap = |v: &Value| -> Value {
        let steps = v.as_array().unwrap();
        json!(
            (0..steps[0].as_array().unwrap().len())
                .map(|i| steps.iter().map(|s| s[i].clone()).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        )
    };
    let mut twin = time_major.clone();
    twin.as_object_mut().unwrap().remove("layout");
    twin["x"] = swap(&time_major["x"]);
    twin["loss"]["targets"] = swap(&time_major["loss"]["targets"]);
    let a = run_json("grads", "time_major", &time_major);
    let mut b = run_json("grads", "batch_major_twin", &twin);
    b["grads"]["x"] = swap(&b["grads"]["x"]);
    assert_eq!(a, b);
}

/// Per-step gradients stacked in JSON, as an .npz holds them: read as the list of steps is,
/// and a 1% error in one step's dh blamed at that step.
#[test]
fn stacked_per_step_gradients_are_read_and_blamed_by_step() {
    let name = sample("cs231n_rnn_backward");
    let text = std::fs::read_to_string(format!("{name}.grads.json")).unwrap();
    let listed: Value = serde_json::from_str(&text).unwrap();
    let steps = listed["steps"].as_array().unwrap();
    let mut stacked = json!({"loss": listed["loss"], "grads": listed["grads"], "steps": {}});
    for key in ["dh", "da", "dw_h"] {
        stacked["steps"][key] = json!(steps.iter().map(|s| s[key].clone()).collect::<Vec<_>>());
    }
    let check = |grads: &Value, file: &str| {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("homework");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file);
        std::fs::write(&path, grads.to_string()).unwrap();
        let case = format!("{name}.case.json");
        let out = tapegrad(&[
            "check",
            "--case",
            &case,
            "--against",
            path.to_str().unwrap(),
            "--json",
        ]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    let (code, report) = check(&stacked, "stacked.json");
    assert_eq!((code, &report["ok"]), (Some(0), &json!(true)), "{report}");
    let entry = &mut stacked["steps"]["dh"][2][1][3];
    *entry = json!(entry.as_f64().unwrap() * 1.01);
    let (code, report) = check(&stacked, "stacked_wrong.json");
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["first_mismatch"]["t"], json!(3), "{report}");
    assert_eq!(
        report["first_mismatch"]["quantity"],
        json!("dh"),
        "{report}"
    );
}

/// numpy's float32 gradients are read exactly and judged at float32's precision; a case saved
/// in Fortran order (np.asfortranarray) reads as its C-order twin.
#[test]
fn float32_arrays_and_fortran_order() {
    let name = sample("cs231n_rnn_backward");
    let (case, fortran) = (
        format!("{name}.case.npz"),
        format!("{name}.fortran.case.npz"),
    );
    let f32_grads = format!("{name}.grads_float32.npz");
    let out = tapegrad(&["check", "--case", &case, "--against", &f32_grads, "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], json!(true), "{report}");
    assert_eq!(report["dtype"], json!("float32"), "{report}");
    let a = tapegrad(&["grads", "--case", &case, "--json"]);
    let b = tapegrad(&["grads", "--case", &fortran, "--json"]);
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(a.stdout, b.stdout);
}

/// Column vectors work for every cell: an LSTM and a GRU case given with every matrix
/// transposed and the biases as columns give the gradients of their row twins, transposed.
#[test]
fn column_vectors_for_the_gated_cells() {
    let t2 = |v: &Value| -> Value {
        let rows = v.as_array().unwrap();
        json!(
            (0..rows[0].as_array().unwrap().len())
                .map(|j| rows.iter().map(|r| r[j].clone()).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        )
    };
    let column = |v: &Value| {
        json!(
            v.as_array()
                .unwrap()
                .iter()
                .map(|b| json!([b]))
                .collect::<Vec<_>>()
        )
    };
    // (batch, steps, n) → (n, batch, steps).
    let seq = |v: &Value| -> Value {
        let b = v.as_array().unwrap();
        let (steps, n) = (
            b[0].as_array().unwrap().len(),
            b[0][0].as_array().unwrap().len(),
        );
        json!(
            (0..n)
                .map(|k| b
                    .iter()
                    .map(|s| (0..steps).map(|t| s[t][k].clone()).collect::<Vec<_>>())
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>()
        )
    };
    for name in ["lstm_mse_all", "gru_softmax_ce"] {
        let text = std::fs::read_to_string(sample(&format!("{name}.case.json"))).unwrap();
        let rows: Value = serde_json::from_str(&text).unwrap();
        let mut cols = rows.clone();
        cols["weights"] = json!("column");
        for (key, v) in rows.as_object().unwrap() {
            cols[key] = match key.as_str() {
                "x" => seq(v),
                "w_x" | "w_h" | "h0" | "c0" => t2(v),
                "b" | "b_x" | "b_h" => column(v),
                _ => continue,
            };
        }
        if let Some(targets) = rows["loss"].get("targets") {
            cols["loss"]["targets"] = seq(targets);
        }
        if let Some(w_out) = rows["loss"].get("w_out") {
            cols["loss"]["w_out"] = t2(w_out);
        }
        let a = run_json("grads", &format!("{name}_rows"), &rows);
        let b = run_json("grads", &format!("{name}_columns"), &cols);
        assert_eq!(b["loss"], a["loss"], "{name}");
        for (key, v) in a["grads"].as_object().unwrap() {
            let want = match key.as_str() {
                "x" => seq(v),
                "b" | "b_x" | "b_h" | "b_out" => column(v),
                _ => t2(v),
            };
            assert_eq!(b["grads"][key], want, "{name} grads.{key}");
        }
        for (t, step) in a["steps"].as_array().unwrap().iter().enumerate() {
            for (key, v) in step.as_object().unwrap() {
                let want = match key.as_str() {
                    "t" => v.clone(),
                    "db" | "db_x" | "db_h" => column(v),
                    _ => t2(v),
                };
                assert_eq!(b["steps"][t][key], want, "{name} steps[{t}].{key}");
            }
        }
    }
}
