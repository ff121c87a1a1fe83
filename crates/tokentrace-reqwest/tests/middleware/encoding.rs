//! Compressed responses the application asked for itself (`Accept-Encoding`
//! set by hand, no automatic decompression): the application reads the
//! compressed bytes untouched, tokentrace parses a decoded copy, and a coding
//! it cannot read is recorded as unread, never as a body cut short.

use std::io::Write as _;

use tokentrace_core::semconv as sc;
use tokentrace_reqwest::LlmMiddleware;
use tracing::Instrument;

use crate::support::*;

const OPENAI: &str = "api.openai.com";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `f`'s reply with its body encoded by `encode` and labelled `coding`.
fn encoded(f: &Fixture, coding: &str, encode: impl Fn(&[u8]) -> Vec<u8>) -> Reply {
    let mut r = Reply::from_fixture(f);
    r.body = encode(&f.body);
    let n = r.body.len();
    if !r.splits.is_empty() {
        r.splits = (1..12).map(|i| i * n / 12).collect();
    }
    r.headers.push(("content-encoding", coding.to_owned()));
    r
}

/// Send the fixture's request with `Accept-Encoding` set by hand and read the
/// body chunk by chunk; returns the bytes the application got and the LLM span.
async fn call(f: &Fixture, reply: Reply) -> (Vec<u8>, opentelemetry_sdk::trace::SpanData) {
    let otel = Otel::install();
    let served = reply.body.clone();
    let mock = mock(reply).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let url = format!("http://{OPENAI}:{}/v1/chat/completions", mock.addr.port());
    let body = serde_json::to_vec(&f.meta["request_body"]).unwrap();
    let got = async {
        let mut resp = client
            .post(url)
            .header("accept-encoding", "gzip, deflate, br")
            .body(body)
            .send()
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Some(c) = resp.chunk().await.unwrap() {
            got.extend_from_slice(&c);
        }
        got
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    assert_eq!(got, served, "the application reads the bytes on the wire");
    let span = otel
        .spans()
        .into_iter()
        .find(|s| attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .expect("an llm span");
    (got, span)
}

fn assert_read_whole(s: &opentelemetry_sdk::trace::SpanData, f: &Fixture) {
    assert_eq!(attr_bool(s, sc::TOKENTRACE_STREAM_INCOMPLETE), None);
    assert_eq!(attr_str(s, sc::TOKENTRACE_PARSE_ERROR), None);
    assert_eq!(attr_str(s, sc::TOKENTRACE_RESPONSE_UNPARSED), None);
    assert_eq!(attr_str(s, sc::ERROR_TYPE), None);
    let usage = &f.expected["usage"];
    assert_eq!(
        attr_i64(s, sc::GEN_AI_USAGE_INPUT_TOKENS),
        usage["input_tokens"].as_i64()
    );
    assert_eq!(
        attr_i64(s, sc::GEN_AI_USAGE_OUTPUT_TOKENS),
        usage["output_tokens"].as_i64()
    );
    assert!(attr_i64(s, sc::GEN_AI_USAGE_INPUT_TOKENS).is_some());
    assert_eq!(
        attr_str(s, sc::GEN_AI_RESPONSE_MODEL),
        f.expected["response_model"].as_str().map(str::to_owned)
    );
    assert!(attr_f64(s, sc::COST_TOTAL_USD).unwrap() > 0.0);
}

#[tokio::test]
async fn a_gzip_json_body_is_parsed_and_complete() {
    let f = fixture("openai/test_chat_reasoning_0");
    let (got, s) = call(&f, encoded(&f, "gzip", gzip)).await;
    assert_ne!(got, f.body, "the body stayed compressed");
    assert_read_whole(&s, &f);
    assert_eq!(
        attr_i64(&s, sc::TOKENTRACE_RESPONSE_BYTES),
        Some(got.len() as i64)
    );
}

#[tokio::test]
async fn a_deflate_json_body_is_parsed_and_complete() {
    let f = fixture("openai/test_chat_reasoning_1");
    let (_, s) = call(&f, encoded(&f, "deflate", deflate)).await;
    assert_read_whole(&s, &f);
}

#[tokio::test]
async fn a_gzip_stream_is_parsed_and_complete() {
    let f = fixture("openai/test_run_stream_sync_streams_real_model_0");
    let (_, s) = call(&f, encoded(&f, "gzip", gzip)).await;
    assert_read_whole(&s, &f);
    assert_eq!(
        attr_i64(&s, sc::TOKENTRACE_STREAM_EVENTS),
        f.expected["events"].as_i64()
    );
}

#[tokio::test]
async fn an_unreadable_coding_is_recorded_as_unparsed_not_incomplete() {
    for (coding, f) in [
        ("br", fixture("openai/test_chat_reasoning_0")),
        (
            "zstd",
            fixture("openai/test_run_stream_sync_streams_real_model_0"),
        ),
    ] {
        // Any bytes do: tokentrace must not try to read them.
        let reply = encoded(&f, coding, |b| b.iter().map(|x| x ^ 0x5a).collect());
        let (_, s) = call(&f, reply).await;
        assert_eq!(
            attr_str(&s, sc::TOKENTRACE_RESPONSE_UNPARSED).as_deref(),
            Some(format!("content-encoding: {coding}").as_str())
        );
        assert_eq!(
            attr_bool(&s, sc::TOKENTRACE_STREAM_INCOMPLETE),
            None,
            "{coding}"
        );
        assert_eq!(attr_str(&s, sc::TOKENTRACE_PARSE_ERROR), None, "{coding}");
        assert_eq!(attr_str(&s, sc::ERROR_TYPE), None, "{coding}");
        assert_eq!(attr_i64(&s, sc::GEN_AI_USAGE_INPUT_TOKENS), None);
        assert!(attr_i64(&s, sc::TOKENTRACE_RESPONSE_BYTES).unwrap() > 0);
    }
}

#[tokio::test]
async fn a_gzip_body_that_does_not_decode_is_unparsed_not_incomplete() {
    let f = fixture("openai/test_chat_reasoning_0");
    let reply = encoded(&f, "gzip", |b| b.to_vec());
    let (_, s) = call(&f, reply).await;
    assert_eq!(
        attr_str(&s, sc::TOKENTRACE_RESPONSE_UNPARSED).as_deref(),
        Some("content-encoding: gzip (not decodable)")
    );
    assert_eq!(attr_bool(&s, sc::TOKENTRACE_STREAM_INCOMPLETE), None);
    assert_eq!(attr_str(&s, sc::ERROR_TYPE), None);
}
