use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Method, Request, Response};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{KeyValue, Value};
use tokentrace_core::semconv::{self, values};
use tower::Service;
use tracing::field::Empty;

use crate::body::WorkflowBody;
use crate::config::Config;
use crate::extract::{ExtractMetadata, WorkflowMetadata};
use crate::future::WorkflowFuture;
use crate::propagation;
use crate::status::WorkflowSpan;

/// Middleware that opens one workflow span per request.
///
/// Built by [`WorkflowLayer`](crate::WorkflowLayer); see the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WorkflowService<S, E = ()> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config>,
    pub(crate) extract: E,
}

impl<S, E> WorkflowService<S, E> {
    /// Gets a reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Gets a mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, E, ReqBody, ResBody> Service<Request<ReqBody>> for WorkflowService<S, E>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
    E: ExtractMetadata,
    ResBody: http_body::Body,
    ResBody::Error: std::fmt::Display,
{
    type Response = Response<WorkflowBody<ResBody>>;
    type Error = S::Error;
    type Future = WorkflowFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        if !config.enabled
            || !tokentrace_core::defaults::workflow_layers_enabled()
            || config.skip_paths.iter().any(|p| p == req.uri().path())
        {
            return WorkflowFuture::untraced(self.inner.call(req));
        }
        let (parts, body) = req.into_parts();
        let span = make_span(config, &self.extract, &parts);
        let req = Request::from_parts(parts, body);
        let future = {
            let _entered = span.span.enter();
            self.inner.call(req)
        };
        WorkflowFuture::traced(future, span, Arc::clone(config))
    }
}

fn route<'a>(config: &Config, parts: &'a Parts) -> Option<Cow<'a, str>> {
    if let Some(f) = &config.route {
        return f(parts).map(Cow::Owned);
    }
    default_route(parts)
}

#[cfg(feature = "axum")]
fn default_route(parts: &Parts) -> Option<Cow<'_, str>> {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|m| Cow::Borrowed(m.as_str()))
}

#[cfg(not(feature = "axum"))]
fn default_route(_parts: &Parts) -> Option<Cow<'_, str>> {
    None
}

fn read_headers(config: &Config, parts: &Parts, meta: &mut WorkflowMetadata) {
    let headers = &parts.headers;
    if let Some(v) = config.user_header.as_ref().and_then(|h| headers.get(h)) {
        meta.set_user_id(v.as_bytes());
    }
    if let Some(v) = config.session_header.as_ref().and_then(|h| headers.get(h)) {
        meta.set_session_id(v.as_bytes());
    }
    if let Some(h) = &config.tags_header {
        for value in headers.get_all(h) {
            for tag in value.as_bytes().split(|b| *b == b',') {
                meta.add_tag(tag);
            }
        }
    }
    for (h, key) in &config.metadata_headers {
        if let Some(v) = headers.get(h) {
            meta.insert(key.as_bytes(), v.as_bytes());
        }
    }
    if config.read_baggage {
        propagation::baggage_into(headers, meta);
    }
}

fn make_span<E: ExtractMetadata>(config: &Config, extract: &E, parts: &Parts) -> WorkflowSpan {
    let method = parts.method.as_str();
    let route = route(config, parts);
    // Built by hand: `format!` costs more than the two copies.
    let name = match &route {
        Some(r) => {
            let mut name = String::with_capacity(method.len() + 1 + r.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(r);
            name
        }
        None => method.to_owned(),
    };
    let mut meta = WorkflowMetadata::new(config.bounds);
    read_headers(config, parts, &mut meta);
    extract.extract(parts, &mut meta);

    let workflow_name = meta
        .workflow_name
        .as_deref()
        .or(config.workflow_name.as_deref())
        .unwrap_or(&name);
    let tags = meta.tags_json();
    let metadata = meta.metadata_json();
    // i64: tracing-opentelemetry exports a u64 field as a string.
    let dropped = (meta.dropped > 0).then(|| i64::try_from(meta.dropped).unwrap_or(i64::MAX));

    // A remote parent is made current while the span is created, rather than
    // set afterwards with `set_parent`: a layer that starts the OTel span in
    // `on_new_span` (EnrichLayer does) would make a later `set_parent` fail.
    let remote = config
        .continue_trace
        .then(|| propagation::remote_parent(&parts.headers))
        .flatten();
    let attached = remote.map(opentelemetry::Context::attach);
    // Only the fields another layer reads are declared here (EnrichLayer:
    // the span type, workflow name, user, session, tags, metadata and the
    // drop count; tracing-opentelemetry: the name and kind). The rest is
    // written onto the OpenTelemetry span below, in one batch.
    let span = tracing::info_span!(
        target: "tokentrace::workflow",
        "workflow",
        { semconv::OTEL_NAME } = name.as_str(),
        { semconv::OTEL_KIND } = "server",
        { semconv::TOKENTRACE_SPAN_TYPE } = values::SPAN_TYPE_WORKFLOW,
        { semconv::GEN_AI_WORKFLOW_NAME } = workflow_name,
        { semconv::USER_ID } = meta.user_id.as_deref(),
        { semconv::SESSION_ID } = meta.session_id.as_deref(),
        { semconv::TAG_TAGS } = tags.as_deref(),
        { semconv::METADATA } = metadata.as_deref(),
        { semconv::TOKENTRACE_DROPPED_VALUES } = dropped,
        // Never recorded through `tracing` (see `WorkflowSpan`): declared
        // only so that tracing-opentelemetry, which sizes the span's
        // attribute vector by the callsite's field count, leaves room for
        // the attributes written directly; without them that vector is
        // reallocated on every request.
        { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
        { semconv::OTEL_STATUS_CODE } = Empty,
        { semconv::OTEL_STATUS_DESCRIPTION } = Empty,
        { semconv::TOKENTRACE_CLIENT_DISCONNECTED } = Empty,
        { semconv::ERROR_TYPE } = Empty,
        { semconv::EXCEPTION_MESSAGE } = Empty,
    );
    drop(attached);
    if meta.dropped > 0 {
        config.dropped.fetch_add(meta.dropped, Ordering::Relaxed);
    }
    // Starts the OpenTelemetry span (it would start at the first enter, just
    // below, anyway) and keeps its context for what is recorded later.
    let span = WorkflowSpan::of(span);
    let otel_span = span.otel.span();
    if otel_span.is_recording() {
        let attrs = [
            Some(KeyValue::new(
                semconv::GEN_AI_OPERATION_NAME,
                values::OPERATION_INVOKE_WORKFLOW,
            )),
            Some(KeyValue::new(
                semconv::OPENINFERENCE_SPAN_KIND,
                values::SPAN_KIND_CHAIN,
            )),
            Some(KeyValue::new(
                semconv::HTTP_REQUEST_METHOD,
                method_value(&parts.method),
            )),
            route.map(|r| KeyValue::new(semconv::HTTP_ROUTE, r.into_owned())),
            Some(KeyValue::new(
                semconv::URL_PATH,
                parts.uri.path().to_owned(),
            )),
        ];
        otel_span.set_attributes(attrs.into_iter().flatten());
    }
    span
}

/// `http.request.method`: the standard methods as static strings, others copied.
fn method_value(method: &Method) -> Value {
    let method = method.as_str();
    values::standard_method(method).map_or_else(|| Value::from(method.to_owned()), Value::from)
}
