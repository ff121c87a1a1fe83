//! `tokentrace prices <model>` and `tokentrace prices check`.

use anyhow::Context as _;
use serde::Serialize;
use tokentrace_core::Provider;
use tokentrace_core::price::{ModelPrice, PriceCatalogue, PriceMatch};
use tokentrace_store::ModelSeen;

use crate::cli::{PricesArgs, PricesCheckArgs, PricesCommand};
use crate::commands::{emit, emit_json, open_store};
use crate::output::{self, Align, Style, Table};

/// A catalogue entry as printed by `--json`.
#[derive(Debug, Serialize)]
pub(crate) struct PriceInfo {
    /// The model asked about.
    pub(crate) model: String,
    /// The provider asked about, if any.
    pub(crate) provider: Option<String>,
    /// The catalogue key that matched.
    pub(crate) matched_key: String,
    /// The matched entry's provider.
    pub(crate) matched_provider: Option<String>,
    /// `catalogue` or `override`.
    pub(crate) source: &'static str,
    /// Upstream table of a built-in entry (`litellm`, `genai-prices`).
    pub(crate) dataset: Option<String>,
    /// USD per million uncached input tokens.
    pub(crate) input_per_mtok: f64,
    /// USD per million output tokens.
    pub(crate) output_per_mtok: f64,
    /// USD per million cache-read tokens.
    pub(crate) cache_read_per_mtok: Option<f64>,
    /// USD per million cache-write tokens.
    pub(crate) cache_write_per_mtok: Option<f64>,
    /// USD per million reasoning tokens.
    pub(crate) reasoning_per_mtok: Option<f64>,
    /// Long-context tiers: `(above_input_tokens, input_per_mtok, output_per_mtok)`.
    pub(crate) tiers: Vec<(u64, f64, f64)>,
}

/// What `prices check --json` prints.
#[derive(Debug, Serialize)]
pub(crate) struct CheckReport {
    /// Distinct (provider, model) pairs seen in the store.
    pub(crate) models_seen: usize,
    /// Those without a catalogue price.
    pub(crate) missing: Vec<ModelSeen>,
}

/// Runs `tokentrace prices ...`.
pub(crate) fn run(args: &PricesArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(PricesCommand::Check(check_args)) => check(check_args),
        None => {
            let model = args
                .model
                .as_deref()
                .context("a model name is required (or `prices check`)")?;
            lookup(model, args.provider.as_deref(), args.json)
        }
    }
}

fn parse_provider(p: Option<&str>) -> anyhow::Result<Option<Provider>> {
    p.map(|name| {
        Provider::from_name(name).with_context(|| {
            let known: Vec<&str> = Provider::ALL.iter().map(|p| p.slug()).collect();
            format!("unknown provider {name:?}; known: {}", known.join(", "))
        })
    })
    .transpose()
}

fn info(model: &str, provider: Option<&str>, m: &PriceMatch<'_>) -> PriceInfo {
    let p: &ModelPrice = m.price;
    PriceInfo {
        model: model.to_owned(),
        provider: provider.map(str::to_owned),
        matched_key: m.key.to_owned(),
        matched_provider: m.provider.map(str::to_owned),
        source: m.source.name(),
        dataset: m.dataset.map(str::to_owned),
        input_per_mtok: p.input_per_mtok,
        output_per_mtok: p.output_per_mtok,
        cache_read_per_mtok: p.cache_read_per_mtok,
        cache_write_per_mtok: p.cache_write_per_mtok,
        reasoning_per_mtok: p.reasoning_per_mtok,
        tiers: p
            .tiers
            .iter()
            .map(|t| (t.above_input_tokens, t.input_per_mtok, t.output_per_mtok))
            .collect(),
    }
}

fn lookup(model: &str, provider: Option<&str>, json: bool) -> anyhow::Result<()> {
    let parsed = parse_provider(provider)?;
    let catalogue = PriceCatalogue::builtin();
    let Some(m) = catalogue.lookup(parsed, model) else {
        anyhow::bail!(
            "no price for model {model:?}{} in the catalogue of {} models; calls to it are recorded \
             without a cost (cost.unknown_model = true); add it with a prices file (see docs/pricing.md)",
            provider
                .map(|p| format!(" (provider {p})"))
                .unwrap_or_default(),
            catalogue.len()
        );
    };
    let info = info(model, provider, &m);
    if json {
        return emit_json(&info);
    }
    let per = |v: f64| format!("${v} / 1M tokens");
    let mut table = Table::new(&[("", Align::Left), ("", Align::Left)]);
    let mut kv = |k: &str, v: String| table.row(vec![k.to_owned(), v]);
    kv("model", info.model.clone());
    kv(
        "matched",
        format!(
            "{} ({}, {}{})",
            info.matched_key,
            info.matched_provider.as_deref().unwrap_or("any provider"),
            info.source,
            info.dataset
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
    );
    kv("input", per(info.input_per_mtok));
    kv("output", per(info.output_per_mtok));
    if let Some(v) = info.cache_read_per_mtok {
        kv("cache read", per(v));
    }
    if let Some(v) = info.cache_write_per_mtok {
        kv("cache write", per(v));
    }
    if let Some(v) = info.reasoning_per_mtok {
        kv("reasoning", per(v));
    }
    for (above, i, o) in &info.tiers {
        kv(
            &format!("above {} input tokens", output::count(*above)),
            format!("input ${i}, output ${o} / 1M tokens"),
        );
    }
    // The two-column key/value table has no header worth printing.
    let text = table.render(Style {
        fancy: false,
        colour: false,
    });
    emit(text.split_once('\n').map_or("", |(_, rest)| rest))
}

fn check(args: &PricesCheckArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store.store)?;
    let seen = store.models_seen()?;
    let catalogue = PriceCatalogue::builtin();
    let missing: Vec<ModelSeen> = seen
        .iter()
        .filter(|m| {
            let provider = m.provider.as_deref().and_then(Provider::from_name);
            catalogue.lookup(provider, &m.model).is_none()
        })
        .cloned()
        .collect();
    let report = CheckReport {
        models_seen: seen.len(),
        missing,
    };
    if args.json {
        emit_json(&report)?;
    } else if report.missing.is_empty() {
        emit(&format!(
            "every model seen in the store ({}) has a price\n",
            report.models_seen
        ))?;
    } else {
        let mut table = Table::new(&[
            ("provider", Align::Left),
            ("model", Align::Left),
            ("calls", Align::Right),
            ("recorded without cost", Align::Right),
        ]);
        for m in &report.missing {
            table.row(vec![
                output::opt(m.provider.as_deref()),
                m.model.clone(),
                output::count(m.spans),
                output::count(m.unpriced_spans),
            ]);
        }
        emit(&table.render(Style::detect()))?;
    }
    if report.missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {} models seen have no price; add them with a prices file (see docs/pricing.md)",
            report.missing.len(),
            report.models_seen
        )
    }
}
