//! Limits and their configuration, in code or from a TOML file, and the
//! errors of a configuration file.

use std::path::Path;

use serde::Deserialize;

use super::keys::BudgetKeys;
use super::money::{Micros, usd_to_micros};
use super::window::{Scope, Window};

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
    /// `max_completion_tokens`, `max_output_tokens`) and the price catalogue
    /// has no output limit for the model. Defaults to 4096.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::MAX_KEY_CHARS;

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
}
