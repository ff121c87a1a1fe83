//! Provider counts as sent ([`Raw`]), merged document by document, and their
//! conversion to OpenTelemetry accounting at the end (`docs/providers.md`):
//! Anthropic and Bedrock report input without cache reads and writes, Gemini
//! reports thoughts outside candidates, xAI reports reasoning outside
//! completion tokens (the caller marks those). Each provider's usage shape is read in its own module
//! under `crate::providers`.

use crate::json::lite::Json;
use crate::usage::{ModalityUsage, Usage};

/// Provider counts as sent, before conversion to OpenTelemetry accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Raw {
    /// Input tokens as the provider counts them.
    pub(crate) input: Option<u64>,
    /// True when `input` excludes cache reads and writes (Anthropic, Bedrock).
    pub(crate) input_excludes_cache: bool,
    pub(crate) output: Option<u64>,
    pub(crate) total: Option<u64>,
    pub(crate) cache_read: Option<u64>,
    pub(crate) cache_write: Option<u64>,
    pub(crate) cache_write_1h: Option<u64>,
    pub(crate) reasoning: Option<u64>,
    /// True when `reasoning` is outside `output` (Gemini thoughts, xAI).
    pub(crate) reasoning_excluded: bool,
    /// Extra input outside `input` (Gemini tool-use prompt tokens).
    pub(crate) extra_input: Option<u64>,
    /// Counts by modality, where reported.
    pub(crate) modal: ModalityUsage,
}

pub(crate) fn set<T: Copy>(dst: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *dst = v;
    }
}

impl Raw {
    pub(crate) fn merge(&mut self, o: &Self) {
        if o.input.is_some() {
            self.input = o.input;
            self.input_excludes_cache = o.input_excludes_cache;
        }
        set(&mut self.output, o.output);
        set(&mut self.total, o.total);
        set(&mut self.cache_read, o.cache_read);
        set(&mut self.cache_write, o.cache_write);
        set(&mut self.cache_write_1h, o.cache_write_1h);
        if o.reasoning.is_some() {
            self.reasoning = o.reasoning;
            self.reasoning_excluded = o.reasoning_excluded;
        }
        set(&mut self.extra_input, o.extra_input);
        self.modal.merge(&o.modal);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_none() && self.output.is_none() && self.total.is_none()
    }

    pub(crate) fn to_usage(self) -> Usage {
        let cache = self
            .cache_read
            .unwrap_or(0)
            .saturating_add(self.cache_write.unwrap_or(0));
        let input = self.input.map(|i| {
            let base = i.saturating_add(self.extra_input.unwrap_or(0));
            if self.input_excludes_cache {
                base.saturating_add(cache)
            } else {
                base
            }
        });
        // Providers that count reasoning outside the output set
        // `reasoning_excluded` before this (see `providers::compat`).
        let mut reasoning_excluded = self.reasoning_excluded;
        // OpenAI-compatible servers that count reasoning outside completion_tokens
        // (Gemini's OpenAI endpoint, xAI) show it in the total: trust the arithmetic.
        if let (Some(i), Some(o), Some(r), Some(t)) =
            (self.input, self.output, self.reasoning, self.total)
            && r > 0
            && !self.input_excludes_cache
            && i.checked_add(o).and_then(|x| x.checked_add(r)) == Some(t)
            && i.checked_add(o) != Some(t)
        {
            reasoning_excluded = true;
        }
        let output = self.output.map(|o| {
            if reasoning_excluded {
                o.saturating_add(self.reasoning.unwrap_or(0))
            } else {
                o
            }
        });
        let output = match (output, reasoning_excluded, self.reasoning) {
            (None, true, Some(r)) => Some(r),
            (o, _, _) => o,
        };
        let total = self.total.or(match (input, output) {
            (Some(i), Some(o)) => Some(i.saturating_add(o)),
            (Some(i), None) => Some(i),
            (None, Some(o)) => Some(o),
            (None, None) => None,
        });
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: self.cache_read,
            cache_write_tokens: self.cache_write,
            cache_write_1h_tokens: self.cache_write_1h,
            reasoning_tokens: self.reasoning,
            total_tokens: total,
        }
    }
}

pub(crate) fn get<'a, J: Json>(v: &'a J, path: &[&str]) -> Option<&'a J> {
    path.iter().try_fold(v, |v, k| v.member(k))
}

pub(crate) fn n<J: Json>(v: &J, path: &[&str]) -> Option<u64> {
    get(v, path).and_then(Json::count)
}

/// A modality count worth reporting: present and not zero.
pub(crate) fn nonzero(v: Option<u64>) -> Option<u64> {
    v.filter(|n| *n > 0)
}
