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
