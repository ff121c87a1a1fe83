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
