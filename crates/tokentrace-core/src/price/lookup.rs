//! Model-name normalisation rules for catalogue lookups.
//!
//! Each rule is a small function from one name to the names it suggests.
//! [`stages`] composes them in order: a rule applies to the caller's model and
//! to every name the earlier rules produced, so `models/gemini-2.5-pro-001`
//! reaches `gemini-2.5-pro`, and an ARN reaches a region-free Bedrock id.

use crate::provider::Provider;

/// LiteLLM-style key prefixes for a provider (`azure/gpt-4o`).
pub(crate) fn provider_prefixes(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::OpenAi => &["openai/"],
        Provider::AzureOpenAi => &["azure/", "azure_ai/"],
        Provider::Anthropic => &["anthropic/"],
        Provider::Gemini => &["gemini/"],
        Provider::VertexAi => &["vertex_ai/"],
        Provider::Cohere => &["cohere/", "cohere_chat/"],
        Provider::Mistral => &["mistral/"],
        Provider::Groq => &["groq/"],
        Provider::Together => &["together_ai/"],
        Provider::DeepSeek => &["deepseek/"],
        Provider::OpenRouter => &["openrouter/"],
        Provider::XAi => &["xai/"],
        Provider::Moonshot => &["moonshot/"],
        Provider::Fireworks => &["fireworks_ai/", "fireworks_ai/accounts/fireworks/models/"],
        Provider::Cerebras => &["cerebras/"],
        Provider::Ollama => &["ollama/", "ollama_chat/"],
        Provider::Bedrock => &["bedrock/", "bedrock_converse/"],
        _ => &[],
    }
}

/// With no caller provider, model vendors' own APIs are tried before the
/// clouds and hosts that resell their models.
const NO_PROVIDER_ORDER: &[Provider] = &[
    Provider::OpenAi,
    Provider::Anthropic,
    Provider::Gemini,
    Provider::Mistral,
    Provider::Cohere,
    Provider::DeepSeek,
    Provider::XAi,
    Provider::Moonshot,
    Provider::AzureOpenAi,
    Provider::VertexAi,
    Provider::Bedrock,
    Provider::Groq,
    Provider::Together,
    Provider::Fireworks,
    Provider::Cerebras,
    Provider::OpenRouter,
    Provider::Ollama,
];

/// `<provider-prefix>/<model>`: the caller's provider first; with no provider,
/// every known prefix. A model that already carries the prefix is left alone.
pub(crate) fn with_provider_prefix(model: &str, provider: Option<Provider>) -> Vec<String> {
    let providers: &[Provider] = match &provider {
        Some(p) => std::slice::from_ref(p),
        None => NO_PROVIDER_ORDER,
    };
    providers
        .iter()
        .flat_map(|p| provider_prefixes(*p))
        .filter(|prefix| !model.starts_with(*prefix))
        .map(|prefix| format!("{prefix}{model}"))
        .collect()
}

/// Gemini's `models/…` (and Vertex's `publishers/google/models/…`) resource names.
pub(crate) fn strip_models_prefix(model: &str) -> Vec<String> {
    if let Some(idx) = model.rfind("models/") {
        let (head, rest) = model.split_at(idx + "models/".len());
        let head = &head[..idx];
        if !rest.is_empty() && (head.is_empty() || head.ends_with('/')) {
            return vec![rest.to_owned()];
        }
    }
    Vec::new()
}

/// `vendor/model` slugs (OpenRouter's `openai/gpt-4o`, Together's
/// `meta-llama/…`): each shorter remainder after a `/`.
pub(crate) fn strip_vendor_prefix(model: &str) -> Vec<String> {
    model
        .match_indices('/')
        .map(|(i, _)| &model[i + 1..])
        .filter(|rest| !rest.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Percent-decoding of a Bedrock model id taken from a URL path
/// (`anthropic.claude-3-5-haiku-20241022-v1%3A0`).
pub(crate) fn url_decode(model: &str) -> Vec<String> {
    if !model.contains('%') {
        return Vec::new();
    }
    let bytes = model.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map(|s| vec![s]).unwrap_or_default()
}

/// Bedrock ARNs (`arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic…`,
/// `…:foundation-model/anthropic…`): the last path segment.
pub(crate) fn bedrock_arn(model: &str) -> Vec<String> {
    if !model.starts_with("arn:") {
        return Vec::new();
    }
    match model.rsplit_once('/') {
        Some((_, last)) if !last.is_empty() => vec![last.to_owned()],
        _ => Vec::new(),
    }
}

/// Bedrock cross-region inference-profile prefixes.
const BEDROCK_REGIONS: &[&str] = &[
    "us.", "eu.", "apac.", "jp.", "au.", "ca.", "global.", "us-gov.",
];

/// `us.anthropic.claude…` → `anthropic.claude…`.
pub(crate) fn strip_bedrock_region(model: &str) -> Vec<String> {
    BEDROCK_REGIONS
        .iter()
        .filter_map(|r| model.strip_prefix(r))
        .filter(|rest| rest.contains('.'))
        .map(str::to_owned)
        .collect()
}

/// Vertex's `claude-3-5-haiku@20241022` ↔ `claude-3-5-haiku-20241022`.
pub(crate) fn vertex_version(model: &str) -> Vec<String> {
    if let Some((name, version)) = model.rsplit_once('@') {
        if name.is_empty() {
            return Vec::new();
        }
        if version.is_empty() || version == "latest" || version == "default" {
            return vec![name.to_owned()];
        }
        return vec![format!("{name}-{version}")];
    }
    match model.rsplit_once('-') {
        Some((name, date)) if date.len() == 8 && all_digits(date) => vec![format!("{name}@{date}")],
        _ => Vec::new(),
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Dated snapshots and moving aliases → the undated alias:
/// `-2024-08-06`, `-20241022`, `-0125`, `-latest`, Ollama's `:latest`, and
/// Bedrock's `-v1:0` version suffix.
pub(crate) fn strip_snapshot(model: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rest) = strip_bedrock_version(model) {
        out.push(rest.to_owned());
    }
    let base = out.last().map_or(model, String::as_str).to_owned();
    for suffix in ["-latest", ":latest"] {
        if let Some(rest) = base.strip_suffix(suffix) {
            out.push(rest.to_owned());
        }
    }
    if let Some(rest) = strip_date(&base) {
        out.push(rest.to_owned());
        // A snapshot the catalogue lost (`claude-3-5-haiku-20241022`) is
        // priced like its family's moving alias (`claude-3-5-haiku-latest`).
        if !rest.is_empty() {
            out.push(format!("{rest}-latest"));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// `-v1:0`, `-v2:0` (and a trailing `:200k`-style qualifier).
fn strip_bedrock_version(model: &str) -> Option<&str> {
    let idx = model.rfind("-v")?;
    let mut parts = model[idx + 2..].split(':');
    let major = parts.next()?;
    let minor = parts.next()?;
    let qualifier_ok = parts.next().is_none_or(|q| !q.is_empty()) && parts.next().is_none();
    (all_digits(major) && all_digits(minor) && qualifier_ok && idx > 0).then(|| &model[..idx])
}

/// `-YYYY-MM-DD`, `-YYYYMMDD`, or a 4-digit `-MMDD`/`-YYMM` suffix.
fn strip_date(model: &str) -> Option<&str> {
    let b = model.as_bytes();
    let n = b.len();
    // -YYYY-MM-DD
    if n > 11 {
        let tail = &model[n - 11..];
        let t = tail.as_bytes();
        if t[0] == b'-'
            && t[5] == b'-'
            && t[8] == b'-'
            && all_digits(&tail[1..5])
            && all_digits(&tail[6..8])
            && all_digits(&tail[9..11])
        {
            return Some(&model[..n - 11]);
        }
    }
    let (name, last) = model.rsplit_once('-')?;
    if !name.is_empty() && (last.len() == 8 || last.len() == 4) && all_digits(last) {
        return Some(name);
    }
    None
}

/// Gemini suffixes: `-001`-style versions and `-preview-MM-DD` dates
/// (`gemini-2.5-pro-preview-05-06` → `gemini-2.5-pro-preview`, `gemini-2.5-pro`).
pub(crate) fn strip_gemini_suffix(model: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((name, last)) = model.rsplit_once('-')
        && last.len() == 3
        && all_digits(last)
        && !name.is_empty()
    {
        out.push(name.to_owned());
    }
    if let Some(idx) = model.rfind("-preview") {
        let tail = &model[idx + "-preview".len()..];
        let dated = tail
            .strip_prefix('-')
            .is_some_and(|t| t.split('-').all(all_digits));
        if dated {
            out.push(model[..idx + "-preview".len()].to_owned());
        }
        if tail.is_empty() || dated {
            out.push(model[..idx].to_owned());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// One lookup stage: candidate names tried together, and whether they must
/// match a key exactly (only the caller's own string does).
#[derive(Debug)]
pub(crate) struct Stage {
    pub(crate) exact: bool,
    pub(crate) names: Vec<String>,
}

/// The lookup stages for `model`, in priority order, without repeats:
/// exact key; case-insensitive; provider prefix; `models/` and `vendor/`
/// stripping; Bedrock (URL-decoding, ARN, region); Vertex `@version`; dated
/// snapshots; Gemini suffixes. Every name a rule produces is also tried with
/// the provider prefix, so `models/gemini-2.5-pro` finds `gemini/gemini-2.5-pro`.
pub(crate) fn stages(model: &str, provider: Option<Provider>) -> Vec<Stage> {
    type Rule = fn(&str) -> Vec<String>;
    let rules: [&[Rule]; 5] = [
        &[strip_models_prefix, strip_vendor_prefix],
        &[url_decode, bedrock_arn, strip_bedrock_region],
        &[vertex_version],
        &[strip_snapshot],
        &[strip_gemini_suffix],
    ];
    let lower = model.to_ascii_lowercase();
    let mut seen: Vec<String> = vec![lower.clone()];
    let mut bases: Vec<String> = vec![lower.clone()];
    let mut out = vec![
        Stage {
            exact: true,
            names: vec![model.to_owned()],
        },
        Stage {
            exact: false,
            names: vec![lower.clone()],
        },
    ];
    let push_new = |names: Vec<String>, seen: &mut Vec<String>| -> Vec<String> {
        let mut fresh = Vec::new();
        for n in names {
            if !seen.contains(&n) {
                seen.push(n.clone());
                fresh.push(n);
            }
        }
        fresh
    };
    let prefixed = with_provider_prefix(&lower, provider);
    out.push(Stage {
        exact: false,
        names: push_new(prefixed, &mut seen),
    });
    for group in rules {
        // Apply the group's rules repeatedly to everything known so far, so an
        // ARN's last segment also loses its region prefix in the same stage.
        let mut derived = Vec::new();
        let mut frontier = bases.clone();
        for _ in 0..3 {
            let mut next = Vec::new();
            for name in &frontier {
                for rule in group {
                    for n in rule(name) {
                        if !bases.contains(&n) && !derived.contains(&n) && !next.contains(&n) {
                            next.push(n);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            derived.extend(next.iter().cloned());
            frontier = next;
        }
        let mut names = Vec::new();
        for d in &derived {
            names.push(d.clone());
            names.extend(with_provider_prefix(d, provider));
        }
        bases.extend(derived);
        out.push(Stage {
            exact: false,
            names: push_new(names, &mut seen),
        });
    }
    out.retain(|s| !s.names.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn provider_prefix() {
        assert_eq!(
            with_provider_prefix("gpt-4o", Some(Provider::AzureOpenAi)),
            v(&["azure/gpt-4o", "azure_ai/gpt-4o"])
        );
        assert_eq!(
            with_provider_prefix("llama-v3p1-8b-instruct", Some(Provider::Fireworks)),
            v(&[
                "fireworks_ai/llama-v3p1-8b-instruct",
                "fireworks_ai/accounts/fireworks/models/llama-v3p1-8b-instruct"
            ])
        );
        assert_eq!(
            with_provider_prefix("accounts/fireworks/models/x", Some(Provider::Fireworks))[0],
            "fireworks_ai/accounts/fireworks/models/x"
        );
        assert!(with_provider_prefix("gemini/x", Some(Provider::Gemini)).is_empty());
        assert!(with_provider_prefix("x", Some(Provider::OpenAiCompatible)).is_empty());
        let all = with_provider_prefix("m", None);
        assert!(all.contains(&"mistral/m".to_owned()) && all.contains(&"xai/m".to_owned()));
        // Vendors' own APIs before resellers.
        let pos = |p: &str| all.iter().position(|n| n == p).expect("present");
        assert_eq!(pos("openai/m"), 0);
        assert!(pos("mistral/m") < pos("azure/m"));
    }

    #[test]
    fn models_prefix() {
        assert_eq!(
            strip_models_prefix("models/gemini-2.5-pro"),
            v(&["gemini-2.5-pro"])
        );
        assert_eq!(
            strip_models_prefix("publishers/google/models/gemini-2.0-flash"),
            v(&["gemini-2.0-flash"])
        );
        assert!(strip_models_prefix("gemini-2.5-pro").is_empty());
        assert!(strip_models_prefix("foomodels/x").is_empty());
    }

    #[test]
    fn vendor_prefix() {
        assert_eq!(strip_vendor_prefix("openai/gpt-4o"), v(&["gpt-4o"]));
        assert_eq!(
            strip_vendor_prefix("together_ai/meta-llama/Llama-3"),
            v(&["meta-llama/Llama-3", "Llama-3"])
        );
        assert!(strip_vendor_prefix("gpt-4o").is_empty());
    }

    #[test]
    fn bedrock_rules() {
        assert_eq!(
            url_decode("anthropic.claude-3-5-haiku-20241022-v1%3A0"),
            v(&["anthropic.claude-3-5-haiku-20241022-v1:0"])
        );
        assert!(url_decode("plain").is_empty());
        assert_eq!(url_decode("a%2Fb%zz"), v(&["a/b%zz"]));
        assert_eq!(
            bedrock_arn(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
            ),
            v(&["us.anthropic.claude-sonnet-4-5-20250929-v1:0"])
        );
        assert!(bedrock_arn("us.anthropic.x").is_empty());
        for region in ["us", "eu", "apac", "jp", "global", "us-gov"] {
            assert_eq!(
                strip_bedrock_region(&format!("{region}.amazon.nova-lite-v1:0")),
                v(&["amazon.nova-lite-v1:0"]),
                "{region}"
            );
        }
        assert!(strip_bedrock_region("us.nothing").is_empty());
    }

    #[test]
    fn vertex_at_version() {
        assert_eq!(
            vertex_version("claude-3-5-haiku@20241022"),
            v(&["claude-3-5-haiku-20241022"])
        );
        assert_eq!(
            vertex_version("claude-3-5-haiku-20241022"),
            v(&["claude-3-5-haiku@20241022"])
        );
        assert_eq!(
            vertex_version("claude-opus-4@latest"),
            v(&["claude-opus-4"])
        );
        assert!(vertex_version("gpt-4o").is_empty());
    }

    #[test]
    fn snapshots() {
        assert_eq!(
            strip_snapshot("gpt-4o-mini-2024-07-18"),
            v(&["gpt-4o-mini", "gpt-4o-mini-latest"])
        );
        assert_eq!(
            strip_snapshot("claude-3-5-haiku-20241022"),
            v(&["claude-3-5-haiku", "claude-3-5-haiku-latest"])
        );
        assert_eq!(
            strip_snapshot("gpt-3.5-turbo-0125"),
            v(&["gpt-3.5-turbo", "gpt-3.5-turbo-latest"])
        );
        assert_eq!(
            strip_snapshot("mistral-large-latest"),
            v(&["mistral-large"])
        );
        assert_eq!(strip_snapshot("llama3.2:latest"), v(&["llama3.2"]));
        assert_eq!(
            strip_snapshot("anthropic.claude-3-5-haiku-20241022-v1:0"),
            v(&[
                "anthropic.claude-3-5-haiku-20241022",
                "anthropic.claude-3-5-haiku",
                "anthropic.claude-3-5-haiku-latest"
            ])
        );
        assert_eq!(
            strip_snapshot("amazon.titan-embed-text-v2:0"),
            v(&["amazon.titan-embed-text"])
        );
        assert!(strip_snapshot("gpt-4o").is_empty());
        assert!(strip_snapshot("llama-3.1-8b").is_empty());
    }

    #[test]
    fn gemini_suffixes() {
        assert_eq!(
            strip_gemini_suffix("gemini-2.0-flash-001"),
            v(&["gemini-2.0-flash"])
        );
        assert_eq!(
            strip_gemini_suffix("gemini-2.5-pro-preview-05-06"),
            v(&["gemini-2.5-pro-preview", "gemini-2.5-pro"])
        );
        assert_eq!(
            strip_gemini_suffix("gemini-2.5-flash-preview"),
            v(&["gemini-2.5-flash"])
        );
        assert!(strip_gemini_suffix("gemini-2.5-pro").is_empty());
    }

    #[test]
    fn stages_compose_rules() {
        let st = stages(
            "models/gemini-2.5-pro-preview-05-06",
            Some(Provider::Gemini),
        );
        assert!(st[0].exact && st[0].names == v(&["models/gemini-2.5-pro-preview-05-06"]));
        let all: Vec<&String> = st.iter().flat_map(|s| &s.names).collect();
        assert!(all.iter().any(|n| *n == "gemini/gemini-2.5-pro"));
        let st = stages(
            "arn:aws:bedrock:eu-west-1:1:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            Some(Provider::Bedrock),
        );
        let all: Vec<&String> = st.iter().flat_map(|s| &s.names).collect();
        assert!(
            all.iter()
                .any(|n| *n == "anthropic.claude-3-haiku-20240307-v1:0")
        );
        // after the exact stage, no name is tried twice
        let rest: Vec<&String> = st[1..].iter().flat_map(|s| &s.names).collect();
        let mut sorted = rest.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), rest.len());
    }
}
