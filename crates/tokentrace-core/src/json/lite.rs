//! A small JSON tree for the captured `usage` objects.
//!
//! `serde_json::Value` gives every object a `BTreeMap` and every member name
//! its own `String`: a dozen allocations for one OpenAI `usage` object, on
//! every call. [`Lite`] keeps member names borrowed from the captured bytes
//! (unless they contain escapes) and an object's members in one `Vec`, and
//! answers the few questions the extractor asks: a member by name, a count, a
//! float, a string.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A parsed JSON value whose strings borrow from the input where they can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lite<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<Self>),
    /// Members in document order; a repeated name keeps its last value, as
    /// `serde_json` does.
    Object(Vec<(Cow<'a, str>, Self)>),
}

/// The questions the extractor asks of a JSON value, answered alike by
/// [`Lite`] and by `serde_json::Value`.
pub(crate) trait Json: Sized {
    /// The member `key` of an object.
    fn member(&self, key: &str) -> Option<&Self>;
    /// Whether this is an object.
    fn is_obj(&self) -> bool;
    /// A number value.
    fn number(&self) -> Option<&serde_json::Number>;
    /// A string value.
    fn string(&self) -> Option<&str>;
    /// The elements of an array (empty for anything else).
    fn items(&self) -> &[Self];

    /// A token count: a non-negative integer, a float rounded, or a numeric
    /// string.
    fn count(&self) -> Option<u64> {
        if let Some(n) = self.number() {
            return n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f.round() as u64)
            });
        }
        self.string().and_then(|s| s.trim().parse().ok())
    }

    /// A number as `f64`.
    fn float(&self) -> Option<f64> {
        self.number().and_then(serde_json::Number::as_f64)
    }
}

impl Json for Lite<'_> {
    fn member(&self, key: &str) -> Option<&Self> {
        match self {
            Self::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn is_obj(&self) -> bool {
        matches!(self, Self::Object(_))
    }
    fn number(&self) -> Option<&serde_json::Number> {
        match self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }
    fn string(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
    fn items(&self) -> &[Self] {
        match self {
            Self::Array(items) => items,
            _ => &[],
        }
    }
}

impl Json for Value {
    fn member(&self, key: &str) -> Option<&Self> {
        self.get(key)
    }
    fn is_obj(&self) -> bool {
        self.is_object()
    }
    fn number(&self) -> Option<&serde_json::Number> {
        match self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }
    fn string(&self) -> Option<&str> {
        self.as_str()
    }
    fn items(&self) -> &[Self] {
        self.as_array().map_or(&[], Vec::as_slice)
    }
}

/// ASCII digits as a `u64`; `None` when the value overflows.
pub(crate) fn digits_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |a, d| {
        a.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Nesting deeper than this is refused, as `serde_json` refuses it.
const MAX_DEPTH: usize = 128;

impl<'a> Lite<'a> {
    /// Parses one JSON value (surrounded by optional whitespace) without
    /// going through serde: the captured `usage` objects are small, and a
    /// serde walk costs several times the bytes it reads. Accepts and refuses
    /// exactly what `serde_json::from_slice::<Lite>` does, with the same
    /// numbers (a `serde_json::Number` built the same way).
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut p = Parser { b: bytes, i: 0 };
        let v = p.value(0)?;
        p.ws();
        (p.i == bytes.len()).then_some(v)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Lite<'a>> {
        self.ws();
        let c = *self.b.get(self.i)?;
        match c {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                // Usage objects have five to ten members: no growth step for most.
                let mut members = Vec::with_capacity(8);
                if self.eat(b'}') {
                    return Some(Lite::Object(members));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return None;
                    }
                    let k = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    if self.eat(b',') {
                        continue;
                    }
                    return self.eat(b'}').then_some(Lite::Object(members));
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Some(Lite::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b',') {
                        continue;
                    }
                    return self.eat(b']').then_some(Lite::Array(items));
                }
            }
            b'"' => self.string().map(Lite::String),
            b'n' => self.word(b"null", Lite::Null),
            b't' => self.word(b"true", Lite::Bool(true)),
            b'f' => self.word(b"false", Lite::Bool(false)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, w: &[u8], v: Lite<'a>) -> Option<Lite<'a>> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Some(v)
        } else {
            None
        }
    }

    /// A string at `self.i` (its opening quote): borrowed when it has no
    /// escapes; escaped ones are decoded by serde_json.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        let body = start + 1;
        let end = body + memchr::memchr2(b'"', b'\\', &self.b[body..])?;
        if self.b[end] == b'"' {
            let raw = &self.b[body..end];
            // JSON strings may not hold control characters.
            if raw.iter().any(|c| *c < 0x20) {
                return None;
            }
            self.i = end + 1;
            return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
        }
        // An escape: find the closing quote, then let serde_json decode it.
        let mut j = end;
        loop {
            match self.b.get(j)? {
                b'\\' => j += 2,
                b'"' => break,
                _ => j += 1,
            }
        }
        self.i = j + 1;
        serde_json::from_slice::<String>(&self.b[start..=j])
            .ok()
            .map(Cow::Owned)
    }

    fn number(&mut self) -> Option<Lite<'a>> {
        let start = self.i;
        let mut j = start;
        if self.b[j] == b'-' {
            j += 1;
        }
        let digits = j;
        while self.b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        let plain = j > digits
            && j - digits < 20
            && start == digits
            && (self.b[digits] != b'0' || j - digits == 1)
            && !matches!(self.b.get(j), Some(b'.' | b'e' | b'E'));
        if plain {
            // A non-negative integer with no fraction or exponent: u64, as serde_json reads it.
            if let Some(n) = digits_u64(&self.b[digits..j]) {
                self.i = j;
                return Some(Lite::Number(n.into()));
            }
        }
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.b.get(j) {
            j += 1;
        }
        self.i = j;
        let text = std::str::from_utf8(&self.b[start..j]).ok()?;
        text.parse::<serde_json::Number>().ok().map(Lite::Number)
    }
}

/// A member name, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Lite<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LiteVisitor)
    }
}

struct LiteVisitor;

impl<'de> Visitor<'de> for LiteVisitor {
    type Value = Lite<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lite::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Lite::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Lite::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Lite::Number(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Lite::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // JSON has no NaN or infinity; serde_json never hands them over.
        Ok(serde_json::Number::from_f64(v).map_or(Lite::Null, Lite::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lite::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lite::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lite::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Lite::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).clamp(4, 64));
        while let Some(Key(k)) = map.next_key()? {
            let v: Lite<'de> = map.next_value()?;
            members.push((k, v));
        }
        Ok(Lite::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> (Lite<'_>, Value) {
        (
            serde_json::from_str(text).unwrap(),
            serde_json::from_str(text).unwrap(),
        )
    }

    #[test]
    fn answers_like_serde_json_values() {
        let text = r#"{"prompt_tokens": 19, "completion_tokens": 10.6, "total": "29 ",
            "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": null},
            "cost": 0.0125, "tier": "default", "esc\u0061ped": -4, "list": [1, {"a": 2}],
            "dup": 1, "dup": 2}"#;
        let (lite, value) = both(text);
        for key in [
            "prompt_tokens",
            "completion_tokens",
            "total",
            "cost",
            "tier",
            "escaped",
            "list",
            "dup",
            "missing",
        ] {
            let (l, v) = (lite.member(key), value.member(key));
            assert_eq!(l.is_some(), v.is_some(), "{key}");
            assert_eq!(l.and_then(Json::count), v.and_then(Json::count), "{key}");
            assert_eq!(l.and_then(Json::float), v.and_then(Json::float), "{key}");
            assert_eq!(l.and_then(Json::string), v.and_then(Json::string), "{key}");
        }
        let (l, v) = (
            lite.member("prompt_tokens_details"),
            value.member("prompt_tokens_details"),
        );
        assert!(l.unwrap().is_obj() && v.unwrap().is_obj());
        assert_eq!(
            l.and_then(|d| d.member("cached_tokens"))
                .and_then(Json::count),
            Some(3)
        );
        assert_eq!(lite.member("dup").and_then(Json::count), Some(2));
        assert_eq!(
            lite.member("completion_tokens").and_then(Json::count),
            Some(11)
        );
        assert_eq!(lite.member("escaped").and_then(Json::count), None);
    }

    #[test]
    fn member_names_borrow_unless_escaped() {
        let text = br#"{"plain": 1, "tab\tbed": 2}"#;
        let lite: Lite<'_> = serde_json::from_slice(text).unwrap();
        let Lite::Object(members) = lite else {
            panic!("an object")
        };
        assert!(matches!(members[0].0, Cow::Borrowed("plain")));
        assert!(matches!(&members[1].0, Cow::Owned(k) if k == "tab\tbed"));
    }

    /// The hand parser accepts, refuses and reads exactly as the serde path does.
    #[test]
    fn hand_parser_agrees_with_serde() {
        let samples: Vec<Vec<u8>> = [
            r#"{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}"#,
            r#" { "a" : [ 1 , -2 , 3.5e2 , -0 , 0.0 , 18446744073709551615 , 18446744073709551616 , -9223372036854775809 ] } "#,
            r#"{"s":"plain","e":"tab\tbed \u00e9 \"q\"","k\u0061":true,"n":null,"f":false}"#,
            r#"{"dup":1,"dup":2}"#, "[]", "{}", "[[]]", "0", "-", "01", "1.", ".5", "1e", "1e400",
            "-1e400", "1E+2", "1e-2", "\"x\"", "\"a\\u0000\"", "\"ctl\u{1}\"", "nul", "truex",
            "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "", " ", "[1 2]", "{\"a\":}",
            "\"unterminated", "\"esc\\", "123abc", "-01", "0x10", "1.5.5", "--1", "+1",
            "\"\\ud800\"", "99999999999999999999", "-99999999999999999999", "5e-324",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([b"\"\xff\"".to_vec(), b"{\"a\":\"\x01\"}".to_vec()])
        .chain(std::iter::once({
            let mut deep = vec![b'['; 200];
            deep.extend(vec![b']'; 200]);
            deep
        }))
        .collect();
        let mut inputs = samples.clone();
        // Every prefix of the samples, and single-byte mutations of them.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for s in &samples {
            for cut in 0..s.len() {
                inputs.push(s[..cut].to_vec());
            }
            for _ in 0..64 {
                if s.is_empty() {
                    break;
                }
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut m = s.clone();
                let at = (seed % m.len() as u64) as usize;
                m[at] = b"{}[]\",:0123456789-+.eE \\tnul"[(seed >> 32) as usize % 27];
                inputs.push(m);
            }
        }
        for input in &inputs {
            let by_serde = serde_json::from_slice::<Lite<'_>>(input).ok();
            let by_hand = Lite::parse(input);
            assert_eq!(by_hand, by_serde, "{:?}", String::from_utf8_lossy(input));
        }
        assert!(inputs.len() > 2000);
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        for text in ["{", "{\"a\":}", "[1,", "nul", "{\"a\" 1}", ""] {
            assert!(serde_json::from_str::<Lite<'_>>(text).is_err(), "{text}");
        }
    }
}
