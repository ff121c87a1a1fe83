//! Writing JSON text straight into a `String`, byte for byte as `serde_json`
//! writes it, without building a `serde_json::Value` first.
//!
//! String literals are escaped as `serde_json` escapes them: `"` and `\`
//! backslashed, `\b \f \n \r \t` by name, the other control characters below
//! U+0020 as `\u00XX` (lower-case hex), everything else (DEL, non-ASCII)
//! copied as is. Integers are written in decimal, finite floats in their
//! shortest round-trip form.
//!
//! ```
//! use tokentrace_core::json::{write_f64, write_i64, write_str};
//!
//! let mut out = String::new();
//! write_str(&mut out, "say \"hi\"\n");
//! out.push(':');
//! write_i64(&mut out, -42);
//! out.push(':');
//! write_f64(&mut out, 1.0);
//! assert_eq!(out, r#""say \"hi\"\n":-42:1.0"#);
//! ```

use std::fmt::Write as _;

/// Whether `s` has a byte JSON escapes (a control character, `"` or `\`):
/// in 16-byte chunks without early exits inside a chunk, which the compiler
/// turns into vector compares.
#[inline]
#[must_use]
pub fn needs_escape(s: &[u8]) -> bool {
    let special = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let mut chunks = s.chunks_exact(16);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |acc, &b| acc | special(b)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| special(b))
}

/// The escape sequence of an ASCII byte that needs one: `Some("")` for the
/// control characters written as `\u00XX`, `None` for bytes copied as is.
#[inline]
fn escape_of(b: u8) -> Option<&'static str> {
    Some(match b {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0c => "\\f",
        0..=0x1f => "",
        _ => return None,
    })
}

fn push_escape(out: &mut String, b: u8, escape: &str) {
    if escape.is_empty() {
        let _ = write!(out, "\\u{b:04x}");
    } else {
        out.push_str(escape);
    }
}

/// Append `s` as a JSON string literal (with its quotes).
#[inline]
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Most values need no escaping: a quick check, then a plain copy.
    if needs_escape(s.as_bytes()) {
        write_escaped(out, s);
    } else {
        out.push_str(s);
    }
    out.push('"');
}

/// Append the inside of the JSON string literal of `s` (no quotes).
pub fn write_escaped(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let Some(escape) = escape_of(b) else {
            continue;
        };
        out.push_str(&s[start..i]);
        push_escape(out, b, escape);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// The number of bytes `c` takes inside a JSON string literal.
///
/// ```
/// use tokentrace_core::json::escaped_len;
///
/// assert_eq!(escaped_len('a'), 1);
/// assert_eq!(escaped_len('"'), 2);
/// assert_eq!(escaped_len('\u{1}'), 6);
/// assert_eq!(escaped_len('é'), 2);
/// ```
#[must_use]
pub const fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Append the inside of the JSON string literal of the longest prefix of `s`
/// (cut on a character) whose escaped form takes at most `room` bytes.
/// Returns whether all of `s` fit.
///
/// ```
/// use tokentrace_core::json::write_escaped_prefix;
///
/// let mut out = String::new();
/// assert!(!write_escaped_prefix(&mut out, "a\"bé", 4));
/// assert_eq!(out, r#"a\"b"#);
/// ```
pub fn write_escaped_prefix(out: &mut String, s: &str, room: usize) -> bool {
    if !needs_escape(s.as_bytes()) {
        let kept = crate::bound::truncate_utf8(s, room);
        out.push_str(kept);
        return kept.len() == s.len();
    }
    let mut room = room;
    for c in s.chars() {
        let len = escaped_len(c);
        if len > room {
            return false;
        }
        room -= len;
        match u8::try_from(c).ok().and_then(|b| Some((b, escape_of(b)?))) {
            Some((b, escape)) => push_escape(out, b, escape),
            None => out.push(c),
        }
    }
    true
}

/// Append a finite float in its shortest round-trip form (always with a `.`
/// or an exponent, so it reads back as a float); NaN and infinities as `null`.
#[inline]
pub fn write_f64(out: &mut String, f: f64) {
    if f.is_finite() {
        let _ = write!(out, "{f:?}");
    } else {
        out.push_str("null");
    }
}

/// Append an integer in decimal.
#[inline]
pub fn write_i64(out: &mut String, i: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).expect("decimal digits are ASCII"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn literal(s: &str) -> String {
        let mut out = String::new();
        write_str(&mut out, s);
        out
    }

    #[test]
    fn control_chars_escape_like_serde_json() {
        for b in 0u8..0x20 {
            let s = char::from(b).to_string();
            let ours = literal(&s);
            assert_eq!(ours, serde_json::to_string(&s).unwrap(), "byte {b:#04x}");
            assert_eq!(ours.len(), 2 + escaped_len(char::from(b)), "byte {b:#04x}");
        }
        assert_eq!(literal("\u{8}\u{c}"), r#""\b\f""#);
        assert_eq!(literal("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        // DEL and C1 controls are not escaped, as in serde_json.
        assert_eq!(literal("\u{7f}\u{85}"), "\"\u{7f}\u{85}\"");
    }

    #[test]
    fn quotes_backslashes_and_non_ascii() {
        assert_eq!(literal(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
        assert_eq!(literal("日本 ünï 🦀"), "\"日本 ünï 🦀\"");
        assert_eq!(literal(""), r#""""#);
        // Escapes found past the first 16-byte chunk and in the remainder.
        let long = format!("{}\"{}\n", "x".repeat(20), "é".repeat(9));
        assert_eq!(literal(&long), serde_json::to_string(&long).unwrap());
    }

    #[test]
    fn needs_escape_in_every_position() {
        for len in 0..40 {
            let plain = "a".repeat(len);
            assert!(!needs_escape(plain.as_bytes()));
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = special;
                    assert!(needs_escape(&bytes), "{len} {at} {special}");
                }
            }
        }
        assert!(!needs_escape("\u{7f}é日".as_bytes()));
    }

    #[test]
    fn prefix_cuts_on_characters_and_escapes() {
        let mut out = String::new();
        assert!(write_escaped_prefix(&mut out, "abc", 3));
        assert_eq!(out, "abc");
        // Every room size across a 2-, 3- and 4-byte character.
        for (s, widths) in [("é", 2), ("日", 3), ("🦀", 4)] {
            let text = format!("a{s}b");
            for room in 0..=widths + 2 {
                let mut out = String::new();
                let all = write_escaped_prefix(&mut out, &text, room);
                let expect = match room {
                    0 => "".to_owned(),
                    r if r < 1 + widths => "a".to_owned(),
                    r if r < 2 + widths => format!("a{s}"),
                    _ => text.clone(),
                };
                assert_eq!(out, expect, "{text} room {room}");
                assert_eq!(all, out == text, "{text} room {room}");
            }
        }
        // An escape is never split.
        for (room, expect) in [(0, ""), (1, ""), (2, "\\n"), (7, "\\n"), (8, "\\n\\u0001")] {
            let mut out = String::new();
            write_escaped_prefix(&mut out, "\n\u{1}x", room);
            assert_eq!(out, expect, "room {room}");
        }
    }

    #[test]
    fn numbers() {
        let mut out = String::new();
        for i in [0, 7, -1, i64::MAX, i64::MIN] {
            out.clear();
            write_i64(&mut out, i);
            assert_eq!(out, i.to_string());
        }
        for (f, expect) in [
            (1.0, "1.0"),
            (4.2e-5, "4.2e-5"),
            (-0.5, "-0.5"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            out.clear();
            write_f64(&mut out, f);
            assert_eq!(out, expect);
        }
    }

    proptest! {
        #[test]
        fn write_str_matches_serde_json(s in any::<String>()) {
            prop_assert_eq!(literal(&s), serde_json::to_string(&s).unwrap());
            let inner: usize = s.chars().map(escaped_len).sum();
            prop_assert_eq!(literal(&s).len(), inner + 2);
        }

        #[test]
        fn escaped_prefix_is_the_longest_that_fits(s in any::<String>(), room in 0usize..64) {
            let mut out = String::new();
            let all = write_escaped_prefix(&mut out, &s, room);
            prop_assert!(out.len() <= room);
            let back: String = serde_json::from_str(&format!("\"{out}\""))
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert!(s.starts_with(&back));
            prop_assert_eq!(all, back.len() == s.len());
            if let Some(next) = s[back.len()..].chars().next() {
                prop_assert!(out.len() + escaped_len(next) > room);
            }
        }

        #[test]
        fn f64_reads_back(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let mut out = String::new();
            write_f64(&mut out, f);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            prop_assert!(v.is_f64());
        }
    }
}
