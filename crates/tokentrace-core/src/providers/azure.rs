//! Azure OpenAI (classic deployments, the v1 and preview surfaces) and Azure
//! AI Foundry model inference. Bodies are OpenAI's (`openai.rs`); what is
//! Azure's own is the deployment in the URL and which model it names.

use super::openai::OPENAI_COMPAT;
use crate::detect::rule::{GET, HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const AZURE_CLASSIC: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "completions", Op::TextCompletion, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
];

pub(crate) const AZURE_PREVIEW: &[Rule] = &[
    rule(POST, "responses", Op::Chat, F::OpenAiResponses),
    rule(GET, "responses/*", Op::Chat, F::OpenAiResponses),
];

/// Azure AI Foundry model inference (`*.services.ai.azure.com/models/…`).
pub(crate) const AZURE_FOUNDRY: &[Rule] = &[
    rule(POST, "chat/completions", Op::Chat, F::OpenAiChat),
    rule(POST, "embeddings", Op::Embeddings, F::OpenAiEmbeddings).unary(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::AzureOpenAi,
    &[
        mount("/openai/deployments/{deployment}", AZURE_CLASSIC),
        mount("/openai/v1", OPENAI_COMPAT),
        mount("/openai", AZURE_PREVIEW),
        mount("/models", AZURE_FOUNDRY),
    ],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
    (
        HostMatch::Suffix(".openai.azure.com"),
        Provider::AzureOpenAi,
    ),
    (
        HostMatch::Suffix(".cognitiveservices.azure.com"),
        Provider::AzureOpenAi,
    ),
    (HostMatch::Suffix(".azure-api.net"), Provider::AzureOpenAi),
    (
        HostMatch::Suffix(".services.ai.azure.com"),
        Provider::AzureOpenAi,
    ),
];

// --- Calls ---

use crate::detect::Detection;

/// An Azure body's `model` is the deployment name; the registry's
/// resolution of the deployment in the URL (in `d.model`) names the real model.
pub(crate) fn model_from_url(d: &Detection) -> bool {
    d.deployment.is_some() && d.model.is_some()
}
