//! Providers, operations and wire flavours.
//!
//! A [`Provider`] says *who* answered (its `gen_ai.provider.name`), an
//! [`Operation`] says *what* was asked (`gen_ai.operation.name`), and a
//! [`Flavor`] says *how* the answer is shaped on the wire, which picks the
//! usage parser. OpenAI-compatible hosts share the OpenAI flavours and differ
//! only in [`Provider`], which carries their quirks (Groq's `x_groq.usage`,
//! xAI's reasoning outside `completion_tokens`, OpenRouter's reported cost).

use crate::semconv::values;

/// A model or vector-database provider tokentrace knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// OpenAI (`api.openai.com`).
    OpenAi,
    /// Azure OpenAI (`*.openai.azure.com`, `*.cognitiveservices.azure.com`, `*.azure-api.net`).
    AzureOpenAi,
    /// Anthropic Messages API (`api.anthropic.com`).
    Anthropic,
    /// Google Gemini API (`generativelanguage.googleapis.com`).
    Gemini,
    /// Google Vertex AI (`*aiplatform.googleapis.com`).
    VertexAi,
    /// Cohere (`api.cohere.com`, `api.cohere.ai`).
    Cohere,
    /// Mistral (`api.mistral.ai`).
    Mistral,
    /// Groq (`api.groq.com`).
    Groq,
    /// Together AI (`api.together.xyz`).
    Together,
    /// DeepSeek (`api.deepseek.com`).
    DeepSeek,
    /// OpenRouter (`openrouter.ai`).
    OpenRouter,
    /// xAI (`api.x.ai`).
    XAi,
    /// Fireworks (`api.fireworks.ai`).
    Fireworks,
    /// Cerebras (`api.cerebras.ai`).
    Cerebras,
    /// Ollama (native `/api/*` and OpenAI-compatible `/v1/*`).
    Ollama,
    /// AWS Bedrock Runtime (`bedrock-runtime.{region}.amazonaws.com`).
    Bedrock,
    /// Moonshot AI, Kimi models (`api.moonshot.ai`, `api.moonshot.cn`; OpenAI-compatible).
    Moonshot,
    /// A self-hosted or gateway OpenAI-compatible server the user registered.
    OpenAiCompatible,
    /// Pinecone vector database.
    Pinecone,
    /// Qdrant vector database.
    Qdrant,
    /// Weaviate vector database.
    Weaviate,
    /// Chroma vector database.
    Chroma,
    /// Milvus / Zilliz vector database.
    Milvus,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::OpenAi,
        Self::AzureOpenAi,
        Self::Anthropic,
        Self::Gemini,
        Self::VertexAi,
        Self::Cohere,
        Self::Mistral,
        Self::Groq,
        Self::Together,
        Self::DeepSeek,
        Self::OpenRouter,
        Self::XAi,
        Self::Fireworks,
        Self::Cerebras,
        Self::Ollama,
        Self::Bedrock,
        Self::Moonshot,
        Self::OpenAiCompatible,
        Self::Pinecone,
        Self::Qdrant,
        Self::Weaviate,
        Self::Chroma,
        Self::Milvus,
    ];

    /// The `gen_ai.provider.name` value (well-known values from the GenAI
    /// registry where one exists; the provider's own lowercase name otherwise).
    /// For vector databases this is the `db.system.name` value.
    pub const fn otel_name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::AzureOpenAi => "azure.ai.openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gcp.gemini",
            Self::VertexAi => "gcp.vertex_ai",
            Self::Cohere => "cohere",
            Self::Mistral => "mistral_ai",
            Self::Groq => "groq",
            Self::Together => "together_ai",
            Self::DeepSeek => "deepseek",
            Self::OpenRouter => "openrouter",
            Self::XAi => "x_ai",
            Self::Moonshot => "moonshot_ai",
            Self::Fireworks => "fireworks",
            Self::Cerebras => "cerebras",
            Self::Ollama => "ollama",
            Self::Bedrock => "aws.bedrock",
            Self::OpenAiCompatible => "openai_compatible",
            Self::Pinecone => "pinecone",
            Self::Qdrant => "qdrant",
            Self::Weaviate => "weaviate",
            Self::Chroma => "chroma",
            Self::Milvus => "milvus",
        }
    }

    /// A short, span-name-friendly slug (`auto.workflow.{slug}`).
    pub const fn slug(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::AzureOpenAi => "azure",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::VertexAi => "vertex_ai",
            Self::Cohere => "cohere",
            Self::Mistral => "mistral",
            Self::Groq => "groq",
            Self::Together => "together",
            Self::DeepSeek => "deepseek",
            Self::OpenRouter => "openrouter",
            Self::XAi => "xai",
            Self::Moonshot => "moonshot",
            Self::Fireworks => "fireworks",
            Self::Cerebras => "cerebras",
            Self::Ollama => "ollama",
            Self::Bedrock => "bedrock",
            Self::OpenAiCompatible => "openai_compatible",
            Self::Pinecone => "pinecone",
            Self::Qdrant => "qdrant",
            Self::Weaviate => "weaviate",
            Self::Chroma => "chroma",
            Self::Milvus => "milvus",
        }
    }

    /// The OpenInference `llm.provider` value (hosting provider).
    pub const fn openinference_provider(self) -> &'static str {
        match self {
            Self::OpenAi | Self::OpenAiCompatible => "openai",
            Self::AzureOpenAi => "azure",
            Self::Anthropic => "anthropic",
            Self::Gemini | Self::VertexAi => "google",
            Self::Cohere => "cohere",
            Self::Mistral => "mistralai",
            Self::Groq => "groq",
            Self::Together => "together",
            Self::DeepSeek => "deepseek",
            Self::OpenRouter => "openrouter",
            Self::XAi => "xai",
            Self::Moonshot => "moonshot",
            Self::Fireworks => "fireworks",
            Self::Cerebras => "cerebras",
            Self::Ollama => "ollama",
            Self::Bedrock => "aws",
            Self::Pinecone => "pinecone",
            Self::Qdrant => "qdrant",
            Self::Weaviate => "weaviate",
            Self::Chroma => "chroma",
            Self::Milvus => "milvus",
        }
    }

    /// The OpenInference `llm.system` value (model vendor), when the provider
    /// implies one. Routers and multi-vendor hosts have none.
    pub const fn openinference_system(self) -> Option<&'static str> {
        match self {
            Self::OpenAi | Self::AzureOpenAi => Some("openai"),
            Self::Anthropic => Some("anthropic"),
            Self::Gemini | Self::VertexAi => Some("vertexai"),
            Self::Cohere => Some("cohere"),
            Self::Mistral => Some("mistralai"),
            Self::XAi => Some("xai"),
            Self::DeepSeek => Some("deepseek"),
            Self::Bedrock => Some("amazon"),
            _ => None,
        }
    }

    /// True for vector databases (their spans are `RETRIEVER` spans with `db.*` attributes).
    pub const fn is_vector_db(self) -> bool {
        matches!(
            self,
            Self::Pinecone | Self::Qdrant | Self::Weaviate | Self::Chroma | Self::Milvus
        )
    }

    /// Parse a provider from its [`otel_name`](Self::otel_name) or [`slug`](Self::slug).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| {
            p.otel_name().eq_ignore_ascii_case(name) || p.slug().eq_ignore_ascii_case(name)
        })
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.otel_name())
    }
}

/// What a call asks the provider to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Chat-style inference (OpenAI chat and Responses, Anthropic messages, Bedrock Converse, Cohere chat, Ollama chat).
    Chat,
    /// Gemini/Vertex `generateContent`.
    GenerateContent,
    /// Legacy completions and Ollama `generate`.
    TextCompletion,
    /// Embeddings.
    Embeddings,
    /// Rerank (Cohere).
    Rerank,
    /// Token counting (not billed).
    CountTokens,
    /// Vector similarity query / search.
    VectorQuery,
    /// Vector upsert / insert / add.
    VectorUpsert,
    /// Fetch or get records by id.
    VectorFetch,
    /// Delete records.
    VectorDelete,
    /// Update records.
    VectorUpdate,
    /// Any other vector-database call (stats, list, schema, GraphQL without a search).
    VectorOther,
}

impl Operation {
    /// The `gen_ai.operation.name` (LLM operations) or `db.operation.name`
    /// (vector operations) value, also the first word of the span name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::GenerateContent => "generate_content",
            Self::TextCompletion => "text_completion",
            Self::Embeddings => "embeddings",
            Self::Rerank => "rerank",
            Self::CountTokens => "count_tokens",
            Self::VectorQuery => "query",
            Self::VectorUpsert => "upsert",
            Self::VectorFetch => "fetch",
            Self::VectorDelete => "delete",
            Self::VectorUpdate => "update",
            Self::VectorOther => "other",
        }
    }

    /// True for vector-database operations.
    pub const fn is_vector(self) -> bool {
        matches!(
            self,
            Self::VectorQuery
                | Self::VectorUpsert
                | Self::VectorFetch
                | Self::VectorDelete
                | Self::VectorUpdate
                | Self::VectorOther
        )
    }

    /// The `openinference.span.kind` for a span of this operation.
    pub const fn openinference_kind(self) -> &'static str {
        match self {
            Self::Chat | Self::GenerateContent | Self::TextCompletion | Self::CountTokens => {
                values::SPAN_KIND_LLM
            }
            Self::Embeddings => values::SPAN_KIND_EMBEDDING,
            Self::Rerank => values::SPAN_KIND_RERANKER,
            Self::VectorQuery
            | Self::VectorUpsert
            | Self::VectorFetch
            | Self::VectorDelete
            | Self::VectorUpdate
            | Self::VectorOther => values::SPAN_KIND_RETRIEVER,
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The wire shape of a response: which usage parser reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flavor {
    /// OpenAI Chat Completions and legacy Completions, and every OpenAI-compatible host.
    OpenAiChat,
    /// OpenAI Responses API (also Azure v1, xAI and DeepSeek `/responses`).
    OpenAiResponses,
    /// OpenAI embeddings.
    OpenAiEmbeddings,
    /// Anthropic Messages (also Claude on Vertex `rawPredict`).
    Anthropic,
    /// Gemini / Vertex `generateContent`, `streamGenerateContent`, `embedContent`, `countTokens`.
    Gemini,
    /// Cohere v2 chat.
    CohereChat,
    /// Cohere v1 chat/generate.
    CohereV1,
    /// Cohere embed and rerank (v1 and v2): `meta.billed_units`.
    CohereMeta,
    /// Ollama native `/api/chat`, `/api/generate`, `/api/embed`.
    Ollama,
    /// Bedrock Converse and ConverseStream.
    BedrockConverse,
    /// Bedrock InvokeModel and InvokeModelWithResponseStream (model-native bodies).
    BedrockInvoke,
    /// Pinecone data plane.
    Pinecone,
    /// Qdrant REST.
    Qdrant,
    /// Weaviate REST / GraphQL.
    Weaviate,
    /// Chroma REST.
    Chroma,
    /// Milvus / Zilliz REST v2.
    Milvus,
}

impl Flavor {
    /// Every flavour, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::OpenAiChat,
        Self::OpenAiResponses,
        Self::OpenAiEmbeddings,
        Self::Anthropic,
        Self::Gemini,
        Self::CohereChat,
        Self::CohereV1,
        Self::CohereMeta,
        Self::Ollama,
        Self::BedrockConverse,
        Self::BedrockInvoke,
        Self::Pinecone,
        Self::Qdrant,
        Self::Weaviate,
        Self::Chroma,
        Self::Milvus,
    ];

    /// A stable snake_case name (used in fixtures and configuration).
    pub const fn name(self) -> &'static str {
        match self {
            Self::OpenAiChat => "openai_chat",
            Self::OpenAiResponses => "openai_responses",
            Self::OpenAiEmbeddings => "openai_embeddings",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::CohereChat => "cohere_chat",
            Self::CohereV1 => "cohere_v1",
            Self::CohereMeta => "cohere_meta",
            Self::Ollama => "ollama",
            Self::BedrockConverse => "bedrock_converse",
            Self::BedrockInvoke => "bedrock_invoke",
            Self::Pinecone => "pinecone",
            Self::Qdrant => "qdrant",
            Self::Weaviate => "weaviate",
            Self::Chroma => "chroma",
            Self::Milvus => "milvus",
        }
    }

    /// Parse a flavour from its [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyFormat {
    /// One JSON document (or, for Gemini streams without `alt=sse`, one JSON array of documents).
    Json,
    /// Server-sent events (`text/event-stream`).
    Sse,
    /// Newline-delimited JSON (`application/x-ndjson`, `application/stream+json`).
    Ndjson,
    /// AWS binary event stream (`application/vnd.amazon.eventstream`).
    AwsEventStream,
}

impl BodyFormat {
    /// A stable name: `json`, `sse`, `ndjson`, `aws_eventstream`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Sse => "sse",
            Self::Ndjson => "ndjson",
            Self::AwsEventStream => "aws_eventstream",
        }
    }

    /// Parse a format from its [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Json, Self::Sse, Self::Ndjson, Self::AwsEventStream]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// Pick the framing from a `Content-Type` header value; `None` when it is not
    /// one tokentrace parses (HTML error pages, binary payloads).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let ct = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "text/event-stream" => Some(Self::Sse),
            "application/x-ndjson"
            | "application/stream+json"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Self::Ndjson),
            "application/vnd.amazon.eventstream" => Some(Self::AwsEventStream),
            _ if ct == "application/json" || ct.ends_with("+json") || ct == "text/json" => {
                Some(Self::Json)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_name(p.otel_name()), Some(*p));
            assert_eq!(Provider::from_name(p.slug()), Some(*p));
        }
    }

    #[test]
    fn content_types_pick_framing() {
        assert_eq!(
            BodyFormat::from_content_type("text/event-stream; charset=utf-8"),
            Some(BodyFormat::Sse)
        );
        assert_eq!(
            BodyFormat::from_content_type("application/json"),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            BodyFormat::from_content_type("application/x-ndjson"),
            Some(BodyFormat::Ndjson)
        );
        assert_eq!(
            BodyFormat::from_content_type("application/vnd.amazon.eventstream"),
            Some(BodyFormat::AwsEventStream)
        );
        assert_eq!(BodyFormat::from_content_type("text/html"), None);
    }
}
