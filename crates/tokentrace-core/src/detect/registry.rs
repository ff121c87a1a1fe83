//! [`ProviderRegistry`]: the built-in tables plus user registrations.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::endpoint::{Detection, Endpoint};
use super::matcher::{Captures, match_path, path_segments};
use super::rule::{FormatHint, Rule, method_bit};
use super::tables::{host_provider, routes_of};
use crate::provider::{BodyFormat, Provider};
use crate::providers::{bedrock, gemini, vector::pinecone};
use crate::url::split_host_port;

#[derive(Debug, Clone)]
struct BaseUrl {
    scheme: String,
    host: String,
    port: Option<u16>,
    segments: Vec<String>,
    provider: Provider,
}

#[derive(Debug, Clone)]
struct HostRegistration {
    host: String,
    port: Option<u16>,
    provider: Provider,
}

#[derive(Debug, Clone, Default)]
struct Registrations {
    /// Longest path first, so the most specific base URL wins.
    bases: Vec<BaseUrl>,
    hosts: Vec<HostRegistration>,
    deployments: HashMap<String, String>,
}

/// Built-in detection plus user registrations.
///
/// Cheap to clone (the registrations sit behind an `Arc`). Setters consume and
/// return the registry. Registrations are consulted before the built-in table,
/// in this order: base URLs (most specific first), then hosts.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    inner: Arc<Registrations>,
}

impl ProviderRegistry {
    /// An empty registry: built-in hosts only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attribute every request under `base_url` (prefix match on scheme, host,
    /// port and whole path segments) to `provider`. The rest of the path is
    /// matched against that provider's routes, with the provider's own API
    /// prefix (`/v1`, `/api`, …) optional since SDK base URLs usually include
    /// it. A URL that cannot be parsed registers nothing.
    ///
    /// ```
    /// use tokentrace_core::{Provider, ProviderRegistry};
    ///
    /// let r = ProviderRegistry::new().base_url("http://vllm.internal:8000/v1", Provider::OpenAiCompatible);
    /// let d = r.detect_url("POST", "http://vllm.internal:8000/v1/chat/completions").expect("registered");
    /// assert_eq!(d.provider, Provider::OpenAiCompatible);
    /// ```
    #[must_use]
    pub fn base_url(mut self, base_url: &str, provider: Provider) -> Self {
        if let Some(ep) = Endpoint::from_url("", base_url) {
            let base = BaseUrl {
                scheme: ep.scheme.to_ascii_lowercase(),
                host: ep.host.to_ascii_lowercase(),
                port: ep.effective_port(),
                segments: path_segments(ep.path)
                    .into_iter()
                    .map(Cow::into_owned)
                    .collect(),
                provider,
            };
            let inner = Arc::make_mut(&mut self.inner);
            inner.bases.push(base);
            inner
                .bases
                .sort_by_key(|b| std::cmp::Reverse(b.segments.len()));
        }
        self
    }

    /// Attribute every request to `host` (optionally `host:port`) to
    /// `provider`; its whole path is matched against that provider's routes,
    /// the provider's API prefix being optional.
    #[must_use]
    pub fn host(mut self, host: &str, provider: Provider) -> Self {
        let (name, port) = split_host_port(host.trim()).unwrap_or((host, None));
        Arc::make_mut(&mut self.inner).hosts.push(HostRegistration {
            host: name.to_ascii_lowercase(),
            port,
            provider,
        });
        self
    }

    /// Map an Azure OpenAI deployment name to the model it serves, so the
    /// detection (and pricing) names the model rather than the deployment.
    #[must_use]
    pub fn azure_deployment(mut self, deployment: &str, model: &str) -> Self {
        Arc::make_mut(&mut self.inner)
            .deployments
            .insert(deployment.to_owned(), model.to_owned());
        self
    }

    /// The model registered for an Azure deployment (the Azure request body's
    /// `model` is the deployment name too).
    pub fn resolve_deployment(&self, deployment: &str) -> Option<&str> {
        self.inner.deployments.get(deployment).map(String::as_str)
    }

    /// Detect provider, operation and flavour for a request; `None` when it is
    /// not a call tokentrace recognises (unknown host, or a known host's
    /// non-model endpoint such as `/v1/models`).
    pub fn detect(&self, endpoint: &Endpoint<'_>) -> Option<Detection> {
        let segments = path_segments(endpoint.path);
        let port = endpoint.effective_port();

        for base in &self.inner.bases {
            let matches = base.scheme.eq_ignore_ascii_case(endpoint.scheme)
                && base.host.eq_ignore_ascii_case(endpoint.host)
                && base.port == port
                && segments.len() >= base.segments.len()
                && base
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(b, s)| b == s.as_ref());
            if matches {
                let rest = &segments[base.segments.len()..];
                if let Some(d) = self.match_routes(base.provider, endpoint, rest, true) {
                    return Some(d);
                }
            }
        }
        for reg in &self.inner.hosts {
            if reg.host.eq_ignore_ascii_case(endpoint.host)
                && (reg.port.is_none() || reg.port == port)
                && let Some(d) = self.match_routes(reg.provider, endpoint, &segments, true)
            {
                return Some(d);
            }
        }
        let provider = host_provider(endpoint.host, endpoint.port)?;
        self.match_routes(provider, endpoint, &segments, false)
    }

    /// [`detect`](Self::detect) on a URL string (see [`Endpoint::from_url`]).
    pub fn detect_url(&self, method: &str, url: &str) -> Option<Detection> {
        self.detect(&Endpoint::from_url(method, url)?)
    }

    fn match_routes(
        &self,
        provider: Provider,
        endpoint: &Endpoint<'_>,
        segments: &[Cow<'_, str>],
        prefix_optional: bool,
    ) -> Option<Detection> {
        let method = method_bit(endpoint.method);
        let mounts = routes_of(provider);
        let passes: &[bool] = if prefix_optional {
            &[true, false]
        } else {
            &[true]
        };
        for &with_prefix in passes {
            for m in mounts {
                let prefix = if with_prefix { m.prefix } else { "" };
                for r in m.rules.iter().filter(|r| r.methods & method != 0) {
                    if let Some(caps) = match_path(prefix, r.path, segments) {
                        return Some(self.build(provider, r, caps, endpoint));
                    }
                }
            }
        }
        None
    }

    fn build(
        &self,
        provider: Provider,
        rule: &Rule,
        caps: Captures,
        endpoint: &Endpoint<'_>,
    ) -> Detection {
        let model = match (&caps.model, &caps.deployment) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(d)) => self.resolve_deployment(d).map(str::to_owned),
            (None, None) => None,
        };
        let collection = match (provider, caps.collection) {
            (Provider::Pinecone, None) => pinecone::index_from_host(endpoint.host),
            (_, c) => c,
        };
        let format = match rule.format {
            FormatHint::Unknown => None,
            FormatHint::Json => Some(BodyFormat::Json),
            FormatHint::Sse => Some(BodyFormat::Sse),
            FormatHint::AwsEventStream => Some(BodyFormat::AwsEventStream),
            FormatHint::GeminiStream => Some(gemini::stream_format(endpoint.query)),
        };
        let operation = bedrock::operation(rule.flavor, model.as_deref(), rule.operation);
        Detection {
            provider,
            operation,
            flavor: rule.flavor,
            model,
            collection,
            stream: rule.stream,
            format,
            deployment: caps.deployment,
            namespace: caps.namespace,
        }
    }
}
