//! Real rig-core 0.44 over `rig-reqwest`'s `ReqwestMiddlewareClient` with
//! `LlmMiddleware`, against a loopback mock replaying the recordings:
//! Responses API (rig's default route for OpenAI) and Chat Completions,
//! unary and streamed, in a workflow and outside any. rig's own `gen_ai`
//! span and tokentrace's LLM span describe one call: the export (a backend
//! summing `gen_ai.usage.*`), the workflow roll-ups and the store count it
//! once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use rig_core::providers::openai::OpenAIConfig;
use tokentrace::store::{GroupBy, Store, TraceFilter};
use tokentrace::{LlmMiddleware, Telemetry};
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::{Provider, Usage, semconv};
use tokentrace_test_support::{attr, attr_str};
use tracing::Instrument;

fn fixture_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tokentrace-core/tests/fixtures/openai")
}

/// A recording: body, content type, expected usage and response model.
struct Rec {
    body: Vec<u8>,
    content_type: String,
    usage: Usage,
    response_model: String,
}

fn rec(name: &str) -> Rec {
    let dir = fixture_dir();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.meta.json"))).unwrap())
            .unwrap();
    let exp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap())
            .unwrap();
    let ext = if meta["format"] == "sse" {
        "sse"
    } else {
        "json"
    };
    Rec {
        body: std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap(),
        content_type: meta["content_type"].as_str().unwrap().to_owned(),
        usage: serde_json::from_value(exp["usage"].clone()).unwrap(),
        response_model: exp["response_model"].as_str().unwrap().to_owned(),
    }
}

const RESPONSES: &str = "test_responses_0";
const RESPONSES_STREAM: &str = "test_responses_streaming_with_content_0";
const CHAT: &str = "test_openai_prompt_caching_0";
const CHAT_STREAM: &str = "test_run_stream_sync_streams_real_model_0";

/// Serves the recording matching the path and the request's `stream` flag;
/// keeps (path, stream) of every request.
async fn mock() -> (SocketAddr, Arc<Mutex<Vec<(String, bool)>>>) {
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let seen = seen2.clone();
        async move {
            let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let stream = req["stream"] == true;
            let path = uri.path().to_owned();
            seen.lock().unwrap().push((path.clone(), stream));
            let name = match (path.as_str(), stream) {
                ("/v1/responses", false) => RESPONSES,
                ("/v1/responses", true) => RESPONSES_STREAM,
                ("/v1/chat/completions", false) => CHAT,
                ("/v1/chat/completions", true) => CHAT_STREAM,
                _ => panic!("unexpected request {path}"),
            };
            let r = rec(name);
            axum::http::Response::builder()
                .status(200)
                .header("content-type", r.content_type)
                .body(axum::body::Body::from(r.body))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn rig_openai(addr: SocketAddr) -> rig_core::providers::openai::OpenAI {
    let inner = reqwest::Client::builder()
        .resolve("api.openai.com", addr)
        .build()
        .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new())
        .build();
    OpenAIConfig::new("sk-rig-test-secret")
        .with_base_url(format!("http://api.openai.com:{}/v1", addr.port()))
        .connect(rig_reqwest::ReqwestMiddlewareClient::from(http))
}

fn count(v: &Value) -> i64 {
    match v {
        Value::I64(i) => *i,
        Value::String(s) => s.as_str().parse().unwrap(),
        other => panic!("not a count: {other:?}"),
    }
}

/// What a backend that sums `key` over every exported span sees.
fn summed(spans: &[SpanData], key: &str) -> i64 {
    spans
        .iter()
        .flat_map(|s| &s.attributes)
        .filter(|kv| kv.key.as_str() == key)
        .map(|kv| count(&kv.value))
        .sum()
}

fn typed<'a>(spans: &'a [SpanData], t: &str) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| attr_str(s, semconv::TOKENTRACE_SPAN_TYPE).as_deref() == Some(t))
        .collect()
}

async fn workload(openai: &rig_core::providers::openai::OpenAI) {
    async {
        // Responses API, rig's default completion route for OpenAI.
        let r = openai
            .completion("gpt-4.1-nano")
            .call("What is the capital of France?")
            .await
            .unwrap();
        drop(r);
        let mut s = openai
            .completion("gpt-4.1-nano")
            .stream("What is 2+2?")
            .unwrap();
        let mut items = 0;
        while let Some(item) = s.next().await {
            item.unwrap();
            items += 1;
        }
        assert!(items > 1, "{items} stream items");
        // Chat Completions.
        openai
            .chat("gpt-4o-mini")
            .call("Summarise the article.")
            .await
            .unwrap();
        // Streamed and folded by rig (`finish`), which then records usage
        // on its own span.
        openai
            .chat("gpt-4o-mini")
            .stream("What is the capital of the UK?")
            .unwrap()
            .finish()
            .await
            .unwrap();
    }
    .instrument(tracing::info_span!(
        "workflow",
        otel.name = "workflow.agent",
        { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
        { semconv::GEN_AI_WORKFLOW_NAME } = "agent",
    ))
    .await;
    // A call outside any workflow.
    openai
        .completion("gpt-4.1-nano")
        .call("What is the capital of France?")
        .await
        .unwrap();
}

#[tokio::test]
async fn rig_calls_are_counted_once_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .store(&path)
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    let (addr, seen) = mock().await;
    let openai = rig_openai(addr);
    {
        let _default = tracing::dispatcher::set_default(&dispatch);
        workload(&openai).await;
    }
    guard.flush();
    let spans = exporter.get_finished_spans().unwrap();
    drop(guard);

    // rig sent what we think it sent.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("/v1/responses".to_owned(), false),
            ("/v1/responses".to_owned(), true),
            ("/v1/chat/completions".to_owned(), false),
            ("/v1/chat/completions".to_owned(), true),
            ("/v1/responses".to_owned(), false),
        ]
    );
    let calls = [RESPONSES, RESPONSES_STREAM, CHAT, CHAT_STREAM, RESPONSES].map(rec);
    let input: u64 = calls.iter().map(|r| r.usage.input_tokens.unwrap()).sum();
    let output: u64 = calls.iter().map(|r| r.usage.output_tokens.unwrap()).sum();
    let prices = PriceCatalogue::builtin();
    let costs: Vec<f64> = calls
        .iter()
        .map(|r| {
            prices
                .cost(Some(Provider::OpenAi), &r.response_model, &r.usage)
                .unwrap()
                .total_usd
        })
        .collect();

    // On the wire: five calls, each counted once by a backend summing
    // gen_ai.usage.*.
    assert_eq!(
        summed(&spans, semconv::GEN_AI_USAGE_INPUT_TOKENS),
        input as i64
    );
    assert_eq!(
        summed(&spans, semconv::GEN_AI_USAGE_OUTPUT_TOKENS),
        output as i64
    );
    let llm = typed(&spans, "llm");
    let framework = typed(&spans, "framework");
    assert_eq!(
        llm.len(),
        5,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert_eq!(framework.len(), 5);
    // Nothing was priced as a lone foreign span.
    assert!(
        spans
            .iter()
            .all(|s| attr(s, semconv::TOKENTRACE_SPAN_SOURCE).is_none())
    );
    let mut llm_sorted = llm.clone();
    llm_sorted.sort_by_key(|s| s.start_time);
    for (i, s) in llm_sorted.iter().enumerate() {
        let r = &calls[i];
        // Each LLM span sits directly under one of rig's spans.
        let parent = framework
            .iter()
            .find(|f| f.span_context.span_id() == s.parent_span_id)
            .unwrap_or_else(|| panic!("LLM span {} not under rig's span", s.name));
        assert_eq!(
            attr_str(parent, semconv::GEN_AI_PROVIDER_NAME).as_deref(),
            Some("openai")
        );
        // rig's usage moved off gen_ai.usage.*, kept for reading; no cost.
        assert!(
            parent
                .attributes
                .iter()
                .all(|kv| !kv.key.as_str().starts_with(semconv::prefixes::GEN_AI_USAGE)),
            "{:?}",
            parent.attributes
        );
        // rig records usage on its span when it folds the reply (a unary
        // call, or a stream read through `finish`), not for a stream read
        // item by item: there the LLM span alone has it.
        let rig_usage = (i != 1).then(|| r.usage.input_tokens.unwrap() as i64);
        assert_eq!(
            attr(parent, semconv::TOKENTRACE_FRAMEWORK_USAGE_INPUT_TOKENS).map(count),
            rig_usage,
            "call {i}"
        );
        assert_eq!(attr(parent, semconv::COST_TOTAL_USD), None);
        // The LLM span carries usage and cost.
        assert_eq!(
            attr(s, semconv::GEN_AI_USAGE_INPUT_TOKENS),
            Some(&Value::I64(r.usage.input_tokens.unwrap() as i64))
        );
        assert_eq!(
            attr(s, semconv::GEN_AI_USAGE_OUTPUT_TOKENS),
            Some(&Value::I64(r.usage.output_tokens.unwrap() as i64))
        );
        assert_eq!(
            attr_str(s, semconv::GEN_AI_RESPONSE_MODEL).as_deref(),
            Some(r.response_model.as_str())
        );
        assert_eq!(
            attr(s, semconv::COST_TOTAL_USD),
            Some(&Value::F64(costs[i]))
        );
        for kv in &s.attributes {
            assert!(!kv.value.as_str().contains("sk-rig-test-secret"));
        }
    }

    // Roll-ups: four calls in the workflow.
    let wf: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "workflow.agent")
        .collect();
    assert_eq!(wf.len(), 1);
    let in_wf: u64 = calls[..4]
        .iter()
        .map(|r| r.usage.input_tokens.unwrap())
        .sum();
    assert_eq!(attr(wf[0], semconv::ROLLUP_LLM_CALLS), Some(&Value::I64(4)));
    assert_eq!(
        attr(wf[0], semconv::ROLLUP_INPUT_TOKENS),
        Some(&Value::I64(in_wf as i64))
    );
    match attr(wf[0], semconv::ROLLUP_COST_USD) {
        Some(Value::F64(c)) => assert!((c - costs[..4].iter().sum::<f64>()).abs() < 1e-12),
        other => panic!("{other:?}"),
    }

    // The store agrees: five LLM calls, two traces.
    let store = Store::open(&path).unwrap();
    let models = store.stats(GroupBy::Model).unwrap();
    assert_eq!(models.iter().map(|m| m.count).sum::<u64>(), 5, "{models:?}");
    assert_eq!(models.iter().map(|m| m.input_tokens).sum::<u64>(), input);
    assert_eq!(models.iter().map(|m| m.output_tokens).sum::<u64>(), output);
    let stored_cost: f64 = models.iter().map(|m| m.cost_usd).sum();
    assert!((stored_cost - costs.iter().sum::<f64>()).abs() < 1e-9);
    let agent = store
        .stats(GroupBy::Workflow)
        .unwrap()
        .into_iter()
        .find(|r| r.key == "agent")
        .unwrap();
    assert_eq!(agent.input_tokens, in_wf);
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 2);
    let total: u64 = page.items.iter().map(|t| t.total_tokens).sum();
    assert_eq!(total, input + output);
}
