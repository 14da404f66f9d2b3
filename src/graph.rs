//! The unrolled network as a Graphviz picture: one column per time step, left to right, the
//! shared weights once at the top with an edge to each step's untied copy, the inputs on one
//! line above and the states on one line below, the loss at the bottom.
//!
//! ```text
//!              W_x   W_h   b                      shared weights (the totals' gradients)
//!         ┌─ t = 1 ─┐  ┌─ t = 2 ─┐  ┌─ t = 3 ─┐
//!   x_1 … │ copies  │  │ copies  │  │ copies  │    each step's W_h[t] (its contribution)
//!         │ x·W, +  │  │ x·W, +  │  │ x·W, +  │
//!   h_0 → │  h_1    │→ │  h_2    │→ │  h_3    │    the states, on one line
//!         └─────────┘  └─────────┘  └─────────┘
//!                                        L            the loss
//! ```
//!
//! The picture reads the tape's nodes through the [`Recording`] that made them, so it works for
//! every cell: a node belongs to step t if it was recorded between `x_t` and `x_(t+1)`. With
//! [`Detail::Steps`] each step folds into one box (its equations and the norms of what it
//! passes back), in rows of [`STEPS_PER_ROW`] like lines of text, which keeps a 40-step sequence
//! legible.

use crate::case::Case;
use crate::cell::Cell;
use crate::error::Result;
use crate::ops::Op;
use crate::scalar::Scalar;
use crate::sequence::Recording;
use crate::tape::{Grads, NodeId, Tape};
use crate::trace::{number, short};
use std::fmt::Write;

/// How much of the tape a picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Every node of the tape.
    Ops,
    /// One box per step.
    Steps,
}

/// The most steps [`Detail::for_steps`] draws node by node: beyond that, a node per operation
/// no longer reads as a picture.
pub const OPS_STEPS: usize = 8;

/// How many step boxes [`Detail::Steps`] puts on one row before it starts the next, so that a
/// long sequence reads like lines of text rather than one strip.
pub const STEPS_PER_ROW: usize = 8;

impl Detail {
    /// What `tapegrad graph` draws for a case of `steps` steps unless told: every node up to
    /// [`OPS_STEPS`] steps, one box per step beyond.
    pub fn for_steps(steps: usize) -> Detail {
        if steps <= OPS_STEPS {
            Detail::Ops
        } else {
            Detail::Steps
        }
    }

    /// `ops` or `steps`, as `--detail` names it.
    pub fn name(self) -> &'static str {
        match self {
            Detail::Ops => "ops",
            Detail::Steps => "steps",
        }
    }
}

/// What a node is, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Input,
    Weight,
    Copy,
    Operation,
    State,
    Loss,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Input,
        Kind::Weight,
        Kind::Copy,
        Kind::Operation,
        Kind::State,
        Kind::Loss,
    ];

    fn words(self) -> &'static str {
        match self {
            Kind::Input => "input x_t",
            Kind::Weight => "shared weight",
            Kind::Copy => "step t's copy W[t]",
            Kind::Operation => "operation",
            Kind::State => "state h_t",
            Kind::Loss => "loss",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Kind::Input => "#d9f2d9",
            Kind::Weight => "#c6dbff",
            Kind::Copy => "#e6eeff",
            Kind::Operation => "#ffffff",
            Kind::State => "#fff2b3",
            Kind::Loss => "#ffc9c9",
        }
    }
}

/// Where a node sits: among the shared weights, before the first step (the initial state), at
/// step t, or in the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Shared,
    Step(usize),
    Loss,
}

/// The largest matrix whose entries a node shows.
const SHOWN_ENTRIES: usize = 16;

/// The tape of `case` after a backward sweep, as a Graphviz DOT picture of the unrolled
/// network (render with `dot -Tsvg`): with [`Detail::Ops`] every node, labelled with its name,
/// operation and shape, and for matrices of at most 16 entries their values and gradients;
/// with [`Detail::Steps`] one box per step. Names (`n<index>`) and order are the tape's, so
/// the text is the same on every run.
pub fn unrolled<T: Scalar, C: Cell>(case: &Case<T, C>, detail: Detail) -> Result<String> {
    let tape = Tape::new();
    let (rec, head) = case.record(&tape)?;
    let grads = head.loss.backward();
    let places = places(&tape, &rec);
    Ok(match detail {
        Detail::Ops => ops_picture(case, &tape, &rec, &grads, &places),
        Detail::Steps => steps_picture(case, &rec, &grads, head.loss.value()[(0, 0)].as_f64()),
    })
}

/// Each node's place, from the positions of the steps' inputs on the tape.
fn places<T: Scalar>(tape: &Tape<T>, rec: &Recording<'_, T>) -> Vec<Place> {
    let count = tape.len();
    let steps = rec.x.len();
    let last_state = rec.states[steps]
        .iter()
        .map(|v| v.id().0)
        .max()
        .unwrap_or(0);
    let mut places = vec![Place::Shared; count];
    for (t, x) in rec.x.iter().enumerate() {
        let end = rec.x.get(t + 1).map_or(last_state + 1, |next| next.id().0);
        for place in &mut places[x.id().0..end] {
            *place = Place::Step(t + 1);
        }
    }
    for place in places.iter_mut().skip(last_state + 1) {
        *place = Place::Loss;
    }
    for s in &rec.states[0] {
        places[s.id().0] = Place::Step(0);
    }
    places
}

/// A number in at most four significant digits, as short as it reads: `0.01`, `0.7949`,
/// `3.5e-05`.
fn compact(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e4).contains(&x.abs()) {
        return short(x);
    }
    let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `m` as rows of numbers, for a label.
fn entries<T: Scalar>(m: &crate::matrix::Matrix<T>) -> String {
    (0..m.rows())
        .map(|i| {
            let row: Vec<String> = (0..m.cols()).map(|j| compact(m[(i, j)].as_f64())).collect();
            format!("[{}]", row.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\\n")
}

/// Escapes text for a double-quoted Graphviz label.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn ops_picture<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    tape: &Tape<T>,
    rec: &Recording<'_, T>,
    grads: &Grads<T>,
    places: &[Place],
) -> String {
    let nodes = tape.nodes();
    let id = |v: &crate::tape::Var<'_, T>| v.id().0;
    let mut kinds = vec![Kind::Operation; nodes.len()];
    for p in &rec.params {
        kinds[id(p)] = Kind::Weight;
    }
    for copies in &rec.copies {
        for c in copies {
            kinds[id(c)] = Kind::Copy;
        }
    }
    for x in &rec.x {
        kinds[id(x)] = Kind::Input;
    }
    for state in &rec.states {
        for s in state {
            kinds[id(s)] = Kind::State;
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        if places[i] == Place::Loss && matches!(node.op, Op::Leaf) {
            kinds[i] = Kind::Weight;
        }
    }
    if let Some(last) = kinds.last_mut() {
        *last = Kind::Loss;
    }

    let mut out = String::from("digraph unrolled {\n");
    out.push_str("  newrank=true;\n  rankdir=TB;\n  nodesep=0.25;\n  ranksep=0.35;\n");
    let _ = writeln!(
        out,
        "  label=\"{}: the tape unrolled over {} steps, after the backward sweep (grad = ∂L/∂node)\";\n  labelloc=t;",
        escape(&case.cell.title()),
        rec.x.len()
    );
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10];\n",
    );
    out.push_str("  edge [color=\"#555555\", arrowsize=0.6];\n");
    let label = |i: usize| {
        let node = &nodes[i];
        let name = node
            .name
            .clone()
            .unwrap_or_else(|| node.op.name().to_string());
        let mut text = match node.op {
            Op::Leaf | Op::Identity => name,
            _ if node.name.is_some() => format!("{name} = {}", node.op.name()),
            _ => name,
        };
        let (rows, cols) = node.value.shape();
        let _ = write!(text, "\\n{rows}×{cols}");
        let small = node.value.len() <= SHOWN_ENTRIES;
        // A copy's value is the shared weight's: what it shows is its gradient, step t's
        // contribution.
        if small && kinds[i] != Kind::Copy {
            let _ = write!(text, "\\nvalue {}", entries(&node.value));
        }
        match grads.get(NodeId(i)) {
            Some(g) if small => {
                let _ = write!(text, "\\ngrad {}", entries(g));
            }
            Some(g) => {
                let _ = write!(text, "\\n‖grad‖ {}", compact(g.norm().as_f64()));
            }
            None => {}
        }
        text
    };
    let node_line = |out: &mut String, indent: &str, i: usize| {
        let _ = writeln!(
            out,
            "{indent}n{i} [label=\"{}\", fillcolor=\"{}\"];",
            escape(&label(i)).replace("\\\\n", "\\n"),
            kinds[i].colour()
        );
    };
    out.push_str("  subgraph cluster_shared {\n    label=\"shared weights\";\n    style=dashed;\n");
    for (i, place) in places.iter().enumerate() {
        if *place == Place::Shared {
            node_line(&mut out, "    ", i);
        }
    }
    out.push_str("  }\n");
    for t in 1..=rec.x.len() {
        let title = format!("t = {t}");
        let _ = writeln!(
            out,
            "  subgraph cluster_step_{t} {{\n    label=\"{title}\";\n    style=rounded;\n    color=\"#999999\";"
        );
        // The initial state goes in with the step that reads it.
        for (i, place) in places.iter().enumerate() {
            if *place == Place::Step(t) || (t == 1 && *place == Place::Step(0)) {
                node_line(&mut out, "    ", i);
            }
        }
        out.push_str("  }\n");
    }
    out.push_str("  subgraph cluster_loss {\n    label=\"loss\";\n    style=dashed;\n");
    for (i, place) in places.iter().enumerate() {
        if *place == Place::Loss {
            node_line(&mut out, "    ", i);
        }
    }
    out.push_str("  }\n");
    // Rows: the shared weights at the top, each part of the state on one line, left to right
    // in time (an invisible edge between neighbours orders a row).
    let row = |out: &mut String, ids: &[usize], rank: &str| {
        let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
        let _ = writeln!(out, "  {{ rank={rank}; {}; }}", names.join("; "));
        for pair in ids.windows(2) {
            let _ = writeln!(out, "  n{} -> n{} [style=invis];", pair[0], pair[1]);
        }
    };
    let shared: Vec<usize> = rec.params.iter().map(id).collect();
    row(&mut out, &shared, "min");
    let inputs: Vec<usize> = rec.x.iter().map(id).collect();
    row(&mut out, &inputs, "same");
    for part in 0..C::STATES.len() {
        let line: Vec<usize> = rec.states.iter().map(|s| id(&s[part])).collect();
        row(&mut out, &line, "same");
    }
    // Edges from parents to children. One that carries a state into the next step does not
    // rank its head below its tail: the states stay on their line.
    for (i, node) in nodes.iter().enumerate() {
        for p in &node.parents {
            let into_next = kinds[p.0] == Kind::State
                && matches!((places[p.0], places[i]), (Place::Step(a), Place::Step(b)) if b == a + 1);
            let attributes = if into_next { " [constraint=false]" } else { "" };
            let _ = writeln!(out, "  n{} -> n{i}{attributes};", p.0);
        }
    }
    legend(&mut out);
    out.push_str("}\n");
    out
}

/// A box per kind of node, with its colour.
fn legend(out: &mut String) {
    out.push_str(
        "  subgraph cluster_legend {\n    label=\"legend\";\n    style=dashed;\n    fontsize=10;\n",
    );
    for (k, kind) in Kind::ALL.iter().enumerate() {
        let _ = writeln!(
            out,
            "    legend_{k} [label=\"{}\", fillcolor=\"{}\"];",
            kind.words(),
            kind.colour()
        );
    }
    for k in 1..Kind::ALL.len() {
        let _ = writeln!(out, "    legend_{} -> legend_{k} [style=invis];", k - 1);
    }
    out.push_str("  }\n");
}

fn steps_picture<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    rec: &Recording<'_, T>,
    grads: &Grads<T>,
    loss: f64,
) -> String {
    let steps = rec.x.len();
    let norm = |v: &crate::tape::Var<'_, T>| short(grads.wrt(*v).norm().as_f64());
    let mut out = String::from("digraph unrolled {\n");
    out.push_str("  newrank=true;\n  rankdir=TB;\n  nodesep=0.3;\n");
    let _ = writeln!(
        out,
        "  label=\"{}: {steps} steps, one box each (‖·‖ of each gradient)\";\n  labelloc=t;",
        escape(&case.cell.title())
    );
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10];\n",
    );
    out.push_str("  edge [color=\"#555555\", arrowsize=0.6];\n");
    for (i, p) in rec.params.iter().enumerate() {
        let shown = C::PARAMS[i].shown;
        let _ = writeln!(
            out,
            "  w{i} [label=\"{shown}\\n‖d{shown}‖ {}\", fillcolor=\"{}\"];",
            norm(p),
            Kind::Weight.colour()
        );
    }
    let equations = escape(&case.cell.equations()).replace('\n', "\\l");
    for t in 1..=steps {
        let _ = writeln!(
            out,
            "  x{t} [label=\"x_{t}\\n‖dx_{t}‖ {}\", fillcolor=\"{}\"];",
            norm(&rec.x[t - 1]),
            Kind::Input.colour()
        );
        let copies: Vec<String> = C::PARAMS
            .iter()
            .zip(&rec.copies[t - 1])
            .map(|(p, c)| format!("‖d{}[{t}]‖ {}", p.shown, norm(c)))
            .collect();
        let _ = writeln!(
            out,
            "  s{t} [label=\"step {t}\\n{}\", fillcolor=\"{}\"];",
            copies.join("\\n"),
            Kind::Copy.colour()
        );
    }
    for (t, state) in rec.states.iter().enumerate() {
        let parts: Vec<String> = C::STATES
            .iter()
            .zip(state)
            .map(|(s, v)| format!("{}_{t}  ‖d{}_{t}‖ {}", s.key, s.key, norm(v)))
            .collect();
        let _ = writeln!(
            out,
            "  h{t} [label=\"{}\", fillcolor=\"{}\"];",
            parts.join("\\n"),
            Kind::State.colour()
        );
    }
    let _ = writeln!(
        out,
        "  loss [label=\"{} = {}\", fillcolor=\"{}\"];",
        escape(&crate::trace::loss_equation(&case.head, steps)),
        number(loss),
        Kind::Loss.colour()
    );
    let _ = writeln!(
        out,
        "  equations [shape=note, style=filled, fillcolor=\"#f7f7f7\", label=\"{equations}\\l\"];"
    );
    let row = |out: &mut String, names: Vec<String>, rank: &str| {
        let _ = writeln!(out, "  {{ rank={rank}; {}; }}", names.join("; "));
        for pair in names.windows(2) {
            let _ = writeln!(out, "  {} -> {} [style=invis];", pair[0], pair[1]);
        }
    };
    let weights: Vec<String> = (0..rec.params.len()).map(|i| format!("w{i}")).collect();
    let mut top = weights.clone();
    top.push("equations".into());
    row(&mut out, top, "min");
    // Rows of STEPS_PER_ROW steps, one under the other, like lines of text: inputs, steps,
    // states; the state leaving a row's last step enters the next row's first.
    let rows: Vec<Vec<usize>> = (1..=steps)
        .collect::<Vec<_>>()
        .chunks(STEPS_PER_ROW)
        .map(<[usize]>::to_vec)
        .collect();
    for (r, row_steps) in rows.iter().enumerate() {
        let (first, last) = (row_steps[0], row_steps[row_steps.len() - 1]);
        row(
            &mut out,
            row_steps.iter().map(|t| format!("x{t}")).collect(),
            "same",
        );
        // Each row's inputs under what comes before it: the weights, or the row above, whose
        // first state holds the row to the left margin.
        if r == 0 {
            let _ = writeln!(out, "  w0 -> x1 [style=invis];");
        } else {
            let above = if r == 1 { 0 } else { rows[r - 1][0] };
            let _ = writeln!(out, "  h{above} -> x{first} [style=invis, weight=10];");
        }
        row(
            &mut out,
            row_steps.iter().map(|t| format!("s{t}")).collect(),
            "same",
        );
        let from = if r == 0 { 0 } else { first };
        row(
            &mut out,
            (from..=last).map(|t| format!("h{t}")).collect(),
            "same",
        );
    }
    for t in 1..=steps {
        // Beyond one row the weights' edges would cross every row above: the step boxes name
        // their copies instead.
        if rows.len() == 1 {
            for w in &weights {
                let _ = writeln!(out, "  {w} -> s{t} [color=\"#9bb4e0\"];");
            }
        }
        let _ = writeln!(out, "  x{t} -> s{t};");
        let _ = writeln!(out, "  h{} -> s{t} [constraint=false];", t - 1);
        let _ = writeln!(out, "  s{t} -> h{t};");
    }
    if !case.head.reads_every_state() {
        let _ = writeln!(out, "  h{steps} -> loss;");
    } else if rows.len() == 1 {
        for t in 1..=steps {
            let _ = writeln!(out, "  h{t} -> loss;");
        }
    } else {
        // An edge from every state would cross every row below it: one edge, and its label.
        let _ = writeln!(
            out,
            "  h{steps} -> loss [label=\" and every h_t\", fontsize=9];"
        );
    }
    out.push_str("}\n");
    out
}

/// What Graphviz drew from a picture: the SVG that `dot -Tsvg` printed, and what it said on
/// stderr (its warnings: empty when the layout was clean).
#[derive(Clone, Debug, PartialEq)]
pub struct Drawing {
    /// The SVG document, XML prolog and all.
    pub svg: String,
    /// Graphviz's warnings.
    pub warnings: String,
}

impl Drawing {
    /// The `<svg>` element alone, without the prolog: what an HTML page embeds.
    pub fn svg_element(&self) -> &str {
        self.svg.find("<svg").map_or("", |start| &self.svg[start..])
    }
}

/// Draws `dot` with Graphviz (`dot -Tsvg`), where it is installed: the one place tapegrad runs
/// another program, so that the command line, the tutorial's figure and the tests draw alike.
/// `None` when Graphviz is not installed; an error says why it could not draw.
pub fn draw(dot: &str) -> Result<Option<Drawing>> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let why = |why: String| crate::Error::invalid("dot", why);
    let Ok(mut child) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return Ok(None);
    };
    if let Some(mut input) = child.stdin.take() {
        // A dot that exits early closes its input: its status says what went wrong.
        let _ = input.write_all(dot.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| why(e.to_string()))?;
    let drawing = Drawing {
        svg: String::from_utf8_lossy(&out.stdout).into_owned(),
        warnings: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if out.status.success() && drawing.svg.contains("<svg") {
        Ok(Some(drawing))
    } else {
        Err(why(format!(
            "Graphviz could not draw it: {}",
            drawing.warnings.trim()
        )))
    }
}
