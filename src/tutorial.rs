//! The tutorial: the chapters in `docs/`, included here so that `cargo doc` renders them and
//! `cargo test` runs every `rust` block in them. Read them in order.
//!
//! Printed output shown in a chapter is a `text` block marked `<!-- output: NAME -->`; the code
//! that prints it ends with `assert_eq!(text, shown("NN", "NAME"))`, so a chapter whose output
//! drifts from what it shows fails `cargo test`.

/// The chapters, by number: their markdown, as included below.
const CHAPTERS: [(&str, &str); 11] = [
    ("01", include_str!("../docs/01-matrices.md")),
    ("02", include_str!("../docs/02-the-tape.md")),
    ("03", include_str!("../docs/03-rnn-dynamic-graph.md")),
    ("04", include_str!("../docs/04-bptt-by-hand.md")),
    ("05", include_str!("../docs/05-checking-gradients.md")),
    ("06", include_str!("../docs/06-training-a-classifier.md")),
    ("07", include_str!("../docs/07-vanishing-and-exploding.md")),
    (
        "08",
        include_str!("../docs/08-bug-zoo-and-your-homework.md"),
    ),
    (
        "09",
        include_str!("../docs/09-dual-numbers-and-hessian-vector-products.md"),
    ),
    ("10", include_str!("../docs/10-lstm-and-gru.md")),
    (
        "11",
        include_str!("../docs/11-snapshot-testing-your-traces.md"),
    ),
];

/// The output a chapter shows under `<!-- output: NAME -->`: the `text` block that follows the
/// marker, without its fences and final newline.
///
/// # Panics
/// If the chapter or the marker does not exist, or no `text` block follows it: a mistake in
/// the chapter, which the chapter's own doc test then reports.
pub fn shown(chapter: &str, name: &str) -> &'static str {
    let text = CHAPTERS
        .iter()
        .find(|(number, _)| *number == chapter)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no chapter {chapter}"));
    let marker = format!("<!-- output: {name} -->");
    let after = text
        .split_once(&marker)
        .unwrap_or_else(|| panic!("chapter {chapter} has no marker {marker}"))
        .1;
    let block = after
        .trim_start()
        .strip_prefix("```text\n")
        .unwrap_or_else(|| panic!("chapter {chapter}: no text block after {marker}"));
    let end = block.find("\n```").unwrap_or_else(|| {
        panic!("chapter {chapter}: the text block after {marker} is not closed")
    });
    &block[..end]
}

/// Whether `text` shows what the chapter shows under `name`, allowing each number to differ by
/// up to a factor of 3: for outputs made of finite-difference errors, whose last digits depend
/// on the platform's libm while their order of magnitude is the lesson.
pub fn matches_shown_roughly(text: &str, chapter: &str, name: &str) -> bool {
    let expected = shown(chapter, name);
    let (got, want): (Vec<&str>, Vec<&str>) = (
        text.split_whitespace().collect(),
        expected.split_whitespace().collect(),
    );
    got.len() == want.len()
        && got
            .iter()
            .zip(&want)
            .all(|(g, w)| match (g.parse::<f64>(), w.parse::<f64>()) {
                (Ok(g), Ok(w)) if w != 0.0 && g != 0.0 => {
                    let ratio = g / w;
                    (1.0 / 3.0..=3.0).contains(&ratio)
                }
                _ => g == w,
            })
}

#[doc = include_str!("../docs/01-matrices.md")]
pub mod ch01_matrices {}

#[doc = include_str!("../docs/02-the-tape.md")]
pub mod ch02_the_tape {}

#[doc = include_str!("../docs/03-rnn-dynamic-graph.md")]
pub mod ch03_rnn_dynamic_graph {}

#[doc = include_str!("../docs/04-bptt-by-hand.md")]
pub mod ch04_bptt_by_hand {}

#[doc = include_str!("../docs/05-checking-gradients.md")]
pub mod ch05_checking_gradients {}

#[doc = include_str!("../docs/06-training-a-classifier.md")]
pub mod ch06_training_a_classifier {}

#[doc = include_str!("../docs/07-vanishing-and-exploding.md")]
pub mod ch07_vanishing_and_exploding {}

#[doc = include_str!("../docs/08-bug-zoo-and-your-homework.md")]
pub mod ch08_bug_zoo_and_your_homework {}

#[doc = include_str!("../docs/09-dual-numbers-and-hessian-vector-products.md")]
pub mod ch09_dual_numbers_and_hessian_vector_products {}

#[doc = include_str!("../docs/10-lstm-and-gru.md")]
pub mod ch10_lstm_and_gru {}

#[doc = include_str!("../docs/11-snapshot-testing-your-traces.md")]
pub mod ch11_snapshot_testing_your_traces {}
