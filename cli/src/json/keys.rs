//! Keys: the ones the tool reads, the ones that look misspelled (refused, with "did you mean"),
//! and the others (read past, with a warning).

use serde_json::{Map, Value};
use std::borrow::Cow;
use tapegrad::error::{Error, Result};

/// Checks the keys of one object of a file against those the tool reads there (`known`).
///
/// A key that looks like a misspelling of a known one is refused: one that differs only in
/// case, `_`, `-` or a leading `d` (`W_x`, `wx`, `H0`, `dW_h`, `dh0`), or by one letter (or two
/// neighbours swapped) from a known key of at least 4 letters (`activaton`, `lables`), by two
/// from one of at least 8: reading on
/// without it would silently leave out the user's array or setting. Any other key is not
/// refused, since a file may carry more than the tool reads, but it is noted in `ignored` (as
/// `path: message`), for the command to warn about. Returns how many of those hold an array or
/// an object: values that may be gradients the user meant to give.
pub(crate) fn check_keys(
    obj: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
    ignored: &mut Vec<String>,
) -> Result<usize> {
    let mut containers = 0;
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let shown = shown_key(key);
        if let Some(meant) = misspelling_of(key, known) {
            return Err(Error::invalid(
                format!("{prefix}{shown}"),
                format!("unknown key; did you mean {meant:?}? (keys are case-sensitive)"),
            ));
        }
        ignored.push(format!(
            "{prefix}{shown}: not a key the tool reads here ({}); ignored",
            known.join(", ")
        ));
        if matches!(obj[key], Value::Array(_) | Value::Object(_)) {
            containers += 1;
        }
    }
    Ok(containers)
}

/// A key of the user's file as messages print it: as it is, or quoted with its escapes if it
/// holds a control character (a newline in a key would break the one-line message).
/// A key longer than [`SHOWN_KEY_CHARS`] is cut there, with the length it had.
pub(crate) fn shown_key(key: &str) -> Cow<'_, str> {
    let length = key.chars().count();
    let key: Cow<'_, str> = if length > SHOWN_KEY_CHARS {
        let start: String = key.chars().take(SHOWN_KEY_CHARS).collect();
        Cow::Owned(format!("{start}… ({length} characters)"))
    } else {
        Cow::Borrowed(key)
    };
    if key.chars().any(char::is_control) {
        Cow::Owned(format!("{key:?}"))
    } else {
        key
    }
}

/// The most characters of a key a message prints.
const SHOWN_KEY_CHARS: usize = 40;

/// The known key that `key` looks like a misspelling of, as `check_keys` decides: the
/// nearest one (`Target` is `target`, not `targets`), the first listed among equals.
pub fn misspelling_of<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    // Two edits at most make a misspelling, so a key much longer than every known one is none
    // (and its edit distance, quadratic in its length, is not worth computing).
    let longest = known.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    if key.chars().count() > longest + 3 {
        return None;
    }
    let fold = |k: &str| -> Vec<char> {
        k.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(key);
    let d_prefixed = |a: &[char], b: &[char]| a.first() == Some(&'d') && a[1..] == *b;
    // How far `key` is from `k`: 0 when they differ only in case, `_` or `-`, 1 for a leading
    // `d`, and one more than the letters to change for a near spelling of a long key.
    let distance = |k: &str| -> Option<usize> {
        let k = fold(k);
        let letters = edit_distance(&folded, &k);
        if k == folded {
            Some(0)
        } else if d_prefixed(&folded, &k) || d_prefixed(&k, &folded) {
            Some(1)
        } else if (k.len() >= 4 && letters <= 1) || (k.len() >= 8 && letters <= 2) {
            Some(1 + letters)
        } else {
            None
        }
    };
    known
        .iter()
        .filter_map(|&k| distance(k).map(|d| (d, k)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The number of letters to insert, delete or replace, or of neighbours to swap, to turn `a`
/// into `b` (the optimal-string-alignment distance: `lables` is one swap from `labels`).
pub(crate) fn edit_distance(a: &[char], b: &[char]) -> usize {
    // d[i][j]: the distance between the first i letters of a and the first j of b.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::case::LOSS_KEYS;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn edit_distance_counts_letters_inserted_deleted_or_replaced() {
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(edit_distance(&chars("activaton"), &chars("activation")), 1);
        assert_eq!(edit_distance(&chars(""), &chars("dh")), 2);
        assert_eq!(edit_distance(&chars("dw_x"), &chars("dw_x")), 0);
        assert_eq!(
            edit_distance(&chars("lables"), &chars("labels")),
            1,
            "one swap"
        );
        assert_eq!(edit_distance(&chars("ab"), &chars("ba")), 1);
    }

    #[test]
    fn the_nearest_known_key_is_suggested() {
        let loss = LOSS_KEYS;
        assert_eq!(misspelling_of("Target", &loss), Some("target"));
        assert_eq!(misspelling_of("target_", &loss), Some("target"));
        assert_eq!(misspelling_of("Targets", &loss), Some("targets"));
        assert_eq!(misspelling_of("target", &loss), Some("target"));
        assert_eq!(misspelling_of("taregts", &loss), Some("targets"));
        assert_eq!(misspelling_of("lables", &loss), Some("labels"));
    }

    #[test]
    fn misspellings_are_told_from_other_keys() {
        let case = ["x", "w_x", "w_h", "b", "h0", "activation", "loss"];
        assert_eq!(misspelling_of("activaton", &case), Some("activation"));
        assert_eq!(misspelling_of("Activatoin", &case), Some("activation"));
        assert_eq!(misspelling_of("W_H", &case), Some("w_h"));
        assert_eq!(
            misspelling_of("lsos", &case),
            Some("loss"),
            "two letters swapped"
        );
        assert_eq!(misspelling_of("lxss", &case), Some("loss"));
        assert_eq!(
            misspelling_of("lxsx", &case),
            None,
            "two letters off a 4-letter key"
        );
        assert_eq!(misspelling_of("losss", &case), Some("loss"));
        // Short keys only by case, `_`, `-` or a leading `d`: `y` is not a misspelled `b`.
        assert_eq!(misspelling_of("y", &case), None);
        assert_eq!(misspelling_of("notes", &case), None);
    }
}
