//! Bounding attacker-controlled input before it becomes an attribute, and
//! secret scrubbing for headers and URLs.
//!
//! Header values, baggage members and captured bodies come from whoever sent
//! the request. Before any of them is recorded on a span it goes through one of
//! these helpers: [`bounded_value`] accepts or rejects a value (callers drop and
//! count a rejection, they never record the raw bytes), [`truncate_utf8`] shortens
//! text that is recorded on purpose (JSON content is bounded by
//! [`truncate_json`](crate::json::truncate_json)), and
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
    fn truncate_utf8_at_every_byte_of_multibyte_chars() {
        for c in ['é', '€', '日', '🦀'] {
            let w = c.len_utf8();
            let s = format!("a{c}{c}b");
            for max in 0..=s.len() + 1 {
                let expect = match max {
                    0 => "".to_owned(),
                    m if m < 1 + w => "a".to_owned(),
                    m if m < 1 + 2 * w => format!("a{c}"),
                    m if m < 2 + 2 * w => format!("a{c}{c}"),
                    _ => s.clone(),
                };
                assert_eq!(truncate_utf8(&s, max), expect, "{s:?} at {max}");
            }
        }
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

    proptest! {
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
