//! A fuzzer for the case and gradient loaders and the command line, without nightly Rust: a
//! seeded generator mutates valid files into the kinds of broken ones students write, and feeds
//! them to the readers the command line uses: a case file's cell (`json::cell_kind`) and layout
//! (`json::case_in_layout`, for the RNN, the LSTM and the GRU), gradient files
//! (`json::parse_given`), and the bytes of `.npz` archives (`npz::parse_npz`). Every case that
//! loads then goes through the whole pipeline: forward pass, hand BPTT, tape, a check, and every
//! text and JSON rendering. A share of the time goes to command lines: mutated arguments run
//! through the `tapegrad` binary itself (when it has been built), which must exit 0, 1 or 2 and
//! explain an exit 2 in a line that starts `tapegrad: `.
//!
//! It looks for three things: a panic (caught with `catch_unwind`), an error message that is
//! empty, spans lines or names nothing (`FIELD: why`), and a check that passes although
//! something it computed is NaN or infinite. A stack overflow would abort the run itself.
//!
//! ```sh
//! cargo build --release -p tapegrad-cli   # the binary the command lines run through
//! cargo run --release -p tapegrad-cli --example fuzz_loader -- --seconds 600 --seed 1
//! ```
//!
//! `tests/bad_input.rs` runs the same generator for a few thousand inputs on every test run.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tapegrad::Cell;
use tapegrad::case::Case;
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::check::{Mode, check_case, check_steps};
use tapegrad::diagnose::diagnose;
use tapegrad::gradients::Gradients;
use tapegrad::trace::{self, CheckStyle};
use tapegrad_cli::json::{
    case_in_layout, cell_kind, diagnosis_json, forward_json, gradients_json, parse_case,
    parse_given, parse_json, report_json,
};
use tapegrad_cli::npz::parse_npz;

/// What a fuzzing run saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Inputs tried (each is a case file, or a gradient file for a valid case).
    pub inputs: usize,
    /// Case files that loaded, and went through the pipeline.
    pub cases_loaded: usize,
    /// Gradient files that loaded, and were diagnosed.
    pub grads_loaded: usize,
    /// Files refused with a message.
    pub refused: usize,
    /// `.npz` archives tried, and of those, archives that loaded as a case.
    pub archives: usize,
    pub archives_loaded: usize,
    /// Command lines run through the binary, and of those, runs that exited 0 or 1.
    pub runs: usize,
    pub runs_ran: usize,
    /// Checks run on cases that loaded.
    pub checks: usize,
    /// Of those, checks that did not pass (a NaN or overflow, or honest disagreement).
    pub checks_not_passed: usize,
    /// What went wrong, with the input that did it: a panic, a bad message, a false pass.
    pub problems: Vec<(String, String)>,
}

/// A number a mutation may put anywhere: ordinary, negative, fractional, huge, tiny.
const NUMBERS: [f64; 12] = [
    0.0,
    -1.0,
    1.5,
    2.0,
    3.0,
    100.0,
    1e300,
    -1e308,
    1e-320,
    9e15,
    f64::MAX,
    0.25,
];

/// Bare tokens no JSON library writes, but Python's `json.dump` (the first three) and careless
/// hands do: each replaces a marker string after the document is serialized.
const TOKENS: [&str; 7] = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-2e400",
    "1e-400",
    "-0",
];

/// The valid documents mutations start from: case files for every head and activation.
pub fn case_seeds() -> Vec<Value> {
    let canonical = json!({
        "x": [[[0.01, 0.02], [0.02, 0.03], [0.03, 0.04]]],
        "w_x": [[0.01, 0.03, 0.05, 0.07], [0.03, 0.05, 0.07, 0.08]],
        "w_h": [[0.01, 0.03, 0.05, 0.07], [0.02, 0.04, 0.06, 0.08],
                [0.03, 0.05, 0.07, 0.08], [0.04, 0.06, 0.08, 0.1]],
        "b": [1.0, 1.0, 1.0, 1.0],
        "h0": [[0.0, 0.0, 0.0, 0.0]],
        "activation": "tanh",
        "loss": {"kind": "sum_last"},
    });
    let softmax: Value = serde_json::from_str(include_str!("../../cases/softmax_small.case.json"))
        .expect("the sample case is valid JSON");
    let mse_all = json!({
        "x": [[[0.5], [-0.5]], [[1.0], [0.0]]],
        "w_x": [[0.3, -0.2]],
        "w_h": [[0.5, 0.1], [-0.1, 0.5]],
        "b": [0.0, 0.1],
        "activation": "sigmoid",
        "loss": {"kind": "mse_all", "targets": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6], [0.7, 0.8]]]},
    });
    let mse_last = json!({
        "x": [[[1.0, 2.0, 3.0]]],
        "w_x": [[0.1], [0.2], [0.3]],
        "w_h": [[0.9]],
        "b": [0.0],
        "h0": [[0.5]],
        "activation": "identity",
        "loss": {"kind": "mse_last", "target": [[1.0]]},
    });
    let sample = |text: &str| -> Value {
        serde_json::from_str(text).expect("the sample cases are valid JSON")
    };
    let options = json!({
        "x": [[[0.5, 0.1], [-0.5, 0.2], [0.3, 0.3]], [[1.0, 0.0], [0.0, 1.0], [0.2, 0.1]]],
        "w_x": [[0.3, -0.2], [0.1, 0.4]],
        "w_h": [[0.5, 0.1], [-0.1, 0.5]],
        "b": [0.0, 0.1],
        "loss": {"kind": "softmax_ce_all", "w_out": [[0.2, -0.1, 0.3], [0.1, 0.2, -0.3]],
                 "b_out": [0.0, 0.1, 0.0], "labels": [[0, 2, 1], [1, 1, 0]],
                 "mask": [[true, true, false], [true, false, true]], "reduction": "sum"},
    });
    let upstream = json!({
        "x": [[[0.5], [-0.5]]],
        "w_x": [[0.3, -0.2]],
        "w_h": [[0.5, 0.1], [-0.1, 0.5]],
        "b": [0.0, 0.1],
        "layout": "time_major",
        "loss": {"kind": "upstream", "dh": [[[0.1, 0.2]], [[0.3, -0.4]]]},
    });
    vec![
        canonical,
        softmax,
        mse_all,
        mse_last,
        options,
        upstream,
        sample(include_str!("../../cases/lstm_softmax_ce.case.json")),
        sample(include_str!("../../cases/lstm_cs231n.case.json")),
        sample(include_str!(
            "../../cases/gru_reset_before_softmax_ce.case.json"
        )),
        sample(include_str!("../../cases/gru_mse_all.case.json")),
        sample(include_str!(
            "../../cases/cs231n_temporal_softmax.case.json"
        )),
        sample(include_str!("../../cases/time_major_mse_all.case.json")),
        sample(include_str!("../../cases/coursera_rnn_backward.case.json")),
    ]
}

/// The `.npz` archives mutations start from: cases and gradients as numpy writes them, in
/// both layouts and in Fortran order.
pub fn archive_seeds() -> Vec<&'static [u8]> {
    vec![
        include_bytes!("../../cases/cs231n_rnn_backward.case.npz"),
        include_bytes!("../../cases/cs231n_rnn_backward.fortran.case.npz"),
        include_bytes!("../../cases/time_major_mse_all.case.npz"),
        include_bytes!("../../cases/cs231n_temporal_softmax.case.npz"),
        include_bytes!("../../cases/cs231n_rnn_backward.grads_float32.npz"),
    ]
}

/// A mutated archive: bytes flipped, cut, repeated or inserted.
fn mutate_bytes(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..5) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = *pick(rng, &[0, 0xff, 0x7f, 0x80, b'<', b'f', b'8', b'(']),
            2 => bytes.truncate(at),
            3 => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                let piece = bytes[at..end].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

/// Gradient files that agree with the first two case seeds (`grads --json` of each).
pub fn grads_seeds() -> Vec<(usize, Value)> {
    let read = |text: &str| serde_json::from_str(text).expect("the sample gradients are JSON");
    vec![
        (0, read(include_str!("../../cases/canonical.grads.json"))),
        (
            1,
            read(include_str!("../../cases/softmax_small.grads.json")),
        ),
    ]
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// One step of a path into a JSON document.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path in `doc`, the root first. Documents here are at most a few levels deep.
fn paths(doc: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), doc)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let mut p = path.clone();
                    p.push(Step::Key(k.clone()));
                    stack.push((p, child));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    stack.push((p, child));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

fn at_mut<'a>(doc: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Multiplies every number in `v` by `factor`.
fn scale(v: &mut Value, factor: f64) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                *v = json!(x * factor);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scale(item, factor)),
        Value::Object(map) => map.values_mut().for_each(|item| scale(item, factor)),
        _ => {}
    }
}

/// One structural mutation at a random place in `doc`.
fn mutate_value(rng: &mut ChaCha8Rng, doc: &mut Value) {
    let all = paths(doc);
    let path = pick(rng, &all).clone();
    let kind = rng.random_range(0..14);
    // Mutations of the place's parent: delete it, rename it, swap it with a sibling.
    if let (Some(last), true) = (path.last(), kind < 3) {
        let Some(parent) = at_mut(doc, &path[..path.len() - 1]) else {
            return;
        };
        match (parent, last) {
            (Value::Object(map), Step::Key(k)) => match kind {
                0 => {
                    map.remove(k);
                }
                1 => {
                    if let Some(v) = map.remove(k) {
                        let renamed = match rng.random_range(0..4) {
                            0 => k.to_uppercase(),
                            1 => k.replace('_', ""),
                            2 => format!("d{k}"),
                            _ => format!("{k}_"),
                        };
                        map.insert(renamed, v);
                    }
                }
                _ => {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    let other = pick(rng, &keys).clone();
                    if let (Some(a), Some(b)) = (map.get(k).cloned(), map.get(&other).cloned()) {
                        map.insert(k.clone(), b);
                        map.insert(other, a);
                    }
                }
            },
            (Value::Array(items), Step::Index(i)) => {
                if kind == 0 {
                    items.remove(*i);
                } else {
                    let copy = items[*i].clone();
                    items.insert(*i, copy);
                }
            }
            _ => {}
        }
        return;
    }
    let Some(node) = at_mut(doc, &path) else {
        return;
    };
    *node = match kind {
        3 => json!(*pick(rng, &NUMBERS)),
        4 => json!(pick(rng, &["1", "abc", "NaN", "", "tanh", "softmax_ce"]).to_string()),
        5 => pick(rng, &[Value::Null, json!(true), json!([]), json!({})]).clone(),
        6 => json!([node.take()]),
        7 => match node.take() {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        },
        8 => {
            // Ragged: one inner array loses or gains an entry.
            if let Value::Array(items) = node
                && let Some(Value::Array(inner)) = items.last_mut()
            {
                if rng.random_bool(0.5) {
                    inner.pop();
                } else {
                    inner.push(json!(0.5));
                }
            }
            node.take()
        }
        9 => {
            let depth = rng.random_range(1..200);
            (0..depth).fold(json!(0.0), |inner, _| json!([inner]))
        }
        10 => json!(format!("__TOKEN_{}__", rng.random_range(0..TOKENS.len()))),
        11 => {
            // Grow an array: more steps, a bigger batch, more classes.
            let mut v = node.take();
            if let Value::Array(items) = &mut v
                && let Some(first) = items.first().cloned()
            {
                let copies = rng.random_range(1..40);
                items.extend(std::iter::repeat_n(first, copies));
            }
            v
        }
        12 => {
            let mut v = node.take();
            scale(&mut v, *pick(rng, &[1e150, 1e300, 0.0, -1.0, 1e-300]));
            v
        }
        _ => {
            let labels: Vec<Value> = (0..rng.random_range(0..4))
                .map(|_| match rng.random_range(0..3) {
                    0 => json!(rng.random_range(-2..6)),
                    1 => json!(rng.random_range(-2..6) as f64 + 0.5),
                    _ => json!(rng.random_range(0..3) as f64),
                })
                .collect();
            let activation = *pick(rng, &["tanh", "sigmoid", "identity", "relu", "Tanh"]);
            let kind = *pick(
                rng,
                &["sum_last", "softmax_ce", "mse_all", "mse_last", "hinge"],
            );
            match rng.random_range(0..3) {
                0 => json!(labels),
                1 => json!(activation),
                _ => json!({ "kind": kind }),
            }
        }
    };
}

/// One textual mutation of serialized JSON: truncation, stray characters, cut or repeated
/// pieces, trailing garbage, a byte-order mark, or nesting far past serde_json's limit.
fn mutate_text(rng: &mut ChaCha8Rng, text: &mut String) {
    let boundary = |text: &str, at: usize| {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let at = boundary(text, rng.random_range(0..=text.len()));
    let end = boundary(text, at + rng.random_range(0..20));
    match rng.random_range(0..9) {
        0 => text.truncate(at),
        1 => text.insert(
            at,
            *pick(
                rng,
                &[
                    '[', ']', '{', '}', ',', ':', '"', '\\', '-', 'e', '.', 'é', '\u{0}',
                ],
            ),
        ),
        2 => text.replace_range(at..end, ""),
        3 => {
            let piece = text[at..end].to_string();
            text.insert_str(at, &piece);
        }
        4 => {
            let tail: &&str = pick(rng, &[" x", "}", "]", "\n{}", ",", " // comment"]);
            text.push_str(tail);
        }
        5 => text.insert(0, '\u{feff}'),
        6 => *text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        7 => text.insert_str(at, &"{\"a\":".repeat(rng.random_range(100..300))),
        _ => *text = pick(rng, &["", " ", "null", "[]", "{}", "3", "\"x\""]).to_string(),
    }
}

/// A mutated file: one to three structural mutations of `doc`, markers turned into bare
/// tokens, and now and then a textual mutation on top.
pub fn mutate(rng: &mut ChaCha8Rng, doc: &Value) -> String {
    let mut doc = doc.clone();
    for _ in 0..rng.random_range(1..=3) {
        mutate_value(rng, &mut doc);
    }
    let mut text = if rng.random_bool(0.5) {
        doc.to_string()
    } else {
        serde_json::to_string_pretty(&doc).expect("a Value serializes")
    };
    for (i, token) in TOKENS.iter().enumerate() {
        text = text.replace(&format!("\"__TOKEN_{i}__\""), token);
    }
    if rng.random_bool(0.25) {
        mutate_text(rng, &mut text);
    }
    text
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A refusal must be one line `FIELD: why`, both parts non-empty.
fn message_problem(message: &str) -> Option<String> {
    let named = message
        .split_once(": ")
        .is_some_and(|(what, why)| !what.trim().is_empty() && !why.trim().is_empty());
    if message.contains('\n') || !named {
        Some(format!("badly formed message: {message:?}"))
    } else {
        None
    }
}

fn finite(g: &Gradients<f64>) -> bool {
    let mut all = g.totals.iter().chain(g.steps.iter().flatten());
    g.loss.is_finite() && all.all(|(_, m)| m.first_non_finite().is_none())
}

/// Everything the command line does with a case that loaded. Returns a problem, if any.
fn pipeline<C: Cell>(case: &Case<f64, C>, tally: &mut Tally) -> Option<String> {
    let fwd = case.forward().ok()?;
    let loss = match case.head.loss(fwd.states()) {
        Ok(loss) => loss,
        Err(e) => return Some(format!("a loaded case's head does not fit its states: {e}")),
    };
    let (hand, tape) = match (case.bptt(), case.tape_gradients()) {
        (Ok(hand), Ok(tape)) => (hand, tape),
        (Err(e), _) | (_, Err(e)) => return Some(format!("a loaded case failed: {e}")),
    };
    let _ = (
        trace::forward_trace(case, &fwd, loss),
        forward_json(case, &fwd, loss),
    );
    let _ = (
        trace::backward_trace(case, &hand, "hand"),
        gradients_json::<C>(&tape),
    );
    // Exhaustive mode when small, else a sample of steps in directional mode: either way a
    // few milliseconds.
    let d = case.dims();
    let report = if d.batch * d.steps * d.steps * (d.features + d.hidden) * d.hidden <= 4000 {
        check_case(case, Mode::Exhaustive)
    } else {
        check_steps(case, &hand, Mode::Directional { seed: 1 }, &[1, d.steps])
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return Some(format!("the check of a loaded case failed: {e}")),
    };
    let _ = (
        trace::check_table(&report, CheckStyle::Errors),
        report_json(&report),
    );
    tally.checks += 1;
    let everything_finite = fwd.states().iter().all(|h| h.first_non_finite().is_none())
        && (1..=fwd.steps()).all(|t| fwd.internal(0, t).first_non_finite().is_none())
        && finite(&hand)
        && finite(&tape);
    match (report.passed(), report.first_non_finite, everything_finite) {
        (true, _, false) => return Some("a check passed on a NaN or infinity".into()),
        (_, Some(at), true) => {
            return Some(format!(
                "first_non_finite is {at:?}, but everything is finite"
            ));
        }
        (_, None, false) => return Some("a NaN or infinity missing from first_non_finite".into()),
        _ => {}
    }
    if !report.passed() {
        tally.checks_not_passed += 1;
    }
    None
}

/// What went wrong in one input's run started at `started`: the problem it found, a panic, or
/// more than 10 s spent.
fn problem_of(outcome: std::thread::Result<Option<String>>, started: Instant) -> Option<String> {
    let problem = match outcome {
        Ok(problem) => problem,
        Err(payload) => Some(format!("panic: {}", panic_text(payload.as_ref()))),
    };
    problem.or_else(|| {
        (started.elapsed() > Duration::from_secs(10))
            .then(|| format!("slow: {:.1} s", started.elapsed().as_secs_f64()))
    })
}

/// Tries one case file (`grads = None`) or one gradient file for `case`, counting what
/// happened in `tally`.
pub fn try_input(text: &str, grads_for: Option<&Case<f64>>, tally: &mut Tally) {
    tally.inputs += 1;
    let started = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match grads_for {
        None => match parse_json(text, "case file") {
            Err(e) => {
                tally.refused += 1;
                message_problem(&e.to_string())
            }
            Ok(value) => load_case(&value, tally),
        },
        Some(case) => match parse_given(text, case) {
            Err(e) => {
                tally.refused += 1;
                message_problem(&e.to_string())
            }
            Ok(given) => {
                tally.grads_loaded += 1;
                let tape = case.tape_gradients().ok()?;
                let Ok(scale) = case.roundoff_scales() else {
                    return None;
                };
                let d = diagnose(&tape, &scale, &given.value, &case.cell);
                let _ = (diagnosis_json(&d), trace::diagnosis(&d));
                None
            }
        },
    }));
    let problem = problem_of(outcome, started);
    if let Some(problem) = problem {
        tally.problems.push((problem, text.to_string()));
    }
}

/// A case file's value read as the command line reads it (its `"cell"`, then its layout), and
/// run through the pipeline if it loads.
fn load_case(value: &Value, tally: &mut Tally) -> Option<String> {
    fn as_cell<C: Cell>(value: &Value, tally: &mut Tally) -> Option<String> {
        match case_in_layout::<C>(value) {
            Err(e) => {
                tally.refused += 1;
                message_problem(&e.to_string())
            }
            Ok((parsed, _)) => {
                tally.cases_loaded += 1;
                pipeline(&parsed.value, tally)
            }
        }
    }
    match cell_kind(value) {
        Ok(None | Some("rnn")) => as_cell::<Rnn>(value, tally),
        Ok(Some("lstm")) => as_cell::<Lstm>(value, tally),
        Ok(Some("gru")) => as_cell::<Gru>(value, tally),
        Ok(Some(_)) => {
            tally.refused += 1;
            None
        }
        Err(e) => {
            tally.refused += 1;
            message_problem(&e.to_string())
        }
    }
}

/// Tries one mutated `.npz` archive: read as the command line reads one, then as a case.
pub fn try_archive(bytes: &[u8], tally: &mut Tally) {
    tally.archives += 1;
    let started = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match parse_npz(bytes, "case file") {
        Err(e) => {
            tally.refused += 1;
            message_problem(&e.to_string())
        }
        Ok(value) => {
            tally.archives_loaded += 1;
            load_case(&value, tally)
        }
    }));
    let problem = problem_of(outcome, started);
    if let Some(problem) = problem {
        let shown: String = bytes.iter().take(100).map(|b| format!("{b:02x}")).collect();
        tally.problems.push((format!("archive: {problem}"), shown));
    }
}

/// Runs the generator from `seed` while `go_on(inputs so far)` says so: for every eight
/// inputs, five case files, two gradient files and one `.npz` archive.
pub fn fuzz(seed: u64, mut go_on: impl FnMut(usize) -> bool) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cases = case_seeds();
    // The gradient seeds belong to the first two cases, both RNNs.
    let loaded: Vec<Case<f64>> = cases[..2]
        .iter()
        .map(|doc| {
            parse_case(&doc.to_string())
                .expect("the seed cases are valid")
                .value
        })
        .collect();
    let grads = grads_seeds();
    let archives = archive_seeds();
    let mut tally = Tally::default();
    while go_on(tally.inputs + tally.archives) {
        let which = rng.random_range(0..8);
        if which == 0 {
            let seed: &[u8] = archives[rng.random_range(0..archives.len())];
            let bytes = mutate_bytes(&mut rng, seed);
            try_archive(&bytes, &mut tally);
        } else if which <= 2 {
            let (case, doc) = pick(&mut rng, &grads);
            let text = mutate(&mut rng, doc);
            try_input(&text, Some(&loaded[*case]), &mut tally);
        } else {
            let doc = pick(&mut rng, &cases);
            let text = mutate(&mut rng, doc);
            try_input(&text, None, &mut tally);
        }
    }
    tally
}

/// The words command lines are made of: commands (and near-misses), options (in both
/// spellings, short and misspelled), and values (`FILE:name` for one of the files written by
/// [`argument_files`]).
const WORDS: [&str; 62] = [
    "forward",
    "grads",
    "check",
    "graph",
    "help",
    "version",
    "chek",
    "--version",
    "--help",
    "",
    "--case",
    "--json",
    "--method",
    "--mode",
    "--steps",
    "--seed",
    "--against",
    "--agains",
    "-c",
    "--case=FILE:case",
    "--steps=1",
    "--mode=directional",
    "--json=yes",
    "--report",
    "--detail",
    "FILE:case",
    "FILE:lstm",
    "FILE:npz",
    "FILE:grads",
    "FILE:broken",
    "FILE:medium",
    "FILE:missing",
    "FILE:directory",
    "/dev/null",
    "1",
    "-1",
    "0",
    "1,2",
    "1-3",
    "3-1",
    "none",
    "2,,3",
    "99999999999999999999",
    "1e3",
    "exhaustive",
    "directional",
    "bptt",
    "tape",
    "fd",
    "forward",
    "é",
    "--",
    "-",
    "--steps",
    "none",
    "5",
    "--seed",
    "18446744073709551616",
    "--mode",
    "Exhaustive",
    "\u{1b}[0m",
    "--case",
];

/// Files command lines name, written once into `dir`: valid cases of two cells (one as
/// `.npz`), a gradient file, a broken file, a medium-length case whose full check is refused,
/// a directory.
fn argument_files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("the fuzzer's directory is writable");
        path
    };
    let medium = json!({
        "x": [(0..400).map(|t| [(t as f64 * 0.1).sin()]).collect::<Vec<_>>()],
        "w_x": [[0.5, -0.3, 0.2]],
        "w_h": [[0.5, 0.1, 0.0], [-0.1, 0.5, 0.2], [0.0, 0.3, 0.4]],
        "b": [0.0, 0.1, -0.1],
    });
    let directory = dir.join("a_directory.json");
    std::fs::create_dir_all(&directory).expect("the fuzzer's directory is writable");
    vec![
        (
            "case",
            write(
                "case.json",
                include_bytes!("../../cases/canonical.case.json"),
            ),
        ),
        (
            "lstm",
            write(
                "lstm.json",
                include_bytes!("../../cases/lstm_softmax_ce.case.json"),
            ),
        ),
        (
            "npz",
            write(
                "case.npz",
                include_bytes!("../../cases/cs231n_rnn_backward.case.npz"),
            ),
        ),
        (
            "grads",
            write(
                "grads.json",
                include_bytes!("../../cases/canonical.grads.json"),
            ),
        ),
        (
            "broken",
            write("broken.json", b"{\"x\": [[[1, 2]]], \"w_x\": ["),
        ),
        (
            "medium",
            write("medium.json", medium.to_string().as_bytes()),
        ),
        ("missing", dir.join("no_such_file.json")),
        ("directory", directory),
    ]
}

/// Runs mutated command lines through the binary at `binary` while `go_on(runs so far)` says
/// so. Each must end within 20 s with exit status 0, 1 or 2, and an exit 2 must say why on
/// standard error, every line of it starting `tapegrad: ` or `(see tapegrad help`.
pub fn fuzz_arguments(seed: u64, binary: &Path, mut go_on: impl FnMut(usize) -> bool) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = std::env::temp_dir().join(format!("tapegrad-fuzz-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the fuzzer's directory can be made");
    let files = argument_files(&dir);
    let err_path = dir.join("stderr.txt");
    let mut tally = Tally::default();
    while go_on(tally.runs) {
        let count = rng.random_range(0..7);
        let mut words: Vec<String> = (0..count)
            .map(|_| pick(&mut rng, &WORDS).to_string())
            .collect();
        if rng.random_bool(0.8) {
            let command = *pick(&mut rng, &["forward", "grads", "check", "graph"]);
            words.insert(0, command.to_string());
        }
        let args: Vec<String> = words
            .iter()
            .map(|w| {
                files.iter().fold(w.clone(), |w, (name, path)| {
                    w.replace(&format!("FILE:{name}"), &path.to_string_lossy())
                })
            })
            .collect();
        tally.runs += 1;
        let shown = format!("tapegrad {}", args.join(" "));
        let problem = run_once(binary, &args, &err_path);
        match problem {
            Ok(true) => tally.runs_ran += 1,
            Ok(false) => tally.refused += 1,
            Err(problem) => tally.problems.push((problem, shown)),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    tally
}

/// Runs the binary once: whether it ran (exit 0 or 1) or refused (exit 2, explained), or what
/// was wrong.
fn run_once(binary: &Path, args: &[String], err_path: &Path) -> Result<bool, String> {
    let err_file = std::fs::File::create(err_path).map_err(|e| format!("stderr file: {e}"))?;
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("no answer within 20 s".into());
            }
        }
    };
    let err = std::fs::read_to_string(err_path).unwrap_or_default();
    if err.contains("panicked") {
        return Err(format!("panic: {}", err.lines().next().unwrap_or("")));
    }
    let explained = err
        .lines()
        .all(|l| l.starts_with("tapegrad: ") || l.starts_with("(see tapegrad help"));
    match status.code() {
        Some(0 | 1) if explained => Ok(true),
        Some(2) if explained && !err.trim().is_empty() => Ok(false),
        Some(code @ (0..=2)) => Err(format!("exit {code} with standard error {err:?}")),
        Some(code) => Err(format!("exit {code}: {err:?}")),
        None => Err(format!("killed by a signal: {err:?}")),
    }
}

/// The `tapegrad` binary beside this program's directory (`target/release/examples/..`), or
/// the one Cargo built for the tests.
pub fn binary() -> Option<PathBuf> {
    if let Some(built) = option_env!("CARGO_BIN_EXE_tapegrad") {
        return Some(PathBuf::from(built));
    }
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.parent()?.join("tapegrad");
    beside.is_file().then_some(beside)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a whole number"))
    };
    let (seconds, seed) = (option("--seconds", 60), option("--seed", 1));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    // Two thirds of the time for the readers and the pipeline, a third for command lines.
    let files_until = start + Duration::from_secs(seconds * 2 / 3);
    let mut tally = fuzz(seed, |_| Instant::now() < files_until);
    match binary() {
        Some(binary) => {
            let runs = fuzz_arguments(seed, &binary, |_| Instant::now() < deadline);
            println!(
                "fuzz_loader: {} command lines through {} ({} ran, {} refused with a message)",
                runs.runs,
                binary.display(),
                runs.runs_ran,
                runs.refused
            );
            tally.problems.extend(runs.problems);
        }
        None => println!(
            "fuzz_loader: no tapegrad binary beside this program, so no command lines were \
             tried: build it first with cargo build --release -p tapegrad-cli"
        ),
    }
    println!(
        "fuzz_loader: {} inputs and {} .npz archives ({} loaded) in {:.0} s (seed {seed}): {} \
         case files loaded, {} gradient files loaded, {} refused with a message; {} checks run, \
         {} of them not passed; {} problems",
        tally.inputs,
        tally.archives,
        tally.archives_loaded,
        start.elapsed().as_secs_f64(),
        tally.cases_loaded,
        tally.grads_loaded,
        tally.refused,
        tally.checks,
        tally.checks_not_passed,
        tally.problems.len()
    );
    for (problem, text) in tally.problems.iter().take(10) {
        let shown: String = text.chars().take(300).collect();
        println!("PROBLEM {problem}\n  input: {shown}");
    }
    if !tally.problems.is_empty() {
        std::process::exit(1);
    }
}
