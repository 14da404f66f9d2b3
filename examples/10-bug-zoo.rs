//! # 10. The bug zoo
//!
//! Seven mistakes students make in BPTT (two of them from the seed notebooks), each planted in
//! the hand backward pass, and found by the diagnosis at the step and equation where it enters:
//! the line the student wrote, where the error was found (and where the zoo predicted it), the
//! explanation, and `‖given − tape‖` per step and quantity. To diagnose your own numpy
//! gradients, export them as chapter 8 shows and run `tapegrad check --against`.
//!
//! `cargo run --release --example 10-bug-zoo`

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::diagnose::diagnose;
use tapegrad::gradients::Given;
use tapegrad::trace;
use tapegrad::zoo::{Bug, buggy_backward};

/// The bug zoo: for each mistake, the line the student wrote, where the diagnosis finds it
/// (and where the zoo predicted it), the explanation, and `‖given − tape‖` per step and
/// quantity (`·` where it agrees).
pub fn bug_zoo() -> Result<String> {
    let mut out = String::new();
    for bug in Bug::ALL {
        let case = bug.case();
        let tape = case.tape_gradients()?;
        let buggy = buggy_backward(&case, bug)?;
        // The buggy gradients, all of them, against the tape's: where does the error enter?
        let d = diagnose(
            &tape,
            &case.roundoff_scales()?,
            &Given::all(&buggy),
            &case.cell,
        );
        let place = |p: Option<(usize, &str)>| match p {
            Some((t, q)) => format!("{q} at t = {t}"),
            None => "nowhere".to_string(),
        };
        let _ = writeln!(out, "== {} ==", bug.name());
        let _ = writeln!(out, "{}", trace::case_header(&case));
        let _ = writeln!(out, "the mistake:  {}", bug.mistake());
        let _ = writeln!(
            out,
            "found:        {} (predicted: {})",
            place(d.first_mismatch),
            place(bug.predicted(&tape))
        );
        let _ = writeln!(out, "{}", trace::wrap(&d.explanation, 96));
        let _ = write!(out, "‖given − tape‖ per step:\n{:>4}", "t");
        for q in &d.quantities {
            let _ = write!(out, " {q:>9}");
        }
        out.push('\n');
        for t in (1..=tape.steps.len()).rev() {
            let _ = write!(out, "{t:>4}");
            for q in &d.quantities {
                let f = d.findings.iter().find(|f| f.t == t && f.name == *q);
                let cell = match f {
                    Some(f) if !f.ok => trace::short(f.error_norm),
                    _ => "·".to_string(),
                };
                let _ = write!(out, " {cell:>9}");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}

fn main() -> Result<()> {
    print!("{}", bug_zoo()?);
    Ok(())
}
