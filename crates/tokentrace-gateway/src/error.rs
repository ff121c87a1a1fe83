//! Errors the gateway itself answers with, in the shape of the provider the
//! client thinks it is talking to, so its SDK raises its usual error type.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use tokentrace_core::Provider;

/// The error body families of the providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{"error": {"message", "type", "param", "code"}}` (OpenAI and the
    /// OpenAI-compatible ones: Azure, Mistral, Groq, DeepSeek, OpenRouter).
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}`.
    Anthropic,
    /// `{"error": {"code", "message", "status"}}` (Google APIs).
    Gemini,
    /// `{"error": "message"}`.
    Ollama,
}

impl Shape {
    pub(crate) fn of(provider: Provider) -> Self {
        match provider {
            Provider::Anthropic => Self::Anthropic,
            Provider::Gemini | Provider::VertexAi => Self::Gemini,
            Provider::Ollama => Self::Ollama,
            _ => Self::OpenAi,
        }
    }
}

/// What went wrong, as far as the client needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    UnknownRoute,
    BadResource,
    Unauthorized,
    TooLarge,
    BadBody,
    Unreachable,
    Timeout,
    BudgetUnavailable,
}

impl Fault {
    fn status(self) -> StatusCode {
        match self {
            Self::UnknownRoute => StatusCode::NOT_FOUND,
            Self::BadResource | Self::BadBody => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreachable => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::BudgetUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// OpenAI `type` / Anthropic `error.type` / Google `status`.
    fn kinds(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::UnknownRoute => ("invalid_request_error", "not_found_error", "NOT_FOUND"),
            Self::BadResource | Self::BadBody => (
                "invalid_request_error",
                "invalid_request_error",
                "INVALID_ARGUMENT",
            ),
            Self::Unauthorized => (
                "invalid_request_error",
                "authentication_error",
                "UNAUTHENTICATED",
            ),
            Self::TooLarge => (
                "invalid_request_error",
                "request_too_large",
                "INVALID_ARGUMENT",
            ),
            Self::Unreachable => ("api_error", "api_error", "UNAVAILABLE"),
            Self::Timeout => ("api_error", "timeout_error", "DEADLINE_EXCEEDED"),
            Self::BudgetUnavailable => ("api_error", "api_error", "UNAVAILABLE"),
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::UnknownRoute => "unknown_route",
            Self::BadResource => "invalid_resource",
            Self::Unauthorized => "invalid_api_key",
            Self::TooLarge => "request_too_large",
            Self::BadBody => "invalid_body",
            Self::Unreachable => "upstream_unreachable",
            Self::Timeout => "upstream_timeout",
            Self::BudgetUnavailable => "budget_unavailable",
        }
    }
}

/// A JSON error response in `shape`; the message never holds request data.
pub(crate) fn respond(shape: Shape, fault: Fault, message: &str) -> Response {
    let status = fault.status();
    let (openai, anthropic, google) = fault.kinds();
    let body = match shape {
        Shape::OpenAi => json!({"error": {
            "message": message, "type": openai, "param": null, "code": fault.code()}}),
        Shape::Anthropic => {
            json!({"type": "error", "error": {"type": anthropic, "message": message}})
        }
        Shape::Gemini => json!({"error": {
            "code": status.as_u16(), "message": message, "status": google}}),
        Shape::Ollama => json!({"error": message}),
    };
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert("x-tt-gateway-error", HeaderValue::from_static(fault.code()));
    res
}
