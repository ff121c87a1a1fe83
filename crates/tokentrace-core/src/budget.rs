//! Budgets: the pure part. Limits and their configuration (in code or from a
//! TOML file), windows as numbered buckets, the keys a call is charged to,
//! the estimate of a call's maximum cost, and the typed refusal.
//!
//! The state (what was spent, what is reserved) lives outside core: the
//! in-process and Redis stores of `tokentrace-reqwest`'s `budget` module. See
//! `docs/budgets.md` for the guarantees.
//!
//! ```
//! use tokentrace_core::budget::{BudgetConfig, Limit, Mode, Scope, Window};
//!
//! let config = BudgetConfig::from_toml_str(r#"
//!     [[limit]]
//!     name = "per-user-daily"
//!     scope = "user"
//!     usd = 5.0
//!     window = "day"
//!     soft = [0.8]
//! "#).unwrap();
//! assert_eq!(config.limits[0].scope, Scope::User);
//!
//! let config = BudgetConfig::new()
//!     .limit(Limit::new(Scope::Global, 100.0, Window::Month))
//!     .limit(Limit::new(Scope::Model, 2.0, Window::rolling_secs(3600)).value("gpt-4o").mode(Mode::Warn));
//! assert_eq!(config.limits.len(), 2);
//! ```

use std::fmt;
use std::path::Path;
use std::sync::RwLock;

use serde::Deserialize;

use crate::civil;
use crate::price::PriceCatalogue;
use crate::provider::Provider;
use crate::usage::Usage;

/// Micro-dollars: budget state is kept in integers so that reservations
/// add up exactly and Redis can update them atomically (`HINCRBY`).
pub type Micros = i64;

/// USD to micro-dollars, rounded up (a reservation never rounds down).
pub fn usd_to_micros(usd: f64) -> Micros {
    if !usd.is_finite() || usd <= 0.0 {
        return 0;
    }
    let m = (usd * 1_000_000.0).ceil();
    if m >= i64::MAX as f64 {
        i64::MAX
    } else {
        m as i64
    }
}

/// Micro-dollars to USD.
pub fn micros_to_usd(m: Micros) -> f64 {
    m as f64 / 1_000_000.0
}

/// What a limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// The end user (`user.id`: `metadata!(user_id = ..)`, `WorkflowLayer::user_header`).
    User,
    /// The session (`session.id`).
    Session,
    /// The innermost workflow's name (`#[workflow]`, `traced_run`).
    Workflow,
    /// A gateway client key, by its id (never the key itself).
    ApiKey,
    /// The request model.
    Model,
    /// Every call.
    Global,
}

impl Scope {
    /// The scope's name in configuration and keys.
    pub const fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Session => "session",
            Self::Workflow => "workflow",
            Self::ApiKey => "api_key",
            Self::Model => "model",
            Self::Global => "global",
        }
    }
}

/// How far back a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// The current UTC clock hour.
    Hour,
    /// The current UTC day.
    Day,
    /// The current UTC calendar month.
    Month,
    /// The last `secs` seconds, counted in [`ROLLING_BUCKETS`] buckets (so the
    /// span actually counted is between `secs * (1 - 1/ROLLING_BUCKETS)` and `secs`).
    Rolling {
        /// Length of the window in seconds (at least [`ROLLING_BUCKETS`]).
        secs: u64,
    },
    /// The whole lifetime of a session (kept [`SESSION_TTL_SECS`] after its last call).
    Session,
}

/// Buckets a rolling window is split into.
pub const ROLLING_BUCKETS: u32 = 12;
/// How long a session-lifetime window is kept after its last write: 30 days.
pub const SESSION_TTL_SECS: u64 = 30 * 86_400;

/// The buckets a window counts at one instant: `index` is the current one,
/// the `count` buckets `index - count + 1 ..= index` are summed; `ttl_secs`
/// is how long a bucket must be kept after its last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// The current bucket's number.
    pub index: i64,
    /// How many buckets (ending with the current one) the window sums.
    pub count: u32,
    /// How long a bucket must outlive its last write, in seconds.
    pub ttl_secs: u64,
}

impl Window {
    /// A rolling window of `secs` seconds (raised to [`ROLLING_BUCKETS`]).
    pub const fn rolling_secs(secs: u64) -> Self {
        Self::Rolling {
            secs: if secs < ROLLING_BUCKETS as u64 {
                ROLLING_BUCKETS as u64
            } else {
                secs
            },
        }
    }

    /// The window's buckets at `now_ms` (milliseconds since the Unix epoch, UTC).
    pub fn buckets(self, now_ms: i64) -> Buckets {
        let secs = now_ms.div_euclid(1000);
        match self {
            Self::Hour => Buckets {
                index: secs.div_euclid(3600),
                count: 1,
                ttl_secs: 2 * 3600,
            },
            Self::Day => Buckets {
                index: secs.div_euclid(86_400),
                count: 1,
                ttl_secs: 2 * 86_400,
            },
            Self::Month => {
                let (y, m, _) = civil::civil_from_days(secs.div_euclid(86_400));
                Buckets {
                    index: y * 12 + i64::from(m) - 1,
                    count: 1,
                    ttl_secs: 32 * 86_400,
                }
            }
            Self::Rolling { secs: len } => {
                let len = i64::try_from(len).unwrap_or(i64::MAX);
                let bucket = (len + i64::from(ROLLING_BUCKETS) - 1) / i64::from(ROLLING_BUCKETS);
                Buckets {
                    index: secs.div_euclid(bucket.max(1)),
                    count: ROLLING_BUCKETS,
                    ttl_secs: u64::try_from(len + bucket).unwrap_or(u64::MAX),
                }
            }
            Self::Session => Buckets {
                index: 0,
                count: 1,
                ttl_secs: SESSION_TTL_SECS,
            },
        }
    }

    /// The window's name in configuration (`hour`, `day`, `month`,
    /// `session`, `rolling:{secs}s`).
    pub fn name(self) -> String {
        match self {
            Self::Hour => "hour".into(),
            Self::Day => "day".into(),
            Self::Month => "month".into(),
            Self::Session => "session".into(),
            Self::Rolling { secs } => format!("rolling:{secs}s"),
        }
    }

    /// Parse `hour`, `day`, `month`, `session`, or `rolling:N{s,m,h,d}`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" | "hourly" => Some(Self::Hour),
            "day" | "daily" => Some(Self::Day),
            "month" | "monthly" => Some(Self::Month),
            "session" => Some(Self::Session),
            _ => {
                let d = s.strip_prefix("rolling:")?.trim();
                let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit())?);
                let n: u64 = n.parse().ok()?;
                let mult = match unit {
                    "s" => 1,
                    "m" => 60,
                    "h" => 3600,
                    "d" => 86_400,
                    _ => return None,
                };
                Some(Self::rolling_secs(n.checked_mul(mult)?))
            }
        }
    }
}

/// What an exceeded limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mode {
    /// Refuse the call (the default).
    #[default]
    Enforce,
    /// Record the breach on the span and let the call through.
    Warn,
}

/// What to do when the budget store cannot be reached in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StorePolicy {
    /// Let the call through unchecked (the default): a budget outage does not
    /// become an application outage. Counted and recorded on the span.
    #[default]
    FailOpen,
    /// Refuse the call with a `BudgetUnavailable` error.
    FailClosed,
}

/// One limit: at most `usd` per `window`, per distinct value of `scope`
/// (or only for `value` when set).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Limit {
    /// Its name in keys, spans and the CLI. Name your limits when a fleet
    /// shares Redis: the name is part of the Redis key. Defaults to
    /// `{scope}.{window}` (plus `.{value}` when set).
    pub name: String,
    /// What it is counted per.
    pub scope: Scope,
    /// Only this value of the scope (`user = "u-17"`); `None`: each value separately.
    pub value: Option<String>,
    /// The limit in USD.
    pub usd: f64,
    /// The window.
    pub window: Window,
    /// Enforce or warn.
    pub mode: Mode,
    /// Soft thresholds as fractions of the limit (`0.8`): crossing one
    /// records a span event.
    pub soft: Vec<f64>,
}

impl Limit {
    /// A limit enforced per value of `scope`, without soft thresholds.
    pub fn new(scope: Scope, usd: f64, window: Window) -> Self {
        Self {
            name: format!("{}.{}", scope.name(), window.name()),
            scope,
            value: None,
            usd,
            window,
            mode: Mode::Enforce,
            soft: Vec::new(),
        }
    }

    /// Name it (see [`Limit::name`]).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Apply only to this value of the scope.
    #[must_use]
    pub fn value(mut self, value: impl Into<String>) -> Self {
        let value = value.into();
        if self.name == format!("{}.{}", self.scope.name(), self.window.name()) {
            self.name = format!("{}.{value}", self.name);
        }
        self.value = Some(value);
        self
    }

    /// Enforce or warn. Defaults to [`Mode::Enforce`].
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Add a soft threshold (a fraction of the limit, `0.8` for 80%).
    #[must_use]
    pub fn soft(mut self, fraction: f64) -> Self {
        self.soft.push(fraction);
        self
    }

    /// The limit in micro-dollars.
    pub fn micros(&self) -> Micros {
        usd_to_micros(self.usd)
    }

    /// The value of this limit's scope for `keys`, or `None` when the limit
    /// does not apply to the call.
    pub fn key_for<'a>(&'a self, keys: &'a BudgetKeys) -> Option<&'a str> {
        let v = match self.scope {
            Scope::Global => return Some(""),
            Scope::User => keys.user.as_deref(),
            Scope::Session => keys.session.as_deref(),
            Scope::Workflow => keys.workflow.as_deref(),
            Scope::ApiKey => keys.api_key.as_deref(),
            Scope::Model => keys.model.as_deref(),
        }?;
        match &self.value {
            Some(want) if want != v => None,
            _ => Some(v),
        }
    }
}

/// Every limit, the store policy and the estimate's parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BudgetConfig {
    /// The limits; a call is charged to each that applies.
    pub limits: Vec<Limit>,
    /// When the store is unreachable. Defaults to [`StorePolicy::FailOpen`].
    pub on_store_error: StorePolicy,
    /// Request body bytes per input token in the estimate. Defaults to 3:
    /// English text runs about 4 bytes a token, so this errs high.
    pub bytes_per_token: u32,
    /// Output tokens assumed when the request sets no `max_tokens` (or
    /// `max_completion_tokens`, `max_output_tokens`). Defaults to 4096.
    pub default_max_output_tokens: u64,
    /// Cost assumed per call whose model has no known price. Defaults to 0.
    pub unknown_model_usd: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetConfigError {
    /// The file could not be read.
    #[error("reading budget file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("budget configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range.
    #[error("budget configuration: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    on_store_error: Option<StorePolicy>,
    #[serde(default)]
    bytes_per_token: Option<u32>,
    #[serde(default)]
    default_max_output_tokens: Option<u64>,
    #[serde(default)]
    unknown_model_usd: Option<f64>,
    #[serde(default)]
    limit: Vec<FileLimit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimit {
    name: Option<String>,
    scope: Scope,
    value: Option<String>,
    usd: f64,
    window: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    soft: Vec<f64>,
}

impl BudgetConfig {
    /// No limits, fail open, 3 bytes a token, 4096 output tokens by default.
    pub fn new() -> Self {
        Self {
            limits: Vec::new(),
            on_store_error: StorePolicy::FailOpen,
            bytes_per_token: 3,
            default_max_output_tokens: 4096,
            unknown_model_usd: 0.0,
        }
    }

    /// Add a limit.
    #[must_use]
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Set the store policy.
    #[must_use]
    pub fn on_store_error(mut self, policy: StorePolicy) -> Self {
        self.on_store_error = policy;
        self
    }

    /// Set the output tokens assumed when a request does not bound them.
    #[must_use]
    pub fn default_max_output_tokens(mut self, tokens: u64) -> Self {
        self.default_max_output_tokens = tokens;
        self
    }

    /// Parse a TOML configuration (see the module docs and `docs/budgets.md`).
    pub fn from_toml_str(toml: &str) -> Result<Self, BudgetConfigError> {
        let f: FileConfig = toml::from_str(toml)?;
        let mut c = Self::new();
        if let Some(p) = f.on_store_error {
            c.on_store_error = p;
        }
        if let Some(b) = f.bytes_per_token {
            if b == 0 {
                return Err(BudgetConfigError::Invalid(
                    "bytes_per_token must be > 0".into(),
                ));
            }
            c.bytes_per_token = b;
        }
        if let Some(t) = f.default_max_output_tokens {
            c.default_max_output_tokens = t;
        }
        if let Some(u) = f.unknown_model_usd {
            c.unknown_model_usd = u;
        }
        for l in f.limit {
            let window = Window::parse(&l.window).ok_or_else(|| {
                BudgetConfigError::Invalid(format!("unknown window {:?}", l.window))
            })?;
            if !(l.usd.is_finite() && l.usd >= 0.0) {
                return Err(BudgetConfigError::Invalid(format!(
                    "usd {} out of range",
                    l.usd
                )));
            }
            if let Some(s) = l.soft.iter().find(|s| !(**s > 0.0 && **s < 1.0)) {
                return Err(BudgetConfigError::Invalid(format!(
                    "soft threshold {s} must be between 0 and 1"
                )));
            }
            let mut limit = Limit::new(l.scope, l.usd, window).mode(l.mode);
            if let Some(v) = l.value {
                limit = limit.value(v);
            }
            if let Some(n) = l.name {
                limit = limit.name(n);
            }
            limit.soft = l.soft;
            c.limits.push(limit);
        }
        let mut names = std::collections::HashSet::new();
        for l in &c.limits {
            if !names.insert(l.name.as_str()) {
                return Err(BudgetConfigError::Invalid(format!(
                    "two limits are named {:?}: give them distinct names",
                    l.name
                )));
            }
        }
        Ok(c)
    }

    /// Read and parse a TOML configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, BudgetConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BudgetConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// The estimated maximum cost of a call, in USD: input tokens from the
    /// request body's size, output tokens from its bound (or
    /// [`default_max_output_tokens`](Self::default_max_output_tokens)),
    /// priced with `prices`. A model without a price costs
    /// [`unknown_model_usd`](Self::unknown_model_usd).
    pub fn estimate_usd(
        &self,
        prices: &PriceCatalogue,
        provider: Option<Provider>,
        model: Option<&str>,
        body_bytes: usize,
        max_output_tokens: Option<u64>,
    ) -> f64 {
        let input = (body_bytes as u64).div_ceil(u64::from(self.bytes_per_token.max(1)));
        let output = max_output_tokens.unwrap_or(self.default_max_output_tokens);
        let usage = Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            total_tokens: Some(input.saturating_add(output)),
            ..Usage::default()
        };
        model
            .and_then(|m| prices.cost(provider, m, &usage))
            .map_or(self.unknown_model_usd, |c| c.total_usd)
    }
}

/// The values a call is charged to. Unset keys make the limits of that
/// scope not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetKeys {
    /// `user.id`.
    pub user: Option<String>,
    /// `session.id`.
    pub session: Option<String>,
    /// The innermost workflow's name.
    pub workflow: Option<String>,
    /// A gateway client key's id (never the key).
    pub api_key: Option<String>,
    /// The request model.
    pub model: Option<String>,
}

/// Longest key value kept (longer ones are cut at a character boundary).
pub const MAX_KEY_CHARS: usize = 128;

fn bounded(v: impl Into<String>) -> String {
    let mut v: String = v.into();
    if let Some((i, _)) = v.char_indices().nth(MAX_KEY_CHARS) {
        v.truncate(i);
    }
    v
}

impl BudgetKeys {
    /// No keys: only global limits apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the user.
    #[must_use]
    pub fn user(mut self, v: impl Into<String>) -> Self {
        self.user = Some(bounded(v));
        self
    }

    /// Set the session.
    #[must_use]
    pub fn session(mut self, v: impl Into<String>) -> Self {
        self.session = Some(bounded(v));
        self
    }

    /// Set the workflow.
    #[must_use]
    pub fn workflow(mut self, v: impl Into<String>) -> Self {
        self.workflow = Some(bounded(v));
        self
    }

    /// Set the client key id (an id, never the key).
    #[must_use]
    pub fn api_key(mut self, v: impl Into<String>) -> Self {
        self.api_key = Some(bounded(v));
        self
    }

    /// Set the model.
    #[must_use]
    pub fn model(mut self, v: impl Into<String>) -> Self {
        self.model = Some(bounded(v));
        self
    }

    /// Fill every unset key from `other`.
    #[must_use]
    pub fn or(mut self, other: Self) -> Self {
        self.user = self.user.or(other.user);
        self.session = self.session.or(other.session);
        self.workflow = self.workflow.or(other.workflow);
        self.api_key = self.api_key.or(other.api_key);
        self.model = self.model.or(other.model);
        self
    }
}

/// Reads the keys of the current request from wherever the application
/// keeps them (the facade installs one that reads `metadata!` guards,
/// `WorkflowLayer` headers and workflow names from the span tree).
pub type KeysProvider = fn() -> BudgetKeys;

static PROVIDER: RwLock<Option<KeysProvider>> = RwLock::new(None);

/// Install the process-wide [`KeysProvider`] (`tokentrace::init()` does).
pub fn set_keys_provider(provider: KeysProvider) {
    *PROVIDER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(provider);
}

/// The keys of the current request, from the installed provider (empty
/// when none is installed).
pub fn current_keys() -> BudgetKeys {
    let p = *PROVIDER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    p.map(|f| f()).unwrap_or_default()
}

/// One budget decision on one limit, reported to the installed
/// [`OutcomeObserver`] (the facade's counts it in the
/// `tokentrace.budget.outcomes` metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetOutcome<'a> {
    /// The limit's name (empty when the store failed before any limit was read).
    pub limit: &'a str,
    /// Its scope.
    pub scope: Scope,
    /// What happened: one of the [`outcomes`] values.
    pub outcome: &'static str,
}

impl<'a> BudgetOutcome<'a> {
    /// An outcome (see the fields).
    pub const fn new(limit: &'a str, scope: Scope, outcome: &'static str) -> Self {
        Self {
            limit,
            scope,
            outcome,
        }
    }
}

/// The values of [`BudgetOutcome::outcome`] (and of the
/// `tokentrace.budget.outcome` metric attribute).
pub mod outcomes {
    /// Reserved within the limit.
    pub const RESERVED: &str = "reserved";
    /// Refused: the call would pass this enforced limit.
    pub const REFUSED: &str = "refused";
    /// Let through past this warn-mode limit.
    pub const WARNED: &str = "warned";
    /// The reservation crossed one of this limit's soft thresholds (reported
    /// in addition to `reserved` or `warned`).
    pub const SOFT_THRESHOLD: &str = "soft_threshold";
    /// The store could not be reached; the call went through unchecked (fail open).
    pub const UNAVAILABLE: &str = "unavailable";
    /// The store could not be reached; the call was refused (fail closed).
    pub const UNAVAILABLE_REFUSED: &str = "unavailable_refused";
}

/// Receives every [`BudgetOutcome`]; must be quick and must not block (it
/// runs on the request path).
pub type OutcomeObserver = std::sync::Arc<dyn Fn(&BudgetOutcome<'_>) + Send + Sync>;

static OBSERVER: RwLock<Option<OutcomeObserver>> = RwLock::new(None);

/// Install (or with `None` remove) the process-wide [`OutcomeObserver`]
/// (`tokentrace::init()` installs one that feeds the
/// `tokentrace.budget.outcomes` counter).
pub fn set_outcome_observer(observer: Option<OutcomeObserver>) {
    *OBSERVER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = observer;
}

/// Remove `observer` if it is still the installed one (another installed
/// since is kept).
pub fn remove_outcome_observer(observer: &OutcomeObserver) {
    let mut slot = OBSERVER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if slot
        .as_ref()
        .is_some_and(|o| std::sync::Arc::ptr_eq(o, observer))
    {
        *slot = None;
    }
}

/// Report one outcome to the installed observer (a no-op without one).
pub fn report_outcome(outcome: &BudgetOutcome<'_>) {
    let observer = OBSERVER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(o) = observer {
        o(outcome);
    }
}

/// A call refused because it would take a limit past its cap. Matched by
/// callers through `reqwest_middleware::Error::Middleware` (see
/// `tokentrace_reqwest::budget::exceeded`).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetExceeded {
    /// The limit's name.
    pub limit: String,
    /// Its scope.
    pub scope: Scope,
    /// The value of the scope the call was charged to (empty for global).
    pub key: String,
    /// The limit in USD.
    pub limit_usd: f64,
    /// Spent plus reserved in the window before this call, in USD.
    pub spent_usd: f64,
    /// This call's estimated maximum cost, in USD.
    pub requested_usd: f64,
    /// The window's name.
    pub window: String,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "budget {} exceeded for {}{}{}: ${:.6} spent or reserved of ${:.6} per {}, this call may cost up to ${:.6}",
            self.limit,
            self.scope.name(),
            if self.key.is_empty() { "" } else { ":" },
            self.key,
            self.spent_usd,
            self.limit_usd,
            self.window,
            self.requested_usd,
        )
    }
}

impl std::error::Error for BudgetExceeded {}

/// The budget store could not be reached and the policy is
/// [`StorePolicy::FailClosed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetUnavailable {
    /// Why (timeout, connection refused, ...).
    pub reason: String,
}

impl fmt::Display for BudgetUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "budget store unavailable ({}); failing closed",
            self.reason
        )
    }
}

impl std::error::Error for BudgetUnavailable {}

impl BudgetExceeded {
    /// The HTTP status a gateway answers a refused call with.
    pub const HTTP_STATUS: u16 = 429;

    /// The body a gateway answers a refused call with, in `provider`'s
    /// error shape so its SDKs raise their rate-limit/quota error. Sources:
    /// OpenAI <https://platform.openai.com/docs/guides/error-codes>,
    /// Anthropic <https://docs.anthropic.com/en/api/errors>, Gemini
    /// <https://ai.google.dev/gemini-api/docs/troubleshooting> (Google's
    /// `google.rpc.Status` JSON).
    pub fn provider_error_body(&self, provider: Provider) -> serde_json::Value {
        let message = self.to_string();
        match provider {
            Provider::Anthropic => serde_json::json!({
                "type": "error",
                "error": { "type": "rate_limit_error", "message": message },
            }),
            Provider::Gemini | Provider::VertexAi => serde_json::json!({
                "error": { "code": 429, "message": message, "status": "RESOURCE_EXHAUSTED" },
            }),
            _ => serde_json::json!({
                "error": {
                    "message": message,
                    "type": "insufficient_quota",
                    "param": null,
                    "code": "budget_exceeded",
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_windows_number_hours_days_and_months() {
        // 2026-12-06T17:30:00Z
        let ms = (civil::days_from_civil(2026, 12, 6) * 86_400 + 17 * 3600 + 1800) * 1000;
        let day = Window::Day.buckets(ms);
        assert_eq!(day.index, civil::days_from_civil(2026, 12, 6));
        assert_eq!(day.count, 1);
        assert_eq!(Window::Hour.buckets(ms).index, day.index * 24 + 17);
        assert_eq!(Window::Month.buckets(ms).index, 2026 * 12 + 11);
        let jan = (civil::days_from_civil(2027, 1, 1) * 86_400) * 1000;
        assert_eq!(Window::Month.buckets(jan).index, 2027 * 12);
        assert_eq!(Window::Month.buckets(jan - 1).index, 2026 * 12 + 11);
    }

    #[test]
    fn rolling_windows_are_twelve_buckets() {
        let w = Window::parse("rolling:1h").unwrap();
        assert_eq!(w, Window::Rolling { secs: 3600 });
        let b = w.buckets(3_600_000);
        assert_eq!(
            b,
            Buckets {
                index: 12,
                count: 12,
                ttl_secs: 3900
            }
        );
        assert_eq!(
            Window::parse("rolling:2d"),
            Some(Window::rolling_secs(172_800))
        );
        assert_eq!(Window::parse("rolling:5x"), None);
        assert_eq!(Window::parse("weekly"), None);
    }

    #[test]
    fn the_toml_file_parses_and_is_validated() {
        let c = BudgetConfig::from_toml_str(
            r#"
            on_store_error = "fail_closed"
            default_max_output_tokens = 1000
            [[limit]]
            scope = "user"
            usd = 5.0
            window = "day"
            soft = [0.5, 0.8]
            [[limit]]
            scope = "model"
            value = "gpt-4o"
            usd = 1.5
            window = "rolling:30m"
            mode = "warn"
            "#,
        )
        .unwrap();
        assert_eq!(c.on_store_error, StorePolicy::FailClosed);
        assert_eq!(c.default_max_output_tokens, 1000);
        assert_eq!(c.limits[0].name, "user.day");
        assert_eq!(c.limits[0].soft, vec![0.5, 0.8]);
        assert_eq!(c.limits[1].name, "model.rolling:1800s.gpt-4o");
        assert_eq!(c.limits[1].mode, Mode::Warn);
        assert!(BudgetConfig::from_toml_str("[[limit]]\nscope='user'\nusd=1\nwindow='day'\n[[limit]]\nscope='user'\nusd=2\nwindow='day'\n").is_err());
        assert!(
            BudgetConfig::from_toml_str("[[limit]]\nscope='user'\nusd=1\nwindow='week'\n").is_err()
        );
        assert!(
            BudgetConfig::from_toml_str("[[limit]]\nscope='team'\nusd=1\nwindow='day'\n").is_err()
        );
        assert!(
            BudgetConfig::from_toml_str(
                "[[limit]]\nscope='user'\nusd=1\nwindow='day'\nsoft=[1.5]\n"
            )
            .is_err()
        );
    }

    #[test]
    fn limits_apply_to_the_keys_they_name() {
        let keys = BudgetKeys::new().user("u-1").model("gpt-4o");
        assert_eq!(
            Limit::new(Scope::User, 1.0, Window::Day).key_for(&keys),
            Some("u-1")
        );
        assert_eq!(
            Limit::new(Scope::Global, 1.0, Window::Day).key_for(&keys),
            Some("")
        );
        assert_eq!(
            Limit::new(Scope::Session, 1.0, Window::Day).key_for(&keys),
            None
        );
        assert_eq!(
            Limit::new(Scope::User, 1.0, Window::Day)
                .value("u-2")
                .key_for(&keys),
            None
        );
        let long = "x".repeat(500);
        assert_eq!(
            BudgetKeys::new().user(long).user.unwrap().len(),
            MAX_KEY_CHARS
        );
    }

    #[test]
    fn the_estimate_prices_body_bytes_and_the_output_bound() {
        let c = BudgetConfig::new();
        let prices = PriceCatalogue::builtin();
        let with_bound = c.estimate_usd(
            prices,
            Some(Provider::OpenAi),
            Some("gpt-4o-mini"),
            3000,
            Some(100),
        );
        let p = prices
            .lookup(Some(Provider::OpenAi), "gpt-4o-mini")
            .unwrap()
            .price;
        let want = 1000.0f64.mul_add(p.input_per_mtok, 100.0 * p.output_per_mtok) / 1e6;
        assert!((with_bound - want).abs() < 1e-12, "{with_bound} vs {want}");
        let unbounded = c.estimate_usd(
            prices,
            Some(Provider::OpenAi),
            Some("gpt-4o-mini"),
            3000,
            None,
        );
        assert!(unbounded > with_bound);
        assert_eq!(
            c.estimate_usd(prices, None, Some("no-such-model-xyz"), 10, None),
            0.0
        );
        assert_eq!(usd_to_micros(0.0000011), 2);
        assert_eq!(usd_to_micros(-1.0), 0);
    }

    #[test]
    fn outcomes_reach_the_installed_observer() {
        use std::sync::{Arc, Mutex};
        let seen: Arc<Mutex<Vec<(String, Scope, &'static str)>>> = Arc::default();
        let sink = seen.clone();
        set_outcome_observer(Some(Arc::new(move |o: &BudgetOutcome<'_>| {
            if o.limit.starts_with("observer-test") {
                sink.lock()
                    .unwrap()
                    .push((o.limit.to_owned(), o.scope, o.outcome));
            }
        })));
        report_outcome(&BudgetOutcome::new(
            "observer-test",
            Scope::User,
            outcomes::REFUSED,
        ));
        // Removing another observer keeps the installed one.
        let other: OutcomeObserver = Arc::new(|_: &BudgetOutcome<'_>| {});
        remove_outcome_observer(&other);
        report_outcome(&BudgetOutcome::new(
            "observer-test-kept",
            Scope::Global,
            outcomes::WARNED,
        ));
        set_outcome_observer(None);
        report_outcome(&BudgetOutcome::new(
            "observer-test-after",
            Scope::User,
            outcomes::REFUSED,
        ));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                ("observer-test".to_owned(), Scope::User, "refused"),
                ("observer-test-kept".to_owned(), Scope::Global, "warned"),
            ]
        );
    }

    #[test]
    fn refusals_map_to_each_providers_error_shape() {
        let e = BudgetExceeded {
            limit: "user.day".into(),
            scope: Scope::User,
            key: "u-1".into(),
            limit_usd: 1.0,
            spent_usd: 0.9,
            requested_usd: 0.2,
            window: "day".into(),
        };
        assert!(e.to_string().contains("user:u-1"));
        let o = e.provider_error_body(Provider::OpenAi);
        assert_eq!(o["error"]["code"], "budget_exceeded");
        assert_eq!(o["error"]["type"], "insufficient_quota");
        let a = e.provider_error_body(Provider::Anthropic);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "rate_limit_error");
        let g = e.provider_error_body(Provider::Gemini);
        assert_eq!(g["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(g["error"]["code"], 429);
    }
}
