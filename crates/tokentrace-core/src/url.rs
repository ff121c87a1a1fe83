//! URL helpers: cutting a URL into its parts, percent-decoding, and
//! redacting the secrets a URL can carry before it is recorded.
//!
//! No `url` crate: core stays light. Detection (`detect`) cuts request URLs
//! with `split_url_raw` / `split_host_port`; `bound` re-exports
//! [`redact_url`] and [`percent_decode_bytes`] under their historic paths.
//!
//! ```
//! use tokentrace_core::url::{percent_decode_bytes, redact_url};
//!
//! assert_eq!(
//!     redact_url("https://me:pw@example.com/v1?key=abc&alt=sse"),
//!     "https://example.com/v1?key=REDACTED&alt=sse"
//! );
//! assert_eq!(&*percent_decode_bytes("a%2Bb", false), b"a+b");
//! ```

use std::borrow::Cow;

/// A URL cut into its parts, without validation or decoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawUrl<'a> {
    pub(crate) scheme: Option<&'a str>,
    /// `host[:port]`, userinfo removed; empty without a scheme.
    pub(crate) authority: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

/// Split `scheme://[userinfo@]authority/path?query#fragment`. Without a
/// `scheme://`, the whole string is path and query.
pub(crate) fn split_url_raw(url: &str) -> RawUrl<'_> {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, rest))
            if !s.is_empty()
                && s.as_bytes()[0].is_ascii_alphabetic()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            (Some(s), rest)
        }
        _ => (None, url),
    };
    let (authority, rest) = if scheme.is_some() {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        rest.split_at(end)
    } else {
        ("", rest)
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    RawUrl {
        scheme,
        authority,
        path,
        query,
    }
}

/// `host[:port]` (IPv6 in brackets) → host and port. `None` when the host is
/// empty or the port is not a number.
pub(crate) fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let (host, rest) = authority.split_at(end);
        match rest.strip_prefix(':') {
            Some(p) => (host, p),
            None if rest.is_empty() => (host, ""),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => (authority, ""),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = if port.is_empty() {
        None
    } else {
        Some(port.parse::<u16>().ok()?)
    };
    Some((host, port))
}

/// True when a query parameter (name already percent-decoded) carries a secret.
fn is_secret_param(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "key",
        "api_key",
        "apikey",
        "api-key",
        "access_token",
        "token",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "code",
        "client_secret",
        "password",
    ];
    let lower = name.trim().to_ascii_lowercase();
    EXACT.contains(&lower.as_str())
        || lower.ends_with("token")
        || lower.ends_with("_key")
        || lower.ends_with("-key")
        || lower.contains("secret")
        || lower.contains("password")
        || lower.contains("apikey")
}

/// Replacement text for redacted values.
pub const REDACTED: &str = "REDACTED";

/// A URL safe to record: userinfo dropped, secret query values replaced by
/// [`REDACTED`], fragment dropped (it is never sent on the wire and OAuth
/// implicit flows put tokens there); everything else kept byte for byte.
///
/// Secret query parameters are matched on the percent-decoded, lowercased
/// name: `key`, `api_key`, `apikey`, `api-key`, `access_token`, `token`,
/// `sig`, `signature`, `x-amz-signature`, `x-amz-credential`,
/// `x-amz-security-token`, `x-goog-signature`, `x-goog-credential`, `code`,
/// `client_secret`, `password`, and any name ending in `token`, `_key` or
/// `-key` or containing `secret`, `password` or `apikey`.
pub fn redact_url(url: &str) -> String {
    let parts = split_url_raw(url);
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = parts.scheme {
        out.push_str(scheme);
        out.push_str("://");
        out.push_str(parts.authority);
    }
    out.push_str(parts.path);
    if let Some(query) = parts.query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let (name, value) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            let decoded = percent_decode(name, true);
            let secret = match &decoded {
                Some(n) => is_secret_param(n),
                // Undecodable names are not trusted either way: hide the value.
                None => true,
            };
            out.push_str(name);
            match value {
                Some(_) if secret => {
                    out.push('=');
                    out.push_str(REDACTED);
                }
                Some(v) => {
                    out.push('=');
                    out.push_str(v);
                }
                None => {}
            }
        }
    }
    out
}

/// Percent-decode `s` (and `+` as space when `plus_as_space`). Malformed
/// escapes are kept literally; `None` when the decoded bytes are not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> Option<Cow<'_, str>> {
    match percent_decode_bytes(s, plus_as_space) {
        Cow::Borrowed(_) => Some(Cow::Borrowed(s)),
        Cow::Owned(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
    }
}

/// Percent-decodes `s` to bytes (and `+` to a space when `plus_as_space`,
/// as in query strings). Malformed escapes (`%zz`, a `%` near the end) are
/// kept literally. Borrowed when there is nothing to decode.
///
/// ```
/// use tokentrace_core::bound::percent_decode_bytes;
///
/// assert_eq!(&*percent_decode_bytes("Bearer%20a%2Bb", false), b"Bearer a+b");
/// assert_eq!(&*percent_decode_bytes("a+b%zz", true), b"a b%zz");
/// ```
pub fn percent_decode_bytes(s: &str, plus_as_space: bool) -> Cow<'_, [u8]> {
    if !(s.contains('%') || plus_as_space && s.contains('+')) {
        return Cow::Borrowed(s.as_bytes());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

const fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The port a scheme implies (443 for `https`, 80 for `http`).
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_cases() {
        assert_eq!(
            redact_url("https://user:pass@host.example:8443/p?a=1&key=s3cr3t#frag"),
            "https://host.example:8443/p?a=1&key=REDACTED"
        );
        // encoded parameter name
        assert_eq!(
            redact_url("https://h/p?%6Bey=abc&%6bEY=def"),
            "https://h/p?%6Bey=REDACTED&%6bEY=REDACTED"
        );
        // repeated params, AWS presign, upper case
        assert_eq!(
            redact_url(
                "https://s3.amazonaws.com/b/o?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab&X-Amz-Date=20240101&token=1&token=2"
            ),
            "https://s3.amazonaws.com/b/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Date=20240101&token=REDACTED&token=REDACTED"
        );
        assert_eq!(
            redact_url("https://h/p?sig=x&alt=sse&flag&api-key="),
            "https://h/p?sig=REDACTED&alt=sse&flag&api-key=REDACTED"
        );
        // `+` decodes to a space; trimmed name still matches
        assert_eq!(redact_url("https://h/?key+=v"), "https://h/?key+=REDACTED");
        // userinfo with @ inside password
        assert_eq!(
            redact_url("http://u:p@ss@localhost:11434/api/chat"),
            "http://localhost:11434/api/chat"
        );
        // fragment-only secret and relative URLs
        assert_eq!(redact_url("https://h/cb#access_token=abc"), "https://h/cb");
        assert_eq!(
            redact_url("/v1/x?apikey=1&b=2"),
            "/v1/x?apikey=REDACTED&b=2"
        );
        assert_eq!(
            redact_url("https://h/p?max_tokens=5&pageToken=zz"),
            "https://h/p?max_tokens=5&pageToken=REDACTED"
        );
        // no query, no path
        assert_eq!(
            redact_url("https://api.openai.com"),
            "https://api.openai.com"
        );
    }

    #[test]
    fn percent_decode_cases() {
        assert_eq!(percent_decode("a%3Ab", false).as_deref(), Some("a:b"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("100%", false).as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4", false).as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff", false), None);
        assert_eq!(percent_decode("%E2%82%AC", false).as_deref(), Some("€"));
    }
}
