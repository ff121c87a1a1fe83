//! Roll-up totals: the LLM calls beneath a workflow span or a trace root.

use opentelemetry::KeyValue;
use tokentrace_core::semconv;

use crate::llm_fields::LlmFields;

/// Sums of the LLM calls beneath one span. Counts are `i64` because that is
/// what OTLP carries for integers (`Value::I64`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Rollup {
    pub(crate) input_tokens: i64,
    pub(crate) output_tokens: i64,
    pub(crate) cache_read_tokens: i64,
    pub(crate) cache_write_tokens: i64,
    pub(crate) reasoning_tokens: i64,
    pub(crate) total_tokens: i64,
    pub(crate) cost_usd: f64,
    pub(crate) llm_calls: i64,
    pub(crate) errors: i64,
}

impl Rollup {
    /// The contribution of one finished LLM call.
    pub(crate) fn of_call(llm: &LlmFields) -> Self {
        let input = llm.input_tokens.unwrap_or(0);
        let output = llm.output_tokens.unwrap_or(0);
        Self {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: llm.cache_read_tokens.unwrap_or(0),
            cache_write_tokens: llm.cache_write_tokens.unwrap_or(0),
            reasoning_tokens: llm.reasoning_tokens.unwrap_or(0),
            // Input already includes cached tokens and output includes
            // reasoning (GenAI semconv usage attributes), so their sum is the total.
            total_tokens: llm
                .total_tokens
                .unwrap_or_else(|| input.saturating_add(output)),
            cost_usd: llm.cost_usd().unwrap_or(0.0),
            llm_calls: 1,
            errors: i64::from(llm.is_error()),
        }
    }

    pub(crate) fn add(&mut self, other: &Self) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.cost_usd += other.cost_usd;
        self.llm_calls = self.llm_calls.saturating_add(other.llm_calls);
        self.errors = self.errors.saturating_add(other.errors);
    }

    /// The `tokentrace.rollup.*` attributes. A workflow that saw no LLM or
    /// vector call carries `tokentrace.rollup.llm_calls = 0` alone: nine
    /// zeros would say no more and cost every such span (nested workflows,
    /// tools) nine attributes on the wire and in the store.
    pub(crate) fn push_attributes(&self, out: &mut Vec<KeyValue>) {
        if self.llm_calls == 0 {
            out.push(KeyValue::new(semconv::ROLLUP_LLM_CALLS, 0_i64));
            return;
        }
        out.extend([
            KeyValue::new(semconv::ROLLUP_INPUT_TOKENS, self.input_tokens),
            KeyValue::new(semconv::ROLLUP_OUTPUT_TOKENS, self.output_tokens),
            KeyValue::new(semconv::ROLLUP_CACHE_READ_TOKENS, self.cache_read_tokens),
            KeyValue::new(semconv::ROLLUP_CACHE_WRITE_TOKENS, self.cache_write_tokens),
            KeyValue::new(semconv::ROLLUP_REASONING_TOKENS, self.reasoning_tokens),
            KeyValue::new(semconv::ROLLUP_TOTAL_TOKENS, self.total_tokens),
            KeyValue::new(semconv::ROLLUP_COST_USD, self.cost_usd),
            KeyValue::new(semconv::ROLLUP_LLM_CALLS, self.llm_calls),
            KeyValue::new(semconv::ROLLUP_ERRORS, self.errors),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_without_total_sums_input_and_output() {
        let llm = LlmFields {
            input_tokens: Some(10),
            output_tokens: Some(5),
            cost_total_usd: Some(0.5),
            ..LlmFields::default()
        };
        let r = Rollup::of_call(&llm);
        assert_eq!(r.total_tokens, 15);
        assert_eq!(r.llm_calls, 1);
        assert_eq!(r.errors, 0);
        assert!((r.cost_usd - 0.5).abs() < f64::EPSILON);
    }

    #[test]
    fn a_failed_call_counts_as_an_error_and_adds_up() {
        let failed = LlmFields {
            error_type: Some("429".into()),
            ..LlmFields::default()
        };
        let ok = LlmFields {
            input_tokens: Some(1),
            total_tokens: Some(7),
            cost_fallback_usd: Some(0.25),
            ..LlmFields::default()
        };
        let mut sum = Rollup::of_call(&failed);
        sum.add(&Rollup::of_call(&ok));
        assert_eq!(sum.llm_calls, 2);
        assert_eq!(sum.errors, 1);
        assert_eq!(sum.total_tokens, 7);
        assert!((sum.cost_usd - 0.25).abs() < f64::EPSILON);
    }
}
