//! Anthropic Messages API (also served by Vertex AI, see `gemini.rs`, and
//! by Bedrock InvokeModel, see `bedrock.rs`).

use crate::detect::rule::{HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const ANTHROPIC: &[Rule] = &[
    rule(POST, "messages", Op::Chat, F::Anthropic),
    rule(POST, "messages/count_tokens", Op::CountTokens, F::Anthropic).unary(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] =
    &[(Provider::Anthropic, &[mount("/v1", ANTHROPIC)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Exact("api.anthropic.com"), Provider::Anthropic)];

// --- Response ---

use crate::json::lite::Json;
use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS},
    Pattern,
    Seg::Key as K,
};
use crate::parse::raw::{Raw, n};
use crate::parse::wire::{
    ANTHROPIC_MESSAGE_USAGE, BEDROCK_METRICS, Doc, ERROR, FINISH, ID, MODEL, Needle, TYPE, USAGE,
    Verdict, Wire, pats,
};

const PATTERNS: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    ANTHROPIC_MESSAGE_USAGE, C, [K("message"), K("usage")];
    MODEL, CS, [K("model")];
    MODEL, CS, [K("message"), K("model")];
    ID, CS, [K("id")];
    ID, CS, [K("message"), K("id")];
    FINISH, CS, [K("stop_reason")];
    FINISH, CS, [K("delta"), K("stop_reason")];
    TYPE, CS, [K("type")];
    ERROR, C, [K("error")];
    BEDROCK_METRICS, C, [K("amazon-bedrock-invocationMetrics")];
];

/// Anthropic's stream needles followed by `$extra`: Bedrock InvokeModel,
/// which streams Anthropic's events among others, adds its own.
macro_rules! anthropic_needles {
    ($($extra:expr),* $(,)?) => {{
        use crate::parse::wire::Needle::{Any, Key, Sticky as S};
        use crate::parse::wire::Sticky;
        &[
            Any(b"\"error\""),
            Any(b"\"message_stop\""),
            Key(b"\"usage\""),
            Key(b"\"stop_reason\""),
            Key(b"\"stopReason\""),
            Key(b"\"amazon-bedrock-invocationMetrics\""),
            Key(b"\"bytes\""),
            Key(b"\"prompt_token_count\""),
            Key(b"\"generation_token_count\""),
            Key(b"\"tokenCount\""),
            Key(b"\"completionReason\""),
            S(b"\"model\"", Sticky::Model),
            S(b"\"id\"", Sticky::Id),
            $($extra,)*
        ]
    }};
}
pub(crate) use anthropic_needles;

/// Stream events worth parsing.
const NEEDLES: &[Needle] = anthropic_needles!();

/// The Messages API, direct or through Vertex AI.
pub(crate) const MESSAGES: Wire = Wire {
    patterns: PATTERNS,
    needles: NEEDLES,
    end: messages_end,
    ..Wire::BASE
};

/// `message_stop` ends the stream; an error document (`type: error`)
/// carries `error.type` / `error.message` (read from the `error` member).
fn messages_end(doc: Doc<'_>, v: &mut Verdict) {
    if doc.doc_type == Some("message_stop") {
        v.terminal = true;
    }
    if let Some(m) = doc.message
        && doc.error_doc
    {
        v.error(doc.aws_error_type.map(str::to_owned), Some(m));
    }
}

/// Anthropic usage: `input_tokens` excludes cache reads and writes, which
/// come as `cache_read_input_tokens` / `cache_creation_input_tokens`.
/// (Tried after the Responses API shape, which shares `input_tokens`.)
pub(crate) fn usage<J: Json>(v: &J) -> Option<Raw> {
    if v.member("input_tokens").is_none() && v.member("output_tokens").is_none() {
        return None;
    }
    let input = n(v, &["input_tokens"]);
    Some(Raw {
        input,
        output: n(v, &["output_tokens"]),
        total: n(v, &["total_tokens"]),
        // A message_delta that repeats only output must not reset input accounting.
        input_excludes_cache: input.is_some(),
        cache_read: n(v, &["cache_read_input_tokens"]),
        cache_write: n(v, &["cache_creation_input_tokens"]),
        cache_write_1h: n(v, &["cache_creation", "ephemeral_1h_input_tokens"]),
        reasoning: n(v, &["output_tokens_details", "thinking_tokens"]),
        ..Raw::default()
    })
}
