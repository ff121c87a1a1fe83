use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::HeaderName;
use http::request::Parts;
use tower::Layer;

use crate::config::Config;
use crate::service::WorkflowService;

/// Turns every [`WorkflowLayer`] in the process on or off, on top of each
/// layer's own [`WorkflowLayer::enabled`].
///
/// The switch lives with tokentrace's other process-wide switches in
/// `tokentrace_core::defaults`; the `tokentrace` facade turns it off through
/// `set_workflow_filter` when `TOKENTRACE_WORKFLOWS=off`. This crate never
/// reads the environment itself.
pub fn set_enabled_globally(enabled: bool) {
    tokentrace_core::defaults::set_workflow_layers_enabled(enabled);
}

/// A [`Layer`] that opens one workflow span per inbound request.
///
/// See the [crate docs](crate) for the span's shape and when it ends.
///
/// Cloning is cheap: the configuration is shared behind an [`Arc`], and so is
/// the [dropped-values counter](Self::dropped_values).
#[derive(Debug, Clone)]
#[must_use]
pub struct WorkflowLayer<E = ()> {
    pub(crate) config: Arc<Config>,
    pub(crate) extract: E,
}

impl Default for WorkflowLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkflowLayer {
    /// A layer with the defaults: every request traced, no metadata headers,
    /// inbound `traceparent` continued, `baggage` ignored.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config::default()),
            extract: (),
        }
    }
}

fn header(name: &str) -> Option<HeaderName> {
    // An invalid header name can never match a request header, so it is
    // treated as "not configured" rather than failing the builder. A secret
    // header (`authorization`, `x-api-key`, `cookie`, ...) is never recorded,
    // not even when configured by mistake.
    if tokentrace_core::bound::is_secret_header(name) {
        return None;
    }
    HeaderName::from_bytes(name.as_bytes()).ok()
}

impl<E> WorkflowLayer<E> {
    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Reads `user.id` from the header `name`.
    ///
    /// Defaults to no header.
    pub fn user_header(mut self, name: &str) -> Self {
        self.config_mut().user_header = header(name);
        self
    }

    /// Reads `session.id` from the header `name`.
    ///
    /// Defaults to no header.
    pub fn session_header(mut self, name: &str) -> Self {
        self.config_mut().session_header = header(name);
        self
    }

    /// Reads `tag.tags` from the header `name`: every occurrence, each split
    /// on commas.
    ///
    /// Defaults to no header.
    pub fn tags_header(mut self, name: &str) -> Self {
        self.config_mut().tags_header = header(name);
        self
    }

    /// Records the header `name` as the `metadata` entry `key`. May be called
    /// several times. Secret headers (`authorization`, `x-api-key`, `cookie`
    /// and the like, see `tokentrace_core::bound::is_secret_header`) are
    /// refused: they are never recorded.
    ///
    /// Defaults to no metadata headers.
    pub fn metadata_header(mut self, name: &str, key: impl Into<String>) -> Self {
        if let Some(h) = header(name) {
            self.config_mut().metadata_headers.push((h, key.into()));
        }
        self
    }

    /// Sets `gen_ai.workflow.name` for every request.
    ///
    /// Defaults to the span name, `{METHOD} {route}`.
    pub fn workflow_name(mut self, name: impl Into<String>) -> Self {
        self.config_mut().workflow_name = Some(name.into());
        self
    }

    /// Longest accepted header value, in bytes; longer values are dropped.
    ///
    /// Defaults to 256.
    pub fn max_value_len(mut self, len: usize) -> Self {
        self.config_mut().bounds.max_value_len = len;
        self
    }

    /// Most tags recorded per request.
    ///
    /// Defaults to 16.
    pub fn max_tags(mut self, n: usize) -> Self {
        self.config_mut().bounds.max_tags = n;
        self
    }

    /// Most `metadata` entries recorded per request.
    ///
    /// Defaults to 16.
    pub fn max_metadata_entries(mut self, n: usize) -> Self {
        self.config_mut().bounds.max_metadata_entries = n;
        self
    }

    /// Copies the W3C `baggage` header's entries into `metadata`. Baggage is
    /// set by the client, so only turn this on behind a trusted proxy.
    ///
    /// Defaults to `false`.
    pub fn read_baggage(mut self, read: bool) -> Self {
        self.config_mut().read_baggage = read;
        self
    }

    /// Continues the trace named by an inbound W3C `traceparent` header (read
    /// with the global OpenTelemetry propagator that `tokentrace`'s `install`
    /// sets, or an application's own; W3C Trace Context while none is set).
    ///
    /// Defaults to `true`.
    pub fn continue_trace(mut self, continue_trace: bool) -> Self {
        self.config_mut().continue_trace = continue_trace;
        self
    }

    /// Returns the trace id (32 lowercase hex digits) to the client in the
    /// response header `name`. The only change the layer ever makes to a
    /// response, so it is opt-in.
    ///
    /// Defaults to no header.
    pub fn trace_id_response_header(mut self, name: &str) -> Self {
        self.config_mut().trace_id_header = header(name);
        self
    }

    /// Enters the span while the response body is polled, so work done
    /// lazily inside a streaming body (an SSE stream that calls an LLM when
    /// first polled) is parented to the request. Entering costs about as much
    /// per chunk as tower-http's `TraceLayer` does; turn it off for streams
    /// that only forward bytes produced elsewhere.
    ///
    /// Defaults to `true`.
    pub fn enter_span_in_body(mut self, enter: bool) -> Self {
        self.config_mut().enter_in_body = enter;
        self
    }

    /// Opens no span for requests whose path is exactly `path` (health
    /// checks, metrics). May be called several times.
    ///
    /// Defaults to tracing every path.
    pub fn skip_path(mut self, path: impl Into<String>) -> Self {
        self.config_mut().skip_paths.push(path.into());
        self
    }

    /// Turns the layer on or off; off, requests pass straight through.
    ///
    /// Defaults to `true`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config_mut().enabled = enabled;
        self
    }

    /// Names the route template of a request, for the span name and
    /// `http.route`. Overrides the built-in lookup.
    ///
    /// Defaults to axum's `MatchedPath` when the `axum` feature is on (the
    /// facade turns it on) and the layer runs inside the router
    /// (`Router::layer`), else to no route: the span is named by the method.
    pub fn route_with<F>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.config_mut().route = Some(Arc::new(f));
        self
    }

    /// Fills user, session, tags and metadata from the request head with a
    /// hook, after the configured headers were read. See [`ExtractMetadata`].
    ///
    /// Defaults to `()`, no hook.
    ///
    /// [`ExtractMetadata`]: crate::ExtractMetadata
    pub fn extract_with<E2>(self, extract: E2) -> WorkflowLayer<E2> {
        WorkflowLayer {
            config: self.config,
            extract,
        }
    }

    /// Values dropped so far for breaking the bounds, across every request
    /// served through this layer and its clones.
    pub fn dropped_values(&self) -> u64 {
        self.config.dropped.load(Ordering::Relaxed)
    }
}

impl<S, E: Clone> Layer<S> for WorkflowLayer<E> {
    type Service = WorkflowService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        WorkflowService {
            inner,
            config: Arc::clone(&self.config),
            extract: self.extract.clone(),
        }
    }
}
