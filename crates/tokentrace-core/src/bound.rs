//! Bounding attacker-controlled input before it becomes an attribute, and
//! secret scrubbing for headers and URLs.
//!
//! Header values, baggage members and captured bodies come from whoever sent
//! the request. Before any of them is recorded on a span it goes through one of
//! these helpers: [`bounded_value`] accepts or rejects a value (callers drop and
//! count a rejection, they never record the raw bytes), [`truncate_utf8`] and
//! [`truncate_json`] shorten content that is recorded on purpose, and
//! [`is_secret_header`] / [`redact_url`] keep credentials out of telemetry.
//!
//! ```
//! use tokentrace_core::bound::{bounded_value, redact_url, Rejected};
//!
//! assert_eq!(bounded_value(b" user-42 ", 64), Ok("user-42"));
//! assert_eq!(bounded_value(b"evil\nheader", 64), Err(Rejected::ControlChar));
//! assert_eq!(
//!     redact_url("https://me:pw@example.com/v1?key=abc&alt=sse"),
//!     "https://example.com/v1?key=REDACTED&alt=sse"
//! );
//! ```

use std::fmt::Write as _;

/// Default [`Bounds::max_len`]: 256 bytes per value.
pub const DEFAULT_MAX_LEN: usize = 256;
/// Default [`Bounds::max_count`]: 32 values per list.
pub const DEFAULT_MAX_COUNT: usize = 32;

/// Limits applied to attacker-controlled values before they are recorded.
///
/// Never unbounded: the [`Default`] is [`DEFAULT_MAX_LEN`] bytes per value and
/// [`DEFAULT_MAX_COUNT`] values per list (tags, baggage members promoted to
/// attributes, and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// Maximum length of one value, in bytes. Default [`DEFAULT_MAX_LEN`].
    pub max_len: usize,
    /// Maximum number of values in one list. Default [`DEFAULT_MAX_COUNT`].
    pub max_count: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_len: DEFAULT_MAX_LEN,
            max_count: DEFAULT_MAX_COUNT,
        }
    }
}

impl Bounds {
    /// Check one value against [`max_len`](Self::max_len); see [`bounded_value`].
    pub fn check<'a>(&self, raw: &'a [u8]) -> Result<&'a str, Rejected> {
        bounded_value(raw, self.max_len)
    }
}

/// Why a value was refused by [`bounded_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Longer than the allowed number of bytes.
    #[error("value longer than the allowed length")]
    TooLong,
    /// Not valid UTF-8.
    #[error("value is not valid UTF-8")]
    NotUtf8,
    /// Contains a control character (C0, DEL, C1) or a bidirectional override.
    #[error("value contains a control or bidi-override character")]
    ControlChar,
    /// Empty, or only whitespace.
    #[error("value is empty")]
    Empty,
}

impl Rejected {
    /// A stable snake_case name, for counters (`too_long`, `not_utf8`, `control_char`, `empty`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::NotUtf8 => "not_utf8",
            Self::ControlChar => "control_char",
            Self::Empty => "empty",
        }
    }
}

/// True for characters that must never reach an attribute: C0 and C1 controls,
/// DEL, and the Unicode bidirectional embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069), which can make a value display as
/// something it is not ("Trojan Source", CVE-2021-42574).
fn is_forbidden_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Accept an attacker-controlled value for recording, or say why not.
///
/// The value is accepted when it is at most `max_len` bytes, valid UTF-8,
/// free of control characters and bidi overrides, and not empty after
/// trimming whitespace; the trimmed value is returned. Callers drop rejected
/// values and count them by [`Rejected::name`]; they never record the raw bytes.
/// The length is checked first, so an oversized value costs nothing to reject.
pub fn bounded_value(raw: &[u8], max_len: usize) -> Result<&str, Rejected> {
    if raw.len() > max_len {
        return Err(Rejected::TooLong);
    }
    let s = std::str::from_utf8(raw).map_err(|_| Rejected::NotUtf8)?;
    if s.chars().any(is_forbidden_char) {
        return Err(Rejected::ControlChar);
    }
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(Rejected::Empty);
    }
    Ok(trimmed)
}

/// The longest prefix of `s` that is at most `max_bytes` long and ends on a
/// character boundary.
pub fn truncate_utf8(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Marker appended by [`truncate_json`]: at the end of a shortened string, as
/// the last element of a shortened array, and as the last key (with value
/// `null`) of a shortened object.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// The smallest budget [`truncate_json`] honours exactly: below it the output
/// may be up to this many bytes (the marker alone, as a JSON string).
pub const MIN_JSON_BUDGET: usize = TRUNCATION_MARKER.len() + 2;

/// Bound captured JSON content to about `max_bytes` while keeping it valid JSON.
///
/// Returns the bounded JSON text and whether anything was cut. When `json`
/// fits it is returned unchanged; when it does not, it is re-serialised
/// compactly and, if still too long, long strings are shortened and trailing
/// array elements and object members dropped, each cut marked with
/// [`TRUNCATION_MARKER`]. Input that is not JSON at all is returned as a
/// (possibly shortened) JSON string. The result always parses with
/// `serde_json` and is at most `max(max_bytes, MIN_JSON_BUDGET)` bytes long.
/// Object members may come out sorted by key when the input is re-serialised.
pub fn truncate_json(json: &str, max_bytes: usize) -> (String, bool) {
    let budget = max_bytes.max(MIN_JSON_BUDGET);
    let value: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => {
            let as_string = serde_json::Value::String(json.to_owned());
            let mut out = String::new();
            let written = write_value(&as_string, &mut out, budget);
            return finish(out, written);
        }
    };
    if json.len() <= max_bytes {
        return (json.to_owned(), false);
    }
    let compact = value.to_string();
    if compact.len() <= budget {
        return (compact, false);
    }
    let mut out = String::new();
    let written = write_value(&value, &mut out, budget);
    finish(out, written)
}

fn finish(out: String, written: Written) -> (String, bool) {
    match written {
        Written::Full => (out, false),
        Written::Partial => (out, true),
        Written::Nothing => {
            let mut marker = String::new();
            write_json_str(&mut marker, TRUNCATION_MARKER);
            (marker, true)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Full,
    Partial,
    Nothing,
}

/// Write `value` into `out` so that `out.len() <= limit` afterwards. On
/// `Nothing`, `out` is left as it was.
fn write_value(value: &serde_json::Value, out: &mut String, limit: usize) -> Written {
    use serde_json::Value;
    let start = out.len();
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => {
            let _ = write!(out, "{value}");
            if out.len() <= limit {
                Written::Full
            } else {
                out.truncate(start);
                Written::Nothing
            }
        }
        Value::String(s) => write_string(s, out, limit),
        Value::Array(items) => {
            // Room always kept for `,"<marker>"]`.
            let reserve = TRUNCATION_MARKER.len() + 4;
            if start + 1 + reserve > limit {
                return Written::Nothing;
            }
            out.push('[');
            let inner_limit = limit - reserve;
            let mut state = Written::Full;
            for (i, item) in items.iter().enumerate() {
                let before = out.len();
                if i > 0 {
                    out.push(',');
                }
                match write_value(item, out, inner_limit) {
                    Written::Full => {}
                    Written::Partial => {
                        state = Written::Partial;
                        break;
                    }
                    Written::Nothing => {
                        out.truncate(before);
                        if i > 0 {
                            out.push(',');
                        }
                        write_json_str(out, TRUNCATION_MARKER);
                        state = Written::Partial;
                        break;
                    }
                }
            }
            out.push(']');
            state
        }
        Value::Object(members) => {
            // Room always kept for `,"<marker>":null}`.
            let reserve = TRUNCATION_MARKER.len() + 9;
            if start + 1 + reserve > limit {
                return Written::Nothing;
            }
            out.push('{');
            let inner_limit = limit - reserve;
            let mut state = Written::Full;
            for (i, (key, item)) in members.iter().enumerate() {
                let before = out.len();
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, key);
                out.push(':');
                let written = if out.len() < inner_limit {
                    write_value(item, out, inner_limit)
                } else {
                    Written::Nothing
                };
                match written {
                    Written::Full => {}
                    Written::Partial => {
                        state = Written::Partial;
                        break;
                    }
                    Written::Nothing => {
                        out.truncate(before);
                        if i > 0 {
                            out.push(',');
                        }
                        write_json_str(out, TRUNCATION_MARKER);
                        out.push_str(":null");
                        state = Written::Partial;
                        break;
                    }
                }
            }
            out.push('}');
            state
        }
    }
}

fn write_string(s: &str, out: &mut String, limit: usize) -> Written {
    let start = out.len();
    write_json_str(out, s);
    if out.len() <= limit {
        return Written::Full;
    }
    out.truncate(start);
    // `"` + prefix + marker + `"`.
    let fixed = 2 + TRUNCATION_MARKER.len();
    if start + fixed > limit {
        return Written::Nothing;
    }
    let room = limit - start - fixed;
    out.push('"');
    let body_start = out.len();
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let before = out.len();
        escape_char(out, c, &mut buf);
        if out.len() - body_start > room {
            out.truncate(before);
            break;
        }
    }
    out.push_str(TRUNCATION_MARKER);
    out.push('"');
    Written::Partial
}

/// Append `s` as a JSON string literal.
fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut buf = [0u8; 4];
    for c in s.chars() {
        escape_char(out, c, &mut buf);
    }
    out.push('"');
}

fn escape_char(out: &mut String, c: char, buf: &mut [u8; 4]) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push_str(c.encode_utf8(buf)),
    }
}

/// True when a header carries credentials and must never be recorded.
///
/// Case-insensitive. Exact names: `authorization`, `proxy-authorization`,
/// `cookie`, `set-cookie`, `api-key` (Azure, Pinecone `Api-Key`, Qdrant),
/// `x-api-key` (Anthropic), `x-goog-api-key` (Gemini), `x-amz-security-token`,
/// `x-chroma-token`. Any name containing `api-key`, `api_key`, `apikey`,
/// `token`, `secret`, `password`, `auth`, `credential`, `signature` or
/// `session-key` (which also covers Weaviate's `X-Openai-Api-Key` pass-through
/// headers).
pub fn is_secret_header(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "x-chroma-token",
    ];
    const CONTAINS: &[&str] = &[
        "api-key",
        "api_key",
        "apikey",
        "token",
        "secret",
        "password",
        "auth",
        "credential",
        "signature",
        "session-key",
    ];
    let lower = name.trim().to_ascii_lowercase();
    EXACT.contains(&lower.as_str()) || CONTAINS.iter().any(|needle| lower.contains(needle))
}

pub use crate::url::{REDACTED, percent_decode_bytes, redact_url};

/// Kept at its historic path for the modules that decode with it.
#[allow(unused_imports)]
pub(crate) use crate::url::percent_decode;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounded_value_accepts_and_trims() {
        assert_eq!(bounded_value(b"  alice ", 16), Ok("alice"));
        assert_eq!(bounded_value("café".as_bytes(), 16), Ok("café"));
    }

    #[test]
    fn bounded_value_rejects_with_reason() {
        assert_eq!(bounded_value(b"abcdef", 5), Err(Rejected::TooLong));
        assert_eq!(bounded_value(b"abcde", 5), Ok("abcde"));
        assert_eq!(
            bounded_value(&[0x61, 0xff, 0x62], 16),
            Err(Rejected::NotUtf8)
        );
        assert_eq!(bounded_value(b"a\x00b", 16), Err(Rejected::ControlChar));
        assert_eq!(bounded_value(b"a\tb", 16), Err(Rejected::ControlChar));
        assert_eq!(bounded_value(b"a\x7fb", 16), Err(Rejected::ControlChar));
        assert_eq!(
            bounded_value("a\u{85}b".as_bytes(), 16),
            Err(Rejected::ControlChar)
        );
        assert_eq!(
            bounded_value("admin\u{202E}txt".as_bytes(), 32),
            Err(Rejected::ControlChar)
        );
        assert_eq!(
            bounded_value("x\u{2066}y".as_bytes(), 32),
            Err(Rejected::ControlChar)
        );
        assert_eq!(bounded_value(b"   ", 16), Err(Rejected::Empty));
        assert_eq!(bounded_value(b"", 16), Err(Rejected::Empty));
        assert_eq!(Rejected::TooLong.name(), "too_long");
    }

    #[test]
    fn bounds_default_is_bounded() {
        let b = Bounds::default();
        assert_eq!((b.max_len, b.max_count), (256, 32));
        assert_eq!(b.check(&[b'a'; 257]), Err(Rejected::TooLong));
        assert_eq!(b.check(&[b'a'; 256]).map(str::len), Ok(256));
    }

    #[test]
    fn truncate_utf8_respects_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("héllo", 100), "héllo");
        assert_eq!(truncate_utf8("日本", 5), "日");
        assert_eq!(truncate_utf8("日本", 0), "");
    }

    #[test]
    fn truncate_json_keeps_small_input_verbatim() {
        let json = r#"{ "b": 1,  "a": [1, 2] }"#;
        assert_eq!(truncate_json(json, 100), (json.to_owned(), false));
    }

    #[test]
    fn truncate_json_shortens_strings_and_arrays() {
        let long = "x".repeat(500);
        let json = format!(
            // `content` before `role`: the same key order whether serde_json
            // keeps insertion order (`preserve_order`, which rig-core turns
            // on) or sorts keys.
            r#"{{"messages":[{{"content":"{long}","role":"user"}},{{"content":"hi","role":"user"}}]}}"#
        );
        let (out, cut) = truncate_json(&json, 120);
        assert!(cut);
        assert!(out.len() <= 120, "{} > 120: {out}", out.len());
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        let content = v["messages"][0]["content"].as_str().expect("string kept");
        assert!(content.starts_with("xxx"));
        assert!(content.ends_with(TRUNCATION_MARKER));
    }

    #[test]
    fn truncate_json_drops_trailing_elements_with_marker() {
        let json = serde_json::to_string(&(0..200).collect::<Vec<u32>>()).expect("ser");
        let (out, cut) = truncate_json(&json, 60);
        assert!(cut);
        let v: Vec<serde_json::Value> = serde_json::from_str(&out).expect("valid JSON array");
        assert_eq!(v[0], 0);
        assert_eq!(v.last(), Some(&serde_json::Value::from(TRUNCATION_MARKER)));
        assert!(out.len() <= 60);
    }

    #[test]
    fn truncate_json_wraps_non_json() {
        let (out, cut) = truncate_json("not json", 100);
        assert!(!cut);
        assert_eq!(
            serde_json::from_str::<String>(&out).expect("string"),
            "not json"
        );
        let (out, cut) = truncate_json(&"y".repeat(300), 40);
        assert!(cut);
        assert!(out.len() <= 40);
        assert!(serde_json::from_str::<String>(&out).is_ok());
    }

    #[test]
    fn truncate_json_tiny_budget_gives_marker() {
        let (out, cut) = truncate_json(r#"[123456789012345678, 1, 2]"#, 3);
        assert!(cut);
        assert!(out.len() <= MIN_JSON_BUDGET);
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }

    #[test]
    fn secret_headers() {
        for h in [
            "Authorization",
            "proxy-authorization",
            "Api-Key",
            "X-API-KEY",
            "x-goog-api-key",
            "Cookie",
            "set-cookie",
            "X-Amz-Security-Token",
            "x-chroma-token",
            "X-Openai-Api-Key",
            "x-my-secret",
            "X-Db-Password",
            "x-apikey",
            "X-Auth-Whatever",
        ] {
            assert!(is_secret_header(h), "{h}");
        }
        for h in [
            "content-type",
            "x-request-id",
            "anthropic-version",
            "x-session-id",
            "user-agent",
        ] {
            assert!(!is_secret_header(h), "{h}");
        }
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                // serde_json's default float parsing is not always exact; keep
                // floats that survive a print/parse round trip.
                .prop_filter("finite, round-trips", |f| {
                    f.is_finite()
                        && serde_json::from_str::<f64>(&serde_json::Value::from(*f).to_string())
                            .is_ok_and(|g| g == *f)
                })
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn truncate_json_always_valid_and_bounded(v in arb_json(), max in 0usize..400) {
            let json = v.to_string();
            let (out, cut) = truncate_json(&json, max);
            let parsed: serde_json::Value = serde_json::from_str(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert!(out.len() <= max.max(MIN_JSON_BUDGET), "{} > {}: {}", out.len(), max, out);
            if !cut {
                prop_assert_eq!(parsed, v);
            }
            if json.len() <= max {
                prop_assert!(!cut);
            }
        }

        #[test]
        fn truncate_json_any_string_is_valid(s in any::<String>(), max in 0usize..200) {
            let (out, _) = truncate_json(&s, max);
            prop_assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
            prop_assert!(out.len() <= max.max(MIN_JSON_BUDGET));
        }

        #[test]
        fn truncate_utf8_is_prefix(s in any::<String>(), max in 0usize..64) {
            let t = truncate_utf8(&s, max);
            prop_assert!(t.len() <= max);
            prop_assert!(s.starts_with(t));
        }

        #[test]
        fn redact_url_never_panics(s in any::<String>()) {
            let _ = redact_url(&s);
        }
    }
}

/// A person-readable form of an error message that embeds a provider's JSON
/// error body (`provider returned 429: {"error":{"message":"Rate limit
/// reached…","type":"requests",…}}`, the usual `Display` of an application's
/// or a client crate's provider error): the JSON object is replaced by its
/// `error.message` (or top-level `message`, or `error` string), the text
/// around it kept. Anything else, or JSON without such a message, is returned
/// unchanged.
///
/// ```
/// use tokentrace_core::bound::readable_error;
///
/// let raw = r#"provider returned 429: {"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
/// assert_eq!(readable_error(raw), "provider returned 429: Rate limit reached");
/// assert_eq!(readable_error("the oven is cold"), "the oven is cold");
/// ```
#[must_use]
pub fn readable_error(message: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let Some(start) = message.find('{') else {
        return Cow::Borrowed(message);
    };
    let mut values =
        serde_json::Deserializer::from_str(&message[start..]).into_iter::<serde_json::Value>();
    let Some(Ok(value)) = values.next() else {
        return Cow::Borrowed(message);
    };
    let end = start + values.byte_offset();
    let inner = value
        .pointer("/error/message")
        .or_else(|| value.get("message"))
        .or_else(|| value.get("error"))
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let Some(inner) = inner else {
        return Cow::Borrowed(message);
    };
    let prefix = message[..start].trim_end();
    let suffix = message[end..].trim();
    let mut out = String::with_capacity(prefix.len() + inner.len() + suffix.len() + 2);
    out.push_str(prefix);
    if !prefix.is_empty() {
        out.push(' ');
    }
    out.push_str(inner);
    if !suffix.is_empty() {
        out.push(' ');
        out.push_str(suffix);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod readable_error_tests {
    use super::readable_error;

    #[test]
    fn provider_json_becomes_its_message() {
        let anthropic = r#"upstream 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"} (retry later)"#;
        assert_eq!(
            readable_error(anthropic),
            "upstream 529 Overloaded (retry later)"
        );
        let cohere = r#"{"message":"invalid api token"}"#;
        assert_eq!(readable_error(cohere), "invalid api token");
        let ollama = r#"ollama: {"error":"model 'x' not found"}"#;
        assert_eq!(readable_error(ollama), "ollama: model 'x' not found");
        // Not JSON, cut JSON, JSON without a message: unchanged.
        for same in [
            "plain failure",
            r#"cut: {"error":{"message":"Rate lim"#,
            r#"data {"a":1}"#,
            "braces { but } not json",
        ] {
            assert_eq!(readable_error(same), same);
        }
    }
}
