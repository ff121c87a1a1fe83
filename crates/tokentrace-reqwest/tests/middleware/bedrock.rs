//! `BedrockInterceptor` with the real aws-sdk-bedrockruntime against a
//! loopback mock replaying the Bedrock recordings: one LLM span per call,
//! attribute for attribute the span `LlmMiddleware` gives the same exchange,
//! and SigV4 signatures unchanged.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_bedrockruntime as br;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, Message};
use aws_smithy_async::time::StaticTimeSource;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::semconv as sc;
use tokentrace_core::{Provider, Usage};
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_reqwest::bedrock::BedrockInterceptor;
use tracing::Instrument;

use crate::support::{
    Mock, Otel, Reply, attr, attr_f64, attr_i64, attr_str, fixture, mock, refused_addr,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FAKE-SESSION-TOKEN-123";

/// The SDK's HTTP client for the tests: the signed request goes to the
/// loopback mock through a plain reqwest client, the response body streams
/// back unbuffered.
#[derive(Debug, Clone)]
struct Loopback(reqwest::Client);

impl HttpConnector for Loopback {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let req = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let (parts, body) = req.into_parts();
            let bytes = body.bytes().map(<[u8]>::to_vec).unwrap_or_default();
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(bytes)
                .send()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            let resp: http::Response<reqwest::Body> = resp.into();
            let (parts, body) = resp.into_parts();
            HttpResponse::try_from(http::Response::from_parts(
                parts,
                SdkBody::from_body_1_x(body),
            ))
            .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

impl HttpClient for Loopback {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A Bedrock client against `mock`, with fake static credentials, a fixed
/// clock (so two runs sign identically) and no retries. (The SDK's random
/// `amz-sdk-invocation-id` is added after signing, so it is not signed.)
fn bedrock(mock: &Mock, interceptor: Option<BedrockInterceptor>) -> br::Client {
    bedrock_with(mock, interceptor, RetryConfig::disabled())
}

fn bedrock_with(
    mock: &Mock,
    interceptor: Option<BedrockInterceptor>,
    retry: RetryConfig,
) -> br::Client {
    let mut b = br::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            SECRET,
            Some(TOKEN.to_owned()),
            None,
            "test",
        ))
        .endpoint_url(format!("http://{}", mock.addr))
        .http_client(Loopback(reqwest::Client::new()))
        .time_source(StaticTimeSource::new(signing_time()))
        .retry_config(retry);
    if let Some(i) = interceptor {
        b = b.interceptor(i);
    }
    br::Client::from_conf(b.build())
}

fn user(text: &str) -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.to_owned()))
        .build()
        .unwrap()
}

/// The fixed signing time of [`bedrock`].
fn signing_time() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_780_000_000)
}

/// What the mock does to check a request's SigV4 signature: recompute it
/// from the request as received (its method, path, the headers its
/// `SignedHeaders` lists, its body) with the fake credentials, and compare.
fn sigv4_verifies(headers: &axum::http::HeaderMap, path: &str, body: &[u8]) -> bool {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let auth = headers["authorization"].to_str().unwrap();
    let signed: Vec<&str> = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split(';')
        .collect();
    let claimed = auth.split("Signature=").nth(1).unwrap();
    // The signer adds these two from the credentials and the time.
    let pairs: Vec<(&str, &str)> = signed
        .iter()
        .filter(|h| !matches!(**h, "x-amz-date" | "x-amz-security-token"))
        .map(|h| (*h, headers[*h].to_str().unwrap()))
        .collect();
    assert!(signed.contains(&"x-amz-security-token"), "{auth}");
    assert_eq!(
        headers["x-amz-date"].to_str().unwrap(),
        "20260528T202640Z",
        "the fixed clock"
    );
    let identity =
        Credentials::new("AKIDEXAMPLE", SECRET, Some(TOKEN.to_owned()), None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(signing_time())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = headers["host"].to_str().unwrap();
    let uri = format!("http://{host}{path}");
    let request =
        SignableRequest::new("POST", uri, pairs.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (_, signature) = sign(request, &params).unwrap().into_parts();
    signature == claimed
}

const CONVERSE_MODEL: &str = "meta.llama3-2-1b-instruct-v1:0";
const INVOKE_MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

/// The exported LLM spans (`tokentrace.span.type = llm`).
fn llm_spans(otel: &Otel) -> Vec<SpanData> {
    otel.spans()
        .into_iter()
        .filter(|s| attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .collect()
}

/// Attributes that differ between two transports of one exchange.
const TRANSPORT: &[&str] = &[
    sc::SERVER_ADDRESS,
    sc::SERVER_PORT,
    sc::URL_FULL,
    sc::PERFORMANCE_LATENCY_MS,
    sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
];

fn comparable(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .filter(|kv| !TRANSPORT.contains(&kv.key.as_str()))
        .filter(|kv| !kv.key.as_str().starts_with("tokentrace.timing"))
        .filter(|kv| !matches!(kv.key.as_str(), "busy_ns" | "idle_ns" | "thread.id"))
        .map(|kv| (kv.key.to_string(), format!("{:?}", kv.value)))
        .collect()
}

/// The span `LlmMiddleware` gives the exchange `request_body` → `reply`
/// against Bedrock's URL `path`.
async fn middleware_span(path: &str, request_body: Vec<u8>, reply: Reply) -> SpanData {
    middleware_span_with(LlmMiddleware::new(), path, request_body, reply).await
}

async fn middleware_span_with(
    mw: LlmMiddleware,
    path: &str,
    request_body: Vec<u8>,
    reply: Reply,
) -> SpanData {
    let otel = Otel::install();
    let m = mock(reply).await;
    let host = "bedrock-runtime.us-east-1.amazonaws.com";
    let http = crate::support::client(mw, host, &m);
    let resp = http
        .post(format!("http://{host}:{}{path}", m.addr.port()))
        .header("content-type", "application/json")
        .body(request_body)
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap();
    resp.bytes().await.unwrap();
    let spans = llm_spans(&otel);
    assert_eq!(spans.len(), 1);
    spans[0].clone()
}

/// Usage and catalogue cost of `span` are exactly the recording's.
fn assert_priced(span: &SpanData, fixture_name: &str, model: &str) {
    let f = fixture(fixture_name);
    let usage: Usage = serde_json::from_value(f.expected["usage"].clone()).unwrap();
    assert_eq!(
        attr_str(span, sc::GEN_AI_PROVIDER_NAME).as_deref(),
        Some("aws.bedrock")
    );
    assert_eq!(
        attr_str(span, sc::GEN_AI_REQUEST_MODEL).as_deref(),
        Some(model)
    );
    assert_eq!(attr_i64(span, sc::HTTP_RESPONSE_STATUS_CODE), Some(200));
    assert_eq!(
        attr_i64(span, sc::GEN_AI_USAGE_INPUT_TOKENS),
        usage.input_tokens.map(|v| v as i64)
    );
    assert_eq!(
        attr_i64(span, sc::GEN_AI_USAGE_OUTPUT_TOKENS),
        usage.output_tokens.map(|v| v as i64)
    );
    let priced_model = f.expected["response_model"].as_str().unwrap_or(model);
    let cost = PriceCatalogue::builtin()
        .cost(Some(Provider::Bedrock), priced_model, &usage)
        .expect("priced");
    assert!(cost.total_usd > 0.0);
    assert_eq!(attr_f64(span, sc::COST_TOTAL_USD), Some(cost.total_usd));
    assert_eq!(
        attr_f64(span, sc::COST_INPUT_COST_USD),
        Some(cost.prompt_usd())
    );
    assert_eq!(
        attr_f64(span, sc::COST_OUTPUT_COST_USD),
        Some(cost.completion_usd())
    );
    assert_eq!(attr_str(span, sc::ERROR_TYPE), None);
    let reasons = format!("{:?}", attr(span, sc::GEN_AI_RESPONSE_FINISH_REASONS));
    let expected_reason = f.expected["finish_reasons"][0].as_str().unwrap();
    assert!(reasons.contains(expected_reason), "{reasons}");
    assert_no_secrets(span);
}

fn assert_no_secrets(span: &SpanData) {
    for kv in &span.attributes {
        let v = kv.value.as_str();
        assert!(
            !v.contains(SECRET) && !v.contains(TOKEN) && !v.contains("AKIDEXAMPLE"),
            "{kv:?}"
        );
        assert!(!kv.key.as_str().contains("authorization"), "{kv:?}");
    }
}

/// The one LLM span of a call made with the interceptor under `parent`.
fn the_llm_span(otel: &Otel) -> SpanData {
    let spans = llm_spans(otel);
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans[0].clone()
}

#[tokio::test]
async fn converse_one_priced_span_like_the_middleware() {
    let f = fixture("bedrock/test_meta_converse");
    let otel = Otel::install();
    let m = mock(Reply::from_fixture(&f)).await;
    let client = bedrock(&m, Some(BedrockInterceptor::new()));
    let out = client
        .converse()
        .model_id(CONVERSE_MODEL)
        .messages(user("Tell me a joke about opentelemetry"))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap();
    // The application gets the recording's answer.
    assert_eq!(out.usage().unwrap().input_tokens(), 52);
    assert_eq!(out.usage().unwrap().output_tokens(), 30);
    let span = the_llm_span(&otel);
    assert_eq!(span.name, format!("chat {CONVERSE_MODEL}"));
    assert_priced(&span, "bedrock/test_meta_converse", CONVERSE_MODEL);
    assert_eq!(
        attr(&span, sc::GEN_AI_REQUEST_STREAM),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        attr_str(&span, sc::URL_FULL),
        Some(format!(
            "http://127.0.0.1:{}/model/meta.llama3-2-1b-instruct-v1%3A0/converse",
            m.addr.port()
        ))
    );
    // Under the caller's span, in its trace.
    let parent = otel.span("parent");
    assert_eq!(span.span_context.trace_id(), parent.span_context.trace_id());

    // The same exchange through `LlmMiddleware`: the same attributes.
    let sent = m.requests.lock().unwrap()[0].1.clone();
    let other = middleware_span(
        "/model/meta.llama3-2-1b-instruct-v1%3A0/converse",
        sent,
        Reply::from_fixture(&f),
    )
    .await;
    assert_eq!(comparable(&span), comparable(&other));
    assert_eq!(span.name, other.name);
}

#[tokio::test]
async fn converse_stream_is_read_as_the_app_reads_it() {
    let f = fixture("bedrock/test_meta_converse_stream");
    let otel = Otel::install();
    let m = mock(Reply::from_fixture(&f)).await;
    let client = bedrock(&m, Some(BedrockInterceptor::new()));
    let mut events = 0;
    async {
        let mut out = client
            .converse_stream()
            .model_id(CONVERSE_MODEL)
            .messages(user("Tell me a joke about opentelemetry"))
            .send()
            .await
            .unwrap();
        while let Some(_ev) = out.stream.recv().await.unwrap() {
            events += 1;
        }
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    assert!(events > 5, "{events}");
    let span = the_llm_span(&otel);
    assert_eq!(span.name, format!("chat {CONVERSE_MODEL}"));
    assert_priced(&span, "bedrock/test_meta_converse_stream", CONVERSE_MODEL);
    assert_eq!(
        attr(&span, sc::GEN_AI_REQUEST_STREAM),
        Some(&Value::Bool(true))
    );
    assert!(attr_f64(&span, sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).is_some());
    assert_eq!(attr(&span, sc::TOKENTRACE_STREAM_INCOMPLETE), None);

    let sent = m.requests.lock().unwrap()[0].1.clone();
    let other = middleware_span(
        "/model/meta.llama3-2-1b-instruct-v1%3A0/converse-stream",
        sent,
        Reply::from_fixture(&f),
    )
    .await;
    assert_eq!(comparable(&span), comparable(&other));
}

#[tokio::test]
async fn converse_stream_dropped_early_ends_the_span_incomplete() {
    let f = fixture("bedrock/test_meta_converse_stream");
    let otel = Otel::install();
    let m = mock(Reply::from_fixture(&f)).await;
    let client = bedrock(&m, Some(BedrockInterceptor::new()));
    let mut out = client
        .converse_stream()
        .model_id(CONVERSE_MODEL)
        .messages(user("Tell me a joke about opentelemetry"))
        .send()
        .await
        .unwrap();
    assert!(out.stream.recv().await.unwrap().is_some());
    assert!(llm_spans(&otel).is_empty(), "the span waits for the stream");
    drop(out);
    let span = the_llm_span(&otel);
    assert_eq!(attr_i64(&span, sc::HTTP_RESPONSE_STATUS_CODE), Some(200));
    assert_eq!(
        attr(&span, sc::TOKENTRACE_STREAM_INCOMPLETE),
        Some(&Value::Bool(true))
    );
    assert_eq!(attr_i64(&span, sc::GEN_AI_USAGE_INPUT_TOKENS), None);
    assert_eq!(attr_f64(&span, sc::COST_TOTAL_USD), None);
    assert_eq!(
        attr_str(&span, sc::TOKENTRACE_USAGE_MISSING).as_deref(),
        Some(sc::values::USAGE_MISSING_CUT_SHORT)
    );
}

#[tokio::test]
async fn invoke_model_priced_from_the_native_body() {
    let f = fixture("bedrock/test_invoke_model_cache_tokens_0");
    let otel = Otel::install();
    let mut reply = Reply::from_fixture(&f);
    for (k, v) in f.meta["headers"].as_object().unwrap() {
        if k != "content-type" {
            let k: &'static str = Box::leak(k.clone().into_boxed_str());
            reply.headers.push((k, v.as_str().unwrap().to_owned()));
        }
    }
    let m = mock(reply.clone()).await;
    let client = bedrock(&m, Some(BedrockInterceptor::new()));
    let body = serde_json::to_vec(&f.meta["request_body"]).unwrap();
    let out = client
        .invoke_model()
        .model_id(INVOKE_MODEL)
        .content_type("application/json")
        .body(Blob::new(body.clone()))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap();
    assert_eq!(out.body().as_ref(), f.body.as_slice());
    let span = the_llm_span(&otel);
    assert_eq!(span.name, format!("chat {INVOKE_MODEL}"));
    assert_priced(
        &span,
        "bedrock/test_invoke_model_cache_tokens_0",
        INVOKE_MODEL,
    );
    assert_eq!(
        attr_i64(&span, sc::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        Some(18131)
    );
    assert_eq!(
        attr_str(&span, sc::GEN_AI_RESPONSE_MODEL).as_deref(),
        Some("claude-3-5-haiku-20241022")
    );
    // The body the SDK sent is the application's, byte for byte.
    assert_eq!(m.requests.lock().unwrap()[0].1, body);
    let other = middleware_span(
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke",
        body,
        reply,
    )
    .await;
    assert_eq!(comparable(&span), comparable(&other));
}

#[tokio::test]
async fn validation_error_is_recorded_and_returned_unchanged() {
    let f = fixture("bedrock/test_bedrock_error");
    let otel = Otel::install();
    let mut reply = Reply::from_fixture(&f);
    reply.headers.push((
        "x-amzn-errortype",
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/".to_owned(),
    ));
    let m = mock(reply.clone()).await;
    let client = bedrock(&m, Some(BedrockInterceptor::new()));
    let err = client
        .converse()
        .model_id("us.does-not-exist-model-v1:0")
        .messages(user("hello"))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_validation_exception(), "{service:?}");
    let span = the_llm_span(&otel);
    assert_eq!(attr_i64(&span, sc::HTTP_RESPONSE_STATUS_CODE), Some(400));
    assert_eq!(
        attr_str(&span, sc::OTEL_STATUS_CODE),
        None,
        "exported as the span status"
    );
    assert!(matches!(
        span.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    assert!(attr_str(&span, sc::ERROR_TYPE).is_some());
    assert_eq!(attr_i64(&span, sc::GEN_AI_USAGE_INPUT_TOKENS), None);
    assert_no_secrets(&span);
    let sent = m.requests.lock().unwrap()[0].1.clone();
    let other = middleware_span(
        "/model/us.does-not-exist-model-v1%3A0/converse",
        sent,
        reply,
    )
    .await;
    assert_eq!(comparable(&span), comparable(&other));
}

#[tokio::test]
async fn sigv4_signature_is_unchanged_and_traceparent_is_unsigned() {
    let f = fixture("bedrock/test_meta_converse");
    // One mock for both runs: the host (port included) is signed.
    let m = mock(Reply::from_fixture(&f)).await;
    for interceptor in [None, Some(BedrockInterceptor::new())] {
        let otel = Otel::install();
        bedrock(&m, interceptor.clone())
            .converse()
            .model_id(CONVERSE_MODEL)
            .messages(user("Tell me a joke about opentelemetry"))
            .send()
            .instrument(tracing::info_span!("parent"))
            .await
            .unwrap();
        assert_eq!(llm_spans(&otel).len(), usize::from(interceptor.is_some()));
    }
    let seen = m.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let (plain, traced) = (&seen[0], &seen[1]);
    // The mock's check: both signatures verify.
    let path = "/model/meta.llama3-2-1b-instruct-v1%3A0/converse";
    assert!(sigv4_verifies(&plain.0, path, &plain.1));
    assert!(sigv4_verifies(&traced.0, path, &traced.1));
    // A check that can fail: a changed byte breaks it.
    let mut tampered = traced.1.clone();
    tampered[10] ^= 1;
    assert!(!sigv4_verifies(&traced.0, path, &tampered));
    let auth =
        |h: &axum::http::HeaderMap| h.get("authorization").unwrap().to_str().unwrap().to_owned();
    let a = auth(&plain.0);
    assert!(
        a.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{a}"
    );
    assert!(a.contains("Signature="), "{a}");
    // Same clock: the signature is the one the SDK
    // computes without the interceptor, byte for byte.
    assert_eq!(a, auth(&traced.0));
    assert_eq!(plain.1, traced.1, "body bytes");
    for name in ["x-amz-date", "x-amz-security-token", "content-type"] {
        assert_eq!(plain.0.get(name), traced.0.get(name), "{name}");
    }
    // Trace context is propagated, outside the signature.
    assert!(plain.0.get("traceparent").is_none());
    let tp = traced
        .0
        .get("traceparent")
        .expect("traceparent")
        .to_str()
        .unwrap();
    assert!(tp.starts_with("00-"), "{tp}");
    let signed = a.split("SignedHeaders=").nth(1).unwrap();
    assert!(!signed.contains("traceparent"), "{signed}");
}

/// A mock answering its `n`-th request with `replies[n]` (the last one
/// after that), recording the requests.
async fn mock_seq(replies: Vec<Reply>) -> Mock {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let requests: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>> =
        Default::default();
    let seen = requests.clone();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            let n = count.fetch_add(1, Ordering::SeqCst);
            let reply = replies[n.min(replies.len() - 1)].clone();
            async move {
                seen.lock().unwrap().push((headers, body.to_vec()));
                let mut b = axum::http::Response::builder()
                    .status(reply.status)
                    .header("content-type", reply.content_type);
                for (k, v) in reply.headers {
                    b = b.header(k, v);
                }
                b.body(axum::body::Body::from(reply.body)).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Mock { addr, requests }
}

#[tokio::test]
async fn throttled_attempt_then_success_one_span_per_attempt() {
    let f = fixture("bedrock/test_meta_converse");
    let otel = Otel::install();
    let throttled = Reply {
        status: 429,
        content_type: "application/json".to_owned(),
        body: br#"{"message":"Too many requests, please wait before trying again."}"#.to_vec(),
        splits: Vec::new(),
        delay: Duration::ZERO,
        headers: vec![(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/".to_owned(),
        )],
    };
    let m = mock_seq(vec![throttled, Reply::from_fixture(&f)]).await;
    let client = bedrock_with(
        &m,
        Some(BedrockInterceptor::new()),
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    let out = client
        .converse()
        .model_id(CONVERSE_MODEL)
        .messages(user("Tell me a joke about opentelemetry"))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap();
    assert_eq!(out.usage().unwrap().output_tokens(), 30);
    let requests = m.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    // The retry sent the same body.
    assert_eq!(requests[0].1, requests[1].1);
    let spans = llm_spans(&otel);
    assert_eq!(spans.len(), 2, "one span per attempt");
    let (first, second) = if attr_i64(&spans[0], sc::HTTP_RESPONSE_STATUS_CODE) == Some(429) {
        (&spans[0], &spans[1])
    } else {
        (&spans[1], &spans[0])
    };
    assert_eq!(attr_i64(first, sc::HTTP_RESPONSE_STATUS_CODE), Some(429));
    assert_eq!(
        attr_str(first, sc::ERROR_TYPE).as_deref(),
        Some("ThrottlingException")
    );
    assert!(matches!(
        first.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    assert_eq!(attr_i64(first, sc::GEN_AI_USAGE_INPUT_TOKENS), None);
    assert_eq!(attr_f64(first, sc::COST_TOTAL_USD), None);
    assert_priced(second, "bedrock/test_meta_converse", CONVERSE_MODEL);
    // Both attempts in the caller's trace, each with its own traceparent.
    let parent = otel.span("parent");
    for s in [first, second] {
        assert_eq!(s.span_context.trace_id(), parent.span_context.trace_id());
    }
    let tp = |i: usize| {
        requests[i]
            .0
            .get("traceparent")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(tp(0), tp(1));
    assert!(tp(0).contains(&first.span_context.span_id().to_string()));
    assert!(tp(1).contains(&second.span_context.span_id().to_string()));
}

#[tokio::test]
async fn connection_refused_is_recorded_and_the_sdk_error_unchanged() {
    let otel = Otel::install();
    let (_held, addr) = refused_addr();
    let m = Mock {
        addr,
        requests: Default::default(),
    };
    let err = bedrock(&m, Some(BedrockInterceptor::new()))
        .converse()
        .model_id(CONVERSE_MODEL)
        .messages(user("hello"))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            aws_sdk_bedrockruntime::error::SdkError::DispatchFailure(_)
        ),
        "{err:?}"
    );
    let span = the_llm_span(&otel);
    assert_eq!(
        attr_str(&span, sc::ERROR_TYPE).as_deref(),
        Some("connection_error")
    );
    assert!(matches!(
        span.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    assert_eq!(attr_i64(&span, sc::HTTP_RESPONSE_STATUS_CODE), None);
    assert_eq!(
        attr_str(&span, sc::GEN_AI_REQUEST_MODEL).as_deref(),
        Some(CONVERSE_MODEL)
    );
}

#[tokio::test]
async fn invoke_model_with_response_stream_is_read_as_the_app_reads_it() {
    let f = fixture("bedrock/test_anthropic_3_completion_streaming");
    let model = "anthropic.claude-3-sonnet-20240229-v1:0";
    let otel = Otel::install();
    let m = mock(Reply::from_fixture(&f)).await;
    let client = bedrock(&m, Some(BedrockInterceptor::new()));
    let body = serde_json::to_vec(&f.meta["request_body"]).unwrap();
    let mut chunks = 0;
    async {
        let mut out = client
            .invoke_model_with_response_stream()
            .model_id(model)
            .content_type("application/json")
            .body(Blob::new(body.clone()))
            .send()
            .await
            .unwrap();
        while let Some(_ev) = out.body.recv().await.unwrap() {
            chunks += 1;
        }
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    assert!(chunks > 5, "{chunks}");
    let span = the_llm_span(&otel);
    assert_eq!(span.name, format!("chat {model}"));
    assert_priced(
        &span,
        "bedrock/test_anthropic_3_completion_streaming",
        model,
    );
    assert_eq!(
        attr(&span, sc::GEN_AI_REQUEST_STREAM),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        attr_str(&span, sc::GEN_AI_RESPONSE_MODEL).as_deref(),
        Some("claude-3-sonnet-20240229")
    );
    assert_eq!(m.requests.lock().unwrap()[0].1, body);
    let other = middleware_span(
        "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/invoke-with-response-stream",
        body,
        Reply::from_fixture(&f),
    )
    .await;
    assert_eq!(comparable(&span), comparable(&other));
}

#[tokio::test]
async fn content_capture_like_the_middleware() {
    for name in [
        "bedrock/test_meta_converse",
        "bedrock/test_meta_converse_stream",
    ] {
        let f = fixture(name);
        let stream = name.ends_with("_stream");
        let otel = Otel::install();
        let m = mock(Reply::from_fixture(&f)).await;
        let client = bedrock(&m, Some(BedrockInterceptor::new().capture_content(true)));
        async {
            if stream {
                let mut out = client
                    .converse_stream()
                    .model_id(CONVERSE_MODEL)
                    .messages(user("Tell me a joke about opentelemetry"))
                    .send()
                    .await
                    .unwrap();
                while out.stream.recv().await.unwrap().is_some() {}
            } else {
                client
                    .converse()
                    .model_id(CONVERSE_MODEL)
                    .messages(user("Tell me a joke about opentelemetry"))
                    .send()
                    .await
                    .unwrap();
            }
        }
        .instrument(tracing::info_span!("parent"))
        .await;
        let span = the_llm_span(&otel);
        let input = attr_str(&span, sc::GEN_AI_INPUT_MESSAGES).expect("input captured");
        assert!(
            input.contains("Tell me a joke about opentelemetry"),
            "{input}"
        );
        // `LlmMiddleware` captures the output of JSON bodies only (not of
        // AWS event streams); the comparison below holds either way.
        let output = attr_str(&span, sc::GEN_AI_OUTPUT_MESSAGES);
        if stream {
            assert_eq!(output, None);
        } else {
            let output = output.expect("output captured");
            assert!(output.contains("OpenTelemetry"), "{output}");
        }
        assert_no_secrets(&span);
        let sent = m.requests.lock().unwrap()[0].1.clone();
        let path = if stream {
            "/model/meta.llama3-2-1b-instruct-v1%3A0/converse-stream"
        } else {
            "/model/meta.llama3-2-1b-instruct-v1%3A0/converse"
        };
        let other = middleware_span_with(
            LlmMiddleware::new().capture_content(true),
            path,
            sent,
            Reply::from_fixture(&f),
        )
        .await;
        assert_eq!(comparable(&span), comparable(&other), "{name}");
    }
}
