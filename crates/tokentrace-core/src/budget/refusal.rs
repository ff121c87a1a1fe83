//! The typed refusals: a limit exceeded, the store unavailable.

use std::fmt;

use crate::provider::Provider;

use super::window::Scope;

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
/// [`StorePolicy::FailClosed`](super::StorePolicy::FailClosed).
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
