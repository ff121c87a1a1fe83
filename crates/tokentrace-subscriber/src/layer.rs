//! [`EnrichLayer`]: the `tracing_subscriber::Layer`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use opentelemetry::trace::TraceContextExt;
use tokentrace_core::semconv;
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::data::{
    Limits, MetadataSet, Recorded, Scope, ScopeKind, SpanKind, SpanState, StateCell,
    bounded_json_object, take_state, truncate_bytes, truncate_chars, with_state,
};
use crate::error::LayerOrderError;
use crate::foreign;
use crate::metrics::{GenAiMetrics, MeterSource};
use crate::rollup::Rollup;
use crate::visit::SpanFields;

/// Target of the probe span [`verify_layer_order`] creates.
const PROBE_TARGET: &str = "tokentrace::layer_order_probe";
/// Name of the probe span [`verify_layer_order`] creates.
const PROBE_NAME: &str = "tokentrace.layer_order_probe";

const PROBE_IDLE: u8 = 0;
const PROBE_PENDING: u8 = 1;
const PROBE_REACHED: u8 = 2;
const PROBE_MISSED: u8 = 3;

/// A [`Layer`] that enriches spans with prompt templates, workflow metadata,
/// cost roll-ups and latency, and records the GenAI client metrics.
///
/// See the [crate docs](crate) for what it writes and when.
///
/// # Layer order
///
/// `EnrichLayer` must be added **before** (inside) the
/// `tracing_opentelemetry` layer, directly on a [`Registry`]:
///
/// ```
/// use tracing_subscriber::prelude::*;
/// # let tracer = opentelemetry::trace::noop::NoopTracer::new();
/// let subscriber = tracing_subscriber::registry()
///     .with(tokentrace_subscriber::EnrichLayer::new())
///     .with(tracing_opentelemetry::layer().with_tracer(tracer));
/// let dispatch = tracing::Dispatch::new(subscriber);
/// tokentrace_subscriber::verify_layer_order(&dispatch)?;
/// # Ok::<(), tokentrace_subscriber::LayerOrderError>(())
/// ```
///
/// `Layered` runs the inner layer's `on_close` first, so `EnrichLayer` writes
/// its attributes while the OpenTelemetry span is still open; the
/// OpenTelemetry layer then ends and exports it with them.
/// [`verify_layer_order`] checks this at set-up.
#[derive(Debug)]
#[must_use]
pub struct EnrichLayer {
    limits: Limits,
    metrics: Arc<GenAiMetrics>,
    /// The dispatch this instance was registered in. `get_otel_context` must
    /// be given the dispatch that owns the span id, never the thread's
    /// current default (which may be another subscriber).
    dispatch: OnceLock<WeakDispatch>,
    /// Outcome of the [`verify_layer_order`] probe.
    probe: AtomicU8,
    /// Write `gen_ai.prompt.variable.<key>` (opt-in in the spec).
    prompt_variables: bool,
}

impl Clone for EnrichLayer {
    /// A clone shares the limits and the metric instruments but not the
    /// registered dispatch: each clone belongs to the subscriber it is added to.
    fn clone(&self) -> Self {
        Self {
            limits: self.limits,
            metrics: Arc::clone(&self.metrics),
            dispatch: OnceLock::new(),
            probe: AtomicU8::new(PROBE_IDLE),
            prompt_variables: self.prompt_variables,
        }
    }
}

impl Default for EnrichLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl EnrichLayer {
    /// A layer with the default limits that records metrics through
    /// `opentelemetry::global::meter("tokentrace")`.
    pub fn new() -> Self {
        Self {
            limits: Limits::default(),
            metrics: Arc::new(GenAiMetrics::new(MeterSource::Global)),
            dispatch: OnceLock::new(),
            probe: AtomicU8::new(PROBE_IDLE),
            prompt_variables: false,
        }
    }

    /// Records the GenAI client metrics through `meter` instead of the global
    /// meter provider.
    ///
    /// Defaults to `opentelemetry::global::meter("tokentrace")`, resolved when
    /// the first LLM span closes.
    pub fn meter(mut self, meter: Meter) -> Self {
        self.metrics = Arc::new(GenAiMetrics::new(MeterSource::Meter(meter)));
        self
    }

    /// Which GenAI convention names the metrics carry (current, previous or
    /// both; see `docs/attributes.md`, "Convention versions"). Defaults to
    /// [`SemconvMode::Latest`](tokentrace_core::semconv::SemconvMode::Latest).
    pub fn semconv(mut self, mode: tokentrace_core::semconv::SemconvMode) -> Self {
        self.metrics = Arc::new(self.metrics.with_mode(mode));
        self
    }

    /// Writes each prompt template variable as `gen_ai.prompt.variable.<key>`
    /// on LLM spans too (the spec makes them opt-in: they may hold user
    /// content). `llm.prompt_template.variables` is written either way.
    /// The facade turns this on with content capture.
    ///
    /// Defaults to off.
    pub fn prompt_variables(mut self, on: bool) -> Self {
        self.prompt_variables = on;
        self
    }

    /// Records no metrics. Defaults to recording them.
    pub fn no_metrics(mut self) -> Self {
        self.metrics = Arc::new(GenAiMetrics::new(MeterSource::Disabled));
        self
    }

    /// Largest `llm.prompt_template.variables` JSON text, in bytes (at least
    /// 2, for `{}`); longer variable values are cut, others dropped, and the
    /// result stays valid JSON.
    ///
    /// Defaults to 4096.
    pub fn max_variables_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_variables_bytes = bytes.max(2);
        self
    }

    /// Largest `metadata` JSON text, in bytes (at least 2), bounded like
    /// [`max_variables_bytes`](Self::max_variables_bytes).
    ///
    /// Defaults to 4096.
    pub fn max_metadata_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_metadata_bytes = bytes.max(2);
        self
    }

    /// Largest `llm.prompt_template.template` text, in bytes.
    ///
    /// Defaults to 16384.
    pub fn max_template_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_template_bytes = bytes;
        self
    }

    /// Longest `user.id`, `session.id`, tag or template version, in characters.
    ///
    /// Defaults to 256.
    pub fn max_value_chars(mut self, chars: usize) -> Self {
        self.limits.max_value_chars = chars.max(1);
        self
    }

    /// Most tags in `tag.tags`; later ones are dropped.
    ///
    /// Defaults to 32.
    pub fn max_tags(mut self, tags: usize) -> Self {
        self.limits.max_tags = tags;
        self
    }

    fn registered_dispatch(&self) -> Option<Dispatch> {
        self.dispatch.get().and_then(WeakDispatch::upgrade)
    }

    /// The attributes to write on a closing span.
    fn close_attributes(&self, state: &SpanState, elapsed: Duration) -> Vec<KeyValue> {
        let limits = &self.limits;
        let recorded = state.recorded;
        // Latency, the nine roll-ups and the drop count without regrowing.
        let mut attrs = Vec::with_capacity(if state.kind == SpanKind::Other { 0 } else { 12 });
        let mut damaged = state.dropped;

        if state.kind == SpanKind::Llm
            && let Some(t) = state.effective_template()
        {
            if !recorded.has(Recorded::TEMPLATE) {
                let (text, cut) = truncate_bytes(&t.template, limits.max_template_bytes);
                damaged += u32::from(cut);
                attrs.push(KeyValue::new(semconv::LLM_PROMPT_TEMPLATE_TEMPLATE, text));
            }
            if let Some(v) = &t.version
                && !recorded.has(Recorded::TEMPLATE_VERSION)
            {
                let (v, cut) = truncate_chars(v, limits.max_value_chars);
                damaged += u32::from(cut);
                attrs.push(KeyValue::new(semconv::LLM_PROMPT_TEMPLATE_VERSION, v));
            }
            if !recorded.has(Recorded::TEMPLATE_VARIABLES) {
                let (json, cut) = bounded_json_object(
                    t.variables.iter().map(|(k, v)| (k.as_str(), v)),
                    limits.max_variables_bytes,
                );
                damaged += cut;
                attrs.push(KeyValue::new(semconv::LLM_PROMPT_TEMPLATE_VARIABLES, json));
            }
            // The GenAI names (semantic-conventions-genai client-inference.md).
            if let Some(name) = &t.name
                && !recorded.has(Recorded::PROMPT_NAME)
            {
                let (name, cut) = truncate_chars(name, limits.max_value_chars);
                damaged += u32::from(cut);
                attrs.push(KeyValue::new(semconv::GEN_AI_PROMPT_NAME, name));
            }
            if let Some(v) = &t.version
                && !recorded.has(Recorded::PROMPT_VERSION)
            {
                // The same value as llm.prompt_template.version: a cut is counted once.
                let (v, _) = truncate_chars(v, limits.max_value_chars);
                attrs.push(KeyValue::new(semconv::GEN_AI_PROMPT_VERSION, v));
            }
            if self.prompt_variables {
                damaged += prompt_variable_attributes(t, limits, &mut attrs);
            }
        }

        if let Some(m) = state.effective_metadata() {
            damaged += push_metadata(&m, recorded, limits, &mut attrs);
        }

        if matches!(state.kind, SpanKind::Workflow | SpanKind::Llm)
            && !recorded.has(Recorded::LATENCY)
        {
            attrs.push(KeyValue::new(
                semconv::PERFORMANCE_LATENCY_MS,
                elapsed.as_secs_f64() * 1000.0,
            ));
        }

        if state.kind == SpanKind::Workflow || (state.is_root && state.rollup.llm_calls > 0) {
            state.rollup.push_attributes(&mut attrs);
        }

        if damaged > 0 && !recorded.has(Recorded::DROPPED) {
            attrs.push(KeyValue::new(
                semconv::TOKENTRACE_DROPPED_VALUES,
                i64::from(damaged),
            ));
        }
        attrs
    }
}

/// Pushes the metadata attributes the span does not already carry itself;
/// returns how many values were cut or dropped.
fn push_metadata(
    m: &MetadataSet,
    recorded: Recorded,
    limits: &Limits,
    attrs: &mut Vec<KeyValue>,
) -> u32 {
    let mut damaged = 0;
    if let Some(user) = &m.user_id
        && !recorded.has(Recorded::USER_ID)
    {
        let (v, cut) = truncate_chars(user, limits.max_value_chars);
        damaged += u32::from(cut);
        attrs.push(KeyValue::new(semconv::USER_ID, v));
    }
    if let Some(session) = &m.session_id {
        let (v, cut) = truncate_chars(session, limits.max_value_chars);
        damaged += u32::from(cut);
        // OpenInference `session.id` mirrored to the GenAI `gen_ai.conversation.id`.
        if !recorded.has(Recorded::CONVERSATION_ID) {
            attrs.push(KeyValue::new(semconv::GEN_AI_CONVERSATION_ID, v.clone()));
        }
        if !recorded.has(Recorded::SESSION_ID) {
            attrs.push(KeyValue::new(semconv::SESSION_ID, v));
        }
    }
    if !m.tags.is_empty() && !recorded.has(Recorded::TAGS) {
        let kept = m.tags.len().min(limits.max_tags);
        damaged += u32::try_from(m.tags.len() - kept).unwrap_or(u32::MAX);
        let tags: Vec<opentelemetry::StringValue> = m.tags[..kept]
            .iter()
            .map(|t| {
                let (v, cut) = truncate_chars(t, limits.max_value_chars);
                damaged += u32::from(cut);
                v.into()
            })
            .collect();
        // OpenInference `tag.tags` is a list of strings.
        attrs.push(KeyValue::new(
            semconv::TAG_TAGS,
            opentelemetry::Value::Array(tags.into()),
        ));
    }
    if !m.extra.is_empty() && !recorded.has(Recorded::METADATA) {
        let (json, cut) = bounded_json_object(
            m.extra.iter().map(|(k, v)| (k.as_str(), v)),
            limits.max_metadata_bytes,
        );
        damaged += cut;
        attrs.push(KeyValue::new(semconv::METADATA, json));
    }
    damaged
}

/// Longest variable name written as `gen_ai.prompt.variable.<key>`; longer
/// names are dropped (counted in `tokentrace.dropped_values`).
const MAX_VARIABLE_KEY_BYTES: usize = 64;

/// `gen_ai.prompt.variable.<key>` for each template variable, a string each
/// (non-strings as JSON text), values cut to `max_value_chars`, all of them
/// within `max_variables_bytes`. Returns how many values were cut or dropped.
fn prompt_variable_attributes(
    t: &crate::data::TemplateData,
    limits: &Limits,
    attrs: &mut Vec<KeyValue>,
) -> u32 {
    let mut damaged = 0;
    let mut budget = limits.max_variables_bytes;
    for (key, value) in &t.variables {
        if key.is_empty() || key.len() > MAX_VARIABLE_KEY_BYTES {
            damaged += 1;
            continue;
        }
        let text = match value {
            serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
            other => std::borrow::Cow::Owned(other.to_string()),
        };
        let (text, cut) = truncate_chars(&text, limits.max_value_chars);
        if text.len() > budget {
            damaged += 1;
            continue;
        }
        budget -= text.len();
        damaged += u32::from(cut);
        attrs.push(KeyValue::new(
            format!("{}.{key}", semconv::GEN_AI_PROMPT_VARIABLE),
            text,
        ));
    }
    damaged
}

impl<S> Layer<S> for EnrichLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        // First registration wins; a layer instance lives in one subscriber.
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Visit first, then lock (see `visit`).
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);

        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent();
        let is_root = parent.is_none();
        let inherited = parent
            .and_then(|p| with_state(&p, |st| st.scopes_for_child()))
            .unwrap_or_default();

        let meta = attrs.metadata();
        let kind = if meta.target() == PROBE_TARGET && meta.name() == PROBE_NAME {
            SpanKind::Probe
        } else {
            fields.kind.unwrap_or(SpanKind::Other)
        };
        let mut state = SpanState::new(kind, is_root, inherited);
        state.typed = fields.kind.is_some();
        state.workflow_name = fields.workflow_name.take();
        state.recorded = fields.recorded;
        state.dropped = fields.dropped;
        if let Some(llm) = fields.llm.take() {
            state.llm = Some(Box::new(llm));
        }
        let field_metadata = fields.metadata.take().filter(|m| !m.is_empty());
        if let Some(m) = field_metadata {
            // Into the root's trace-wide set first (one lock at a time: this
            // span's state is not inserted yet), then this span's own.
            if !is_root && let Some(root) = span.scope().last() {
                with_state(&root, |st| st.apply_tree_metadata(&m));
            }
            // The span's own user/session/tags/metadata fields act like a
            // `metadata!` guard opened on it (docs/architecture.md).
            state.apply_metadata(&m);
            state.own.push(Arc::new(Scope::new(ScopeKind::Metadata(m))));
        }

        // The only exclusive borrow EnrichLayer takes: the span is new, no
        // callback can hold its extensions yet (inner layers ran and
        // returned). `insert` panics on a duplicate, which a second
        // EnrichLayer in the same subscriber would cause.
        let mut ext = span.extensions_mut();
        if ext.get_mut::<StateCell>().is_none() {
            ext.insert(StateCell::new(state));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        values.record(&mut fields);
        if fields.is_empty() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let field_metadata = fields.metadata.take().filter(|m| !m.is_empty());
        let is_root = with_state(&span, |state| {
            if let Some(kind) = fields.kind
                && state.kind != SpanKind::Probe
            {
                state.kind = kind;
                state.typed = true;
            }
            if let Some(name) = fields.workflow_name.take() {
                state.workflow_name = Some(name);
            }
            state.recorded.union(fields.recorded);
            state.dropped += fields.dropped;
            if let Some(llm) = fields.llm.take() {
                match &mut state.llm {
                    Some(existing) => existing.update(llm),
                    None => state.llm = Some(Box::new(llm)),
                }
            }
            if let Some(m) = &field_metadata {
                state.apply_metadata(m);
                // Children created from now on see the recorded values.
                state
                    .own
                    .push(Arc::new(Scope::new(ScopeKind::Metadata(m.clone()))));
            }
            state.is_root
        });
        if let Some(m) = field_metadata
            && is_root == Some(false)
            && let Some(root) = span.scope().last()
        {
            with_state(&root, |st| st.apply_tree_metadata(&m));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut state) = take_state(&span) else {
            return;
        };
        let elapsed = state.start.elapsed();

        // Another library's GenAI span (see `crate::foreign`): the call
        // itself, or a framework span over calls counted beneath it.
        let mut foreign_attrs = Vec::new();
        if state.kind == SpanKind::Other
            && !state.typed
            && let Some(llm) = state.llm.as_deref_mut()
            && foreign::is_genai(llm)
        {
            if state.covered {
                foreign_attrs.push(KeyValue::new(
                    semconv::TOKENTRACE_SPAN_TYPE,
                    semconv::values::SPAN_TYPE_FRAMEWORK,
                ));
            } else {
                foreign_attrs =
                    foreign::price_call(llm, &tokentrace_core::defaults::price_catalogue());
                state.kind = SpanKind::Llm;
            }
        }

        if state.kind == SpanKind::Llm {
            let llm = state.llm.take().map(|b| *b).unwrap_or_default();
            let call = Rollup::of_call(&llm);
            // Children close before their parents (the registry holds a
            // reference to the parent until the child is closed), so every
            // ancestor is still open here. One lock at a time: never two.
            for ancestor in span.scope().skip(1) {
                with_state(&ancestor, |st| {
                    st.covered = true;
                    if st.kind == SpanKind::Workflow || st.is_root {
                        st.rollup.add(&call);
                    }
                });
            }
            // Left by the HTTP instrumentation (tokentrace_core::timing).
            let ext = span.extensions();
            let gaps = ext
                .get::<tokentrace_core::timing::ChunkGaps>()
                .map(tokentrace_core::timing::ChunkGaps::as_slice)
                .unwrap_or_default();
            self.metrics.record(&llm, elapsed, gaps);
            drop(ext);
        }

        let mut attrs = self.close_attributes(&state, elapsed);
        attrs.append(&mut foreign_attrs);
        if attrs.is_empty() && state.kind != SpanKind::Probe {
            return;
        }
        let Some(dispatch) = self.registered_dispatch() else {
            return;
        };
        // `get_otel_context` locks this span's extensions and its OtelData:
        // no lock of ours may be held here, or this call deadlocks.
        let cx = tracing_opentelemetry::get_otel_context(&id, &dispatch);
        if state.kind == SpanKind::Probe {
            let outcome = if cx.is_some() {
                PROBE_REACHED
            } else {
                PROBE_MISSED
            };
            self.probe.store(outcome, Ordering::Release);
        }
        if let Some(cx) = cx
            && !attrs.is_empty()
        {
            cx.span().set_attributes(attrs);
        }
    }
}

/// Checks that `dispatch` is composed so that [`EnrichLayer`] works: an
/// [`EnrichLayer`] on a [`Registry`], inside (added before) a
/// `tracing_opentelemetry` layer.
///
/// It creates one ERROR-level probe span named
/// `tokentrace.layer_order_probe` (target `tokentrace::layer_order_probe`)
/// on a short-lived thread, under a remote *unsampled* OpenTelemetry parent,
/// so that a parent-based sampler (the SDK default) does not export it. With
/// a sampler that ignores the parent, that one span is exported.
///
/// # Errors
///
/// A [`LayerOrderError`] saying what is wrong. The facade calls this in
/// `install()`, so a wrong composition fails at set-up, not silently later.
pub fn verify_layer_order(dispatch: &Dispatch) -> Result<(), LayerOrderError> {
    let layer = dispatch
        .downcast_ref::<EnrichLayer>()
        .ok_or(LayerOrderError::MissingEnrichLayer)?;
    if dispatch.downcast_ref::<Registry>().is_none() {
        return Err(LayerOrderError::MissingRegistry);
    }
    // A fresh thread has no current span, so the probe's OpenTelemetry
    // parent is the unsampled context attached below.
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("tokentrace-layer-probe".to_owned())
            .spawn_scoped(s, || probe(dispatch, layer))
            .map_or(Err(LayerOrderError::ProbeFailed), |handle| {
                handle.join().unwrap_or(Err(LayerOrderError::ProbeFailed))
            })
    })
}

fn probe(dispatch: &Dispatch, layer: &EnrichLayer) -> Result<(), LayerOrderError> {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    let unsampled = SpanContext::new(
        TraceId::from(1_u128),
        SpanId::from(1_u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let _otel_parent = opentelemetry::Context::new()
        .with_remote_span_context(unsampled)
        .attach();
    tracing::dispatcher::with_default(dispatch, || {
        layer.probe.store(PROBE_PENDING, Ordering::Release);
        let span = tracing::error_span!(target: PROBE_TARGET, PROBE_NAME);
        let Some(id) = span.id() else {
            return Err(LayerOrderError::ProbeFiltered);
        };
        if tracing_opentelemetry::get_otel_context(&id, dispatch).is_none() {
            return Err(LayerOrderError::MissingOpenTelemetryLayer);
        }
        drop(span);
        match layer.probe.swap(PROBE_IDLE, Ordering::AcqRel) {
            PROBE_REACHED => Ok(()),
            PROBE_MISSED => Err(LayerOrderError::EnrichLayerOutsideOpenTelemetry),
            _ => Err(LayerOrderError::ProbeFiltered),
        }
    })
}
