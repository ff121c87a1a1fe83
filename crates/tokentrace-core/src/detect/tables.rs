//! The built-in detection tables, gathered from each provider's module.

use super::rule::{HostMatch, Mount};
use crate::provider::Provider;
use crate::providers::vector::{chroma, milvus, pinecone, qdrant, weaviate};
use crate::providers::{
    anthropic, azure, bedrock, cohere, compat, gemini, mistral, ollama, openai,
};

/// Each provider's routes, tried in order (first match wins).
pub(super) static ROUTES: &[&[(Provider, &[Mount])]] = &[
    openai::ROUTES,
    azure::ROUTES,
    anthropic::ROUTES,
    gemini::ROUTES,
    cohere::ROUTES,
    mistral::ROUTES,
    compat::ROUTES,
    ollama::ROUTES,
    bedrock::ROUTES,
    pinecone::ROUTES,
    qdrant::ROUTES,
    weaviate::ROUTES,
    chroma::ROUTES,
    milvus::ROUTES,
];

/// Built-in hosts. Hostname rows first; default-port rows last, so that a
/// known host on an odd port is still its own provider.
static HOSTS: &[&[(HostMatch, Provider)]] = &[
    openai::HOSTS,
    azure::HOSTS,
    anthropic::HOSTS,
    gemini::HOSTS,
    cohere::HOSTS,
    mistral::HOSTS,
    compat::HOSTS,
    ollama::HOSTS,
    bedrock::HOSTS,
    pinecone::HOSTS,
    qdrant::HOSTS,
    weaviate::HOSTS,
    chroma::HOSTS,
    milvus::HOSTS,
    ollama::PORTS,
    qdrant::PORTS,
    weaviate::PORTS,
    chroma::PORTS,
    milvus::PORTS,
];

pub(super) fn routes_of(provider: Provider) -> &'static [Mount] {
    ROUTES
        .iter()
        .flat_map(|t| t.iter())
        .find(|(p, _)| *p == provider)
        .map_or(&[], |(_, mounts)| *mounts)
}

/// The provider whose built-in host row matches first.
pub(super) fn host_provider(host: &str, port: Option<u16>) -> Option<Provider> {
    HOSTS
        .iter()
        .flat_map(|t| t.iter())
        .find(|(m, _)| m.matches(host, port))
        .map(|(_, p)| *p)
}
