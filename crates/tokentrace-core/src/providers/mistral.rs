//! Mistral: the OpenAI chat shape with its own routes (FIM, agents).

use crate::detect::rule::{HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const MISTRAL: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
    rule(POST, "fim/completions", Op::TextCompletion, F::OpenAiChat),
    rule(POST, "agents/completions", Op::Chat, F::OpenAiChat),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(Provider::Mistral, &[mount("/v1", MISTRAL)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Exact("api.mistral.ai"), Provider::Mistral)];
