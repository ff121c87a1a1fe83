//! What one LLM call means, from its detection, request and response: the
//! rules every HTTP adapter applies the same way (the reqwest middleware,
//! the Bedrock SDK interceptor, and through the middleware the gateway).
//! Adapters move bytes and open spans; which model names the call, whether
//! usage was asked for, whether the body was cut short and which model is
//! priced are decided here, with each provider's own part in its module
//! under `providers/`.
//!
//! ```
//! use tokentrace_core::call::{self, BodyEnd, CallEnd};
//! use tokentrace_core::{ProviderRegistry, ResponseInfo, peek_request};
//!
//! let d = ProviderRegistry::new()
//!     .detect_url("POST", "https://api.openai.com/v1/chat/completions")
//!     .expect("OpenAI");
//! let mut info = peek_request(d.flavor, br#"{"model":"gpt-4o-mini","stream":true}"#);
//! assert!(call::wants_stream_usage(&d, &info));
//! let plan = call::plan(&d, &mut info, None, false);
//! assert_eq!(plan.request_model.as_deref(), Some("gpt-4o-mini"));
//! assert!(plan.usage_not_requested);
//!
//! // The stream ended without a terminal event and without usage.
//! let response = ResponseInfo::default();
//! let end = CallEnd {
//!     info: &response,
//!     end: BodyEnd::Complete,
//!     status: 200,
//!     streaming: true,
//!     parsed: true,
//!     unreadable: false,
//!     bytes: 120,
//!     vector: plan.vector,
//!     usage_not_requested: plan.usage_not_requested,
//! };
//! assert!(!end.incomplete());
//! assert_eq!(end.usage_missing(), Some("not_requested"));
//! ```

use std::borrow::Cow;

use crate::detect::Detection;
use crate::price::{Cost, PriceCatalogue};
use crate::provider::Provider;
use crate::providers::{azure, bedrock, openai};
use crate::request::RequestInfo;
use crate::semconv::values;
use crate::usage::ResponseInfo;

/// True when an OpenAI-style streaming request does not ask for usage
/// (`stream_options.include_usage`), so an adapter that may change the
/// body can add it (`request::inject_include_usage`).
pub fn wants_stream_usage(d: &Detection, info: &RequestInfo) -> bool {
    openai::usage_not_requested(d.flavor, info.stream, info.include_usage)
}

/// What the request side of a call says, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    /// The model the call asks for (`gen_ai.request.model`).
    pub request_model: Option<String>,
    /// Collection / index / class of a vector-database call.
    pub collection: Option<String>,
    /// Whether the response streams, when the URL or the body says.
    pub stream: Option<bool>,
    /// A vector-database call: no token usage is expected.
    pub vector: bool,
    /// An OpenAI-style stream sent without `stream_options.include_usage`:
    /// its body will carry no usage.
    pub usage_not_requested: bool,
}

/// Apply the request-side rules: which model names the call (an override
/// first; then the URL where the provider puts the real model there, as
/// Bedrock and a registered Azure deployment do; then the body; then the
/// URL), the collection, the stream flag. Fills `info.namespace` from the
/// URL when the body has none. `usage_injected`: the adapter added
/// `include_usage` to the body.
pub fn plan(
    d: &Detection,
    info: &mut RequestInfo,
    model_override: Option<String>,
    usage_injected: bool,
) -> CallPlan {
    let url_first = azure::model_from_url(d) || bedrock::model_from_url(d);
    let request_model = model_override
        .or_else(|| if url_first { d.model.clone() } else { None })
        .or_else(|| info.model.clone())
        .or_else(|| d.model.clone());
    if info.namespace.is_none() {
        info.namespace.clone_from(&d.namespace);
    }
    let stream = d.stream.or(info.stream);
    CallPlan {
        request_model,
        collection: d.collection.clone().or_else(|| info.collection.clone()),
        stream,
        vector: d.provider.is_vector_db() || d.operation.is_vector(),
        // https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options:
        // without include_usage the stream carries no usage chunk.
        usage_not_requested: openai::usage_not_requested(d.flavor, stream, info.include_usage)
            && !usage_injected,
    }
}

/// How a response body ended, as the adapter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// The body reached its end.
    Complete,
    /// The call or the body failed (timeout, connection, body error, refusal).
    Failed,
    /// The application dropped the body before its end.
    Dropped,
}

/// The end of one call, as the rules need it.
#[derive(Debug, Clone, Copy)]
pub struct CallEnd<'a> {
    /// What the parser read (the default when nothing was parsed).
    pub info: &'a ResponseInfo,
    /// How the body ended.
    pub end: BodyEnd,
    /// HTTP status (0 when no response arrived).
    pub status: u16,
    /// The response streamed (by the URL, the body or the framing).
    pub streaming: bool,
    /// A parser read the body.
    pub parsed: bool,
    /// The body could not be read (an unknown content encoding, say).
    pub unreadable: bool,
    /// Body bytes received.
    pub bytes: u64,
    /// See [`CallPlan::vector`].
    pub vector: bool,
    /// See [`CallPlan::usage_not_requested`].
    pub usage_not_requested: bool,
}

impl CallEnd<'_> {
    /// The body was cut short. A JSON body that ended mid-value was cut
    /// even though the connection closed cleanly; streams may end without
    /// their provider's end marker. A body that could not be read is not
    /// known to be cut: it reached its end. A body dropped after its last
    /// byte arrived is not cut short.
    pub fn incomplete(&self) -> bool {
        match self.end {
            BodyEnd::Complete => {
                !self.streaming && self.parsed && self.bytes > 0 && !self.info.complete
            }
            BodyEnd::Failed => true,
            BodyEnd::Dropped => !self.parsed || !self.info.complete,
        }
    }

    /// `error.type` of the call: the adapter's own kind when the call
    /// failed (`failure`), else for an HTTP error the provider's error type
    /// (or the status), else an error the body reported.
    pub fn error_type<'k>(&'k self, failure: Option<&'k str>) -> Option<Cow<'k, str>> {
        match failure {
            Some(kind) => Some(Cow::Borrowed(kind)),
            None if self.status >= 400 => Some(
                self.info
                    .error_type
                    .as_deref()
                    .map_or_else(|| Cow::Owned(self.status.to_string()), Cow::Borrowed),
            ),
            None => self.info.error_type.as_deref().map(Cow::Borrowed),
        }
    }

    /// Why a call that should carry usage has none
    /// (`tokentrace.usage.missing`), so users can find calls without tokens
    /// or cost. `None` when usage (or a provider cost) arrived, and for
    /// vector calls, failed calls and unread bodies, which say why already.
    pub fn usage_missing(&self) -> Option<&'static str> {
        let failed =
            self.end == BodyEnd::Failed || self.status >= 400 || self.info.error_type.is_some();
        (!self.vector
            && self.info.usage.is_empty()
            && self.info.provider_cost_usd.is_none()
            && !failed
            && !self.unreadable
            && self.parsed)
            .then_some(if self.usage_not_requested {
                values::USAGE_MISSING_NOT_REQUESTED
            } else if self.incomplete() {
                values::USAGE_MISSING_CUT_SHORT
            } else {
                values::USAGE_MISSING_NOT_SENT
            })
    }
}

/// The model a call is recorded and priced under: the response's model,
/// else the request's.
pub fn response_model<'a>(
    info: &'a ResponseInfo,
    request_model: Option<&'a str>,
) -> Option<&'a str> {
    info.response_model.as_deref().or(request_model)
}

/// The catalogue price of a call's usage: by the response model, else by
/// the request model (a dated or region-prefixed response model can miss
/// where the request model hits). `None` when the provider reported its own
/// cost, there is nothing to price or no price is known.
pub fn price(
    prices: &PriceCatalogue,
    provider: Provider,
    info: &ResponseInfo,
    request_model: Option<&str>,
) -> Option<Cost> {
    let usage = &info.usage;
    if info.provider_cost_usd.is_some() || usage.is_empty() {
        return None;
    }
    let model = response_model(info, request_model)?;
    let cost = prices.cost(Some(provider), model, usage);
    match (cost, &info.response_model, request_model) {
        (None, Some(_), Some(req)) => prices.cost(Some(provider), req, usage),
        (c, _, _) => c,
    }
}
