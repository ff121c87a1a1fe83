//! Refreshing prices without a new release: a *local catalogue*.
//!
//! [`convert`] turns an upstream price table into tokentrace's catalogue
//! format (the shape of the built-in `catalogue.json`), recording where it
//! came from and when; [`write_local`] saves it, refusing to overwrite a file
//! tokentrace did not create; [`PriceCatalogue::with_local_file`](super::PriceCatalogue::with_local_file)
//! layers it over the built-in catalogue. Accepted inputs:
//!
//! * LiteLLM's `model_prices_and_context_window.json` (USD per token);
//! * pydantic genai-prices' JSON feed (`data.json`, a list of providers with
//!   `models`, USD per million tokens). Its Python package ships the same data
//!   as Python literals (`genai_prices/data.py`):
//!   `python3 tools/gen_prices.py --genai-json data.py > data.json` converts it;
//! * a tokentrace catalogue (the built-in format, or another local catalogue).
//!
//! The conversion rules are those of `tools/gen_prices.py` for one table
//! (see `docs/pricing.md`): text-token modes only, every rate in USD per
//! million tokens, long-context tiers kept, implausible rates dropped,
//! genai-prices' time-constrained price sets resolved at the update date.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::PriceError;
use crate::civil;

/// The file name of the local catalogue next to the default store
/// (`.tokentrace/traces.db`): `.tokentrace/prices.json`.
pub const DEFAULT_LOCAL_CATALOGUE: &str = ".tokentrace/prices.json";

/// The `generator` value that marks a file as a tokentrace local catalogue;
/// [`write_local`] overwrites only files that carry it.
pub const LOCAL_GENERATOR: &str = "tokentrace prices update";

/// The upstream table a file was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableFormat {
    /// LiteLLM `model_prices_and_context_window.json`.
    LiteLlm,
    /// pydantic genai-prices JSON feed.
    GenaiPrices,
    /// A tokentrace catalogue (built-in format).
    Tokentrace,
}

impl TableFormat {
    /// `litellm`, `genai-prices` or `tokentrace`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::LiteLlm => "litellm",
            Self::GenaiPrices => "genai-prices",
            Self::Tokentrace => "tokentrace",
        }
    }
}

/// What [`convert`] produced.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The recognised input format.
    pub format: TableFormat,
    /// Models priced.
    pub models: usize,
    /// The catalogue, as JSON text (one model per line).
    pub json: String,
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil::civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

fn bad(message: impl Into<String>) -> PriceError {
    PriceError::Table {
        path: None,
        message: message.into(),
    }
}

/// Converts `text` (any accepted format) into a local catalogue. `source`
/// names the input (a file name, a URL) and is recorded with `date`
/// (`YYYY-MM-DD`), which is also the date genai-prices' time-constrained
/// prices are resolved at.
///
/// # Errors
///
/// [`PriceError::Table`] when the text is not JSON, is none of the accepted
/// formats, or prices no model.
pub fn convert(text: &str, source: &str, date: &str) -> Result<Converted, PriceError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not a JSON price table: {e}")))?;
    let (format, entries) = match &value {
        Value::Object(o) if o.contains_key("models") && o.contains_key("format") => {
            (TableFormat::Tokentrace, tokentrace_entries(o)?)
        }
        Value::Object(o) => (TableFormat::LiteLlm, litellm_entries(o)),
        Value::Array(providers) => (TableFormat::GenaiPrices, genai_entries(providers, date)),
        _ => {
            return Err(bad(
                "neither a LiteLLM, a genai-prices nor a tokentrace price table",
            ));
        }
    };
    let entries: BTreeMap<(String, String), Value> = entries
        .into_iter()
        .filter(sane)
        .map(|e| {
            let key = (
                e["model"].as_str().unwrap_or_default().to_owned(),
                e["provider"].as_str().unwrap_or_default().to_owned(),
            );
            (key, e)
        })
        .collect();
    if entries.is_empty() {
        return Err(bad(format!(
            "read as a {} table, but it prices no text model",
            format.name()
        )));
    }
    let meta = json!({
        "as_of": date,
        "counts": {"current": entries.len(), "retained": 0},
        "format": 1,
        "generator": LOCAL_GENERATOR,
        "sources": {format.name(): source},
        "units": "USD per million tokens",
    });
    let mut out = String::from("{\n");
    for (k, v) in meta.as_object().expect("object literal") {
        out.push_str(&format!("{}:{},\n", Value::from(k.as_str()), v));
    }
    out.push_str("\"models\":[\n");
    let body: Vec<String> = entries.values().map(Value::to_string).collect();
    out.push_str(&body.join(",\n"));
    out.push_str("\n]}\n");
    Ok(Converted {
        format,
        models: entries.len(),
        json: out,
    })
}

/// Writes a converted catalogue to `path` (creating its folder), through a
/// temporary file renamed into place.
///
/// # Errors
///
/// [`PriceError::NotOurs`] when `path` exists and is not a local catalogue
/// tokentrace wrote (it is left untouched); [`PriceError::Io`] on I/O errors.
pub fn write_local(path: &Path, json: &str) -> Result<(), PriceError> {
    let io = |source| PriceError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            if !is_local_catalogue(&bytes) {
                return Err(PriceError::NotOurs {
                    path: path.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(json.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        // Only a file this call created is removed.
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(io(e));
    }
    Ok(())
}

/// True when `bytes` is a catalogue written by [`write_local`].
pub fn is_local_catalogue(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("generator")?.as_str().map(|g| g == LOCAL_GENERATOR))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Tokentrace's own format
// ---------------------------------------------------------------------------

fn tokentrace_entries(o: &Map<String, Value>) -> Result<Vec<Value>, PriceError> {
    let models = o["models"]
        .as_array()
        .ok_or_else(|| bad("`models` is not a list"))?;
    Ok(models
        .iter()
        .filter(|m| m["model"].is_string() && m["provider"].is_string() && m["input"].is_number())
        .cloned()
        .map(|mut m| {
            // An output limit that is not a positive whole number is dropped
            // rather than making the whole catalogue unreadable.
            if let Some(o) = m.as_object_mut()
                && o.get("max_out")
                    .is_some_and(|v| v.as_u64().is_none_or(|n| n == 0))
            {
                o.remove("max_out");
            }
            m
        })
        .collect())
}

// ---------------------------------------------------------------------------
// LiteLLM
// ---------------------------------------------------------------------------

const KEPT_MODES: &[&str] = &["chat", "completion", "responses", "embedding", "rerank"];

/// LiteLLM per-token fields → catalogue rate names.
const LITELLM_FIELDS: &[(&str, &str)] = &[
    ("input_cost_per_token", "input"),
    ("output_cost_per_token", "output"),
    ("cache_read_input_token_cost", "cache_read"),
    ("cache_creation_input_token_cost", "cache_write"),
    (
        "cache_creation_input_token_cost_above_1hr",
        "cache_write_1h",
    ),
    ("output_cost_per_reasoning_token", "reasoning"),
];

const RATE_FIELDS: &[&str] = &[
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning",
];

fn litellm_provider(raw: &str) -> String {
    if raw.starts_with("vertex_ai") {
        return "vertex_ai".into();
    }
    let slug = match raw {
        "openai" | "text-completion-openai" => "openai",
        "azure" | "azure_text" => "azure",
        "anthropic" => "anthropic",
        "gemini" => "gemini",
        "cohere" | "cohere_chat" => "cohere",
        "mistral" | "codestral" | "text-completion-codestral" => "mistral",
        "groq" => "groq",
        "together_ai" => "together",
        "deepseek" => "deepseek",
        "openrouter" => "openrouter",
        "xai" => "xai",
        "fireworks_ai" | "fireworks_ai-embedding-models" => "fireworks",
        "cerebras" => "cerebras",
        "ollama" | "ollama_chat" => "ollama",
        "bedrock" | "bedrock_converse" => "bedrock",
        other => other,
    };
    slug.to_owned()
}

/// USD per token → USD per million tokens, rounded to drop binary noise.
fn per_mtok(per_token: f64) -> f64 {
    let v = per_token * 1_000_000.0;
    (v * 1e9).round() / 1e9
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// `<field>_above_<N>k_tokens` → (rate name, threshold).
fn tier_field(field: &str) -> Option<(&'static str, u64)> {
    let rest = field.strip_suffix("k_tokens")?;
    let (base, n) = rest.rsplit_once("_above_")?;
    let n: u64 = n.parse().ok()?;
    LITELLM_FIELDS
        .iter()
        .find(|(f, _)| *f == base)
        .map(|(_, name)| (*name, n * 1000))
}

/// A generating model's output-token limit: LiteLLM's `max_output_tokens`,
/// a positive whole number. The legacy `max_tokens` is not used: LiteLLM
/// documents it as the output limit or, failing that, the input limit.
fn litellm_max_output(mode: &str, spec: &Map<String, Value>) -> Option<u64> {
    if !matches!(mode, "chat" | "completion" | "responses") {
        return None;
    }
    let v = spec.get("max_output_tokens")?;
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 1e15)
                .map(|f| f as u64)
        })
        .filter(|&n| n > 0)
}

fn litellm_entries(table: &Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, spec) in table {
        let Some(spec) = spec.as_object() else {
            continue;
        };
        let Some(raw) = spec.get("litellm_provider").and_then(Value::as_str) else {
            continue;
        };
        let mode = spec.get("mode").and_then(Value::as_str).unwrap_or("");
        if key == "sample_spec" || !KEPT_MODES.contains(&mode) {
            continue;
        }
        let mut rates = Map::new();
        for (field, name) in LITELLM_FIELDS {
            if let Some(v) = number(spec.get(*field)) {
                rates.insert((*name).into(), per_mtok(v).into());
            }
        }
        let mut tiers: BTreeMap<u64, Map<String, Value>> = BTreeMap::new();
        for (field, value) in spec {
            if let (Some((name, above)), Some(v)) = (tier_field(field), value.as_f64()) {
                tiers
                    .entry(above)
                    .or_default()
                    .insert(name.into(), per_mtok(v).into());
            }
        }
        for band in spec
            .get("tiered_pricing")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(start) = band
                .get("range")
                .and_then(|r| r.get(0))
                .and_then(Value::as_f64)
            else {
                continue;
            };
            let t = tiers.entry(start as u64).or_default();
            for (field, name) in LITELLM_FIELDS {
                if let Some(v) = number(band.get(*field)) {
                    t.insert((*name).into(), per_mtok(v).into());
                }
            }
        }
        if let Some(from_zero) = tiers.remove(&0) {
            for (k, v) in from_zero {
                rates.entry(k).or_insert(v);
            }
        }
        if !rates.contains_key("input") {
            continue; // priced per character / query / second only
        }
        rates.entry("output").or_insert(0.0.into());
        let tiers: Vec<Value> = tiers
            .into_iter()
            .map(|(above, mut t)| {
                t.entry("input").or_insert(rates["input"].clone());
                t.entry("output").or_insert(rates["output"].clone());
                t.insert("above".into(), above.into());
                Value::Object(t)
            })
            .collect();
        let mut entry = rates;
        entry.insert("model".into(), key.as_str().into());
        entry.insert("provider".into(), litellm_provider(raw).into());
        entry.insert("source".into(), "litellm".into());
        if !tiers.is_empty() {
            entry.insert("tiers".into(), tiers.into());
        }
        if let Some(limit) = litellm_max_output(mode, spec) {
            entry.insert("max_out".into(), limit.into());
        }
        out.push(Value::Object(entry));
    }
    out
}

// ---------------------------------------------------------------------------
// genai-prices
// ---------------------------------------------------------------------------

/// Rate names → genai-prices fields, first present wins.
const GENAI_FIELDS: &[(&str, &[&str])] = &[
    ("input", &["input_mtok", "input_text_mtok"]),
    ("output", &["output_mtok", "output_text_mtok"]),
    ("cache_read", &["cache_read_mtok", "cache_text_read_mtok"]),
    (
        "cache_write",
        &[
            "cache_write_mtok",
            "cache_write_5m_mtok",
            "cache_text_write_mtok",
        ],
    ),
    (
        "cache_write_1h",
        &["cache_write_1h_mtok", "cache_text_write_1h_mtok"],
    ),
    (
        "reasoning",
        &["output_reasoning_mtok", "output_text_reasoning_mtok"],
    ),
];

fn genai_provider(pid: &str, model: &str) -> String {
    match pid {
        "google" => {
            let lower = model.to_ascii_lowercase();
            if ["gemini", "gemma", "learnlm"]
                .iter()
                .any(|p| lower.starts_with(p))
            {
                "gemini"
            } else {
                "vertex_ai"
            }
        }
        "aws" => "bedrock",
        "x-ai" => "xai",
        "moonshotai" => "moonshot",
        "voyageai" => "voyage",
        other => other,
    }
    .to_owned()
}

/// Minutes since midnight of `HH:MM[:SS][Z]`.
fn minutes(t: &str) -> Option<i64> {
    let mut it = t.trim_end_matches('Z').split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    Some(h * 60 + m)
}

/// The price set active at `date`: the last unconstrained or started one;
/// a time-of-day set when its window covers most of the day.
fn genai_current<'a>(prices: &'a Value, date: &str) -> Option<&'a Map<String, Value>> {
    if let Some(p) = prices.as_object() {
        return Some(p);
    }
    let mut chosen = None;
    for item in prices.as_array()? {
        let Some(set) = item.get("prices").and_then(Value::as_object) else {
            continue;
        };
        match item.get("constraint") {
            None | Some(Value::Null) => chosen = Some(set),
            Some(c) => {
                if let Some(start) = c.get("start_date").and_then(Value::as_str) {
                    // ISO dates compare as strings.
                    if start <= date {
                        chosen = Some(set);
                    }
                } else if let (Some(s), Some(e)) = (
                    c.get("start_time")
                        .and_then(Value::as_str)
                        .and_then(minutes),
                    c.get("end_time").and_then(Value::as_str).and_then(minutes),
                ) && (e - s).rem_euclid(24 * 60) > 12 * 60
                {
                    chosen = Some(set);
                }
            }
        }
    }
    chosen
}

fn genai_rates(prices: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut base = Map::new();
    let mut tiered: BTreeMap<&str, Vec<(u64, f64)>> = BTreeMap::new();
    for (name, fields) in GENAI_FIELDS {
        let Some(value) = fields
            .iter()
            .find_map(|f| prices.get(*f).filter(|v| !v.is_null()))
        else {
            continue;
        };
        if let Some(t) = value.as_object() {
            base.insert((*name).into(), number(t.get("base"))?.into());
            let mut steps: Vec<(u64, f64)> = t
                .get("tiers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| Some((s.get("start")?.as_u64()?, s.get("price")?.as_f64()?)))
                .collect();
            steps.sort_by_key(|s| s.0);
            tiered.insert(name, steps);
        } else if let Some(v) = value.as_f64() {
            base.insert((*name).into(), v.into());
        }
    }
    if !base.contains_key("input") {
        return None;
    }
    base.entry("output").or_insert(0.0.into());
    let mut thresholds: Vec<u64> = tiered.values().flatten().map(|(s, _)| *s).collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    let tiers: Vec<Value> = thresholds
        .into_iter()
        .map(|above| {
            let mut tier = Map::new();
            tier.insert("above".into(), above.into());
            for name in RATE_FIELDS {
                let mut rate = base.get(*name).and_then(Value::as_f64);
                for (start, price) in tiered.get(name).into_iter().flatten() {
                    if *start <= above {
                        rate = Some(*price);
                    }
                }
                if let Some(rate) = rate
                    && (tiered.contains_key(name) || matches!(*name, "input" | "output"))
                {
                    tier.insert((*name).into(), rate.into());
                }
            }
            Value::Object(tier)
        })
        .collect();
    if !tiers.is_empty() {
        base.insert("tiers".into(), tiers.into());
    }
    Some(base)
}

/// `equals` values reachable through `or` clauses of a match rule.
fn match_aliases(m: &Value, out: &mut Vec<String>) {
    if let Some(s) = m.get("equals").and_then(Value::as_str) {
        out.push(s.to_owned());
    } else if let Some(clauses) = m.get("or").and_then(Value::as_array) {
        for c in clauses {
            match_aliases(c, out);
        }
    }
}

fn genai_entries(providers: &[Value], date: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for provider in providers {
        let Some(pid) = provider.get("id").and_then(Value::as_str) else {
            continue;
        };
        for model in provider
            .get("models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = model.get("id").and_then(Value::as_str) else {
                continue;
            };
            let Some(rates) = model
                .get("prices")
                .and_then(|p| genai_current(p, date))
                .and_then(genai_rates)
            else {
                continue;
            };
            let slug = genai_provider(pid, id);
            let mut names = vec![id.to_owned()];
            if let Some(m) = model.get("match") {
                match_aliases(m, &mut names);
            }
            let mut seen: Vec<String> = Vec::new();
            for name in names {
                let folded = name.to_ascii_lowercase();
                if seen.contains(&folded) {
                    continue;
                }
                seen.push(folded);
                let mut entry = rates.clone();
                entry.insert("model".into(), name.into());
                entry.insert("provider".into(), slug.clone().into());
                entry.insert("source".into(), "genai-prices".into());
                out.push(Value::Object(entry));
            }
        }
    }
    out
}

/// No text model costs this much; above it an upstream figure is in the wrong unit.
const MAX_RATE_PER_MTOK: f64 = 1000.0;

fn sane(entry: &Value) -> bool {
    let ok = |rates: &Value| {
        RATE_FIELDS.iter().all(|name| match rates.get(*name) {
            None | Some(Value::Null) => true,
            Some(v) => v
                .as_f64()
                .is_some_and(|v| (0.0..MAX_RATE_PER_MTOK).contains(&v)),
        })
    };
    ok(entry)
        && entry
            .get("tiers")
            .and_then(Value::as_array)
            .is_none_or(|t| t.iter().all(ok))
}
