//! The mutators every target builds its inputs with: byte-level edits in the manner of AFL's
//! havoc stage (bit flips, interesting values, dictionary tokens, deleted, duplicated and
//! repeated ranges; see the AFL technical details, <https://lcamtuf.coredump.cx/afl/technical_details.txt>),
//! and a structure-aware JSON mutator that edits the tree of a valid document (replace a node,
//! remove or add a member, duplicate an element, change a type) before writing it out.

use fastrand::Rng;
use serde_json::{Map, Number, Value};

/// Text that breaks parsers: delimiters, escapes, control and odd Unicode characters.
pub const ODD_TEXT: &[&str] = &[
    "",
    " ",
    "  ",
    "\t",
    "\r\n",
    "\n",
    "\0",
    "\\",
    "\\u0000",
    "\\ud800",
    "\"",
    "'",
    "''",
    "%",
    "%00",
    "%zz",
    "%2",
    "%C3",
    "%C3%A9",
    "%F0%9F%98%80",
    "%FF",
    "+",
    "=",
    "&",
    ";",
    ",",
    ".",
    "..",
    "/",
    "//",
    "*",
    "?",
    "$",
    "${",
    "}",
    "{",
    "[",
    "]",
    "(",
    ")",
    "é",
    "ß",
    "İ",
    "😀",
    "\u{301}",
    "\u{feff}",
    "\u{200b}",
    "\u{2028}",
    "\u{85}",
    "\u{a0}",
    "\u{3000}",
    "\u{2003}",
    "\u{fffd}",
    "\u{10ffff}",
];

/// Numbers at the edges of the integer and float types, as text.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "00",
    "01",
    "+1",
    "0.5",
    "1.0",
    "1e3",
    "1E+2",
    "1e-7",
    "1e308",
    "1e309",
    "-1e309",
    "1e400",
    "5e-324",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999",
    "1735689600",
    "1735689600000",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
];

/// True with probability `percent`/100.
pub fn chance(rng: &mut Rng, percent: u8) -> bool {
    rng.u8(..100) < percent
}

/// One of `items` (which must not be empty).
pub fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// One of `items` (which must not be empty), for string lists.
pub fn word<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// A small count: 1 most of the time, rarely up to 16 (a geometric-like distribution).
pub fn small_count(rng: &mut Rng) -> usize {
    let mut n = 1;
    while n < 16 && chance(rng, 35) {
        n += 1;
    }
    n
}

/// Random bytes, up to `max_len`.
pub fn random_bytes(rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let len = rng.usize(..=max_len);
    let mut out = vec![0; len];
    rng.fill(&mut out);
    out
}

/// Random text from `alphabet` plus dictionary tokens, up to about `max_len` bytes.
pub fn soup(rng: &mut Rng, alphabet: &[&str], max_len: usize) -> String {
    let mut out = String::new();
    let target = rng.usize(..=max_len);
    while out.len() < target {
        if chance(rng, 10) {
            out.push_str(word(rng, ODD_TEXT));
        } else {
            out.push_str(word(rng, alphabet));
        }
    }
    out
}

/// Applies a few havoc edits to `data`, using `dict` for tokens; keeps it within `max_len`.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>, dict: &[&str], max_len: usize) {
    for _ in 0..small_count(rng) {
        edit(rng, data, dict, max_len);
    }
    data.truncate(max_len);
}

fn token<'a>(rng: &mut Rng, dict: &[&'a str]) -> &'a str {
    match rng.u8(..10) {
        0..=5 if !dict.is_empty() => word(rng, dict),
        6 | 7 => word(rng, ODD_TEXT),
        _ => word(rng, NUMBERS),
    }
}

fn edit(rng: &mut Rng, data: &mut Vec<u8>, dict: &[&str], max_len: usize) {
    let len = data.len();
    let at = rng.usize(..=len);
    match rng.u8(..14) {
        0 if len > 0 => {
            let i = rng.usize(..len);
            data[i] ^= 1 << rng.u8(..8);
        }
        1 if len > 0 => {
            let i = rng.usize(..len);
            data[i] = *pick(
                rng,
                &[0, 0x7f, 0x80, 0xc3, 0xff, b'.', b'"', b'\\', b'%', b' '],
            );
        }
        2 if len > 0 => {
            let i = rng.usize(..len);
            data[i] = rng.u8(..);
        }
        3 | 4 => {
            let t = token(rng, dict).as_bytes().to_vec();
            data.splice(at..at, t);
        }
        5 if len > 0 => {
            let start = rng.usize(..len);
            let end = (start + 1 + rng.usize(..16.min(len - start))).min(len);
            let t = token(rng, dict).as_bytes().to_vec();
            data.splice(start..end, t);
        }
        6 if len > 0 => {
            let start = rng.usize(..len);
            let n = if chance(rng, 80) {
                1 + rng.usize(..8)
            } else {
                rng.usize(..=len)
            };
            data.drain(start..(start + n).min(len));
        }
        7 if len > 0 => {
            let start = rng.usize(..len);
            let end = (start + 1 + rng.usize(..32)).min(len);
            let chunk = data[start..end].to_vec();
            let to = rng.usize(..=len);
            data.splice(to..to, chunk);
        }
        8 if len > 0 => {
            data.truncate(rng.usize(..len));
        }
        9 => {
            let n = 1 + rng.usize(..8);
            let mut extra = vec![0; n];
            rng.fill(&mut extra);
            data.splice(at..at, extra);
        }
        10 if len > 1 => {
            let (i, j) = (rng.usize(..len), rng.usize(..len));
            data.swap(i, j);
        }
        11 if len > 0 && chance(rng, 30) => {
            // Repeat a chunk many times, to reach length limits and deep nesting.
            let start = rng.usize(..len);
            let end = (start + 1 + rng.usize(..4)).min(len);
            let chunk = data[start..end].to_vec();
            let times = 1 + rng.usize(..(max_len / chunk.len().max(1)).clamp(1, 20_000));
            let repeated: Vec<u8> = chunk
                .iter()
                .copied()
                .cycle()
                .take(chunk.len() * times)
                .collect();
            data.splice(start..start, repeated);
        }
        12 if len > 0 => {
            // Change the case of an ASCII letter.
            let i = rng.usize(..len);
            data[i] = if data[i].is_ascii_lowercase() {
                data[i].to_ascii_uppercase()
            } else {
                data[i].to_ascii_lowercase()
            };
        }
        _ => {
            let t = token(rng, dict).as_bytes().to_vec();
            data.splice(at..at, t);
        }
    }
}

/// `text` after a few havoc edits, as a string (invalid UTF-8 becomes U+FFFD).
pub fn text(rng: &mut Rng, text: &str, dict: &[&str], max_len: usize) -> String {
    let mut data = text.as_bytes().to_vec();
    bytes(rng, &mut data, dict, max_len);
    into_string(data)
}

/// The bytes as a string: as they are if they are UTF-8, else with U+FFFD replacements.
pub fn into_string(data: Vec<u8>) -> String {
    String::from_utf8(data).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A JSON number from one of [`NUMBERS`] that JSON can hold.
pub fn number(rng: &mut Rng) -> Value {
    let choices = [
        Value::from(0),
        Value::from(-1),
        Value::from(1),
        Value::from(i64::MIN),
        Value::from(i64::MAX),
        Value::from(u64::MAX),
        Value::from(i64::from(i32::MAX) + 1),
        Value::from(9_007_199_254_740_993_i64),
        Value::from(1_735_689_600_i64),
        Value::from(1_735_689_600_000_i64),
        Value::from(4_102_444_800_i64),
        Number::from_f64(0.5).map_or(Value::Null, Value::Number),
        Number::from_f64(-0.0).map_or(Value::Null, Value::Number),
        Number::from_f64(1e308).map_or(Value::Null, Value::Number),
        Number::from_f64(-1e308).map_or(Value::Null, Value::Number),
        Number::from_f64(5e-324).map_or(Value::Null, Value::Number),
        Number::from_f64(1e11).map_or(Value::Null, Value::Number),
        Number::from_f64(1_735_689_600.5).map_or(Value::Null, Value::Number),
    ];
    let mut v = pick(rng, &choices).clone();
    if chance(rng, 20) {
        v = Value::from(rng.i64(..));
    }
    v
}

/// The structure-aware JSON mutator of one target: the member names and strings it knows.
#[derive(Debug, Clone, Copy)]
pub struct Json<'a> {
    /// Member names to add or rename to.
    pub keys: &'a [&'a str],
    /// Strings to put in.
    pub strings: &'a [&'a str],
}

impl Json<'_> {
    /// A random value, nested at most `depth` levels.
    pub fn value(&self, rng: &mut Rng, depth: usize) -> Value {
        match rng.u8(..12) {
            0 => Value::Null,
            1 => Value::Bool(rng.bool()),
            2 | 3 => number(rng),
            4..=7 => Value::String(self.string(rng)),
            8 | 9 if depth > 0 => {
                let n = rng.usize(..4);
                Value::Array((0..n).map(|_| self.value(rng, depth - 1)).collect())
            }
            10 | 11 if depth > 0 => {
                let mut map = Map::new();
                for _ in 0..rng.usize(..4) {
                    map.insert(self.key(rng), self.value(rng, depth - 1));
                }
                Value::Object(map)
            }
            _ => Value::String(self.string(rng)),
        }
    }

    fn string(&self, rng: &mut Rng) -> String {
        match rng.u8(..10) {
            0..=5 if !self.strings.is_empty() => (*pick(rng, self.strings)).to_owned(),
            6 => (*pick(rng, ODD_TEXT)).to_owned(),
            7 => (*pick(rng, NUMBERS)).to_owned(),
            8 if !self.strings.is_empty() => {
                let base = *pick(rng, self.strings);
                text(rng, base, self.strings, 256)
            }
            _ => {
                let n = if chance(rng, 5) {
                    rng.usize(..20_000)
                } else {
                    rng.usize(..12)
                };
                (0..n).map(|_| rng.alphanumeric()).collect()
            }
        }
    }

    fn key(&self, rng: &mut Rng) -> String {
        if !self.keys.is_empty() && chance(rng, 80) {
            (*pick(rng, self.keys)).to_owned()
        } else {
            self.string(rng)
        }
    }

    /// Applies a few tree edits to `doc`. With `values_only`, member names are never changed
    /// and nothing is copied from one place to another, so every value stays where the seed
    /// put it (the `vcap` target's secret check relies on this).
    pub fn mutate(&self, rng: &mut Rng, doc: &mut Value, values_only: bool) {
        for _ in 0..small_count(rng) {
            let donor = if values_only || !chance(rng, 15) {
                None
            } else {
                Some(walk(rng, &mut doc.clone()).clone())
            };
            let node = walk(rng, doc);
            self.edit(rng, node, donor, values_only);
        }
    }

    fn edit(&self, rng: &mut Rng, node: &mut Value, donor: Option<Value>, values_only: bool) {
        if let Some(donor) = donor {
            *node = donor;
            return;
        }
        match rng.u8(..10) {
            0 | 1 => *node = self.value(rng, 0),
            2 => *node = self.value(rng, 2),
            3 => match node {
                Value::Object(map) if !map.is_empty() => {
                    let i = rng.usize(..map.len());
                    if let Some(k) = map.keys().nth(i).cloned() {
                        map.remove(&k);
                    }
                }
                Value::Array(items) if !items.is_empty() => {
                    items.remove(rng.usize(..items.len()));
                }
                _ => *node = Value::Null,
            },
            4 => match node {
                Value::Object(map) => {
                    let k = self.key(rng);
                    map.insert(k, self.value(rng, 1));
                }
                Value::Array(items) => {
                    let at = rng.usize(..=items.len());
                    items.insert(at, self.value(rng, 1));
                }
                _ => *node = self.value(rng, 1),
            },
            5 => match node {
                Value::Array(items) if !items.is_empty() && !values_only => {
                    let i = rng.usize(..items.len());
                    let copy = items[i].clone();
                    items.insert(i, copy);
                }
                Value::String(s) => *s = text(rng, s, self.strings, 4096),
                Value::Number(_) => *node = number(rng),
                Value::Bool(b) => *b = !*b,
                _ => *node = self.value(rng, 1),
            },
            6 => match node {
                // The same content in another type: `"x"` → `["x"]`, `5` → `"5"`.
                Value::String(s) if chance(rng, 50) => *node = Value::Array(vec![s.clone().into()]),
                Value::Number(n) => *node = Value::String(n.to_string()),
                Value::Array(items) if items.len() == 1 => *node = items.remove(0),
                // A container written into a string would move its values under this name.
                other if values_only && (other.is_array() || other.is_object()) => {
                    *other = self.value(rng, 1);
                }
                other => *other = Value::String(other.to_string()),
            },
            7 if !values_only => {
                if let Value::Object(map) = node
                    && !map.is_empty()
                {
                    let i = rng.usize(..map.len());
                    if let Some(k) = map.keys().nth(i).cloned()
                        && let Some(v) = map.remove(&k)
                    {
                        let renamed = if chance(rng, 50) {
                            text(rng, &k, self.keys, 64)
                        } else {
                            self.key(rng)
                        };
                        map.insert(renamed, v);
                    }
                } else {
                    *node = self.value(rng, 1);
                }
            }
            _ => match node {
                Value::String(s) => *s = text(rng, s, self.strings, 4096),
                _ => *node = self.value(rng, 1),
            },
        }
    }

    /// `doc` as text: compact, pretty, or compact with a few byte-level edits.
    pub fn write(&self, rng: &mut Rng, doc: &Value, dict: &[&str], max_len: usize) -> String {
        match rng.u8(..10) {
            0..=5 => doc.to_string(),
            6 | 7 => serde_json::to_string_pretty(doc).unwrap_or_default(),
            _ => text(rng, &doc.to_string(), dict, max_len),
        }
    }
}

/// A node of `doc` (the root included), every node equally likely: at a node whose subtree
/// holds `n` nodes the walk stops with probability 1/n, else it descends into a child with
/// probability proportional to the child's subtree.
pub fn walk<'v>(rng: &mut Rng, doc: &'v mut Value) -> &'v mut Value {
    let mut node = doc;
    loop {
        let sizes: Vec<usize> = match &*node {
            Value::Array(items) => items.iter().map(size).collect(),
            Value::Object(map) => map.values().map(size).collect(),
            _ => Vec::new(),
        };
        let below: usize = sizes.iter().sum();
        let mut ticket = rng.usize(..=below);
        if ticket == below {
            return node;
        }
        let mut i = 0;
        while ticket >= sizes[i] {
            ticket -= sizes[i];
            i += 1;
        }
        node = match node {
            Value::Array(items) => &mut items[i],
            Value::Object(map) => match map.values_mut().nth(i) {
                Some(child) => child,
                None => unreachable!("the index is below the length"),
            },
            _ => unreachable!("leaves have no children"),
        };
    }
}

/// The number of nodes in `v`, itself included.
fn size(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(size).sum(),
        Value::Object(map) => map.values().map(size).sum(),
        _ => 0,
    }
}

/// Text nested `depth` levels deep (`[[[…]]]`, `{"a":{"a":…}}`), past serde_json's limit of 128.
pub fn deep_json(rng: &mut Rng, depth: usize) -> String {
    if rng.bool() {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_the_length_and_change_things() {
        let mut rng = Rng::with_seed(1);
        let mut changed = 0;
        for _ in 0..2000 {
            let mut data = b"{\"a\":[1,2,\"x\"]}".to_vec();
            bytes(&mut rng, &mut data, &["\"b\":"], 64);
            assert!(data.len() <= 64);
            changed += usize::from(data != b"{\"a\":[1,2,\"x\"]}");
        }
        assert!(changed > 1800, "{changed}");
    }

    /// Every string containing `marker` sits under the member name `name` (possibly in arrays).
    fn only_under(v: &Value, key: Option<&str>, marker: &str, name: &str) -> bool {
        match v {
            Value::String(s) => !s.contains(marker) || key == Some(name),
            Value::Array(items) => items.iter().all(|i| only_under(i, key, marker, name)),
            Value::Object(map) => map
                .iter()
                .all(|(k, i)| !k.contains(marker) && only_under(i, Some(k), marker, name)),
            _ => true,
        }
    }

    #[test]
    fn values_only_never_moves_a_value() {
        let json = Json {
            keys: &["k"],
            strings: &["s"],
        };
        let mut rng = Rng::with_seed(2);
        for _ in 0..5000 {
            let mut doc = serde_json::json!({"a": {"b": "secret"}, "c": [1, {"d": 2}]});
            json.mutate(&mut rng, &mut doc, true);
            assert!(only_under(&doc, None, "secret", "b"), "{doc}");
        }
    }
}
