//! Ollama: the native `/api` surface (NDJSON streams) and its OpenAI
//! endpoint.

use super::openai::OPENAI_COMPAT;
use crate::detect::rule::{HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const OLLAMA_NATIVE: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::Ollama),
    rule(POST, "generate", Op::TextCompletion, F::Ollama),
    rule(POST, "embed", Op::Embeddings, F::Ollama).unary(),
    rule(POST, "embeddings", Op::Embeddings, F::Ollama).unary(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::Ollama,
    &[mount("/api", OLLAMA_NATIVE), mount("/v1", OPENAI_COMPAT)],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Exact("ollama.com"), Provider::Ollama)];

/// Any host on Ollama's default port (matched after every hostname row).
pub(crate) const PORTS: &[(HostMatch, Provider)] = &[(HostMatch::Port(11434), Provider::Ollama)];

// --- Response ---

use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS},
    Pattern,
    Seg::{AnyIndex as Ix, Key as K},
};
use crate::parse::wire::{
    DONE, ERROR, FINISH, IN_TOKENS, MODEL, Needle, OUT_TOKENS, Sticky, USAGE, Wire, pats,
};

const PATTERNS: &[Pattern] = pats![
    IN_TOKENS, CS, [K("prompt_eval_count")];
    OUT_TOKENS, CS, [K("eval_count")];
    MODEL, CS, [K("model")];
    DONE, CS, [K("done")];
    FINISH, CS, [K("done_reason")];
    ERROR, C, [K("error")];
    USAGE, C, [K("usage")];
    FINISH, CS, [K("choices"), Ix, K("finish_reason")];
];

const NEEDLES: &[Needle] = {
    use Needle::{Any, Key, Sticky as S};
    &[
        Any(b"\"error\""),
        Key(b"\"prompt_eval_count\""),
        Key(b"\"eval_count\""),
        Key(b"\"done\""),
        Key(b"\"done_reason\""),
        Key(b"\"usage\""),
        Key(b"\"finish_reason\""),
        S(b"\"model\"", Sticky::Model),
    ]
};

/// The native API: `"done": true` on the last NDJSON line ends the stream
/// (captured as `DONE`), with the counts `prompt_eval_count` / `eval_count`.
pub(crate) const NATIVE: Wire = Wire {
    patterns: PATTERNS,
    needles: NEEDLES,
    ..Wire::BASE
};

// --- Request ---

/// The native API streams unless told not to: an absent `stream` on a
/// chat / generate body (one with `messages` or `prompt`) reads as `true`.
pub(crate) fn default_stream(
    flavor: crate::provider::Flavor,
    stream: Option<bool>,
    chat_or_generate: bool,
) -> Option<bool> {
    if flavor == crate::provider::Flavor::Ollama && stream.is_none() && chat_or_generate {
        Some(true)
    } else {
        stream
    }
}
