//! The whole service against the mocks, with the facade's pipeline exporting
//! to an in-memory exporter: span names, parentage, user/session, tokens
//! (derived from the mocks' deterministic counts), templates and roll-ups.

use std::collections::HashMap;
use std::time::Duration;

use crate::mocks::{MockProviders, count_tokens, reply_tokens};
use axum::body::Body;
use axum::http::Request;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tokentrace_core::semconv;
use tower::ServiceExt as _;

use super::*;

fn attrs(span: &SpanData) -> HashMap<String, Value> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.clone()))
        .collect()
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attrs(span).get(key) {
        Some(Value::I64(v)) => *v,
        other => panic!("{key} on {}: {other:?}", span.name),
    }
}

fn int_or_zero(span: &SpanData, key: &str) -> i64 {
    match attrs(span).get(key) {
        Some(Value::I64(v)) => *v,
        _ => 0,
    }
}

fn string(span: &SpanData, key: &str) -> String {
    attrs(span)
        .get(key)
        .map(|v| v.as_str().into_owned())
        .unwrap_or_else(|| panic!("{key} missing on {}", span.name))
}

async fn post_chat(
    app: Router,
    user: &str,
    message: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let req = Request::post("/chat")
        .header("content-type", "application/json")
        .header("x-user-id", user)
        .header("x-session-id", "s-test")
        .body(Body::from(
            serde_json::json!({"message": message}).to_string(),
        ))
        .expect("request");
    let resp = app.oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let trace = resp
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        trace,
        serde_json::from_slice(&body).expect("json body"),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn one_request_is_one_priced_trace_with_every_step() {
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = tokentrace::Telemetry::builder()
        .service_name("agent-service-test")
        .no_store()
        .span_exporter(exporter.clone())
        .build()
        .expect("pipeline");
    let _default = tracing::dispatcher::set_default(&dispatch);
    let mocks = MockProviders::builder()
        .chunk_delay(Duration::ZERO)
        .start()
        .await
        .expect("mocks");
    let app = app(Config::mock(&mocks));

    let question = "How are invoices for extra usage calculated";
    let (status, trace_header, body) = post_chat(app.clone(), "u-ada", question).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "openai");
    assert_eq!(body["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(body["sources"].as_array().map(Vec::len), Some(3));
    let trace_id = body["trace_id"].as_str().expect("trace id").to_owned();
    assert_eq!(trace_header.as_deref(), Some(trace_id.as_str()));

    guard.flush();
    let spans = exporter.get_finished_spans().expect("spans");
    let by_name = |name: &str| -> &SpanData {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
            panic!(
                "no span {name}: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };
    for s in &spans {
        assert_eq!(
            format!("{:032x}", s.span_context.trace_id()),
            trace_id,
            "{}",
            s.name
        );
    }
    let root = by_name("POST /chat");
    let answer = by_name("workflow.answer");
    let retrieve = by_name("workflow.retrieve");
    let generate = by_name("workflow.generate");
    let summarise = by_name("workflow.summarise");
    let embed = by_name("embeddings text-embedding-3-small");
    let chat = by_name("chat gpt-4o-mini");
    let gemini = by_name("generate_content gemini-2.5-flash");
    assert_eq!(answer.parent_span_id, root.span_context.span_id());
    for step in [retrieve, generate, summarise] {
        assert_eq!(
            step.parent_span_id,
            answer.span_context.span_id(),
            "{}",
            step.name
        );
    }
    assert_eq!(embed.parent_span_id, retrieve.span_context.span_id());
    assert_eq!(chat.parent_span_id, generate.span_context.span_id());
    assert_eq!(gemini.parent_span_id, summarise.span_context.span_id());
    let query = spans
        .iter()
        .find(|s| {
            s.parent_span_id == retrieve.span_context.span_id() && s.name.starts_with("query")
        })
        .expect("a pinecone query span under retrieve");
    assert_eq!(int(query, semconv::PINECONE_USAGE_READ_UNITS), 6);

    // Header metadata and the metadata! guard reach the LLM spans.
    assert_eq!(string(chat, semconv::USER_ID), "u-ada");
    assert_eq!(string(chat, semconv::SESSION_ID), "s-test");
    assert!(string(chat, "metadata").contains("\"channel\":\"web\""));

    // Tokens: the mocks count words.
    let q = count_tokens(question);
    assert_eq!(
        int(embed, semconv::GEN_AI_USAGE_INPUT_TOKENS),
        i64::try_from(q).expect("small")
    );
    let chat_in = int(chat, semconv::GEN_AI_USAGE_INPUT_TOKENS);
    let chat_out = int(chat, semconv::GEN_AI_USAGE_OUTPUT_TOKENS);
    assert_eq!(
        chat_out,
        i64::try_from(reply_tokens(u64::try_from(chat_in).expect("positive"))).expect("small")
    );
    let answer_text = body["answer"].as_str().expect("answer");
    assert_eq!(
        count_tokens(answer_text),
        u64::try_from(chat_out).expect("positive")
    );

    // The template guard: on the chat span, with its variables.
    assert!(string(chat, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).contains("{question}"));
    assert_eq!(string(chat, semconv::LLM_PROMPT_TEMPLATE_VERSION), "3");
    assert!(string(chat, semconv::LLM_PROMPT_TEMPLATE_VARIABLES).contains(question));
    assert_eq!(string(gemini, semconv::LLM_PROMPT_TEMPLATE_VERSION), "1");

    // Roll-ups on the request span: three LLM calls, their tokens summed.
    let llm = [embed, chat, gemini];
    let total: i64 = llm
        .iter()
        .map(|s| {
            int(s, semconv::GEN_AI_USAGE_INPUT_TOKENS)
                + int_or_zero(s, semconv::GEN_AI_USAGE_OUTPUT_TOKENS)
        })
        .sum();
    assert_eq!(int(root, semconv::ROLLUP_LLM_CALLS), 3);
    assert_eq!(int(root, semconv::ROLLUP_TOTAL_TOKENS), total);
    assert!(matches!(attrs(root).get(semconv::ROLLUP_COST_USD), Some(Value::F64(c)) if *c > 0.0));
}

#[tokio::test(flavor = "current_thread")]
async fn anthropic_users_get_cached_prompts_and_failures_are_errors() {
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = tokentrace::Telemetry::builder()
        .no_store()
        .span_exporter(exporter.clone())
        .build()
        .expect("pipeline");
    let _default = tracing::dispatcher::set_default(&dispatch);
    let mocks = MockProviders::builder()
        .chunk_delay(Duration::ZERO)
        .start()
        .await
        .expect("mocks");
    let app = app(Config::mock(&mocks));

    let (s1, _, b1) = post_chat(app.clone(), "u-grace", "Can I export my data as Parquet").await;
    let (s2, _, _) = post_chat(app.clone(), "u-grace", "Where is my data stored").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1["model"], "claude-sonnet-4-5-20250929");
    let (s3, _, b3) = post_chat(app, "u-ada", "Please [[rate-limit]] me").await;
    assert_eq!(s3, 429, "{b3}");

    guard.flush();
    let spans = exporter.get_finished_spans().expect("spans");
    let mut claude: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "chat claude-sonnet-4-5")
        .collect();
    claude.sort_by_key(|s| s.start_time);
    assert_eq!(claude.len(), 2);
    let system = int(claude[0], semconv::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS);
    assert!(system > 50);
    assert_eq!(
        int(claude[1], semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        system
    );

    // The rate-limited request (and only it) is an error workflow.
    let is_error = |s: &&&SpanData| matches!(s.status, opentelemetry::trace::Status::Error { .. });
    let answers: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "workflow.answer")
        .collect();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers.iter().filter(is_error).count(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn env_keys_switch_to_real_providers_and_are_never_printed() {
    let mocks = MockProviders::start().await.expect("mocks");
    let mock = Config::mock(&mocks);
    let vars: HashMap<&str, &str> = [
        ("OPENAI_API_KEY", "sk-secret-123"),
        ("ANTHROPIC_BASE_URL", "http://gw:8080"),
    ]
    .into_iter()
    .collect();
    let cfg = mock
        .clone()
        .with_vars(|k| vars.get(k).map(|v| (*v).to_owned()));
    assert!(cfg.openai.is_real());
    assert_eq!(cfg.openai.base_url, "https://api.openai.com/v1");
    // No Anthropic key: its base URL variable alone changes nothing.
    assert_eq!(cfg.anthropic, mock.anthropic);
    assert!(!cfg.anthropic.is_real());
    let printed = format!("{cfg:?}\n{}", cfg.describe().join("\n"));
    assert!(!printed.contains("sk-secret-123"), "{printed}");
    assert!(printed.contains("<redacted>"));
    assert!(cfg.describe()[0].contains("real API"));
}
