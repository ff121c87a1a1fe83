//! Why a demo request failed, and how it becomes an HTTP answer.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentError {
    /// The HTTP call failed (connection, timeout, middleware).
    Http(reqwest_middleware::Error),
    /// The provider answered with an error status.
    Provider {
        /// HTTP status.
        status: u16,
        /// The start of the error body.
        body: String,
    },
    /// A response body could not be read or parsed.
    Stream(String),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(e) => write!(f, "provider call failed: {e}"),
            Self::Provider { status, body } => write!(f, "provider returned {status}: {body}"),
            Self::Stream(e) => write!(f, "bad provider response: {e}"),
        }
    }
}

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Http(e) => Some(e),
            _ => None,
        }
    }
}

impl From<reqwest_middleware::Error> for AgentError {
    fn from(e: reqwest_middleware::Error) -> Self {
        Self::Http(e)
    }
}

impl From<reqwest::Error> for AgentError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e.into())
    }
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Provider { status: 429, .. } => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_GATEWAY,
        };
        (status, Json(serde_json::json!({"error": self.to_string()}))).into_response()
    }
}
