//! Lexing: JSON text into a value, explaining the mistakes numpy users make.
//!
//! An empty file, truncation, trailing text, Python's `repr` pasted instead of JSON, and the
//! `NaN` and `Infinity` tokens that Python's `json.dump` writes but JSON does not allow. Those
//! tokens, and numbers too large for a float64, do not stop the parse: they are read as marked
//! strings, so that the reader that meets one can name its exact place.

use super::duplicates::key_given_twice;
use serde_json::Value;
use tapegrad::error::{Error, Result};

/// The first character of the string that stands in for a number JSON cannot hold (`NaN`,
/// `Infinity`, `-Infinity`, or a literal too large for a float64) once [`mark_non_numbers`] has
/// rewritten it: a NUL, which no numpy export writes inside a string.
pub(crate) const MARK: char = '\u{0}';

/// Parses JSON text, explaining the mistakes numpy users make: an empty file, truncation,
/// trailing text, Python's `repr` pasted instead of JSON, and the `NaN` and `Infinity` tokens
/// that Python's `json.dump` writes but JSON does not allow.
///
/// Those tokens, and numbers too large for a float64, do not stop the parse: they are read as
/// marked strings, so that the loader that meets one can name its exact place,
/// `b[1]` or `steps[2].dh[0][3]`, instead of a line and a column.
pub fn parse_json(text: &str, what: &str) -> Result<Value> {
    // A byte-order mark (some editors write one) is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::invalid(
            what,
            "the file is empty; expected a JSON object { … }",
        ));
    }
    let error = match serde_json::from_str(text) {
        Ok(value) => return no_key_twice(text, what).map(|()| value),
        Err(e) => e,
    };
    let offset = byte_offset(text, error.line(), error.column());
    if !is_non_number_at(text, offset, &error) {
        return Err(syntax_error(what, text, offset, &error));
    }
    let (marked, shifts) = mark_non_numbers(text);
    let value = serde_json::from_str(&marked).map_err(|e| {
        // Report the position in the user's text, not in the rewritten one.
        let in_marked = byte_offset(&marked, e.line(), e.column());
        let grown: usize = shifts
            .iter()
            .filter(|(at, _)| *at < in_marked)
            .map(|(_, by)| by)
            .sum();
        syntax_error(what, text, in_marked.saturating_sub(grown), &e)
    })?;
    no_key_twice(&marked, what).map(|()| value)
}

/// Refuses a key given twice in one object of `text`: JSON readers keep one of the two values,
/// and which one the user meant is theirs to say.
fn no_key_twice(text: &str, what: &str) -> Result<()> {
    match key_given_twice(text) {
        None => Ok(()),
        Some(path) => Err(Error::invalid(
            path,
            format!(
                "given twice in one object of the {what}; JSON keeps only one of them: keep the one you mean"
            ),
        )),
    }
}

/// Whether serde_json stopped at `offset` because of a `NaN`, `Infinity` or `-Infinity` token,
/// or a number too large for a float64.
pub(crate) fn is_non_number_at(text: &str, offset: usize, error: &serde_json::Error) -> bool {
    let rest = text.get(offset..).unwrap_or("").trim_start();
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    rest.starts_with("NaN")
        || rest.starts_with("Infinity")
        || error.to_string().starts_with("number out of range")
}

/// Rewrites every `NaN`, `Infinity`, `-Infinity` and too-large number outside strings as a
/// JSON string `"\u0000TOKEN"` (see [`MARK`]). Returns the new text and, for each rewrite, its
/// byte position in the new text and how many bytes longer it made the text.
pub(crate) fn mark_non_numbers(text: &str) -> (String, Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut shifts = Vec::new();
    let (mut i, mut copied) = (0, 0);
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        let token_len = if c == b'"' {
            in_string = true;
            0
        } else if let Some(word) = ["NaN", "Infinity", "-Infinity"]
            .iter()
            .find(|w| bytes[i..].starts_with(w.as_bytes()))
        {
            word.len()
        } else if c == b'-' || c.is_ascii_digit() {
            let len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                .count();
            match text[i..i + len].parse::<f64>() {
                Ok(v) if v.is_infinite() => len,
                // A number that fits stays as it is: skip past its digits.
                _ => {
                    i += len;
                    continue;
                }
            }
        } else {
            0
        };
        if token_len == 0 {
            i += 1;
            continue;
        }
        out.push_str(&text[copied..i]);
        let replacement = format!("\"\\u0000{}\"", &text[i..i + token_len]);
        shifts.push((out.len(), replacement.len() - token_len));
        out.push_str(&replacement);
        i += token_len;
        copied = i;
    }
    out.push_str(&text[copied..]);
    (out, shifts)
}

/// The token a marked string stands for (`NaN`, `-Infinity`, `1e999`), if `v` is one.
pub(crate) fn marked_token(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => s.strip_prefix(MARK),
        _ => None,
    }
}

/// Why a marked token cannot be used, in the words a numpy user needs.
pub(crate) fn non_number_why(token: &str) -> String {
    if token.contains("NaN") || token.contains("Infinity") {
        format!(
            "found {token}, which Python's json.dump writes for nan or inf but JSON does not \
             allow; tapegrad needs finite numbers (np.isfinite(arr).all() finds the bad entries)"
        )
    } else {
        format!("the number {token} does not fit in a float64 (the largest is about 1.8e308)")
    }
}

/// A syntax error as one line: where, what serde_json says, and a hint at the usual cause.
pub(crate) fn syntax_error(
    what: &str,
    text: &str,
    offset: usize,
    error: &serde_json::Error,
) -> Error {
    let offset = char_floor(text, offset);
    let (line, column) = line_column(text, offset);
    let full = error.to_string();
    // serde_json's message ends in " at line L column C"; the position is given in our words.
    let message = full.split(" at line ").next().unwrap_or(&full);
    let hint = if message.starts_with("EOF") {
        " (the file ends too early: was it cut off while copying or saving?)"
    } else if message.starts_with("trailing comma") {
        " (JSON allows no comma after the last item of an array or object, though Python does; \
         json.dump never writes one)"
    } else if message.starts_with("trailing") {
        " (there is more text after the closing bracket of the JSON value)"
    } else if message.starts_with("recursion limit") {
        " (arrays or objects are nested more than 128 deep; a case needs at most 3 levels)"
    } else if message.starts_with("key must be a string") || text[offset..].starts_with('\'') {
        " (JSON needs double quotes: write the file with json.dump, not print or str)"
    } else if ["True", "False", "None"]
        .iter()
        .any(|w| text[offset..].starts_with(w))
    {
        " (Python's True, False and None are true, false and null in JSON: use json.dump)"
    } else {
        ""
    };
    Error::invalid(
        what,
        format!("not valid JSON at line {line}, column {column}: {message}{hint}"),
    )
}

/// The byte offset of serde_json's 1-based `(line, column)` position.
pub(crate) fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    char_floor(text, line_start + column.saturating_sub(1))
}

/// The largest character boundary at or before `offset` (at most the end of `text`), so that
/// slicing there cannot split a multi-byte character.
pub(crate) fn char_floor(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
