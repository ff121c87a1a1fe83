//! Detection unit tests: every provider's routes, the registry, URL cuts.

use super::matcher::{Captures, pattern_segments};
use super::tables::{ROUTES, routes_of};
use super::*;
use crate::provider::{BodyFormat, Flavor, Flavor as F, Operation, Operation as Op, Provider};

fn d(method: &str, url: &str) -> Option<Detection> {
    ProviderRegistry::new().detect_url(method, url)
}

fn post(url: &str) -> Detection {
    d("POST", url).unwrap_or_else(|| panic!("no detection for {url}"))
}

#[track_caller]
fn check(det: &Detection, provider: Provider, operation: Operation, flavor: Flavor) {
    assert_eq!(
        (det.provider, det.operation, det.flavor),
        (provider, operation, flavor),
        "{det:?}"
    );
}

#[test]
fn openai() {
    let c = post("https://api.openai.com/v1/chat/completions");
    check(&c, Provider::OpenAi, Op::Chat, F::OpenAiChat);
    assert_eq!((c.model, c.stream, c.format), (None, None, None));
    check(
        &post("https://api.openai.com/v1/responses"),
        Provider::OpenAi,
        Op::Chat,
        F::OpenAiResponses,
    );
    let got = d(
        "GET",
        "https://api.openai.com/v1/responses/resp_123?stream=true",
    )
    .expect("GET response");
    check(&got, Provider::OpenAi, Op::Chat, F::OpenAiResponses);
    let e = post("https://api.openai.com/v1/embeddings");
    check(&e, Provider::OpenAi, Op::Embeddings, F::OpenAiEmbeddings);
    assert_eq!(e.stream, Some(false));
    check(
        &post("https://api.openai.com/v1/completions"),
        Provider::OpenAi,
        Op::TextCompletion,
        F::OpenAiChat,
    );
    check(
        &post("https://api.openai.com/v1/responses/input_tokens"),
        Provider::OpenAi,
        Op::CountTokens,
        F::OpenAiResponses,
    );
    // trailing slash, upper-case host, method case
    check(
        &d("post", "https://API.OpenAI.com/v1/chat/completions/").expect("normalised"),
        Provider::OpenAi,
        Op::Chat,
        F::OpenAiChat,
    );
}

#[test]
fn openai_negatives() {
    assert_eq!(d("GET", "https://api.openai.com/v1/models"), None);
    assert_eq!(d("GET", "https://api.openai.com/v1/chat/completions"), None);
    assert_eq!(
        d("POST", "https://api.openai.com/v2/chat/completions"),
        None
    );
    assert_eq!(
        d("POST", "https://api.openai.com/v1/chat/completions/x"),
        None
    );
    assert_eq!(d("POST", "https://example.com/v1/chat/completions"), None);
    assert_eq!(d("POST", "http://10.0.0.5:8000/v1/chat/completions"), None);
    assert_eq!(
        d(
            "POST",
            "https://api.openai.com.evil.com/v1/chat/completions"
        ),
        None
    );
    assert_eq!(d("POST", "not a url"), None);
    assert_eq!(
        d(
            "POST",
            "https://api.openai.com:notaport/v1/chat/completions"
        ),
        None
    );
}

#[test]
fn azure() {
    let a = post(
        "https://traceloop-stg.openai.azure.com/openai/deployments/openllmetry-testing/chat/completions?api-version=2024-02-01",
    );
    check(&a, Provider::AzureOpenAi, Op::Chat, F::OpenAiChat);
    assert_eq!(a.deployment.as_deref(), Some("openllmetry-testing"));
    assert_eq!(a.model, None);
    check(
        &post(
            "https://x.cognitiveservices.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21",
        ),
        Provider::AzureOpenAi,
        Op::Embeddings,
        F::OpenAiEmbeddings,
    );
    check(
        &post("https://gw.azure-api.net/openai/deployments/d/completions?api-version=2024-10-21"),
        Provider::AzureOpenAi,
        Op::TextCompletion,
        F::OpenAiChat,
    );
    check(
        &post("https://pydantic-ai-realtime-dev.openai.azure.com/openai/v1/responses"),
        Provider::AzureOpenAi,
        Op::Chat,
        F::OpenAiResponses,
    );
    check(
        &post("https://r.openai.azure.com/openai/v1/chat/completions"),
        Provider::AzureOpenAi,
        Op::Chat,
        F::OpenAiChat,
    );
    check(
        &post("https://r.openai.azure.com/openai/v1/embeddings"),
        Provider::AzureOpenAi,
        Op::Embeddings,
        F::OpenAiEmbeddings,
    );
    check(
        &post("https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview"),
        Provider::AzureOpenAi,
        Op::Chat,
        F::OpenAiResponses,
    );
    check(
        &post(
            "https://proj.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
        ),
        Provider::AzureOpenAi,
        Op::Chat,
        F::OpenAiChat,
    );
    // bare suffix is not a resource host
    assert_eq!(
        d("POST", "https://openai.azure.com/openai/v1/responses"),
        None
    );
    assert_eq!(
        d(
            "GET",
            "https://r.openai.azure.com/openai/deployments?api-version=2022-12-01"
        ),
        None
    );
}

#[test]
fn azure_deployment_resolves_model() {
    let r = ProviderRegistry::new().azure_deployment("openllmetry-testing", "gpt-35-turbo");
    let a = r
        .detect_url(
            "POST",
            "https://traceloop-stg.openai.azure.com/openai/deployments/openllmetry-testing/chat/completions?api-version=2024-02-01",
        )
        .expect("azure");
    assert_eq!(a.model.as_deref(), Some("gpt-35-turbo"));
    assert_eq!(
        r.resolve_deployment("openllmetry-testing"),
        Some("gpt-35-turbo")
    );
    assert_eq!(r.resolve_deployment("other"), None);
}

#[test]
fn anthropic() {
    check(
        &post("https://api.anthropic.com/v1/messages"),
        Provider::Anthropic,
        Op::Chat,
        F::Anthropic,
    );
    check(
        &post("https://api.anthropic.com/v1/messages?beta=true"),
        Provider::Anthropic,
        Op::Chat,
        F::Anthropic,
    );
    check(
        &post("https://api.anthropic.com/v1/messages/count_tokens?beta=true"),
        Provider::Anthropic,
        Op::CountTokens,
        F::Anthropic,
    );
    assert_eq!(d("GET", "https://api.anthropic.com/v1/models"), None);
    assert_eq!(
        d("POST", "https://api.anthropic.com/v1/messages/batches"),
        None
    );
}

#[test]
fn gemini() {
    let g = post(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    );
    check(&g, Provider::Gemini, Op::GenerateContent, F::Gemini);
    assert_eq!(g.model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!((g.stream, g.format), (Some(false), Some(BodyFormat::Json)));

    let s = post(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    );
    check(&s, Provider::Gemini, Op::GenerateContent, F::Gemini);
    assert_eq!((s.stream, s.format), (Some(true), Some(BodyFormat::Sse)));
    let a = post(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    );
    assert_eq!((a.stream, a.format), (Some(true), Some(BodyFormat::Json)));

    let e = post(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents",
    );
    check(&e, Provider::Gemini, Op::Embeddings, F::Gemini);
    assert_eq!(e.model.as_deref(), Some("gemini-embedding-001"));
    check(
        &post(
            "https://generativelanguage.googleapis.com/v1/models/text-embedding-004:embedContent",
        ),
        Provider::Gemini,
        Op::Embeddings,
        F::Gemini,
    );
    check(
        &post("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:countTokens"),
        Provider::Gemini,
        Op::CountTokens,
        F::Gemini,
    );
    // encoded colon
    let enc = post(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash%3AgenerateContent",
    );
    assert_eq!(enc.model.as_deref(), Some("gemini-2.5-flash"));
    check(
        &post("https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
        Provider::Gemini,
        Op::Chat,
        F::OpenAiChat,
    );
    assert_eq!(
        d(
            "GET",
            "https://generativelanguage.googleapis.com/v1beta/models"
        ),
        None
    );
    assert_eq!(
        d(
            "POST",
            "https://generativelanguage.googleapis.com/v1beta/models/:generateContent"
        ),
        None
    );
}

#[test]
fn vertex() {
    let v = post(
        "https://aiplatform.googleapis.com/v1beta1/projects/pydantic-ai/locations/global/publishers/google/models/gemini-2.0-flash:generateContent",
    );
    check(&v, Provider::VertexAi, Op::GenerateContent, F::Gemini);
    assert_eq!(v.model.as_deref(), Some("gemini-2.0-flash"));
    let s = post(
        "https://aiplatform.googleapis.com/v1beta1/projects/pydantic-ai/locations/global/publishers/google/models/gemini-3-flash-preview:streamGenerateContent?alt=sse",
    );
    assert_eq!((s.stream, s.format), (Some(true), Some(BodyFormat::Sse)));
    let r = post(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent",
    );
    check(&r, Provider::VertexAi, Op::GenerateContent, F::Gemini);
    let emb = post(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict",
    );
    check(&emb, Provider::VertexAi, Op::Embeddings, F::Gemini);
    let c = post(
        "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
    );
    check(&c, Provider::VertexAi, Op::Chat, F::Anthropic);
    assert_eq!(c.model.as_deref(), Some("claude-sonnet-4@20250514"));
    assert_eq!((c.stream, c.format), (Some(true), Some(BodyFormat::Sse)));
    let c = post(
        "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-3-5-haiku@20241022:rawPredict",
    );
    assert_eq!((c.flavor, c.stream), (F::Anthropic, Some(false)));
    check(
        &post(
            "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:generateContent",
        ),
        Provider::VertexAi,
        Op::GenerateContent,
        F::Gemini,
    );
    check(
        &post(
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions",
        ),
        Provider::VertexAi,
        Op::Chat,
        F::OpenAiChat,
    );
    // Publisher anthropic with a Gemini method is not a match.
    assert_eq!(
        d(
            "POST",
            "https://aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/anthropic/models/claude:generateContent"
        ),
        None
    );
}

#[test]
fn cohere() {
    check(
        &post("https://api.cohere.com/v2/chat"),
        Provider::Cohere,
        Op::Chat,
        F::CohereChat,
    );
    check(
        &post("https://api.cohere.com/v2/embed"),
        Provider::Cohere,
        Op::Embeddings,
        F::CohereMeta,
    );
    check(
        &post("https://api.cohere.com/v2/rerank"),
        Provider::Cohere,
        Op::Rerank,
        F::CohereMeta,
    );
    check(
        &post("https://api.cohere.com/v1/chat"),
        Provider::Cohere,
        Op::Chat,
        F::CohereV1,
    );
    check(
        &post("https://api.cohere.ai/v1/generate"),
        Provider::Cohere,
        Op::TextCompletion,
        F::CohereV1,
    );
    check(
        &post("https://api.cohere.ai/v1/embed"),
        Provider::Cohere,
        Op::Embeddings,
        F::CohereMeta,
    );
    check(
        &post("https://api.cohere.ai/v1/rerank"),
        Provider::Cohere,
        Op::Rerank,
        F::CohereMeta,
    );
    assert_eq!(d("POST", "https://api.cohere.com/v1/tokenize"), None);
}

#[test]
fn openai_compatible_hosts() {
    let cases: &[(&str, Provider, Operation, Flavor)] = &[
        (
            "https://api.mistral.ai/v1/chat/completions",
            Provider::Mistral,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.mistral.ai/v1/embeddings",
            Provider::Mistral,
            Op::Embeddings,
            F::OpenAiEmbeddings,
        ),
        (
            "https://api.mistral.ai/v1/fim/completions",
            Provider::Mistral,
            Op::TextCompletion,
            F::OpenAiChat,
        ),
        (
            "https://api.groq.com/openai/v1/chat/completions",
            Provider::Groq,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.groq.com/openai/v1/responses",
            Provider::Groq,
            Op::Chat,
            F::OpenAiResponses,
        ),
        (
            "https://api.together.xyz/v1/chat/completions",
            Provider::Together,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.together.xyz/v1/completions",
            Provider::Together,
            Op::TextCompletion,
            F::OpenAiChat,
        ),
        (
            "https://api.deepseek.com/chat/completions",
            Provider::DeepSeek,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.deepseek.com/v1/chat/completions",
            Provider::DeepSeek,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.deepseek.com/beta/chat/completions",
            Provider::DeepSeek,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.deepseek.com/beta/completions",
            Provider::DeepSeek,
            Op::TextCompletion,
            F::OpenAiChat,
        ),
        (
            "https://api.deepseek.com/responses",
            Provider::DeepSeek,
            Op::Chat,
            F::OpenAiResponses,
        ),
        (
            "https://openrouter.ai/api/v1/chat/completions",
            Provider::OpenRouter,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://openrouter.ai/api/v1/responses",
            Provider::OpenRouter,
            Op::Chat,
            F::OpenAiResponses,
        ),
        (
            "https://api.x.ai/v1/chat/completions",
            Provider::XAi,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.moonshot.ai/v1/chat/completions",
            Provider::Moonshot,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.moonshot.cn/v1/embeddings",
            Provider::Moonshot,
            Op::Embeddings,
            F::OpenAiEmbeddings,
        ),
        (
            "https://api.x.ai/v1/responses",
            Provider::XAi,
            Op::Chat,
            F::OpenAiResponses,
        ),
        (
            "https://api.fireworks.ai/inference/v1/chat/completions",
            Provider::Fireworks,
            Op::Chat,
            F::OpenAiChat,
        ),
        (
            "https://api.fireworks.ai/inference/v1/embeddings",
            Provider::Fireworks,
            Op::Embeddings,
            F::OpenAiEmbeddings,
        ),
        (
            "https://api.cerebras.ai/v1/chat/completions",
            Provider::Cerebras,
            Op::Chat,
            F::OpenAiChat,
        ),
    ];
    for (url, p, o, f) in cases {
        check(&post(url), *p, *o, *f);
    }
    // recorded with a fragment; fragments never reach the server
    check(
        &post("https://api.mistral.ai/v1/chat/completions#stream"),
        Provider::Mistral,
        Op::Chat,
        F::OpenAiChat,
    );
    assert_eq!(d("POST", "https://api.groq.com/v1/chat/completions"), None);
    assert_eq!(d("POST", "https://openrouter.ai/v1/chat/completions"), None);
}

#[test]
fn ollama() {
    check(
        &post("http://127.0.0.1:11434/api/chat"),
        Provider::Ollama,
        Op::Chat,
        F::Ollama,
    );
    check(
        &post("http://127.0.0.1:11434/api/generate"),
        Provider::Ollama,
        Op::TextCompletion,
        F::Ollama,
    );
    check(
        &post("http://localhost:11434/api/embed"),
        Provider::Ollama,
        Op::Embeddings,
        F::Ollama,
    );
    check(
        &post("http://gpu-box:11434/api/embeddings"),
        Provider::Ollama,
        Op::Embeddings,
        F::Ollama,
    );
    check(
        &post("http://localhost:11434/v1/chat/completions"),
        Provider::Ollama,
        Op::Chat,
        F::OpenAiChat,
    );
    check(
        &post("https://ollama.com/api/chat"),
        Provider::Ollama,
        Op::Chat,
        F::Ollama,
    );
    assert_eq!(d("POST", "http://localhost:11435/api/chat"), None);
    assert_eq!(d("POST", "http://localhost/api/chat"), None);
    assert_eq!(d("GET", "http://localhost:11434/api/tags"), None);
}

#[test]
fn bedrock() {
    let c = post(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
    );
    check(&c, Provider::Bedrock, Op::Chat, F::BedrockConverse);
    assert_eq!(
        c.model.as_deref(),
        Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
    assert_eq!((c.stream, c.format), (Some(false), Some(BodyFormat::Json)));
    let s = post(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.amazon.nova-micro-v1%3A0/converse-stream",
    );
    check(&s, Provider::Bedrock, Op::Chat, F::BedrockConverse);
    assert_eq!(
        (s.stream, s.format),
        (Some(true), Some(BodyFormat::AwsEventStream))
    );
    let i = post(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke",
    );
    check(&i, Provider::Bedrock, Op::Chat, F::BedrockInvoke);
    let is = post(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-sonnet-20240229-v1%3A0/invoke-with-response-stream",
    );
    check(&is, Provider::Bedrock, Op::Chat, F::BedrockInvoke);
    assert_eq!(
        (is.stream, is.format),
        (Some(true), Some(BodyFormat::AwsEventStream))
    );
    let arn = post(
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
    );
    assert_eq!(
        arn.model.as_deref(),
        Some(
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"
        )
    );
    let emb = post(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke",
    );
    assert_eq!(emb.operation, Op::Embeddings);
    assert_eq!(
        d(
            "POST",
            "https://bedrock.us-east-1.amazonaws.com/model/x/converse"
        ),
        None
    );
    assert_eq!(
        d(
            "GET",
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse"
        ),
        None
    );
}

#[test]
fn pinecone() {
    let q = post("https://gen-qa-openai-fast-90c5d9e.svc.gcp-starter.pinecone.io/query");
    check(&q, Provider::Pinecone, Op::VectorQuery, F::Pinecone);
    assert_eq!(q.collection.as_deref(), Some("gen-qa-openai-fast"));
    let u = post(
        "https://pinecone-instrumentation-test-90c5d9e.svc.aped-4627-b74a.pinecone.io/vectors/upsert",
    );
    check(&u, Provider::Pinecone, Op::VectorUpsert, F::Pinecone);
    assert_eq!(
        u.collection.as_deref(),
        Some("pinecone-instrumentation-test")
    );
    let host = "https://idx-abc1234.svc.us-east-1-aws.pinecone.io";
    let cases: &[(&str, &str, Operation)] = &[
        ("GET", "/vectors/fetch?ids=a&ids=b", Op::VectorFetch),
        ("POST", "/vectors/delete", Op::VectorDelete),
        ("POST", "/vectors/update", Op::VectorUpdate),
        ("GET", "/vectors/list?prefix=doc", Op::VectorOther),
        ("POST", "/describe_index_stats", Op::VectorOther),
        ("POST", "/records/namespaces/ns1/search", Op::VectorQuery),
        ("POST", "/records/namespaces/ns1/upsert", Op::VectorUpsert),
    ];
    for (m, path, op) in cases {
        let got = d(m, &format!("{host}{path}")).unwrap_or_else(|| panic!("{path}"));
        check(&got, Provider::Pinecone, *op, F::Pinecone);
        assert_eq!(got.collection.as_deref(), Some("idx"));
    }
    let ns = post(&format!("{host}/records/namespaces/my%20ns/search"));
    assert_eq!(ns.namespace.as_deref(), Some("my ns"));
    // control plane is not a data-plane call
    assert_eq!(
        d("GET", "https://api.pinecone.io/indexes/gen-qa-openai-fast"),
        None
    );
}

#[test]
fn qdrant() {
    let base = "http://localhost:6333/collections/docs";
    let cases: &[(&str, &str, Operation)] = &[
        ("POST", "/points/search", Op::VectorQuery),
        ("POST", "/points/query", Op::VectorQuery),
        ("POST", "/points/search/batch", Op::VectorQuery),
        ("POST", "/points/query/batch", Op::VectorQuery),
        ("POST", "/points/query/groups", Op::VectorQuery),
        ("POST", "/points/recommend", Op::VectorQuery),
        ("POST", "/points/scroll", Op::VectorFetch),
        ("POST", "/points/delete?wait=true", Op::VectorDelete),
        ("PUT", "/points?wait=true", Op::VectorUpsert),
        ("POST", "/points", Op::VectorFetch),
        ("POST", "/points/payload", Op::VectorUpdate),
    ];
    for (m, path, op) in cases {
        let got = d(m, &format!("{base}{path}")).unwrap_or_else(|| panic!("{path}"));
        check(&got, Provider::Qdrant, *op, F::Qdrant);
        assert_eq!(got.collection.as_deref(), Some("docs"));
    }
    check(
        &post("https://xyz.eu-central.aws.cloud.qdrant.io:6333/collections/c/points/query"),
        Provider::Qdrant,
        Op::VectorQuery,
        F::Qdrant,
    );
    assert_eq!(d("GET", "http://localhost:6333/collections"), None);
    assert_eq!(
        d(
            "POST",
            "http://localhost:6334/collections/docs/points/search"
        ),
        None
    );
}

#[test]
fn weaviate() {
    check(
        &post("http://localhost:8080/v1/graphql"),
        Provider::Weaviate,
        Op::VectorQuery,
        F::Weaviate,
    );
    check(
        &post("http://localhost:8080/v1/objects"),
        Provider::Weaviate,
        Op::VectorUpsert,
        F::Weaviate,
    );
    check(
        &post("http://localhost:8080/v1/batch/objects"),
        Provider::Weaviate,
        Op::VectorUpsert,
        F::Weaviate,
    );
    let g = d("GET", "http://localhost:8080/v1/objects/Article/6a0e-uuid").expect("get");
    check(&g, Provider::Weaviate, Op::VectorFetch, F::Weaviate);
    assert_eq!(g.collection.as_deref(), Some("Article"));
    let del = d("DELETE", "http://localhost:8080/v1/objects/6a0e-uuid").expect("del");
    assert_eq!(del.operation, Op::VectorDelete);
    check(
        &post("https://my-cluster.c0.europe-west3.gcp.weaviate.cloud/v1/graphql"),
        Provider::Weaviate,
        Op::VectorQuery,
        F::Weaviate,
    );
    assert_eq!(d("GET", "http://localhost:8080/v1/schema"), None);
    assert_eq!(d("GET", "http://localhost:8080/v1/meta"), None);
    assert_eq!(d("GET", "http://localhost:8080/v1/nodes"), None);
    assert_eq!(d("GET", "http://localhost:8080/v1/schema/Article"), None);
    // port 8080 alone does not make an OpenAI path a Weaviate call
    assert_eq!(d("POST", "http://localhost:8080/v1/chat/completions"), None);
}

#[test]
fn chroma() {
    let q = post(
        "http://localhost:8000/api/v2/tenants/default_tenant/databases/default_database/collections/3f2a/query",
    );
    check(&q, Provider::Chroma, Op::VectorQuery, F::Chroma);
    assert_eq!(q.collection.as_deref(), Some("3f2a"));
    for (op_path, op) in [
        ("add", Op::VectorUpsert),
        ("upsert", Op::VectorUpsert),
        ("get", Op::VectorFetch),
        ("delete", Op::VectorDelete),
    ] {
        let got = post(&format!(
            "http://localhost:8000/api/v1/collections/c1/{op_path}"
        ));
        check(&got, Provider::Chroma, op, F::Chroma);
    }
    check(
        &post("https://api.trychroma.com/api/v2/tenants/t/databases/d/collections/c/query"),
        Provider::Chroma,
        Op::VectorQuery,
        F::Chroma,
    );
    // vLLM also defaults to :8000: its OpenAI paths are not Chroma.
    assert_eq!(d("POST", "http://localhost:8000/v1/chat/completions"), None);
}

#[test]
fn milvus() {
    let cases = [
        ("search", Op::VectorQuery),
        ("hybrid_search", Op::VectorQuery),
        ("query", Op::VectorFetch),
        ("get", Op::VectorFetch),
        ("insert", Op::VectorUpsert),
        ("upsert", Op::VectorUpsert),
        ("delete", Op::VectorDelete),
    ];
    for (p, op) in cases {
        let got = post(&format!("http://localhost:19530/v2/vectordb/entities/{p}"));
        check(&got, Provider::Milvus, op, F::Milvus);
        assert_eq!(got.collection, None);
    }
    check(
        &post(
            "https://in03-abc.serverless.gcp-us-west1.cloud.zillizcloud.com/v2/vectordb/entities/search",
        ),
        Provider::Milvus,
        Op::VectorQuery,
        F::Milvus,
    );
    assert_eq!(
        d(
            "POST",
            "http://localhost:19530/v2/vectordb/collections/list"
        ),
        None
    );
}

#[test]
fn registry_base_url() {
    let r = ProviderRegistry::new()
        .base_url("http://127.0.0.1:8000/v1", Provider::OpenAiCompatible)
        .base_url(
            "https://gateway.example.com/anthropic/",
            Provider::Anthropic,
        )
        .base_url("https://gateway.example.com/openai", Provider::OpenAi)
        .base_url("http://ollama.lan", Provider::Ollama)
        .base_url("http://vec.lan:7000/", Provider::Qdrant);
    let clone = r.clone();
    for reg in [&r, &clone] {
        check(
            &reg.detect_url("POST", "http://127.0.0.1:8000/v1/chat/completions")
                .expect("vllm"),
            Provider::OpenAiCompatible,
            Op::Chat,
            F::OpenAiChat,
        );
    }
    // Registration beats the built-in table (port 8000 would otherwise be Chroma-only).
    check(
        &r.detect_url("POST", "http://127.0.0.1:8000/v1/embeddings")
            .expect("emb"),
        Provider::OpenAiCompatible,
        Op::Embeddings,
        F::OpenAiEmbeddings,
    );
    check(
        &r.detect_url("POST", "https://gateway.example.com/anthropic/v1/messages")
            .expect("gw anthropic"),
        Provider::Anthropic,
        Op::Chat,
        F::Anthropic,
    );
    check(
        &r.detect_url("POST", "https://gateway.example.com/openai/v1/responses")
            .expect("gw openai"),
        Provider::OpenAi,
        Op::Chat,
        F::OpenAiResponses,
    );
    // prefix optional for registered bases
    check(
        &r.detect_url(
            "POST",
            "https://gateway.example.com/openai/chat/completions",
        )
        .expect("gw openai no v1"),
        Provider::OpenAi,
        Op::Chat,
        F::OpenAiChat,
    );
    check(
        &r.detect_url("POST", "http://ollama.lan:80/api/chat")
            .expect("ollama default port"),
        Provider::Ollama,
        Op::Chat,
        F::Ollama,
    );
    check(
        &r.detect_url("POST", "http://vec.lan:7000/collections/c/points/search")
            .expect("qdrant"),
        Provider::Qdrant,
        Op::VectorQuery,
        F::Qdrant,
    );
    // segment boundary, scheme and port must match
    assert_eq!(
        r.detect_url("POST", "http://127.0.0.1:8000/v1beta/chat/completions"),
        None
    );
    assert_eq!(
        r.detect_url("POST", "https://127.0.0.1:8000/v1/chat/completions"),
        None
    );
    assert_eq!(
        r.detect_url("POST", "http://127.0.0.1:8001/v1/chat/completions"),
        None
    );
    assert_eq!(
        r.detect_url("POST", "https://gateway.example.com/other/v1/messages"),
        None
    );
    // unparsable base URL registers nothing
    let bad = ProviderRegistry::new().base_url("not a url", Provider::OpenAi);
    assert_eq!(
        bad.detect_url("POST", "https://example.com/v1/chat/completions"),
        None
    );
}

#[test]
fn registry_host() {
    let r = ProviderRegistry::new()
        .host("llm.internal", Provider::OpenAiCompatible)
        .host("Proxy.Corp:9000", Provider::OpenAi);
    check(
        &r.detect_url("POST", "https://llm.internal/v1/chat/completions")
            .expect("host"),
        Provider::OpenAiCompatible,
        Op::Chat,
        F::OpenAiChat,
    );
    check(
        &r.detect_url("POST", "http://proxy.corp:9000/v1/embeddings")
            .expect("host:port"),
        Provider::OpenAi,
        Op::Embeddings,
        F::OpenAiEmbeddings,
    );
    assert_eq!(
        r.detect_url("POST", "http://proxy.corp:9001/v1/embeddings"),
        None
    );
    // built-ins still work alongside
    assert!(
        r.detect_url("POST", "https://api.anthropic.com/v1/messages")
            .is_some()
    );
    // and a registered host overrides a built-in one
    let over = ProviderRegistry::new().host("api.openai.com", Provider::OpenAiCompatible);
    assert_eq!(
        over.detect_url("POST", "https://api.openai.com/v1/chat/completions")
            .map(|d| d.provider),
        Some(Provider::OpenAiCompatible)
    );
}

#[test]
fn every_rule_is_reachable_and_captures_are_known() {
    for (_, mounts) in ROUTES.iter().flat_map(|t| t.iter()) {
        for m in *mounts {
            for r in m.rules {
                for seg in pattern_segments(m.prefix).chain(pattern_segments(r.path)) {
                    if let Some(rest) = seg.strip_prefix('{') {
                        let (name, _) = rest.split_once('}').expect("closed capture");
                        assert!(Captures::default().set(name, "x"), "unknown capture {name}");
                    }
                }
                assert_ne!(r.methods, 0);
            }
        }
    }
    for p in Provider::ALL {
        assert!(!routes_of(*p).is_empty(), "{p:?} has no routes");
    }
}

#[test]
fn url_splitting() {
    let e =
        Endpoint::from_url("POST", "https://user:pw@Host.Example:8443/a/b?x=1#f").expect("parse");
    assert_eq!(
        (e.scheme, e.host, e.port, e.path, e.query),
        ("https", "Host.Example", Some(8443), "/a/b", Some("x=1"))
    );
    let e = Endpoint::from_url("GET", "http://[::1]:11434/api/chat").expect("ipv6");
    assert_eq!((e.host, e.port), ("[::1]", Some(11434)));
    let e = Endpoint::from_url("GET", "https://example.com?q").expect("no path");
    assert_eq!((e.path, e.query), ("/", Some("q")));
    assert!(Endpoint::from_url("GET", "https:///path").is_none());
    assert!(Endpoint::from_url("GET", "https://h:99999/").is_none());
    assert!(Endpoint::from_url("GET", "/relative").is_none());
    assert!(Endpoint::from_url("GET", "http://[::1/").is_none());
}

proptest::proptest! {
    #[test]
    fn detect_never_panics(s in ".*", m in "[A-Za-z]{0,7}") {
        let r = ProviderRegistry::new().base_url("http://h/v1", Provider::OpenAiCompatible);
        let _ = r.detect_url(&m, &s);
        let _ = r.detect_url(&m, &format!("https://api.openai.com/{s}"));
        let _ = r.detect_url(&m, &format!("http://h/v1/{s}"));
    }
}
