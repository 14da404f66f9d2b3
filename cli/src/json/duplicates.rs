//! Keys given twice in one JSON object.
//!
//! JSON allows it and serde_json keeps the last value, so a case file that sets `"b"` twice
//! would run silently with one of them. This pass reads the text once more, keeping nothing but
//! the keys of the object it is in, and names the first key given twice by its path
//! (`loss.kind`, `steps[2].dh`).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The start of the message this pass stops serde_json with, so that its error can be told from
/// a syntax error; the path of the key follows it.
const TWICE: &str = "\u{0}twice:";

/// The path of the first key given twice in one object of `text` (valid JSON), if any.
pub(crate) fn key_given_twice(text: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let error = At {
        parent: "",
        index: None,
    }
    .deserialize(&mut de)
    .err()?;
    // The message is ours followed by serde_json's " at line … column …".
    let message = error.to_string();
    let path = message.strip_prefix(TWICE)?;
    Some(
        path.rsplit_once(" at line ")
            .map_or(path, |(p, _)| p)
            .to_string(),
    )
}

/// Where a value sits: the path of the container it is in and, inside an array, its index.
/// The path is only written out when an object is met, so arrays of numbers cost nothing.
#[derive(Clone, Copy)]
struct At<'p> {
    parent: &'p str,
    index: Option<usize>,
}

impl At<'_> {
    /// The path of a key `key` of the object at this place.
    fn key(&self, key: &str) -> String {
        match (self.parent, self.index) {
            ("", None) => key.to_string(),
            (p, Some(i)) => format!("{p}[{i}].{key}"),
            (p, None) => format!("{p}.{key}"),
        }
    }
}

impl<'de> DeserializeSeed<'de> for At<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for At<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // An array inside an array: its own path, `x[3]`, written out for its entries.
        let own = match self.index {
            Some(i) => Cow::Owned(format!("{}[{i}]", self.parent)),
            None => Cow::Borrowed(self.parent),
        };
        let mut i = 0;
        while seq
            .next_element_seed(At {
                parent: &own,
                index: Some(i),
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.key(&key);
            if !seen.insert(key) {
                return Err(de::Error::custom(format!("{TWICE}{path}")));
            }
            map.next_value_seed(At {
                parent: &path,
                index: None,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_given_twice_is_named_by_its_path() {
        assert_eq!(key_given_twice(r#"{"b": [1], "x": 2}"#), None);
        assert_eq!(
            key_given_twice(r#"{"b": [1], "b": [2]}"#).as_deref(),
            Some("b")
        );
        assert_eq!(
            key_given_twice(r#"{"loss": {"kind": "a", "kind": "b"}}"#).as_deref(),
            Some("loss.kind")
        );
        assert_eq!(
            key_given_twice(r#"{"steps": [{"t": 1}, {"t": 2, "dh": 0, "dh": 1}]}"#).as_deref(),
            Some("steps[1].dh")
        );
        // The same key in two objects is not a repetition.
        assert_eq!(key_given_twice(r#"[{"t": 1}, {"t": 2}]"#), None);
        assert_eq!(
            key_given_twice(r#"{"a": [[0, {"k": 1, "k": 2}]]}"#).as_deref(),
            Some("a[0][1].k")
        );
    }
}
