//! One module per provider wire format: its routes and hosts (read by
//! `detect`), and everything else that is the provider's own.
//!
//! "Where is Anthropic handled?": `providers/anthropic.rs`. The generic
//! machinery (URL matching in `detect`, framing and scanning in `parse`)
//! knows no provider; it reads the tables these modules write.

pub(crate) mod anthropic;
pub(crate) mod azure;
pub(crate) mod bedrock;
pub(crate) mod cohere;
pub(crate) mod compat;
pub(crate) mod gemini;
pub(crate) mod mistral;
pub(crate) mod ollama;
pub(crate) mod openai;
pub(crate) mod vector;

use crate::json::lite::Json;
use crate::parse::raw::Raw;
use crate::parse::wire::Wire;
use crate::provider::Flavor;
use vector::{chroma, milvus, pinecone, qdrant, weaviate};

/// What a flavour's bodies mean to the parser.
pub(crate) fn wire(flavor: Flavor) -> &'static Wire {
    match flavor {
        Flavor::OpenAiChat => &openai::CHAT,
        Flavor::OpenAiResponses => &openai::RESPONSES,
        Flavor::OpenAiEmbeddings => &openai::EMBEDDINGS,
        Flavor::Anthropic => &anthropic::MESSAGES,
        Flavor::Gemini => &gemini::GENERATE,
        Flavor::CohereChat => &cohere::CHAT,
        Flavor::CohereV1 => &cohere::V1,
        Flavor::CohereMeta => &cohere::META_ONLY,
        Flavor::Ollama => &ollama::NATIVE,
        Flavor::BedrockConverse => &bedrock::CONVERSE,
        Flavor::BedrockInvoke => &bedrock::INVOKE,
        Flavor::Pinecone => &pinecone::WIRE,
        Flavor::Qdrant => &qdrant::WIRE,
        Flavor::Weaviate => &weaviate::WIRE,
        Flavor::Chroma => &chroma::WIRE,
        Flavor::Milvus => &milvus::WIRE,
    }
}

/// Read any provider's usage object into raw counts: usage shapes are told
/// apart by their member names, whatever the flavour (an OpenAI-compatible
/// host may answer in another provider's shape), tried in this order.
pub(crate) fn read_usage<J: Json>(v: &J) -> Option<Raw> {
    if !v.is_obj() {
        return None;
    }
    openai::chat_usage(v)
        .or_else(|| gemini::usage(v))
        .or_else(|| bedrock::converse_usage(v))
        .or_else(|| cohere::usage(v))
        .or_else(|| openai::responses_usage(v))
        .or_else(|| anthropic::usage(v))
        .or_else(|| bedrock::invocation_metrics(v))
}
