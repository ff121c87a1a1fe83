//! The catalogue: its entries, their indexes and how a model name is
//! looked up and priced.

use std::collections::HashMap;

use super::cost::{Cost, compute_cost};
use super::entry::{CatalogueInfo, Entry, PriceMatch, PriceSource};
use super::lookup;
use crate::provider::Provider;
use crate::usage::Usage;

/// Model prices, looked up by the model name a provider reports.
///
/// [`builtin`](Self::builtin) is a process-wide `&'static` value; a catalogue
/// with overrides is built once at start-up and shared behind an `Arc`.
#[derive(Clone)]
pub struct PriceCatalogue {
    pub(super) entries: Vec<Entry>,
    /// Exact key → entry indices (sorted by provider, overrides first).
    pub(super) exact: HashMap<String, Vec<usize>>,
    /// ASCII-lowercased key → entry indices.
    pub(super) folded: HashMap<String, Vec<usize>>,
    /// The built-in layer, then the local one when loaded.
    pub(super) layers: Vec<CatalogueInfo>,
}

impl std::fmt::Debug for PriceCatalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let overrides = self
            .entries
            .iter()
            .filter(|e| e.source == PriceSource::Override)
            .count();
        f.debug_struct("PriceCatalogue")
            .field("entries", &self.entries.len())
            .field("overrides", &overrides)
            .finish_non_exhaustive()
    }
}

impl PriceCatalogue {
    pub(super) fn from_entries(entries: Vec<Entry>, layers: Vec<CatalogueInfo>) -> Self {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::with_capacity(entries.len());
        let mut folded: HashMap<String, Vec<usize>> = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            exact.entry(e.key.clone()).or_default().push(i);
            folded
                .entry(e.key.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        // Overrides first, then by provider name: the order ties are broken in.
        let order = |v: &mut Vec<usize>| {
            v.sort_by(|a, b| {
                let (a, b) = (&entries[*a], &entries[*b]);
                (a.source != PriceSource::Override, &a.provider, &a.key).cmp(&(
                    b.source != PriceSource::Override,
                    &b.provider,
                    &b.key,
                ))
            });
        };
        exact.values_mut().for_each(order);
        folded.values_mut().for_each(order);
        Self {
            entries,
            exact,
            folded,
            layers,
        }
    }

    /// Find the price entry for `model` as `provider` reported it (see the
    /// module docs for the rules). `None` when nothing matches.
    pub fn lookup(&self, provider: Option<Provider>, model: &str) -> Option<PriceMatch<'_>> {
        let model = model.trim();
        if model.is_empty() {
            return None;
        }
        // The common case, an exact key of the caller's provider, without
        // building the candidate list.
        let slug = provider.map(Provider::slug);
        if let Some(hit) = self.pick(self.exact.get(model), slug, slug.is_some()) {
            return Some(hit.as_match());
        }
        let stages = lookup::stages(model, provider);
        let passes: &[bool] = if slug.is_some() {
            &[true, false]
        } else {
            &[false]
        };
        for &same_provider in passes {
            for stage in &stages {
                let index = if stage.exact {
                    &self.exact
                } else {
                    &self.folded
                };
                for name in &stage.names {
                    if let Some(hit) = self.pick(index.get(name.as_str()), slug, same_provider) {
                        return Some(hit.as_match());
                    }
                }
            }
        }
        None
    }

    fn pick(
        &self,
        hits: Option<&Vec<usize>>,
        slug: Option<&str>,
        same_provider: bool,
    ) -> Option<&Entry> {
        let mut hits = hits?.iter().map(|&i| &self.entries[i]);
        if same_provider {
            // An override without a provider counts as the caller's.
            hits.find(|e| e.provider.is_none() || e.provider.as_deref() == slug)
        } else {
            hits.next()
        }
    }

    /// The cost of one call: [`lookup`](Self::lookup) then [`compute_cost`].
    /// `None` when the model is unknown or the usage has neither an input nor
    /// an output count — never a made-up `$0`.
    pub fn cost(&self, provider: Option<Provider>, model: &str, usage: &Usage) -> Option<Cost> {
        let m = self.lookup(provider, model)?;
        let breakdown = compute_cost(m.price, usage)?;
        Some(Cost::new(breakdown, m.key, m.provider, m.source))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the catalogue has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, built-in ones in (key, provider) order, then overrides.
    pub fn iter(&self) -> impl Iterator<Item = PriceMatch<'_>> {
        self.entries.iter().map(Entry::as_match)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: Option<Provider>, model: &str) -> Option<(String, Option<String>)> {
        PriceCatalogue::builtin()
            .lookup(p, model)
            .map(|m| (m.key.to_owned(), m.provider.map(str::to_owned)))
    }

    fn k(key: &str, provider: &str) -> Option<(String, Option<String>)> {
        Some((key.to_owned(), Some(provider.to_owned())))
    }
    #[test]
    fn rule_exact_key() {
        assert_eq!(
            key(Some(Provider::OpenAi), "gpt-4o-mini"),
            k("gpt-4o-mini", "openai")
        );
        assert_eq!(key(None, "gpt-4o-mini"), k("gpt-4o-mini", "openai"));
    }

    #[test]
    fn rule_case_insensitive() {
        assert_eq!(
            key(Some(Provider::OpenAi), "GPT-4o-Mini"),
            k("gpt-4o-mini", "openai")
        );
        // Upper-case catalogue keys match lower-case callers too.
        assert_eq!(
            key(Some(Provider::Together), "austism/chronos-hermes-13b"),
            k("Austism/chronos-hermes-13b", "together")
        );
    }

    #[test]
    fn rule_provider_prefix() {
        assert_eq!(
            key(Some(Provider::AzureOpenAi), "gpt-4o"),
            k("azure/gpt-4o", "azure")
        );
        assert_eq!(
            key(Some(Provider::Gemini), "gemini-2.5-pro"),
            k("gemini/gemini-2.5-pro", "gemini")
        );
        assert_eq!(
            key(Some(Provider::VertexAi), "gemini-2.5-pro"),
            k("gemini-2.5-pro", "vertex_ai")
        );
        assert_eq!(
            key(Some(Provider::Mistral), "mistral-large-latest"),
            k("mistral/mistral-large-latest", "mistral")
        );
        assert_eq!(
            key(Some(Provider::DeepSeek), "deepseek-chat"),
            k("deepseek-chat", "deepseek")
        );
        let fw = key(
            Some(Provider::Fireworks),
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
        )
        .expect("fireworks model");
        assert_eq!(fw.1.as_deref(), Some("fireworks"));
        assert!(
            fw.0.starts_with("fireworks_ai/accounts/fireworks/models/"),
            "{fw:?}"
        );
        // Without a provider, prefixed keys are still found.
        assert_eq!(
            key(None, "mistral-large-latest").map(|m| m.1),
            Some(Some("mistral".to_owned()))
        );
    }

    #[test]
    fn rule_models_and_vendor_prefix() {
        assert_eq!(
            key(Some(Provider::Gemini), "models/gemini-2.5-pro"),
            k("gemini/gemini-2.5-pro", "gemini")
        );
        assert_eq!(
            key(Some(Provider::OpenAi), "openai/gpt-4o-mini"),
            k("gpt-4o-mini", "openai")
        );
        // OpenRouter slugs hit OpenRouter's own entries first.
        assert_eq!(
            key(Some(Provider::OpenRouter), "deepseek/deepseek-chat"),
            k("deepseek/deepseek-chat", "openrouter")
        );
    }

    #[test]
    fn rule_bedrock() {
        let id = "anthropic.claude-3-5-haiku-20241022-v1:0";
        assert_eq!(key(Some(Provider::Bedrock), id), k(id, "bedrock"));
        assert_eq!(
            key(
                Some(Provider::Bedrock),
                "anthropic.claude-3-5-haiku-20241022-v1%3A0"
            ),
            k(id, "bedrock")
        );
        assert_eq!(
            key(
                Some(Provider::Bedrock),
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
            ),
            k("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock")
        );
        // A region prefix the catalogue lacks falls back to the in-region id.
        assert_eq!(
            key(
                Some(Provider::Bedrock),
                "ca.anthropic.claude-3-5-haiku-20241022-v1:0"
            ),
            k(id, "bedrock")
        );
    }

    #[test]
    fn rule_vertex_version() {
        assert_eq!(
            key(Some(Provider::VertexAi), "claude-3-5-haiku@20241022"),
            k("vertex_ai/claude-3-5-haiku@20241022", "vertex_ai")
        );
        // Anthropic's own id from a Vertex-style name.
        assert_eq!(
            key(Some(Provider::Anthropic), "claude-sonnet-4-5@20250929"),
            k("claude-sonnet-4-5-20250929", "anthropic")
        );
    }

    #[test]
    fn rule_dated_snapshot() {
        assert_eq!(
            key(Some(Provider::OpenAi), "gpt-4o-mini-2099-01-01"),
            k("gpt-4o-mini", "openai")
        );
        assert_eq!(
            key(Some(Provider::OpenAi), "o3-20991231"),
            k("o3", "openai")
        );
        assert_eq!(
            key(Some(Provider::OpenAi), "gpt-4o-mini-9999"),
            k("gpt-4o-mini", "openai")
        );
        assert_eq!(
            key(Some(Provider::OpenAi), "gpt-4o-mini-latest"),
            k("gpt-4o-mini", "openai")
        );
        // A dated key that exists is preferred over its alias.
        assert_eq!(
            key(Some(Provider::OpenAi), "gpt-4o-2024-05-13"),
            k("gpt-4o-2024-05-13", "openai")
        );
    }

    #[test]
    fn rule_gemini_suffix() {
        assert_eq!(
            key(Some(Provider::Gemini), "gemini-2.5-pro-001"),
            k("gemini/gemini-2.5-pro", "gemini")
        );
        assert_eq!(
            key(
                Some(Provider::Gemini),
                "models/gemini-2.5-pro-preview-99-99"
            ),
            k("gemini/gemini-2.5-pro", "gemini")
        );
    }

    #[test]
    fn unknown_and_empty() {
        assert!(
            PriceCatalogue::builtin()
                .lookup(None, "definitely-not-a-model-xyz")
                .is_none()
        );
        assert!(
            PriceCatalogue::builtin()
                .lookup(Some(Provider::OpenAi), "  ")
                .is_none()
        );
    }
}
