//! `tapegrad check --report report.html`: one self-contained HTML page a teacher can hand to a
//! student. It holds the case, the check table, the check as a heat map, the norms of the state
//! gradients through time, and the unrolled graph when one was drawn; every picture is inline
//! SVG, and the page loads nothing (no script, font, style sheet or image from elsewhere).

use crate::case::Case;
use crate::cell::Cell;
use crate::chart::{LineChart, Series, check_heat_map};
use crate::check::Report;
use crate::error::Result;
use crate::scalar::Scalar;
use crate::trace::{self, CheckStyle};
use std::fmt::Write;

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The norms of each part of the state's gradient, `‖dh_t‖` (and an LSTM's `‖dc_t‖`) for
/// `t = 0..=T`, on one log axis: where gradients vanish or explode.
pub fn state_gradient_chart<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<String> {
    let g = case.bptt()?;
    let steps = case.x.len();
    let series = C::STATES
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let points = (0..=steps)
                .filter_map(|t| {
                    let m = if t == 0 {
                        g.total(s.initial)
                    } else {
                        g.get(t, s.grad)
                    };
                    m.map(|m| (t as f64, m.norm().as_f64()))
                })
                .collect();
            Series {
                name: format!("‖{}_t‖", s.grad),
                points,
                dashed: false,
                colour: k,
            }
        })
        .collect();
    Ok(LineChart {
        title: "the gradient of the state through time".into(),
        x_label: "t".into(),
        y_label: "norm".into(),
        log_y: true,
        series,
    }
    .svg())
}

/// The page: `title` (the case file's name), the case's header, the verdict, the check table,
/// the heat map, the state gradients' chart, and `graph`: the unrolled graph as SVG, or why
/// there is none (`Err`, shown in its place).
pub fn page<T: Scalar, C: Cell>(
    title: &str,
    case: &Case<T, C>,
    report: &Report,
    graph: std::result::Result<String, String>,
) -> Result<String> {
    let verdict = if report.passed() { "pass" } else { "fail" };
    let table = trace::check_table(report, CheckStyle::Errors);
    // The table's last line: `PASS: 10 ok, 2 inconclusive, 0 failed`.
    let summary = table.lines().last().unwrap_or("");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>tapegrad check: {}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; max-width: 80em; color: #222; }}\n\
         pre {{ font-size: 12px; background: #f6f6f6; padding: 1em; overflow-x: auto; }}\n\
         .pass {{ color: #1a7f1a; }} .fail {{ color: #c62828; }}\n\
         figure {{ margin: 1em 0; overflow-x: auto; }}\n\
         figure svg {{ max-width: 100%; height: auto; }}\n</style>\n</head>\n<body>\n",
        escape(title)
    );
    let _ = writeln!(
        out,
        "<h1>tapegrad check: {}</h1>\n<p>{}</p>\n<p class=\"{verdict}\"><strong>{}</strong></p>",
        escape(title),
        escape(&trace::case_header(case)),
        escape(summary)
    );
    let _ = writeln!(
        out,
        "<h2>The check, step by step</h2>\n<figure>\n{}</figure>\n<pre>{}</pre>",
        check_heat_map(report),
        escape(&table)
    );
    let _ = writeln!(
        out,
        "<h2>Gradients through time</h2>\n<figure>\n{}</figure>",
        state_gradient_chart(case)?
    );
    out.push_str("<h2>The unrolled graph</h2>\n");
    match graph {
        Ok(svg) => {
            let _ = writeln!(out, "<figure>\n{svg}</figure>");
        }
        Err(why) => {
            let _ = writeln!(out, "<p>No graph: {}</p>", escape(&why));
        }
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}
