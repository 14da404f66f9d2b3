//! The tutorial chapters keep their promises: every output a chapter shows (a `text` block
//! marked `<!-- output: NAME -->`) is compared, by a `rust` block of the same chapter, with what
//! the code prints; and every chapter is included in `tapegrad::tutorial` so that its code runs.

use std::fs;

fn chapters() -> Vec<(String, String)> {
    let mut files: Vec<_> = fs::read_dir("docs")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_shown_output_is_checked_by_its_chapter() {
    let mut markers = 0;
    for (name, text) in chapters() {
        let number = &name[..2];
        for piece in text.split("<!-- output: ").skip(1) {
            let (marker, rest) = piece.split_once(" -->").unwrap();
            assert!(
                rest.trim_start().starts_with("```text\n"),
                "{name}: no text block after the marker {marker}"
            );
            let checked = [
                format!("shown(\"{number}\", \"{marker}\")"),
                format!("matches_shown_roughly(&text, \"{number}\", \"{marker}\")"),
            ];
            assert!(
                checked.iter().any(|c| text.contains(c.as_str())),
                "{name}: the output {marker} is shown but no code compares with it"
            );
            markers += 1;
        }
    }
    assert!(
        markers >= 6,
        "only {markers} checked outputs in the chapters"
    );
}

#[test]
fn every_chapter_is_in_the_tutorial_module() {
    let module = fs::read_to_string("src/tutorial.rs").unwrap();
    for (name, _) in chapters() {
        let include = format!("include_str!(\"../docs/{name}\")");
        assert_eq!(
            module.matches(include.as_str()).count(),
            2,
            "{name}: must be included twice in src/tutorial.rs (CHAPTERS and its module)"
        );
    }
}

/// A file a chapter quotes whole (a `rust,ignore` block after `<!-- template: PATH -->`) is
/// that file, byte for byte: the copy there is what CI builds and runs.
#[test]
fn every_quoted_file_is_the_file() {
    let mut quoted = 0;
    for (name, text) in chapters() {
        for piece in text.split("<!-- template: ").skip(1) {
            let (path, rest) = piece.split_once(" -->").unwrap();
            let block = rest
                .trim_start()
                .strip_prefix("```rust,ignore\n")
                .and_then(|b| b.split_once("```\n"))
                .map(|(code, _)| code)
                .unwrap_or_else(|| panic!("{name}: no rust,ignore block after {path}"));
            let file = fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
            assert_eq!(
                block, file,
                "{name}: the copy of {path} differs from the file"
            );
            quoted += 1;
        }
    }
    assert!(quoted >= 1, "no quoted file found");
}
