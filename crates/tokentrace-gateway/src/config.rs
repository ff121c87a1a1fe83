//! The gateway's configuration: upstreams (built-in defaults merged with a
//! TOML file), header names, keys and limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tokentrace_core::Provider;
use tokentrace_core::budget::BudgetConfig;
use tokentrace_reqwest::budget::Budgets;
use tokentrace_reqwest::budget::redis::RedisStore;

use crate::GatewayError;

/// Default header naming the end user (`user.id`).
pub const DEFAULT_USER_HEADER: &str = "x-tt-user";
/// Default header naming the session (`session.id`).
pub const DEFAULT_SESSION_HEADER: &str = "x-tt-session";
/// Default header carrying comma-separated tags (`tag.tags`).
pub const DEFAULT_TAGS_HEADER: &str = "x-tt-tags";
/// Default response header returning the trace id (32 lowercase hex digits).
pub const DEFAULT_TRACE_ID_HEADER: &str = "x-tt-trace-id";

/// The built-in upstreams: route name, base URL, provider.
///
/// A route `/{name}/rest` goes to `{url}/rest`; a URL holding `{resource}`
/// takes it from the path segment after the name (`/azure/{resource}/rest`).
pub const DEFAULT_UPSTREAMS: &[(&str, &str, Provider)] = &[
    ("openai", "https://api.openai.com", Provider::OpenAi),
    (
        "anthropic",
        "https://api.anthropic.com",
        Provider::Anthropic,
    ),
    (
        "gemini",
        "https://generativelanguage.googleapis.com",
        Provider::Gemini,
    ),
    (
        "azure",
        "https://{resource}.openai.azure.com",
        Provider::AzureOpenAi,
    ),
    ("mistral", "https://api.mistral.ai", Provider::Mistral),
    ("groq", "https://api.groq.com", Provider::Groq),
    ("deepseek", "https://api.deepseek.com", Provider::DeepSeek),
    ("openrouter", "https://openrouter.ai", Provider::OpenRouter),
    ("ollama", "http://127.0.0.1:11434", Provider::Ollama),
];

/// One upstream as the configuration file names it (`[upstreams.NAME]`).
///
/// Every field is optional so that a file can override one field of a
/// built-in upstream (`[upstreams.openai] url = "http://127.0.0.1:9000"`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URL (scheme, host, optional port and path prefix).
    pub url: Option<String>,
    /// Provider for detection, pricing and the error shape: an OTel name or
    /// slug (`openai`, `anthropic`, `gcp.gemini`, `ollama`, ...). A new
    /// upstream defaults to an OpenAI-compatible one.
    pub provider: Option<String>,
    /// Environment variable holding the upstream API key the gateway sends
    /// (clients then authenticate with gateway-issued keys).
    pub api_key_env: Option<String>,
    /// File holding the upstream API key (first line, trimmed).
    pub api_key_file: Option<PathBuf>,
}

/// Header names the gateway reads and writes (`[headers]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HeaderNames {
    /// `user.id` (default `x-tt-user`).
    pub user: String,
    /// `session.id` (default `x-tt-session`).
    pub session: String,
    /// `tag.tags`, comma-separated (default `x-tt-tags`).
    pub tags: String,
    /// Response header returning the trace id (default
    /// `x-tt-trace-id`; empty: none).
    pub trace_id: String,
}

impl Default for HeaderNames {
    fn default() -> Self {
        Self {
            user: DEFAULT_USER_HEADER.to_owned(),
            session: DEFAULT_SESSION_HEADER.to_owned(),
            tags: DEFAULT_TAGS_HEADER.to_owned(),
            trace_id: DEFAULT_TRACE_ID_HEADER.to_owned(),
        }
    }
}

/// The whole configuration file. Every field has a default, so an empty
/// file (or none) gives the built-in upstreams on `127.0.0.1:4000`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Address the CLI listens on (default `127.0.0.1:4000`).
    pub listen: SocketAddr,
    /// Upstreams by route name, merged over [`DEFAULT_UPSTREAMS`].
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Header names.
    pub headers: HeaderNames,
    /// Gateway-issued client keys accepted for upstreams whose key the
    /// gateway holds.
    pub client_keys: Vec<String>,
    /// File of client keys, one per line (`#` comments and blank lines
    /// ignored), added to `client_keys`.
    pub client_keys_file: Option<PathBuf>,
    /// Serve upstreams that hold a key without client keys (anyone who
    /// reaches the gateway spends the key). Default `false`: refused at start.
    pub allow_unauthenticated: bool,
    /// Largest request body, in bytes (default 32 MiB); larger gets a 413.
    pub max_request_bytes: usize,
    /// Seconds to connect to an upstream (default 10); then a 502.
    pub connect_timeout_secs: f64,
    /// Seconds an upstream may stay silent, before its response head or
    /// between two body chunks (default 600); then a 504 (or the stream is
    /// cut, as the upstream would).
    pub read_timeout_secs: f64,
    /// Add `stream_options.include_usage` to OpenAI-style streamed chat
    /// requests that lack it (see `LlmMiddleware::inject_stream_usage`).
    /// Changes the request bytes and adds a usage chunk to the stream, so
    /// default `false`.
    pub inject_stream_usage: bool,
    /// Spend caps enforced before a call is forwarded (`[budgets]`; see
    /// `docs/budgets.md`). Default: none.
    pub budgets: BudgetsSection,
}

/// Where the gateway's budgets come from (`[budgets]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsSection {
    /// A budget file (the TOML of `tokentrace budgets --config`:
    /// `[[limit]]` tables). Unset: no budgets.
    pub file: Option<PathBuf>,
    /// Redis `host:port` shared by every replica; unset: state in this
    /// process only.
    pub redis: Option<String>,
    /// Prefix of the Redis keys (default `tokentrace:budget:`).
    pub prefix: Option<String>,
    /// Milliseconds each Redis command and connection attempt may take
    /// (default 250); past it the file's `on_store_error` policy applies.
    pub redis_timeout_ms: Option<u64>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            upstreams: BTreeMap::new(),
            headers: HeaderNames::default(),
            client_keys: Vec::new(),
            client_keys_file: None,
            allow_unauthenticated: false,
            max_request_bytes: 32 * 1024 * 1024,
            connect_timeout_secs: 10.0,
            read_timeout_secs: 600.0,
            inject_stream_usage: false,
            budgets: BudgetsSection::default(),
        }
    }
}

impl GatewayConfig {
    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, GatewayError> {
        toml::from_str(text).map_err(|e| GatewayError::Config(e.to_string()))
    }

    /// Reads and parses a TOML configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, GatewayError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Sets (or overrides) the base URL of upstream `name`.
    #[must_use]
    pub fn upstream_url(mut self, name: &str, url: impl Into<String>) -> Self {
        self.upstreams.entry(name.to_owned()).or_default().url = Some(url.into());
        self
    }

    /// Adds or replaces upstream `name`.
    #[must_use]
    pub fn upstream(mut self, name: &str, upstream: UpstreamConfig) -> Self {
        self.upstreams.insert(name.to_owned(), upstream);
        self
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        secs(self.connect_timeout_secs)
    }

    pub(crate) fn read_timeout(&self) -> Duration {
        secs(self.read_timeout_secs)
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(600))
}

/// An upstream after merging defaults and the file, keys loaded.
#[derive(Clone)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    /// Base URL without a trailing slash; may hold `{resource}`.
    pub(crate) url: String,
    pub(crate) provider: Provider,
    pub(crate) key: Option<String>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("provider", &self.provider)
            .field("key", &self.key.as_ref().map(|_| "<held>"))
            .finish()
    }
}

impl Upstream {
    pub(crate) fn templated(&self) -> bool {
        self.url.contains("{resource}")
    }
}

/// Route names are path segments: lowercase letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name != "healthz"
}

pub(crate) fn resolve(config: &GatewayConfig) -> Result<Vec<Upstream>, GatewayError> {
    let mut out: BTreeMap<String, Upstream> = DEFAULT_UPSTREAMS
        .iter()
        .map(|(name, url, provider)| {
            (
                (*name).to_owned(),
                Upstream {
                    name: (*name).to_owned(),
                    url: (*url).to_owned(),
                    provider: *provider,
                    key: None,
                },
            )
        })
        .collect();
    for (name, up) in &config.upstreams {
        if !valid_name(name) {
            return Err(GatewayError::Config(format!(
                "upstream name {name:?}: use lowercase letters, digits, '-' and '_' (not \"healthz\")"
            )));
        }
        let entry = out.entry(name.clone()).or_insert_with(|| Upstream {
            name: name.clone(),
            url: String::new(),
            provider: Provider::OpenAiCompatible,
            key: None,
        });
        if let Some(url) = &up.url {
            entry.url = url.trim_end_matches('/').to_owned();
        }
        if let Some(p) = &up.provider {
            entry.provider = Provider::from_name(p).ok_or_else(|| {
                GatewayError::Config(format!("upstream {name}: unknown provider {p:?}"))
            })?;
        }
        if entry.provider == Provider::Bedrock {
            return Err(GatewayError::Config(format!(
                "upstream {name}: Bedrock cannot be proxied (SigV4 signs the host); \
                 use the in-process Bedrock interceptor instead"
            )));
        }
        if entry.url.is_empty() {
            return Err(GatewayError::Config(format!("upstream {name}: no url")));
        }
        let probe = entry.url.replace("{resource}", "r");
        match reqwest::Url::parse(&probe) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {}
            _ => {
                return Err(GatewayError::Config(format!(
                    "upstream {name}: {:?} is not an http(s) base URL",
                    entry.url
                )));
            }
        }
        entry.key = load_key(name, up)?;
    }
    Ok(out.into_values().collect())
}

fn load_key(name: &str, up: &UpstreamConfig) -> Result<Option<String>, GatewayError> {
    let key = if let Some(var) = &up.api_key_env {
        Some(std::env::var(var).map_err(|_| {
            GatewayError::Config(format!(
                "upstream {name}: environment variable {var} not set"
            ))
        })?)
    } else if let Some(path) = &up.api_key_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            GatewayError::Config(format!("upstream {name}: key file {}: {e}", path.display()))
        })?;
        Some(text.lines().next().unwrap_or("").trim().to_owned())
    } else {
        None
    };
    match key {
        Some(k) if k.is_empty() || http::HeaderValue::from_str(&k).is_err() => {
            Err(GatewayError::Config(format!(
                "upstream {name}: the API key is empty or not a valid header value"
            )))
        }
        k => Ok(k),
    }
}

/// The budgets `[budgets]` configures, if any.
pub(crate) fn budgets(config: &GatewayConfig) -> Result<Option<Budgets>, GatewayError> {
    let section = &config.budgets;
    let Some(file) = &section.file else {
        if section.redis.is_some() {
            return Err(GatewayError::Config(
                "[budgets] redis is set but no budget file".to_owned(),
            ));
        }
        return Ok(None);
    };
    let limits = BudgetConfig::from_file(file).map_err(|e| GatewayError::Config(e.to_string()))?;
    let budgets = match &section.redis {
        Some(addr) => {
            let t = Duration::from_millis(section.redis_timeout_ms.unwrap_or(250).max(1));
            let store = RedisStore::new(addr.clone()).timeout(t).connect_timeout(t);
            Budgets::with_store(limits, store)
        }
        None => Budgets::new(limits),
    };
    Ok(Some(match &section.prefix {
        Some(p) => budgets.prefix(p.clone()),
        None => budgets,
    }))
}

/// The id a client key is charged to by `api_key` budget limits and shown
/// by `tokentrace budgets`: `key-` and 12 hex digits of a 64-bit FNV-1a
/// hash of the key. Not the key, and not a secret: with a gateway-issued
/// key (256 random bits) it reveals nothing usable about it.
pub fn client_key_id(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("key-{:012x}", h >> 16)
}

pub(crate) fn client_keys(config: &GatewayConfig) -> Result<Vec<String>, GatewayError> {
    let mut keys: Vec<String> = config.client_keys.clone();
    if let Some(path) = &config.client_keys_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            GatewayError::Config(format!("client keys file {}: {e}", path.display()))
        })?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if keys.iter().any(|k| k.len() < 16) {
        return Err(GatewayError::Config(
            "client keys must be at least 16 characters".to_owned(),
        ));
    }
    Ok(keys)
}
