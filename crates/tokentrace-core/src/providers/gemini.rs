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

// --- Response ---

use crate::json::lite::Json;
use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS},
    Pattern,
    Seg::{AnyIndex as Ix, Key as K},
};
use crate::parse::raw::{Raw, n, nonzero};
use crate::parse::wire::{
    Doc, ERROR, FINISH, ID, IN_TOKENS, INDEX, MODEL, Needle, Sticky, USAGE, Verdict, Wire, pats,
};
use crate::usage::ModalityUsage;

const PATTERNS: &[Pattern] = pats![
    USAGE, C, [K("usageMetadata")];
    MODEL, CS, [K("modelVersion")];
    ID, CS, [K("responseId")];
    FINISH, CS, [K("candidates"), Ix, K("finishReason")];
    INDEX, CS, [K("candidates"), Ix, K("index")];
    ERROR, C, [K("error")];
    IN_TOKENS, CS, [K("predictions"), Ix, K("embeddings"), K("statistics"), K("token_count")];
];

const NEEDLES: &[Needle] = {
    use Needle::{Any, Key, Sticky as S};
    &[
        Any(b"\"error\""),
        Key(b"\"usageMetadata\""),
        Key(b"\"finishReason\""),
        S(b"\"modelVersion\"", Sticky::Model),
        S(b"\"responseId\"", Sticky::Id),
    ]
};

/// `generateContent`, `streamGenerateContent`, embeddings and `predict`.
pub(crate) const GENERATE: Wire = Wire {
    patterns: PATTERNS,
    needles: NEEDLES,
    end: generate_end,
    // Gemini's `error.code` is the HTTP status; `error.status` (`NOT_FOUND`) names it.
    error_status_first: true,
    ..Wire::BASE
};

/// A Gemini stream has no end event: a finish reason marks the last chunk.
#[allow(clippy::needless_pass_by_value)] // every end rule takes its document
fn generate_end(doc: Doc<'_>, v: &mut Verdict) {
    if doc.has_finish {
        v.terminal = true;
    }
}

/// `usageMetadata`: cumulative on every chunk; thoughts are outside
/// `candidatesTokenCount`, tool-use prompt tokens outside `promptTokenCount`.
pub(crate) fn usage<J: Json>(v: &J) -> Option<Raw> {
    if v.member("promptTokenCount").is_none()
        && v.member("candidatesTokenCount").is_none()
        && v.member("totalTokenCount").is_none()
    {
        return None;
    }
    let mut r = Raw {
        input: n(v, &["promptTokenCount"]),
        extra_input: n(v, &["toolUsePromptTokenCount"]),
        output: n(v, &["candidatesTokenCount"]),
        total: n(v, &["totalTokenCount"]),
        cache_read: n(v, &["cachedContentTokenCount"]),
        reasoning: n(v, &["thoughtsTokenCount"]),
        reasoning_excluded: true,
        modal: modalities(v),
        ..Raw::default()
    };
    if r.input.is_some() && r.output.is_none() && r.total.is_some() {
        // Fields are omitted when zero: an empty candidate list means 0 output.
        let known = r
            .input
            .unwrap_or(0)
            .saturating_add(r.extra_input.unwrap_or(0))
            .saturating_add(r.reasoning.unwrap_or(0));
        if r.total == Some(known) {
            r.output = Some(0);
        }
    }
    Some(r)
}

/// Gemini `promptTokensDetails` / `candidatesTokensDetails`: arrays of
/// `{modality, tokenCount}` (`TEXT`, `IMAGE`, `AUDIO`; `VIDEO` and
/// `DOCUMENT` have no GenAI modality and stay in the totals only).
fn modalities<J: Json>(v: &J) -> ModalityUsage {
    let mut out = ModalityUsage::default();
    for (key, input) in [
        ("promptTokensDetails", true),
        ("candidatesTokensDetails", false),
    ] {
        let Some(list) = v.member(key) else { continue };
        for item in list.items() {
            let Some(count) = nonzero(n(item, &["tokenCount"])) else {
                continue;
            };
            let slot = match (item.member("modality").and_then(Json::string), input) {
                (Some("TEXT"), true) => &mut out.text_input_tokens,
                (Some("IMAGE"), true) => &mut out.image_input_tokens,
                (Some("AUDIO"), true) => &mut out.audio_input_tokens,
                (Some("TEXT"), false) => &mut out.text_output_tokens,
                (Some("IMAGE"), false) => &mut out.image_output_tokens,
                (Some("AUDIO"), false) => &mut out.audio_output_tokens,
                _ => continue,
            };
            *slot = Some(slot.unwrap_or(0).saturating_add(count));
        }
    }
    out
}
