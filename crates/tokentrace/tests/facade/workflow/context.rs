//! Context across tasks, threads, carriers and processes.

use std::collections::HashMap;

use opentelemetry_sdk::trace::SpanData;
use tokentrace::{ContextSnapshot, RemoteContext};

use super::capture;

fn child_of(child: &SpanData, parent: &SpanData) -> bool {
    child.parent_span_id == parent.span_context.span_id()
        && child.span_context.trace_id() == parent.span_context.trace_id()
}

#[tokio::test]
async fn spawn_carries_the_current_span_into_the_task() {
    let otel = capture();
    tokentrace::traced_run("parent", async {
        tokentrace::spawn(async {
            tracing::info_span!("in_task").in_scope(|| ());
        })
        .await
        .unwrap();
    })
    .await;
    assert!(child_of(
        &otel.span("in_task"),
        &otel.span("workflow.parent")
    ));
}

#[tokio::test]
async fn a_snapshot_carries_the_span_into_spawn_blocking_and_threads() {
    let otel = capture();
    let root = tracing::info_span!("root");
    let _entered = root.enter();

    let snapshot = ContextSnapshot::capture();
    let dispatch = otel.dispatch.clone();
    tokio::task::spawn_blocking(move || {
        // A global subscriber would cover this thread; tests use a
        // thread-local one, so the blocking thread installs it too.
        let _d = tracing::dispatcher::set_default(&dispatch);
        let _guard = snapshot.attach();
        tracing::info_span!("in_blocking").in_scope(|| ());
    })
    .await
    .unwrap();

    let snapshot = ContextSnapshot::capture();
    let dispatch = otel.dispatch.clone();
    std::thread::spawn(move || {
        let _d = tracing::dispatcher::set_default(&dispatch);
        snapshot.in_scope(|| tracing::info_span!("in_thread").in_scope(|| ()));
    })
    .join()
    .unwrap();

    drop(_entered);
    drop(root);
    let root = otel.span("root");
    assert!(child_of(&otel.span("in_blocking"), &root));
    assert!(child_of(&otel.span("in_thread"), &root));
}

#[test]
fn inject_and_extract_round_trip_through_a_string_map() {
    let otel = capture();
    let span = tracing::info_span!("producer");
    let (headers, expected) = span.in_scope(|| {
        let mut headers = HashMap::new();
        tokentrace::inject(&mut headers);
        (headers, RemoteContext::from_span(&tracing::Span::current()))
    });
    drop(span);
    let producer = otel.span("producer");
    let traceparent = &headers["traceparent"];
    assert_eq!(
        traceparent,
        &format!(
            "00-{}-{}-01",
            producer.span_context.trace_id(),
            producer.span_context.span_id()
        )
    );
    let remote = tokentrace::extract(&headers);
    assert_eq!(remote.trace_id(), expected.trace_id());
    assert_eq!(
        remote.span_id(),
        Some(producer.span_context.span_id().to_string())
    );

    let empty = tokentrace::extract(&HashMap::<String, String>::new());
    assert!(!empty.is_valid());
    assert_eq!(empty.trace_id(), None);
}

#[test]
fn baggage_travels_with_the_context() {
    let mut carrier = std::collections::BTreeMap::new();
    carrier.insert("baggage".to_owned(), "tenant=acme".to_owned());
    let remote = tokentrace::extract(&carrier);
    assert_eq!(remote.baggage("tenant").as_deref(), Some("acme"));
    let mut out = HashMap::new();
    remote.inject(&mut out);
    assert_eq!(out.get("baggage").map(String::as_str), Some("tenant=acme"));
    assert!(!out.contains_key("traceparent"), "no valid trace to inject");
}

#[test]
fn a_child_process_receives_the_trace_through_its_environment() {
    let otel = capture();
    let span = tracing::info_span!("parent_process");
    let output = span.in_scope(|| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c").arg("echo \"$TRACEPARENT\"");
        tokentrace::inject(&mut cmd);
        cmd.output().unwrap()
    });
    drop(span);
    assert!(output.status.success());
    let received = String::from_utf8(output.stdout).unwrap();
    // What the child would do: read its environment as a carrier.
    let mut env = HashMap::new();
    env.insert("traceparent".to_owned(), received.trim().to_owned());
    let remote = tokentrace::extract(&env);
    let parent = otel.span("parent_process");
    assert_eq!(
        remote.trace_id(),
        Some(parent.span_context.trace_id().to_string())
    );
    assert_eq!(
        remote.span_id(),
        Some(parent.span_context.span_id().to_string())
    );
}

#[test]
fn link_to_adds_a_span_link() {
    let otel = capture();
    let mut carrier = HashMap::new();
    carrier.insert(
        "traceparent".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
    );
    let other = tokentrace::extract(&carrier);
    tracing::info_span!("batch").in_scope(|| tokentrace::link_to(&other));
    let batch = otel.span("batch");
    let links: Vec<_> = batch.links.iter().collect();
    assert_eq!(links.len(), 1);
    assert_eq!(
        links[0].span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_ne!(
        batch.span_context.trace_id(),
        links[0].span_context.trace_id()
    );
}
