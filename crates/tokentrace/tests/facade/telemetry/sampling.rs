//! Head sampling with "always keep errors".

use opentelemetry_sdk::trace::InMemorySpanExporter;
use tokentrace::Telemetry;

fn run(keep_errors: bool) -> Vec<String> {
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .no_store()
        .sample_ratio(0.0)
        .always_keep_errors(keep_errors)
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("failing", otel.name = "failing").in_scope(|| {
            tracing::info_span!("ok child", otel.name = "ok child").in_scope(|| {});
            let bad = tracing::info_span!(
                "bad child",
                otel.name = "bad child",
                otel.status_code = tracing::field::Empty
            );
            bad.record("otel.status_code", "error");
            drop(bad);
            tracing::info_span!("late child", otel.name = "late child").in_scope(|| {});
        });
        tracing::info_span!("fine", otel.name = "fine").in_scope(|| {
            tracing::info_span!("fine child", otel.name = "fine child").in_scope(|| {});
        });
    });
    guard.flush();
    let mut names: Vec<String> = exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .map(|s| s.name.into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn errors_and_later_spans_of_their_trace_are_kept_when_sampled_out() {
    // "ok child" ended before the error was known: head sampling cannot
    // recall it. Everything after, including the root, is kept.
    assert_eq!(run(true), ["bad child", "failing", "late child"]);
}

#[test]
fn without_keep_errors_a_zero_ratio_keeps_nothing() {
    assert!(run(false).is_empty());
}

#[test]
fn a_full_ratio_keeps_everything() {
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .no_store()
        .sample_ratio(1.0)
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("a").in_scope(|| tracing::info_span!("b").in_scope(|| {}));
    });
    guard.flush();
    assert_eq!(exporter.get_finished_spans().unwrap().len(), 2);
}
