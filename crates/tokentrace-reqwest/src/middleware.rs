//! [`LlmMiddleware`]: the builder and the [`Middleware`] impl.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Extensions;
use opentelemetry::propagation::Injector;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Middleware, Next, Result};
use tokentrace_core::call;
use tokentrace_core::detect::{Detection, Endpoint, ProviderRegistry};
use tokentrace_core::parse::ResponseParser;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::request::{inject_include_usage, peek_request};
use tokentrace_core::{BodyFormat, Flavor, Operation, Provider, semconv};
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::budget::{BudgetKeys, Budgets};
use crate::capture::{Capture, DefaultRedact, OutputCapture, Redact, content_capture_allowed};
use crate::decode::Coding;
use crate::extensions::{
    CaptureContent, ModelOverride, NoPropagation, ProviderOverride, SkipTracing, SpanName,
};
use crate::redact::{Target, target};
use crate::span::{self, CallStart};
use crate::stream::{CallGuard, Ending, TracedBody};

/// Default bound of each captured content value, in bytes.
const DEFAULT_MAX_CONTENT_BYTES: usize = 16 * 1024;

/// The price catalogue: the process-wide default (built-in, plus the price
/// file `tokentrace::init()` loaded), or the one this client was given.
#[derive(Debug, Clone)]
enum Prices {
    Default,
    Custom(Arc<PriceCatalogue>),
}

impl Prices {
    fn get(&self) -> Arc<PriceCatalogue> {
        match self {
            Self::Default => tokentrace_core::defaults::price_catalogue(),
            Self::Custom(p) => p.clone(),
        }
    }
}

#[derive(Clone)]
struct Config {
    registry: ProviderRegistry,
    prices: Prices,
    /// `None`: follow the process-wide default (`TOKENTRACE_CAPTURE_CONTENT`).
    capture_content: Option<bool>,
    max_content_bytes: usize,
    inject_stream_usage: bool,
    http_spans: bool,
    auto_root: bool,
    redactor: Arc<dyn Redact>,
    budgets: Option<Budgets>,
}

/// A [`reqwest_middleware::Middleware`] that turns every call to a known LLM
/// or vector-database provider into a priced client span.
///
/// See the [crate docs](crate) for what is recorded and when.
///
/// # Examples
///
/// Defaults:
///
/// ```
/// use tokentrace_reqwest::LlmMiddleware;
///
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(LlmMiddleware::new())
///     .build();
/// # let _ = http;
/// ```
///
/// Customised:
///
/// ```
/// use tokentrace_core::detect::ProviderRegistry;
/// use tokentrace_reqwest::LlmMiddleware;
///
/// let mw = LlmMiddleware::new()
///     .registry(ProviderRegistry::new())
///     .capture_content(true)
///     .max_content_bytes(4096)
///     .inject_stream_usage(true)
///     .http_spans(true)
///     .auto_root(false);
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(mw)
///     .build();
/// # let _ = http;
/// ```
///
/// # Placement relative to reqwest-retry
///
/// Middleware runs in the order it is added. Added **before**
/// `RetryTransientMiddleware` (outside it), one span covers all attempts and
/// the response that reaches the application; added **after** it (inside),
/// each attempt gets its own span. Outside is the usual choice: the cost
/// recorded is the one the application pays for the answer it got.
#[derive(Clone)]
#[must_use]
pub struct LlmMiddleware {
    config: Arc<Config>,
}

impl std::fmt::Debug for LlmMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        f.debug_struct("LlmMiddleware")
            .field("registry", &c.registry)
            .field("capture_content", &c.capture_content)
            .field("max_content_bytes", &c.max_content_bytes)
            .field("inject_stream_usage", &c.inject_stream_usage)
            .field("http_spans", &c.http_spans)
            .field("auto_root", &c.auto_root)
            .field("budgets", &c.budgets)
            .finish_non_exhaustive()
    }
}

impl Default for LlmMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl LlmMiddleware {
    /// A middleware with the built-in provider detection and price catalogue.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                registry: ProviderRegistry::new(),
                prices: Prices::Default,
                capture_content: None,
                max_content_bytes: DEFAULT_MAX_CONTENT_BYTES,
                inject_stream_usage: false,
                http_spans: false,
                auto_root: true,
                redactor: Arc::new(DefaultRedact),
                budgets: None,
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Detect providers with this registry (built-in hosts plus your
    /// registrations: gateways, Azure deployments, self-hosted servers).
    /// Defaults to [`ProviderRegistry::new()`].
    pub fn registry(self, registry: ProviderRegistry) -> Self {
        self.with(|c| c.registry = registry)
    }

    /// Price calls with this catalogue (for instance one with a user price
    /// file merged in). Defaults to the process-wide catalogue
    /// ([`tokentrace_core::defaults::price_catalogue`]): the built-in one plus
    /// the price file `tokentrace::init()` loaded.
    pub fn prices(self, prices: Arc<PriceCatalogue>) -> Self {
        self.with(|c| c.prices = Prices::Custom(prices))
    }

    /// Record prompts and completions (bounded, through the
    /// [redactor](Self::redactor)). A [`CaptureContent`] extension overrides it
    /// per request, and
    /// [`set_content_capture_allowed(false)`](crate::set_content_capture_allowed)
    /// overrides both. Defaults to the process-wide setting, which
    /// `tokentrace::init()` takes from `TOKENTRACE_CAPTURE_CONTENT` (off unless set).
    pub fn capture_content(self, enabled: bool) -> Self {
        self.with(|c| c.capture_content = Some(enabled))
    }

    /// The largest captured content value, in bytes; longer JSON is cut so it
    /// stays valid. Defaults to 16 KiB.
    pub fn max_content_bytes(self, max: usize) -> Self {
        self.with(|c| c.max_content_bytes = max)
    }

    /// Add `stream_options.include_usage = true` to OpenAI-style streaming
    /// chat requests that lack it, so the stream ends with a usage chunk. This
    /// is the one case where the middleware changes request bytes; the span
    /// then carries `tokentrace.stream.usage_injected = true`. Only bodies held
    /// in memory are changed. Defaults to `false`.
    pub fn inject_stream_usage(self, enabled: bool) -> Self {
        self.with(|c| c.inject_stream_usage = enabled)
    }

    /// Give calls to hosts that are not LLM or vector providers a plain HTTP
    /// client span (`tokentrace.span.type = "http"`). Defaults to `false`:
    /// such calls pass through untouched.
    pub fn http_spans(self, enabled: bool) -> Self {
        self.with(|c| c.http_spans = enabled)
    }

    /// Open an `auto.workflow.{provider}` root span for a call made outside
    /// any span, so it is never an orphan. Defaults to `true`.
    pub fn auto_root(self, enabled: bool) -> Self {
        self.with(|c| c.auto_root = enabled)
    }

    /// Enforce spend caps: before sending each LLM call, reserve its
    /// estimated maximum cost on every limit that applies (keys from a
    /// [`BudgetKeys`] request extension, then the process-wide keys provider
    /// `tokentrace::init()` installs, then the request model), refuse it if
    /// an enforced limit would pass its cap, and settle with the actual cost
    /// when the response ends. See [`crate::budget`]. Defaults to none.
    pub fn budgets(self, budgets: Budgets) -> Self {
        self.with(|c| c.budgets = Some(budgets))
    }

    /// Pass captured content through this hook before it is recorded.
    /// Defaults to [`DefaultRedact`]; `()` records content unchanged.
    pub fn redactor(self, redactor: impl Redact) -> Self {
        let redactor: Arc<dyn Redact> = Arc::new(redactor);
        self.with(|c| c.redactor = redactor)
    }
}

/// Writes propagation fields into request headers; invalid ones are skipped.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Inject W3C trace context (https://www.w3.org/TR/trace-context/) for `span`
/// with the globally installed propagator (a no-op until one is installed).
fn inject(span: &Span, headers: &mut HeaderMap) {
    let cx = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers));
    });
}

/// The future `handle` returns, as `#[async_trait]` spells it.
type HandleFuture<'a> = Pin<Box<dyn Future<Output = Result<Response>> + Send + 'a>>;

// `handle` is written out rather than with `#[async_trait]`: detection, the
// request peek and the span's creation run before the future is built, so
// the future boxed per call holds only what crosses the `await` (a boxed
// future over ~1 KiB takes the allocator's slow path on every call).
impl Middleware for LlmMiddleware {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> HandleFuture<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        if extensions.get::<SkipTracing>().is_some() {
            return next.run(req, extensions);
        }
        let target = target(req.url());
        let detection = detect(&self.config.registry, &req, &target, extensions);
        match detection {
            Some(d) => match self.prepare(req, extensions, &d, &target) {
                Prepared::Untraced(req) => next.run(req, extensions),
                Prepared::Traced(call) => Box::pin(traced(call, extensions, next)),
            },
            None if self.config.http_spans => {
                Box::pin(async move { self.http_traced(req, extensions, next, &target).await })
            }
            None => next.run(req, extensions),
        }
    }
}

fn detect(
    registry: &ProviderRegistry,
    req: &Request,
    target: &Target,
    extensions: &Extensions,
) -> Option<Detection> {
    let url = req.url();
    let endpoint = Endpoint {
        method: req.method().as_str(),
        scheme: url.scheme(),
        host: &target.host,
        port: url.port(),
        path: url.path(),
        query: url.query(),
    };
    let detected = registry.detect(&endpoint);
    match (detected, extensions.get::<ProviderOverride>()) {
        (Some(mut d), Some(o)) => {
            d.provider = o.0;
            Some(d)
        }
        (Some(d), None) => Some(d),
        (None, Some(o)) => Some(Detection {
            provider: o.0,
            operation: Operation::Chat,
            flavor: Flavor::OpenAiChat,
            model: None,
            collection: None,
            stream: None,
            format: None,
            deployment: None,
            namespace: None,
        }),
        (None, None) => None,
    }
}

/// What the synchronous part of a traced call hands to the asynchronous one.
enum Prepared {
    /// No subscriber wants the span: send the request as it is.
    Untraced(Request),
    Traced(Call),
}

/// A traced call between its preparation and its send.
struct Call {
    req: Request,
    guard: Box<CallGuard>,
    provider: Provider,
    flavor: Flavor,
    /// The body format the URL implies, when the content type does not say.
    format: Option<BodyFormat>,
    capture: Option<Capture>,
    budget: Option<Box<BudgetPlan>>,
}

/// What to reserve before sending.
struct BudgetPlan {
    budgets: Budgets,
    keys: BudgetKeys,
    estimate_usd: f64,
}

/// Send a prepared call and wrap its response body.
async fn traced(call: Call, extensions: &mut Extensions, next: Next<'_>) -> Result<Response> {
    let Call {
        req,
        mut guard,
        provider,
        flavor,
        format,
        capture,
        budget,
    } = call;
    let llm = guard.span.clone();
    if let Some(plan) = budget {
        match plan.budgets.reserve(&plan.keys, plan.estimate_usd).await {
            Ok(r) => {
                r.record(&llm);
                guard.reservation = Some(r);
            }
            Err(refusal) => {
                refusal.record(&llm, plan.estimate_usd);
                guard.finish(Ending::Error(refusal.error_type()));
                return Err(refusal.into_middleware_error());
            }
        }
    }
    let result = next.run(req, extensions).instrument(llm.clone()).await;
    let response = match result {
        Ok(r) => r,
        Err(err) => {
            guard.finish(Ending::Error(span::classify_middleware(&err)));
            return Err(err);
        }
    };
    guard.status = response.status().as_u16();
    if let Some(f) = span::llm_fields(&llm) {
        llm.record(&f.http_status, i64::from(guard.status));
    }

    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = content_type
        .and_then(BodyFormat::from_content_type)
        .or(format);
    let coding = Coding::from_headers(
        response
            .headers()
            .get_all(http::header::CONTENT_ENCODING)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    let format = match coding {
        Coding::Identity => format,
        Coding::Decode(inflate) => {
            guard.inflate = Some(inflate);
            format
        }
        // Nothing tokentrace can read: say so rather than parse noise (the
        // capture of the output is skipped for the same reason).
        Coding::Unreadable(reason) => {
            guard.unparsed = Some(reason);
            None
        }
    };
    if let Some(format) = format {
        let mut parser = Box::new(ResponseParser::new(provider, flavor, format));
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                parser.observe_header(name.as_str(), value);
            }
        }
        guard.streaming |= format != BodyFormat::Json;
        guard.parser = Some(parser);
    }
    if guard.unparsed.is_none() {
        guard.output = capture.map(|c| OutputCapture::new(c, guard.streaming));
    }
    Ok(wrap(response, guard))
}

impl LlmMiddleware {
    /// Everything before sending: peek at the request, open the span (and
    /// the auto root), record captured content, inject trace context.
    fn prepare(
        &self,
        mut req: Request,
        extensions: &Extensions,
        d: &Detection,
        target: &Target,
    ) -> Prepared {
        let config = &self.config;
        let body = req.body().and_then(reqwest::Body::as_bytes);
        let mut info = body.map(|b| peek_request(d.flavor, b)).unwrap_or_default();

        let mut usage_injected = false;
        if config.inject_stream_usage
            && call::wants_stream_usage(d, &info)
            && let Some(new_body) = body.and_then(inject_include_usage)
        {
            *req.body_mut() = Some(reqwest::Body::from(new_body));
            usage_injected = true;
        }

        let capture = content_capture_allowed()
            && extensions.get::<CaptureContent>().map_or_else(
                || {
                    config
                        .capture_content
                        .unwrap_or_else(tokentrace_core::defaults::capture_content)
                },
                |c| c.0,
            );

        let call::CallPlan {
            request_model,
            collection,
            stream,
            vector,
            usage_not_requested,
        } = call::plan(
            d,
            &mut info,
            extensions.get::<ModelOverride>().map(|m| m.0.to_string()),
            usage_injected,
        );
        let name = span_name(
            extensions,
            d,
            vector,
            request_model.as_deref(),
            collection.as_deref(),
        );

        let root =
            (config.auto_root && Span::current().is_none()).then(|| span::auto_root(d.provider));
        let llm = span::llm_span(
            &CallStart {
                name: &name,
                provider: d.provider,
                operation: d.operation,
                request_model: request_model.as_deref(),
                collection: collection.as_deref(),
                method: req.method().as_str(),
                host: &target.host,
                port: target.port,
                url: &target.url,
                stream,
                usage_injected,
                request: &info,
            },
            root.as_ref(),
        );
        let budget = (!vector)
            .then_some(config.budgets.as_ref())
            .flatten()
            .map(|budgets| {
                let mut keys = extensions
                    .get::<BudgetKeys>()
                    .cloned()
                    .unwrap_or_default()
                    .or(tokentrace_core::budget::current_keys());
                if keys.model.is_none()
                    && let Some(m) = &request_model
                {
                    keys = keys.model(m.clone());
                }
                let body_len = req
                    .body()
                    .and_then(reqwest::Body::as_bytes)
                    .map_or(0, <[u8]>::len);
                let estimate_usd = budgets.config().estimate_usd(
                    &config.prices.get(),
                    Some(d.provider),
                    request_model.as_deref(),
                    body_len,
                    info.max_tokens,
                );
                Box::new(BudgetPlan {
                    budgets: budgets.clone(),
                    keys,
                    estimate_usd,
                })
            });
        if llm.is_disabled() && budget.is_none() {
            // No subscriber wants the span: skip the parsing work, change nothing.
            return Prepared::Untraced(req);
        }
        let capture = capture.then(|| Capture {
            max_bytes: config.max_content_bytes,
            redactor: config.redactor.clone(),
        });
        let content_truncated = match (&capture, req.body().and_then(reqwest::Body::as_bytes)) {
            (Some(c), Some(b)) => c.record_request(&llm, b),
            _ => false,
        };
        if extensions.get::<NoPropagation>().is_none() {
            inject(&llm, req.headers_mut());
        }
        let mut guard = Box::new(CallGuard::new(
            llm,
            root,
            config.prices.get(),
            d.provider,
            request_model,
        ));
        guard.streaming = stream == Some(true);
        guard.content_truncated = content_truncated;
        guard.usage_not_requested = usage_not_requested;
        guard.vector = vector;
        Prepared::Traced(Call {
            req,
            guard,
            provider: d.provider,
            flavor: d.flavor,
            format: d.format,
            capture,
            budget,
        })
    }

    async fn http_traced(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
        target: &Target,
    ) -> Result<Response> {
        let span = span::http_span(
            req.method().as_str(),
            &target.host,
            target.port,
            &target.url,
        );
        if extensions.get::<NoPropagation>().is_none() {
            inject(&span, req.headers_mut());
        }
        let result = next.run(req, extensions).instrument(span.clone()).await;
        match &result {
            Ok(r) => {
                let status = r.status().as_u16();
                span.record(semconv::HTTP_RESPONSE_STATUS_CODE, i64::from(status));
                if status >= 400 {
                    span::record_error(&span, &status.to_string());
                }
            }
            Err(e) => span::record_error(&span, span::classify_middleware(e)),
        }
        result
    }
}

fn span_name(
    extensions: &Extensions,
    d: &Detection,
    vector: bool,
    model: Option<&str>,
    collection: Option<&str>,
) -> String {
    if let Some(n) = extensions.get::<SpanName>() {
        return n.0.to_string();
    }
    let op = d.operation.name();
    // https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/:
    // "{gen_ai.operation.name} {gen_ai.request.model}"; database spans use
    // "{db.operation.name} {db.collection.name}".
    let suffix = if vector { collection } else { model };
    match suffix {
        Some(s) => {
            let s = tokentrace_core::bound::truncate_utf8(s, 128);
            let mut name = String::with_capacity(op.len() + 1 + s.len());
            name.push_str(op);
            name.push(' ');
            name.push_str(s);
            name
        }
        None => op.to_owned(),
    }
}

/// Swap the response body for a [`TracedBody`]; status, version, headers,
/// extensions and `Response::url()` are carried over.
fn wrap(response: Response, guard: Box<CallGuard>) -> Response {
    // `reqwest::Response` keeps its URL outside `http` extensions, and the
    // conversion to `http::Response` drops it; the `ResponseBuilderExt::url`
    // extension is what the conversion back reads.
    let url = response.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(carrier.into_parts().0.extensions);
    }
    let content_length = if parts.headers.contains_key(http::header::CONTENT_ENCODING) {
        None
    } else {
        parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let body = reqwest::Body::wrap(TracedBody::new(body, guard, content_length));
    Response::from(http::Response::from_parts(parts, body))
}
