//! `tapegrad`: check the gradients of a recurrent network, the canonical example's or your own
//! numpy arrays'.
//!
//! Exit status: 0 when everything agrees, 1 when a check failed, 2 for bad usage or a bad
//! case or gradient file (the message names the field, the shape expected and the shape found).

use std::io::{Read, Write};
use std::process::ExitCode;
use tapegrad::Cell;
use tapegrad::case::Case;
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::check::{Mode, NonFiniteAt, check_steps, fd_gradients, first_non_finite};
use tapegrad::cost;
use tapegrad::diagnose::referee;
use tapegrad::error::Error;
use tapegrad::forward::forward_gradients;
use tapegrad::gradients::Keep;
use tapegrad::graph::{self, Detail};
use tapegrad::printed;
use tapegrad::trace;
use tapegrad_cli::{json, npz};

/// The commands, for `help COMMAND`.
const COMMANDS: [&str; 4] = ["forward", "grads", "check", "graph"];

const USAGE: &str = "\
tapegrad: see and verify the gradients of a recurrent network

usage:
  tapegrad forward [--case FILE] [--json]
      per-step a_t and h_t, and the loss
  tapegrad grads   [--case FILE] [--method bptt|tape|forward|fd] [--json]
      every gradient, per step and in total (default method: bptt; forward:
      exact forward mode, dual numbers through the same forward code)
  tapegrad check   [--case FILE] [--mode exhaustive|directional] [--seed N]
                   [--steps all|none|LIST] [--json] [--report FILE.html]
      hand BPTT vs tape vs finite differences, at every time step and in total;
      --steps 1,50,100 (or 1-10,100) checks those steps only, --steps none the
      totals only: each checked step costs a rerun of the sequence per finite
      difference, so checking every step grows as T² and a long case asks for
      a sample (or --steps all); --report writes one self-contained HTML page
      (the table, a heat map, the gradients through time, the graph)
  tapegrad check   [--case FILE] --against GRADS [--json]
      your own gradients (a file in the grads --json format, any key may be missing)
      against the tape: the step and the equation where they first go wrong
  tapegrad graph   [--case FILE] [--detail ops|steps]
      the tape as a Graphviz picture of the unrolled network, one column per
      step: tapegrad graph | dot -Tsvg > graph.svg; --detail steps folds each
      step into one box (the default beyond 8 steps)
  tapegrad help [COMMAND]
      this text
  tapegrad --version
      the version of tapegrad

Without --case, each command uses the canonical example of the seed notebooks.
A case file is a JSON object {\"x\", the cell's parameters (\"w_x\", \"w_h\", \"b\"; a GRU's
\"b_x\", \"b_h\")[, \"h0\", \"c0\", \"cell\", \"activation\", \"gate_order\", \"reset\", \"loss\"]}
(\"cell\": \"rnn\", the default, \"lstm\" or \"gru\"); export numpy arrays with
json.dump({\"x\": x.tolist(), ...}, f), or as an .npz with np.savez (a dotted name nests:
np.savez(f, x=x, ..., **{\"loss.kind\": \"upstream\", \"loss.dh\": dout})).
\"layout\": \"time_major\" reads x as (steps, batch, features); \"weights\": \"column\" reads
Coursera's column vectors (W·x: w_x (hidden, features), x (features, batch, steps)); --json
gradients are written, and --against files read, in the same layout.

The loss, \"loss\": {\"kind\": ...}:
  sum_last        L = Σ h_T                                          (the default)
  softmax_ce      L = mean_i −log softmax(h_T·W_out + b_out)_i[label_i]
                  \"w_out\", \"b_out\", \"labels\" (class indices or one-hot rows)
  softmax_ce_all  L = mean_i Σ_t mask_ti · −log softmax(h_t·W_out + b_out)_i[label_ti]
                  \"labels\" (batch, steps), \"mask\" (batch, steps) optional: CS231n's
                  temporal softmax
  mse_all         L = ½ Σ_t Σ (h_t − y_t)²        \"targets\" (batch, steps, hidden)
  mse_last        L = mean_i Σ (h_T − y)²         \"target\" (batch, hidden)
  upstream        L = Σ_t ⟨dout_t, h_t⟩, so ∂L/∂h_t = dout_t: \"dh\" (batch, steps, hidden)
                  holds dout, the upstream gradient CS231n's rnn_backward(dh, cache) takes
\"reduction\": \"mean\" | \"sum\" on the heads that sum over the batch (default as above);
\"half\": true | false on the squared errors (½ or not).

A NaN or infinity anywhere in the forward pass, the loss or the gradients
fails the check, naming the step where it first appears.

exit status: 0 all agree, 1 a check failed, 2 bad usage or bad input";

/// The most multiply-adds (roughly) a check runs without being asked to: about a minute in a
/// release build. A case whose full per-step check would cost more must choose steps. It was
/// [`GRADS_BUDGET`] for finite differences alone; scaled with forward mode's evaluations, the
/// same cases run unasked as before (scripts rely on which ones do).
const CHECK_BUDGET: f64 =
    GRADS_BUDGET * (cost::FD_EVALUATIONS + cost::FORWARD_EVALUATIONS) / cost::FD_EVALUATIONS;

/// The most multiply-adds (roughly) `grads --method fd` or `forward` runs: about half a minute
/// in a release build.
const GRADS_BUDGET: f64 = 3e10;

/// The most memory (estimated by `tapegrad::cost`) a command may take: what a laptop can spare.
/// The estimates come within 10% of the bytes an allocator counts below them and half again
/// above, and the process adds its case and its output, so a command let through stays well
/// under 2 GiB.
const MEMORY_BUDGET: f64 = 1.5 * 1024.0 * 1024.0 * 1024.0;

/// What went wrong, and the exit status it maps to.
enum Failure {
    /// Bad usage or bad input: exit 2.
    Usage(String),
    /// A check ran and failed: exit 1 (its report was already printed).
    CheckFailed,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Usage(e.to_string())
    }
}

/// A command: the first word of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Help,
    Version,
    Forward,
    Grads,
    Check,
    Graph,
}

impl Command {
    /// The command a word names, if any.
    fn parse(word: &str) -> Option<Command> {
        Some(match word {
            "help" | "-h" | "--help" => Command::Help,
            "--version" | "-V" => Command::Version,
            "forward" => Command::Forward,
            "grads" => Command::Grads,
            "check" => Command::Check,
            "graph" => Command::Graph,
            _ => return None,
        })
    }
}

/// How `grads` computes the gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// `bptt`: the cell's hand-derived backward step.
    Bptt,
    /// `tape`: one reverse sweep of the recorded forward pass.
    Tape,
    /// `fd`: central finite differences, each quantity perturbed where it lives.
    Fd,
    /// `forward`: forward mode, dual numbers through the same forward code, exact.
    Forward,
}

impl Method {
    /// The method as `--method` names it.
    fn name(self) -> &'static str {
        match self {
            Method::Bptt => "bptt",
            Method::Tape => "tape",
            Method::Fd => "fd",
            Method::Forward => "forward",
        }
    }
}

/// The parsed command line.
struct Options {
    command: Command,
    /// The command's name as given (`check`, `--help`), for messages.
    word: String,
    case: Option<String>,
    against: Option<String>,
    method: Method,
    mode: Mode,
    json: bool,
    /// `--detail`; `None` when not given.
    detail: Option<Detail>,
    /// `--report`: where to write the HTML page.
    report: Option<String>,
    /// `--steps`: the steps to check, as ranges `(first, last)`; `None` when not given.
    steps: Option<Steps>,
    /// The command `help COMMAND` (or `COMMAND --help`) is asked about.
    topic: Option<String>,
}

/// Every option of every command, for "did you mean".
const OPTIONS: [&str; 10] = [
    "--case",
    "--report",
    "--detail",
    "--against",
    "--method",
    "--mode",
    "--seed",
    "--steps",
    "--json",
    "--help",
];

/// A usage error: one line, then where to read the command's options.
fn usage(message: String, topic: Option<&str>) -> Failure {
    let help = match topic {
        Some(command) if COMMANDS.contains(&command) => format!("tapegrad help {command}"),
        _ => "tapegrad help".to_string(),
    };
    Failure::Usage(format!("{message}\n(see {help})"))
}

/// The lines of the usage text about `command`: its synopsis and what it does.
fn command_help(command: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in USAGE.lines() {
        if let Some(rest) = line.strip_prefix("  tapegrad ") {
            inside = rest.split_whitespace().next() == Some(command);
        } else if !line.starts_with("      ") && !line.starts_with("                   ") {
            inside = false;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("\nThe case file's keys, the loss heads and the exit status: tapegrad help\n");
    out
}

/// The steps `check --steps` names.
enum Steps {
    /// `all`: every step, however long the case.
    All,
    /// `none` (no ranges: the totals only) or a list like `1,50,90-100`, as inclusive ranges.
    Ranges(Vec<(usize, usize)>),
}

/// Parses `all`, `none`, or a comma-separated list of step numbers and ranges `a-b`.
fn parse_steps(text: &str) -> Result<Steps, Failure> {
    let bad = |why: String| {
        usage(
            format!(
                "--steps: {why}; expected all, none, or step numbers and ranges like 1,50,90-100"
            ),
            Some("check"),
        )
    };
    match text {
        "all" => return Ok(Steps::All),
        "none" => return Ok(Steps::Ranges(Vec::new())),
        _ => {}
    }
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("{part:?} is not a step number")))
    };
    let mut ranges = Vec::new();
    for part in text.split(',') {
        // "-1" is a negative number, not a range with its start left out.
        if part.trim().starts_with('-') {
            return Err(bad(format!(
                "{part:?} is not a step number: steps are numbered from 1"
            )));
        }
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if first > last {
            return Err(bad(format!("the range {part:?} runs backward")));
        }
        ranges.push((first, last));
    }
    Ok(Steps::Ranges(ranges))
}

fn parse_args(args: &[String]) -> Result<Options, Failure> {
    let mut rest = args.iter();
    let Some(word) = rest.next() else {
        return Err(usage("a command is required".to_string(), None));
    };
    let command = Command::parse(word);
    let mut options = Options {
        // An unknown command is refused once its options have been read (below).
        command: command.unwrap_or(Command::Help),
        word: word.clone(),
        case: None,
        against: None,
        method: Method::Bptt,
        mode: Mode::Exhaustive,
        json: false,
        detail: None,
        report: None,
        steps: None,
        topic: None,
    };
    // `help` takes at most a command's name, and prints the whole text, which covers every
    // command; `--version` takes nothing.
    let is_help = command == Some(Command::Help);
    if is_help || command == Some(Command::Version) {
        let extra: Vec<&String> = rest.collect();
        let fine = match extra.as_slice() {
            [] => true,
            [name] => is_help && COMMANDS.contains(&name.as_str()),
            _ => false,
        };
        if !fine {
            let takes = if is_help {
                "at most the name of a command (forward, grads, check or graph)"
            } else {
                "nothing"
            };
            let hint = match extra.as_slice() {
                [name] => json::misspelling_of(name, &COMMANDS)
                    .map_or(String::new(), |c| format!("; did you mean {c:?}?")),
                _ => String::new(),
            };
            return Err(usage(
                format!("{} takes {takes}, found {extra:?}{hint}", options.word),
                None,
            ));
        }
        options.topic = extra.first().map(|name| name.to_string());
        return Ok(options);
    }
    let mut command = command;
    let (mut method, mut mode, mut detail, mut seed) = (None, None, None, 0);
    let mut given: Vec<String> = Vec::new();
    let topic = command.map(|_| word.as_str());
    while let Some(arg) = rest.next() {
        // `--case=FILE` is `--case FILE`.
        let (arg, mut inline) = match arg.split_once('=') {
            Some((name, v)) if name.starts_with("--") => (name.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if arg.starts_with("--") && arg != "--help" {
            if given.contains(&arg) {
                return Err(usage(format!("{arg} is given twice: give it once"), topic));
            }
            given.push(arg.clone());
        }
        let mut value = |name: &str| {
            inline
                .take()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| usage(format!("{name} needs a value"), topic))
        };
        match arg.as_str() {
            "--case" => options.case = Some(value("--case")?),
            "--against" => options.against = Some(value("--against")?),
            "--report" => options.report = Some(value("--report")?),
            "--method" => method = Some(value("--method")?),
            "--detail" => detail = Some(value("--detail")?),
            "--mode" => mode = Some(value("--mode")?),
            "--seed" => {
                let text = value("--seed")?;
                seed = text.parse().map_err(|_| {
                    usage(
                        format!("--seed: expected a whole number ≥ 0, found {text:?}"),
                        topic,
                    )
                })?;
            }
            "--steps" => options.steps = Some(parse_steps(&value("--steps")?)?),
            "--json" if inline.is_some() => {
                return Err(usage("--json takes no value".to_string(), topic));
            }
            "--json" => options.json = true,
            "-h" | "--help" => {
                options.topic = command.map(|_| word.clone());
                command = Some(Command::Help);
            }
            other => {
                let short = OPTIONS
                    .iter()
                    .find(|o| other.len() == 2 && other.starts_with('-') && o[2..3] == other[1..]);
                let hint = if !other.starts_with('-')
                    && (other.ends_with(".json") || other.ends_with(".npz"))
                {
                    format!("; to use it as the case, write --case {other}")
                } else if let Some(long) = short {
                    format!("; tapegrad has no short options: did you mean {long}?")
                } else {
                    json::misspelling_of(other, &OPTIONS)
                        .map_or(String::new(), |o| format!("; did you mean {o}?"))
                };
                return Err(usage(
                    format!("unknown option {other:?} for {}{hint}", options.word),
                    topic,
                ));
            }
        }
    }
    if options.against.is_some() && options.steps.is_some() {
        return Err(Failure::Usage(
            "--steps chooses the steps of the finite-difference check; --against compares \
             every step given in the file"
                .into(),
        ));
    }
    let Some(command) = command else {
        let hint = json::misspelling_of(&options.word, &COMMANDS)
            .map_or(String::new(), |c| format!("; did you mean {c:?}?"));
        return Err(usage(
            format!("unknown command {:?}{hint}", options.word),
            None,
        ));
    };
    options.command = command;
    // An option the command does not use would be silently ignored: refuse it instead.
    let allowed: &[&str] = match command {
        Command::Forward => &["--case", "--json"],
        Command::Grads => &["--case", "--method", "--json"],
        Command::Check if options.against.is_some() => &["--case", "--against", "--json"],
        Command::Check => &[
            "--case", "--mode", "--seed", "--steps", "--json", "--report",
        ],
        Command::Graph => &["--case", "--detail"],
        Command::Help | Command::Version => return Ok(options),
    };
    if let Some(extra) = given.iter().find(|g| !allowed.contains(&g.as_str())) {
        let what = if command == Command::Check && options.against.is_some() {
            "check --against".to_string()
        } else {
            options.word.clone()
        };
        return Err(usage(
            format!(
                "{extra} is not an option of {what} (its options: {})",
                allowed.join(", ")
            ),
            Some(&options.word),
        ));
    }
    options.method = match method.as_deref() {
        None | Some("bptt") => Method::Bptt,
        Some("tape") => Method::Tape,
        Some("fd") => Method::Fd,
        Some("forward") => Method::Forward,
        Some(other) => {
            return Err(usage(
                format!("--method: expected bptt, tape, forward or fd, found {other:?}"),
                Some("grads"),
            ));
        }
    };
    options.detail = match detail.as_deref() {
        None => None,
        Some("ops") => Some(Detail::Ops),
        Some("steps") => Some(Detail::Steps),
        Some(other) => {
            return Err(usage(
                format!("--detail: expected ops or steps, found {other:?}"),
                Some("graph"),
            ));
        }
    };
    options.mode = match mode.as_deref() {
        None | Some("exhaustive") => Mode::Exhaustive,
        Some("directional") => Mode::Directional { seed },
        Some(other) => {
            return Err(usage(
                format!("--mode: expected exhaustive or directional, found {other:?}"),
                Some("check"),
            ));
        }
    };
    if options.mode == Mode::Exhaustive && given.iter().any(|g| g == "--seed") {
        return Err(usage(
            "--seed seeds the random directions of --mode directional; the exhaustive check \
             has none"
                .to_string(),
            Some("check"),
        ));
    }
    Ok(options)
}

/// The largest case or gradient file read, 256 MiB: far more than any sequence a check can
/// handle, and a bound that keeps `--case /dev/zero` from filling the memory.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// Reads a case or gradient file, JSON or `.npz`, into the value its readers take; `what`
/// names it in messages (`case file`). Refuses what can be neither, saying what it looks like.
fn read_value(option: &str, path: &str, what: &str) -> Result<serde_json::Value, Failure> {
    let cannot =
        |why: String| Failure::Usage(format!("{option} {path}: cannot read the file: {why}"));
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(cannot(format!(
            "it is larger than {} MiB, the most tapegrad reads",
            MAX_FILE_BYTES >> 20
        )));
    }
    let in_file = |e: Error| Failure::Usage(format!("{path}: {e}"));
    if npz::is_npz(&bytes) {
        return npz::parse_npz(&bytes, what).map_err(in_file);
    }
    if npz::is_npy(&bytes) {
        return Err(cannot(
            "this is one .npy array (np.save); save every array of the case in one .npz with \
             np.savez(path, x=x, w_x=W_x, ...), or write JSON"
                .to_string(),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(cannot(
            "it is UTF-16 text (what PowerShell's > writes); save it as UTF-8: write it from \
             Python with json.dump, or in PowerShell with Out-File -Encoding utf8"
                .to_string(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        cannot(format!(
            "byte {} is not UTF-8 text; expected a JSON file written by json.dump or an .npz \
             written by np.savez (not a pickle file)",
            e.utf8_error().valid_up_to()
        ))
    })?;
    json::parse_json(&text, what).map_err(in_file)
}

/// Runs the command on the case `--case` names, or on the canonical example.
///
/// The one place that knows the cells: a case file's `"cell"` (the RNN when it says nothing)
/// picks the type the whole command then runs on. A new cell adds its line here.
fn run_on_case(options: &Options) -> Result<(), Failure> {
    let Some(path) = options.case.as_deref() else {
        return run_command(options, Case::canonical(), &json::Convention::default());
    };
    let in_file = |e: Error| Failure::Usage(format!("{path}: {e}"));
    let value = read_value("--case", path, "case file")?;
    match json::cell_kind(&value).map_err(in_file)? {
        None | Some(Rnn::KIND) => run_in_layout::<Rnn>(options, path, value),
        Some(Lstm::KIND) => run_in_layout::<Lstm>(options, path, value),
        Some(Gru::KIND) => run_in_layout::<Gru>(options, path, value),
        Some(other) => Err(in_file(Error::invalid(
            "cell",
            format!(
                "unknown cell {other:?}; expected {:?}, {:?} or {:?}",
                Rnn::KIND,
                Lstm::KIND,
                Gru::KIND
            ),
        ))),
    }
}

/// Runs the command on the case file `path` of the cell `C`, read in its own layout.
fn run_in_layout<C: Cell>(
    options: &Options,
    path: &str,
    value: serde_json::Value,
) -> Result<(), Failure> {
    let (parsed, conv) =
        json::case_in_layout::<C>(&value).map_err(|e| Failure::Usage(format!("{path}: {e}")))?;
    // The file as JSON values takes several times the memory of the case read from it.
    drop(value);
    run_command(options, warn_ignored(path, parsed), &conv)
}

/// A file's content, after a warning on standard error for each key in it that was not read:
/// the output (and the exit status) stay those of what was read.
fn warn_ignored<T>(path: &str, parsed: json::Parsed<T>) -> T {
    for line in &parsed.ignored {
        eprintln!("tapegrad: warning: {path}: {line}");
    }
    parsed.value
}

/// `check --against FILE`: the user's gradients against the tape.
///
/// If the case itself overflows (a NaN or infinity in the tape's forward pass or gradients),
/// no comparison can be trusted: the diagnosis fails and says where, whatever was given.
fn check_against<C: Cell>(
    case: &Case<f64, C>,
    path: &str,
    conv: &json::Convention,
    options: &Options,
) -> Result<(), Failure> {
    let as_json = options.json;
    // Without --case the gradients are read against the canonical example: say so when they
    // do not fit it, the usual reason being a forgotten --case.
    let forgotten = if options.case.is_none() {
        " (no --case was given, so this is the canonical example's shape: give your case \
         with --case)"
    } else {
        ""
    };
    let value = conv.grads_to_rows(&read_value("--against", path, "gradient file")?);
    let given = json::given_from_value(&value, case)
        .map(|parsed| warn_ignored(path, parsed))
        .map_err(|e| Failure::Usage(format!("{path}: {e}{forgotten}")))?;
    let d = referee(case, &given)?;
    if as_json {
        let mut value = json::diagnosis_json(&d);
        value["first_non_finite"] = json::non_finite_json(d.non_finite);
        print_json(&value);
    } else {
        emit(&printed::diagnosis(case, &d));
    }
    if d.ok {
        Ok(())
    } else {
        Err(Failure::CheckFailed)
    }
}

/// The steps a `check` covers: those `--steps` names (checked against the case's length), or
/// every step if the case is small enough, or else a refusal that explains the choice. Every
/// choice is costed in time and memory; `--steps all` insists on the time, but memory that
/// the machine may not have is refused whatever was asked, and no refusal suggests a command
/// that would not fit.
fn steps_to_check<C: Cell>(
    case: &Case<f64, C>,
    mode: Mode,
    steps: Option<&Steps>,
) -> Result<Vec<usize>, Failure> {
    let count = case.x.len();
    let fits = |mode: Mode, n: usize| {
        cost::check_work(case, mode, n) <= CHECK_BUDGET
            && cost::check_memory(case, mode, n) <= MEMORY_BUDGET
    };
    let directional = Mode::Directional { seed: 0 };
    let sample = format!("--steps 1,{},{count}", count.div_ceil(2));
    let chosen: Vec<usize> = match steps {
        Some(Steps::All) | None => (1..=count).collect(),
        Some(Steps::Ranges(ranges)) => {
            if let Some(&(_, last)) = ranges
                .iter()
                .find(|&&(first, last)| first == 0 || last > count)
            {
                let bad = if last > count { last } else { 0 };
                return Err(Failure::Usage(format!(
                    "--steps: step {bad} does not exist: the case has {count} steps, numbered 1 to {count}"
                )));
            }
            let mut chosen: Vec<usize> = ranges.iter().flat_map(|&(a, b)| a..=b).collect();
            chosen.sort_unstable();
            chosen.dedup();
            chosen
        }
    };
    let what = match (steps, chosen.len()) {
        (None, n) => format!("all {n} steps"),
        (_, 0) => "the totals".to_string(),
        (_, 1) => "1 step".to_string(),
        (_, n) => format!("{n} steps"),
    };
    let bytes = cost::check_memory(case, mode, chosen.len());
    if bytes > MEMORY_BUDGET {
        // Memory grows with T (the forward passes the reruns start from) and with the steps
        // kept; exhaustive mode adds stacked copies of the batch.
        let advice = if mode == Mode::Exhaustive && fits(directional, chosen.len()) {
            "add --mode directional".to_string()
        } else if chosen.len() > 3 && fits(mode, 3) {
            format!("check a sample with {sample}")
        } else if chosen.len() > 3 && fits(directional, 3) {
            format!("check a sample with --mode directional {sample}")
        } else {
            // Both costs grow about linearly with T for a fixed choice of steps.
            let work = cost::check_work(case, mode, chosen.len());
            let share = (MEMORY_BUDGET / bytes).min(CHECK_BUDGET / work);
            let shorter = (count as f64 * share).floor().max(1.0);
            format!(
                "the case is too long to check in memory: check a shorter case of the same cell \
                 (about {shorter:.0} steps fit), or compare your gradients with check --against"
            )
        };
        return Err(usage(
            format!(
                "check: checking {what} would take about {} of memory (and {:.0e} \
                 multiply-adds), more than the {} tapegrad uses (each finite difference reruns \
                 the sequence from forward passes it keeps): {advice}",
                gib(bytes),
                cost::check_work(case, mode, chosen.len()),
                gib(MEMORY_BUDGET)
            ),
            Some("check"),
        ));
    }
    let work = cost::check_work(case, mode, chosen.len());
    if work <= CHECK_BUDGET || matches!(steps, Some(Steps::All)) {
        return Ok(chosen);
    }
    match steps {
        Some(Steps::Ranges(_)) => {
            // A list of steps is a sample, not a licence: it costs what it costs.
            let advice = if mode == Mode::Exhaustive && fits(directional, chosen.len()) {
                "add --mode directional (random directions instead of every entry)".to_string()
            } else {
                "the case is too large to check this way: check the gradients of a shorter or \
                 narrower case of the same cell, or compare yours with check --against, which \
                 runs no finite differences"
                    .to_string()
            };
            Err(usage(
                format!(
                    "check: checking {what} would take about {work:.0e} multiply-adds (and {} \
                     of memory), more than the {CHECK_BUDGET:.0e} tapegrad runs (each finite \
                     difference reruns the whole sequence): {advice}",
                    gib(bytes)
                ),
                Some("check"),
            ))
        }
        _ => {
            let totals_fit = fits(mode, 0);
            let advice = if fits(mode, 3) {
                format!(
                    "check a sample with {sample}, the totals only with --steps none, a cheaper \
                     --mode directional, or insist with --steps all"
                )
            } else if fits(directional, 3) {
                // A wide model: every entry of every weight is perturbed in exhaustive mode.
                format!(
                    "even a sample of steps costs that much in exhaustive mode, which perturbs \
                     every entry of every weight: use --mode directional (nine evaluations' work \
                     per quantity) with {sample}, or insist with --steps all"
                )
            } else if totals_fit || fits(directional, 0) {
                let mode = if totals_fit {
                    ""
                } else {
                    " --mode directional"
                };
                format!(
                    "even a sample of steps costs that much: check the totals only with --steps \
                     none{mode}, or compare your gradients with check --against, which runs no \
                     finite differences"
                )
            } else {
                "the case is too large to check this way: check the gradients of a shorter or \
                 narrower case of the same cell, or compare yours with check --against, which \
                 runs no finite differences"
                    .to_string()
            };
            Err(Failure::Usage(format!(
                "check: checking {what} would take about {work:.0e} multiply-adds (and {} of \
                 memory), more than the {CHECK_BUDGET:.0e} tapegrad runs unasked (each finite \
                 difference at a step reruns the sequence, so the cost grows as T²): {advice}",
                gib(bytes)
            )))
        }
    }
}

/// Writes the HTML page of `report` to `path`, with the unrolled graph when Graphviz's `dot`
/// can draw it.
fn write_report_page<C: Cell>(
    path: &str,
    case_file: Option<&str>,
    case: &Case<f64, C>,
    report: &tapegrad::check::Report,
) -> Result<(), Failure> {
    let graph = if 3.0 * cost::gradients_memory(case, true) > MEMORY_BUDGET {
        Err("the case is too large to draw".to_string())
    } else {
        let dot = graph::unrolled(case, Detail::for_steps(case.x.len()))?;
        match graph::draw(&dot) {
            Ok(Some(drawing)) => Ok(drawing.svg_element().to_string()),
            Ok(None) => Err(
                "Graphviz's dot was not found: install the graphviz package to \
                             include the graph (tapegrad graph prints it for dot)"
                    .to_string(),
            ),
            Err(e) => Err(e.to_string()),
        }
    };
    let title = case_file.unwrap_or("the canonical example");
    let page = tapegrad::report_page::page(title, case, report, graph)?;
    std::fs::write(path, page)
        .map_err(|e| usage(format!("--report: cannot write {path}: {e}"), Some("check")))?;
    eprintln!("tapegrad: wrote {path}");
    Ok(())
}

/// The advice of a refusal for memory where the answer itself needs it.
const SHORTER: &str = "run it on a shorter or narrower case of the same cell";

/// How many sets of every step's gradients `check --against` holds at once: the student's, the
/// reference, the round-off scales, and the exact and moved gradients and the spread of the
/// runs that measure the case's conditioning.
const REFEREE_GRADIENTS: f64 = 8.0;

/// Roughly what `numbers` numbers take printed in a trace (`-0.12345678 ` and the labels).
fn text_bytes(numbers: usize) -> f64 {
    16.0 * numbers as f64
}

/// Roughly what `numbers` numbers take as JSON values before they are printed: each a value in
/// an array of its row.
fn json_bytes(numbers: usize) -> f64 {
    100.0 * numbers as f64
}

/// The numbers a trace prints for one step: the forward pass's input, internal values and
/// states (twice the internal values, for a cell's gates), or with `gradients` every quantity.
fn numbers_per_step<C: Cell>(case: &Case<f64, C>, gradients: bool) -> usize {
    let d = case.dims();
    let internal: usize = C::INTERNALS
        .iter()
        .map(|v| v.cols.size(d.features, d.hidden))
        .sum();
    if gradients {
        let params: usize = case.params.iter().map(|p| p.len()).sum();
        d.batch * (C::STATES.len() * d.hidden + internal + d.features) + params
    } else {
        d.batch * (d.features + 2 * internal + C::STATES.len() * d.hidden)
    }
}

/// `bytes` for a message: `3.2 GiB`, `512 MiB`.
fn gib(bytes: f64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024.0 * MIB {
        format!("{:.1} GiB", bytes / (1024.0 * MIB))
    } else {
        format!("{:.0} MiB", (bytes / MIB).ceil())
    }
}

/// Refuses `command` when `bytes` (its estimated peak memory) is more than the budget, with
/// `advice`.
fn refuse_if_large(command: &str, bytes: f64, advice: &str) -> Result<(), Failure> {
    if bytes <= MEMORY_BUDGET {
        return Ok(());
    }
    Err(usage(
        format!(
            "{command}: the case would take about {} of memory, more than the {} tapegrad \
             uses: {advice}",
            gib(bytes),
            gib(MEMORY_BUDGET)
        ),
        Some(command.split(' ').next().unwrap_or(command)),
    ))
}

/// Writes to standard output. A closed pipe (`tapegrad graph | head`) is not an error: the
/// reader has what it wanted.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("tapegrad: cannot write the output: {e}");
        std::process::exit(2);
    }
}

/// Writes `head` with `"steps": [step(1), …, step(count)]` in the user's layout `conv`, one
/// step at a time ([`json::write_with_steps`]); a closed pipe ends the output quietly, as in
/// [`emit`].
fn print_json_steps(
    conv: &json::Convention,
    head: &serde_json::Value,
    count: usize,
    step: impl Fn(usize) -> serde_json::Value,
) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = json::write_with_steps(&mut out, &conv.output_to_user(head), count, |t| {
        // The layout turns a step the way it turns it inside a whole output.
        let one = serde_json::json!({ "steps": [step(t)] });
        let mut turned = conv.output_to_user(&one);
        turned["steps"][0].take()
    })
    .and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("tapegrad: cannot write the output: {e}");
        std::process::exit(2);
    }
}

fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => emit(&format!("{text}\n")),
        Err(e) => unreachable!("a serde_json::Value always serializes: {e}"),
    }
}

/// After printing what was computed, a case that overflowed is bad input (exit 2): its NaN or
/// infinity would otherwise pass as `nan` in a trace or `null` in JSON, with exit status 0.
fn refuse_non_finite(at: Option<NonFiniteAt>, options: &Options) -> Result<(), Failure> {
    let Some(at) = at else { return Ok(()) };
    let file = options
        .case
        .as_deref()
        .map_or(String::new(), |path| format!("{path}: "));
    let null = if options.json {
        " (JSON writes it as null)"
    } else {
        ""
    };
    Err(Failure::Usage(format!(
        "{file}the case does not compute to finite numbers: {at}{null}"
    )))
}

fn run(args: &[String]) -> Result<(), Failure> {
    let options = parse_args(args)?;
    match options.command {
        Command::Help => {
            match options.topic.as_deref() {
                Some(command) => emit(&command_help(command)),
                None => emit(&format!("{USAGE}\n")),
            }
            Ok(())
        }
        Command::Version => {
            emit(&format!("tapegrad {}\n", env!("CARGO_PKG_VERSION")));
            Ok(())
        }
        Command::Forward | Command::Grads | Command::Check | Command::Graph => {
            run_on_case(&options)
        }
    }
}

/// Refuses `grads --method METHOD` when running `what` at every step would cost more than the
/// budget: `share` is its cost as a fraction of an exhaustive check's; `advice` ends the
/// message.
fn refuse_if_costly<C: Cell>(
    case: &Case<f64, C>,
    method: &str,
    what: &str,
    share: f64,
    advice: &str,
) -> Result<(), Failure> {
    let cost = cost::check_work(case, Mode::Exhaustive, case.x.len()) * share;
    if cost <= GRADS_BUDGET {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "grads --method {method}: {what} at every one of the {} steps would take about \
         {cost:.0e} multiply-adds (the cost grows as T²): use --method bptt or tape{advice}",
        case.x.len()
    )))
}

/// Runs the command of `options` on `case`.
/// Runs the command on `case`, writing `--json` arrays in the user's layout `conv`.
fn run_command<C: Cell>(
    options: &Options,
    case: Case<f64, C>,
    conv: &json::Convention,
) -> Result<(), Failure> {
    match options.command {
        Command::Forward => {
            // A trace is held whole before it is printed; JSON is printed a step at a time.
            let printed = if options.json {
                0.0
            } else {
                text_bytes(numbers_per_step(&case, false) * case.x.len())
            };
            refuse_if_large("forward", cost::forward_memory(&case) + printed, SHORTER)?;
            let fwd = case.forward()?;
            let loss = case.head.loss(fwd.states())?;
            if options.json {
                let head = json::forward_head_json::<C>(&fwd, loss);
                print_json_steps(conv, &head, fwd.steps(), |t| {
                    json::forward_step_json(&case, &fwd, t)
                });
            } else {
                emit(&trace::forward_trace(&case, &fwd, loss));
            }
            refuse_non_finite(first_non_finite(&case, &fwd, loss, &[]), options)
        }
        Command::Grads => {
            // Every step's quantities are kept, and a trace is held whole before it is printed
            // (JSON is printed a step at a time, but for the gradient of x, one array).
            let steps = case.x.len();
            let printed = if options.json {
                json_bytes(case.dims().batch * case.dims().features * steps)
            } else {
                text_bytes(numbers_per_step(&case, true) * steps)
            };
            let computing = match options.method {
                Method::Bptt => cost::gradients_memory(&case, false),
                Method::Tape => cost::gradients_memory(&case, true),
                Method::Fd | Method::Forward => cost::check_memory(&case, Mode::Exhaustive, steps),
            };
            refuse_if_large(
                &format!("grads --method {}", options.method.name()),
                computing + printed,
                SHORTER,
            )?;
            let (grads, method) = match options.method {
                Method::Bptt => (case.bptt()?, "hand BPTT"),
                Method::Tape => (case.tape_gradients()?, "tape"),
                Method::Fd => {
                    // Two real evaluations per entry, of the exhaustive check's.
                    let share = 2.0 / (cost::FD_EVALUATIONS + cost::FORWARD_EVALUATIONS);
                    refuse_if_costly(
                        &case,
                        "fd",
                        "finite differences",
                        share,
                        ", and check them on \
                         a sample of steps with check --steps",
                    )?;
                    (fd_gradients(&case)?, "central finite differences")
                }
                Method::Forward => {
                    // One dual evaluation per entry, of the exhaustive check's.
                    let per_probe = cost::FD_EVALUATIONS + cost::FORWARD_EVALUATIONS;
                    let share = cost::FORWARD_EVALUATIONS / per_probe;
                    refuse_if_costly(&case, "forward", "forward mode", share, "")?;
                    (forward_gradients(&case)?, "forward mode")
                }
            };
            if options.json {
                let head = json::gradients_head_json::<C>(&grads);
                print_json_steps(conv, &head, grads.steps.len(), |t| {
                    json::gradients_step_json::<C>(&grads, t)
                });
            } else {
                emit(&match options.method {
                    Method::Fd => trace::fd_trace(&case, &grads),
                    Method::Forward => trace::forward_mode_trace(&case, &grads),
                    Method::Bptt | Method::Tape => trace::backward_trace(&case, &grads, method),
                });
            }
            let fwd = case.forward()?;
            refuse_non_finite(
                first_non_finite(&case, &fwd, grads.loss, &[(method, &grads)]),
                options,
            )
        }
        Command::Check => {
            if let Some(path) = &options.against {
                // The reference, and the runs that measure the case's conditioning, each keep
                // every step's gradients.
                let referee = REFEREE_GRADIENTS * cost::gradients_memory(&case, false);
                refuse_if_large("check --against", referee, SHORTER)?;
                return check_against(&case, path, conv, options);
            }
            let mode = options.mode;
            let steps = steps_to_check(&case, mode, options.steps.as_ref())?;
            if options.report.is_some() {
                // The page's chart of the state gradients keeps every step's.
                let chart = cost::gradients_memory(&case, false);
                refuse_if_large("check --report", chart, SHORTER)?;
            }
            let hand = case.bptt_keeping(Keep::Steps(&steps))?;
            let report = check_steps(&case, &hand, mode, &steps)?;
            if let Some(path) = &options.report {
                write_report_page(path, options.case.as_deref(), &case, &report)?;
            }
            if options.json {
                print_json(&json::report_json(&report));
            } else {
                emit(&printed::report_text(&case, &report));
            }
            if report.passed() {
                Ok(())
            } else {
                Err(Failure::CheckFailed)
            }
        }
        Command::Graph => {
            // The tape, and its DOT text: a few lines per node.
            let listing = 2.0 * cost::gradients_memory(&case, true);
            refuse_if_large(
                "graph",
                cost::gradients_memory(&case, true) + listing,
                SHORTER,
            )?;
            let detail = options.detail.unwrap_or(Detail::for_steps(case.x.len()));
            emit(&graph::unrolled(&case, detail)?);
            // As forward and grads do: what overflowed is printed, then named, with exit 2.
            let tape = case.tape_gradients()?;
            refuse_non_finite(
                first_non_finite(&case, &case.forward()?, tape.loss, &[("tape", &tape)]),
                options,
            )
        }
        Command::Help | Command::Version => {
            unreachable!("invariant: run answers help and --version itself")
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::CheckFailed) => ExitCode::from(1),
        Err(Failure::Usage(message)) => {
            eprintln!("tapegrad: {message}");
            ExitCode::from(2)
        }
    }
}
