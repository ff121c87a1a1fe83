//! The December 2026 catalogue (LiteLLM 1.110.2, genai-prices 0.2.5, models
//! removed upstream retained) and refreshing prices with a local catalogue.

use tokentrace_core::Provider;
use tokentrace_core::price::update::{self, TableFormat};
use tokentrace_core::price::{PriceCatalogue, PriceError, PriceSource};

#[test]
fn builtin_catalogue_records_its_sources_date_and_retained_count() {
    let layers = PriceCatalogue::builtin().layers();
    assert_eq!(layers.len(), 1);
    let b = &layers[0];
    assert_eq!(b.kind, "builtin");
    assert_eq!(b.as_of, "2026-12-06");
    let source = |name: &str| {
        b.sources
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} source"))
    };
    assert!(source("litellm").contains("1.110.2"), "{b:?}");
    assert!(source("genai-prices").contains("0.2.5"), "{b:?}");
    assert_eq!(b.models, PriceCatalogue::builtin().len());
    assert_eq!(b.retained, 50);
}

#[test]
fn models_added_upstream_price_exactly() {
    let c = PriceCatalogue::builtin();
    // LiteLLM 1.110.2 only: bedrock_converse kimi-k3.1, 4.4e-06 / 2.2e-05 per token.
    let m = c
        .lookup(Some(Provider::Bedrock), "us.moonshotai.kimi-k3.1")
        .expect("new in LiteLLM 1.110.2");
    assert_eq!(m.key, "us.moonshotai.kimi-k3.1");
    assert_eq!(m.dataset, Some("litellm"));
    assert_eq!(m.price.input_per_mtok, 4.4);
    assert_eq!(m.price.output_per_mtok, 22.0);
    assert_eq!(m.price.cache_read_per_mtok, Some(0.22));
    assert_eq!(m.price.cache_write_per_mtok, Some(5.5));
    assert_eq!(m.retained, None);
    // genai-prices 0.2.5 only (read from data.py): gpt-6.2-sol with its 272k tier.
    let m = c
        .lookup(Some(Provider::OpenAi), "gpt-6.2-sol")
        .expect("new in genai-prices 0.2.5");
    assert_eq!(m.dataset, Some("genai-prices"));
    assert_eq!(
        (m.price.input_per_mtok, m.price.output_per_mtok),
        (2.0, 10.0)
    );
    assert_eq!(m.price.cache_read_per_mtok, Some(0.1));
    assert_eq!(m.price.cache_write_per_mtok, Some(2.5));
    assert_eq!(m.price.tiers.len(), 1);
    let t = &m.price.tiers[0];
    assert_eq!(t.above_input_tokens, 272_000);
    assert_eq!((t.input_per_mtok, t.output_per_mtok), (4.0, 15.0));
    assert_eq!(t.cache_read_per_mtok, Some(0.2));
}

#[test]
fn models_removed_upstream_keep_their_last_price() {
    let c = PriceCatalogue::builtin();
    // In LiteLLM 1.109.1, gone from 1.110.2.
    let m = c
        .lookup(Some(Provider::AzureOpenAi), "azure/gpt-4-32k")
        .expect("retained");
    assert_eq!(m.key, "azure/gpt-4-32k");
    assert_eq!(m.retained, Some("2026-11"));
    assert_eq!(
        (m.price.input_per_mtok, m.price.output_per_mtok),
        (60.0, 120.0)
    );
    // A model still listed is not marked.
    let m = c.lookup(Some(Provider::OpenAi), "gpt-4o").unwrap();
    assert_eq!(m.retained, None);
    let retained = c.iter().filter(|m| m.retained.is_some()).count();
    assert_eq!(retained, 50);
}

const LITELLM: &str = r#"{
  "sample_spec": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1},
  "gpt-4o": {"litellm_provider": "openai", "mode": "chat",
             "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06,
             "cache_read_input_token_cost": 5e-07,
             "max_input_tokens": 128000, "max_output_tokens": 16384},
  "azure/brand-new": {"litellm_provider": "azure", "mode": "chat", "max_tokens": 200000,
             "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06,
             "input_cost_per_token_above_200k_tokens": 2e-06,
             "output_cost_per_token_above_200k_tokens": 6e-06},
  "dall-e-9": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_token": 1e-06},
  "broken": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 0.01}
}"#;

const GENAI: &str = r#"[{"id": "anthropic", "models": [
  {"id": "claude-next", "match": {"or": [{"equals": "claude-next"}, {"equals": "claude-next-latest"}]},
   "prices": [
     {"prices": {"input_mtok": 3, "output_mtok": 15}},
     {"constraint": {"start_date": "2026-12-01"}, "prices": {
        "input_mtok": {"base": 2, "tiers": [{"start": 200000, "price": 4}]},
        "output_mtok": 10, "cache_read_mtok": 0.2, "cache_write_mtok": 2.5, "cache_write_1h_mtok": 4}},
     {"constraint": {"start_date": "2099-01-01"}, "prices": {"input_mtok": 99, "output_mtok": 99}}
   ]},
  {"id": "priced-per-image", "match": {"equals": "x"}, "prices": {"input_image_mtok": 1}}
]}, {"id": "x-ai", "models": [{"id": "grok-9", "match": {"equals": "grok-9"},
   "prices": {"input_mtok": 1, "output_mtok": 2}}]}]"#;

#[test]
fn convert_reads_litellm_per_token_prices_and_tiers() {
    let c = update::convert(LITELLM, "litellm.json", "2026-12-06").unwrap();
    assert_eq!(c.format, TableFormat::LiteLlm);
    // gpt-4o and azure/brand-new; not the sample, the image model, nor the $10,000/Mtok unit error.
    assert_eq!(c.models, 2);
    let cat = PriceCatalogue::with_local_json(&c.json).unwrap();
    let m = cat.lookup(Some(Provider::OpenAi), "gpt-4o").unwrap();
    assert!(m.local);
    assert_eq!(m.source, PriceSource::Catalogue);
    assert_eq!(m.dataset, Some("litellm"));
    assert_eq!(
        (m.price.input_per_mtok, m.price.output_per_mtok),
        (2.0, 8.0)
    );
    assert_eq!(m.price.cache_read_per_mtok, Some(0.5));
    let m = cat
        .lookup(Some(Provider::AzureOpenAi), "brand-new")
        .unwrap();
    assert_eq!(m.key, "azure/brand-new");
    assert_eq!(m.price.tiers.len(), 1);
    assert_eq!(m.price.tiers[0].above_input_tokens, 200_000);
    assert_eq!(
        (
            m.price.tiers[0].input_per_mtok,
            m.price.tiers[0].output_per_mtok
        ),
        (2.0, 6.0)
    );
    assert!(cat.lookup(None, "dall-e-9").is_none());
    let local = &cat.layers()[1];
    assert_eq!(local.kind, "local");
    assert_eq!(local.as_of, "2026-12-06");
    assert_eq!(
        local.sources,
        vec![("litellm".to_owned(), "litellm.json".to_owned())]
    );
    assert_eq!(local.models, 2);
}

#[test]
fn the_builtin_catalogue_carries_litellm_output_limits() {
    let c = PriceCatalogue::builtin();
    let limit = |p, model| c.lookup(p, model).expect(model).max_output_tokens;
    // LiteLLM 1.110.2 `max_output_tokens`, also on entries genai-prices prices.
    assert_eq!(limit(Some(Provider::OpenAi), "gpt-4o"), Some(16_384));
    assert_eq!(
        limit(Some(Provider::Anthropic), "claude-sonnet-4-5"),
        Some(64_000)
    );
    assert_eq!(
        limit(Some(Provider::Bedrock), "us.moonshotai.kimi-k3.1"),
        Some(131_072)
    );
    // A retained entry keeps the limit of its snapshot (LiteLLM 1.109.1).
    assert_eq!(
        limit(Some(Provider::AzureOpenAi), "azure/gpt-4-32k"),
        Some(4096)
    );
    // Embeddings produce no output tokens: no limit.
    assert_eq!(
        limit(Some(Provider::OpenAi), "text-embedding-3-small"),
        None
    );
    // About half the entries have one (chat models LiteLLM gives one for).
    let with = c.iter().filter(|m| m.max_output_tokens.is_some()).count();
    assert!((3000..c.len()).contains(&with), "{with} of {}", c.len());
}

#[test]
fn convert_carries_litellm_output_limits_into_the_local_catalogue() {
    let c = update::convert(LITELLM, "litellm.json", "2026-12-06").unwrap();
    assert!(c.json.contains(r#""max_out":16384"#), "{}", c.json);
    let cat = PriceCatalogue::with_local_json(&c.json).unwrap();
    let m = cat.lookup(Some(Provider::OpenAi), "gpt-4o").unwrap();
    assert!(m.local);
    assert_eq!(m.max_output_tokens, Some(16_384));
    // The legacy `max_tokens` may be the input limit: not taken.
    let m = cat
        .lookup(Some(Provider::AzureOpenAi), "brand-new")
        .unwrap();
    assert_eq!(m.max_output_tokens, None);
    // Re-reading a local catalogue (tokentrace format) keeps the limit.
    let again = update::convert(&c.json, "prices.json", "2026-12-07").unwrap();
    assert_eq!(again.format, TableFormat::Tokentrace);
    let cat = PriceCatalogue::with_local_json(&again.json).unwrap();
    assert_eq!(
        cat.lookup(Some(Provider::OpenAi), "gpt-4o")
            .unwrap()
            .max_output_tokens,
        Some(16_384)
    );
}

#[test]
fn catalogues_without_or_with_a_bad_output_limit_still_load() {
    // A local catalogue written before limits existed (same `format`).
    let old = r#"{
"as_of":"2026-12-01",
"format":1,
"generator":"tokentrace prices update",
"sources":{"litellm":"x.json"},
"models":[
{"input":1.0,"model":"old-model","output":2.0,"provider":"openai","source":"litellm"}
]}
"#;
    let cat = PriceCatalogue::with_local_json(old).unwrap();
    assert_eq!(
        cat.lookup(None, "old-model").unwrap().max_output_tokens,
        None
    );
    // Converting a tokentrace table drops a limit that is no positive
    // whole number instead of refusing the table.
    let odd = old
        .replace(r#""input":1.0,"#, r#""input":1.0,"max_out":-5,"#)
        .replace("]}", r#",{"input":1.0,"max_out":0,"model":"zero","output":2.0,"provider":"openai","source":"litellm"}]}"#);
    let c = update::convert(&odd, "odd.json", "2026-12-06").unwrap();
    assert!(!c.json.contains("max_out"), "{}", c.json);
    let cat = PriceCatalogue::with_local_json(&c.json).unwrap();
    assert_eq!(
        cat.lookup(None, "old-model").unwrap().max_output_tokens,
        None
    );
}

/// The built-in catalogue is what `tools/gen_prices.py` makes of the tables
/// in `../shared/pricing` (the same check `scripts/test-all` runs), and the
/// Rust conversion (`prices update`) reads the same limits from LiteLLM's
/// table as the generator did. Skipped when python3 or the tables are absent
/// (`TOKENTRACE_PRICING_DIR` points elsewhere).
#[test]
fn the_generator_reproduces_the_catalogue_and_agrees_with_prices_update() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("TOKENTRACE_PRICING_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/pricing"));
    let litellm = dir.join("2026-12/litellm-1.110.2/model_prices_and_context_window.json");
    if !litellm.exists() {
        eprintln!("skipped: no pricing tables at {}", dir.display());
        return;
    }
    match std::process::Command::new("python3")
        .arg(root.join("tools/gen_prices.py"))
        .arg("--check")
        .arg("--pricing-dir")
        .arg(&dir)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "gen_prices.py --check: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("python3 not run ({e}): generator check skipped"),
    }
    let text = std::fs::read_to_string(&litellm).unwrap();
    let local = update::convert(&text, "litellm.json", "2026-12-06").unwrap();
    let local = PriceCatalogue::with_local_json(&local.json).unwrap();
    let builtin = PriceCatalogue::builtin();
    let mut compared = 0;
    for m in local.iter().filter(|m| m.local) {
        let b = builtin
            .iter()
            .find(|b| b.key == m.key && b.provider == m.provider && b.retained.is_none());
        if let Some(b) = b {
            assert_eq!(
                b.max_output_tokens, m.max_output_tokens,
                "{} ({:?})",
                m.key, m.provider
            );
            compared += 1;
        }
    }
    assert!(compared > 3000, "{compared}");
}

#[test]
fn convert_reads_genai_prices_at_the_update_date() {
    let c = update::convert(GENAI, "data.json", "2026-12-06").unwrap();
    assert_eq!(c.format, TableFormat::GenaiPrices);
    // claude-next + its -latest alias, grok-9; not the image-only model.
    assert_eq!(c.models, 3);
    let cat = PriceCatalogue::with_local_json(&c.json).unwrap();
    let m = cat
        .lookup(Some(Provider::Anthropic), "claude-next")
        .unwrap();
    assert_eq!(m.dataset, Some("genai-prices"));
    // The set started 2026-12-01, not the 2099 one nor the first.
    assert_eq!(
        (m.price.input_per_mtok, m.price.output_per_mtok),
        (2.0, 10.0)
    );
    assert_eq!(m.price.cache_write_1h_per_mtok, Some(4.0));
    assert_eq!(m.price.tiers[0].above_input_tokens, 200_000);
    assert_eq!(m.price.tiers[0].input_per_mtok, 4.0);
    assert_eq!(m.price.tiers[0].output_per_mtok, 10.0);
    assert!(
        cat.lookup(Some(Provider::Anthropic), "claude-next-latest")
            .is_some()
    );
    let m = cat.lookup(Some(Provider::XAi), "grok-9").unwrap();
    assert_eq!(m.provider, Some("xai"));
    // Resolved a month earlier, the first set applies.
    let c = update::convert(GENAI, "data.json", "2026-11-01").unwrap();
    let cat = PriceCatalogue::with_local_json(&c.json).unwrap();
    let m = cat
        .lookup(Some(Provider::Anthropic), "claude-next")
        .unwrap();
    assert_eq!(m.price.input_per_mtok, 3.0);
}

#[test]
fn convert_rejects_what_is_no_price_table() {
    for text in ["not json", "42", r#"{"gpt": {"mode": "chat"}}"#, "[]"] {
        let err = update::convert(text, "x", "2026-12-06").unwrap_err();
        assert!(matches!(err, PriceError::Table { .. }), "{text}: {err}");
    }
}

#[test]
fn local_entries_replace_builtin_ones_and_the_rest_stay() {
    let c = update::convert(LITELLM, "litellm.json", "2026-12-06").unwrap();
    let cat = PriceCatalogue::with_local_json(&c.json).unwrap();
    let builtin = PriceCatalogue::builtin();
    // Replaced: the local gpt-4o (openai) price, not the built-in one.
    assert_eq!(
        builtin
            .lookup(Some(Provider::OpenAi), "gpt-4o")
            .unwrap()
            .price
            .input_per_mtok,
        2.5
    );
    assert_eq!(
        cat.lookup(Some(Provider::OpenAi), "gpt-4o")
            .unwrap()
            .price
            .input_per_mtok,
        2.0
    );
    // Absent from the local table: the built-in price stays.
    let m = cat
        .lookup(Some(Provider::Anthropic), "claude-sonnet-4-5")
        .unwrap();
    assert!(!m.local);
    assert_eq!(m.price.input_per_mtok, 3.0);
    assert_eq!(
        cat.len(),
        builtin.len() + 1,
        "one entry replaced, one added"
    );
    // Overrides still go on top.
    let with = cat
        .and_overrides_toml(
            "[models.\"gpt-4o\"]\nprovider = \"openai\"\ninput_per_mtok = 9.0\noutput_per_mtok = 9.0\n",
        )
        .unwrap();
    let m = with.lookup(Some(Provider::OpenAi), "gpt-4o").unwrap();
    assert_eq!(m.source, PriceSource::Override);
    assert_eq!(with.layers().len(), 2);
}

#[test]
fn update_local_writes_a_catalogue_and_never_overwrites_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("model_prices_and_context_window.json");
    std::fs::write(&from, LITELLM).unwrap();
    let to = dir.path().join(".tokentrace").join("prices.json");
    let cat = PriceCatalogue::update_local(&from, &to).unwrap();
    // The written file carries the model's output limit.
    let reread = PriceCatalogue::with_local_file(&to).unwrap();
    assert_eq!(
        reread
            .lookup(Some(Provider::OpenAi), "gpt-4o")
            .unwrap()
            .max_output_tokens,
        Some(16_384)
    );
    let local = &cat.layers()[1];
    assert_eq!(local.path.as_deref(), Some(to.as_path()));
    assert_eq!(local.as_of, update::today());
    assert_eq!(local.sources[0].1, "model_prices_and_context_window.json");
    assert!(update::is_local_catalogue(&std::fs::read(&to).unwrap()));
    // Ours: replaced by a second update (from genai-prices this time).
    let from2 = dir.path().join("data.json");
    std::fs::write(&from2, GENAI).unwrap();
    let cat = PriceCatalogue::update_local(&from2, &to).unwrap();
    assert_eq!(cat.layers()[1].sources[0].0, "genai-prices");
    assert!(cat.lookup(None, "grok-9").is_some());
    assert!(
        cat.lookup(None, "azure/brand-new").is_none(),
        "the new table replaces the old local one"
    );
    // Not ours: left byte for byte.
    let foreign = dir.path().join("prices.json");
    std::fs::write(&foreign, "{\"models\": []}").unwrap();
    let err = PriceCatalogue::update_local(&from, &foreign).unwrap_err();
    assert!(matches!(err, PriceError::NotOurs { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "{\"models\": []}"
    );
    // No temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(to.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("prices.json")]);
}

#[test]
fn a_builtin_catalogue_file_is_accepted_as_input() {
    let text = include_str!("../../src/price/catalogue.json");
    let c = update::convert(text, "catalogue.json", "2026-12-06").unwrap();
    assert_eq!(c.format, TableFormat::Tokentrace);
    assert_eq!(c.models, PriceCatalogue::builtin().len());
}

#[test]
fn moonshot_is_a_provider_named_moonshot_ai_and_priced_by_its_slug() {
    let p = Provider::from_name("moonshot_ai").expect("moonshot_ai");
    assert_eq!(p.otel_name(), "moonshot_ai");
    assert_eq!(p.slug(), "moonshot");
    assert_eq!(p.openinference_provider(), "moonshot");
    assert_eq!(Provider::from_name("moonshot"), Some(p));
    let m = PriceCatalogue::builtin()
        .lookup(Some(p), "kimi-k2-0905-preview")
        .expect("Kimi priced");
    assert_eq!(m.provider, Some("moonshot"));
    assert_eq!(
        (m.price.input_per_mtok, m.price.output_per_mtok),
        (0.6, 2.5)
    );
    let d = tokentrace_core::ProviderRegistry::new()
        .detect_url("POST", "https://api.moonshot.ai/v1/chat/completions")
        .expect("detected");
    assert_eq!(d.provider, p);
    assert_eq!(d.operation, tokentrace_core::Operation::Chat);
}
