//! `tokentrace prices [<model>]`, `tokentrace prices check` and
//! `tokentrace prices update --from FILE`.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use tokentrace_core::Provider;
use tokentrace_core::price::{ModelPrice, PriceCatalogue, PriceMatch};
use tokentrace_store::ModelSeen;

use crate::cli::{PricesArgs, PricesCheckArgs, PricesCommand, PricesUpdateArgs};
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
    /// From the local catalogue (`tokentrace prices update`).
    pub(crate) local: bool,
    /// Kept from an older snapshot because upstream no longer lists the model.
    pub(crate) retained_from: Option<String>,
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
    /// The most output tokens one call can produce, when the catalogue knows it.
    pub(crate) max_output_tokens: Option<u64>,
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
        Some(PricesCommand::Update(update_args)) => update(update_args),
        None => {
            let catalogue = load(&args.catalogue.catalogue)?;
            match args.model.as_deref() {
                Some(model) => lookup(&catalogue, model, args.provider.as_deref(), args.json),
                None => summary(&catalogue, &args.catalogue.catalogue, args.json),
            }
        }
    }
}

/// The built-in catalogue, with the local one layered over it when it exists.
pub(crate) fn load(local: &Path) -> anyhow::Result<PriceCatalogue> {
    if local.exists() {
        PriceCatalogue::with_local_file(local)
            .with_context(|| format!("loading the local price catalogue {}", local.display()))
    } else {
        Ok(PriceCatalogue::builtin().clone())
    }
}

/// One catalogue layer, as `tokentrace prices --json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct LayerInfo {
    /// `builtin` or `local`.
    pub(crate) kind: &'static str,
    /// The local catalogue's file.
    pub(crate) path: Option<String>,
    /// The date the prices were taken.
    pub(crate) as_of: String,
    /// Upstream table → what was read.
    pub(crate) sources: std::collections::BTreeMap<String, String>,
    /// Entries.
    pub(crate) models: usize,
    /// Entries kept from an older snapshot (removed upstream).
    pub(crate) retained: usize,
}

fn summary(catalogue: &PriceCatalogue, local: &Path, json: bool) -> anyhow::Result<()> {
    let layers: Vec<LayerInfo> = catalogue
        .layers()
        .iter()
        .map(|l| LayerInfo {
            kind: l.kind,
            path: l.path.as_ref().map(|p| p.display().to_string()),
            as_of: l.as_of.clone(),
            sources: l.sources.iter().cloned().collect(),
            models: l.models,
            retained: l.retained,
        })
        .collect();
    if json {
        return emit_json(&serde_json::json!({
            "models": catalogue.len(),
            "layers": layers,
        }));
    }
    let mut out = String::new();
    for l in &layers {
        let title = match (&l.path, l.kind) {
            (Some(p), _) => format!("local catalogue {p}"),
            (None, "builtin") => "built-in catalogue".to_owned(),
            (None, kind) => kind.to_owned(),
        };
        out.push_str(&format!(
            "{title}: {} models as of {}",
            output::count(l.models as u64),
            l.as_of
        ));
        if l.retained > 0 {
            out.push_str(&format!(
                " ({} kept at their last price after upstream dropped them)",
                output::count(l.retained as u64)
            ));
        }
        out.push('\n');
        for (table, what) in &l.sources {
            out.push_str(&format!("  {table}: {what}\n"));
        }
    }
    if layers.len() == 1 {
        out.push_str(&format!(
            "no local catalogue at {} (`tokentrace prices update --from FILE` writes one)\n",
            local.display()
        ));
    }
    out.push_str(&format!(
        "{} models priced\n",
        output::count(catalogue.len() as u64)
    ));
    emit(&out)
}

fn update(args: &PricesUpdateArgs) -> anyhow::Result<()> {
    let catalogue = PriceCatalogue::update_local(&args.from, &args.catalogue.catalogue)?;
    let layer = catalogue
        .layers()
        .last()
        .context("the local catalogue was not loaded")?;
    let table = layer.sources.first().map_or("", |(t, _)| t.as_str());
    if args.json {
        return emit_json(&serde_json::json!({
            "path": args.catalogue.catalogue.display().to_string(),
            "table": table,
            "from": args.from.display().to_string(),
            "as_of": layer.as_of,
            "models": layer.models,
            "total": catalogue.len(),
        }));
    }
    emit(&format!(
        "wrote {}: {} models from {} ({table}) as of {}; {} models priced with the built-in ones\n",
        args.catalogue.catalogue.display(),
        output::count(layer.models as u64),
        args.from.display(),
        layer.as_of,
        output::count(catalogue.len() as u64),
    ))
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
        local: m.local,
        retained_from: m.retained.map(str::to_owned),
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
        max_output_tokens: m.max_output_tokens,
    }
}

fn lookup(
    catalogue: &PriceCatalogue,
    model: &str,
    provider: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let parsed = parse_provider(provider)?;
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
            "{} ({}, {}{}{}{})",
            info.matched_key,
            info.matched_provider.as_deref().unwrap_or("any provider"),
            if info.local { "local " } else { "" },
            info.source,
            info.dataset
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default(),
            info.retained_from
                .as_deref()
                .map(|s| format!(", last price of {s}: no longer listed upstream"))
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
    if let Some(n) = info.max_output_tokens {
        kv(
            "max output",
            format!("{} tokens per call", output::count(n)),
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
    let catalogue = load(&args.catalogue.catalogue)?;
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
