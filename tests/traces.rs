//! Snapshot tests of every trace kind and of the trace examples' output (insta file snapshots
//! in tests/snapshots/). Every number in them is printed at a precision that libm differences
//! cannot reach, and finite-difference comparisons appear only as verdicts.

use tapegrad::case::Case;
use tapegrad::check::{Mode, check_gradients};
use tapegrad::tape::Tape;
use tapegrad::trace::{self, CheckStyle};

// The examples' own code: each snapshot is what the example prints.
#[allow(dead_code)]
#[path = "../examples/03-bptt-by-hand.rs"]
mod bptt_by_hand;
#[allow(dead_code)]
#[path = "../examples/05-check-your-gradients.rs"]
mod check_your_gradients;
#[allow(dead_code)]
#[path = "../examples/02-forward-trace.rs"]
mod forward_trace;
#[allow(dead_code)]
#[path = "../examples/13-gru-gradient-check.rs"]
mod gru_gradient_check;
#[allow(dead_code)]
#[path = "../examples/12-lstm-gradient-check.rs"]
mod lstm_gradient_check;
#[allow(dead_code)]
#[path = "../examples/04-tape-graph.rs"]
mod tape_graph;
#[allow(dead_code)]
#[path = "../examples/06-vanishing-and-exploding.rs"]
mod vanishing_and_exploding;

#[test]
fn forward_trace_of_the_canonical_example() {
    insta::assert_snapshot!("forward_trace", forward_trace::forward_trace().unwrap());
}

#[test]
fn backward_trace_of_the_canonical_example() {
    insta::assert_snapshot!("bptt_trace", bptt_by_hand::bptt_trace().unwrap());
}

#[test]
fn tape_listing_and_graph_of_the_canonical_example() {
    insta::assert_snapshot!("tape_graph", tape_graph::tape_graph().unwrap());
}

#[test]
fn tape_listing_without_gradients() {
    let case = Case::<f64>::canonical();
    let tape = Tape::new();
    case.record(&tape).unwrap();
    insta::assert_snapshot!(
        "tape_listing_forward_only",
        trace::tape_listing(&tape, None)
    );
}

#[test]
fn gradcheck_tables_show_verdicts() {
    insta::assert_snapshot!(
        "gradcheck",
        check_your_gradients::gradcheck(CheckStyle::Verdicts).unwrap()
    );
}

#[test]
fn a_failing_check_table() {
    // dW_h[t] taken with h_t instead of h_(t-1): every step's dw_h fails, nothing else.
    let case = Case::<f64>::canonical();
    let fwd = case.forward().unwrap();
    let mut g = case.bptt().unwrap();
    for t in 1..=3 {
        let wrong = fwd
            .h(t)
            .transpose()
            .matmul(g.get(t, "da").unwrap())
            .unwrap();
        *g.get_mut(t, "dw_h").unwrap() = wrong;
    }
    let report = check_gradients(&case, &g, Mode::Exhaustive).unwrap();
    insta::assert_snapshot!(
        "check_table_failing",
        trace::check_table(&report, CheckStyle::Verdicts)
    );
    // The same report as a heat map: an F at each of the three steps' dw_h, nowhere else (the
    // totals were summed before the records were changed).
    let map = tapegrad::chart::check_heat_map(&report);
    assert_eq!(map.matches(">F</text>").count(), 3);
    // The snapshot keeps the verdicts and puts fixed numbers in place of the errors (which
    // finite differences and libm decide in their last digits): one decade more per cell.
    let mut fixed = report.clone();
    let cells = fixed
        .steps
        .iter_mut()
        .flatten()
        .map(|(_, c)| c)
        .chain(fixed.totals.iter_mut().map(|(_, c)| c));
    for (k, c) in cells.enumerate() {
        let rel = 10f64.powi(-16 + (k % 14) as i32);
        for pair in [
            &mut c.hand_tape,
            &mut c.hand_forward,
            &mut c.tape_forward,
            &mut c.hand_fd,
            &mut c.tape_fd,
        ] {
            pair.rel = rel;
        }
    }
    insta::assert_snapshot!(
        "check_heat_map_failing",
        tapegrad::chart::check_heat_map(&fixed)
    );
}

/// Chapter 7's committed figure is what the example draws now.
#[test]
fn the_committed_gradient_norm_figure_is_up_to_date() {
    let path = format!(
        "{}/{}",
        env!("CARGO_MANIFEST_DIR"),
        vanishing_and_exploding::GRADIENT_NORM_FIGURE
    );
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let drawn = vanishing_and_exploding::gradient_norm_figure().unwrap();
    assert!(
        committed == drawn,
        "{path} is out of date: cargo run --example 06-vanishing-and-exploding -- --figures"
    );
    assert!(drawn.starts_with("<svg ") && drawn.ends_with("</svg>\n"));
    // Six lines: three runs, each with its bound.
    assert_eq!(drawn.matches("<polyline").count(), 6);
}

#[test]
fn vanishing_and_exploding_charts() {
    insta::assert_snapshot!(
        "vanishing",
        vanishing_and_exploding::orthogonal_sweep().unwrap()
    );
}

/// The example draws the six cases of chapter 7's table: each chart's title gives the ratio
/// the chapter's table prints for the same activation and `ρ`.
#[test]
fn the_vanishing_example_shows_the_ratios_of_chapter_7() {
    let charts = vanishing_and_exploding::orthogonal_sweep().unwrap();
    let table = tapegrad::tutorial::shown("07", "rho");
    for row in table.lines().skip(1) {
        let words: Vec<&str> = row.split_whitespace().collect();
        let (activation, rho, ratio) = (words[0], words[1], words[3]);
        let title = format!("{activation}, ρ = {rho}: ‖dh_1‖ / ‖dh_30‖ = ");
        let shown = charts
            .lines()
            .find_map(|l| l.strip_prefix(&title))
            .unwrap_or_else(|| panic!("no chart {title:?} in:\n{charts}"));
        assert_eq!(shown.trim(), ratio, "{activation}, ρ = {rho}");
    }
}

#[test]
fn charts_of_fixed_data() {
    let losses = [0.7, 0.5, 0.41, 0.3, 0.2, 0.18, 0.09, 0.05, f64::NAN];
    let rows: Vec<(String, f64)> = [(3, 2.0), (2, 0.03), (1, 4e-7), (0, 0.0)]
        .iter()
        .map(|&(t, v)| (format!("t={t}"), v))
        .collect();
    let text = format!(
        "loss {}\n{}",
        trace::sparkline(&losses),
        trace::log_bar_chart("‖dh_t‖", &rows)
    );
    insta::assert_snapshot!("charts", text);
}

/// When double-double's work ran out, the table says so, once, under the header; otherwise it
/// says nothing of it.
#[test]
fn check_table_says_when_double_double_ran_out() {
    let case = Case::<f64>::canonical();
    let mut report = tapegrad::check::check_case(&case, Mode::Exhaustive).unwrap();
    assert!(!report.precise_exhausted);
    let line = "double-double's work (5e8 multiply-adds a check, 1e7 an estimate) was not enough";
    assert!(!trace::check_table(&report, CheckStyle::Verdicts).contains(line));
    report.precise_exhausted = true;
    let table = trace::check_table(&report, CheckStyle::Verdicts);
    assert_eq!(table.matches(line).count(), 1, "{table}");
    assert!(
        table.contains("the others keep their f64 bounds"),
        "{table}"
    );
}

/// The small LSTM and GRU cases of the cell snapshots: one sequence of 3 steps, 2 features,
/// 2 hidden, `L = ½ Σ_t Σ (h_t − y_t)²`.
fn small<C: tapegrad::cell::Cell>(cell: C) -> Case<f64, C> {
    let dims = tapegrad::case::Dims {
        batch: 1,
        steps: 3,
        features: 2,
        hidden: 2,
    };
    Case::random(7, dims, tapegrad::case::HeadKind::MseAll, cell)
}

/// Each cell's forward trace (gates included), backward trace by hand and check table.
fn cell_traces<C: tapegrad::cell::Cell>(case: &Case<f64, C>) -> String {
    let fwd = case.forward().unwrap();
    let loss = case.loss().unwrap();
    let hand = case.bptt().unwrap();
    let report = check_gradients(case, &hand, Mode::Exhaustive).unwrap();
    [
        trace::forward_trace(case, &fwd, loss),
        trace::backward_trace(case, &hand, "hand BPTT"),
        trace::check_table(&report, CheckStyle::Verdicts),
    ]
    .join("\n")
}

#[test]
fn lstm_traces() {
    let case = small(tapegrad::cells::Lstm::default());
    insta::assert_snapshot!("lstm_traces", cell_traces(&case));
}

#[test]
fn gru_traces() {
    insta::assert_snapshot!(
        "gru_traces",
        cell_traces(&small(tapegrad::cells::Gru::default()))
    );
}

#[test]
fn lstm_gradient_check_example() {
    insta::assert_snapshot!(
        "lstm_gradient_check",
        lstm_gradient_check::lstm_check(CheckStyle::Verdicts).unwrap()
    );
}

#[test]
fn gru_gradient_check_example() {
    insta::assert_snapshot!(
        "gru_gradient_check",
        gru_gradient_check::gru_check(CheckStyle::Verdicts).unwrap()
    );
}
