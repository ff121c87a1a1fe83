//! Every `#[workflow]` form, run and exported.

use std::fmt;

use futures_util::StreamExt;
use opentelemetry::trace::Status;
use tokentrace::WorkflowFilter;
use tokentrace_core::semconv;

use super::{attr, attr_str, capture};

#[tokentrace::workflow]
fn plain_sync(x: u32) -> u32 {
    tracing::info_span!("inside_sync").in_scope(|| x * 2)
}

#[tokentrace::workflow(
    name = "answer",
    kind = "agent",
    agent_name = "Ada",
    agent_role = "planner",
    task = "plan the trip"
)]
async fn answer_agent(q: &str) -> String {
    tokio::task::yield_now().await;
    format!("answer to {q}")
}

#[derive(Debug)]
struct Failure;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oven is cold")
    }
}

#[tokentrace::workflow]
async fn failing_async() -> Result<u8, Failure> {
    Err(Failure)
}

#[derive(Debug)]
#[allow(dead_code, reason = "read only through Debug")]
struct DebugOnly {
    code: u16,
}

#[tokentrace::workflow]
fn failing_debug_only() -> Result<(), DebugOnly> {
    Err(DebugOnly { code: 7 })
}

#[tokentrace::workflow]
fn question_mark(input: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = input.parse()?;
    Ok(n + 1)
}

struct Kitchen {
    ovens: usize,
}

impl Kitchen {
    #[tokentrace::workflow(kind = "tool")]
    fn bake(&self, pizzas: usize) -> usize {
        pizzas.div_ceil(self.ovens)
    }

    #[tokentrace::workflow]
    async fn bake_async(&self) -> usize {
        self.ovens
    }
}

#[tokentrace::workflow]
fn generic_len<T: AsRef<str>>(value: T) -> usize {
    value.as_ref().len()
}

#[tokentrace::workflow]
fn numbers(n: u32) -> impl futures_core::Stream<Item = u32> {
    futures_util::stream::iter(0..n).map(|i| tracing::info_span!("item").in_scope(|| i))
}

#[tokentrace::workflow]
fn factorial(n: u64) -> u64 {
    if n <= 1 { 1 } else { n * factorial(n - 1) }
}

#[tokentrace::workflow]
fn explode() {
    panic!("kaboom");
}

#[tokentrace::workflow(capture_args, capture_result, skip(api_key))]
fn retrieve(query: &str, top_k: usize, api_key: &str) -> Vec<String> {
    let _ = api_key;
    vec![query.to_owned(); top_k]
}

#[tokentrace::workflow(capture_args)]
fn huge_arg(blob: &str) -> usize {
    blob.len()
}

mod excluded {
    #[tokentrace::workflow]
    pub(super) fn hidden_workflow() -> u8 {
        1
    }
}

#[test]
fn sync_fn_opens_a_workflow_span_around_its_body() {
    let otel = capture();
    assert_eq!(plain_sync(4), 8);
    let wf = otel.span("workflow.plain_sync");
    assert_eq!(
        otel.span("inside_sync").parent_span_id,
        wf.span_context.span_id()
    );
    assert_eq!(
        attr_str(&wf, semconv::GEN_AI_WORKFLOW_NAME).as_deref(),
        Some("plain_sync")
    );
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("workflow")
    );
    assert_eq!(
        attr_str(&wf, semconv::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("CHAIN")
    );
    assert_eq!(wf.status, Status::Unset);
    assert_eq!(attr(&wf, semconv::TOKENTRACE_FUNCTION_ARGS), None);
}

#[tokio::test]
async fn async_fn_with_name_kind_and_agent_attributes() {
    let otel = capture();
    assert_eq!(answer_agent("q").await, "answer to q");
    let wf = otel.span("workflow.answer");
    assert_eq!(
        attr_str(&wf, semconv::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("AGENT")
    );
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_WORKFLOW_KIND).as_deref(),
        Some("agent")
    );
    assert_eq!(
        attr_str(&wf, semconv::GEN_AI_AGENT_NAME).as_deref(),
        Some("Ada")
    );
    assert_eq!(attr_str(&wf, semconv::AGENT_NAME).as_deref(), Some("Ada"));
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_AGENT_ROLE).as_deref(),
        Some("planner")
    );
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_AGENT_TASK).as_deref(),
        Some("plan the trip")
    );
    assert_eq!(
        attr_str(&wf, semconv::GEN_AI_AGENT_DESCRIPTION).as_deref(),
        Some("planner")
    );
    assert_eq!(
        attr_str(&wf, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(attr(&wf, semconv::GEN_AI_TOOL_NAME), None);
}

#[tokentrace::workflow(kind = "agent")]
fn unnamed_agent() -> u8 {
    1
}

/// GenAI operation names: `invoke_agent` (the agent named by `agent_name`,
/// else by the workflow name), `execute_tool` with `gen_ai.tool.name` and
/// `gen_ai.tool.type`, `invoke_workflow` for every other kind.
#[tokio::test]
async fn agent_and_tool_workflows_carry_their_genai_operation() {
    let otel = capture();
    assert_eq!(unnamed_agent(), 1);
    assert_eq!(Kitchen { ovens: 2 }.bake(3), 2);
    assert_eq!(plain_sync(1), 2);
    let agent = otel.span("workflow.unnamed_agent");
    assert_eq!(
        attr_str(&agent, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(
        attr_str(&agent, semconv::GEN_AI_AGENT_NAME).as_deref(),
        Some("unnamed_agent")
    );
    // OpenInference's agent.name stays for an explicit agent_name only.
    assert_eq!(attr(&agent, semconv::AGENT_NAME), None);
    let tool = otel.span("workflow.bake");
    assert_eq!(
        attr_str(&tool, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        attr_str(&tool, semconv::GEN_AI_TOOL_NAME).as_deref(),
        Some("bake")
    );
    assert_eq!(
        attr_str(&tool, semconv::GEN_AI_TOOL_TYPE).as_deref(),
        Some("function")
    );
    assert_eq!(attr(&tool, semconv::GEN_AI_AGENT_NAME), None);
    let chain = otel.span("workflow.plain_sync");
    assert_eq!(
        attr_str(&chain, semconv::GEN_AI_OPERATION_NAME).as_deref(),
        Some("invoke_workflow")
    );
    assert_eq!(attr(&chain, semconv::GEN_AI_TOOL_NAME), None);
    assert_eq!(attr(&chain, semconv::GEN_AI_AGENT_NAME), None);
}

#[tokio::test]
async fn err_results_mark_the_span_as_error() {
    let otel = capture();
    assert!(failing_async().await.is_err());
    assert!(failing_debug_only().is_err());
    assert_eq!(question_mark("41"), Ok(42));
    assert!(question_mark("x").is_err());

    let wf = otel.span("workflow.failing_async");
    assert!(matches!(wf.status, Status::Error { .. }), "{:?}", wf.status);
    assert_eq!(
        attr_str(&wf, semconv::EXCEPTION_MESSAGE).as_deref(),
        Some("the oven is cold")
    );
    let dbg = otel.span("workflow.failing_debug_only");
    assert_eq!(
        attr_str(&dbg, semconv::EXCEPTION_MESSAGE).as_deref(),
        Some("DebugOnly { code: 7 }")
    );
    let spans = otel.spans();
    let qm: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "workflow.question_mark")
        .collect();
    assert_eq!(qm.len(), 2);
    assert_eq!(
        qm.iter()
            .filter(|s| matches!(s.status, Status::Error { .. }))
            .count(),
        1
    );
}

#[tokio::test]
async fn methods_and_generic_fns_are_instrumented() {
    let otel = capture();
    let k = Kitchen { ovens: 2 };
    assert_eq!(k.bake(5), 3);
    assert_eq!(k.bake_async().await, 2);
    assert_eq!(generic_len("abc"), 3);
    assert_eq!(generic_len(String::from("abcd")), 4);
    assert_eq!(
        attr_str(
            &otel.span("workflow.bake"),
            semconv::OPENINFERENCE_SPAN_KIND
        )
        .as_deref(),
        Some("TOOL")
    );
    otel.span("workflow.bake_async");
    assert_eq!(
        otel.spans()
            .iter()
            .filter(|s| s.name == "workflow.generic_len")
            .count(),
        2
    );
}

#[tokio::test]
async fn stream_fn_span_covers_the_whole_stream() {
    let otel = capture();
    let stream = numbers(3);
    assert!(
        otel.spans().is_empty(),
        "span ended before the stream was read"
    );
    let items: Vec<u32> = stream.collect().await;
    assert_eq!(items, [0, 1, 2]);
    let wf = otel.span("workflow.numbers");
    let spans = otel.spans();
    let items: Vec<_> = spans.iter().filter(|s| s.name == "item").collect();
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|s| s.parent_span_id == wf.span_context.span_id())
    );
    assert!(items.iter().all(|s| s.end_time <= wf.end_time));
}

#[test]
fn recursion_gives_one_span_per_call() {
    let otel = capture();
    assert_eq!(factorial(4), 24);
    let spans = otel.spans();
    let calls: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "workflow.factorial")
        .collect();
    assert_eq!(calls.len(), 4);
    // A chain: exactly one root, every other call a child of another call.
    let ids: Vec<_> = calls.iter().map(|s| s.span_context.span_id()).collect();
    let roots = calls
        .iter()
        .filter(|s| !ids.contains(&s.parent_span_id))
        .count();
    assert_eq!(roots, 1);
}

#[test]
fn panics_mark_the_span_as_error() {
    let otel = capture();
    let caught = std::panic::catch_unwind(explode);
    assert!(caught.is_err());
    let wf = otel.span("workflow.explode");
    assert!(matches!(wf.status, Status::Error { .. }));
    assert_eq!(attr_str(&wf, semconv::ERROR_TYPE).as_deref(), Some("panic"));
}

#[test]
fn capture_args_and_result_are_bounded_and_skip_hides_arguments() {
    let otel = capture();
    assert_eq!(retrieve("pizza", 2, "sk-secret").len(), 2);
    let wf = otel.span("workflow.retrieve");
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_FUNCTION_ARGS).as_deref(),
        Some(r#"query="pizza", top_k=2"#)
    );
    assert_eq!(
        attr_str(&wf, semconv::TOKENTRACE_FUNCTION_RESULT).as_deref(),
        Some(r#"["pizza", "pizza"]"#)
    );
    assert!(
        wf.attributes
            .iter()
            .all(|kv| !kv.value.as_str().contains("sk-secret"))
    );

    let blob = "x".repeat(100_000);
    assert_eq!(huge_arg(&blob), 100_000);
    let args = attr_str(
        &otel.span("workflow.huge_arg"),
        semconv::TOKENTRACE_FUNCTION_ARGS,
    )
    .unwrap();
    assert!(
        args.len() <= tokentrace::__private::MAX_CAPTURE_LEN + 3,
        "{}",
        args.len()
    );
    assert!(args.starts_with("blob=\"xxx") && args.ends_with('…'));
}

/// The only test that touches the process-wide filter; it excludes a module
/// no other test uses, and restores the default.
#[test]
fn filtered_out_workflows_open_no_span_and_call_sites_see_filter_changes() {
    let otel = capture();
    assert_eq!(excluded::hidden_workflow(), 1);
    assert_eq!(otel.spans().len(), 1);
    tokentrace::set_workflow_filter(
        WorkflowFilter::all().exclude_module(concat!(module_path!(), "::excluded")),
    );
    assert_eq!(excluded::hidden_workflow(), 1);
    tokentrace::set_workflow_filter(WorkflowFilter::all());
    assert_eq!(excluded::hidden_workflow(), 1);
    assert_eq!(otel.spans().len(), 2, "the excluded call recorded a span");
}

#[tokentrace::workflow]
async fn failing_with_provider_json() -> Result<(), String> {
    Err(r#"provider returned 429: {"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#.to_owned())
}

/// A workflow failing with an error that embeds a provider's raw JSON body
/// shows the provider's message, not the JSON.
#[tokio::test]
async fn a_provider_json_error_reads_as_its_message() {
    let otel = capture();
    assert!(failing_with_provider_json().await.is_err());
    let wf = otel.span("workflow.failing_with_provider_json");
    let readable = "provider returned 429: Rate limit reached for gpt-4o-mini";
    assert_eq!(wf.status, Status::error(readable));
    assert_eq!(
        attr_str(&wf, semconv::EXCEPTION_MESSAGE).as_deref(),
        Some(readable)
    );
}
