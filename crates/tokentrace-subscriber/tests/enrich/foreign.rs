//! Other libraries' GenAI spans (rig's `chat`, genai's): priced and rolled
//! up exactly once per call, and marked `framework` when a tokentrace LLM
//! span beneath already counts the call.

use opentelemetry::Value;
use tokentrace_core::semconv;
use tokentrace_core::{PriceCatalogue, Provider, Usage};
use tracing::field::Empty;

use crate::support::{
    Call, Pipeline, attr, f64_attr, i64_attr, llm_span, record_usage, str_attr, values,
    workflow_span,
};

/// A span as rig opens it around a completion call (target `rig::completions`,
/// name `chat`), usage declared Empty and recorded after the response.
fn rig_chat_span() -> tracing::Span {
    tracing::info_span!(
        target: "rig::completions",
        "chat",
        { semconv::GEN_AI_OPERATION_NAME } = "chat",
        { semconv::GEN_AI_PROVIDER_NAME } = "openai",
        { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
        { semconv::GEN_AI_RESPONSE_MODEL } = Empty,
        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
    )
}

fn expected_cost(input: u64, output: u64) -> f64 {
    let usage = Usage {
        input_tokens: Some(input),
        output_tokens: Some(output),
        ..Usage::default()
    };
    PriceCatalogue::builtin()
        .cost(Some(Provider::OpenAi), "gpt-4o-mini", &usage)
        .expect("gpt-4o-mini is in the catalogue")
        .total_usd
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// A foreign span alone is the call: typed `llm`, priced from the catalogue,
/// rolled up onto the workflow once, whatever type the usage was recorded as.
#[test]
fn a_foreign_span_alone_is_priced_once_and_rolled_up_whatever_the_number_type() {
    type Record = fn(&tracing::Span);
    let recorders: [(&str, Record); 5] = [
        ("u64", |s| {
            s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 1200_u64);
            s.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 300_u64);
        }),
        ("i64", |s| {
            s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 1200_i64);
            s.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 300_i64);
        }),
        ("f64", |s| {
            s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 1200.0_f64);
            s.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 300.0_f64);
        }),
        ("str", |s| {
            s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, "1200");
            s.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, "300");
        }),
        ("display", |s| {
            s.record(
                semconv::GEN_AI_USAGE_INPUT_TOKENS,
                tracing::field::display(1200_u32),
            );
            s.record(
                semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
                tracing::field::display(300_u32),
            );
        }),
    ];
    let want = expected_cost(1200, 300);
    for (kind, record) in recorders {
        let p = Pipeline::new();
        p.run(|| {
            workflow_span("agent").in_scope(|| {
                let chat = rig_chat_span();
                record(&chat);
            });
        });
        let chat = p.span("chat");
        assert_eq!(
            str_attr(&chat, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
            Some("llm"),
            "{kind}"
        );
        assert_eq!(
            str_attr(&chat, semconv::TOKENTRACE_SPAN_SOURCE).as_deref(),
            Some("foreign"),
            "{kind}"
        );
        let cost = f64_attr(&chat, semconv::COST_TOTAL_USD).expect(kind);
        assert!(close(cost, want), "{kind}: {cost} vs {want}");
        assert_eq!(values(&chat, semconv::COST_TOTAL_USD).len(), 1, "{kind}");
        assert_eq!(
            str_attr(&chat, semconv::COST_MODEL_NAME).as_deref(),
            Some("gpt-4o-mini"),
            "{kind}"
        );
        assert_eq!(i64_attr(&chat, semconv::COST_PROMPT_TOKENS), Some(1200));
        assert_eq!(i64_attr(&chat, semconv::COST_COMPLETION_TOKENS), Some(300));
        assert_eq!(i64_attr(&chat, semconv::COST_TOTAL_TOKENS), Some(1500));

        let wf = p.span("agent");
        assert_eq!(i64_attr(&wf, semconv::ROLLUP_LLM_CALLS), Some(1), "{kind}");
        assert_eq!(
            i64_attr(&wf, semconv::ROLLUP_INPUT_TOKENS),
            Some(1200),
            "{kind}"
        );
        assert_eq!(i64_attr(&wf, semconv::ROLLUP_OUTPUT_TOKENS), Some(300));
        assert_eq!(i64_attr(&wf, semconv::ROLLUP_TOTAL_TOKENS), Some(1500));
        let rolled = f64_attr(&wf, semconv::ROLLUP_COST_USD).unwrap();
        assert!(close(rolled, want), "{kind}: {rolled}");
    }
}

/// rig's span around tokentrace's LLM span: the LLM span is the call, rig's
/// is typed `framework`, unpriced, and the workflow counts one call.
#[test]
fn a_foreign_span_over_a_tokentrace_llm_span_is_a_framework_span() {
    let p = Pipeline::new();
    p.run(|| {
        workflow_span("agent").in_scope(|| {
            let chat = rig_chat_span();
            chat.in_scope(|| {
                let llm = llm_span("chat gpt-4o-mini");
                record_usage(
                    &llm,
                    Call {
                        input: 3000,
                        output: 23,
                        cost: 0.0005,
                        ..Call::default()
                    },
                );
            });
            // rig records its usage after the call returns (u64: exported as strings).
            chat.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 3000_u64);
            chat.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 23_u64);
        });
    });
    let chat = p.span("chat");
    assert_eq!(
        str_attr(&chat, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("framework")
    );
    assert_eq!(attr(&chat, semconv::TOKENTRACE_SPAN_SOURCE), None);
    assert_eq!(attr(&chat, semconv::COST_TOTAL_USD), None);
    assert_eq!(attr(&chat, semconv::COST_UNKNOWN_MODEL), None);

    let llm = p.span("chat gpt-4o-mini");
    assert_eq!(
        str_attr(&llm, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("llm")
    );
    assert_eq!(values(&llm, semconv::TOKENTRACE_SPAN_TYPE).len(), 1);
    assert_eq!(attr(&llm, semconv::TOKENTRACE_SPAN_SOURCE), None);

    let wf = p.span("agent");
    assert_eq!(i64_attr(&wf, semconv::ROLLUP_LLM_CALLS), Some(1));
    assert_eq!(i64_attr(&wf, semconv::ROLLUP_INPUT_TOKENS), Some(3000));
    assert_eq!(i64_attr(&wf, semconv::ROLLUP_OUTPUT_TOKENS), Some(23));
    assert!(close(
        f64_attr(&wf, semconv::ROLLUP_COST_USD).unwrap(),
        0.0005
    ));
}

/// An agent span of one library over two chat spans of its own (no
/// tokentrace LLM span): each chat is a call, the agent span is framework.
#[test]
fn nested_foreign_spans_count_the_innermost_calls() {
    let p = Pipeline::new();
    p.run(|| {
        let agent = tracing::info_span!(
            target: "rig::agent",
            "invoke_agent",
            { semconv::GEN_AI_OPERATION_NAME } = "invoke_agent",
            { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
        );
        agent.in_scope(|| {
            for _ in 0..2 {
                let chat = rig_chat_span();
                chat.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 100_u64);
                chat.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 10_u64);
            }
        });
        agent.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 200_u64);
    });
    let agent = p.span("invoke_agent");
    assert_eq!(
        str_attr(&agent, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("framework")
    );
    assert_eq!(attr(&agent, semconv::COST_TOTAL_USD), None);
    // The agent span is the root: its roll-up counts the two chats once each.
    assert_eq!(i64_attr(&agent, semconv::ROLLUP_LLM_CALLS), Some(2));
    assert_eq!(i64_attr(&agent, semconv::ROLLUP_INPUT_TOKENS), Some(200));
    let chats: Vec<_> = p.spans().into_iter().filter(|s| s.name == "chat").collect();
    assert_eq!(chats.len(), 2);
    for c in &chats {
        assert_eq!(
            attr(c, semconv::TOKENTRACE_SPAN_TYPE),
            Some(&Value::from("llm"))
        );
        assert!(f64_attr(c, semconv::COST_TOTAL_USD).unwrap() > 0.0);
    }
}

/// A span with GenAI fields that declared its own `tokentrace.span.type`
/// (here `http`) is not foreign: left alone. A span with no token count and
/// no model-plus-operation is not a GenAI call.
#[test]
fn typed_spans_and_spans_without_model_or_usage_are_left_alone() {
    let p = Pipeline::new();
    p.run(|| {
        let _typed = tracing::info_span!(
            "typed",
            { semconv::TOKENTRACE_SPAN_TYPE } = "http",
            { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = 5_i64,
        );
        let _bare = tracing::info_span!(
            target: "genai::chat",
            "bare",
            { semconv::GEN_AI_PROVIDER_NAME } = "openai",
        );
        // A model named as context, with no operation and no usage.
        let _context = tracing::info_span!(
            target: "my_app",
            "context",
            { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
        );
    });
    let typed = p.span("typed");
    assert_eq!(values(&typed, semconv::TOKENTRACE_SPAN_TYPE).len(), 1);
    assert_eq!(attr(&typed, semconv::COST_TOTAL_USD), None);
    let bare = p.span("bare");
    assert_eq!(attr(&bare, semconv::TOKENTRACE_SPAN_TYPE), None);
    let context = p.span("context");
    assert_eq!(attr(&context, semconv::TOKENTRACE_SPAN_TYPE), None);
    assert_eq!(attr(&context, semconv::COST_UNKNOWN_MODEL), None);
}

/// A foreign model the catalogue does not know: typed `llm`, counted, and
/// flagged `cost.unknown_model` rather than given a made-up cost.
#[test]
fn an_unknown_foreign_model_is_counted_without_a_cost() {
    let p = Pipeline::new();
    p.run(|| {
        workflow_span("agent").in_scope(|| {
            let _s = tracing::info_span!(
                target: "genai::chat",
                "chat",
                { semconv::GEN_AI_REQUEST_MODEL } = "house-model-7",
                { semconv::GEN_AI_USAGE_INPUT_TOKENS } = 40_u64,
            );
        });
    });
    let chat = p.span("chat");
    assert_eq!(
        str_attr(&chat, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("llm")
    );
    assert_eq!(
        attr(&chat, semconv::COST_UNKNOWN_MODEL),
        Some(&Value::Bool(true))
    );
    assert_eq!(attr(&chat, semconv::COST_TOTAL_USD), None);
    let wf = p.span("agent");
    assert_eq!(i64_attr(&wf, semconv::ROLLUP_LLM_CALLS), Some(1));
    assert_eq!(i64_attr(&wf, semconv::ROLLUP_INPUT_TOKENS), Some(40));
}
