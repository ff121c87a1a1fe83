//! Cost figures computed by hand from the published per-million-token prices
//! in the two upstream tables (`shared/pricing`), against the built-in catalogue.
//!
//! Every expected figure is written out as `tokens × USD/Mtok ÷ 1e6` from the
//! prices quoted in the comment; `source:` says which table supplied them.

use tokentrace_core::price::{PriceCatalogue, PriceSource};
use tokentrace_core::{Provider, Usage};

const EPS: f64 = 1e-12;

fn usage(input: u64, output: Option<u64>) -> Usage {
    Usage {
        input_tokens: Some(input),
        output_tokens: output,
        ..Usage::default()
    }
}

#[track_caller]
fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < EPS,
        "expected {expected}, got {actual} (diff {})",
        actual - expected
    );
}

/// Look up, price, check the entry it used, and return the cost.
#[track_caller]
fn cost(provider: Provider, model: &str, usage: &Usage, key: &str) -> tokentrace_core::price::Cost {
    let c = PriceCatalogue::builtin()
        .cost(Some(provider), model, usage)
        .unwrap_or_else(|| panic!("{model} should be priced"));
    assert_eq!(c.model_key, key, "{model} priced by the wrong entry");
    assert_eq!(c.source, PriceSource::Catalogue);
    close(
        c.total_usd,
        c.input_usd + c.cache_read_usd + c.cache_write_usd + c.output_usd + c.reasoning_usd,
    );
    close(c.prompt_usd() + c.completion_usd(), c.total_usd);
    c
}

#[test]
fn openai_gpt_4o_mini_dated_snapshot_with_cached_input() {
    // genai-prices openai/gpt-4o-mini: input 0.15, cache read 0.075, output 0.60 $/Mtok.
    // A snapshot date the catalogue has no key for, so the snapshot rule is exercised.
    let u = Usage {
        cache_read_tokens: Some(4_000),
        ..usage(10_000, Some(500))
    };
    let c = cost(
        Provider::OpenAi,
        "gpt-4o-mini-2099-12-31",
        &u,
        "gpt-4o-mini",
    );
    close(c.input_usd, 6_000.0 * 0.15 / 1e6); // 0.0009
    close(c.cache_read_usd, 4_000.0 * 0.075 / 1e6); // 0.0003
    close(c.output_usd, 500.0 * 0.6 / 1e6); // 0.0003
    close(c.total_usd, 0.0015);
    assert_eq!(c.provider.as_deref(), Some("openai"));
}

#[test]
fn openai_o3_reasoning_at_output_rate() {
    // genai-prices openai/o3: input 2, output 8 $/Mtok, no separate reasoning rate.
    let u = Usage {
        reasoning_tokens: Some(4_000),
        ..usage(2_000, Some(5_000))
    };
    let c = cost(Provider::OpenAi, "o3", &u, "o3");
    close(c.input_usd, 2_000.0 * 2.0 / 1e6); // 0.004
    close(c.output_usd, 1_000.0 * 8.0 / 1e6); // 0.008
    close(c.reasoning_usd, 4_000.0 * 8.0 / 1e6); // 0.032
    close(c.total_usd, 0.044);
    close(c.completion_usd(), 0.040);
}

#[test]
fn openai_gpt_5_cached_and_reasoning() {
    // LiteLLM gpt-5-2025-08-07: input 1.25e-06, cache read 1.25e-07, output 1e-05 $/token
    // = 1.25 / 0.125 / 10 $/Mtok.
    let u = Usage {
        cache_read_tokens: Some(20_000),
        reasoning_tokens: Some(3_000),
        ..usage(30_000, Some(3_500))
    };
    let c = cost(Provider::OpenAi, "gpt-5-2025-08-07", &u, "gpt-5-2025-08-07");
    // 10000×1.25 + 20000×0.125 + 500×10 + 3000×10 = 12500 + 2500 + 5000 + 30000 → /1e6
    close(c.total_usd, 0.05);
    close(c.cache_read_usd, 0.0025);
}

#[test]
fn anthropic_claude_sonnet_4_5_cache_read_write_and_1h_write() {
    // genai-prices anthropic/claude-sonnet-4-5: input 3, output 15, cache read 0.30,
    // cache write 3.75, 1h cache write 6 $/Mtok (200k tier not reached).
    let u = Usage {
        cache_read_tokens: Some(6_000),
        cache_write_tokens: Some(4_000),
        cache_write_1h_tokens: Some(1_000),
        ..usage(12_000, Some(800))
    };
    let c = cost(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        &u,
        "claude-sonnet-4-5",
    );
    close(c.input_usd, 2_000.0 * 3.0 / 1e6); // 0.006
    close(c.cache_read_usd, 6_000.0 * 0.3 / 1e6); // 0.0018
    close(
        c.cache_write_usd,
        3_000.0 * 3.75 / 1e6 + 1_000.0 * 6.0 / 1e6,
    ); // 0.01725
    close(c.output_usd, 800.0 * 15.0 / 1e6); // 0.012
    close(c.total_usd, 0.03705);
    close(c.prompt_usd(), 0.02505);
    assert_eq!(c.tier_above_input_tokens, None);
}

#[test]
fn gemini_2_5_pro_below_and_above_the_200k_tier() {
    // genai-prices google/gemini-2.5-pro: input 1.25 → 2.50 above 200k, output
    // 10 → 15, cache read 0.125 → 0.25 $/Mtok. Looked up as Gemini returns it.
    let below = Usage {
        reasoning_tokens: Some(1_500),
        ..usage(100_000, Some(2_000))
    };
    let c = cost(
        Provider::Gemini,
        "models/gemini-2.5-pro",
        &below,
        "gemini/gemini-2.5-pro",
    );
    close(c.input_usd, 100_000.0 * 1.25 / 1e6); // 0.125
    close(c.output_usd, 500.0 * 10.0 / 1e6); // 0.005
    close(c.reasoning_usd, 1_500.0 * 10.0 / 1e6); // 0.015
    close(c.total_usd, 0.145);
    assert_eq!(c.tier_above_input_tokens, None);

    let above = Usage {
        cache_read_tokens: Some(50_000),
        ..usage(250_000, Some(1_000))
    };
    let c = cost(
        Provider::Gemini,
        "gemini-2.5-pro",
        &above,
        "gemini/gemini-2.5-pro",
    );
    close(c.input_usd, 200_000.0 * 2.5 / 1e6); // 0.5
    close(c.cache_read_usd, 50_000.0 * 0.25 / 1e6); // 0.0125
    close(c.output_usd, 1_000.0 * 15.0 / 1e6); // 0.015
    close(c.total_usd, 0.5275);
    assert_eq!(c.tier_above_input_tokens, Some(200_000));
}

#[test]
fn bedrock_us_anthropic_inference_profile_from_url_path() {
    // LiteLLM us.anthropic.claude-sonnet-4-5-20250929-v1:0: input 3.3e-06,
    // cache read 3.3e-07, cache write 4.125e-06, output 1.65e-05 $/token
    // = 3.3 / 0.33 / 4.125 / 16.5 $/Mtok. The id arrives URL-encoded.
    let u = Usage {
        cache_read_tokens: Some(1_000),
        cache_write_tokens: Some(2_000),
        ..usage(5_000, Some(300))
    };
    let key = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let c = cost(
        Provider::Bedrock,
        "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0",
        &u,
        key,
    );
    close(c.input_usd, 2_000.0 * 3.3 / 1e6); // 0.0066
    close(c.cache_read_usd, 1_000.0 * 0.33 / 1e6); // 0.00033
    close(c.cache_write_usd, 2_000.0 * 4.125 / 1e6); // 0.00825
    close(c.output_usd, 300.0 * 16.5 / 1e6); // 0.00495
    close(c.total_usd, 0.02013);
    assert_eq!(c.provider.as_deref(), Some("bedrock"));
}

#[test]
fn mistral_large_latest_via_provider_prefix() {
    // LiteLLM mistral/mistral-large-latest: input 5e-07, output 1.5e-06 $/token = 0.5 / 1.5 $/Mtok.
    let c = cost(
        Provider::Mistral,
        "mistral-large-latest",
        &usage(3_000, Some(1_000)),
        "mistral/mistral-large-latest",
    );
    close(c.input_usd, 3_000.0 * 0.5 / 1e6); // 0.0015
    close(c.output_usd, 1_000.0 * 1.5 / 1e6); // 0.0015
    close(c.total_usd, 0.003);
}

#[test]
fn deepseek_chat_with_cache_hits() {
    // genai-prices deepseek/deepseek-chat, standard-hours set (00:30–16:30 UTC,
    // the majority of the day): input 0.27, cache read 0.07, output 1.10 $/Mtok.
    let u = Usage {
        cache_read_tokens: Some(8_000),
        ..usage(10_000, Some(1_000))
    };
    let c = cost(Provider::DeepSeek, "deepseek-chat", &u, "deepseek-chat");
    close(c.input_usd, 2_000.0 * 0.27 / 1e6); // 0.00054
    close(c.cache_read_usd, 8_000.0 * 0.07 / 1e6); // 0.00056
    close(c.output_usd, 1_000.0 * 1.1 / 1e6); // 0.0011
    close(c.total_usd, 0.0022);
}

#[test]
fn azure_deployment_priced_as_azure() {
    // LiteLLM azure/gpt-4o: input 2.5e-06, cache read 1.25e-06, output 1e-05 $/token
    // = 2.5 / 1.25 / 10 $/Mtok (OpenAI's own gpt-4o also exists; Azure's wins).
    let u = Usage {
        cache_read_tokens: Some(500),
        ..usage(1_000, Some(100))
    };
    let c = cost(Provider::AzureOpenAi, "gpt-4o", &u, "azure/gpt-4o");
    close(c.input_usd, 500.0 * 2.5 / 1e6); // 0.00125
    close(c.cache_read_usd, 500.0 * 1.25 / 1e6); // 0.000625
    close(c.output_usd, 100.0 * 10.0 / 1e6); // 0.001
    close(c.total_usd, 0.002875);
    assert_eq!(c.provider.as_deref(), Some("azure"));
}

#[test]
fn cohere_embed_input_only() {
    // genai-prices cohere/embed-v4.0: input 0.12 $/Mtok, no output count.
    let c = cost(
        Provider::Cohere,
        "embed-v4.0",
        &usage(10_000, None),
        "cohere/embed-v4.0",
    );
    close(c.input_usd, 10_000.0 * 0.12 / 1e6); // 0.0012
    close(c.output_usd, 0.0);
    close(c.total_usd, 0.0012);
}

#[test]
fn groq_llama_3_3_70b() {
    // genai-prices groq/llama-3.3-70b-versatile: input 0.59, output 0.79 $/Mtok.
    let c = cost(
        Provider::Groq,
        "llama-3.3-70b-versatile",
        &usage(1_000, Some(1_000)),
        "llama-3.3-70b-versatile",
    );
    close(c.total_usd, 1_000.0 * 0.59 / 1e6 + 1_000.0 * 0.79 / 1e6); // 0.00138
    assert_eq!(c.provider.as_deref(), Some("groq"));
}

#[test]
fn xai_grok_3_mini_reasoning() {
    // genai-prices x-ai/grok-3-mini: input 0.30, output 0.50 $/Mtok.
    let u = Usage {
        reasoning_tokens: Some(500),
        ..usage(1_000, Some(600))
    };
    let c = cost(Provider::XAi, "grok-3-mini", &u, "grok-3-mini");
    assert_eq!(c.provider.as_deref(), Some("xai"));
    close(c.input_usd, 1_000.0 * 0.3 / 1e6); // 0.0003
    close(c.output_usd, 100.0 * 0.5 / 1e6); // 0.00005
    close(c.reasoning_usd, 500.0 * 0.5 / 1e6); // 0.00025
    close(c.total_usd, 0.0006);
}

#[test]
fn unknown_model_or_no_counts_is_none() {
    let prices = PriceCatalogue::builtin();
    let u = usage(1_000, Some(1_000));
    assert!(
        prices
            .cost(Some(Provider::OpenAi), "totally-made-up-model-7", &u)
            .is_none()
    );
    assert!(prices.cost(None, "totally-made-up-model-7", &u).is_none());
    assert!(
        prices
            .cost(Some(Provider::OpenAi), "gpt-4o-mini", &Usage::default())
            .is_none()
    );
}

#[test]
fn overrides_price_a_finetune_and_its_tier() {
    let prices = PriceCatalogue::with_overrides_toml(
        r#"
[models."my-finetune"]
provider = "openai"
input_per_mtok = 1.0
output_per_mtok = 2.0
cache_read_per_mtok = 0.1
[[models."my-finetune".tiers]]
above_input_tokens = 200000
input_per_mtok = 2.0
output_per_mtok = 4.0
"#,
    )
    .expect("valid overrides");
    let u = Usage {
        cache_read_tokens: Some(1_000),
        ..usage(3_000, Some(500))
    };
    let c = prices
        .cost(Some(Provider::OpenAi), "my-finetune", &u)
        .expect("override");
    assert_eq!(c.source, PriceSource::Override);
    // 2000×1 + 1000×0.1 + 500×2 = 2000 + 100 + 1000 → /1e6
    close(c.total_usd, 0.0031);
    // Above the tier: 300000×2 + 500×4 → /1e6; cache read keeps the base 0.1.
    let c = prices
        .cost(
            Some(Provider::OpenAi),
            "my-finetune",
            &usage(300_000, Some(500)),
        )
        .expect("override");
    close(c.total_usd, 0.602);
    // The builtin entries are still there.
    assert!(
        prices
            .cost(Some(Provider::OpenAi), "gpt-4o-mini", &u)
            .is_some()
    );
}

#[test]
fn catalogue_is_large_and_sane() {
    let prices = PriceCatalogue::builtin();
    assert!(prices.len() >= 2_000, "only {} entries", prices.len());
    let mut providers = std::collections::BTreeSet::new();
    for m in prices.iter() {
        let p = m.price;
        let mut rates = vec![p.input_per_mtok, p.output_per_mtok];
        rates.extend(
            [
                p.cache_read_per_mtok,
                p.cache_write_per_mtok,
                p.cache_write_1h_per_mtok,
                p.reasoning_per_mtok,
            ]
            .into_iter()
            .flatten(),
        );
        for t in &p.tiers {
            assert!(t.above_input_tokens > 0, "{}: tier at 0", m.key);
            rates.extend([t.input_per_mtok, t.output_per_mtok]);
            rates.extend(
                [t.cache_read_per_mtok, t.cache_write_per_mtok]
                    .into_iter()
                    .flatten(),
            );
        }
        for r in rates {
            assert!(r.is_finite() && r >= 0.0, "{}: bad rate {r}", m.key);
            // Nothing on sale today costs more than $1,000 per million tokens.
            assert!(r < 1_000.0, "{}: implausible rate {r}", m.key);
        }
        assert!(
            p.tiers
                .windows(2)
                .all(|w| w[0].above_input_tokens < w[1].above_input_tokens),
            "{}: tiers not sorted",
            m.key
        );
        assert!(
            matches!(m.dataset, Some("litellm" | "genai-prices")),
            "{}",
            m.key
        );
        providers.insert(m.provider.unwrap_or_default());
    }
    for p in [
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "vertex_ai",
        "cohere",
        "mistral",
        "groq",
        "together",
        "deepseek",
        "openrouter",
        "xai",
        "fireworks",
        "bedrock",
    ] {
        assert!(providers.contains(p), "no entry for {p}");
    }
}

/// A dated snapshot the tables dropped is priced like its family's `-latest`
/// alias (claude-3-5-haiku-latest: $0.80 input, $4.00 output per Mtok in LiteLLM).
#[test]
fn a_lost_snapshot_falls_back_to_the_latest_alias() {
    let m = PriceCatalogue::builtin()
        .lookup(Some(Provider::Anthropic), "claude-3-5-haiku-20241022")
        .expect("priced through the -latest alias");
    assert_eq!(m.key, "claude-3-5-haiku-latest");
}
