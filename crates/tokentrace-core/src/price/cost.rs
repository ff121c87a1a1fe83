//! Cost arithmetic: [`Usage`] × [`ModelPrice`] → USD.

use super::{ModelPrice, PriceSource, PriceTier};
use crate::usage::Usage;

const PER_MILLION: f64 = 1_000_000.0;

/// The USD amounts of one call, split the way providers bill them.
///
/// Returned by [`compute_cost`]; [`Cost`] adds which catalogue entry priced it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostBreakdown {
    /// Uncached input tokens (input − cache read − cache write) at the input rate.
    pub input_usd: f64,
    /// Cache-read tokens at the cache-read rate (the input rate when there is none).
    pub cache_read_usd: f64,
    /// Cache-write tokens: the 5-minute part at the cache-write rate (input rate
    /// when there is none), the 1-hour part at the 1-hour rate (falls back to the
    /// cache-write rate).
    pub cache_write_usd: f64,
    /// Non-reasoning output tokens (output − reasoning) at the output rate.
    pub output_usd: f64,
    /// Reasoning tokens at the reasoning rate (the output rate when there is none).
    pub reasoning_usd: f64,
    /// The sum of the five amounts above.
    pub total_usd: f64,
    /// The threshold of the long-context tier that priced the call, if one did.
    pub tier_above_input_tokens: Option<u64>,
}

/// The priced cost of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Uncached input, in USD.
    pub input_usd: f64,
    /// Prompt-cache reads, in USD.
    pub cache_read_usd: f64,
    /// Prompt-cache writes (5-minute and 1-hour), in USD.
    pub cache_write_usd: f64,
    /// Non-reasoning output, in USD.
    pub output_usd: f64,
    /// Reasoning output, in USD.
    pub reasoning_usd: f64,
    /// Everything, in USD.
    pub total_usd: f64,
    /// The long-context tier threshold that applied, if any.
    pub tier_above_input_tokens: Option<u64>,
    /// The catalogue key that priced the call (e.g. `azure/gpt-4o`).
    pub model_key: String,
    /// The provider of that catalogue entry, when it has one.
    pub provider: Option<String>,
    /// Whether the price came from the built-in catalogue or the user's overrides.
    pub source: PriceSource,
}

impl Cost {
    pub(crate) fn new(
        breakdown: CostBreakdown,
        model_key: &str,
        provider: Option<&str>,
        source: PriceSource,
    ) -> Self {
        Self {
            input_usd: breakdown.input_usd,
            cache_read_usd: breakdown.cache_read_usd,
            cache_write_usd: breakdown.cache_write_usd,
            output_usd: breakdown.output_usd,
            reasoning_usd: breakdown.reasoning_usd,
            total_usd: breakdown.total_usd,
            tier_above_input_tokens: breakdown.tier_above_input_tokens,
            model_key: model_key.to_owned(),
            provider: provider.map(str::to_owned),
            source,
        }
    }

    /// Everything billed for the prompt: uncached input plus cache reads and writes
    /// (`cost.input_cost_usd`).
    pub fn prompt_usd(&self) -> f64 {
        self.input_usd + self.cache_read_usd + self.cache_write_usd
    }

    /// Everything billed for the completion: output plus reasoning
    /// (`cost.output_cost_usd`).
    pub fn completion_usd(&self) -> f64 {
        self.output_usd + self.reasoning_usd
    }
}

/// The rates that apply to one request, after picking its tier.
#[derive(Debug, Clone, Copy)]
struct Rates {
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
    cache_write_1h: f64,
    reasoning: f64,
    tier: Option<u64>,
}

impl Rates {
    /// A tier applies to the whole request once its *total* input tokens (cached
    /// included) exceed the threshold: "above 200k tokens" in LiteLLM, Gemini and
    /// Anthropic terms, genai-prices' "cliff" model. A rate the tier does not
    /// set falls back to the base price's rate, then to the tier's input/output rate.
    fn pick(price: &ModelPrice, total_input: u64) -> Self {
        let tier: Option<&PriceTier> = price
            .tiers
            .iter()
            .rev()
            .find(|t| total_input > t.above_input_tokens);
        let input = tier.map_or(price.input_per_mtok, |t| t.input_per_mtok);
        let output = tier.map_or(price.output_per_mtok, |t| t.output_per_mtok);
        let cache_read = tier
            .and_then(|t| t.cache_read_per_mtok)
            .or(price.cache_read_per_mtok)
            .unwrap_or(input);
        let cache_write = tier
            .and_then(|t| t.cache_write_per_mtok)
            .or(price.cache_write_per_mtok)
            .unwrap_or(input);
        let cache_write_1h = tier
            .and_then(|t| t.cache_write_1h_per_mtok)
            .or(price.cache_write_1h_per_mtok)
            .unwrap_or(cache_write);
        let reasoning = tier
            .and_then(|t| t.reasoning_per_mtok)
            .or(price.reasoning_per_mtok)
            .unwrap_or(output);
        Self {
            input,
            output,
            cache_read,
            cache_write,
            cache_write_1h,
            reasoning,
            tier: tier.map(|t| t.above_input_tokens),
        }
    }
}

fn usd(tokens: u64, per_mtok: f64) -> f64 {
    // Token counts stay far below 2^53, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let tokens = tokens as f64;
    tokens * per_mtok / PER_MILLION
}

/// Price `usage` at `price`.
///
/// `usage` is in OpenTelemetry accounting: `input_tokens` includes cache reads
/// and writes, `output_tokens` includes reasoning. Returns `None` when the usage
/// has neither an input nor an output count (nothing to price: never a made-up
/// `$0`); other missing counts are then taken as 0.
///
/// ```
/// use tokentrace_core::price::{compute_cost, ModelPrice};
/// use tokentrace_core::Usage;
///
/// let price = ModelPrice { input_per_mtok: 2.0, output_per_mtok: 8.0, ..ModelPrice::default() };
/// let usage = Usage { input_tokens: Some(1_000), output_tokens: Some(500), ..Usage::default() };
/// let cost = compute_cost(&price, &usage).expect("usage has counts");
/// assert!((cost.total_usd - 0.006).abs() < 1e-12); // 1000×2/1e6 + 500×8/1e6
/// ```
pub fn compute_cost(price: &ModelPrice, usage: &Usage) -> Option<CostBreakdown> {
    if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
        return None;
    }
    let input = usage.input_tokens.unwrap_or(0);
    let output = usage.output_tokens.unwrap_or(0);
    let cache_read = usage.cache_read_tokens.unwrap_or(0);
    let cache_write_1h = usage.cache_write_1h_tokens.unwrap_or(0);
    // The 1-hour writes are a part of all writes; a parser that only saw the
    // 1-hour figure still gets them counted once.
    let cache_write = usage.cache_write_tokens.unwrap_or(0).max(cache_write_1h);
    let cache_write_5m = cache_write - cache_write_1h;
    let reasoning = usage.reasoning_tokens.unwrap_or(0);

    let uncached = input.saturating_sub(cache_read).saturating_sub(cache_write);
    let visible_output = output.saturating_sub(reasoning);

    let rates = Rates::pick(price, input);
    let input_usd = usd(uncached, rates.input);
    let cache_read_usd = usd(cache_read, rates.cache_read);
    let cache_write_usd =
        usd(cache_write_5m, rates.cache_write) + usd(cache_write_1h, rates.cache_write_1h);
    let output_usd = usd(visible_output, rates.output);
    let reasoning_usd = usd(reasoning, rates.reasoning);
    Some(CostBreakdown {
        input_usd,
        cache_read_usd,
        cache_write_usd,
        output_usd,
        reasoning_usd,
        total_usd: input_usd + cache_read_usd + cache_write_usd + output_usd + reasoning_usd,
        tier_above_input_tokens: rates.tier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> ModelPrice {
        ModelPrice {
            input_per_mtok: 3.0,
            output_per_mtok: 15.0,
            cache_read_per_mtok: Some(0.3),
            cache_write_per_mtok: Some(3.75),
            cache_write_1h_per_mtok: Some(6.0),
            reasoning_per_mtok: None,
            tiers: vec![PriceTier {
                above_input_tokens: 200_000,
                input_per_mtok: 6.0,
                output_per_mtok: 22.5,
                cache_read_per_mtok: None,
                cache_write_per_mtok: Some(7.5),
                cache_write_1h_per_mtok: None,
                reasoning_per_mtok: None,
            }],
        }
    }

    #[test]
    fn no_counts_is_none() {
        assert_eq!(compute_cost(&price(), &Usage::default()), None);
        let only_cache = Usage {
            cache_read_tokens: Some(10),
            ..Usage::default()
        };
        assert_eq!(compute_cost(&price(), &only_cache), None);
    }

    #[test]
    fn output_only_counts_input_as_zero() {
        let usage = Usage {
            output_tokens: Some(1_000_000),
            ..Usage::default()
        };
        let c = compute_cost(&price(), &usage).expect("output present");
        assert_eq!(c.input_usd, 0.0);
        assert!((c.output_usd - 15.0).abs() < 1e-12);
        assert!((c.total_usd - 15.0).abs() < 1e-12);
    }

    #[test]
    fn threshold_is_strictly_above() {
        let at = Usage {
            input_tokens: Some(200_000),
            ..Usage::default()
        };
        let above = Usage {
            input_tokens: Some(200_001),
            ..Usage::default()
        };
        let c = compute_cost(&price(), &at).expect("input present");
        assert_eq!(c.tier_above_input_tokens, None);
        assert!((c.input_usd - 0.6).abs() < 1e-12); // 200000 × 3 / 1e6
        let c = compute_cost(&price(), &above).expect("input present");
        assert_eq!(c.tier_above_input_tokens, Some(200_000));
        assert!((c.input_usd - 1.200_006).abs() < 1e-12); // 200001 × 6 / 1e6
    }

    #[test]
    fn tier_fallbacks() {
        // In the tier: cache read not set by the tier → base 0.3; 1h write not
        // set anywhere in the tier → base 6.0; write 7.5 from the tier.
        let usage = Usage {
            input_tokens: Some(300_000),
            cache_read_tokens: Some(100_000),
            cache_write_tokens: Some(50_000),
            cache_write_1h_tokens: Some(10_000),
            output_tokens: Some(1_000),
            ..Usage::default()
        };
        let c = compute_cost(&price(), &usage).expect("counts present");
        assert!((c.input_usd - 150_000.0 * 6.0 / 1e6).abs() < 1e-12);
        assert!((c.cache_read_usd - 100_000.0 * 0.3 / 1e6).abs() < 1e-12);
        assert!((c.cache_write_usd - (40_000.0 * 7.5 / 1e6 + 10_000.0 * 6.0 / 1e6)).abs() < 1e-12);
        assert!((c.output_usd - 1_000.0 * 22.5 / 1e6).abs() < 1e-12);
    }

    #[test]
    fn missing_rates_fall_back() {
        let p = ModelPrice {
            input_per_mtok: 1.0,
            output_per_mtok: 4.0,
            ..ModelPrice::default()
        };
        let usage = Usage {
            input_tokens: Some(1_000),
            cache_read_tokens: Some(100),
            cache_write_tokens: Some(200),
            cache_write_1h_tokens: Some(50),
            output_tokens: Some(300),
            reasoning_tokens: Some(100),
            ..Usage::default()
        };
        let c = compute_cost(&p, &usage).expect("counts present");
        assert!((c.input_usd - 700.0 / 1e6).abs() < 1e-15);
        assert!((c.cache_read_usd - 100.0 / 1e6).abs() < 1e-15);
        assert!((c.cache_write_usd - 200.0 / 1e6).abs() < 1e-15);
        assert!((c.output_usd - 200.0 * 4.0 / 1e6).abs() < 1e-15);
        assert!((c.reasoning_usd - 100.0 * 4.0 / 1e6).abs() < 1e-15);
    }

    #[test]
    fn inconsistent_counts_saturate() {
        let usage = Usage {
            input_tokens: Some(10),
            cache_read_tokens: Some(50),
            output_tokens: Some(5),
            reasoning_tokens: Some(9),
            ..Usage::default()
        };
        let c = compute_cost(&price(), &usage).expect("counts present");
        assert_eq!(c.input_usd, 0.0);
        assert_eq!(c.output_usd, 0.0);
        assert!(c.cache_read_usd > 0.0 && c.reasoning_usd > 0.0);
    }
}
