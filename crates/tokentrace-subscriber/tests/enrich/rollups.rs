//! Roll-ups: workflow spans and the root carry the sums of the LLM calls
//! beneath them, as the exporter receives them.

use std::collections::HashMap;

use opentelemetry::Value;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::semconv;

use crate::support::{
    Call, Pipeline, attr, f64_attr, i64_attr, llm_call, llm_span, plain_span, record_failure,
    record_usage, workflow_span,
};

const ROLLED_UP: [(&str, &str); 6] = [
    (
        semconv::ROLLUP_INPUT_TOKENS,
        semconv::GEN_AI_USAGE_INPUT_TOKENS,
    ),
    (
        semconv::ROLLUP_OUTPUT_TOKENS,
        semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
    ),
    (
        semconv::ROLLUP_CACHE_READ_TOKENS,
        semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    ),
    (
        semconv::ROLLUP_CACHE_WRITE_TOKENS,
        semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    ),
    (
        semconv::ROLLUP_REASONING_TOKENS,
        semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    ),
    (
        semconv::ROLLUP_TOTAL_TOKENS,
        semconv::GEN_AI_USAGE_TOTAL_TOKENS,
    ),
];

/// The exported LLM spans beneath `ancestor`, found through parent ids.
fn llm_descendants<'a>(spans: &'a [SpanData], ancestor: &SpanData) -> Vec<&'a SpanData> {
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let target = ancestor.span_context.span_id();
    spans
        .iter()
        .filter(|s| attr(s, semconv::TOKENTRACE_SPAN_TYPE) == Some(&Value::from("llm")))
        .filter(|s| {
            let mut parent = s.parent_span_id;
            while let Some(p) = by_id.get(&parent) {
                if p.span_context.span_id() == target {
                    return true;
                }
                parent = p.parent_span_id;
            }
            false
        })
        .collect()
}

/// Asserts `span`'s roll-ups equal the sums over the exported LLM spans beneath it.
fn assert_rollups_sum_children(spans: &[SpanData], span: &SpanData) {
    let children = llm_descendants(spans, span);
    assert!(!children.is_empty(), "{} has LLM calls beneath", span.name);
    for (rollup, usage) in ROLLED_UP {
        let expected: i64 = children
            .iter()
            .map(|c| i64_attr(c, usage).unwrap_or(0))
            .sum();
        assert_eq!(
            i64_attr(span, rollup),
            Some(expected),
            "{} {rollup}",
            span.name
        );
    }
    let cost: f64 = children
        .iter()
        .map(|c| f64_attr(c, semconv::COST_TOTAL_USD).unwrap_or(0.0))
        .sum();
    let got = f64_attr(span, semconv::ROLLUP_COST_USD).expect("cost roll-up");
    assert!((got - cost).abs() < 1e-12, "{}: {got} != {cost}", span.name);
    let calls = i64::try_from(children.len()).expect("small");
    assert_eq!(
        i64_attr(span, semconv::ROLLUP_LLM_CALLS),
        Some(calls),
        "{}",
        span.name
    );
    let errors = children
        .iter()
        .filter(|c| attr(c, semconv::ERROR_TYPE).is_some())
        .count();
    assert_eq!(
        i64_attr(span, semconv::ROLLUP_ERRORS),
        Some(i64::try_from(errors).expect("small")),
        "{}",
        span.name
    );
}

#[test]
fn rollups_equal_the_sum_of_children_with_nested_workflows_and_a_failed_call() {
    let p = Pipeline::new();
    p.run(|| {
        let agent = workflow_span("agent").entered();
        llm_call(
            "a",
            Call {
                input: 100,
                output: 50,
                cache_read: 40,
                cache_write: 10,
                reasoning: 20,
                cost: 0.0125,
            },
        );
        {
            let _retrieve = workflow_span("retrieve").entered();
            llm_call(
                "b",
                Call {
                    input: 30,
                    output: 7,
                    cost: 0.002,
                    ..Call::default()
                },
            );
            {
                let _rerank = workflow_span("rerank").entered();
                let failed = llm_span("c");
                record_failure(&failed, "rate_limit_exceeded");
                drop(failed);
                llm_call(
                    "d",
                    Call {
                        input: 5,
                        output: 5,
                        reasoning: 2,
                        cost: 0.0004,
                        ..Call::default()
                    },
                );
            }
        }
        {
            let _tool = plain_span("tool").entered();
            llm_call(
                "e",
                Call {
                    input: 1,
                    output: 2,
                    cache_read: 1,
                    cost: 0.00001,
                    ..Call::default()
                },
            );
        }
        drop(agent);
    });

    let spans = p.spans();
    for name in ["agent", "retrieve", "rerank"] {
        assert_rollups_sum_children(&spans, &p.span(name));
    }
    // Hand-checked totals for the root, so the helper cannot agree with itself by accident.
    let agent = p.span("agent");
    assert_eq!(i64_attr(&agent, semconv::ROLLUP_INPUT_TOKENS), Some(136));
    assert_eq!(i64_attr(&agent, semconv::ROLLUP_LLM_CALLS), Some(5));
    assert_eq!(i64_attr(&agent, semconv::ROLLUP_ERRORS), Some(1));
    assert_eq!(i64_attr(&p.span("rerank"), semconv::ROLLUP_ERRORS), Some(1));
    assert_eq!(
        i64_attr(&p.span("retrieve"), semconv::ROLLUP_LLM_CALLS),
        Some(3)
    );
    // Plain spans carry no roll-ups and no latency.
    let tool = p.span("tool");
    assert!(attr(&tool, semconv::ROLLUP_LLM_CALLS).is_none());
    assert!(attr(&tool, semconv::PERFORMANCE_LATENCY_MS).is_none());
    // Workflow and LLM spans carry their latency.
    for name in ["agent", "retrieve", "a", "c"] {
        let ms = f64_attr(&p.span(name), semconv::PERFORMANCE_LATENCY_MS).expect("latency");
        assert!((0.0..60_000.0).contains(&ms), "{name}: {ms}");
    }
}

#[test]
fn a_root_that_is_not_a_workflow_gets_rollups_when_it_has_llm_calls() {
    let p = Pipeline::new();
    p.run(|| {
        let _root = plain_span("job").entered();
        llm_call(
            "x",
            Call {
                input: 3,
                output: 4,
                cost: 0.5,
                ..Call::default()
            },
        );
        llm_call(
            "y",
            Call {
                input: 1,
                output: 1,
                cost: 0.25,
                ..Call::default()
            },
        );
    });
    p.run(|| {
        let _root = plain_span("idle").entered();
    });
    let spans = p.spans();
    assert_rollups_sum_children(&spans, &p.span("job"));
    assert!(attr(&p.span("idle"), semconv::ROLLUP_LLM_CALLS).is_none());
}

#[test]
fn a_workflow_without_llm_calls_says_so_with_one_attribute() {
    let p = Pipeline::new();
    p.run(|| {
        let _outer = workflow_span("outer").entered();
        let _tool = workflow_span("tool").entered();
    });
    for name in ["outer", "tool"] {
        let w = p.span(name);
        assert_eq!(i64_attr(&w, semconv::ROLLUP_LLM_CALLS), Some(0), "{name}");
        for key in [
            semconv::ROLLUP_INPUT_TOKENS,
            semconv::ROLLUP_TOTAL_TOKENS,
            semconv::ROLLUP_COST_USD,
            semconv::ROLLUP_ERRORS,
        ] {
            assert!(attr(&w, key).is_none(), "{name}: {key}");
        }
        assert!(
            f64_attr(&w, semconv::PERFORMANCE_LATENCY_MS).is_some(),
            "{name}"
        );
    }
}

#[test]
fn integer_token_attributes_are_exported_as_i64() {
    let p = Pipeline::new();
    p.run(|| {
        let _w = workflow_span("w").entered();
        let span = llm_span("call");
        record_usage(
            &span,
            Call {
                input: 12,
                output: 34,
                ..Call::default()
            },
        );
    });
    let call = p.span("call");
    assert_eq!(
        attr(&call, semconv::GEN_AI_USAGE_INPUT_TOKENS),
        Some(&Value::I64(12))
    );
    assert_eq!(
        attr(&call, semconv::GEN_AI_USAGE_TOTAL_TOKENS),
        Some(&Value::I64(46))
    );
    let w = p.span("w");
    assert_eq!(
        attr(&w, semconv::ROLLUP_OUTPUT_TOKENS),
        Some(&Value::I64(34))
    );
    assert_eq!(attr(&w, semconv::ROLLUP_LLM_CALLS), Some(&Value::I64(1)));
    assert!(matches!(
        attr(&w, semconv::ROLLUP_COST_USD),
        Some(Value::F64(_))
    ));
}

/// Pins a tracing-opentelemetry 0.34 behaviour the span contract must avoid:
/// `u64` field values reach the exporter as *strings* (its visitor has no
/// `record_u64`), so producers record counts as `i64`. EnrichLayer itself
/// reads both.
#[test]
fn u64_fields_export_as_strings_but_still_roll_up() {
    let p = Pipeline::new();
    p.run(|| {
        let _w = workflow_span("w").entered();
        let span = llm_span("call");
        span.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 7_u64);
    });
    let call = p.span("call");
    assert_eq!(
        attr(&call, semconv::GEN_AI_USAGE_INPUT_TOKENS),
        Some(&Value::from("7"))
    );
    assert_eq!(
        i64_attr(&p.span("w"), semconv::ROLLUP_INPUT_TOKENS),
        Some(7)
    );
}
