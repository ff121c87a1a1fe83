//! The proxy handler: one request in, the same request out through
//! `LlmMiddleware`, the upstream's response streamed back untouched.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest_middleware::ClientWithMiddleware;

use tokentrace_core::bound::bounded_value;
use tokentrace_reqwest::budget::{self, BudgetKeys};

use crate::config::{Upstream, client_key_id};
use crate::error::{Fault, Shape, respond};

/// State shared by every route of one gateway.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: ClientWithMiddleware,
    /// The gateway's own request headers (user, session, tags): read by the
    /// workflow layer, not sent upstream.
    pub(crate) own_headers: Vec<HeaderName>,
    pub(crate) client_keys: Vec<String>,
    pub(crate) max_body: usize,
    /// With budgets: the user and session header names whose values the
    /// call is charged to.
    pub(crate) budget_headers: Option<(Option<HeaderName>, Option<HeaderName>)>,
}

/// The budget keys of a request: the matched client key's id, and the
/// user and session headers (checked as the workflow layer checks them:
/// a value it would not record is not charged to either).
fn budget_keys(
    names: &(Option<HeaderName>, Option<HeaderName>),
    headers: &HeaderMap,
    key_id: Option<String>,
) -> BudgetKeys {
    let value = |name: &Option<HeaderName>| {
        name.as_ref()
            .and_then(|n| headers.get(n))
            .and_then(|v| bounded_value(v.as_bytes(), MAX_HEADER_VALUE).ok())
            .map(str::to_owned)
    };
    let mut keys = BudgetKeys::new();
    if let Some(id) = key_id {
        keys = keys.api_key(id);
    }
    if let Some(u) = value(&names.0) {
        keys = keys.user(u);
    }
    if let Some(s) = value(&names.1) {
        keys = keys.session(s);
    }
    keys
}

/// Longest user or session header value charged to (the workflow layer's default bound).
const MAX_HEADER_VALUE: usize = 256;

/// Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy `proxy-connection`
/// and `keep-alive`): they describe one connection and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that carry a provider credential.
const AUTH_HEADERS: &[&str] = &["authorization", "x-api-key", "api-key", "x-goog-api-key"];

/// Removes the hop-by-hop headers, and those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for h in HOP_BY_HOP {
        headers.remove(*h);
    }
    for h in &named {
        headers.remove(h);
    }
}

/// An Azure resource name: a DNS label.
fn valid_resource(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The key a client presents, in whichever header its SDK uses.
fn presented_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let key = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v);
        return Some(key.trim());
    }
    for h in &AUTH_HEADERS[1..] {
        if let Some(v) = headers.get(*h).and_then(|v| v.to_str().ok()) {
            return Some(v.trim());
        }
    }
    query?.split('&').find_map(|pair| pair.strip_prefix("key="))
}

/// Equal in time independent of where the first difference is.
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The query without any `key=` pair (Gemini's query credential).
fn without_key(query: &str) -> Option<String> {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("key=") && !p.is_empty())
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Puts the held upstream key where `provider`'s API expects it.
fn set_held_key(headers: &mut HeaderMap, up: &Upstream, key: &str) {
    use tokentrace_core::Provider;
    let (name, value) = match up.provider {
        Provider::Anthropic => (HeaderName::from_static("x-api-key"), key.to_owned()),
        Provider::Gemini | Provider::VertexAi => {
            (HeaderName::from_static("x-goog-api-key"), key.to_owned())
        }
        Provider::AzureOpenAi => (HeaderName::from_static("api-key"), key.to_owned()),
        _ => (header::AUTHORIZATION, format!("Bearer {key}")),
    };
    if let Ok(mut v) = HeaderValue::from_str(&value) {
        v.set_sensitive(true);
        headers.insert(name, v);
    }
}

/// Forwards one request to `up`.
pub(crate) async fn forward(shared: Arc<Shared>, up: Arc<Upstream>, req: Request) -> Response {
    let shape = Shape::of(up.provider);
    let (parts, body) = req.into_parts();

    // The path after `/{name}` (and `/{resource}`), kept percent-encoded.
    let path = parts.uri.path();
    let mut rest = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(up.name.as_str()))
        .unwrap_or("");
    let mut base = std::borrow::Cow::Borrowed(up.url.as_str());
    if up.templated() {
        let after = rest.strip_prefix('/').unwrap_or("");
        let (resource, tail) = after.split_at(after.find('/').unwrap_or(after.len()));
        if !valid_resource(resource) {
            return respond(
                shape,
                Fault::BadResource,
                "the path must start with /{upstream}/{resource}/ where resource is a DNS label",
            );
        }
        base = std::borrow::Cow::Owned(up.url.replace("{resource}", resource));
        rest = tail;
    }

    let mut headers = parts.headers;
    let mut query = parts.uri.query().map(str::to_owned);
    let mut key_id = None;
    if let Some(held) = &up.key {
        if !shared.client_keys.is_empty() {
            let matched = presented_key(&headers, query.as_deref())
                .and_then(|k| shared.client_keys.iter().find(|c| same_key(c, k)));
            let Some(matched) = matched else {
                return respond(
                    shape,
                    Fault::Unauthorized,
                    "missing or unknown gateway key (send it where the provider's API key goes)",
                );
            };
            key_id = Some(client_key_id(matched));
        }
        for h in AUTH_HEADERS {
            headers.remove(*h);
        }
        query = query.as_deref().and_then(without_key);
        set_held_key(&mut headers, &up, held);
    }

    let url = match &query {
        Some(q) => format!("{base}{rest}?{q}"),
        None => format!("{base}{rest}"),
    };
    let Ok(url) = reqwest::Url::parse(&url) else {
        return respond(shape, Fault::BadBody, "the request path is not a valid URL");
    };

    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body as u64) {
        return respond(
            shape,
            Fault::TooLarge,
            "request body too large for the gateway",
        );
    }
    let bytes = match axum::body::to_bytes(body, shared.max_body).await {
        Ok(b) => b,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if too_large {
                respond(
                    shape,
                    Fault::TooLarge,
                    "request body too large for the gateway",
                )
            } else {
                respond(shape, Fault::BadBody, "could not read the request body")
            };
        }
    };

    let keys = shared
        .budget_headers
        .as_ref()
        .map(|names| budget_keys(names, &headers, key_id));

    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    // The usage parser reads the upstream's bytes as they pass: ask for them
    // unencoded. What the upstream sends is still passed on unchanged.
    headers.remove(header::ACCEPT_ENCODING);
    for h in &shared.own_headers {
        headers.remove(h);
    }

    let mut request = shared
        .client
        .request(parts.method, url)
        .headers(headers)
        .body(bytes);
    if let Some(keys) = keys {
        request = request.with_extension(keys);
    }
    let sent = request.send().await;
    match sent {
        Ok(res) => {
            let res: http::Response<reqwest::Body> = res.into();
            let (head, body) = res.into_parts();
            let mut headers = head.headers;
            strip_hop_by_hop(&mut headers);
            let mut out = Response::new(Body::new(body));
            *out.status_mut() = head.status;
            *out.headers_mut() = headers;
            out
        }
        Err(e) => {
            if let Some(refusal) = budget::exceeded(&e) {
                return refused(up.provider, refusal);
            }
            if budget::unavailable(&e).is_some() {
                return respond(
                    shape,
                    Fault::BudgetUnavailable,
                    "the budget store cannot be reached and budgets fail closed",
                );
            }
            let timeout = matches!(&e, reqwest_middleware::Error::Reqwest(r) if r.is_timeout());
            if timeout {
                respond(
                    shape,
                    Fault::Timeout,
                    &format!("upstream {} did not answer in time", up.name),
                )
            } else {
                respond(
                    shape,
                    Fault::Unreachable,
                    &format!("upstream {} is unreachable", up.name),
                )
            }
        }
    }
}

/// The answer to a call a budget refused: 429, the provider's error shape.
fn refused(provider: tokentrace_core::Provider, refusal: &budget::BudgetExceeded) -> Response {
    let body = refusal.provider_error_body(provider);
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = http::StatusCode::from_u16(budget::BudgetExceeded::HTTP_STATUS)
        .unwrap_or(http::StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-tt-gateway-error",
        HeaderValue::from_static("budget_exceeded"),
    );
    // The OpenAI and Anthropic SDKs retry 429s unless told not to; a
    // refusal stays a refusal until the window turns.
    h.insert("x-should-retry", HeaderValue::from_static("false"));
    res
}

/// The answer to a path no upstream serves.
pub(crate) async fn unknown_route() -> Response {
    respond(
        Shape::OpenAi,
        Fault::UnknownRoute,
        "no upstream serves this path; use /{upstream}/... (see docs/gateway.md)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn keys_are_found_where_sdks_put_them() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h, Some("alt=sse&key=abc")), Some("abc"));
        h.insert("x-api-key", HeaderValue::from_static("k1"));
        assert_eq!(presented_key(&h, None), Some("k1"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k2"));
        assert_eq!(presented_key(&h, None), Some("k2"));
        assert!(same_key("abc", "abc"));
        assert!(!same_key("abc", "abd"));
        assert!(!same_key("abc", "abcd"));
        assert_eq!(without_key("alt=sse&key=abc").as_deref(), Some("alt=sse"));
        assert_eq!(without_key("key=abc"), None);
    }

    #[test]
    fn resources_are_dns_labels() {
        assert!(valid_resource("my-res-1"));
        assert!(!valid_resource("evil.com"));
        assert!(!valid_resource("a@b"));
        assert!(!valid_resource(""));
        assert!(!valid_resource("-x"));
    }
}
