//! What detection reads ([`Endpoint`]) and what it concludes ([`Detection`]).

use crate::provider::{BodyFormat, Flavor, Operation, Provider};
use crate::url::{default_port, split_host_port, split_url_raw};

/// The parts of an outgoing request that detection looks at.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// HTTP method (`POST`), compared case-insensitively.
    pub method: &'a str,
    /// URL scheme (`https`).
    pub scheme: &'a str,
    /// Host without port. Lowercase is expected (as `url::Url::host_str` gives);
    /// detection compares hosts case-insensitively anyway.
    pub host: &'a str,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Path (percent-encoded, as on the wire).
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
}

impl<'a> Endpoint<'a> {
    /// Split an absolute URL string (`scheme://[userinfo@]host[:port]/path?query#fragment`)
    /// into an endpoint; userinfo and fragment are ignored. `None` when the URL
    /// has no scheme or host, or its port is not a number.
    pub fn from_url(method: &'a str, url: &'a str) -> Option<Self> {
        let raw = split_url_raw(url);
        let scheme = raw.scheme?;
        let (host, port) = split_host_port(raw.authority)?;
        Some(Self {
            method,
            scheme,
            host,
            port,
            path: if raw.path.is_empty() { "/" } else { raw.path },
            query: raw.query,
        })
    }

    /// The port, or the scheme's default (80 for `http`, 443 for `https`).
    pub(crate) fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme))
    }
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
    /// Model named in the URL (Gemini/Vertex, Bedrock with percent-decoding,
    /// Azure deployment resolved through the registry). `None` for an Azure
    /// deployment that is not registered: the response names the real model.
    pub model: Option<String>,
    /// Collection / index / class for vector databases (Pinecone: the index
    /// name taken from the index host).
    pub collection: Option<String>,
    /// True/false when the URL alone says whether the response streams.
    pub stream: Option<bool>,
    /// Body framing implied by the URL, when the URL decides it.
    pub format: Option<BodyFormat>,
    /// Azure OpenAI deployment named in the URL (`/openai/deployments/{deployment}/…`).
    pub deployment: Option<String>,
    /// Vector-database namespace named in the URL (Pinecone `/records/namespaces/{ns}/…`).
    pub namespace: Option<String>,
}
