//! The user's `prices.toml`: additions to and replacements of catalogue prices.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Location, PriceError};
use super::{ModelPrice, PriceTier};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    models: BTreeMap<String, Spanned<Model>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Model {
    provider: Option<String>,
    input_per_mtok: Spanned<f64>,
    output_per_mtok: Spanned<f64>,
    cache_read_per_mtok: Option<Spanned<f64>>,
    cache_write_per_mtok: Option<Spanned<f64>>,
    cache_write_1h_per_mtok: Option<Spanned<f64>>,
    reasoning_per_mtok: Option<Spanned<f64>>,
    max_output_tokens: Option<u64>,
    #[serde(default)]
    tiers: Vec<Tier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tier {
    above_input_tokens: u64,
    input_per_mtok: Spanned<f64>,
    output_per_mtok: Spanned<f64>,
    cache_read_per_mtok: Option<Spanned<f64>>,
    cache_write_per_mtok: Option<Spanned<f64>>,
    cache_write_1h_per_mtok: Option<Spanned<f64>>,
    reasoning_per_mtok: Option<Spanned<f64>>,
}

/// One parsed override: the catalogue key, its optional provider and its price.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    pub(crate) key: String,
    pub(crate) provider: Option<String>,
    pub(crate) price: ModelPrice,
    pub(crate) max_output_tokens: Option<u64>,
}

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

struct Checker<'a> {
    src: &'a str,
    model: &'a str,
}

impl Checker<'_> {
    fn req(&self, field: &str, v: &Spanned<f64>) -> Result<f64, PriceError> {
        let value = *v.get_ref();
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(PriceError::InvalidPrice {
                location: Location {
                    path: None,
                    line: Some(line_of(self.src, v.span().start)),
                },
                model: self.model.to_owned(),
                field: field.to_owned(),
                value,
            })
        }
    }

    fn opt(&self, field: &str, v: Option<&Spanned<f64>>) -> Result<Option<f64>, PriceError> {
        v.map(|v| self.req(field, v)).transpose()
    }
}

/// Parse an override file. Provider names are normalised to
/// [`Provider::slug`](crate::Provider::slug) when they name a known provider.
pub(crate) fn parse(src: &str) -> Result<Vec<Override>, PriceError> {
    let file: File = toml::from_str(src).map_err(|e| PriceError::Toml {
        location: Location {
            path: None,
            line: e.span().map(|s| line_of(src, s.start)),
        },
        message: e.message().to_owned(),
    })?;
    let mut out = Vec::with_capacity(file.models.len());
    for (key, model) in &file.models {
        let m = model.get_ref();
        let c = Checker { src, model: key };
        let mut tiers = Vec::with_capacity(m.tiers.len());
        for (i, t) in m.tiers.iter().enumerate() {
            let f = |name: &str| format!("tiers[{i}].{name}");
            tiers.push(PriceTier {
                above_input_tokens: t.above_input_tokens,
                input_per_mtok: c.req(&f("input_per_mtok"), &t.input_per_mtok)?,
                output_per_mtok: c.req(&f("output_per_mtok"), &t.output_per_mtok)?,
                cache_read_per_mtok: c
                    .opt(&f("cache_read_per_mtok"), t.cache_read_per_mtok.as_ref())?,
                cache_write_per_mtok: c
                    .opt(&f("cache_write_per_mtok"), t.cache_write_per_mtok.as_ref())?,
                cache_write_1h_per_mtok: c.opt(
                    &f("cache_write_1h_per_mtok"),
                    t.cache_write_1h_per_mtok.as_ref(),
                )?,
                reasoning_per_mtok: c
                    .opt(&f("reasoning_per_mtok"), t.reasoning_per_mtok.as_ref())?,
            });
        }
        tiers.sort_by_key(|t| t.above_input_tokens);
        let provider = m.provider.as_deref().map(|p| {
            crate::Provider::from_name(p).map_or_else(|| p.to_owned(), |p| p.slug().to_owned())
        });
        out.push(Override {
            key: key.clone(),
            provider,
            price: ModelPrice {
                input_per_mtok: c.req("input_per_mtok", &m.input_per_mtok)?,
                output_per_mtok: c.req("output_per_mtok", &m.output_per_mtok)?,
                cache_read_per_mtok: c
                    .opt("cache_read_per_mtok", m.cache_read_per_mtok.as_ref())?,
                cache_write_per_mtok: c
                    .opt("cache_write_per_mtok", m.cache_write_per_mtok.as_ref())?,
                cache_write_1h_per_mtok: c.opt(
                    "cache_write_1h_per_mtok",
                    m.cache_write_1h_per_mtok.as_ref(),
                )?,
                reasoning_per_mtok: c.opt("reasoning_per_mtok", m.reasoning_per_mtok.as_ref())?,
                tiers,
            },
            max_output_tokens: m.max_output_tokens.filter(|&n| n > 0),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[models."my-finetune"]
provider = "openai"
input_per_mtok = 1.0
output_per_mtok = 2.0
cache_read_per_mtok = 0.1
max_output_tokens = 8000

[[models."my-finetune".tiers]]
above_input_tokens = 400000
input_per_mtok = 3.0
output_per_mtok = 6.0

[[models."my-finetune".tiers]]
above_input_tokens = 200000
input_per_mtok = 2.0
output_per_mtok = 4.0
cache_write_1h_per_mtok = 5.5

[models."local-llm"]
provider = "Vendor-X"
input_per_mtok = 0
output_per_mtok = 0
"#;

    #[test]
    fn parses_the_documented_shape() {
        let o = parse(EXAMPLE).expect("valid");
        assert_eq!(o.len(), 2);
        let local = &o[0];
        assert_eq!(local.key, "local-llm");
        assert_eq!(local.provider.as_deref(), Some("Vendor-X"));
        assert_eq!(local.price.input_per_mtok, 0.0);
        assert_eq!(local.max_output_tokens, None);
        let ft = &o[1];
        assert_eq!(ft.key, "my-finetune");
        assert_eq!(ft.provider.as_deref(), Some("openai"));
        assert_eq!(ft.price.cache_read_per_mtok, Some(0.1));
        assert_eq!(ft.price.cache_write_per_mtok, None);
        assert_eq!(ft.max_output_tokens, Some(8000));
        // tiers sorted by threshold
        assert_eq!(ft.price.tiers.len(), 2);
        assert_eq!(ft.price.tiers[0].above_input_tokens, 200_000);
        assert_eq!(ft.price.tiers[0].cache_write_1h_per_mtok, Some(5.5));
        assert_eq!(ft.price.tiers[1].input_per_mtok, 3.0);
    }

    #[test]
    fn provider_names_normalise_to_slugs() {
        let o = parse(
            "[models.m]\nprovider = \"azure.ai.openai\"\ninput_per_mtok = 1\noutput_per_mtok = 1\n",
        )
        .expect("valid");
        assert_eq!(o[0].provider.as_deref(), Some("azure"));
    }

    #[test]
    fn empty_file_is_fine() {
        assert!(parse("").expect("valid").is_empty());
    }

    #[test]
    fn negative_and_nan_are_rejected_with_line() {
        let src = "[models.a]\ninput_per_mtok = 1.0\noutput_per_mtok = -2.0\n";
        match parse(src) {
            Err(PriceError::InvalidPrice {
                location,
                model,
                field,
                value,
            }) => {
                assert_eq!(location.line, Some(3));
                assert_eq!(model, "a");
                assert_eq!(field, "output_per_mtok");
                assert_eq!(value, -2.0);
            }
            other => panic!("expected InvalidPrice, got {other:?}"),
        }
        let src = "[models.a]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n[[models.a.tiers]]\nabove_input_tokens = 10\ninput_per_mtok = nan\noutput_per_mtok = 1\n";
        let err = parse(src).expect_err("nan rejected");
        assert!(
            matches!(&err, PriceError::InvalidPrice { field, .. } if field == "tiers[0].input_per_mtok")
        );
        assert_eq!(err.location().and_then(|l| l.line), Some(7));
        assert!(parse("[models.a]\ninput_per_mtok = inf\noutput_per_mtok = 1\n").is_err());
    }

    #[test]
    fn shape_errors_carry_the_line() {
        let src = "[models.a]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\ncache_read = 0.1\n";
        let err = parse(src).expect_err("unknown key");
        assert!(matches!(err, PriceError::Toml { .. }), "{err:?}");
        assert_eq!(err.location().and_then(|l| l.line), Some(4));
        assert!(err.to_string().contains("cache_read"), "{err}");

        let err = parse("[models.a]\ninput_per_mtok = 1.0\n").expect_err("missing output");
        assert!(err.to_string().contains("output_per_mtok"), "{err}");

        let err = parse("[models.a\n").expect_err("syntax");
        assert_eq!(err.location().and_then(|l| l.line), Some(1));

        let err = parse("[models.a]\ninput_per_mtok = \"cheap\"\noutput_per_mtok = 1\n")
            .expect_err("type");
        assert_eq!(err.location().and_then(|l| l.line), Some(2));
    }
}
