//! The estimate of a call's maximum cost, reserved before the call.

use crate::price::{PriceCatalogue, compute_cost};
use crate::provider::Provider;
use crate::usage::Usage;

use super::config::BudgetConfig;

impl BudgetConfig {
    /// The estimated maximum cost of a call, in USD: input tokens from the
    /// request body's size, output tokens from the request's bound
    /// (`max_output_tokens`), else the model's output limit in the catalogue
    /// ([`PriceMatch::max_output_tokens`](crate::price::PriceMatch::max_output_tokens)),
    /// else [`default_max_output_tokens`](Self::default_max_output_tokens);
    /// priced with `prices`. A model without a price costs
    /// [`unknown_model_usd`](Self::unknown_model_usd).
    pub fn estimate_usd(
        &self,
        prices: &PriceCatalogue,
        provider: Option<Provider>,
        model: Option<&str>,
        body_bytes: usize,
        max_output_tokens: Option<u64>,
    ) -> f64 {
        let input = (body_bytes as u64).div_ceil(u64::from(self.bytes_per_token.max(1)));
        let Some(entry) = model.and_then(|m| prices.lookup(provider, m)) else {
            return self.unknown_model_usd;
        };
        let output = max_output_tokens
            .or(entry.max_output_tokens)
            .unwrap_or(self.default_max_output_tokens);
        let usage = Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            total_tokens: Some(input.saturating_add(output)),
            ..Usage::default()
        };
        compute_cost(entry.price, &usage).map_or(self.unknown_model_usd, |c| c.total_usd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::usd_to_micros;

    #[test]
    fn the_estimate_prices_body_bytes_and_the_output_bound() {
        let c = BudgetConfig::new();
        let prices = PriceCatalogue::builtin();
        let with_bound = c.estimate_usd(
            prices,
            Some(Provider::OpenAi),
            Some("gpt-4o-mini"),
            3000,
            Some(100),
        );
        let p = prices
            .lookup(Some(Provider::OpenAi), "gpt-4o-mini")
            .unwrap()
            .price;
        let want = 1000.0f64.mul_add(p.input_per_mtok, 100.0 * p.output_per_mtok) / 1e6;
        assert!((with_bound - want).abs() < 1e-12, "{with_bound} vs {want}");
        let unbounded = c.estimate_usd(
            prices,
            Some(Provider::OpenAi),
            Some("gpt-4o-mini"),
            3000,
            None,
        );
        assert!(unbounded > with_bound);
        assert_eq!(
            c.estimate_usd(prices, None, Some("no-such-model-xyz"), 10, None),
            0.0
        );
        assert_eq!(usd_to_micros(0.0000011), 2);
        assert_eq!(usd_to_micros(-1.0), 0);
    }

    #[test]
    fn without_a_request_bound_the_estimate_uses_the_catalogue_limit_then_the_default() {
        let c = BudgetConfig::new().default_max_output_tokens(1000);
        let prices = PriceCatalogue::builtin();
        let m = prices
            .lookup(Some(Provider::OpenAi), "gpt-4o-mini")
            .unwrap();
        // LiteLLM 1.110.2: gpt-4o-mini has max_output_tokens = 16384.
        assert_eq!(m.max_output_tokens, Some(16_384));
        let p = m.price;
        let cost =
            |output: f64| 1000.0f64.mul_add(p.input_per_mtok, output * p.output_per_mtok) / 1e6;
        let est = |bound| {
            c.estimate_usd(
                prices,
                Some(Provider::OpenAi),
                Some("gpt-4o-mini"),
                3000,
                bound,
            )
        };
        // No bound in the request: the model's limit, not the 1000 default.
        assert!((est(None) - cost(16_384.0)).abs() < 1e-12, "{}", est(None));
        // The request's own bound comes first, even above the model's limit.
        assert!((est(Some(50)) - cost(50.0)).abs() < 1e-12);
        assert!((est(Some(20_000)) - cost(20_000.0)).abs() < 1e-12);
        // A model without a catalogue limit (an override here): the default.
        let with = prices
            .and_overrides_toml(
                "[models.\"my-model\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n\
                 [models.\"my-capped\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\nmax_output_tokens = 10\n",
            )
            .unwrap();
        let at = |model| c.estimate_usd(&with, None, Some(model), 3000, None);
        // 1,000 input tokens at $1, then 1,000 (default) or 10 output tokens at $2.
        assert!((at("my-model") - 3000.0 / 1e6).abs() < 1e-12);
        assert!((at("my-capped") - 1020.0 / 1e6).abs() < 1e-12);
    }
}
