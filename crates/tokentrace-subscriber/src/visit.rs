//! The field visitor: reads the span fields of the span contract
//! (docs/architecture.md, "The span contract between crates").
//!
//! It runs *before* EnrichLayer locks any span extensions: a field's `Debug`
//! implementation may itself read span extensions (`tracing_error::SpanTrace`,
//! [`crate::current_workflow`]), which would deadlock against a held
//! `ExtensionsMut` of the same span.

use std::fmt;

use serde_json::Value;
use tokentrace_core::semconv::{self, values};
use tracing::field::{Field, Visit};

use crate::data::{LlmFields, MetadataSet, Recorded, SpanKind};

/// Longest `metadata` / `tag.tags` field text EnrichLayer parses; longer
/// values are ignored (and counted), the field itself is still exported by
/// the OpenTelemetry layer.
const MAX_FIELD_JSON_BYTES: usize = 64 * 1024;

/// What one `new_span` or `record` call carried.
#[derive(Debug, Default)]
pub(crate) struct SpanFields {
    pub(crate) kind: Option<SpanKind>,
    pub(crate) workflow_name: Option<String>,
    pub(crate) metadata: Option<MetadataSet>,
    pub(crate) recorded: Recorded,
    pub(crate) llm: Option<LlmFields>,
    /// Field values EnrichLayer could not use (unparsable or too long JSON).
    pub(crate) dropped: u32,
}

impl SpanFields {
    /// Whether there is anything to store.
    pub(crate) fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.workflow_name.is_none()
            && self.metadata.is_none()
            && self.recorded == Recorded::default()
            && self.llm.is_none()
            && self.dropped == 0
    }

    fn llm(&mut self) -> &mut LlmFields {
        self.llm.get_or_insert_with(LlmFields::default)
    }

    fn metadata(&mut self) -> &mut MetadataSet {
        self.metadata.get_or_insert_with(MetadataSet::default)
    }

    fn string(&mut self, name: &str, value: &str) {
        match name {
            semconv::TOKENTRACE_SPAN_TYPE => {
                self.kind = Some(match value {
                    values::SPAN_TYPE_WORKFLOW => SpanKind::Workflow,
                    values::SPAN_TYPE_LLM => SpanKind::Llm,
                    values::SPAN_TYPE_VECTOR => SpanKind::Vector,
                    _ => SpanKind::Other,
                });
            }
            semconv::GEN_AI_WORKFLOW_NAME => self.workflow_name = Some(value.to_owned()),
            semconv::USER_ID => {
                self.recorded.set(Recorded::USER_ID);
                self.metadata().user_id = Some(value.to_owned());
            }
            semconv::SESSION_ID => {
                self.recorded.set(Recorded::SESSION_ID);
                self.metadata().session_id = Some(value.to_owned());
            }
            semconv::GEN_AI_CONVERSATION_ID => self.recorded.set(Recorded::CONVERSATION_ID),
            semconv::TAG_TAGS => {
                self.recorded.set(Recorded::TAGS);
                match parse_json(value) {
                    Some(Value::Array(items)) => {
                        let tags = items.into_iter().map(|v| match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        });
                        self.metadata().tags.extend(tags);
                    }
                    Some(_) | None if value.len() <= MAX_FIELD_JSON_BYTES => {
                        self.metadata().tags.push(value.to_owned());
                    }
                    _ => self.dropped += 1,
                }
            }
            semconv::METADATA => {
                self.recorded.set(Recorded::METADATA);
                match parse_json(value) {
                    Some(Value::Object(map)) => self.metadata().extra.extend(map),
                    _ => self.dropped += 1,
                }
            }
            semconv::LLM_PROMPT_TEMPLATE_TEMPLATE => self.recorded.set(Recorded::TEMPLATE),
            semconv::GEN_AI_PROMPT_NAME => self.recorded.set(Recorded::PROMPT_NAME),
            semconv::GEN_AI_PROMPT_VERSION => self.recorded.set(Recorded::PROMPT_VERSION),
            semconv::LLM_PROMPT_TEMPLATE_VERSION => self.recorded.set(Recorded::TEMPLATE_VERSION),
            semconv::LLM_PROMPT_TEMPLATE_VARIABLES => {
                self.recorded.set(Recorded::TEMPLATE_VARIABLES);
            }
            semconv::OTEL_STATUS_CODE if value.eq_ignore_ascii_case("error") => {
                self.llm().status_error = true;
            }
            semconv::ERROR_TYPE => self.llm().error_type = Some(value.to_owned()),
            // A workflow's `invoke_workflow` is not an LLM call's operation
            // (the span contract declares the type first).
            semconv::GEN_AI_OPERATION_NAME if self.kind == Some(SpanKind::Workflow) => {}
            semconv::GEN_AI_OPERATION_NAME => self.llm().operation = Some(value.into()),
            semconv::GEN_AI_PROVIDER_NAME => self.llm().provider = Some(value.into()),
            semconv::GEN_AI_REQUEST_MODEL => self.llm().request_model = Some(value.into()),
            semconv::GEN_AI_RESPONSE_MODEL => self.llm().response_model = Some(value.into()),
            semconv::SERVER_ADDRESS => self.llm().server_address = Some(value.into()),
            // Counts as text: other libraries' u64 fields formatted, or
            // numbers recorded as strings.
            name if is_usage_field(name) => match value.trim().parse::<i64>() {
                Ok(n) => self.int(name, n),
                Err(_) => {
                    if let Ok(f) = value.trim().parse::<f64>() {
                        self.float(name, f);
                    }
                }
            },
            _ => {}
        }
    }

    fn int(&mut self, name: &str, value: i64) {
        match name {
            semconv::GEN_AI_USAGE_INPUT_TOKENS => self.llm().input_tokens = Some(value),
            semconv::GEN_AI_USAGE_OUTPUT_TOKENS => self.llm().output_tokens = Some(value),
            semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS => {
                self.llm().cache_read_tokens = Some(value);
            }
            semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS => {
                self.llm().cache_write_tokens = Some(value);
            }
            semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS => {
                self.llm().reasoning_tokens = Some(value);
            }
            semconv::GEN_AI_USAGE_TOTAL_TOKENS => self.llm().total_tokens = Some(value),
            semconv::GEN_AI_USAGE_TEXT_INPUT_TOKENS => self.llm().input_modalities[0] = Some(value),
            semconv::GEN_AI_USAGE_IMAGE_INPUT_TOKENS => {
                self.llm().input_modalities[1] = Some(value)
            }
            semconv::GEN_AI_USAGE_AUDIO_INPUT_TOKENS => {
                self.llm().input_modalities[2] = Some(value)
            }
            semconv::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS => {
                self.llm().output_modalities[0] = Some(value);
            }
            semconv::GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS => {
                self.llm().output_modalities[1] = Some(value);
            }
            semconv::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS => {
                self.llm().output_modalities[2] = Some(value);
            }
            semconv::SERVER_PORT => self.llm().server_port = Some(value),
            semconv::PERFORMANCE_LATENCY_MS => self.recorded.set(Recorded::LATENCY),
            semconv::TOKENTRACE_DROPPED_VALUES => self.recorded.set(Recorded::DROPPED),
            // Ids may arrive as numbers.
            semconv::USER_ID | semconv::SESSION_ID | semconv::TAG_TAGS => {
                self.string(name, &value.to_string());
            }
            _ => {}
        }
    }

    fn float(&mut self, name: &str, value: f64) {
        match name {
            semconv::COST_TOTAL_USD => self.llm().cost_total_usd = Some(value),
            semconv::GEN_AI_USAGE_COST | semconv::LLM_COST_TOTAL => {
                self.llm().cost_fallback_usd = Some(value);
            }
            semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK => {
                self.llm().time_to_first_chunk_s = Some(value);
            }
            semconv::PERFORMANCE_LATENCY_MS => self.recorded.set(Recorded::LATENCY),
            // Token counts some libraries record as floats.
            name if is_usage_field(name) && value.is_finite() && value >= 0.0 => {
                // In range: `as` saturates, and counts are far below 2^63.
                self.int(name, value.round() as i64);
            }
            _ => {}
        }
    }
}

/// The token-count fields EnrichLayer reads, whatever their value type.
fn is_usage_field(name: &str) -> bool {
    matches!(
        name,
        semconv::GEN_AI_USAGE_INPUT_TOKENS
            | semconv::GEN_AI_USAGE_OUTPUT_TOKENS
            | semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
            | semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
            | semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
            | semconv::GEN_AI_USAGE_TOTAL_TOKENS
            | semconv::GEN_AI_USAGE_TEXT_INPUT_TOKENS
            | semconv::GEN_AI_USAGE_IMAGE_INPUT_TOKENS
            | semconv::GEN_AI_USAGE_AUDIO_INPUT_TOKENS
            | semconv::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS
            | semconv::GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS
            | semconv::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS
    )
}

fn parse_json(text: &str) -> Option<Value> {
    if text.len() > MAX_FIELD_JSON_BYTES {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Whether EnrichLayer reads a field with this name as text. Only these are
/// formatted when they arrive as `Debug`/`Display` values; formatting every
/// field would cost an allocation per field per span.
fn is_text_field(name: &str) -> bool {
    matches!(
        name,
        semconv::TOKENTRACE_SPAN_TYPE
            | semconv::GEN_AI_WORKFLOW_NAME
            | semconv::USER_ID
            | semconv::SESSION_ID
            | semconv::GEN_AI_CONVERSATION_ID
            | semconv::TAG_TAGS
            | semconv::METADATA
            | semconv::LLM_PROMPT_TEMPLATE_TEMPLATE
            | semconv::LLM_PROMPT_TEMPLATE_VERSION
            | semconv::LLM_PROMPT_TEMPLATE_VARIABLES
            | semconv::GEN_AI_PROMPT_NAME
            | semconv::GEN_AI_PROMPT_VERSION
            | semconv::OTEL_STATUS_CODE
            | semconv::ERROR_TYPE
            | semconv::GEN_AI_OPERATION_NAME
            | semconv::GEN_AI_PROVIDER_NAME
            | semconv::GEN_AI_REQUEST_MODEL
            | semconv::GEN_AI_RESPONSE_MODEL
            | semconv::SERVER_ADDRESS
    ) || is_usage_field(name)
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.int(field.name(), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.int(field.name(), i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.float(field.name(), value);
    }

    fn record_bool(&mut self, _field: &Field, _value: bool) {}

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if is_text_field(name) {
            // `%value` and `?value` fields arrive here; formatting may run user
            // code that reads span extensions, which is why no lock is held.
            self.string(name, &format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_field_accepts_a_json_array_or_a_single_tag() {
        let mut f = SpanFields::default();
        f.string(semconv::TAG_TAGS, r#"["a", 2]"#);
        assert_eq!(
            f.metadata.as_ref().map(|m| m.tags.clone()),
            Some(vec!["a".into(), "2".into()])
        );
        let mut g = SpanFields::default();
        g.string(semconv::TAG_TAGS, "solo");
        assert_eq!(g.metadata.map(|m| m.tags), Some(vec!["solo".to_owned()]));
        assert!(g.recorded.has(Recorded::TAGS));
    }

    #[test]
    fn metadata_field_that_is_not_an_object_is_counted_not_used() {
        let mut f = SpanFields::default();
        f.string(semconv::METADATA, "[1,2]");
        assert_eq!(f.dropped, 1);
        assert!(f.metadata.is_none());
        f.string(semconv::METADATA, r#"{"plan":"pro"}"#);
        assert_eq!(
            f.metadata.map(|m| m.extra["plan"].clone()),
            Some(Value::from("pro"))
        );
    }
}
