//! Parsing `#[workflow(...)]` arguments.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Ident, LitStr};

/// The kinds `kind = "..."` accepts, with the facade's `WorkflowKind`
/// variant each maps to.
const KINDS: &[(&str, &str)] = &[
    ("chain", "Chain"),
    ("agent", "Agent"),
    ("tool", "Tool"),
    ("retriever", "Retriever"),
    ("embedding", "Embedding"),
    ("reranker", "Reranker"),
    ("llm", "Llm"),
    ("guardrail", "Guardrail"),
];

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    /// The `WorkflowKind` variant name.
    pub(crate) kind: Option<Ident>,
    pub(crate) capture_args: bool,
    pub(crate) capture_result: bool,
    pub(crate) skip: Vec<Ident>,
    pub(crate) agent_name: Option<LitStr>,
    pub(crate) agent_role: Option<LitStr>,
    pub(crate) task: Option<LitStr>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error("duplicate argument"));
    }
    *slot = Some(value);
    Ok(())
}

fn non_empty(lit: LitStr) -> syn::Result<LitStr> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new_spanned(lit, "expected a non-empty string"));
    }
    Ok(lit)
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut args = Self::default();
        let mut seen_flags: Vec<String> = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let Some(ident) = meta.path.get_ident().cloned() else {
                return Err(meta.error("unknown `workflow` argument"));
            };
            let key = ident.to_string();
            match key.as_str() {
                "name" => {
                    let lit = non_empty(meta.value()?.parse::<LitStr>()?)?;
                    set_once(&mut args.name, lit, &meta)
                }
                "kind" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let value = lit.value();
                    let Some((_, variant)) = KINDS.iter().find(|(k, _)| *k == value) else {
                        return Err(syn::Error::new_spanned(
                            &lit,
                            "unknown workflow kind; expected one of: chain, agent, tool, retriever, embedding, reranker, llm, guardrail",
                        ));
                    };
                    set_once(&mut args.kind, Ident::new(variant, lit.span()), &meta)
                }
                "agent_name" => {
                    let lit = non_empty(meta.value()?.parse::<LitStr>()?)?;
                    set_once(&mut args.agent_name, lit, &meta)
                }
                "agent_role" => {
                    let lit = non_empty(meta.value()?.parse::<LitStr>()?)?;
                    set_once(&mut args.agent_role, lit, &meta)
                }
                "task" => {
                    let lit = non_empty(meta.value()?.parse::<LitStr>()?)?;
                    set_once(&mut args.task, lit, &meta)
                }
                "capture_args" | "capture_result" => {
                    if seen_flags.contains(&key) {
                        return Err(meta.error("duplicate argument"));
                    }
                    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                        return Err(meta.error(format!("`{key}` takes no value")));
                    }
                    if key == "capture_args" {
                        args.capture_args = true;
                    } else {
                        args.capture_result = true;
                    }
                    seen_flags.push(key);
                    Ok(())
                }
                "skip" => meta.parse_nested_meta(|inner| {
                    let Some(arg) = inner.path.get_ident() else {
                        return Err(inner.error("expected an argument name"));
                    };
                    args.skip.push(arg.clone());
                    Ok(())
                }),
                _ => Err(syn::Error::new_spanned(
                    &ident,
                    "unknown `workflow` argument; expected one of: name, kind, capture_args, capture_result, skip, agent_name, agent_role, task",
                )),
            }
        });
        parser.parse2(tokens)?;
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn parses_every_argument() {
        let args = Args::parse(quote!(
            name = "answer",
            kind = "agent",
            capture_args,
            capture_result,
            skip(a, b),
            agent_name = "Ada",
            agent_role = "planner",
            task = "plan"
        ))
        .unwrap();
        assert_eq!(args.name.unwrap().value(), "answer");
        assert_eq!(args.kind.unwrap().to_string(), "Agent");
        assert!(args.capture_args && args.capture_result);
        assert_eq!(args.skip.len(), 2);
        assert_eq!(args.agent_name.unwrap().value(), "Ada");
        assert_eq!(args.agent_role.unwrap().value(), "planner");
        assert_eq!(args.task.unwrap().value(), "plan");
    }

    #[test]
    fn rejects_unknown_kind_duplicates_and_unknown_arguments() {
        for bad in [
            quote!(kind = "wizard"),
            quote!(name = "a", name = "b"),
            quote!(capture_args, capture_args),
            quote!(capture_args = true),
            quote!(colour = "red"),
            quote!(name = ""),
            quote!(name = 3),
        ] {
            assert!(Args::parse(bad.clone()).is_err(), "accepted {bad}");
        }
    }
}
