//! Every recording: byte-identical bodies, span shape, usage, cost, finish reasons.

use opentelemetry::Value;
use opentelemetry::trace::Status;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::semconv as sc;
use tokentrace_core::{Provider, ProviderRegistry, Usage};
use tokentrace_reqwest::LlmMiddleware;
use tracing::Instrument;

use crate::support::*;

/// Replays `name` with the body cut at `splits` (fixture default when
/// `None`) and checks everything the span must say about it.
pub(crate) async fn replay(name: &str, splits: Option<Vec<usize>>) {
    let otel = Otel::install();
    let f = fixture(name);
    let mut reply = Reply::from_fixture(&f);
    if let Some(s) = splits {
        reply.splits = s;
        reply.delay = std::time::Duration::ZERO;
    }
    let mock = mock(reply).await;
    let url = reqwest::Url::parse(f.meta["url"].as_str().unwrap()).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let provider = Provider::from_name(f.meta["provider"].as_str().unwrap()).unwrap();
    let mut registry = ProviderRegistry::new();
    if url.port().is_some() {
        // Local servers (Ollama, Weaviate) are detected by host and port.
        registry = registry.host(&format!("{host}:{}", mock.addr.port()), provider);
    }
    let mut target = url.clone();
    target.set_scheme("http").unwrap();
    target.set_port(Some(mock.addr.port())).unwrap();
    let client = client(LlmMiddleware::new().registry(registry), &host, &mock);
    let method =
        reqwest::Method::from_bytes(f.meta["method"].as_str().unwrap().as_bytes()).unwrap();
    let body = serde_json::to_vec(&f.meta["request_body"]).unwrap();

    let (read, resp_url, status) = async {
        let resp = client
            .request(method, target.clone())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let resp_url = resp.url().clone();
        let status = resp.status().as_u16();
        (resp.bytes().await.unwrap(), resp_url, status)
    }
    .instrument(tracing::info_span!("parent"))
    .await;

    assert_eq!(read.as_ref(), f.body.as_slice(), "{name}: body changed");
    assert_eq!(resp_url, target, "{name}: Response::url() lost");
    assert_eq!(u64::from(status), f.meta["status"].as_u64().unwrap());

    let spans = otel.spans();
    let parent = otel.span("parent");
    let llm: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .collect();
    assert_eq!(llm.len(), 1, "{name}: one client span under the parent");
    let s = llm[0];
    assert_eq!(s.span_context.trace_id(), parent.span_context.trace_id());
    assert_eq!(s.span_kind, opentelemetry::trace::SpanKind::Client);
    let vector = provider.is_vector_db();
    assert_eq!(
        attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some(if vector { "vector" } else { "llm" })
    );
    let op = if vector {
        attr_str(s, sc::DB_OPERATION_NAME)
    } else {
        attr_str(s, sc::GEN_AI_OPERATION_NAME)
    }
    .unwrap_or_else(|| panic!("{name}: no operation"));
    let suffix = if vector {
        attr_str(s, sc::DB_COLLECTION_NAME)
    } else {
        attr_str(s, sc::GEN_AI_REQUEST_MODEL)
    };
    let want_name = match &suffix {
        Some(x) => format!("{op} {x}"),
        None => op,
    };
    assert_eq!(s.name, want_name, "{name}: span name");
    if !vector {
        assert_eq!(
            attr_str(s, sc::GEN_AI_PROVIDER_NAME).as_deref(),
            Some(provider.otel_name())
        );
    }
    assert_eq!(
        attr_str(s, sc::SERVER_ADDRESS).as_deref(),
        Some(host.as_str())
    );
    assert_eq!(
        attr_i64(s, sc::HTTP_RESPONSE_STATUS_CODE),
        Some(i64::from(status))
    );

    let exp = &f.expected;
    let usage: Usage =
        serde_json::from_value(exp.get("usage").cloned().unwrap_or_default()).unwrap_or_default();
    let pairs = [
        (
            usage.input_tokens,
            sc::GEN_AI_USAGE_INPUT_TOKENS,
            sc::LLM_TOKEN_COUNT_PROMPT,
        ),
        (
            usage.output_tokens,
            sc::GEN_AI_USAGE_OUTPUT_TOKENS,
            sc::LLM_TOKEN_COUNT_COMPLETION,
        ),
        (
            usage.cache_read_tokens,
            sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            sc::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
        ),
        (
            usage.cache_write_tokens,
            sc::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            sc::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
        ),
        (
            usage.reasoning_tokens,
            sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            sc::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
        ),
        (
            usage.total_tokens,
            sc::GEN_AI_USAGE_TOTAL_TOKENS,
            sc::LLM_TOKEN_COUNT_TOTAL,
        ),
    ];
    for (want, otel_key, oi_key) in pairs {
        let want = want.map(|v| v as i64);
        assert_eq!(attr_i64(s, otel_key), want, "{name}: {otel_key}");
        assert_eq!(attr_i64(s, oi_key), want, "{name}: {oi_key}");
    }
    assert_eq!(
        attr_str(s, sc::GEN_AI_RESPONSE_MODEL),
        exp["response_model"].as_str().map(str::to_owned),
        "{name}: response model"
    );
    assert_eq!(
        attr_str(s, sc::GEN_AI_RESPONSE_ID),
        exp["response_id"].as_str().map(str::to_owned),
        "{name}: response id"
    );
    let reasons: Vec<String> = exp["finish_reasons"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    match attr(s, sc::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(Value::Array(opentelemetry::Array::String(got))) => {
            let got: Vec<String> = got.iter().map(|v| v.as_str().to_owned()).collect();
            assert_eq!(got, reasons, "{name}: finish reasons");
            assert_eq!(attr_str(s, sc::LLM_FINISH_REASON), reasons.first().cloned());
        }
        None => assert!(reasons.is_empty(), "{name}: finish reasons missing"),
        Some(other) => panic!("{name}: finish reasons not a string array: {other:?}"),
    }

    // Error responses: error.type from the provider body, else the status.
    if status >= 400 {
        let want = exp["error_type"]
            .as_str()
            .map_or_else(|| status.to_string(), str::to_owned);
        assert_eq!(
            attr_str(s, sc::ERROR_TYPE),
            Some(want),
            "{name}: error.type"
        );
        assert!(matches!(s.status, Status::Error { .. }), "{name}: status");
    } else if exp["error_type"].is_null() {
        assert_eq!(
            attr_str(s, sc::ERROR_TYPE),
            None,
            "{name}: unexpected error.type"
        );
    }
    assert_ne!(attr_bool(s, sc::TOKENTRACE_STREAM_INCOMPLETE), Some(true));
    assert!(attr_f64(s, sc::PERFORMANCE_LATENCY_MS).unwrap() > 0.0);
    assert_eq!(
        attr_i64(s, sc::TOKENTRACE_RESPONSE_BYTES),
        Some(f.body.len() as i64)
    );
    if f.meta["format"] != "json" {
        assert!(attr_f64(s, sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).unwrap() > 0.0);
    }

    // Cost: provider-reported wins, else the catalogue by response model,
    // then request model; unknown models are flagged, not priced.
    if let Some(total) = exp["provider_cost_usd"].as_f64() {
        assert_eq!(attr_f64(s, sc::COST_TOTAL_USD), Some(total));
        assert_eq!(attr_str(s, sc::COST_SOURCE).as_deref(), Some("provider"));
    } else if !usage.is_empty() {
        let prices = PriceCatalogue::builtin();
        let req_model = attr_str(s, sc::GEN_AI_REQUEST_MODEL);
        let resp_model = exp["response_model"].as_str();
        let cost = resp_model
            .or(req_model.as_deref())
            .and_then(|m| prices.cost(Some(provider), m, &usage))
            .or_else(|| {
                req_model
                    .as_deref()
                    .and_then(|m| prices.cost(Some(provider), m, &usage))
            });
        match cost {
            Some(c) => {
                let checks = [
                    (sc::COST_TOTAL_USD, c.total_usd),
                    (sc::GEN_AI_USAGE_COST, c.total_usd),
                    (sc::LLM_COST_TOTAL, c.total_usd),
                    (sc::COST_INPUT_COST_USD, c.prompt_usd()),
                    (sc::LLM_COST_PROMPT, c.prompt_usd()),
                    (sc::COST_OUTPUT_COST_USD, c.completion_usd()),
                    (sc::LLM_COST_COMPLETION, c.completion_usd()),
                    (sc::COST_CACHE_READ_COST_USD, c.cache_read_usd),
                    (sc::LLM_COST_PROMPT_DETAILS_CACHE_READ, c.cache_read_usd),
                    (sc::COST_CACHE_WRITE_COST_USD, c.cache_write_usd),
                    (sc::LLM_COST_PROMPT_DETAILS_CACHE_WRITE, c.cache_write_usd),
                    (sc::COST_REASONING_COST_USD, c.reasoning_usd),
                    (sc::LLM_COST_COMPLETION_DETAILS_REASONING, c.reasoning_usd),
                    (sc::LLM_COST_PROMPT_DETAILS_INPUT, c.input_usd),
                    (sc::LLM_COST_COMPLETION_DETAILS_OUTPUT, c.output_usd),
                ];
                for (key, want) in checks {
                    assert_eq!(attr_f64(s, key), Some(want), "{name}: {key}");
                }
                if provider != Provider::Ollama {
                    assert!(c.total_usd > 0.0, "{name}: zero cost");
                }
                assert_eq!(attr_str(s, sc::COST_MODEL_NAME), Some(c.model_key));
                assert_eq!(attr_str(s, sc::COST_SOURCE).as_deref(), Some("catalogue"));
                assert_eq!(
                    attr_i64(s, sc::COST_PROMPT_TOKENS),
                    usage.input_tokens.map(|v| v as i64)
                );
                assert_eq!(attr_bool(s, sc::COST_UNKNOWN_MODEL), None);
            }
            None => {
                assert_eq!(attr_bool(s, sc::COST_UNKNOWN_MODEL), Some(true), "{name}");
                assert_eq!(attr_f64(s, sc::COST_TOTAL_USD), None);
            }
        }
    }
}

macro_rules! replay_tests {
    ($($test:ident => $name:literal,)*) => {$(
        #[tokio::test]
        async fn $test() {
            replay($name, None).await;
        }
    )*};
}

replay_tests! {
    openai_chat_json_with_reasoning => "openai/test_chat_reasoning_0",
    openai_chat_json_with_cache => "openai/test_openai_prompt_caching_1",
    openai_chat_stream_with_tools => "openai/test_chat_tools_streaming",
    openai_responses_json => "openai/test_responses_0",
    openai_responses_reasoning => "openai/test_responses_reasoning_0",
    openai_responses_stream => "openai/test_responses_streaming_with_content_0",
    openai_responses_http_error => "openai/test_openai_responses_model_http_error",
    openai_embeddings => "openai/test_embeddings_0",
    azure_chat_stream => "azure/test_chat_streaming_0",
    anthropic_messages_json => "anthropic/test_anthropic_message_create_legacy",
    anthropic_messages_stream => "anthropic/test_anthropic_message_streaming_legacy",
    anthropic_prompt_caching => "anthropic/test_anthropic_prompt_caching_legacy_0",
    anthropic_thinking_stream => "anthropic/test_anthropic_thinking_streaming_legacy",
    anthropic_error_400 => "anthropic/test_anthropic_explicit_effort_xhigh_unsupported_model_errors",
    gemini_generate_content => "gemini/test_validate_token_counts",
    gemini_stream => "gemini/test_validate_token_counts_stream",
    gemini_embed => "gemini/test_embed_content",
    gemini_error_404 => "gemini/testgoogle_test_embed_error",
    cohere_v2_chat => "cohere/test_cohere_v2_chat_legacy",
    cohere_v2_chat_stream => "cohere/test_cohere_v2_chat_legacy_with_streaming",
    cohere_v1_chat_ndjson_stream => "cohere/test_cohere_chat_legacy_with_streaming",
    cohere_embed => "cohere/test_cohere_v2_embed_legacy",
    cohere_rerank => "cohere/test_cohere_v2_rerank_legacy",
    mistral_chat => "mistral/test_mistralai_chat_legacy",
    mistral_chat_stream => "mistral/test_mistralai_streaming_chat_legacy",
    ollama_chat => "ollama/test_ollama_chat_legacy",
    ollama_chat_stream => "ollama/test_ollama_streaming_chat_legacy",
    ollama_generate_stream => "ollama/test_ollama_streaming_generation_legacy",
    bedrock_converse_cache => "bedrock/test_bedrock_cache_write_and_read_0",
    bedrock_converse_stream => "bedrock/test_bedrock_model_stream",
    bedrock_invoke_stream => "bedrock/test_anthropic_3_completion_streaming",
    bedrock_invoke_json => "bedrock/test_invoke_model_cache_tokens_0",
    bedrock_error_400 => "bedrock/test_bedrock_error",
    pinecone_query => "pinecone/should_set_attributes_in_span_for_db_query_2",
    pinecone_upsert => "pinecone/should_set_attributes_in_span_for_db_upsert_2",
    weaviate_insert => "weaviate/test_weaviate_insert_data_3",
    weaviate_graphql_query => "weaviate/test_weaviate_query_raw_5",
}

/// Every streamed recording read through random chunk boundaries: the bytes
/// and the telemetry must not depend on where the network cut the body.
#[tokio::test]
async fn streamed_recordings_survive_random_chunk_boundaries() {
    let names = [
        "openai/test_chat_tools_streaming",
        "openai/test_responses_streaming_with_content_0",
        "anthropic/test_anthropic_thinking_streaming_legacy",
        "gemini/test_validate_token_counts_stream",
        "cohere/test_cohere_v2_chat_legacy_with_streaming",
        "mistral/test_mistralai_streaming_chat_legacy",
        "ollama/test_ollama_streaming_chat_legacy",
        "bedrock/test_bedrock_model_stream",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for name in names {
        let len = fixture(name).body.len();
        for _ in 0..3 {
            let mut splits: Vec<usize> = (0..12)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (seed >> 33) as usize % len.max(1)
                })
                .collect();
            splits.sort_unstable();
            splits.dedup();
            replay(name, Some(splits)).await;
        }
    }
}
