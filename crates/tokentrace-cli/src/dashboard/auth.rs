//! The access token required when the dashboard listens beyond loopback.
//!
//! A request is let through when it carries the token as
//! `Authorization: Bearer <T>`, as `?token=<T>`, or in the `tokentrace_token`
//! cookie. The cookie is set (`HttpOnly; SameSite=Strict`) on a response to a
//! request that authenticated with `?token=`, so a browser opened on
//! `http://host:7070/?token=<T>` can follow the dashboard's links and run its
//! auto-refresh without the token in every URL. Comparisons take the same time
//! wherever the first differing byte is.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Name of the cookie carrying the token.
pub(crate) const COOKIE: &str = "tokentrace_token";

/// The expected token.
#[derive(Clone)]
pub(crate) struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Wraps the token.
    pub(crate) fn new(token: &str) -> Self {
        Self(Arc::from(token))
    }

    fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

/// Checks a token given on the command line: non-empty, and only characters
/// that survive a header, a query string and a cookie unchanged.
pub(crate) fn validate(token: &str) -> anyhow::Result<()> {
    if token.is_empty() {
        anyhow::bail!("--token must not be empty");
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        anyhow::bail!(
            "--token contains {c:?}; use letters, digits and - _ . ~ only (for example the output of `openssl rand -hex 32`)"
        );
    }
    Ok(())
}

/// Equality whose running time depends only on the lengths, not on where the
/// inputs differ, so response timing does not reveal a token prefix.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Middleware: 401 unless the request carries the token.
pub(crate) async fn require_token(
    State(token): State<Token>,
    req: Request,
    next: Next,
) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| token.matches(t.trim()));
    let query = Query::<TokenQuery>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.token)
        .is_some_and(|t| token.matches(&t));
    let cookie = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == COOKIE && token.matches(v));
    if !(bearer || query || cookie) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"tokentrace\"")],
            "401 Unauthorized: this dashboard needs its access token \
             (`Authorization: Bearer <token>` or `?token=<token>`)\n",
        )
            .into_response();
    }
    let mut resp = next.run(req).await;
    if query && !cookie {
        let value = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", token.0);
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"secret", b""));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn tokens_are_validated() {
        assert!(validate("abc123-_.~").is_ok());
        assert!(
            validate("a+b").is_err(),
            "+ means a space in a query string"
        );
        assert!(validate("").is_err());
        assert!(validate("a;b").is_err());
        assert!(validate("a b").is_err());
    }
}
