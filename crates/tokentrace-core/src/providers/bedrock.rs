//! AWS Bedrock runtime: Converse and InvokeModel, unary and as AWS event
//! streams.

use crate::detect::rule::{FormatHint, HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor, Operation};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const BEDROCK: &[Rule] = &[
    rule(POST, "converse", Op::Chat, F::BedrockConverse).unary(),
    rule(POST, "converse-stream", Op::Chat, F::BedrockConverse)
        .streaming(FormatHint::AwsEventStream),
    rule(POST, "invoke", Op::Chat, F::BedrockInvoke).unary(),
    rule(
        POST,
        "invoke-with-response-stream",
        Op::Chat,
        F::BedrockInvoke,
    )
    .streaming(FormatHint::AwsEventStream),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] =
    &[(Provider::Bedrock, &[mount("/model/{model}", BEDROCK)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
    (
        HostMatch::Around("bedrock-runtime.", ".amazonaws.com"),
        Provider::Bedrock,
    ),
    (
        HostMatch::Around("bedrock-runtime-fips.", ".amazonaws.com"),
        Provider::Bedrock,
    ),
];

/// InvokeModel serves embedding models too (Titan, Cohere embed); only the
/// model id tells.
pub(crate) fn operation(flavor: Flavor, model: Option<&str>, operation: Operation) -> Operation {
    match (flavor, model) {
        (Flavor::BedrockInvoke, Some(m)) if m.contains("embed") => Operation::Embeddings,
        _ => operation,
    }
}
