//! OpenAI: Chat Completions (and legacy Completions), the Responses API and
//! embeddings. Its route table is also the OpenAI-compatible surface other
//! hosts mount (`compat.rs`, Azure, Ollama, Gemini's OpenAI endpoint).

use crate::detect::rule::{GET, HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

/// The OpenAI-compatible surface, mounted under each host's prefix.
pub(crate) const OPENAI_COMPAT: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "responses", Op::Chat, F::OpenAiResponses),
    rule(GET, "responses/*", Op::Chat, F::OpenAiResponses),
    rule(POST, "completions", Op::TextCompletion, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
];

pub(crate) const OPENAI_EXTRA: &[Rule] = &[rule(
    POST,
    "responses/input_tokens",
    Op::CountTokens,
    F::OpenAiResponses,
)
.unary()];

/// Routes: `/v1/…` on `api.openai.com`.
pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::OpenAi,
    &[mount("/v1", OPENAI_EXTRA), mount("/v1", OPENAI_COMPAT)],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Exact("api.openai.com"), Provider::OpenAi)];

// --- Response ---

use crate::json::lite::Json;
use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS},
    Pattern,
    Seg::{AnyIndex as Ix, Key as K},
};
use crate::parse::raw::{Raw, n, nonzero};
use crate::parse::wire::{
    CODE, Doc, ERROR, FINISH, ID, INCOMPLETE_REASON, INDEX, MESSAGE, MODEL, Needle, OBJECT, STATUS,
    Sticky, TIER, TYPE, USAGE, Verdict, Wire, pats,
};
use crate::usage::ModalityUsage;

const OPENAI_CHAT: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    USAGE, C, [K("x_groq"), K("usage")];
    MODEL, CS, [K("model")];
    ID, CS, [K("id")];
    FINISH, CS, [K("choices"), Ix, K("finish_reason")];
    INDEX, CS, [K("choices"), Ix, K("index")];
    ERROR, C, [K("error")];
    OBJECT, CS, [K("object")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
    CODE, CS, [K("code")];
    TIER, CS, [K("service_tier")];
];

const OPENAI_RESPONSES: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    USAGE, C, [K("response"), K("usage")];
    MODEL, CS, [K("model")];
    MODEL, CS, [K("response"), K("model")];
    ID, CS, [K("id")];
    ID, CS, [K("response"), K("id")];
    STATUS, CS, [K("status")];
    STATUS, CS, [K("response"), K("status")];
    INCOMPLETE_REASON, CS, [K("incomplete_details"), K("reason")];
    INCOMPLETE_REASON, CS, [K("response"), K("incomplete_details"), K("reason")];
    ERROR, C, [K("error")];
    ERROR, C, [K("response"), K("error")];
    TYPE, CS, [K("type")];
    CODE, CS, [K("code")];
    MESSAGE, CS, [K("message")];
    TIER, CS, [K("service_tier")];
    TIER, CS, [K("response"), K("service_tier")];
];

const OPENAI_EMBEDDINGS: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    MODEL, CS, [K("model")];
    ERROR, C, [K("error")];
    OBJECT, CS, [K("object")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
];

/// Chat and embeddings stream events worth parsing.
const CHAT_NEEDLES: &[Needle] = {
    use Needle::{Any, Key, Sticky as S};
    &[
        Any(b"\"error\""),
        Key(b"\"usage\""),
        Key(b"\"finish_reason\""),
        S(b"\"model\"", Sticky::Model),
        S(b"\"id\"", Sticky::Id),
        S(b"\"service_tier\"", Sticky::Tier),
    ]
};

/// Responses API stream events worth parsing.
const RESPONSES_NEEDLES: &[Needle] = {
    use Needle::{Any, Key, Sticky as S};
    &[
        Any(b"\"error\""),
        Any(b"\"response.completed\""),
        Any(b"\"response.failed\""),
        Any(b"\"response.incomplete\""),
        Key(b"\"usage\""),
        Key(b"\"reason\""),
        S(b"\"model\"", Sticky::Model),
        S(b"\"id\"", Sticky::Id),
        S(b"\"service_tier\"", Sticky::Tier),
    ]
};

/// Chat Completions (and legacy Completions), on every OpenAI-compatible host.
pub(crate) const CHAT: Wire = Wire {
    patterns: OPENAI_CHAT,
    needles: CHAT_NEEDLES,
    end: chat_end,
    ..Wire::BASE
};

/// Embeddings.
pub(crate) const EMBEDDINGS: Wire = Wire {
    patterns: OPENAI_EMBEDDINGS,
    needles: CHAT_NEEDLES,
    end: chat_end,
    ..Wire::BASE
};

/// The Responses API.
pub(crate) const RESPONSES: Wire = Wire {
    patterns: OPENAI_RESPONSES,
    needles: RESPONSES_NEEDLES,
    end: responses_end,
    ..Wire::BASE
};

/// Chat streams have no end marker of their own (`data: [DONE]` is SSE's);
/// an error document names its type in `type` (unless it is just `error`)
/// or `code`.
fn chat_end(doc: Doc<'_>, v: &mut Verdict) {
    if doc.error_doc {
        v.error(
            doc.doc_type
                .filter(|t| *t != "error")
                .map(str::to_owned)
                .or(doc.code),
            doc.message,
        );
    }
}

/// `response.completed` / `failed` / `incomplete` end the stream. The
/// Responses API has no finish reason; an incomplete response says why it
/// stopped (`max_output_tokens`, `content_filter`).
fn responses_end(doc: Doc<'_>, v: &mut Verdict) {
    match doc.doc_type {
        Some("response.completed" | "response.failed" | "response.incomplete") => {
            v.terminal = true;
        }
        Some("error") => v.error(doc.code.or_else(|| Some("error".to_owned())), doc.message),
        _ => {}
    }
    if let Some(reason) = doc.incomplete_reason {
        v.finish = Some(reason);
    }
}

/// Chat / legacy / embeddings usage (`prompt_tokens`…), as every
/// OpenAI-compatible host sends it.
pub(crate) fn chat_usage<J: Json>(v: &J) -> Option<Raw> {
    let p = n(v, &["prompt_tokens"])?;
    Some(Raw {
        input: Some(p),
        output: n(v, &["completion_tokens"]),
        total: n(v, &["total_tokens"]),
        cache_read: n(v, &["prompt_tokens_details", "cached_tokens"])
            .or_else(|| n(v, &["prompt_cache_hit_tokens"])),
        cache_write: n(v, &["prompt_tokens_details", "cache_write_tokens"]),
        reasoning: n(v, &["completion_tokens_details", "reasoning_tokens"]),
        modal: modalities(v, "prompt_tokens_details", "completion_tokens_details"),
        ..Raw::default()
    })
}

/// Responses API usage: `input_tokens` with `input_tokens_details` (input
/// includes cache reads), told apart from Anthropic's `input_tokens` by its
/// details objects.
pub(crate) fn responses_usage<J: Json>(v: &J) -> Option<Raw> {
    let tokens = v.member("input_tokens").is_some() || v.member("output_tokens").is_some();
    let shape = v.member("input_tokens_details").is_some()
        || v.member("output_tokens_details").is_some()
            && v.member("cache_read_input_tokens").is_none()
            && v.member("cache_creation_input_tokens").is_none();
    if !(tokens && shape) {
        return None;
    }
    Some(Raw {
        input: n(v, &["input_tokens"]),
        output: n(v, &["output_tokens"]),
        total: n(v, &["total_tokens"]),
        cache_read: n(v, &["input_tokens_details", "cached_tokens"]),
        cache_write: n(v, &["input_tokens_details", "cache_write_tokens"]),
        reasoning: n(v, &["output_tokens_details", "reasoning_tokens"])
            .or_else(|| n(v, &["output_tokens_details", "thinking_tokens"])),
        modal: modalities(v, "input_tokens_details", "output_tokens_details"),
        ..Raw::default()
    })
}

/// OpenAI `{prompt,completion}_tokens_details` (and the Responses API's
/// `{input,output}_tokens_details`): `text_tokens`, `image_tokens`, `audio_tokens`.
fn modalities<J: Json>(v: &J, input: &str, output: &str) -> ModalityUsage {
    let m = |side: &str, key: &str| nonzero(n(v, &[side, key]));
    ModalityUsage {
        text_input_tokens: m(input, "text_tokens"),
        image_input_tokens: m(input, "image_tokens"),
        audio_input_tokens: m(input, "audio_tokens"),
        text_output_tokens: m(output, "text_tokens"),
        image_output_tokens: m(output, "image_tokens"),
        audio_output_tokens: m(output, "audio_tokens"),
    }
}

// --- Calls ---

/// A Chat Completions stream sent without `stream_options.include_usage`:
/// OpenAI (and most compatible servers) then send no usage chunk.
pub(crate) fn usage_not_requested(
    flavor: F,
    stream: Option<bool>,
    include_usage: Option<bool>,
) -> bool {
    flavor == F::OpenAiChat && stream == Some(true) && include_usage != Some(true)
}
