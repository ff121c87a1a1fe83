//! `prompt_template!` and `metadata!` scopes, and span fields acting as one.

use opentelemetry::{Array, Value};
use serde_json::json;
use tokentrace_core::semconv;
use tokentrace_subscriber::{EnrichLayer, metadata, prompt_template};

use crate::support::{
    Call, Pipeline, attr, json_attr, llm_call, plain_span, str_attr, workflow_span,
};

fn tags(values: &[&str]) -> Value {
    Value::Array(Array::String(
        values.iter().map(|s| (*s).to_owned().into()).collect(),
    ))
}

#[test]
fn template_attributes_are_on_llm_spans_inside_the_guard_and_absent_outside() {
    let p = Pipeline::new();
    p.run(|| {
        let root = workflow_span("handler");
        let _e = root.enter();
        llm_call("before", Call::default());
        {
            let question = String::from("why is the sky blue?");
            let _t = prompt_template!(
                "Answer using {context}: {question}",
                version = "2.0",
                context = "physics notes",
                question = &question,
                attempt = 2,
            );
            llm_call("inside", Call::default());
            // A plain span under the guard does not carry template attributes.
            let _tool = plain_span("tool").entered();
            llm_call("inside nested", Call::default());
        }
        llm_call("after", Call::default());
    });

    for name in ["inside", "inside nested"] {
        let s = p.span(name);
        assert_eq!(
            str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
            Some("Answer using {context}: {question}"),
            "{name}"
        );
        assert_eq!(
            str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VERSION).as_deref(),
            Some("2.0")
        );
        assert_eq!(
            json_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VARIABLES),
            Some(
                json!({"context": "physics notes", "question": "why is the sky blue?", "attempt": 2})
            )
        );
    }
    for name in ["before", "after", "tool", "handler"] {
        let s = p.span(name);
        assert!(
            attr(&s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).is_none(),
            "{name}"
        );
        assert!(
            attr(&s, semconv::LLM_PROMPT_TEMPLATE_VARIABLES).is_none(),
            "{name}"
        );
    }
}

#[test]
fn metadata_is_on_every_descendant_and_on_the_root() {
    let p = Pipeline::new();
    p.run(|| {
        let root = workflow_span("request");
        let _r = root.enter();
        let sibling = plain_span("sibling before guard");
        drop(sibling);
        let _handler = plain_span("handler").entered();
        let _m = metadata!(
            user_id = "u-17",
            session_id = "s-9",
            tags = ["prod", "v2"],
            customer = "Acme",
            seats = 12,
        );
        let step = workflow_span("step");
        let _s = step.enter();
        llm_call("call", Call::default());
    });

    for name in ["handler", "step", "call", "request"] {
        let s = p.span(name);
        assert_eq!(
            str_attr(&s, semconv::USER_ID).as_deref(),
            Some("u-17"),
            "{name}"
        );
        assert_eq!(
            str_attr(&s, semconv::SESSION_ID).as_deref(),
            Some("s-9"),
            "{name}"
        );
        assert_eq!(
            str_attr(&s, semconv::GEN_AI_CONVERSATION_ID).as_deref(),
            Some("s-9"),
            "{name}"
        );
        assert_eq!(
            attr(&s, semconv::TAG_TAGS),
            Some(&tags(&["prod", "v2"])),
            "{name}"
        );
        assert_eq!(
            json_attr(&s, semconv::METADATA),
            Some(json!({"customer": "Acme", "seats": 12})),
            "{name}"
        );
    }
    let sibling = p.span("sibling before guard");
    assert!(attr(&sibling, semconv::USER_ID).is_none());
    assert!(attr(&sibling, semconv::METADATA).is_none());
}

#[test]
fn nested_guards_innermost_template_wins_and_metadata_merges() {
    let p = Pipeline::new();
    p.run(|| {
        let root = workflow_span("root");
        let _r = root.enter();
        let _m1 = metadata!(
            user_id = "outer-user",
            session_id = "s-1",
            tags = ["a"],
            plan = "free",
            region = "eu"
        );
        let _t1 = prompt_template!("outer {x}", x = 1);
        llm_call("outer call", Call::default());
        let inner = plain_span("inner").entered();
        let _m2 = metadata!(user_id = "inner-user", tags = ["b"], plan = "pro");
        let _t2 = prompt_template!("inner {y}", version = "3", y = 2);
        llm_call("inner call", Call::default());
        drop(inner);
    });

    let outer = p.span("outer call");
    assert_eq!(
        str_attr(&outer, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
        Some("outer {x}")
    );
    assert!(attr(&outer, semconv::LLM_PROMPT_TEMPLATE_VERSION).is_none());
    assert_eq!(
        str_attr(&outer, semconv::USER_ID).as_deref(),
        Some("outer-user")
    );
    assert_eq!(
        json_attr(&outer, semconv::METADATA),
        Some(json!({"plan": "free", "region": "eu"}))
    );

    let inner = p.span("inner call");
    assert_eq!(
        str_attr(&inner, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
        Some("inner {y}")
    );
    assert_eq!(
        str_attr(&inner, semconv::LLM_PROMPT_TEMPLATE_VERSION).as_deref(),
        Some("3")
    );
    assert_eq!(
        json_attr(&inner, semconv::LLM_PROMPT_TEMPLATE_VARIABLES),
        Some(json!({"y": 2}))
    );
    assert_eq!(
        str_attr(&inner, semconv::USER_ID).as_deref(),
        Some("inner-user")
    );
    assert_eq!(
        str_attr(&inner, semconv::SESSION_ID).as_deref(),
        Some("s-1")
    );
    assert_eq!(attr(&inner, semconv::TAG_TAGS), Some(&tags(&["a", "b"])));
    assert_eq!(
        json_attr(&inner, semconv::METADATA),
        Some(json!({"plan": "pro", "region": "eu"}))
    );

    // The root saw both scopes; the inner one was opened last.
    let root = p.span("root");
    assert_eq!(
        str_attr(&root, semconv::USER_ID).as_deref(),
        Some("inner-user")
    );
    assert_eq!(
        json_attr(&root, semconv::METADATA),
        Some(json!({"plan": "pro", "region": "eu"}))
    );
}

#[test]
fn a_dropped_guard_ends_its_effect_even_out_of_order() {
    let p = Pipeline::new();
    p.run(|| {
        let root = workflow_span("root");
        let _r = root.enter();
        let outer = prompt_template!("outer");
        let inner = prompt_template!("inner");
        // Dropping the outer guard first leaves the inner one in force.
        drop(outer);
        llm_call("inner only", Call::default());
        drop(inner);
        llm_call("none", Call::default());
        // A span started under a guard keeps it after the guard drops.
        let t = prompt_template!("kept");
        let child = plain_span("child").entered();
        drop(t);
        llm_call("started after drop", Call::default());
        drop(child);
    });
    assert_eq!(
        str_attr(&p.span("inner only"), semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
        Some("inner")
    );
    assert!(attr(&p.span("none"), semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).is_none());
    // `child` was created while "kept" lived, but the LLM span was created after the drop.
    assert!(
        attr(
            &p.span("started after drop"),
            semconv::LLM_PROMPT_TEMPLATE_TEMPLATE
        )
        .is_none()
    );
}

#[test]
fn an_llm_span_started_under_a_guard_keeps_it_after_the_guard_drops() {
    let p = Pipeline::new();
    p.run(|| {
        let root = workflow_span("root");
        let _r = root.enter();
        let t = prompt_template!("streaming {q}", q = "x");
        let span = crate::support::llm_span("stream");
        drop(t);
        crate::support::record_usage(&span, Call::default());
    });
    assert_eq!(
        str_attr(&p.span("stream"), semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
        Some("streaming {q}")
    );
}

#[test]
fn span_fields_act_like_a_metadata_guard_without_duplicating_keys() {
    let p = Pipeline::new();
    p.run(|| {
        let root = tracing::info_span!(
            "workflow",
            { semconv::OTEL_NAME } = "POST /chat",
            { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
            { semconv::USER_ID } = "header-user",
            { semconv::SESSION_ID } = tracing::field::Empty,
            { semconv::TAG_TAGS } = r#"["beta"]"#,
            { semconv::METADATA } = r#"{"tier":"gold"}"#,
        );
        // Recorded after creation, as an extractor would.
        root.record(semconv::SESSION_ID, "sess-1");
        let _r = root.enter();
        let _m = metadata!(tags = ["guarded"], source = "guard");
        llm_call("call", Call::default());
    });

    let call = p.span("call");
    assert_eq!(
        str_attr(&call, semconv::USER_ID).as_deref(),
        Some("header-user")
    );
    assert_eq!(
        str_attr(&call, semconv::SESSION_ID).as_deref(),
        Some("sess-1")
    );
    assert_eq!(
        attr(&call, semconv::TAG_TAGS),
        Some(&tags(&["beta", "guarded"]))
    );
    assert_eq!(
        json_attr(&call, semconv::METADATA),
        Some(json!({"tier": "gold", "source": "guard"}))
    );

    // The root exported its own fields (once each, strings as recorded);
    // EnrichLayer only adds what it lacked.
    let root = p.span("POST /chat");
    assert_eq!(
        str_attr(&root, semconv::USER_ID).as_deref(),
        Some("header-user")
    );
    assert_eq!(
        str_attr(&root, semconv::TAG_TAGS).as_deref(),
        Some(r#"["beta"]"#)
    );
    assert_eq!(
        str_attr(&root, semconv::METADATA).as_deref(),
        Some(r#"{"tier":"gold"}"#)
    );
    assert_eq!(
        str_attr(&root, semconv::GEN_AI_CONVERSATION_ID).as_deref(),
        Some("sess-1")
    );
}

#[test]
fn variables_and_metadata_are_bounded_and_stay_valid_json() {
    let p = Pipeline::with_layer(
        EnrichLayer::new()
            .no_metrics()
            .max_variables_bytes(64)
            .max_metadata_bytes(48)
            .max_tags(2)
            .max_value_chars(8),
    );
    p.run(|| {
        let root = workflow_span("root");
        let _r = root.enter();
        let long = "x".repeat(10_000);
        let _t = prompt_template!("T", version = "a-very-long-version", doc = &long, n = 1);
        let _m = metadata!(
            user_id = "user-with-a-long-id",
            tags = ["a", "b", "c"],
            blob = &long
        );
        llm_call("call", Call::default());
    });
    let call = p.span("call");
    let vars = str_attr(&call, semconv::LLM_PROMPT_TEMPLATE_VARIABLES).expect("variables");
    assert!(vars.len() <= 64, "{vars}");
    let parsed: serde_json::Value = serde_json::from_str(&vars).expect("valid JSON");
    assert!(
        parsed["doc"]
            .as_str()
            .expect("cut, not dropped")
            .ends_with('…')
    );
    let meta = str_attr(&call, semconv::METADATA).expect("metadata");
    assert!(meta.len() <= 48, "{meta}");
    serde_json::from_str::<serde_json::Value>(&meta).expect("valid JSON");
    assert_eq!(
        str_attr(&call, semconv::USER_ID).as_deref(),
        Some("user-wi…")
    );
    assert_eq!(
        str_attr(&call, semconv::LLM_PROMPT_TEMPLATE_VERSION).as_deref(),
        Some("a-very-…")
    );
    assert_eq!(attr(&call, semconv::TAG_TAGS), Some(&tags(&["a", "b"])));
    // variables: `doc` cut and `n` no longer fitting after it; metadata
    // `blob` cut; user id; version; one tag over the limit.
    assert_eq!(
        crate::support::i64_attr(&call, semconv::TOKENTRACE_DROPPED_VALUES),
        Some(6)
    );
}

/// A named template: `gen_ai.prompt.name` / `.version` beside the
/// OpenInference keys, and `gen_ai.prompt.variable.<key>` only when opted
/// in. The unnamed form keeps working and writes no `gen_ai.prompt.name`.
#[test]
fn named_templates_write_the_genai_prompt_attributes() {
    for opt_in in [false, true] {
        let p = Pipeline::with_layer(EnrichLayer::new().no_metrics().prompt_variables(opt_in));
        p.run(|| {
            let root = workflow_span("handler");
            let _e = root.enter();
            {
                let _t = prompt_template!(
                    name = "answer-question",
                    "Answer {name}: {question}",
                    version = "2.0",
                    name = "Ada",
                    question = "why?",
                    attempt = 2,
                );
                llm_call("named", Call::default());
            }
            {
                let _t = prompt_template!(name = String::from("bare"), "No variables");
                llm_call("bare", Call::default());
            }
            {
                let _t = prompt_template!("Unnamed {x}", x = 1);
                llm_call("unnamed", Call::default());
            }
        });
        let s = p.span("named");
        assert_eq!(
            str_attr(&s, semconv::GEN_AI_PROMPT_NAME).as_deref(),
            Some("answer-question")
        );
        assert_eq!(
            str_attr(&s, semconv::GEN_AI_PROMPT_VERSION).as_deref(),
            Some("2.0")
        );
        assert_eq!(
            str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VERSION).as_deref(),
            Some("2.0")
        );
        assert_eq!(
            str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
            Some("Answer {name}: {question}")
        );
        // After the template text, `name` is a variable like any other.
        assert_eq!(
            json_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VARIABLES),
            Some(json!({"name": "Ada", "question": "why?", "attempt": 2}))
        );
        let variable = |span: &opentelemetry_sdk::trace::SpanData, key: &str| {
            str_attr(span, &format!("gen_ai.prompt.variable.{key}"))
        };
        if opt_in {
            assert_eq!(variable(&s, "name").as_deref(), Some("Ada"));
            assert_eq!(variable(&s, "question").as_deref(), Some("why?"));
            // Strings on the wire: numbers as their JSON text.
            assert_eq!(variable(&s, "attempt").as_deref(), Some("2"));
        } else {
            assert!(
                !s.attributes
                    .iter()
                    .any(|kv| kv.key.as_str().starts_with("gen_ai.prompt.variable")),
                "{:?}",
                s.attributes
            );
        }
        let bare = p.span("bare");
        assert_eq!(
            str_attr(&bare, semconv::GEN_AI_PROMPT_NAME).as_deref(),
            Some("bare")
        );
        assert!(attr(&bare, semconv::GEN_AI_PROMPT_VERSION).is_none());
        let unnamed = p.span("unnamed");
        assert!(attr(&unnamed, semconv::GEN_AI_PROMPT_NAME).is_none());
        assert_eq!(
            str_attr(&unnamed, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
            Some("Unnamed {x}")
        );
        assert_eq!(
            variable(&unnamed, "x").as_deref(),
            if opt_in { Some("1") } else { None }
        );
    }
}

/// Builder form, and the bounds: a long name is cut to `max_value_chars`.
#[test]
fn prompt_template_builder_names_and_bounds() {
    let p = Pipeline::with_layer(
        EnrichLayer::new()
            .no_metrics()
            .prompt_variables(true)
            .max_value_chars(8),
    );
    p.run(|| {
        let root = workflow_span("handler");
        let _e = root.enter();
        let _t = tokentrace_subscriber::PromptTemplate::new("T {doc}")
            .name("a-rather-long-template-name")
            .version("1")
            .variable("doc", "0123456789abcdef")
            .enter();
        llm_call("built", Call::default());
    });
    let s = p.span("built");
    let name = str_attr(&s, semconv::GEN_AI_PROMPT_NAME).unwrap();
    assert!(
        name.starts_with("a-rathe") && name.chars().count() <= 8,
        "{name}"
    );
    let doc = str_attr(&s, "gen_ai.prompt.variable.doc").unwrap();
    assert!(
        doc.starts_with("0123456") && doc.chars().count() <= 8,
        "{doc}"
    );
    assert!(attr(&s, semconv::TOKENTRACE_DROPPED_VALUES).is_some());
}
