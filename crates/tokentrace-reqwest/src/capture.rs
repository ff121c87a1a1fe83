//! Opt-in prompt and completion capture, bounded and passed through a
//! redaction hook.
//!
//! Messages and system instructions are recorded in the OpenTelemetry GenAI
//! message schema (role + parts, `tokentrace_core::messages`) under
//! `gen_ai.input.messages`, `gen_ai.system_instructions` and
//! `gen_ai.output.messages`; a body of a shape tokentrace does not know keeps
//! the provider's own value (the `messages`, `contents`, `input`, ... of the
//! request; the `choices`, `content`, `candidates`, `output`, ... of the
//! response). Tool definitions (`gen_ai.tool.definitions`) stay in the
//! provider's shape. The bodies themselves are mirrored as OpenInference
//! `input.value` / `output.value`. Every value is cut to
//! [`LlmMiddleware::max_content_bytes`](crate::LlmMiddleware::max_content_bytes)
//! keeping the JSON valid (`tokentrace.content.truncated = true` says so).
//!
//! For streamed responses the text deltas are accumulated as they arrive, up
//! to the same bound (SSE and NDJSON bodies of the OpenAI, Anthropic, Gemini,
//! Cohere, Mistral and Ollama shapes); other stream framings (the AWS event
//! stream) capture the request only.

use std::sync::Arc;

use serde_json::Value;
use tokentrace_core::json::truncate_json;
use tokentrace_core::semconv;
use tracing::Span;

/// Allow or forbid content capture process-wide.
///
/// `false` wins over every per-client
/// ([`LlmMiddleware::capture_content`](crate::LlmMiddleware::capture_content))
/// and per-request ([`CaptureContent`](crate::CaptureContent)) setting. Defaults
/// to `true` (allowed, but each client still has capture off by default).
/// The switch lives with the others in `tokentrace_core::defaults`.
pub fn set_content_capture_allowed(allowed: bool) {
    tokentrace_core::defaults::set_content_capture_allowed(allowed);
}

/// Whether content capture is allowed process-wide; see [`set_content_capture_allowed`].
pub fn content_capture_allowed() -> bool {
    tokentrace_core::defaults::content_capture_allowed()
}

/// Which captured value a [`Redact`] hook is looking at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentKind {
    /// The request's messages (`gen_ai.input.messages`, `input.value`).
    InputMessages,
    /// The request's system prompt (`gen_ai.system_instructions`).
    SystemInstructions,
    /// The request's tool definitions (`gen_ai.tool.definitions`).
    ToolDefinitions,
    /// The response's messages or streamed text (`gen_ai.output.messages`, `output.value`).
    OutputMessages,
}

/// A hook that rewrites captured content before it becomes an attribute.
///
/// Called once per captured value, after bounding. Return `None` to drop the
/// value. Implemented for:
///
/// * [`DefaultRedact`]: masks strings that look like credentials;
/// * `()`: records content unchanged;
/// * closures `Fn(ContentKind, String) -> Option<String>`.
///
/// ```
/// use tokentrace_reqwest::{ContentKind, LlmMiddleware};
///
/// let mw = LlmMiddleware::new()
///     .capture_content(true)
///     .redactor(|kind: ContentKind, text: String| {
///         (kind != ContentKind::SystemInstructions).then(|| text.replace("ACME-", "***-"))
///     });
/// # let _ = mw;
/// ```
pub trait Redact: Send + Sync + 'static {
    /// Rewrite (or drop, with `None`) one captured value.
    fn redact(&self, kind: ContentKind, content: String) -> Option<String>;
}

impl Redact for () {
    fn redact(&self, _kind: ContentKind, content: String) -> Option<String> {
        Some(content)
    }
}

impl<F> Redact for F
where
    F: Fn(ContentKind, String) -> Option<String> + Send + Sync + 'static,
{
    fn redact(&self, kind: ContentKind, content: String) -> Option<String> {
        self(kind, content)
    }
}

/// The default redaction: replaces tokens that look like API keys
/// (`sk-…`, `sk-ant-…`, `AKIA…`, `AIza…`, `Bearer …`, `ghp_…`) with `[REDACTED]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRedact;

impl Redact for DefaultRedact {
    fn redact(&self, _kind: ContentKind, content: String) -> Option<String> {
        Some(mask_credentials(&content))
    }
}

const MASK: &str = "[REDACTED]";

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Mask whitespace/quote-delimited tokens carrying a credential prefix and
/// at least 16 token characters after it (short words like `sk-learn` stay).
fn mask_credentials(text: &str) -> String {
    const PREFIXES: [&str; 6] = ["sk-", "AKIA", "AIza", "ghp_", "xoxb-", "Bearer "];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for p in PREFIXES {
            if let Some(after) = rest.strip_prefix(p) {
                let at_boundary = out.chars().last().is_none_or(|c| !is_token_char(c));
                let len = after
                    .find(|c: char| !is_token_char(c))
                    .unwrap_or(after.len());
                if at_boundary && len >= 16 {
                    out.push_str(MASK);
                    rest = &after[len..];
                    continue 'outer;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Content-capture settings resolved for one call.
#[derive(Clone)]
pub(crate) struct Capture {
    pub(crate) max_bytes: usize,
    pub(crate) redactor: Arc<dyn Redact>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Record one bounded value; `true` when it was cut. The caller sets
    /// `tokentrace.content.truncated` once per span (OTLP keys are unique).
    fn record(&self, span: &Span, kind: ContentKind, fields: &[&'static str], json: &str) -> bool {
        let (bounded, truncated) = truncate_json(json, self.max_bytes);
        if let Some(text) = self.redactor.redact(kind, bounded) {
            for field in fields {
                span.record(*field, text.as_str());
            }
        }
        truncated
    }

    /// Capture the request side from an in-memory JSON body; `true` when
    /// a value was cut to its bound.
    pub(crate) fn record_request(&self, span: &Span, body: &[u8]) -> bool {
        let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        let mut truncated = false;
        let messages = ["messages", "contents", "input", "prompt", "texts", "query"]
            .iter()
            .find_map(|k| req.get(*k));
        if let Some(m) = messages {
            let schema = tokentrace_core::messages::input_messages(&req);
            truncated |= self.record(
                span,
                ContentKind::InputMessages,
                &[semconv::GEN_AI_INPUT_MESSAGES],
                &schema.as_ref().unwrap_or(m).to_string(),
            );
        }
        if let Some(s) = tokentrace_core::messages::system_field(&req) {
            let schema = tokentrace_core::messages::system_instructions(&req);
            truncated |= self.record(
                span,
                ContentKind::SystemInstructions,
                &[semconv::GEN_AI_SYSTEM_INSTRUCTIONS],
                &schema.as_ref().unwrap_or(s).to_string(),
            );
        }
        let tools = req
            .get("tools")
            .or_else(|| req.get("toolConfig").and_then(|t| t.get("tools")));
        if let Some(t) = tools {
            truncated |= self.record(
                span,
                ContentKind::ToolDefinitions,
                &[semconv::GEN_AI_TOOL_DEFINITIONS],
                &t.to_string(),
            );
        }
        if let Ok(text) = std::str::from_utf8(body) {
            span.record(semconv::INPUT_MIME_TYPE, "application/json");
            truncated |= self.record(
                span,
                ContentKind::InputMessages,
                &[semconv::INPUT_VALUE],
                text,
            );
        }
        truncated
    }
}

/// Largest plain-JSON response body buffered for output capture.
const RAW_MAX: usize = 1 << 20;
/// Largest stream line (one SSE `data:` or NDJSON line) inspected for text.
const LINE_MAX: usize = 256 << 10;

/// Bounded accumulation of a response for output capture.
#[derive(Debug)]
pub(crate) struct OutputCapture {
    capture: Capture,
    streaming: bool,
    /// Raw bytes of a plain JSON body, at most [`RAW_MAX`] (or `max_bytes`
    /// when larger); the parts worth keeping are cut to `max_bytes` at the end.
    raw: Vec<u8>,
    raw_overflow: bool,
    /// The unfinished last line of a stream, at most [`LINE_MAX`]; longer
    /// lines are skipped.
    line: Vec<u8>,
    /// Streamed text so far, at most `max_bytes`.
    text: String,
    text_truncated: bool,
}

impl OutputCapture {
    pub(crate) fn new(capture: Capture, streaming: bool) -> Self {
        Self {
            capture,
            streaming,
            raw: Vec::new(),
            raw_overflow: false,
            line: Vec::new(),
            text: String::new(),
            text_truncated: false,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if !self.streaming {
            if self.raw.len() + chunk.len() <= RAW_MAX.max(self.capture.max_bytes) {
                self.raw.extend_from_slice(chunk);
            } else {
                self.raw_overflow = true;
            }
            return;
        }
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            if self.line.len() + pos <= LINE_MAX {
                self.line.extend_from_slice(&rest[..pos]);
                let line = std::mem::take(&mut self.line);
                self.on_line(&line);
            }
            self.line.clear();
            rest = &rest[pos + 1..];
        }
        if self.line.len() + rest.len() <= LINE_MAX {
            self.line.extend_from_slice(rest);
        }
    }

    fn on_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let json = line
            .strip_prefix(b"data:")
            .map(<[u8]>::trim_ascii_start)
            .unwrap_or(line);
        if json.first() != Some(&b'{') {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(json) else {
            return;
        };
        let mut piece = String::new();
        collect_delta(&v, &mut piece);
        let room = self.capture.max_bytes.saturating_sub(self.text.len());
        if piece.len() > room {
            self.text
                .push_str(tokentrace_core::bound::truncate_utf8(&piece, room));
            self.text_truncated = true;
        } else {
            self.text.push_str(&piece);
        }
    }

    /// Record `gen_ai.output.messages` / `output.value` on the span;
    /// `true` when the output was cut to its bound.
    pub(crate) fn finish(mut self, span: &Span) -> bool {
        if self.streaming {
            if !self.line.is_empty() {
                let line = std::mem::take(&mut self.line);
                self.on_line(&line);
            }
            if self.text.is_empty() {
                return false;
            }
            let message = tokentrace_core::messages::streamed_output(&self.text);
            if let Some(text) = self
                .capture
                .redactor
                .redact(ContentKind::OutputMessages, message.to_string())
            {
                span.record(semconv::GEN_AI_OUTPUT_MESSAGES, text.as_str());
            }
            if let Some(text) = self
                .capture
                .redactor
                .redact(ContentKind::OutputMessages, self.text)
            {
                span.record(semconv::OUTPUT_MIME_TYPE, "text/plain");
                span.record(semconv::OUTPUT_VALUE, text.as_str());
            }
            return self.text_truncated;
        }
        if self.raw_overflow {
            return true;
        }
        let Ok(Value::Object(resp)) = serde_json::from_slice::<Value>(&self.raw) else {
            return false;
        };
        let mut truncated = false;
        let messages = [
            "choices",
            "content",
            "candidates",
            "output",
            "message",
            "response",
        ]
        .iter()
        .find_map(|k| resp.get(*k));
        if let Some(m) = messages {
            let schema = tokentrace_core::messages::output_messages(&resp);
            truncated |= self.capture.record(
                span,
                ContentKind::OutputMessages,
                &[semconv::GEN_AI_OUTPUT_MESSAGES],
                &schema.as_ref().unwrap_or(m).to_string(),
            );
        }
        if let Ok(text) = std::str::from_utf8(&self.raw) {
            span.record(semconv::OUTPUT_MIME_TYPE, "application/json");
            truncated |= self.capture.record(
                span,
                ContentKind::OutputMessages,
                &[semconv::OUTPUT_VALUE],
                text,
            );
        }
        truncated
    }
}

/// Append the text a stream event carries, for the shapes we know:
/// OpenAI `choices[].delta.content`, Anthropic `delta.text`, Gemini
/// `candidates[].content.parts[].text`, Ollama `message.content` /
/// `response`, Cohere v2 `delta.message.content.text`, Responses
/// `response.output_text.delta` (`delta` string).
fn collect_delta(v: &Value, out: &mut String) {
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        for c in choices {
            if let Some(t) = c.pointer("/delta/content").and_then(Value::as_str) {
                out.push_str(t);
            } else if let Some(t) = c.get("text").and_then(Value::as_str) {
                out.push_str(t);
            }
        }
        return;
    }
    if let Some(cands) = v.get("candidates").and_then(Value::as_array) {
        for c in cands {
            if let Some(parts) = c.pointer("/content/parts").and_then(Value::as_array) {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        out.push_str(t);
                    }
                }
            }
        }
        return;
    }
    let candidates = [
        "/delta/text",
        "/delta/message/content/text",
        "/message/content",
        "/response",
    ];
    for p in candidates {
        if let Some(t) = v.pointer(p).and_then(Value::as_str) {
            out.push_str(t);
            return;
        }
    }
    if v.get("type").and_then(Value::as_str) == Some("response.output_text.delta")
        && let Some(t) = v.get("delta").and_then(Value::as_str)
    {
        out.push_str(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_redact_masks_key_like_tokens_only() {
        let s =
            mask_credentials("use sk-abcdefghijklmnopqrstuv and sk-learn, AKIAABCDEFGHIJKLMNOP.");
        assert_eq!(s, "use [REDACTED] and sk-learn, [REDACTED].");
        assert_eq!(mask_credentials("Bearer abcdefghijklmnopqrstuvwxyz"), MASK);
        assert_eq!(mask_credentials("naïve text"), "naïve text");
    }

    #[test]
    fn stream_text_is_accumulated_up_to_the_bound() {
        let cap = Capture {
            max_bytes: 8,
            redactor: Arc::new(()),
        };
        let mut out = OutputCapture::new(cap, true);
        out.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\nda");
        out.push(b"ta: {\"choices\":[{\"delta\":{\"content\":\" world\"}}]}\n\n");
        assert_eq!(out.text, "Hello wo");
        assert!(out.text_truncated);
    }

    #[test]
    fn anthropic_and_gemini_deltas_are_read() {
        let mut s = String::new();
        collect_delta(
            &serde_json::json!({"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}),
            &mut s,
        );
        collect_delta(
            &serde_json::json!({"candidates":[{"content":{"parts":[{"text":" there"}]}}]}),
            &mut s,
        );
        assert_eq!(s, "Hi there");
    }
}
