//! What the catalogue holds: one model's prices and tiers, where a price
//! came from, the match a lookup returns and a layer's description.

/// Prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPrice {
    /// Uncached input tokens.
    pub input_per_mtok: f64,
    /// Output tokens (and reasoning tokens, unless [`reasoning_per_mtok`](Self::reasoning_per_mtok) is set).
    pub output_per_mtok: f64,
    /// Prompt-cache reads; the input rate applies when `None`.
    pub cache_read_per_mtok: Option<f64>,
    /// Prompt-cache writes (5-minute TTL); the input rate applies when `None`.
    pub cache_write_per_mtok: Option<f64>,
    /// Prompt-cache writes with a one-hour TTL (Anthropic); the cache-write rate applies when `None`.
    pub cache_write_1h_per_mtok: Option<f64>,
    /// Reasoning tokens, when billed differently from output.
    pub reasoning_per_mtok: Option<f64>,
    /// Long-context tiers, sorted by threshold.
    pub tiers: Vec<PriceTier>,
}

/// Rates that replace the base rates for a whole request whose total input
/// tokens exceed [`above_input_tokens`](Self::above_input_tokens).
///
/// A rate left `None` falls back to the base price's rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTier {
    /// The threshold: the tier applies when input tokens are strictly above it.
    pub above_input_tokens: u64,
    /// Uncached input tokens.
    pub input_per_mtok: f64,
    /// Output tokens.
    pub output_per_mtok: f64,
    /// Prompt-cache reads.
    pub cache_read_per_mtok: Option<f64>,
    /// Prompt-cache writes (5-minute TTL).
    pub cache_write_per_mtok: Option<f64>,
    /// Prompt-cache writes with a one-hour TTL.
    pub cache_write_1h_per_mtok: Option<f64>,
    /// Reasoning tokens.
    pub reasoning_per_mtok: Option<f64>,
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PriceSource {
    /// The built-in catalogue.
    Catalogue,
    /// The user's override file.
    Override,
}

impl PriceSource {
    /// `catalogue` or `override`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Catalogue => "catalogue",
            Self::Override => "override",
        }
    }
}

/// A catalogue entry found for a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceMatch<'a> {
    /// The catalogue key (`gpt-4o-mini`, `azure/gpt-4o`, `us.anthropic.…-v1:0`).
    pub key: &'a str,
    /// The entry's provider: a [`Provider::slug`](crate::Provider::slug) when one matches, else the
    /// upstream table's provider name; `None` for an override without one.
    pub provider: Option<&'a str>,
    /// The prices.
    pub price: &'a ModelPrice,
    /// Built-in or override.
    pub source: PriceSource,
    /// For built-in entries, the upstream table (`litellm` or `genai-prices`).
    pub dataset: Option<&'a str>,
    /// From the local catalogue (`tokentrace prices update`) rather than the
    /// one compiled in.
    pub local: bool,
    /// Set when the newest upstream tables no longer list the model: the
    /// snapshot whose (last) price is kept, e.g. `2026-11`.
    pub retained: Option<&'a str>,
    /// The most output tokens one call can produce (LiteLLM's
    /// `max_output_tokens`), when the catalogue knows it; budgets bound a
    /// call's output with it when the request sets no bound.
    pub max_output_tokens: Option<u64>,
}

/// Where a catalogue layer came from: shown by `tokentrace prices`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueInfo {
    /// `builtin` or `local`.
    pub kind: &'static str,
    /// The local catalogue's file.
    pub path: Option<std::path::PathBuf>,
    /// The date the prices were taken (`YYYY-MM-DD`).
    pub as_of: String,
    /// Upstream table → what exactly was read (version, file).
    pub sources: Vec<(String, String)>,
    /// Entries in this layer.
    pub models: usize,
    /// Of those, entries kept from an older snapshot (removed upstream).
    pub retained: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) key: String,
    pub(super) provider: Option<String>,
    pub(super) price: ModelPrice,
    pub(super) source: PriceSource,
    pub(super) dataset: Option<&'static str>,
    pub(super) local: bool,
    pub(super) retained: Option<String>,
    pub(super) max_output_tokens: Option<u64>,
}

impl Entry {
    pub(super) fn as_match(&self) -> PriceMatch<'_> {
        PriceMatch {
            key: &self.key,
            provider: self.provider.as_deref(),
            price: &self.price,
            source: self.source,
            dataset: self.dataset,
            local: self.local,
            retained: self.retained.as_deref(),
            max_output_tokens: self.max_output_tokens,
        }
    }
}
