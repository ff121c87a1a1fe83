//! OpenAI-compatible hosts with no rules of their own beyond routes and
//! hosts: Groq, Together, DeepSeek, OpenRouter, xAI, Moonshot, Fireworks,
//! Cerebras, and a registered `OpenAiCompatible` server. Their bodies are
//! OpenAI's (`openai.rs`); the few accounting quirks (xAI reasoning,
//! OpenRouter's reported cost) are here.

use super::openai::OPENAI_COMPAT;
use crate::detect::rule::{HostMatch, Mount, mount};
use crate::provider::Provider;

// --- Detection ---

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[
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
    (Provider::OpenAiCompatible, &[mount("/v1", OPENAI_COMPAT)]),
];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
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
];

// --- Response ---

/// xAI's `completion_tokens` exclude reasoning (genai-prices x-ai mapping).
pub(crate) fn reasoning_outside_output(provider: Provider) -> bool {
    provider == Provider::XAi
}

/// OpenRouter (and any bring-your-own-key gateway that says `is_byok`)
/// reports the call's cost in `usage.cost`: that is the price recorded.
pub(crate) fn reports_cost(provider: Provider, usage_has_byok: bool) -> bool {
    provider == Provider::OpenRouter || usage_has_byok
}
