//! Per-request overrides, passed through [`http::Extensions`].
//!
//! Attach them with reqwest-middleware's
//! [`RequestBuilder::with_extension`](reqwest_middleware::RequestBuilder::with_extension):
//!
//! ```no_run
//! use tokentrace_reqwest::{LlmMiddleware, ModelOverride, SpanName, SkipTracing};
//!
//! # async fn run() -> Result<(), reqwest_middleware::Error> {
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(LlmMiddleware::new())
//!     .build();
//! let _ = http
//!     .post("https://api.openai.com/v1/chat/completions")
//!     .with_extension(SpanName::new("summarise ticket"))
//!     .with_extension(ModelOverride::new("gpt-4o-mini"))
//!     .body(r#"{"messages":[]}"#)
//!     .send()
//!     .await?;
//! let _ = http
//!     .get("https://api.openai.com/v1/models")
//!     .with_extension(SkipTracing)
//!     .send()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Precedence
//!
//! For every setting, **a per-request extension beats the per-client
//! setting on [`LlmMiddleware`](crate::LlmMiddleware), which beats the
//! default**. One exception: the process-wide switch
//! [`set_content_capture_allowed(false)`](crate::set_content_capture_allowed)
//! wins over both, so an operator can turn prompt capture off everywhere.
//!
//! | extension | overrides | default |
//! |---|---|---|
//! | [`SpanName`] | the span name `{operation} {model}` | derived |
//! | [`ProviderOverride`] | the detected provider (and makes an undetected URL a tracked call) | detection |
//! | [`ModelOverride`] | the request model (body, then URL) | detection |
//! | [`SkipTracing`] | creates no span, injects no header, wraps no body | traced |
//! | [`CaptureContent`] | [`LlmMiddleware::capture_content`](crate::LlmMiddleware::capture_content) | off |
//! | [`NoPropagation`] | traceparent injection | injected |

use std::borrow::Cow;

use tokentrace_core::Provider;

/// Use this span name instead of `{operation} {model}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanName(pub Cow<'static, str>);

impl SpanName {
    /// A span name; a `&'static str` or a `String`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }
}

/// Treat the call as going to this provider, whatever its URL says.
///
/// On a URL that detection does not recognise, the operation is taken to be
/// chat (vector operations for vector databases need a URL detection knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderOverride(pub Provider);

/// Record this request model instead of the one in the body or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOverride(pub Cow<'static, str>);

impl ModelOverride {
    /// A model name; a `&'static str` or a `String`.
    pub fn new(model: impl Into<Cow<'static, str>>) -> Self {
        Self(model.into())
    }
}

/// Do not trace this request at all: no span, no propagation header, no
/// body wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkipTracing;

/// Turn prompt and completion capture on or off for this request.
///
/// Ignored (treated as `false`) while
/// [`set_content_capture_allowed(false)`](crate::set_content_capture_allowed)
/// is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureContent(pub bool);

/// Do not inject W3C `traceparent` / `tracestate` into this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoPropagation;
