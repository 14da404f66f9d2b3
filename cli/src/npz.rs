//! numpy's own files: a `.npz` archive (`np.savez`, `np.savez_compressed`) read into the same
//! value a JSON file gives, so that every check and message of the JSON readers applies to it.
//!
//! An `.npz` is a zip archive of `.npy` files, one per array, named as the keyword given to
//! `np.savez`. Names with a dot nest, as the JSON keys do: `loss.kind` is `"kind"` inside
//! `"loss"`, `grads.w_x` is `"w_x"` inside `"grads"`. A `.npy` file is a short text header, a
//! Python dict such as `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }`, then the
//! raw values. The archive (deflate, zip64) is read by the `zip` crate; the header is simple
//! and fixed (numpy's NEP 1), so it is read here, where each refusal can name the entry.
//!
//! Read: floats (`f8`, `f4`, either byte order), integers (signed and unsigned, 1 to 8 bytes),
//! booleans, and text (`U`, as `np.array("softmax_ce")` stores it), in C or Fortran order.
//! A float32 array is read exactly (every float32 is a float64), so a gradient file of float32
//! values is judged at float32's precision, as from JSON. NaN and infinity become the same
//! marked values as JSON's `NaN` tokens, refused where they are read, by name.

use crate::json::MARK;
use serde_json::{Map, Number, Value};
use std::io::{Cursor, Read};
use tapegrad::error::{Error, Result};

/// The most bytes an archive may unpack to, all entries together: a bound against a small
/// file that claims or inflates to gigabytes.
pub const MAX_UNPACKED_BYTES: u64 = 256 << 20;

/// Whether `bytes` start as a zip archive (an `.npz`) does.
pub fn is_npz(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Whether `bytes` start as a single `.npy` file (`np.save`) does.
pub fn is_npy(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x93NUMPY")
}

/// Reads an `.npz` archive into the value its JSON twin would parse to; `what` names the file
/// (`case file`) in messages.
pub fn parse_npz(bytes: &[u8], what: &str) -> Result<Value> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        Error::invalid(
            what,
            format!("not a readable .npz archive (a zip file): {e}"),
        )
    })?;
    let mut root = Map::new();
    let mut budget = MAX_UNPACKED_BYTES;
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| Error::invalid(what, format!("entry {i} of the archive: {e}")))?;
        let name = file
            .name()
            .map_err(|e| Error::invalid(what, format!("entry {i} of the archive: {e}")))?
            .to_string();
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let mut data = Vec::new();
        // One byte past the budget tells a file that would exceed it from one that fills it.
        (&mut file)
            .take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::invalid(&key, format!("cannot unpack the entry: {e}")))?;
        if data.len() as u64 > budget {
            return Err(Error::invalid(
                &key,
                format!(
                    "the archive unpacks to more than {} MiB, the most tapegrad reads",
                    MAX_UNPACKED_BYTES >> 20
                ),
            ));
        }
        budget -= data.len() as u64;
        let value = npy_value(&data, &key)?;
        insert(&mut root, &key, value)?;
    }
    Ok(Value::Object(root))
}

/// Puts `value` at the dotted `key` of `root`, making the objects on the way.
fn insert(root: &mut Map<String, Value>, key: &str, value: Value) -> Result<()> {
    let mut parts = key.split('.').peekable();
    let mut obj = root;
    let mut path = String::new();
    while let Some(part) = parts.next() {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
        if parts.peek().is_none() {
            if obj.contains_key(part) {
                return Err(Error::invalid(
                    key,
                    format!("given twice: {path} is already an entry or a group of entries"),
                ));
            }
            obj.insert(part.to_string(), value);
            return Ok(());
        }
        let next = obj
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        obj = match next {
            Value::Object(inner) => inner,
            _ => {
                return Err(Error::invalid(
                    key,
                    format!("{path} is an array of its own, so it cannot also hold {key}"),
                ));
            }
        };
    }
    unreachable!("invariant: split gives at least one part")
}

/// The kinds of values a `.npy` file may hold that tapegrad reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
    /// Text of this many characters per value, 4 bytes each (UTF-32).
    Text(usize),
}

/// A `.npy` header: the values' kind, their size in bytes and byte order, their layout and shape.
struct Header {
    kind: Kind,
    size: usize,
    big_endian: bool,
    fortran: bool,
    shape: Vec<usize>,
}

/// One `.npy` file as a value: nested arrays of numbers (or of booleans), a number, or a
/// string for a 0-d text array.
fn npy_value(data: &[u8], key: &str) -> Result<Value> {
    let (header, body) = header(data, key)?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n.checked_mul(header.size).is_some())
        .ok_or_else(|| Error::invalid(key, "the shape in the header is too large"))?;
    if body.len() != count * header.size {
        return Err(Error::invalid(
            key,
            format!(
                "the header says {count} values of {} bytes, but {} bytes follow it (a truncated \
                 file?)",
                header.size,
                body.len()
            ),
        ));
    }
    let values: Vec<Value> = body
        .chunks_exact(header.size)
        .map(|bytes| scalar(&header, bytes))
        .collect();
    Ok(nest(&values, &header.shape, header.fortran))
}

/// One value from its bytes.
fn scalar(h: &Header, bytes: &[u8]) -> Value {
    let mut b = [0u8; 8];
    if let Kind::Text(chars) = h.kind {
        let text: String = (0..chars)
            .map(|i| {
                let mut c = [0u8; 4];
                c.copy_from_slice(&bytes[4 * i..4 * i + 4]);
                if h.big_endian {
                    u32::from_be_bytes(c)
                } else {
                    u32::from_le_bytes(c)
                }
            })
            .take_while(|&c| c != 0)
            .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        return Value::String(text);
    }
    // Little-endian in the low bytes of `b`, whatever the file's order.
    for (i, &byte) in bytes.iter().enumerate() {
        let at = if h.big_endian { h.size - 1 - i } else { i };
        b[at] = byte;
    }
    let unsigned = u64::from_le_bytes(b);
    match h.kind {
        Kind::Bool => Value::Bool(unsigned != 0),
        Kind::Unsigned => Value::Number(Number::from(unsigned)),
        Kind::Signed => {
            // Sign-extend from the value's own width.
            let shift = 64 - 8 * h.size as u32;
            Value::Number(Number::from(((unsigned << shift) as i64) >> shift))
        }
        Kind::Float => {
            let x = if h.size == 4 {
                f64::from(f32::from_bits(unsigned as u32))
            } else {
                f64::from_bits(unsigned)
            };
            Number::from_f64(x).map_or_else(
                || {
                    let token = if x.is_nan() {
                        "NaN"
                    } else if x > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    };
                    Value::String(format!("{MARK}{token}"))
                },
                Value::Number,
            )
        }
        Kind::Text(_) => unreachable!("handled above"),
    }
}

/// Values in file order as nested arrays of `shape`: C order (the last index fastest) or
/// Fortran order (the first fastest).
fn nest(values: &[Value], shape: &[usize], fortran: bool) -> Value {
    fn build(values: &[Value], shape: &[usize], strides: &[usize], offset: usize) -> Value {
        match shape.split_first() {
            None => values[offset].clone(),
            Some((&n, inner)) => Value::Array(
                (0..n)
                    .map(|i| build(values, inner, &strides[1..], offset + i * strides[0]))
                    .collect(),
            ),
        }
    }
    let mut strides = vec![1; shape.len()];
    if fortran {
        for d in 1..shape.len() {
            strides[d] = strides[d - 1] * shape[d - 1];
        }
    } else {
        for d in (0..shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
    }
    build(values, shape, &strides, 0)
}

/// Reads the header of a `.npy` file: returns it and the bytes after it.
fn header<'a>(data: &'a [u8], key: &str) -> Result<(Header, &'a [u8])> {
    let bad = |why: &str| Error::invalid(key, format!("not a .npy array: {why}"));
    let rest = data
        .strip_prefix(b"\x93NUMPY")
        .ok_or_else(|| bad("it does not start with numpy's magic string"))?;
    let (len, rest) = match rest {
        [1, _, a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        _ => return Err(bad("unknown format version")),
    };
    if rest.len() < len {
        return Err(bad("the header is cut short"));
    }
    let (text, body) = rest.split_at(len);
    let text = std::str::from_utf8(text).map_err(|_| bad("the header is not text"))?;
    let field = |name: &str| -> Result<&str> {
        let at = text
            .find(&format!("'{name}'"))
            .ok_or_else(|| bad(&format!("the header has no '{name}'")))?;
        let after = text[at + name.len() + 2..].trim_start();
        Ok(after.strip_prefix(':').unwrap_or(after).trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| {
            Error::invalid(
                key,
                "a structured array (a record dtype) is not read: save each field as its own \
                 array",
            )
        })?;
    let fortran = field("fortran_order")?.starts_with("True");
    let shape_text = field("shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("the shape is not a tuple"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad("the shape is not whole numbers"))
        })
        .collect::<Result<Vec<usize>>>()?;
    // The byte order first ('<' little, '>' big, '|' not applicable, '=' this machine's).
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    let big_endian = descr.starts_with('>');
    let (letter, digits) = code.split_at(code.len().min(1));
    let width: usize = digits.parse().unwrap_or(0);
    let kind = match (letter, width) {
        ("f", 4 | 8) => Kind::Float,
        ("i", 1 | 2 | 4 | 8) => Kind::Signed,
        ("u", 1 | 2 | 4 | 8) => Kind::Unsigned,
        ("b", 1) => Kind::Bool,
        ("U", n) if n > 0 => Kind::Text(n),
        _ => {
            let name = match letter {
                "f" => format!("float{}", 8 * width),
                "c" => format!("complex{}", 8 * width),
                "O" => "object (pickled Python objects)".to_string(),
                "S" => "bytes (np.bytes_)".to_string(),
                "M" | "m" => "a date or time".to_string(),
                _ => descr.to_string(),
            };
            return Err(Error::invalid(
                key,
                format!(
                    "dtype {descr} ({name}) is not read: expected float64 or float32 numbers, \
                     integers, booleans, or a string (np.array(\"tanh\"))"
                ),
            ));
        }
    };
    let size = match kind {
        Kind::Text(n) => 4 * n,
        _ => width,
    };
    Ok((
        Header {
            kind,
            size,
            big_endian,
            fortran,
            shape,
        },
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.npy` file as numpy writes it (format 1.0), for `descr`, order and shape.
    fn npy(descr: &str, fortran: bool, shape: &str, body: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(body);
        out
    }

    fn f64s(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn arrays_in_either_order_and_every_kind() {
        let c = npy(
            "<f8",
            false,
            "(2, 3)",
            &f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        );
        let f = npy(
            "<f8",
            true,
            "(2, 3)",
            &f64s(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]),
        );
        let want = serde_json::json!([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert_eq!(npy_value(&c, "a").unwrap(), want);
        assert_eq!(npy_value(&f, "a").unwrap(), want);
        let big = npy(">f4", false, "(1,)", &0.1f32.to_be_bytes());
        assert_eq!(
            npy_value(&big, "a").unwrap(),
            serde_json::json!([f64::from(0.1f32)])
        );
        let ints = npy("<i2", false, "(2,)", &[0xff, 0xff, 2, 0]);
        assert_eq!(npy_value(&ints, "a").unwrap(), serde_json::json!([-1, 2]));
        let mask = npy("|b1", false, "(3,)", &[1, 0, 1]);
        assert_eq!(
            npy_value(&mask, "a").unwrap(),
            serde_json::json!([true, false, true])
        );
        let text: Vec<u8> = "tanh\0\0"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let word = npy("<U6", false, "()", &text);
        assert_eq!(npy_value(&word, "a").unwrap(), serde_json::json!("tanh"));
        let scalar = npy("<f8", false, "()", &f64s(&[2.5]));
        assert_eq!(npy_value(&scalar, "a").unwrap(), serde_json::json!(2.5));
    }

    #[test]
    fn what_is_not_read_is_named() {
        let complex = npy("<c16", false, "(1,)", &[0; 16]);
        let err = npy_value(&complex, "loss.w_out").unwrap_err().to_string();
        assert!(
            err.starts_with("loss.w_out: dtype <c16 (complex128) is not read"),
            "{err}"
        );
        let short = npy("<f8", false, "(2, 3)", &f64s(&[1.0]));
        let err = npy_value(&short, "x").unwrap_err().to_string();
        assert!(
            err.contains("6 values of 8 bytes, but 8 bytes follow"),
            "{err}"
        );
        let huge = npy("<f8", false, "(4294967296, 4294967296, 4294967296)", &[]);
        assert!(npy_value(&huge, "x").is_err());
        let nan = npy("<f8", false, "(1,)", &f64s(&[f64::NAN]));
        assert_eq!(
            npy_value(&nan, "b").unwrap(),
            serde_json::json!([format!("{MARK}NaN")])
        );
    }

    #[test]
    fn dotted_names_nest() {
        let mut root = Map::new();
        insert(&mut root, "loss.kind", Value::from("sum_last")).unwrap();
        insert(&mut root, "x", Value::from(1)).unwrap();
        assert_eq!(
            Value::Object(root.clone()),
            serde_json::json!({"loss": {"kind": "sum_last"}, "x": 1})
        );
        let err = insert(&mut root, "x.y", Value::from(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("x is an array of its own"), "{err}");
    }
}
