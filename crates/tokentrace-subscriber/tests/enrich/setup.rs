//! Set-up checks, `current_workflow()`, and deadlock regressions.

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tokentrace_core::semconv;
use tokentrace_subscriber::{EnrichLayer, LayerOrderError, current_workflow, verify_layer_order};
use tracing_subscriber::prelude::*;

use crate::support::{Call, Pipeline, llm_call, plain_span, str_attr, workflow_span};

fn provider() -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (exporter, provider)
}

#[test]
fn verify_layer_order_accepts_the_documented_order_and_exports_no_probe() {
    let p = Pipeline::new();
    assert_eq!(verify_layer_order(&p.dispatch), Ok(()));
    // Twice works too (the probe state is reset).
    assert_eq!(verify_layer_order(&p.dispatch), Ok(()));
    // The default parent-based sampler drops the probe under its unsampled parent.
    assert!(p.spans().is_empty(), "{:?}", p.spans());
}

#[test]
fn verify_layer_order_rejects_enrich_outside_the_otel_layer() {
    let (_exporter, provider) = provider();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")))
            .with(EnrichLayer::new().no_metrics()),
    );
    assert_eq!(
        verify_layer_order(&dispatch),
        Err(LayerOrderError::EnrichLayerOutsideOpenTelemetry)
    );
}

#[test]
fn verify_layer_order_rejects_missing_layers() {
    let no_otel = tracing::Dispatch::new(
        tracing_subscriber::registry().with(EnrichLayer::new().no_metrics()),
    );
    assert_eq!(
        verify_layer_order(&no_otel),
        Err(LayerOrderError::MissingOpenTelemetryLayer)
    );
    let (_exporter, provider) = provider();
    let no_enrich = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t"))),
    );
    assert_eq!(
        verify_layer_order(&no_enrich),
        Err(LayerOrderError::MissingEnrichLayer)
    );
}

#[test]
fn current_workflow_is_the_innermost_workflow_with_its_otel_ids() {
    let p = Pipeline::new();
    let (outer, inner, in_plain) = p.run(|| {
        assert!(current_workflow().is_none());
        let _o = workflow_span("outer").entered();
        let outer = current_workflow().expect("outer");
        let _i = workflow_span("inner").entered();
        let _plain = plain_span("plain").entered();
        let in_plain = current_workflow().expect("through a plain span");
        let inner = current_workflow().expect("inner");
        (outer, inner, in_plain)
    });
    assert_eq!(outer.name, "outer");
    assert_eq!(inner.name, "inner");
    assert_eq!(in_plain.span_id, inner.span_id);
    let exported_inner = p.span("inner");
    assert_eq!(
        inner.span_id,
        exported_inner.span_context.span_id().to_string()
    );
    assert_eq!(
        inner.trace_id,
        exported_inner.span_context.trace_id().to_string()
    );
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(inner.trace_id.len(), 32);
    assert!(
        inner
            .trace_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(inner.span_id.len(), 16);
    assert_ne!(inner.span_id, outer.span_id);
}

/// A field value whose `Debug` reads span extensions (as
/// `tracing_error::SpanTrace` does) and calls back into tokentrace.
struct ReadsExtensions;

impl fmt::Debug for ReadsExtensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wf = current_workflow().map(|w| w.name).unwrap_or_default();
        let _guard = tokentrace_subscriber::metadata!(probe = "inside debug");
        write!(f, "user-of-{wf}")
    }
}

/// Runs `f` on a thread and fails instead of hanging if it deadlocks.
fn without_deadlock(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("deadlock: the callback did not return");
}

/// Regression: EnrichLayer must visit fields before locking span extensions
/// (a `Debug` field value may read them, like tracing-error's SpanTrace) and
/// must not hold extensions while `get_otel_context` locks them in `on_close`
/// (cf. tracing-opentelemetry's `tracing_error_compatibility` test).
#[test]
fn recording_fields_that_read_span_extensions_does_not_deadlock() {
    without_deadlock(|| {
        let p = Pipeline::new();
        p.run(|| {
            let wf = tracing::info_span!(
                "wf",
                { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
                { semconv::USER_ID } = tracing::field::Empty,
            );
            let _e = wf.enter();
            // At creation: the visitor formats user.id while the parent is current.
            let child = tracing::info_span!(
                "child",
                { semconv::OTEL_NAME } = "child",
                { semconv::USER_ID } = ?ReadsExtensions,
                { semconv::SESSION_ID } = tracing::field::Empty,
            );
            let _c = child.enter();
            // On record: the span being recorded is the current one.
            child.record(semconv::SESSION_ID, tracing::field::debug(&ReadsExtensions));
            wf.record(semconv::USER_ID, tracing::field::debug(&ReadsExtensions));
            llm_call("call", Call::default());
        });
        let child = p.span("child");
        // Inside a `new_span` callback tracing-core hides the default
        // dispatcher (re-entrancy guard), so `current_workflow()` sees no span
        // there; what matters is that creation returned.
        let at_creation = str_attr(&child, semconv::USER_ID).expect("user.id");
        assert!(at_creation.starts_with("user-of-"), "{at_creation}");
        // `record` runs with the span's own dispatcher, so the call back works.
        assert_eq!(
            str_attr(&child, semconv::SESSION_ID).as_deref(),
            Some("user-of-wf")
        );
        let wf = p.span("wf");
        assert_eq!(
            str_attr(&wf, semconv::USER_ID).as_deref(),
            Some("user-of-wf")
        );
        // The guard opened inside `Debug` reached the root.
        assert_eq!(
            crate::support::json_attr(&wf, semconv::METADATA),
            Some(serde_json::json!({"probe": "inside debug"}))
        );
    });
}

/// A `Debug` value that, while being formatted, records a field on the
/// current span and opens a guard on it.
struct RecordsWhileFormatted;

impl fmt::Debug for RecordsWhileFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::Span::current().record(semconv::SESSION_ID, "recorded-inside");
        let _guard = tokentrace_subscriber::metadata!(nested = true);
        let wf = current_workflow().map(|w| w.name).unwrap_or_default();
        write!(f, "user-of-{wf}")
    }
}

/// Regression: a layer callback records fields on a span while another
/// layer holds that span's extensions (tracing-error's `ErrorLayer` shape:
/// it formats field values while reading the span). EnrichLayer must reach
/// its state through a shared borrow; an `extensions_mut()` in its
/// `on_record` or in guard creation deadlocks here.
#[test]
fn a_layer_holding_extensions_while_fields_are_recorded_does_not_deadlock() {
    struct HoldsExtensions;
    impl<S> tracing_subscriber::Layer<S> for HoldsExtensions
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_record(
            &self,
            id: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let span = ctx.span(id).expect("span");
            let ext = span.extensions();
            let mut text = String::new();
            values.record(&mut |_: &tracing::field::Field, value: &dyn fmt::Debug| {
                text = format!("{value:?}");
            });
            drop(ext);
            assert!(!text.is_empty());
        }
    }

    without_deadlock(|| {
        let (exporter, provider) = provider();
        // HoldsExtensions is innermost, so its on_record runs (and holds the
        // span's extensions) before EnrichLayer's.
        let subscriber = tracing_subscriber::registry()
            .with(HoldsExtensions)
            .with(EnrichLayer::new().no_metrics())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
        tracing::subscriber::with_default(subscriber, || {
            let wf = tracing::info_span!(
                "wf",
                { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
                { semconv::USER_ID } = tracing::field::Empty,
                { semconv::SESSION_ID } = tracing::field::Empty,
            );
            let _e = wf.enter();
            wf.record(
                semconv::USER_ID,
                tracing::field::debug(&RecordsWhileFormatted),
            );
            llm_call("call", Call::default());
        });
        let spans = exporter.get_finished_spans().expect("spans");
        let call = spans
            .iter()
            .find(|s| s.name == "call")
            .expect("call exported");
        assert_eq!(
            str_attr(call, semconv::USER_ID).as_deref(),
            Some("user-of-wf")
        );
        assert_eq!(
            str_attr(call, semconv::SESSION_ID).as_deref(),
            Some("recorded-inside")
        );
        // The guard opened inside `Debug` lived only there; the root keeps it.
        assert!(crate::support::attr(call, semconv::METADATA).is_none());
        let wf = spans.iter().find(|s| s.name == "wf").expect("wf exported");
        assert_eq!(
            crate::support::json_attr(wf, semconv::METADATA),
            Some(serde_json::json!({"nested": true}))
        );
    });
}
