//! Provider and operation detection from method + URL (+ a user registry).
//!
//! Detection is table-driven. A host table maps hostnames (exact, by suffix
//! such as `.openai.azure.com`, or any host on a self-hosted server's default
//! port) to a [`Provider`]; each provider has a table of routes, each a path
//! prefix plus rules of segment patterns (`chat/completions`,
//! `{model}:generateContent`, `collections/{collection}/points/search`, …) with
//! the HTTP method, [`Operation`] and [`Flavor`] they imply, plus what the URL
//! alone says about streaming and framing. Wire facts come from
//! `docs/providers.md` ("Detection"), the genai-prices `api_pattern`
//! regexes and recorded provider traffic.
//!
//! User registrations in [`ProviderRegistry`] are consulted before the
//! built-in table, so a gateway or a self-hosted server can be attributed to
//! the provider it fronts.
//!
//! ```
//! use tokentrace_core::{Operation, Provider, ProviderRegistry};
//!
//! let registry = ProviderRegistry::new()
//!     .base_url("http://127.0.0.1:8000/v1", Provider::OpenAiCompatible)
//!     .azure_deployment("my-dep", "gpt-4o-mini");
//!
//! let d = registry
//!     .detect_url("POST", "https://api.openai.com/v1/chat/completions")
//!     .expect("built-in host");
//! assert_eq!((d.provider, d.operation), (Provider::OpenAi, Operation::Chat));
//!
//! let d = registry
//!     .detect_url("POST", "http://127.0.0.1:8000/v1/chat/completions")
//!     .expect("registered base URL");
//! assert_eq!(d.provider, Provider::OpenAiCompatible);
//!
//! let d = registry
//!     .detect_url(
//!         "POST",
//!         "https://res.openai.azure.com/openai/deployments/my-dep/chat/completions?api-version=2024-02-01",
//!     )
//!     .expect("Azure");
//! assert_eq!(d.model.as_deref(), Some("gpt-4o-mini"));
//!
//! // An unknown host's OpenAI-looking path is not claimed.
//! assert!(registry.detect_url("POST", "https://example.com/v1/chat/completions").is_none());
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::bound::percent_decode;
use crate::provider::{BodyFormat, Flavor, Operation, Provider};

/// The parts of an outgoing request that detection looks at.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// HTTP method (`POST`), compared case-insensitively.
    pub method: &'a str,
    /// URL scheme (`https`).
    pub scheme: &'a str,
    /// Host without port. Lowercase is expected (as `url::Url::host_str` gives);
    /// detection compares hosts case-insensitively anyway.
    pub host: &'a str,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Path (percent-encoded, as on the wire).
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
}

impl<'a> Endpoint<'a> {
    /// Split an absolute URL string (`scheme://[userinfo@]host[:port]/path?query#fragment`)
    /// into an endpoint; userinfo and fragment are ignored. `None` when the URL
    /// has no scheme or host, or its port is not a number.
    pub fn from_url(method: &'a str, url: &'a str) -> Option<Self> {
        let raw = split_url_raw(url);
        let scheme = raw.scheme?;
        let (host, port) = split_host_port(raw.authority)?;
        Some(Self {
            method,
            scheme,
            host,
            port,
            path: if raw.path.is_empty() { "/" } else { raw.path },
            query: raw.query,
        })
    }

    /// The port, or the scheme's default (80 for `http`, 443 for `https`).
    fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme))
    }
}

/// What detection concluded about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Who answers.
    pub provider: Provider,
    /// What is asked.
    pub operation: Operation,
    /// How the response is shaped.
    pub flavor: Flavor,
    /// Model named in the URL (Gemini/Vertex, Bedrock with percent-decoding,
    /// Azure deployment resolved through the registry). `None` for an Azure
    /// deployment that is not registered: the response names the real model.
    pub model: Option<String>,
    /// Collection / index / class for vector databases (Pinecone: the index
    /// name taken from the index host).
    pub collection: Option<String>,
    /// True/false when the URL alone says whether the response streams.
    pub stream: Option<bool>,
    /// Body framing implied by the URL, when the URL decides it.
    pub format: Option<BodyFormat>,
    /// Azure OpenAI deployment named in the URL (`/openai/deployments/{deployment}/…`).
    pub deployment: Option<String>,
    /// Vector-database namespace named in the URL (Pinecone `/records/namespaces/{ns}/…`).
    pub namespace: Option<String>,
}

// ---------------------------------------------------------------------------
// The rule tables
// ---------------------------------------------------------------------------

/// Allowed methods, as a bit set.
type Methods = u8;
const POST: Methods = 1;
const GET: Methods = 2;
const PUT: Methods = 4;
const DELETE: Methods = 8;
const PATCH: Methods = 16;

fn method_bit(method: &str) -> Methods {
    const NAMES: [(&str, Methods); 5] = [
        ("POST", POST),
        ("GET", GET),
        ("PUT", PUT),
        ("DELETE", DELETE),
        ("PATCH", PATCH),
    ];
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(method))
        .map_or(0, |(_, bit)| *bit)
}

/// What the URL says about the response framing.
#[derive(Debug, Clone, Copy)]
enum FormatHint {
    /// Decided by the response `Content-Type`.
    Unknown,
    Json,
    Sse,
    AwsEventStream,
    /// Gemini `streamGenerateContent`: SSE with `alt=sse`, a JSON array otherwise.
    GeminiStream,
}

/// One route: methods + path pattern (relative to its mount) → meaning.
///
/// Pattern segments: a literal (`chat`), alternatives (`search|query`), `*`
/// (any one segment), a capture (`{model}`, `{deployment}`, `{collection}`,
/// `{namespace}`), or a capture with a literal suffix (`{model}:generateContent`).
/// Segments are percent-decoded before matching.
#[derive(Debug, Clone, Copy)]
struct Rule {
    methods: Methods,
    path: &'static str,
    operation: Operation,
    flavor: Flavor,
    stream: Option<bool>,
    format: FormatHint,
}

const fn rule(methods: Methods, path: &'static str, operation: Operation, flavor: Flavor) -> Rule {
    Rule {
        methods,
        path,
        operation,
        flavor,
        stream: None,
        format: FormatHint::Unknown,
    }
}

impl Rule {
    /// The URL says the response never streams (JSON body).
    const fn unary(self) -> Self {
        Self {
            stream: Some(false),
            format: FormatHint::Json,
            ..self
        }
    }

    /// The URL says the response is not streamed; framing left to `Content-Type`.
    const fn no_stream(self) -> Self {
        Self {
            stream: Some(false),
            ..self
        }
    }

    /// The URL says the response streams, framed as `format`.
    const fn streaming(self, format: FormatHint) -> Self {
        Self {
            stream: Some(true),
            format,
            ..self
        }
    }
}

/// A group of rules under a path prefix (itself a pattern).
#[derive(Debug, Clone, Copy)]
struct Mount {
    prefix: &'static str,
    rules: &'static [Rule],
}

const fn mount(prefix: &'static str, rules: &'static [Rule]) -> Mount {
    Mount { prefix, rules }
}

use Flavor as F;
use Operation as Op;

/// The OpenAI-compatible surface, mounted under each host's prefix.
const OPENAI_COMPAT: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "responses", Op::Chat, F::OpenAiResponses),
    rule(GET, "responses/*", Op::Chat, F::OpenAiResponses),
    rule(POST, "completions", Op::TextCompletion, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
];

const OPENAI_EXTRA: &[Rule] = &[rule(
    POST,
    "responses/input_tokens",
    Op::CountTokens,
    F::OpenAiResponses,
)
.unary()];

const AZURE_CLASSIC: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "completions", Op::TextCompletion, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
];

const AZURE_PREVIEW: &[Rule] = &[
    rule(POST, "responses", Op::Chat, F::OpenAiResponses),
    rule(GET, "responses/*", Op::Chat, F::OpenAiResponses),
];

/// Azure AI Foundry model inference (`*.services.ai.azure.com/models/…`).
const AZURE_FOUNDRY: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
];

const ANTHROPIC: &[Rule] = &[
    rule(POST, "messages", Op::Chat, F::Anthropic),
    rule(POST, "messages/count_tokens", Op::CountTokens, F::Anthropic).unary(),
];

/// `{model}:method` tails shared by the Gemini API and Vertex AI.
const GEMINI_MODEL: &[Rule] = &[
    rule(
        POST,
        "{model}:generateContent",
        Op::GenerateContent,
        F::Gemini,
    )
    .unary(),
    rule(
        POST,
        "{model}:streamGenerateContent",
        Op::GenerateContent,
        F::Gemini,
    )
    .streaming(FormatHint::GeminiStream),
    rule(POST, "{model}:embedContent", Op::Embeddings, F::Gemini).unary(),
    rule(
        POST,
        "{model}:batchEmbedContents",
        Op::Embeddings,
        F::Gemini,
    )
    .unary(),
    rule(POST, "{model}:countTokens", Op::CountTokens, F::Gemini).unary(),
];

const GEMINI_OPENAI: &[Rule] = &[
    rule(POST, "openai/chat/completions", Op::Chat, F::OpenAiChat),
    rule(
        POST,
        "openai/embeddings",
        Op::Embeddings,
        F::OpenAiEmbeddings,
    )
    .unary(),
];

const VERTEX_PREDICT: &[Rule] = &[rule(POST, "{model}:predict", Op::Embeddings, F::Gemini).unary()];

const VERTEX_ANTHROPIC: &[Rule] = &[
    rule(POST, "{model}:rawPredict", Op::Chat, F::Anthropic).unary(),
    rule(POST, "{model}:streamRawPredict", Op::Chat, F::Anthropic).streaming(FormatHint::Sse),
];

const VERTEX_OPENAI: &[Rule] = &[rule(POST, "chat/completions", Op::Chat, F::OpenAiChat)];

const COHERE_V2: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::CohereChat),
    rule(POST, "embed", Op::Embeddings, F::CohereMeta).unary(),
    rule(POST, "rerank", Op::Rerank, F::CohereMeta).unary(),
];

const COHERE_V1: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::CohereV1),
    rule(POST, "generate", Op::TextCompletion, F::CohereV1),
    rule(POST, "embed", Op::Embeddings, F::CohereMeta).unary(),
    rule(POST, "rerank", Op::Rerank, F::CohereMeta).unary(),
];

const MISTRAL: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
    rule(POST, "fim/completions", Op::TextCompletion, F::OpenAiChat),
    rule(POST, "agents/completions", Op::Chat, F::OpenAiChat),
];

const OLLAMA_NATIVE: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::Ollama),
    rule(POST, "generate", Op::TextCompletion, F::Ollama),
    rule(POST, "embed", Op::Embeddings, F::Ollama).unary(),
    rule(POST, "embeddings", Op::Embeddings, F::Ollama).unary(),
];

const BEDROCK: &[Rule] = &[
    rule(POST, "converse", Op::Chat, F::BedrockConverse).unary(),
    rule(POST, "converse-stream", Op::Chat, F::BedrockConverse)
        .streaming(FormatHint::AwsEventStream),
    rule(POST, "invoke", Op::Chat, F::BedrockInvoke).unary(),
    rule(
        POST,
        "invoke-with-response-stream",
        Op::Chat,
        F::BedrockInvoke,
    )
    .streaming(FormatHint::AwsEventStream),
];

const PINECONE: &[Rule] = &[
    rule(POST, "query", Op::VectorQuery, F::Pinecone).no_stream(),
    rule(POST, "vectors/upsert", Op::VectorUpsert, F::Pinecone).no_stream(),
    rule(GET, "vectors/fetch", Op::VectorFetch, F::Pinecone).no_stream(),
    rule(
        POST | DELETE,
        "vectors/delete",
        Op::VectorDelete,
        F::Pinecone,
    )
    .no_stream(),
    rule(POST, "vectors/update", Op::VectorUpdate, F::Pinecone).no_stream(),
    rule(GET, "vectors/list", Op::VectorOther, F::Pinecone).no_stream(),
    rule(
        GET | POST,
        "describe_index_stats",
        Op::VectorOther,
        F::Pinecone,
    )
    .no_stream(),
    rule(
        POST,
        "records/namespaces/{namespace}/search",
        Op::VectorQuery,
        F::Pinecone,
    )
    .no_stream(),
    rule(
        POST,
        "records/namespaces/{namespace}/upsert",
        Op::VectorUpsert,
        F::Pinecone,
    )
    .no_stream(),
    rule(
        POST,
        "namespaces/{namespace}/documents/upsert",
        Op::VectorUpsert,
        F::Pinecone,
    )
    .no_stream(),
];

const QDRANT: &[Rule] = &[
    rule(
        POST,
        "points/search|query|recommend|discover",
        Op::VectorQuery,
        F::Qdrant,
    )
    .no_stream(),
    rule(
        POST,
        "points/search|query|recommend|discover/batch|groups",
        Op::VectorQuery,
        F::Qdrant,
    )
    .no_stream(),
    rule(POST, "points/scroll", Op::VectorFetch, F::Qdrant).no_stream(),
    rule(POST, "points/delete", Op::VectorDelete, F::Qdrant).no_stream(),
    rule(PUT, "points", Op::VectorUpsert, F::Qdrant).no_stream(),
    rule(POST, "points", Op::VectorFetch, F::Qdrant).no_stream(),
    rule(
        POST | PUT,
        "points/payload|vectors",
        Op::VectorUpdate,
        F::Qdrant,
    )
    .no_stream(),
    rule(
        POST,
        "points/payload|vectors/delete|clear",
        Op::VectorUpdate,
        F::Qdrant,
    )
    .no_stream(),
    rule(POST, "points/count", Op::VectorOther, F::Qdrant).no_stream(),
];

const WEAVIATE: &[Rule] = &[
    rule(POST, "graphql", Op::VectorQuery, F::Weaviate).no_stream(),
    rule(POST, "objects", Op::VectorUpsert, F::Weaviate).no_stream(),
    rule(GET, "objects", Op::VectorFetch, F::Weaviate).no_stream(),
    rule(GET, "objects/{collection}/*", Op::VectorFetch, F::Weaviate).no_stream(),
    rule(
        DELETE,
        "objects/{collection}/*",
        Op::VectorDelete,
        F::Weaviate,
    )
    .no_stream(),
    rule(
        PUT | PATCH,
        "objects/{collection}/*",
        Op::VectorUpdate,
        F::Weaviate,
    )
    .no_stream(),
    rule(GET, "objects/*", Op::VectorFetch, F::Weaviate).no_stream(),
    rule(DELETE, "objects/*", Op::VectorDelete, F::Weaviate).no_stream(),
    rule(PUT | PATCH, "objects/*", Op::VectorUpdate, F::Weaviate).no_stream(),
    rule(POST, "batch/objects", Op::VectorUpsert, F::Weaviate).no_stream(),
    rule(DELETE, "batch/objects", Op::VectorDelete, F::Weaviate).no_stream(),
];

const CHROMA: &[Rule] = &[
    rule(POST, "query", Op::VectorQuery, F::Chroma).no_stream(),
    rule(POST, "add|upsert", Op::VectorUpsert, F::Chroma).no_stream(),
    rule(POST, "get", Op::VectorFetch, F::Chroma).no_stream(),
    rule(POST, "delete", Op::VectorDelete, F::Chroma).no_stream(),
    rule(POST, "update", Op::VectorUpdate, F::Chroma).no_stream(),
    rule(GET, "count", Op::VectorOther, F::Chroma).no_stream(),
];

const MILVUS: &[Rule] = &[
    rule(
        POST,
        "search|hybrid_search|advanced_search",
        Op::VectorQuery,
        F::Milvus,
    )
    .no_stream(),
    rule(POST, "query|get", Op::VectorFetch, F::Milvus).no_stream(),
    rule(POST, "insert|upsert", Op::VectorUpsert, F::Milvus).no_stream(),
    rule(POST, "delete", Op::VectorDelete, F::Milvus).no_stream(),
];

/// Each provider's routes, tried in order (first match wins).
static ROUTES: &[(Provider, &[Mount])] = &[
    (
        Provider::OpenAi,
        &[mount("/v1", OPENAI_EXTRA), mount("/v1", OPENAI_COMPAT)],
    ),
    (
        Provider::AzureOpenAi,
        &[
            mount("/openai/deployments/{deployment}", AZURE_CLASSIC),
            mount("/openai/v1", OPENAI_COMPAT),
            mount("/openai", AZURE_PREVIEW),
            mount("/models", AZURE_FOUNDRY),
        ],
    ),
    (Provider::Anthropic, &[mount("/v1", ANTHROPIC)]),
    (
        Provider::Gemini,
        &[
            mount("/v1beta|v1|v1alpha/models|tunedModels", GEMINI_MODEL),
            mount("/v1beta|v1", GEMINI_OPENAI),
        ],
    ),
    (
        Provider::VertexAi,
        &[
            mount(
                "/v1|v1beta1/projects/*/locations/*/publishers/google/models",
                GEMINI_MODEL,
            ),
            mount(
                "/v1|v1beta1/projects/*/locations/*/publishers/google/models",
                VERTEX_PREDICT,
            ),
            mount(
                "/v1|v1beta1/projects/*/locations/*/publishers/anthropic/models",
                VERTEX_ANTHROPIC,
            ),
            mount(
                "/v1|v1beta1/projects/*/locations/*/endpoints/openapi",
                VERTEX_OPENAI,
            ),
            mount("/v1|v1beta1/publishers/google/models", GEMINI_MODEL),
        ],
    ),
    (
        Provider::Cohere,
        &[mount("/v2", COHERE_V2), mount("/v1", COHERE_V1)],
    ),
    (Provider::Mistral, &[mount("/v1", MISTRAL)]),
    (Provider::Groq, &[mount("/openai/v1", OPENAI_COMPAT)]),
    (Provider::Together, &[mount("/v1", OPENAI_COMPAT)]),
    (
        Provider::DeepSeek,
        &[mount("", OPENAI_COMPAT), mount("/v1|beta", OPENAI_COMPAT)],
    ),
    (Provider::OpenRouter, &[mount("/api/v1", OPENAI_COMPAT)]),
    (Provider::XAi, &[mount("/v1", OPENAI_COMPAT)]),
    (Provider::Moonshot, &[mount("/v1", OPENAI_COMPAT)]),
    (
        Provider::Fireworks,
        &[mount("/inference/v1", OPENAI_COMPAT)],
    ),
    (Provider::Cerebras, &[mount("/v1", OPENAI_COMPAT)]),
    (
        Provider::Ollama,
        &[mount("/api", OLLAMA_NATIVE), mount("/v1", OPENAI_COMPAT)],
    ),
    (Provider::Bedrock, &[mount("/model/{model}", BEDROCK)]),
    (Provider::OpenAiCompatible, &[mount("/v1", OPENAI_COMPAT)]),
    (Provider::Pinecone, &[mount("", PINECONE)]),
    (
        Provider::Qdrant,
        &[mount("/collections/{collection}", QDRANT)],
    ),
    (Provider::Weaviate, &[mount("/v1", WEAVIATE)]),
    (
        Provider::Chroma,
        &[
            mount(
                "/api/v2/tenants/*/databases/*/collections/{collection}",
                CHROMA,
            ),
            mount("/api/v1/collections/{collection}", CHROMA),
        ],
    ),
    (Provider::Milvus, &[mount("/v2/vectordb/entities", MILVUS)]),
];

/// How a host row matches.
#[derive(Debug, Clone, Copy)]
enum HostMatch {
    /// The host, exactly.
    Exact(&'static str),
    /// Any host ending with this (which starts with `.` or `-`), with a non-empty label before it.
    Suffix(&'static str),
    /// A host starting with the first string and ending with the second.
    Around(&'static str, &'static str),
    /// Any host on this explicit port (self-hosted defaults); only that provider's paths match.
    Port(u16),
}

impl HostMatch {
    fn matches(self, host: &str, port: Option<u16>) -> bool {
        match self {
            Self::Exact(h) => host.eq_ignore_ascii_case(h),
            Self::Suffix(s) => host.len() > s.len() && ends_with_ignore_case(host, s),
            Self::Around(p, s) => {
                host.len() > p.len() + s.len()
                    && starts_with_ignore_case(host, p)
                    && ends_with_ignore_case(host, s)
            }
            Self::Port(p) => port == Some(p),
        }
    }
}

/// Built-in hosts. Hostname rows first; default-port rows last, so that a
/// known host on an odd port is still its own provider.
static HOSTS: &[(HostMatch, Provider)] = &[
    (HostMatch::Exact("api.openai.com"), Provider::OpenAi),
    (
        HostMatch::Suffix(".openai.azure.com"),
        Provider::AzureOpenAi,
    ),
    (
        HostMatch::Suffix(".cognitiveservices.azure.com"),
        Provider::AzureOpenAi,
    ),
    (HostMatch::Suffix(".azure-api.net"), Provider::AzureOpenAi),
    (
        HostMatch::Suffix(".services.ai.azure.com"),
        Provider::AzureOpenAi,
    ),
    (HostMatch::Exact("api.anthropic.com"), Provider::Anthropic),
    (
        HostMatch::Exact("generativelanguage.googleapis.com"),
        Provider::Gemini,
    ),
    (
        HostMatch::Exact("aiplatform.googleapis.com"),
        Provider::VertexAi,
    ),
    (
        HostMatch::Suffix("-aiplatform.googleapis.com"),
        Provider::VertexAi,
    ),
    (HostMatch::Exact("api.cohere.com"), Provider::Cohere),
    (HostMatch::Exact("api.cohere.ai"), Provider::Cohere),
    (HostMatch::Exact("api.mistral.ai"), Provider::Mistral),
    (HostMatch::Exact("api.groq.com"), Provider::Groq),
    (HostMatch::Exact("api.together.xyz"), Provider::Together),
    (HostMatch::Exact("api.together.ai"), Provider::Together),
    (HostMatch::Exact("api.deepseek.com"), Provider::DeepSeek),
    (HostMatch::Exact("openrouter.ai"), Provider::OpenRouter),
    (HostMatch::Exact("api.openrouter.ai"), Provider::OpenRouter),
    (HostMatch::Exact("api.x.ai"), Provider::XAi),
    (HostMatch::Exact("api.moonshot.ai"), Provider::Moonshot),
    (HostMatch::Exact("api.moonshot.cn"), Provider::Moonshot),
    (HostMatch::Exact("api.fireworks.ai"), Provider::Fireworks),
    (HostMatch::Exact("api.cerebras.ai"), Provider::Cerebras),
    (HostMatch::Exact("ollama.com"), Provider::Ollama),
    (
        HostMatch::Around("bedrock-runtime.", ".amazonaws.com"),
        Provider::Bedrock,
    ),
    (
        HostMatch::Around("bedrock-runtime-fips.", ".amazonaws.com"),
        Provider::Bedrock,
    ),
    (HostMatch::Suffix(".pinecone.io"), Provider::Pinecone),
    (HostMatch::Suffix(".cloud.qdrant.io"), Provider::Qdrant),
    (HostMatch::Suffix(".weaviate.cloud"), Provider::Weaviate),
    (HostMatch::Suffix(".weaviate.network"), Provider::Weaviate),
    (HostMatch::Exact("api.trychroma.com"), Provider::Chroma),
    (HostMatch::Suffix(".zillizcloud.com"), Provider::Milvus),
    (HostMatch::Port(11434), Provider::Ollama),
    (HostMatch::Port(6333), Provider::Qdrant),
    (HostMatch::Port(8080), Provider::Weaviate),
    (HostMatch::Port(8000), Provider::Chroma),
    (HostMatch::Port(19530), Provider::Milvus),
];

fn routes_of(provider: Provider) -> &'static [Mount] {
    ROUTES
        .iter()
        .find(|(p, _)| *p == provider)
        .map_or(&[], |(_, mounts)| *mounts)
}

// ---------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Captures {
    model: Option<String>,
    deployment: Option<String>,
    collection: Option<String>,
    namespace: Option<String>,
}

impl Captures {
    fn set(&mut self, name: &str, value: &str) -> bool {
        let slot = match name {
            "model" => &mut self.model,
            "deployment" => &mut self.deployment,
            "collection" => &mut self.collection,
            "namespace" => &mut self.namespace,
            _ => return false,
        };
        *slot = Some(value.to_owned());
        true
    }
}

fn pattern_segments(pattern: &str) -> impl Iterator<Item = &str> + Clone {
    pattern.split('/').filter(|s| !s.is_empty())
}

fn segment_matches(pattern: &str, segment: &str, caps: &mut Captures) -> bool {
    if pattern == "*" {
        return !segment.is_empty();
    }
    if let Some(rest) = pattern.strip_prefix('{') {
        let Some((name, suffix)) = rest.split_once('}') else {
            return false;
        };
        let value = if suffix.is_empty() {
            segment
        } else {
            match segment.strip_suffix(suffix) {
                Some(v) => v,
                None => return false,
            }
        };
        return !value.is_empty() && caps.set(name, value);
    }
    pattern.split('|').any(|alt| alt == segment)
}

/// Match `prefix` + `path` patterns against the whole of `segments`.
fn match_path(prefix: &str, path: &str, segments: &[Cow<'_, str>]) -> Option<Captures> {
    let mut caps = Captures::default();
    let mut pats = pattern_segments(prefix).chain(pattern_segments(path));
    let mut segs = segments.iter();
    loop {
        match (pats.next(), segs.next()) {
            (None, None) => return Some(caps),
            (Some(p), Some(s)) if segment_matches(p, s, &mut caps) => {}
            _ => return None,
        }
    }
}

/// Percent-decoded path segments (a trailing slash ignored). A segment whose
/// decoding is not UTF-8 is kept as sent.
fn path_segments(path: &str) -> Vec<Cow<'_, str>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false).unwrap_or(Cow::Borrowed(s)))
        .collect()
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The Pinecone index name from an index host
/// (`{index}-{project}.svc.{environment}.pinecone.io`).
fn pinecone_index(host: &str) -> Option<String> {
    let (label, rest) = host.split_once('.')?;
    if !starts_with_ignore_case(rest, "svc.") {
        return None;
    }
    let index = match label.rsplit_once('-') {
        Some((index, project))
            if !index.is_empty()
                && (4..=10).contains(&project.len())
                && project.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            index
        }
        _ => label,
    };
    Some(index.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct BaseUrl {
    scheme: String,
    host: String,
    port: Option<u16>,
    segments: Vec<String>,
    provider: Provider,
}

#[derive(Debug, Clone)]
struct HostRegistration {
    host: String,
    port: Option<u16>,
    provider: Provider,
}

#[derive(Debug, Clone, Default)]
struct Registrations {
    /// Longest path first, so the most specific base URL wins.
    bases: Vec<BaseUrl>,
    hosts: Vec<HostRegistration>,
    deployments: HashMap<String, String>,
}

/// Built-in detection plus user registrations.
///
/// Cheap to clone (the registrations sit behind an `Arc`). Setters consume and
/// return the registry. Registrations are consulted before the built-in table,
/// in this order: base URLs (most specific first), then hosts.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    inner: Arc<Registrations>,
}

impl ProviderRegistry {
    /// An empty registry: built-in hosts only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attribute every request under `base_url` (prefix match on scheme, host,
    /// port and whole path segments) to `provider`. The rest of the path is
    /// matched against that provider's routes, with the provider's own API
    /// prefix (`/v1`, `/api`, …) optional since SDK base URLs usually include
    /// it. A URL that cannot be parsed registers nothing.
    ///
    /// ```
    /// use tokentrace_core::{Provider, ProviderRegistry};
    ///
    /// let r = ProviderRegistry::new().base_url("http://vllm.internal:8000/v1", Provider::OpenAiCompatible);
    /// let d = r.detect_url("POST", "http://vllm.internal:8000/v1/chat/completions").expect("registered");
    /// assert_eq!(d.provider, Provider::OpenAiCompatible);
    /// ```
    #[must_use]
    pub fn base_url(mut self, base_url: &str, provider: Provider) -> Self {
        if let Some(ep) = Endpoint::from_url("", base_url) {
            let base = BaseUrl {
                scheme: ep.scheme.to_ascii_lowercase(),
                host: ep.host.to_ascii_lowercase(),
                port: ep.effective_port(),
                segments: path_segments(ep.path)
                    .into_iter()
                    .map(Cow::into_owned)
                    .collect(),
                provider,
            };
            let inner = Arc::make_mut(&mut self.inner);
            inner.bases.push(base);
            inner
                .bases
                .sort_by_key(|b| std::cmp::Reverse(b.segments.len()));
        }
        self
    }

    /// Attribute every request to `host` (optionally `host:port`) to
    /// `provider`; its whole path is matched against that provider's routes,
    /// the provider's API prefix being optional.
    #[must_use]
    pub fn host(mut self, host: &str, provider: Provider) -> Self {
        let (name, port) = split_host_port(host.trim()).unwrap_or((host, None));
        Arc::make_mut(&mut self.inner).hosts.push(HostRegistration {
            host: name.to_ascii_lowercase(),
            port,
            provider,
        });
        self
    }

    /// Map an Azure OpenAI deployment name to the model it serves, so the
    /// detection (and pricing) names the model rather than the deployment.
    #[must_use]
    pub fn azure_deployment(mut self, deployment: &str, model: &str) -> Self {
        Arc::make_mut(&mut self.inner)
            .deployments
            .insert(deployment.to_owned(), model.to_owned());
        self
    }

    /// The model registered for an Azure deployment (the Azure request body's
    /// `model` is the deployment name too).
    pub fn resolve_deployment(&self, deployment: &str) -> Option<&str> {
        self.inner.deployments.get(deployment).map(String::as_str)
    }

    /// Detect provider, operation and flavour for a request; `None` when it is
    /// not a call tokentrace recognises (unknown host, or a known host's
    /// non-model endpoint such as `/v1/models`).
    pub fn detect(&self, endpoint: &Endpoint<'_>) -> Option<Detection> {
        let segments = path_segments(endpoint.path);
        let port = endpoint.effective_port();

        for base in &self.inner.bases {
            let matches = base.scheme.eq_ignore_ascii_case(endpoint.scheme)
                && base.host.eq_ignore_ascii_case(endpoint.host)
                && base.port == port
                && segments.len() >= base.segments.len()
                && base
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(b, s)| b == s.as_ref());
            if matches {
                let rest = &segments[base.segments.len()..];
                if let Some(d) = self.match_routes(base.provider, endpoint, rest, true) {
                    return Some(d);
                }
            }
        }
        for reg in &self.inner.hosts {
            if reg.host.eq_ignore_ascii_case(endpoint.host)
                && (reg.port.is_none() || reg.port == port)
                && let Some(d) = self.match_routes(reg.provider, endpoint, &segments, true)
            {
                return Some(d);
            }
        }
        let (_, provider) = HOSTS
            .iter()
            .find(|(m, _)| m.matches(endpoint.host, endpoint.port))?;
        self.match_routes(*provider, endpoint, &segments, false)
    }

    /// [`detect`](Self::detect) on a URL string (see [`Endpoint::from_url`]).
    pub fn detect_url(&self, method: &str, url: &str) -> Option<Detection> {
        self.detect(&Endpoint::from_url(method, url)?)
    }

    fn match_routes(
        &self,
        provider: Provider,
        endpoint: &Endpoint<'_>,
        segments: &[Cow<'_, str>],
        prefix_optional: bool,
    ) -> Option<Detection> {
        let method = method_bit(endpoint.method);
        let mounts = routes_of(provider);
        let passes: &[bool] = if prefix_optional {
            &[true, false]
        } else {
            &[true]
        };
        for &with_prefix in passes {
            for m in mounts {
                let prefix = if with_prefix { m.prefix } else { "" };
                for r in m.rules.iter().filter(|r| r.methods & method != 0) {
                    if let Some(caps) = match_path(prefix, r.path, segments) {
                        return Some(self.build(provider, r, caps, endpoint));
                    }
                }
            }
        }
        None
    }

    fn build(
        &self,
        provider: Provider,
        rule: &Rule,
        caps: Captures,
        endpoint: &Endpoint<'_>,
    ) -> Detection {
        let model = match (&caps.model, &caps.deployment) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(d)) => self.resolve_deployment(d).map(str::to_owned),
            (None, None) => None,
        };
        let collection = match (provider, caps.collection) {
            (Provider::Pinecone, None) => pinecone_index(endpoint.host),
            (_, c) => c,
        };
        let format = match rule.format {
            FormatHint::Unknown => None,
            FormatHint::Json => Some(BodyFormat::Json),
            FormatHint::Sse => Some(BodyFormat::Sse),
            FormatHint::AwsEventStream => Some(BodyFormat::AwsEventStream),
            FormatHint::GeminiStream => {
                let sse = endpoint
                    .query
                    .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
                Some(if sse {
                    BodyFormat::Sse
                } else {
                    BodyFormat::Json
                })
            }
        };
        // InvokeModel serves embedding models too (Titan, Cohere embed); only
        // the model id tells.
        let operation = match (rule.flavor, &model) {
            (Flavor::BedrockInvoke, Some(m)) if m.contains("embed") => Operation::Embeddings,
            _ => rule.operation,
        };
        Detection {
            provider,
            operation,
            flavor: rule.flavor,
            model,
            collection,
            stream: rule.stream,
            format,
            deployment: caps.deployment,
            namespace: caps.namespace,
        }
    }
}

// ---------------------------------------------------------------------------
// URL splitting (no `url` crate: core stays light)
// ---------------------------------------------------------------------------

/// A URL cut into its parts, without validation or decoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawUrl<'a> {
    pub(crate) scheme: Option<&'a str>,
    /// `host[:port]`, userinfo removed; empty without a scheme.
    pub(crate) authority: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

/// Split `scheme://[userinfo@]authority/path?query#fragment`. Without a
/// `scheme://`, the whole string is path and query.
pub(crate) fn split_url_raw(url: &str) -> RawUrl<'_> {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, rest))
            if !s.is_empty()
                && s.as_bytes()[0].is_ascii_alphabetic()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            (Some(s), rest)
        }
        _ => (None, url),
    };
    let (authority, rest) = if scheme.is_some() {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        rest.split_at(end)
    } else {
        ("", rest)
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    RawUrl {
        scheme,
        authority,
        path,
        query,
    }
}

/// `host[:port]` (IPv6 in brackets) → host and port. `None` when the host is
/// empty or the port is not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let (host, rest) = authority.split_at(end);
        match rest.strip_prefix(':') {
            Some(p) => (host, p),
            None if rest.is_empty() => (host, ""),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => (authority, ""),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = if port.is_empty() {
        None
    } else {
        Some(port.parse::<u16>().ok()?)
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            &post(
                "https://gw.azure-api.net/openai/deployments/d/completions?api-version=2024-10-21",
            ),
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
            &post(
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:countTokens",
            ),
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
        for (_, mounts) in ROUTES {
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
        let e = Endpoint::from_url("POST", "https://user:pw@Host.Example:8443/a/b?x=1#f")
            .expect("parse");
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
}
