//! `tapegrad`: check RNN gradients, the canonical example's or your own numpy arrays'.
//!
//! Exit status: 0 when everything agrees, 1 when a check failed, 2 for bad usage or a bad
//! case or gradient file (the message names the field, the shape expected and the shape found).

use std::io::{Read, Write};
use std::process::ExitCode;
use tapegrad::case::Case;
use tapegrad::check::{Mode, check_case, fd_gradients};
use tapegrad::diagnose::diagnose;
use tapegrad::error::Error;
use tapegrad::json;
use tapegrad::tape::Tape;
use tapegrad::trace::{self, CheckStyle};

const USAGE: &str = "\
tapegrad: see and verify the gradients of a recurrent network

usage:
  tapegrad forward [--case FILE] [--json]
      per-step a_t and h_t, and the loss
  tapegrad grads   [--case FILE] [--method bptt|tape|fd] [--json]
      every gradient, per step and in total (default method: bptt)
  tapegrad check   [--case FILE] [--mode exhaustive|directional] [--seed N] [--json]
      hand BPTT vs tape vs finite differences, at every time step
  tapegrad check   [--case FILE] --against GRADS [--json]
      your own gradients (a file in the grads --json format, any key may be missing)
      against the tape: the step and the equation where they first go wrong
  tapegrad graph   [--case FILE]
      the tape as a Graphviz picture: tapegrad graph | dot -Tsvg > graph.svg
  tapegrad help
      this text

Without --case, each command uses the canonical example of the seed notebooks.
A case file is a JSON object {\"x\", \"w_x\", \"w_h\", \"b\"[, \"h0\", \"activation\", \"loss\"]};
export numpy arrays with json.dump({\"x\": x.tolist(), ...}, f).

exit status: 0 all agree, 1 a check failed, 2 bad usage or bad input";

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

/// The parsed command line.
struct Options {
    command: String,
    case: Option<String>,
    against: Option<String>,
    method: String,
    mode: String,
    seed: u64,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Options, Failure> {
    let mut options = Options {
        command: String::new(),
        case: None,
        against: None,
        method: "bptt".into(),
        mode: "exhaustive".into(),
        seed: 0,
        json: false,
    };
    let mut rest = args.iter();
    match rest.next() {
        Some(c) => options.command = c.clone(),
        None => return Err(Failure::Usage(format!("a command is required\n\n{USAGE}"))),
    }
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value\n\n{USAGE}")))
        };
        match arg.as_str() {
            "--case" => options.case = Some(value("--case")?),
            "--against" => options.against = Some(value("--against")?),
            "--method" => options.method = value("--method")?,
            "--mode" => options.mode = value("--mode")?,
            "--seed" => {
                let text = value("--seed")?;
                options.seed = text.parse().map_err(|_| {
                    Failure::Usage(format!(
                        "--seed: expected a whole number ≥ 0, found {text:?}"
                    ))
                })?;
            }
            "--json" => options.json = true,
            "-h" | "--help" => options.command = "help".into(),
            other => {
                return Err(Failure::Usage(format!(
                    "unknown option {other:?} for {}\n\n{USAGE}",
                    options.command
                )));
            }
        }
    }
    Ok(options)
}

/// The largest case or gradient file read, 256 MiB: far more than any sequence a check can
/// handle, and a bound that keeps `--case /dev/zero` from filling the memory.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// Reads a whole text file, refusing what cannot be a JSON export from numpy.
fn read_file(option: &str, path: &str) -> Result<String, Failure> {
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
    String::from_utf8(bytes).map_err(|e| {
        cannot(format!(
            "byte {} is not UTF-8 text; expected a JSON file written by json.dump (not a .npy, \
             .npz or pickle file)",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn load_case(path: Option<&str>) -> Result<Case<f64>, Failure> {
    match path {
        None => Ok(Case::canonical()),
        Some(path) => json::parse_case(&read_file("--case", path)?)
            .map_err(|e| Failure::Usage(format!("{path}: {e}"))),
    }
}

/// `check --against FILE`: the user's gradients against the tape.
fn check_against(case: &Case<f64>, path: &str, as_json: bool) -> Result<(), Failure> {
    let given = json::parse_given(&read_file("--against", path)?, case)
        .map_err(|e| Failure::Usage(format!("{path}: {e}")))?;
    let d = diagnose(&case.tape_gradients()?, &given);
    if as_json {
        print_json(&json::diagnosis_json(&d));
    } else {
        emit(&format!(
            "{}\n{}",
            trace::case_header(case),
            trace::diagnosis(&d)
        ));
    }
    if d.ok {
        Ok(())
    } else {
        Err(Failure::CheckFailed)
    }
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

fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => emit(&format!("{text}\n")),
        Err(e) => unreachable!("a serde_json::Value always serializes: {e}"),
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let options = parse_args(args)?;
    match options.command.as_str() {
        "help" | "-h" | "--help" => {
            emit(&format!("{USAGE}\n"));
            Ok(())
        }
        "forward" => {
            let case = load_case(options.case.as_deref())?;
            let fwd = case.forward()?;
            let loss = case.head.loss(fwd.states());
            if options.json {
                print_json(&json::forward_json(&case, &fwd, loss));
            } else {
                emit(&trace::forward_trace(&case, &fwd, loss));
            }
            Ok(())
        }
        "grads" => {
            let case = load_case(options.case.as_deref())?;
            let (grads, method) = match options.method.as_str() {
                "bptt" => (case.bptt()?, "hand BPTT"),
                "tape" => (case.tape_gradients()?, "tape"),
                "fd" => (fd_gradients(&case)?, "central finite differences"),
                other => {
                    return Err(Failure::Usage(format!(
                        "--method: expected bptt, tape or fd, found {other:?}"
                    )));
                }
            };
            if options.json {
                print_json(&json::gradients_json(&grads));
            } else {
                emit(&trace::backward_trace(&case, &grads, method));
            }
            Ok(())
        }
        "check" => {
            let case = load_case(options.case.as_deref())?;
            if let Some(path) = &options.against {
                return check_against(&case, path, options.json);
            }
            let mode = match options.mode.as_str() {
                "exhaustive" => Mode::Exhaustive,
                "directional" => Mode::Directional { seed: options.seed },
                other => {
                    return Err(Failure::Usage(format!(
                        "--mode: expected exhaustive or directional, found {other:?}"
                    )));
                }
            };
            let report = check_case(&case, mode)?;
            if options.json {
                print_json(&json::report_json(&report));
            } else {
                emit(&format!(
                    "{}\n{}",
                    trace::case_header(&case),
                    trace::check_table(&report, CheckStyle::Errors)
                ));
            }
            if report.passed() {
                Ok(())
            } else {
                Err(Failure::CheckFailed)
            }
        }
        "graph" => {
            let case = load_case(options.case.as_deref())?;
            let tape = Tape::new();
            let (_, head) = case.record(&tape)?;
            let grads = head.loss.backward();
            emit(&trace::dot(&tape, Some(&grads)));
            Ok(())
        }
        other => Err(Failure::Usage(format!(
            "unknown command {other:?}\n\n{USAGE}"
        ))),
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
