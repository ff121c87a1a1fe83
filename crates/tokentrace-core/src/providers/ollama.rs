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
