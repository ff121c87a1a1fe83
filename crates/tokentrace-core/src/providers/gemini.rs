//! Google: the Gemini API (`generativelanguage.googleapis.com`) and Vertex
//! AI (Gemini models, Anthropic models behind `rawPredict`, the OpenAI
//! endpoint).

use crate::detect::rule::{FormatHint, HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::BodyFormat;
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

/// `{model}:method` tails shared by the Gemini API and Vertex AI.
pub(crate) const GEMINI_MODEL: &[Rule] = &[
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

pub(crate) const GEMINI_OPENAI: &[Rule] = &[
    rule(POST, "openai/chat/completions", Op::Chat, F::OpenAiChat),
    rule(
        POST,
        "openai/embeddings",
        Op::Embeddings,
        F::OpenAiEmbeddings,
    )
    .unary(),
];

pub(crate) const VERTEX_PREDICT: &[Rule] =
    &[rule(POST, "{model}:predict", Op::Embeddings, F::Gemini).unary()];

pub(crate) const VERTEX_ANTHROPIC: &[Rule] = &[
    rule(POST, "{model}:rawPredict", Op::Chat, F::Anthropic).unary(),
    rule(POST, "{model}:streamRawPredict", Op::Chat, F::Anthropic).streaming(FormatHint::Sse),
];

pub(crate) const VERTEX_OPENAI: &[Rule] =
    &[rule(POST, "chat/completions", Op::Chat, F::OpenAiChat)];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[
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
];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
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
];

/// `streamGenerateContent` frames its stream as SSE with `alt=sse`, as one
/// JSON array otherwise.
pub(crate) fn stream_format(query: Option<&str>) -> BodyFormat {
    let sse = query.is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
    if sse {
        BodyFormat::Sse
    } else {
        BodyFormat::Json
    }
}
