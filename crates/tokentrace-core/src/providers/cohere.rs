//! Cohere: v2 chat, v1 chat / generate, embed and rerank.

use crate::detect::rule::{HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const COHERE_V2: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::CohereChat),
    rule(POST, "embed", Op::Embeddings, F::CohereMeta).unary(),
    rule(POST, "rerank", Op::Rerank, F::CohereMeta).unary(),
];

pub(crate) const COHERE_V1: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::CohereV1),
    rule(POST, "generate", Op::TextCompletion, F::CohereV1),
    rule(POST, "embed", Op::Embeddings, F::CohereMeta).unary(),
    rule(POST, "rerank", Op::Rerank, F::CohereMeta).unary(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::Cohere,
    &[mount("/v2", COHERE_V2), mount("/v1", COHERE_V1)],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
    (HostMatch::Exact("api.cohere.com"), Provider::Cohere),
    (HostMatch::Exact("api.cohere.ai"), Provider::Cohere),
];
