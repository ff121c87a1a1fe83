//! An interceptor for the AWS SDK's Bedrock Runtime client
//! (`aws-sdk-bedrockruntime`), which sends its calls through its own smithy
//! HTTP client, out of reach of [`LlmMiddleware`](crate::LlmMiddleware).
//!
//! [`BedrockInterceptor`] implements `aws_smithy_runtime_api`'s
//! [`Intercept`] and gives each HTTP attempt of `Converse`,
//! `ConverseStream`, `InvokeModel` and `InvokeModelWithResponseStream` the
//! LLM span `LlmMiddleware` gives the same exchange: provider `aws.bedrock`,
//! the model from the URI path (`/model/{modelId}/...`), token usage, cost
//! from the price catalogue, finish reason, HTTP status and errors. The
//! response body is read as it passes to the SDK (the AWS event stream of
//! `ConverseStream` frame by frame, nothing buffered); the span ends with
//! the body, or when the application drops the stream.
//!
//! ```ignore
//! let sdk_config = aws_config::load_from_env().await;
//! let bedrock = aws_sdk_bedrockruntime::Client::from_conf(
//!     aws_sdk_bedrockruntime::config::Builder::from(&sdk_config)
//!         .interceptor(tokentrace_reqwest::bedrock::BedrockInterceptor::new())
//!         .build(),
//! );
//! ```
//!
//! # Signed bytes are never changed
//!
//! The interceptor reads the request after SigV4 signing and never changes
//! the body or any signed header. The W3C `traceparent` (and `tracestate`)
//! header is added in `modify_before_transmit`, **after** signing, so it is
//! not part of the signature (SigV4 covers only the headers listed in
//! `SignedHeaders`) and the `Authorization` header is byte-for-byte the one
//! the SDK computes without the interceptor (tested). Turn it off with
//! [`BedrockInterceptor::propagation`]. Header values are never recorded, so
//! `Authorization` and `x-amz-security-token` cannot reach a span.
//!
//! # Failures
//!
//! Every hook returns `Ok`: a failure of observability never fails the call.
//! Retries made by the SDK are attempts of their own, each with its own span
//! (as `LlmMiddleware` inside `reqwest-retry`).
//!
//! Content capture works as with `LlmMiddleware`
//! ([`BedrockInterceptor::capture_content`]). Not covered (yet): budgets and
//! the per-request extensions ([`crate::extensions`]) of `LlmMiddleware`.

use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use opentelemetry::propagation::Injector;
use tokentrace_core::call;
use tokentrace_core::detect::{Endpoint, ProviderRegistry};
use tokentrace_core::parse::ResponseParser;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::request::peek_request;
use tokentrace_core::{BodyFormat, Provider, bound::redact_url};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::capture::{Capture, DefaultRedact, OutputCapture, Redact, content_capture_allowed};
use crate::span::{self, CallStart};
use crate::stream::{CallGuard, Ending, TracedBody};

/// The host the Bedrock detection rules are matched against: the interceptor
/// only ever sees Bedrock Runtime calls, whatever `endpoint_url` says.
const BEDROCK_HOST: &str = "bedrock-runtime.us-east-1.amazonaws.com";

/// An [`Intercept`] for `aws-sdk-bedrockruntime`: one priced LLM span per
/// HTTP attempt. See the [module docs](self).
#[derive(Clone)]
#[must_use]
pub struct BedrockInterceptor {
    prices: Option<Arc<PriceCatalogue>>,
    /// `None`: the process-wide default (`TOKENTRACE_CAPTURE_CONTENT`).
    capture_content: Option<bool>,
    max_content_bytes: usize,
    redactor: Arc<dyn Redact>,
    propagation: bool,
    auto_root: bool,
    registry: ProviderRegistry,
}

impl fmt::Debug for BedrockInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BedrockInterceptor")
            .field("capture_content", &self.capture_content)
            .field("max_content_bytes", &self.max_content_bytes)
            .field("propagation", &self.propagation)
            .field("auto_root", &self.auto_root)
            .finish_non_exhaustive()
    }
}

impl Default for BedrockInterceptor {
    fn default() -> Self {
        Self::new()
    }
}

impl BedrockInterceptor {
    /// An interceptor with the process-wide price catalogue, `traceparent`
    /// propagation and auto roots on.
    pub fn new() -> Self {
        Self {
            prices: None,
            capture_content: None,
            max_content_bytes: 16 * 1024,
            redactor: Arc::new(DefaultRedact),
            propagation: true,
            auto_root: true,
            registry: ProviderRegistry::new(),
        }
    }

    /// Price calls with this catalogue. Defaults to the process-wide one
    /// ([`tokentrace_core::defaults::price_catalogue`]).
    pub fn prices(mut self, prices: Arc<PriceCatalogue>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Record prompts and completions (bounded, through the
    /// [redactor](Self::redactor)), as
    /// [`LlmMiddleware::capture_content`](crate::LlmMiddleware::capture_content)
    /// does; [`set_content_capture_allowed(false)`](crate::set_content_capture_allowed)
    /// overrides it. Defaults to the process-wide setting (off unless
    /// `TOKENTRACE_CAPTURE_CONTENT` is set).
    pub fn capture_content(mut self, enabled: bool) -> Self {
        self.capture_content = Some(enabled);
        self
    }

    /// The largest captured content value, in bytes. Defaults to 16 KiB.
    pub fn max_content_bytes(mut self, max: usize) -> Self {
        self.max_content_bytes = max;
        self
    }

    /// Pass captured content through this hook before it is recorded.
    /// Defaults to [`DefaultRedact`].
    pub fn redactor(mut self, redactor: impl Redact) -> Self {
        self.redactor = Arc::new(redactor);
        self
    }

    /// Add W3C `traceparent`/`tracestate` headers (unsigned, after SigV4
    /// signing) with the globally installed propagator. Defaults to `true`.
    pub fn propagation(mut self, enabled: bool) -> Self {
        self.propagation = enabled;
        self
    }

    /// Open an `auto.workflow.bedrock` root span for a call made
    /// outside any span. Defaults to `true`.
    pub fn auto_root(mut self, enabled: bool) -> Self {
        self.auto_root = enabled;
        self
    }

    fn price_catalogue(&self) -> Arc<PriceCatalogue> {
        self.prices
            .clone()
            .unwrap_or_else(tokentrace_core::defaults::price_catalogue)
    }
}

/// The state of the attempt in flight, in the operation's `ConfigBag`
/// between `modify_before_transmit` and `modify_before_deserialization`.
#[derive(Debug)]
struct Attempt(Mutex<Option<Pending>>);

#[derive(Debug)]
struct Pending {
    guard: Box<CallGuard>,
    flavor: tokentrace_core::Flavor,
    format: Option<BodyFormat>,
    capture: Option<Capture>,
}

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
}

impl Attempt {
    fn take(cfg: &ConfigBag) -> Option<Pending> {
        cfg.load::<Self>()
            .and_then(|a| a.0.lock().ok().and_then(|mut p| p.take()))
    }
}

/// Writes propagation fields into the smithy request's headers.
struct HeaderInjector<'a>(&'a mut aws_smithy_runtime_api::http::Headers);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Only names the SDK did not set: a signed header is never replaced.
        if self.0.get(key).is_none() {
            let _ = self.0.try_insert(key.to_owned(), value);
        }
    }
}

impl Intercept for BedrockInterceptor {
    fn name(&self) -> &'static str {
        "tokentrace::BedrockInterceptor"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A previous attempt that never got a response ends here.
        drop(Attempt::take(cfg));
        let request = context.request();
        let Ok(uri) = request.uri().parse::<http::Uri>() else {
            return Ok(());
        };
        let endpoint = Endpoint {
            method: request.method(),
            scheme: "https",
            host: BEDROCK_HOST,
            port: None,
            path: uri.path(),
            query: None,
        };
        let Some(mut d) = self.registry.detect(&endpoint) else {
            return Ok(());
        };
        d.provider = Provider::Bedrock;
        let body = request.body().bytes();
        let mut info = body.map(|b| peek_request(d.flavor, b)).unwrap_or_default();
        let call::CallPlan {
            request_model,
            stream,
            usage_not_requested,
            vector,
            ..
        } = call::plan(&d, &mut info, None, false);
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let scheme = uri.scheme_str().unwrap_or("https");
        let port = uri.port_u16().or(match scheme {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        });
        let bare = match uri.port_u16() {
            Some(p) => format!("{scheme}://{host}:{p}{}", uri.path()),
            None => format!("{scheme}://{host}{}", uri.path()),
        };
        let url = redact_url(&bare);
        let name = match &request_model {
            Some(m) => format!(
                "{} {}",
                d.operation.name(),
                tokentrace_core::bound::truncate_utf8(m, 128)
            ),
            None => d.operation.name().to_owned(),
        };
        let root =
            (self.auto_root && Span::current().is_none()).then(|| span::auto_root(d.provider));
        let llm = span::llm_span(
            &CallStart {
                name: &name,
                provider: d.provider,
                operation: d.operation,
                request_model: request_model.as_deref(),
                collection: None,
                method: request.method(),
                host: &host,
                port,
                url: &url,
                stream,
                usage_injected: false,
                request: &info,
            },
            root.as_ref(),
        );
        if llm.is_disabled() {
            return Ok(());
        }
        let capture = (content_capture_allowed()
            && self
                .capture_content
                .unwrap_or_else(tokentrace_core::defaults::capture_content))
        .then(|| Capture {
            max_bytes: self.max_content_bytes,
            redactor: self.redactor.clone(),
        });
        let content_truncated = match (&capture, context.request().body().bytes()) {
            (Some(c), Some(b)) => c.record_request(&llm, b),
            _ => false,
        };
        if self.propagation {
            let cx = llm.context();
            let headers = context.request_mut().headers_mut();
            opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(&cx, &mut HeaderInjector(headers));
            });
        }
        let mut guard = Box::new(CallGuard::new(
            llm,
            root,
            self.price_catalogue(),
            d.provider,
            request_model,
        ));
        guard.streaming = stream == Some(true);
        guard.content_truncated = content_truncated;
        guard.usage_not_requested = usage_not_requested;
        guard.vector = vector;
        cfg.interceptor_state()
            .store_put(Attempt(Mutex::new(Some(Pending {
                guard,
                flavor: d.flavor,
                format: d.format,
                capture,
            }))));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Pending {
            mut guard,
            flavor,
            format,
            capture,
        }) = Attempt::take(cfg)
        else {
            return Ok(());
        };
        let response = context.response_mut();
        guard.status = response.status().as_u16();
        if let Some(f) = span::llm_fields(&guard.span) {
            guard.span.record(&f.http_status, i64::from(guard.status));
        }
        let headers = response.headers();
        let format = headers
            .get("content-type")
            .and_then(BodyFormat::from_content_type)
            .or(format);
        // The SDK asks for identity encoding; a compressed body is not read.
        if let Some(coding) = headers.get("content-encoding")
            && !coding.eq_ignore_ascii_case("identity")
        {
            guard.unparsed = Some(format!("content-encoding {coding}"));
        } else if let Some(format) = format {
            let mut parser = Box::new(ResponseParser::new(guard.provider, flavor, format));
            for (name, value) in headers.iter() {
                parser.observe_header(name, value);
            }
            guard.streaming |= format != BodyFormat::Json;
            guard.parser = Some(parser);
        }
        if guard.unparsed.is_none() {
            guard.output = capture.map(|c| OutputCapture::new(c, guard.streaming));
        }
        let body = response.take_body();
        // Every frame reaches the SDK unchanged and is parsed on its way.
        *response.body_mut() = SdkBody::from_body_1_x(TracedBody::new(body, guard, None));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Still pending: the attempt failed before a response arrived.
        if let Some(mut p) = Attempt::take(cfg) {
            let kind = match context.output_or_error() {
                Some(Err(e)) if e.is_timeout_error() => span::ERROR_TIMEOUT,
                Some(Err(e)) if e.is_connector_error() => span::ERROR_CONNECT,
                _ => tokentrace_core::semconv::values::ERROR_OTHER,
            };
            p.guard.finish(Ending::Error(kind));
        }
        Ok(())
    }
}
