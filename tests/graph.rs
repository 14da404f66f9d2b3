//! The unrolled network's picture (`tapegrad::graph`): snapshots of its DOT text, its layout
//! read back from that text for every cell (each node in its step's box, the states on one
//! line in time order, every copy of a weight fed by the weight), and a rendering by
//! Graphviz's `dot` where it is installed.

use tapegrad::Cell;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::graph::{Detail, unrolled};
use tapegrad::tape::Tape;

fn small<C: Cell + Default>(seed: u64, steps: usize) -> Case<f64, C> {
    let dims = Dims {
        batch: 1,
        steps,
        features: 2,
        hidden: 2,
    };
    Case::random(seed, dims, HeadKind::MseAll, C::default())
}

#[test]
fn the_canonical_graph_and_a_folded_one() {
    let canonical = Case::<f64>::canonical();
    insta::assert_snapshot!("graph_ops", unrolled(&canonical, Detail::Ops).unwrap());
    let five: Case<f64, Rnn> = small(3, 5);
    insta::assert_snapshot!("graph_steps", unrolled(&five, Detail::Steps).unwrap());
}

/// The lines of the box `subgraph NAME { … }` in `dot`.
fn block<'a>(dot: &'a str, name: &str) -> Vec<&'a str> {
    let start = format!("subgraph {name} {{");
    dot.lines()
        .skip_while(|l| l.trim() != start)
        .skip(1)
        .take_while(|l| l.trim() != "}")
        .collect()
}

/// Reads the picture of `case` back: every node recorded at step t sits in step t's box (the
/// initial state in the first), the states of each part lie on one rank in time order, and
/// each step's copy of a weight has an edge from the shared weight.
fn laid_out_by_step<C: Cell>(case: &Case<f64, C>) {
    let dot = unrolled(case, Detail::Ops).unwrap();
    let tape = Tape::new();
    let (rec, _) = case.record(&tape).unwrap();
    let id = |v: &tapegrad::tape::Var<'_, f64>| format!("n{}", v.id().0);
    let declared = |lines: &[&str], node: &str| {
        let start = format!("{node} [");
        lines.iter().any(|l| l.trim_start().starts_with(&start))
    };
    for t in 1..=case.x.len() {
        let inside = block(&dot, &format!("cluster_step_{t}"));
        let mut mine = vec![id(&rec.x[t - 1]), id(&rec.internals[t - 1][0])];
        mine.extend(rec.states[t].iter().map(id));
        mine.extend(rec.copies[t - 1].iter().map(id));
        if t == 1 {
            mine.extend(rec.states[0].iter().map(id));
        }
        for node in mine {
            assert!(
                declared(&inside, &node),
                "{node} not in step {t}'s box:\n{dot}"
            );
        }
        for (w, copy) in rec.params.iter().zip(&rec.copies[t - 1]) {
            let edge = format!("  {} -> {};", id(w), id(copy));
            assert!(dot.contains(&edge), "no {edge:?}");
        }
    }
    for part in 0..C::STATES.len() {
        let line: Vec<String> = rec.states.iter().map(|s| id(&s[part])).collect();
        let rank = format!("  {{ rank=same; {}; }}", line.join("; "));
        assert!(dot.contains(&rank), "no {rank:?} in:\n{dot}");
    }
}

#[test]
fn every_cell_is_drawn_step_by_step() {
    laid_out_by_step(&Case::<f64>::canonical());
    laid_out_by_step(&small::<Lstm>(4, 3));
    laid_out_by_step(&small::<Gru>(5, 3));
}

#[test]
fn the_folded_picture_has_a_box_per_step() {
    let case: Case<f64, Gru> = small(6, 40);
    let dot = unrolled(&case, Detail::Steps).unwrap();
    for t in 1..=40 {
        assert!(
            dot.contains(&format!("  s{t} [label=\"step {t}\\n")),
            "step {t}"
        );
        assert!(dot.contains(&format!("  h{} -> s{t} [constraint=false];", t - 1)));
    }
    // Five rows of eight, like lines of text: each row's inputs on one rank, under the first
    // state of the row above.
    for first in [1, 9, 17, 25, 33] {
        let inputs: Vec<String> = (first..first + 8).map(|t| format!("x{t}")).collect();
        assert!(dot.contains(&format!("  {{ rank=same; {}; }}", inputs.join("; "))));
    }
    assert!(dot.contains("  h0 -> x9 [style=invis, weight=10];"));
    assert!(dot.contains("  h25 -> x33 [style=invis, weight=10];"));
    // The head reads every state, but one edge says so: forty would cross every row below.
    assert_eq!(dot.matches(" -> loss").count(), 1);
    assert!(dot.contains("  h40 -> loss [label=\" and every h_t\""));
    // Nor do the weights' edges cross the rows: only a picture of one row draws them.
    assert!(!dot.contains("w0 -> s"));
    let one_row = unrolled(&small::<Gru>(6, 8), Detail::Steps).unwrap();
    assert!(one_row.contains("  w0 -> s8 [color="));
    assert_eq!(one_row.matches(" -> loss;").count(), 8);
    assert_eq!(Detail::for_steps(8), Detail::Ops);
    assert_eq!(Detail::for_steps(9), Detail::Steps);
}

/// Graphviz lays the pictures out without a warning, where it is installed.
#[test]
fn graphviz_renders_the_pictures() {
    let pictures = [
        unrolled(&Case::<f64>::canonical(), Detail::Ops).unwrap(),
        unrolled(&small::<Lstm>(4, 3), Detail::Ops).unwrap(),
        unrolled(&small::<Gru>(5, 40), Detail::Steps).unwrap(),
    ];
    for dot in &pictures {
        match tapegrad::graph::draw(dot).unwrap() {
            None => {
                eprintln!(
                    "graphviz_renders_the_pictures: skipped, no `dot` (apt install graphviz)"
                );
                return;
            }
            Some(drawing) => {
                assert!(drawing.warnings.is_empty(), "dot: {}", drawing.warnings);
                assert!(drawing.svg.contains("</svg>"));
            }
        }
    }
}
