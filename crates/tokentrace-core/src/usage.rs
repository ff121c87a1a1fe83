//! What a response told us: token usage, model, id, finish reasons, errors.
//!
//! [`Usage`] is always in OpenTelemetry accounting
//! (<https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/>):
//! `input_tokens` includes cache reads and writes, `output_tokens` includes
//! reasoning. Providers that report them apart (Anthropic, Bedrock, Gemini
//! thoughts, xAI reasoning) are summed by the parser. A count the provider did
//! not send stays `None`: tokentrace never reports a zero it did not see.

use serde::{Deserialize, Serialize};

/// Token usage of one call, in OpenTelemetry accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// All input tokens, cached read and write included (`gen_ai.usage.input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// All output tokens, reasoning included (`gen_ai.usage.output_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache (all TTLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// Of `cache_write_tokens`, those written with a one-hour TTL (Anthropic), priced higher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h_tokens: Option<u64>,
    /// Output tokens spent on reasoning / thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Total tokens: the provider's figure when sent, else input + output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

impl Usage {
    /// True when no count at all was reported.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Add another call's usage to this one (for roll-ups). A count stays
    /// `None` only if both sides are `None`.
    pub fn accumulate(&mut self, other: &Self) {
        fn add(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).saturating_add(b));
            }
        }
        add(&mut self.input_tokens, other.input_tokens);
        add(&mut self.output_tokens, other.output_tokens);
        add(&mut self.cache_read_tokens, other.cache_read_tokens);
        add(&mut self.cache_write_tokens, other.cache_write_tokens);
        add(&mut self.cache_write_1h_tokens, other.cache_write_1h_tokens);
        add(&mut self.reasoning_tokens, other.reasoning_tokens);
        add(&mut self.total_tokens, other.total_tokens);
    }
}

/// Token counts by modality, where the provider breaks usage down (OpenAI
/// `prompt_tokens_details`/`completion_tokens_details` `text_tokens`,
/// `image_tokens`, `audio_tokens`; Gemini `promptTokensDetails` /
/// `candidatesTokensDetails`). Each is a subset of the input or output
/// total; a modality the provider did not report, or reported as 0, is `None`.
/// `gen_ai.usage.{text,image,audio}.{input,output}_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalityUsage {
    /// Text input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_input_tokens: Option<u64>,
    /// Image input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_input_tokens: Option<u64>,
    /// Audio input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_input_tokens: Option<u64>,
    /// Text output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_output_tokens: Option<u64>,
    /// Image output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_output_tokens: Option<u64>,
    /// Audio output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_output_tokens: Option<u64>,
}

impl ModalityUsage {
    /// True when no modality was reported.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Sets every count `other` has.
    pub fn merge(&mut self, other: &Self) {
        fn set(a: &mut Option<u64>, b: Option<u64>) {
            if b.is_some() {
                *a = b;
            }
        }
        set(&mut self.text_input_tokens, other.text_input_tokens);
        set(&mut self.image_input_tokens, other.image_input_tokens);
        set(&mut self.audio_input_tokens, other.audio_input_tokens);
        set(&mut self.text_output_tokens, other.text_output_tokens);
        set(&mut self.image_output_tokens, other.image_output_tokens);
        set(&mut self.audio_output_tokens, other.audio_output_tokens);
    }
}

/// Usage reported by a vector database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct VectorUsage {
    /// Pinecone read units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_units: Option<u64>,
    /// Records written (Pinecone `upsertedCount`, Milvus `insertCount`/`upsertCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_units: Option<u64>,
    /// Matches returned by a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_count: Option<u64>,
    /// Server-side time in seconds (Qdrant `time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time_seconds: Option<f64>,
    /// Provider-reported compute cost units (Zilliz `cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_units: Option<f64>,
    /// Cohere rerank search units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_units: Option<u64>,
}

impl VectorUsage {
    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Everything a usage parser extracted from one response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseInfo {
    /// Token usage (OpenTelemetry accounting).
    #[serde(default, skip_serializing_if = "Usage::is_empty")]
    pub usage: Usage,
    /// Token counts by modality, where the provider reported them.
    #[serde(default, skip_serializing_if = "ModalityUsage::is_empty")]
    pub modalities: ModalityUsage,
    /// The model that answered, as the provider reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_model: Option<String>,
    /// The provider's response id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// Finish reasons, one per choice in choice order, as the provider spells them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finish_reasons: Vec<String>,
    /// Provider error type or code from an error body or error event (`error.type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Provider error message, bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Cost in USD reported by the provider itself (OpenRouter `usage.cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_cost_usd: Option<f64>,
    /// Service tier that served the call, when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Vector-database usage.
    #[serde(default, skip_serializing_if = "VectorUsage::is_empty")]
    pub vector: VectorUsage,
    /// Stream events (SSE events, NDJSON lines, event-stream frames) seen; 0 for plain JSON.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub events: u64,
    /// True when the parser saw the body's natural end (a complete JSON document,
    /// a terminal stream event, or `[DONE]`).
    #[serde(default)]
    pub complete: bool,
    /// Why parsing stopped short, when it did (malformed JSON, an oversized
    /// value, a bad frame). The bytes still reached the application untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulate_keeps_absent_counts_absent() {
        let mut a = Usage::default();
        a.accumulate(&Usage {
            input_tokens: Some(3),
            ..Usage::default()
        });
        a.accumulate(&Usage {
            input_tokens: Some(4),
            output_tokens: Some(1),
            ..Usage::default()
        });
        assert_eq!(a.input_tokens, Some(7));
        assert_eq!(a.output_tokens, Some(1));
        assert_eq!(a.reasoning_tokens, None);
    }
}
