//! Request peek and usage-injection tests.

use super::*;
use crate::provider::Flavor;
use crate::providers::vector::weaviate::graphql_class;

fn peek(flavor: Flavor, json: &str) -> RequestInfo {
    peek_request(flavor, json.as_bytes())
}

#[test]
fn openai_chat_fields() {
    let i = peek(
        Flavor::OpenAiChat,
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,
           "stream_options":{"include_usage":true},"max_tokens":100,"temperature":0.2,"top_p":0.9,
           "frequency_penalty":0.5,"presence_penalty":-0.5,"seed":42,"stop":["\n","END"],"n":2,
           "service_tier":"flex","tools":[{"type":"function"}]}"#,
    );
    assert_eq!(i.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!((i.stream, i.include_usage), (Some(true), Some(true)));
    assert_eq!(i.max_tokens, Some(100));
    assert_eq!((i.temperature, i.top_p), (Some(0.2), Some(0.9)));
    assert_eq!(
        (i.frequency_penalty, i.presence_penalty),
        (Some(0.5), Some(-0.5))
    );
    assert_eq!(i.seed, Some(42));
    assert_eq!(i.stop_sequences, vec!["\n".to_owned(), "END".to_owned()]);
    assert_eq!(i.choice_count, Some(2));
    assert_eq!(i.service_tier.as_deref(), Some("flex"));
    assert_eq!(i.vector_top_k, None);
}

#[test]
fn openai_variants() {
    let i = peek(
        Flavor::OpenAiChat,
        r#"{"model":"o3","max_completion_tokens":500,"stop":"STOP"}"#,
    );
    assert_eq!(
        (i.max_tokens, i.stop_sequences),
        (Some(500), vec!["STOP".to_owned()])
    );
    assert_eq!(i.stream, None);
    let r = peek(
        Flavor::OpenAiResponses,
        r#"{"model":"gpt-5","input":"hi","max_output_tokens":64,"stream":false,"reasoning":{"effort":"low"}}"#,
    );
    assert_eq!(
        (r.model.as_deref(), r.max_tokens, r.stream),
        (Some("gpt-5"), Some(64), Some(false))
    );
    let e = peek(
        Flavor::OpenAiEmbeddings,
        r#"{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"base64","dimensions":256}"#,
    );
    assert_eq!(e.encoding_formats, vec!["base64".to_owned()]);
    assert_eq!(e.dimensions, Some(256));
}

#[test]
fn anthropic_fields() {
    let i = peek(
        Flavor::Anthropic,
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"top_k":40,"top_p":0.8,
           "stop_sequences":["Human:"],"stream":true,"system":[{"type":"text","text":"x"}],"service_tier":"auto"}"#,
    );
    assert_eq!(i.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(
        (i.max_tokens, i.top_k, i.top_p),
        (Some(1024), Some(40.0), Some(0.8))
    );
    assert_eq!(i.stop_sequences, vec!["Human:".to_owned()]);
    assert_eq!(i.stream, Some(true));
    assert_eq!(i.service_tier.as_deref(), Some("auto"));
}

#[test]
fn gemini_fields() {
    let i = peek(
        Flavor::Gemini,
        r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":256,
           "temperature":1,"topP":0.95,"topK":64,"candidateCount":1,"stopSequences":["x"],"seed":7,
           "presencePenalty":0.1,"frequencyPenalty":0.2}}"#,
    );
    assert_eq!(i.model, None);
    assert_eq!((i.max_tokens, i.temperature), (Some(256), Some(1.0)));
    assert_eq!((i.top_p, i.top_k), (Some(0.95), Some(64.0)));
    assert_eq!((i.choice_count, i.seed), (Some(1), Some(7)));
    assert_eq!(
        (i.presence_penalty, i.frequency_penalty),
        (Some(0.1), Some(0.2))
    );
    assert_eq!(i.stop_sequences, vec!["x".to_owned()]);
    let e = peek(
        Flavor::Gemini,
        r#"{"content":{"parts":[]},"outputDimensionality":768}"#,
    );
    assert_eq!(e.dimensions, Some(768));
}

#[test]
fn bedrock_fields() {
    let c = peek(
        Flavor::BedrockConverse,
        r#"{"messages":[],"inferenceConfig":{"maxTokens":512,"temperature":0.5,"topP":0.9,"stopSequences":["\n\n"]}}"#,
    );
    assert_eq!(
        (c.max_tokens, c.temperature, c.top_p),
        (Some(512), Some(0.5), Some(0.9))
    );
    assert_eq!(c.stop_sequences, vec!["\n\n".to_owned()]);
    let nova = peek(
        Flavor::BedrockInvoke,
        r#"{"messages":[],"inferenceConfig":{"max_new_tokens":300,"top_p":0.7,"top_k":20}}"#,
    );
    assert_eq!(
        (nova.max_tokens, nova.top_p, nova.top_k),
        (Some(300), Some(0.7), Some(20.0))
    );
    let claude = peek(
        Flavor::BedrockInvoke,
        r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":200,"messages":[]}"#,
    );
    assert_eq!(claude.max_tokens, Some(200));
    let llama = peek(
        Flavor::BedrockInvoke,
        r#"{"prompt":"hi","max_gen_len":128}"#,
    );
    assert_eq!(llama.max_tokens, Some(128));
}

#[test]
fn cohere_fields() {
    let c = peek(
        Flavor::CohereChat,
        r#"{"model":"command-r-plus","messages":[],"p":0.75,"k":10,"seed":3,"max_tokens":50,"stream":true}"#,
    );
    assert_eq!(
        (c.top_p, c.top_k, c.seed, c.max_tokens),
        (Some(0.75), Some(10.0), Some(3), Some(50))
    );
    let e = peek(
        Flavor::CohereMeta,
        r#"{"model":"embed-v4.0","texts":["a"],"embedding_types":["float","int8"],"output_dimension":1024}"#,
    );
    assert_eq!(
        e.encoding_formats,
        vec!["float".to_owned(), "int8".to_owned()]
    );
    assert_eq!(e.dimensions, Some(1024));
    let r = peek(
        Flavor::CohereMeta,
        r#"{"model":"rerank-v3.5","query":"q","documents":["a","b"],"top_n":3}"#,
    );
    assert_eq!(r.top_k, Some(3.0));
    // `p`/`k` mean nothing outside Cohere
    let o = peek(Flavor::OpenAiChat, r#"{"p":0.5,"k":3}"#);
    assert_eq!((o.top_p, o.top_k), (None, None));
}

#[test]
fn ollama_fields() {
    let c = peek(
        Flavor::Ollama,
        r#"{"model":"llama3.2","messages":[],"options":{"num_predict":20,"temperature":0.1,"top_k":5,"top_p":0.5,"seed":9,"stop":["a"]}}"#,
    );
    assert_eq!(c.stream, Some(true), "Ollama streams by default");
    assert_eq!(
        (c.max_tokens, c.temperature, c.top_k, c.top_p),
        (Some(20), Some(0.1), Some(5.0), Some(0.5))
    );
    assert_eq!((c.seed, c.stop_sequences.len()), (Some(9), 1));
    let g = peek(
        Flavor::Ollama,
        r#"{"model":"llama3.2","prompt":"hi","stream":false}"#,
    );
    assert_eq!(g.stream, Some(false));
    let e = peek(
        Flavor::Ollama,
        r#"{"model":"nomic-embed-text","input":"hi"}"#,
    );
    assert_eq!(e.stream, None);
}

#[test]
fn vector_fields() {
    let p = peek(
        Flavor::Pinecone,
        r#"{"vector":[0.1,0.2],"topK":5,"namespace":"ns1","includeMetadata":true}"#,
    );
    assert_eq!(
        (p.vector_top_k, p.namespace.as_deref()),
        (Some(5), Some("ns1"))
    );
    let up = peek(
        Flavor::Pinecone,
        r#"{"vectors":[{"id":"a","values":[1]},{"id":"b","values":[2]}],"namespace":""}"#,
    );
    assert_eq!(up.batch_size, Some(2));
    let q = peek(
        Flavor::Qdrant,
        r#"{"vector":[0.1],"limit":3,"with_payload":true}"#,
    );
    assert_eq!(q.vector_top_k, Some(3));
    let qu = peek(
        Flavor::Qdrant,
        r#"{"points":[{"id":1,"vector":[1]},{"id":2,"vector":[2]},{"id":3,"vector":[3]}]}"#,
    );
    assert_eq!(qu.batch_size, Some(3));
    let qb = peek(
        Flavor::Qdrant,
        r#"{"batch":{"ids":[1,2],"vectors":[[1],[2]]}}"#,
    );
    assert_eq!(qb.batch_size, Some(2));
    let c = peek(
        Flavor::Chroma,
        r#"{"query_embeddings":[[0.1]],"n_results":10,"include":["documents"]}"#,
    );
    assert_eq!(c.vector_top_k, Some(10));
    let ca = peek(
        Flavor::Chroma,
        r#"{"ids":["a","b","c"],"embeddings":[[1],[2],[3]]}"#,
    );
    assert_eq!(ca.batch_size, Some(3));
    let m = peek(
        Flavor::Milvus,
        r#"{"collectionName":"quick_setup","data":[[0.3,-0.6]],"annsField":"vector","limit":3}"#,
    );
    assert_eq!(
        (m.collection.as_deref(), m.vector_top_k, m.batch_size),
        (Some("quick_setup"), Some(3), Some(1))
    );
    let w = peek(
        Flavor::Weaviate,
        r#"{"class":"Article","properties":{"title":"x"}}"#,
    );
    assert_eq!(w.collection.as_deref(), Some("Article"));
    let wb = peek(
        Flavor::Weaviate,
        r#"{"objects":[{"class":"A"},{"class":"A"}]}"#,
    );
    assert_eq!(wb.batch_size, Some(2));
    let gq = peek(
        Flavor::Weaviate,
        r#"{"query":"{ Get { Article(nearVector: {vector: [0.1]}, limit: 2) { title } } }"}"#,
    );
    assert_eq!(gq.collection.as_deref(), Some("Article"));
    // vector fields are not read for LLM flavours
    let o = peek(
        Flavor::OpenAiChat,
        r#"{"limit":3,"namespace":"x","collectionName":"c"}"#,
    );
    assert_eq!(
        (o.vector_top_k, o.namespace, o.collection),
        (None, None, None)
    );
}

#[test]
fn graphql_class_cases() {
    assert_eq!(graphql_class("{Get{Doc{a}}}"), Some("Doc"));
    assert_eq!(
        graphql_class("{ Aggregate { Thing { meta { count } } } }"),
        Some("Thing")
    );
    assert_eq!(graphql_class("{ Getter { X } }"), None);
    assert_eq!(graphql_class("{ Get { } }"), None);
    assert_eq!(graphql_class("mutation"), None);
}

#[test]
fn lenient_and_never_fails() {
    assert_eq!(
        peek_request(Flavor::OpenAiChat, b"not json"),
        RequestInfo::default()
    );
    assert_eq!(
        peek_request(Flavor::OpenAiChat, b"[1,2]"),
        RequestInfo::default()
    );
    assert_eq!(
        peek_request(Flavor::OpenAiChat, b""),
        RequestInfo::default()
    );
    assert_eq!(
        peek_request(Flavor::OpenAiChat, &[0xff, 0xfe]),
        RequestInfo::default()
    );
    // wrong types are ignored field by field
    let i = peek(
        Flavor::OpenAiChat,
        r#"{"model":7,"stream":"yes","max_tokens":"100","temperature":null,"stop":[1,"x",{}],
           "stream_options":"bad","generationConfig":[1],"n":2.0,"seed":-3}"#,
    );
    assert_eq!(
        (i.model, i.stream, i.max_tokens, i.temperature),
        (None, None, None, None)
    );
    assert_eq!(i.stop_sequences, vec!["x".to_owned()]);
    assert_eq!(i.include_usage, None);
    assert_eq!((i.choice_count, i.seed), (Some(2), Some(-3)));
    let neg = peek(Flavor::OpenAiChat, r#"{"max_tokens":-1}"#);
    assert_eq!(neg.max_tokens, None);
}

fn inject(s: &str) -> Option<String> {
    inject_include_usage(s.as_bytes()).map(|v| String::from_utf8(v).expect("utf8"))
}

#[test]
fn inject_adds_stream_options() {
    assert_eq!(
        inject(r#"{"model":"m","stream":true}"#).as_deref(),
        Some(r#"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#)
    );
    assert_eq!(
        inject(" \n{ \"stream\" : true }").as_deref(),
        Some(" \n{\"stream_options\":{\"include_usage\":true}, \"stream\" : true }")
    );
}

#[test]
fn inject_merges_into_existing_object() {
    assert_eq!(
        inject(r#"{"stream":true,"stream_options":{"chunk":1},"x":"}"}"#).as_deref(),
        Some(r#"{"stream":true,"stream_options":{"include_usage":true,"chunk":1},"x":"}"}"#)
    );
    assert_eq!(
        inject(r#"{"stream":true,"stream_options": { }}"#).as_deref(),
        Some(r#"{"stream":true,"stream_options": {"include_usage":true }}"#)
    );
    assert_eq!(
        inject(r#"{"stream_options":null,"stream":true}"#).as_deref(),
        Some(r#"{"stream_options":{"include_usage":true},"stream":true}"#)
    );
    // a nested `stream_options` (inside messages) is not the top-level one
    let nested =
        r#"{"messages":[{"stream_options":{}}],"meta":{"stream_options":1},"stream":true}"#;
    let out = inject(nested).expect("applies");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid");
    assert_eq!(v["stream_options"]["include_usage"], true);
    assert_eq!(v["messages"][0]["stream_options"], serde_json::json!({}));
    assert_eq!(v["meta"]["stream_options"], 1);
}

#[test]
fn inject_not_applicable() {
    assert_eq!(inject(r#"{"model":"m"}"#), None);
    assert_eq!(inject(r#"{"stream":false}"#), None);
    assert_eq!(inject(r#"{"stream":"true"}"#), None);
    assert_eq!(
        inject(r#"{"stream":true,"stream_options":{"include_usage":true}}"#),
        None
    );
    assert_eq!(
        inject(r#"{"stream":true,"stream_options":{"include_usage":false}}"#),
        None
    );
    assert_eq!(inject(r#"{"stream":true,"stream_options":"x"}"#), None);
    assert_eq!(inject(r#"{"stream":true} trailing"#), None);
    assert_eq!(inject(r#"[{"stream":true}]"#), None);
    assert_eq!(inject("not json"), None);
    assert_eq!(
        inject(r#"{"stream":true,"stream_options":{},"stream_options":{}}"#),
        None
    );
}

#[test]
fn inject_escaped_key() {
    let out = inject(r#"{"stream":true,"stream\u005foptions":{"a":1}}"#).expect("applies");
    assert_eq!(
        out,
        r#"{"stream":true,"stream\u005foptions":{"include_usage":true,"a":1}}"#
    );
}

proptest::proptest! {
    #[test]
    fn peek_and_inject_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        for f in Flavor::ALL {
            let _ = peek_request(*f, &bytes);
        }
        if let Some(out) = inject_include_usage(&bytes) {
            let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON out");
            proptest::prop_assert_eq!(&v["stream_options"]["include_usage"], &serde_json::Value::Bool(true));
        }
    }

    #[test]
    fn inject_keeps_other_members(extra in "[a-z]{1,8}", val in proptest::prelude::any::<i32>()) {
        let body = format!(r#"{{"{extra}x":{val},"stream":true,"messages":[]}}"#);
        let out = inject_include_usage(body.as_bytes()).expect("applies");
        let before: serde_json::Value = serde_json::from_str(&body).expect("in");
        let mut after: serde_json::Value = serde_json::from_slice(&out).expect("out");
        let so = after.as_object_mut().and_then(|m| m.remove("stream_options"));
        proptest::prop_assert_eq!(so, Some(serde_json::json!({"include_usage": true})));
        proptest::prop_assert_eq!(after, before);
    }
}
