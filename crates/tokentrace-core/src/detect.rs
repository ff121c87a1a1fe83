//! Provider and operation detection from method + URL (+ a user registry).
//!
//! OWNED BY THE DETECTION HELPER: placeholder API, to be implemented.

use crate::provider::{BodyFormat, Flavor, Operation, Provider};

/// The parts of an outgoing request that detection looks at.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// HTTP method (`POST`).
    pub method: &'a str,
    /// URL scheme (`https`).
    pub scheme: &'a str,
    /// Host, lowercase, without port.
    pub host: &'a str,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Path (percent-encoded, as on the wire).
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
}

/// What detection concluded about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Who answers.
    pub provider: Provider,
    /// What is asked.
    pub operation: Operation,
    /// How the response is shaped.
    pub flavor: Flavor,
    /// Model named in the URL (Gemini/Vertex, Bedrock, Azure deployment resolved through the registry).
    pub model: Option<String>,
    /// Collection / index / class for vector databases.
    pub collection: Option<String>,
    /// True/false when the URL alone says whether the response streams.
    pub stream: Option<bool>,
    /// Body framing implied by the URL, when the URL decides it.
    pub format: Option<BodyFormat>,
}

/// Built-in detection plus user registrations.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {}

impl ProviderRegistry {
    /// An empty registry: built-in hosts only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Detect provider, operation and flavour for a request.
    pub fn detect(&self, endpoint: &Endpoint<'_>) -> Option<Detection> {
        let _ = endpoint;
        None
    }
}
