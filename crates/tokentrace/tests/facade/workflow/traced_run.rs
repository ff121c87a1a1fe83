//! `traced_run`, `TracedRun` and the workflow filter.

use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};
use tokentrace::{TracedRun, WorkflowKind};
use tokentrace_core::semconv;

use super::{attr, attr_str, capture};

#[tokio::test]
async fn traced_run_groups_the_work_under_one_workflow_span() {
    let otel = capture();
    let out = tokentrace::traced_run("pizza_workflow", async {
        tracing::info_span!("step").in_scope(|| ());
        7
    })
    .await;
    assert_eq!(out, 7);
    let wf = otel.span("workflow.pizza_workflow");
    let step = otel.span("step");
    assert_eq!(step.parent_span_id, wf.span_context.span_id());
    assert_eq!(wf.span_kind, SpanKind::Internal);
    assert_eq!(wf.status, Status::Unset);
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("workflow")
    );
    assert_eq!(
        attr_str(&wf, semconv::GEN_AI_WORKFLOW_NAME).as_deref(),
        Some("pizza_workflow")
    );
    assert_eq!(
        attr_str(&wf, semconv::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("CHAIN")
    );
    // The default kind is named by `openinference.span.kind` alone.
    assert_eq!(attr_str(&wf, semconv::TOKENTRACE_WORKFLOW_KIND), None);
}

#[tokio::test]
async fn nested_runs_are_child_workflows_and_the_builder_sets_kind_and_attributes() {
    let otel = capture();
    let name = String::from("outer");
    tokentrace::traced_run(name, async {
        TracedRun::new("inner_agent")
            .kind(WorkflowKind::Agent)
            .attribute("customer", "Acme")
            .attribute("priority", 2_i64)
            .attribute("score", 0.5)
            .attribute("beta", true)
            .run(async {})
            .await;
    })
    .await;
    let outer = otel.span("workflow.outer");
    let inner = otel.span("workflow.inner_agent");
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(
        attr_str(&inner, semconv::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("AGENT")
    );
    assert_eq!(attr_str(&inner, "customer").as_deref(), Some("Acme"));
    assert_eq!(attr(&inner, "priority"), Some(Value::I64(2)));
    assert_eq!(attr(&inner, "score"), Some(Value::F64(0.5)));
    assert_eq!(attr(&inner, "beta"), Some(Value::Bool(true)));
    assert_eq!(
        attr_str(&inner, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(
        attr_str(&inner, semconv::GEN_AI_AGENT_NAME).as_deref(),
        Some("inner_agent")
    );
    assert_eq!(
        attr_str(&outer, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("invoke_workflow")
    );
}

#[tokio::test]
async fn a_tool_run_is_execute_tool_with_its_tool_name() {
    let otel = capture();
    TracedRun::new("lookup_weather")
        .kind(WorkflowKind::Tool)
        .run(async {})
        .await;
    let tool = otel.span("workflow.lookup_weather");
    assert_eq!(
        attr_str(&tool, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        attr_str(&tool, semconv::GEN_AI_TOOL_NAME).as_deref(),
        Some("lookup_weather")
    );
    assert_eq!(
        attr_str(&tool, semconv::GEN_AI_TOOL_TYPE).as_deref(),
        Some("function")
    );
    assert_eq!(
        attr_str(&tool, semconv::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("TOOL")
    );
}

#[tokio::test]
async fn a_run_can_continue_a_remote_trace() {
    let otel = capture();
    let mut carrier = std::collections::HashMap::new();
    carrier.insert(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    );
    let parent = tokentrace::extract(&carrier);
    assert!(parent.is_valid());
    TracedRun::new("consumer")
        .parent(parent)
        .run(async {})
        .await;
    let span = otel.span("workflow.consumer");
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
}
