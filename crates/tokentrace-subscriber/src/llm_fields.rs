//! The values of an LLM or vector span's fields that EnrichLayer reads:
//! usage, cost, error and the metric attributes.

use std::sync::Arc;

/// Values of the LLM span fields EnrichLayer reads (usage, cost, error and
/// the metric attributes).
#[derive(Debug, Clone, Default)]
pub(crate) struct LlmFields {
    pub(crate) input_tokens: Option<i64>,
    pub(crate) output_tokens: Option<i64>,
    pub(crate) cache_read_tokens: Option<i64>,
    pub(crate) cache_write_tokens: Option<i64>,
    pub(crate) reasoning_tokens: Option<i64>,
    pub(crate) total_tokens: Option<i64>,
    pub(crate) cost_total_usd: Option<f64>,
    /// `gen_ai.usage.cost` / `llm.cost.total`, used when `cost.total_usd` is absent.
    pub(crate) cost_fallback_usd: Option<f64>,
    pub(crate) status_error: bool,
    pub(crate) error_type: Option<String>,
    /// Shared strings: the metrics attributes clone them by reference count.
    pub(crate) operation: Option<Arc<str>>,
    pub(crate) provider: Option<Arc<str>>,
    pub(crate) request_model: Option<Arc<str>>,
    pub(crate) response_model: Option<Arc<str>>,
    pub(crate) server_address: Option<Arc<str>>,
    pub(crate) server_port: Option<i64>,
    pub(crate) time_to_first_chunk_s: Option<f64>,
    /// `gen_ai.usage.{text,image,audio}.input_tokens`, in that order.
    pub(crate) input_modalities: [Option<i64>; 3],
    /// `gen_ai.usage.{text,image,audio}.output_tokens`, in that order.
    pub(crate) output_modalities: [Option<i64>; 3],
}

impl LlmFields {
    /// Overwrites every value `newer` carries.
    pub(crate) fn update(&mut self, newer: Self) {
        macro_rules! take {
            ($($f:ident),*) => { $( if newer.$f.is_some() { self.$f = newer.$f; } )* };
        }
        take!(
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
            reasoning_tokens,
            total_tokens,
            cost_total_usd,
            cost_fallback_usd,
            error_type,
            operation,
            provider,
            request_model,
            response_model,
            server_address,
            server_port,
            time_to_first_chunk_s
        );
        for (mine, theirs) in self
            .input_modalities
            .iter_mut()
            .zip(newer.input_modalities)
            .chain(
                self.output_modalities
                    .iter_mut()
                    .zip(newer.output_modalities),
            )
        {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        self.status_error |= newer.status_error;
    }

    pub(crate) fn is_error(&self) -> bool {
        self.status_error || self.error_type.is_some()
    }

    pub(crate) fn cost_usd(&self) -> Option<f64> {
        self.cost_total_usd.or(self.cost_fallback_usd)
    }
}
