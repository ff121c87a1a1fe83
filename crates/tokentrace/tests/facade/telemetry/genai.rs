//! Real genai 0.7 (feature `otel`) against a loopback mock replaying the
//! recorded OpenAI Chat Completions bodies, unary and streamed. genai takes
//! only a plain `reqwest::Client`, so `LlmMiddleware` never sees its HTTP
//! calls: genai's own `genai.chat` span is the only description of each
//! call. EnrichLayer prices it from the catalogue as a foreign span
//! (`tokentrace.span.type = "llm"`, `tokentrace.span.source = "foreign"`),
//! and the export, the workflow roll-ups and the store count each call once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use genai::chat::{ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint};
use genai::{Client, ServiceTarget};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tokentrace::Telemetry;
use tokentrace::store::{GroupBy, Store, TraceFilter};
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::{Provider, Usage, semconv};
use tokentrace_test_support::{attr, attr_str};
use tracing::Instrument;

const KEY: &str = "sk-genai-test-secret";
const CHAT: &str = "test_openai_prompt_caching_0";
/// The same prompt again, 1024 of its input tokens read from OpenAI's cache.
const CHAT_CACHED: &str = "test_openai_prompt_caching_1";
const CHAT_STREAM: &str = "test_run_stream_sync_streams_real_model_0";

struct Rec {
    body: Vec<u8>,
    content_type: String,
    usage: Usage,
    response_model: String,
    response_id: String,
}

fn rec(name: &str) -> Rec {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tokentrace-core/tests/fixtures/openai");
    let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&read("meta.json")).unwrap();
    let exp: serde_json::Value = serde_json::from_slice(&read("expected.json")).unwrap();
    let ext = if meta["format"] == "sse" {
        "sse"
    } else {
        "json"
    };
    Rec {
        body: read(ext),
        content_type: meta["content_type"].as_str().unwrap().to_owned(),
        usage: serde_json::from_value(exp["usage"].clone()).unwrap(),
        response_model: exp["response_model"].as_str().unwrap().to_owned(),
        response_id: exp["response_id"].as_str().unwrap().to_owned(),
    }
}

/// What the mock saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    path: String,
    stream: bool,
    include_usage: bool,
    authorization: Option<String>,
}

/// Serves the recorded Chat Completions body matching the `stream` flag:
/// the first unary request gets `CHAT`, the later ones `CHAT_CACHED`.
async fn mock() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen2.clone();
            async move {
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let stream = req["stream"] == true;
                let mut seen = seen.lock().unwrap();
                let earlier_unary = seen.iter().filter(|s| !s.stream).count();
                seen.push(Seen {
                    path: uri.path().to_owned(),
                    stream,
                    include_usage: req["stream_options"]["include_usage"] == true,
                    authorization: headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                });
                drop(seen);
                let r = rec(match (stream, earlier_unary) {
                    (true, _) => CHAT_STREAM,
                    (false, 0) => CHAT,
                    (false, _) => CHAT_CACHED,
                });
                axum::http::Response::builder()
                    .status(200)
                    .header("content-type", r.content_type)
                    .body(axum::body::Body::from(r.body))
                    .unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// genai with its OpenAI adapter pointed at the mock through a service
/// target resolver, over a plain `reqwest::Client` (all genai accepts).
fn genai_client(addr: SocketAddr) -> Client {
    let base = format!("http://{addr}/v1/");
    Client::builder()
        .with_reqwest(reqwest::Client::new())
        .with_service_target_resolver_fn(move |t: ServiceTarget| {
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(base.clone()),
                auth: AuthData::from_single(KEY),
                model: t.model,
            })
        })
        .build()
        .unwrap()
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

fn f64_attr(s: &SpanData, key: &str) -> f64 {
    match attr(s, key) {
        Some(Value::F64(v)) => *v,
        other => panic!("{key} on {}: {other:?}", s.name),
    }
}

async fn workload(client: &Client) {
    async {
        let reply = client
            .exec_chat(
                "gpt-4o-mini",
                ChatRequest::from_user("Summarise the article."),
                None,
            )
            .await
            .unwrap();
        assert!(reply.first_text().unwrap().contains("OpenLLMetry"));
        // Streamed; genai asks for and records usage only with
        // `capture_usage`.
        let opts = ChatOptions::default().with_capture_usage(true);
        let mut stream = client
            .exec_chat_stream(
                "gpt-4o-mini",
                ChatRequest::from_user("What is the weather in Paris?"),
                Some(&opts),
            )
            .await
            .unwrap()
            .stream;
        let mut ended = false;
        while let Some(event) = stream.next().await {
            if let ChatStreamEvent::End(end) = event.unwrap() {
                assert_eq!(end.captured_usage.as_ref().unwrap().prompt_tokens, Some(53));
                ended = true;
            }
        }
        assert!(ended);
        // genai's span for a stream closes when the stream is dropped.
        drop(stream);
    }
    .instrument(tracing::info_span!(
        "workflow",
        otel.name = "workflow.agent",
        { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
        { semconv::GEN_AI_WORKFLOW_NAME } = "agent",
    ))
    .await;
    // A call outside any workflow: genai's span is its trace's root.
    client
        .exec_chat(
            "gpt-4o-mini",
            ChatRequest::from_user("Summarise the article."),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn genai_spans_are_priced_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .store(&path)
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    let (addr, seen) = mock().await;
    let client = genai_client(addr);
    {
        let _default = tracing::dispatcher::set_default(&dispatch);
        workload(&client).await;
    }
    guard.flush();
    let spans = exporter.get_finished_spans().unwrap();
    drop(guard);

    // genai sent what we think it sent, with the key.
    let bearer = Some(format!("Bearer {KEY}"));
    let req = |stream| Seen {
        path: "/v1/chat/completions".to_owned(),
        stream,
        include_usage: stream,
        authorization: bearer.clone(),
    };
    assert_eq!(
        *seen.lock().unwrap(),
        vec![req(false), req(true), req(false)]
    );

    let prices = PriceCatalogue::builtin();
    let chat = rec(CHAT);
    let chat_stream = rec(CHAT_STREAM);
    let chat_cached = rec(CHAT_CACHED);
    // genai records the response model on a unary reply only; a stream's
    // span is priced by the request model.
    let calls = [
        (&chat, Some(chat.response_model.as_str()), "gpt-4o-mini"),
        (&chat_stream, None, "gpt-4o-mini"),
        (
            &chat_cached,
            Some(chat_cached.response_model.as_str()),
            "gpt-4o-mini",
        ),
    ];
    let cost_of = |r: &Rec, model: &str| {
        prices
            .cost(Some(Provider::OpenAi), model, &r.usage)
            .unwrap()
    };

    // Only genai's spans describe the calls: three, each typed llm and
    // marked foreign; no framework span, no other GenAI span.
    let mut genai: Vec<&SpanData> = spans
        .iter()
        .filter(|s| attr(s, semconv::GEN_AI_OPERATION_NAME).is_some())
        .collect();
    genai.sort_by_key(|s| s.start_time);
    assert_eq!(
        genai.len(),
        3,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert!(
        spans
            .iter()
            .all(|s| attr_str(s, semconv::TOKENTRACE_SPAN_TYPE).as_deref() != Some("framework"))
    );
    let mut total_cost = 0.0;
    for (i, (s, (r, response_model, request_model))) in genai.iter().zip(calls).enumerate() {
        assert_eq!(s.name, "chat gpt-4o-mini", "call {i}");
        assert_eq!(s.span_kind, opentelemetry::trace::SpanKind::Client);
        assert_eq!(
            attr_str(s, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
            Some("llm")
        );
        assert_eq!(
            attr_str(s, semconv::TOKENTRACE_SPAN_SOURCE).as_deref(),
            Some("foreign")
        );
        assert_eq!(
            attr_str(s, semconv::GEN_AI_OPERATION_NAME).as_deref(),
            Some("chat")
        );
        assert_eq!(
            attr_str(s, semconv::GEN_AI_PROVIDER_NAME).as_deref(),
            Some("openai")
        );
        assert_eq!(
            attr_str(s, semconv::GEN_AI_REQUEST_MODEL).as_deref(),
            Some(request_model)
        );
        assert_eq!(
            attr_str(s, semconv::GEN_AI_RESPONSE_MODEL).as_deref(),
            response_model,
            "call {i}"
        );
        // genai 0.7.2's OpenAI adapter keeps no response id (`None` in
        // its adapter and streamer): `gen_ai.response.id` is absent.
        assert_eq!(
            attr(s, semconv::GEN_AI_RESPONSE_ID),
            None,
            "{}",
            r.response_id
        );
        // Content capture is off (genai's and tokentrace's default).
        assert_eq!(attr(s, "gen_ai.input.messages"), None);
        assert_eq!(attr(s, "gen_ai.output.messages"), None);
        assert_eq!(attr(s, "gen_ai.request.stream"), Some(&Value::Bool(i == 1)));
        assert_eq!(attr_str(s, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            attr(s, "server.port"),
            Some(&Value::I64(i64::from(addr.port())))
        );
        // genai 0.7.2 records its token counts as i64 (`i64::from(u32)`).
        let input = r.usage.input_tokens.unwrap() as i64;
        let output = r.usage.output_tokens.unwrap() as i64;
        assert_eq!(
            attr(s, semconv::GEN_AI_USAGE_INPUT_TOKENS),
            Some(&Value::I64(input))
        );
        assert_eq!(
            attr(s, semconv::GEN_AI_USAGE_OUTPUT_TOKENS),
            Some(&Value::I64(output))
        );
        // genai drops a zero count (`zero_as_none`): no attribute then.
        let cached = r.usage.cache_read_tokens.filter(|&n| n > 0);
        assert_eq!(
            attr(s, semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            cached.map(|n| Value::I64(n as i64)).as_ref(),
            "call {i}"
        );
        // Priced from the catalogue, exactly, by the model genai recorded.
        let cost = cost_of(r, response_model.unwrap_or(request_model));
        assert_eq!(
            f64_attr(s, semconv::COST_TOTAL_USD),
            cost.total_usd,
            "call {i}"
        );
        assert_eq!(f64_attr(s, semconv::COST_INPUT_COST_USD), cost.prompt_usd());
        assert_eq!(
            f64_attr(s, semconv::COST_OUTPUT_COST_USD),
            cost.completion_usd()
        );
        assert_eq!(
            f64_attr(s, semconv::COST_CACHE_READ_COST_USD),
            cost.cache_read_usd
        );
        assert_eq!(cost.cache_read_usd > 0.0, cached.is_some());
        assert_eq!(f64_attr(s, semconv::LLM_COST_TOTAL), cost.total_usd);
        assert_eq!(
            attr_str(s, semconv::COST_MODEL_NAME).as_deref(),
            Some(cost.model_key.as_str())
        );
        assert_eq!(
            attr_str(s, semconv::COST_SOURCE).as_deref(),
            Some(cost.source.name())
        );
        assert_eq!(
            attr(s, semconv::COST_PROMPT_TOKENS),
            Some(&Value::I64(input))
        );
        assert_eq!(
            attr(s, semconv::COST_COMPLETION_TOKENS),
            Some(&Value::I64(output))
        );
        assert_eq!(
            attr(s, semconv::COST_TOTAL_TOKENS),
            Some(&Value::I64(input + output))
        );
        assert!(cost.total_usd > 0.0);
        total_cost += cost.total_usd;
        // The key reached the mock, never a span.
        for kv in &s.attributes {
            assert!(!kv.value.as_str().contains(KEY), "{kv:?}");
        }
    }
    for s in &spans {
        for kv in &s.attributes {
            assert!(!kv.value.as_str().contains(KEY), "{kv:?}");
        }
    }

    // On the wire: a backend summing gen_ai.usage.* sees each call once.
    let input: i64 = calls
        .iter()
        .map(|c| c.0.usage.input_tokens.unwrap() as i64)
        .sum();
    let output: i64 = calls
        .iter()
        .map(|c| c.0.usage.output_tokens.unwrap() as i64)
        .sum();
    assert_eq!(summed(&spans, semconv::GEN_AI_USAGE_INPUT_TOKENS), input);
    assert_eq!(summed(&spans, semconv::GEN_AI_USAGE_OUTPUT_TOKENS), output);

    // Roll-ups: the workflow holds the first two calls, once each.
    let wf: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "workflow.agent")
        .collect();
    assert_eq!(wf.len(), 1);
    let wf = wf[0];
    assert_eq!(genai[0].parent_span_id, wf.span_context.span_id());
    assert_eq!(genai[1].parent_span_id, wf.span_context.span_id());
    assert_eq!(
        genai[2].parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
    let in_wf = chat.usage.input_tokens.unwrap() + chat_stream.usage.input_tokens.unwrap();
    let out_wf = chat.usage.output_tokens.unwrap() + chat_stream.usage.output_tokens.unwrap();
    assert_eq!(attr(wf, semconv::ROLLUP_LLM_CALLS), Some(&Value::I64(2)));
    assert_eq!(
        attr(wf, semconv::ROLLUP_INPUT_TOKENS),
        Some(&Value::I64(in_wf as i64))
    );
    assert_eq!(
        attr(wf, semconv::ROLLUP_OUTPUT_TOKENS),
        Some(&Value::I64(out_wf as i64))
    );
    let wf_cost =
        f64_attr(genai[0], semconv::COST_TOTAL_USD) + f64_attr(genai[1], semconv::COST_TOTAL_USD);
    assert!((f64_attr(wf, semconv::ROLLUP_COST_USD) - wf_cost).abs() < 1e-12);
    // The call outside any workflow is a trace of its own, counted in no
    // workflow (as tokentrace's own LLM span at a root, it carries its
    // usage and cost itself, no roll-up).
    assert_ne!(genai[2].span_context.trace_id(), wf.span_context.trace_id());

    // The store agrees: three LLM calls, two traces, cost once.
    let store = Store::open(&path).unwrap();
    let models = store.stats(GroupBy::Model).unwrap();
    assert_eq!(models.iter().map(|m| m.count).sum::<u64>(), 3, "{models:?}");
    assert_eq!(
        models.iter().map(|m| m.input_tokens).sum::<u64>(),
        input as u64
    );
    assert_eq!(
        models.iter().map(|m| m.output_tokens).sum::<u64>(),
        output as u64
    );
    let stored_cost: f64 = models.iter().map(|m| m.cost_usd).sum();
    assert!(
        (stored_cost - total_cost).abs() < 1e-9,
        "{stored_cost} vs {total_cost}"
    );
    let agent = store
        .stats(GroupBy::Workflow)
        .unwrap()
        .into_iter()
        .find(|r| r.key == "agent")
        .unwrap();
    // One trace of the workflow, its two calls' tokens and cost once.
    assert_eq!(agent.count, 1);
    assert_eq!(agent.input_tokens, in_wf);
    assert_eq!(agent.output_tokens, out_wf);
    assert!((agent.cost_usd - wf_cost).abs() < 1e-9);
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 2);
    let total: u64 = page.items.iter().map(|t| t.total_tokens).sum();
    assert_eq!(total, (input + output) as u64);
}
