//! Provider and operation detection from method + URL (+ a user registry).
//!
//! Detection is table-driven. A host table maps hostnames (exact, by suffix
//! such as `.openai.azure.com`, or any host on a self-hosted server's default
//! port) to a [`Provider`](crate::Provider); each provider has a table of routes, each a path
//! prefix plus rules of segment patterns (`chat/completions`,
//! `{model}:generateContent`, `collections/{collection}/points/search`, …) with
//! the HTTP method, [`Operation`](crate::Operation) and [`Flavor`](crate::Flavor) they imply, plus what the URL
//! alone says about streaming and framing. Wire facts come from
//! `docs/providers.md` ("Detection"), the genai-prices `api_pattern`
//! regexes and recorded provider traffic.
//!
//! User registrations in [`ProviderRegistry`] are consulted before the
//! built-in table, so a gateway or a self-hosted server can be attributed to
//! the provider it fronts.
//!
//! ```
//! use tokentrace_core::{Operation, Provider, ProviderRegistry};
//!
//! let registry = ProviderRegistry::new()
//!     .base_url("http://127.0.0.1:8000/v1", Provider::OpenAiCompatible)
//!     .azure_deployment("my-dep", "gpt-4o-mini");
//!
//! let d = registry
//!     .detect_url("POST", "https://api.openai.com/v1/chat/completions")
//!     .expect("built-in host");
//! assert_eq!((d.provider, d.operation), (Provider::OpenAi, Operation::Chat));
//!
//! let d = registry
//!     .detect_url("POST", "http://127.0.0.1:8000/v1/chat/completions")
//!     .expect("registered base URL");
//! assert_eq!(d.provider, Provider::OpenAiCompatible);
//!
//! let d = registry
//!     .detect_url(
//!         "POST",
//!         "https://res.openai.azure.com/openai/deployments/my-dep/chat/completions?api-version=2024-02-01",
//!     )
//!     .expect("Azure");
//! assert_eq!(d.model.as_deref(), Some("gpt-4o-mini"));
//!
//! // An unknown host's OpenAI-looking path is not claimed.
//! assert!(registry.detect_url("POST", "https://example.com/v1/chat/completions").is_none());
//! ```
//!
//! The pieces: [`Endpoint`] and [`Detection`] (`endpoint.rs`), the table
//! vocabulary (`rule.rs`), the built-in tables assembled from each provider's
//! own module under `crate::providers` (`tables.rs`), path matching
//! (`matcher.rs`) and the user registrations (`registry.rs`).

mod endpoint;
mod matcher;
mod registry;
pub(crate) mod rule;
mod tables;
#[cfg(test)]
mod tests;

pub use endpoint::{Detection, Endpoint};
pub use registry::ProviderRegistry;
