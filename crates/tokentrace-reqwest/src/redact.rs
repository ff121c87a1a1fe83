//! What of a request URL may be recorded. Thin on purpose: the rules live in
//! [`tokentrace_core::bound`].
//!
//! Header values are never recorded by this crate at all, so
//! `Authorization`, `api-key`, `x-api-key`, `x-goog-api-key` and `Api-Key`
//! cannot leak; the only URL parts recorded are host, port and path
//! (`url.full` without userinfo, query or fragment, passed through
//! [`redact_url`] as a second line of defence), so `?key=` and
//! `user:password@` cannot either.

use std::fmt::Write as _;

use tokentrace_core::bound::redact_url;

/// The recordable parts of a request URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Lowercase host without port (IPv6 in brackets).
    pub(crate) host: String,
    /// Port, explicit or the scheme's default.
    pub(crate) port: Option<u16>,
    /// `scheme://host[:port]/path`: no userinfo, query or fragment.
    pub(crate) url: String,
}

/// The host, port and redacted URL of a request, built without `format!`
/// (this runs on every call).
pub(crate) fn target(url: &reqwest::Url) -> Target {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default();
    let (scheme, path) = (url.scheme(), url.path());
    let mut bare = String::with_capacity(scheme.len() + host.len() + path.len() + 9);
    bare.push_str(scheme);
    bare.push_str("://");
    bare.push_str(&host);
    if let Some(p) = url.port() {
        // Writing into a `String` cannot fail.
        let _ = write!(bare, ":{p}");
    }
    bare.push_str(path);
    // `redact_url` only drops userinfo and fragments, redacts query values
    // and trims whitespace: on a URL with none of their markers (always the
    // case for what is built above) it is the identity, so it runs only
    // when one appears.
    let url = if bare
        .bytes()
        .any(|b| matches!(b, b'?' | b'#' | b'@') || b.is_ascii_whitespace())
    {
        redact_url(&bare)
    } else {
        bare
    };
    Target { host, port, url }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_query_and_fragment_are_never_kept() {
        let url = reqwest::Url::parse(
            "https://user:hunter2@Generativelanguage.googleapis.com:8443/v1beta/models/x:generateContent?key=AIzaSECRET#frag",
        )
        .unwrap();
        let t = target(&url);
        assert_eq!(t.host, "generativelanguage.googleapis.com");
        assert_eq!(t.port, Some(8443));
        assert_eq!(
            t.url,
            "https://generativelanguage.googleapis.com:8443/v1beta/models/x:generateContent"
        );
        assert!(!t.url.contains("hunter2") && !t.url.contains("AIza"));
    }

    /// The shortcut above is exact: wherever it skips `redact_url`,
    /// `redact_url` would have returned its input unchanged.
    #[test]
    fn urls_without_redaction_markers_are_unchanged_by_redact_url() {
        for raw in [
            "https://api.openai.com/v1/chat/completions",
            "http://127.0.0.1:8080/v1/messages",
            "https://[::1]:8443/openai/deployments/gpt-4o/chat/completions",
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream",
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent",
            "https://h.example/a%20b/%40x/%3Fq",
        ] {
            let t = target(&reqwest::Url::parse(raw).unwrap());
            assert_eq!(redact_url(&t.url), t.url, "{raw}");
            assert!(!t.url.contains(['?', '#', '@']), "{raw}");
        }
    }

    #[test]
    fn default_port_is_reported_but_not_written_into_the_url() {
        let t = target(&reqwest::Url::parse("https://api.openai.com/v1/chat/completions").unwrap());
        assert_eq!(t.port, Some(443));
        assert_eq!(t.url, "https://api.openai.com/v1/chat/completions");
    }
}
