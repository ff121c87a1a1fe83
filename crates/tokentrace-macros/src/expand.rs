//! Rewriting the annotated function.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type, TypeParamBound};

use crate::args::Args;

/// Expands `#[workflow(args)] item`. On any error the original item is
/// emitted next to the error, so the rest of the crate still type-checks and
/// the user sees one message, at the offending token.
pub(crate) fn expand(args: TokenStream, item: &TokenStream) -> TokenStream {
    let result = syn::parse2::<ItemFn>(item.clone())
        .and_then(|func| Ok((Args::parse(args)?, func)))
        .and_then(|(args, func)| expand_fn(&args, func));
    match result {
        Ok(tokens) => tokens,
        Err(err) => {
            let err = err.into_compile_error();
            quote!(#err #item)
        }
    }
}

/// What the function returns, as far as the syntax tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Returns {
    Plain,
    /// A `Result` (any path whose last segment is `Result`): `Err` marks the
    /// span as failed.
    Result,
    /// `impl Stream<..>`: the span stays open until the stream ends.
    Stream,
}

fn classify(output: &ReturnType) -> Returns {
    let ReturnType::Type(_, ty) = output else {
        return Returns::Plain;
    };
    match &**ty {
        Type::Path(p) if p.qself.is_none() => match p.path.segments.last() {
            Some(seg) if seg.ident == "Result" => Returns::Result,
            _ => Returns::Plain,
        },
        Type::ImplTrait(t) => {
            let is_stream = t.bounds.iter().any(|b| match b {
                TypeParamBound::Trait(t) => t
                    .path
                    .segments
                    .last()
                    .is_some_and(|seg| seg.ident == "Stream"),
                _ => false,
            });
            if is_stream {
                Returns::Stream
            } else {
                Returns::Plain
            }
        }
        _ => Returns::Plain,
    }
}

/// `impl Trait` cannot be written in a `let` type, so such return types are
/// left to inference.
fn contains_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == "impl",
        TokenTree::Group(g) => contains_impl(g.stream()),
        _ => false,
    })
}

fn captured_args(func: &ItemFn, args: &Args) -> syn::Result<Vec<Ident>> {
    let names: Vec<&Ident> = func
        .sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => Some(&pi.ident),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    for skipped in &args.skip {
        if !names.contains(&skipped) {
            return Err(syn::Error::new_spanned(
                skipped,
                format!("`{skipped}` is not an argument of this function"),
            ));
        }
    }
    Ok(names
        .into_iter()
        .filter(|n| !args.skip.contains(n))
        .cloned()
        .collect())
}

/// The workflow span of one annotated function, as its own `tracing`
/// callsite: the span name `workflow.{name}` is the callsite's name (so the
/// OpenTelemetry layer borrows it instead of copying an `otel.name` field),
/// and only the fields this function can record are declared (agent fields
/// when given, argument and result capture when asked for). The span kind is
/// left to its default, `internal`. The shape is the workflow span contract
/// of `docs/architecture.md`.
fn workflow_span(args: &Args, span_name: &str, name: &str, kind: &Ident) -> TokenStream {
    let c = |constant: &str| {
        let ident = Ident::new(constant, proc_macro2::Span::call_site());
        quote!(::tokentrace::__private::semconv::#ident)
    };
    let empty = quote!(::tokentrace::__private::tracing::field::Empty);
    let mut fields = Vec::new();
    let mut field = |constant: &str, value: TokenStream| {
        let key = c(constant);
        fields.push(quote!({ #key } = #value));
    };
    let kind_path = quote!(::tokentrace::__private::WorkflowKind::#kind);
    field("OTEL_STATUS_CODE", empty.clone());
    field("OTEL_STATUS_DESCRIPTION", empty.clone());
    field("ERROR_TYPE", empty.clone());
    field("EXCEPTION_MESSAGE", empty.clone());
    field(
        "TOKENTRACE_SPAN_TYPE",
        quote!(::tokentrace::__private::semconv::values::SPAN_TYPE_WORKFLOW),
    );
    field("GEN_AI_WORKFLOW_NAME", quote!(#name));
    field("GEN_AI_OPERATION_NAME", quote!(#kind_path.operation_name()));
    field(
        "OPENINFERENCE_SPAN_KIND",
        quote!(#kind_path.openinference_kind()),
    );
    if kind != "Chain" {
        // Redundant with `openinference.span.kind` for the default kind.
        field("TOKENTRACE_WORKFLOW_KIND", quote!(#kind_path.as_str()));
    }
    if let Some(agent) = &args.agent_name {
        field("GEN_AI_AGENT_NAME", quote!(#agent));
        field("AGENT_NAME", quote!(#agent));
    } else if kind == "Agent" {
        // `invoke_agent` names its agent: the workflow's name when none is given.
        field("GEN_AI_AGENT_NAME", quote!(#name));
    }
    if kind == "Tool" {
        // `execute_tool` requires `gen_ai.tool.name`: the workflow's name.
        field("GEN_AI_TOOL_NAME", quote!(#name));
        field(
            "GEN_AI_TOOL_TYPE",
            quote!(::tokentrace::__private::semconv::values::TOOL_TYPE_FUNCTION),
        );
    }
    if let Some(description) = args.agent_role.as_ref().or(args.task.as_ref()) {
        field("GEN_AI_AGENT_DESCRIPTION", quote!(#description));
    }
    if let Some(role) = &args.agent_role {
        field("TOKENTRACE_AGENT_ROLE", quote!(#role));
    }
    if let Some(task) = &args.task {
        field("TOKENTRACE_AGENT_TASK", quote!(#task));
    }
    if args.capture_args {
        field("TOKENTRACE_FUNCTION_ARGS", empty.clone());
    }
    if args.capture_result {
        field("TOKENTRACE_FUNCTION_RESULT", empty);
    }
    quote! {
        ::tokentrace::__private::tracing::info_span!(
            target: "tokentrace::workflow",
            #span_name,
            #(#fields,)*
        )
    }
}

fn expand_fn(args: &Args, mut func: ItemFn) -> syn::Result<TokenStream> {
    if let Some(c) = &func.sig.constness {
        return Err(syn::Error::new_spanned(
            c,
            "`#[workflow]` cannot be used on a `const fn`",
        ));
    }
    let fn_name = func.sig.ident.unraw().to_string();
    let name = args
        .name
        .as_ref()
        .map_or(fn_name, |n| n.value().trim().to_owned());
    let span_name = format!("workflow.{name}");
    let kind = args
        .kind
        .clone()
        .unwrap_or_else(|| Ident::new("Chain", proc_macro2::Span::call_site()));
    let capture_args = if args.capture_args {
        let idents = captured_args(&func, args)?;
        // Spanned at each argument, so a missing `Debug` is reported there.
        let pairs = idents.iter().map(|i| {
            let label = i.unraw().to_string();
            quote_spanned!(i.span()=> (#label, &#i as &dyn ::core::fmt::Debug))
        });
        quote! {
            if !__tokentrace_span.is_disabled() {
                ::tokentrace::__private::record_args(
                    &__tokentrace_span,
                    &[#(#pairs),*],
                );
            }
        }
    } else {
        // Still validates `skip(..)` names.
        captured_args(&func, args)?;
        TokenStream::new()
    };

    let returns = classify(&func.sig.output);
    let ret_ty = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let nameable = !contains_impl(ret_ty.clone());

    // Records the outcome held in `__tokentrace_result` on `__tokentrace_span`.
    let record_err = if returns == Returns::Result {
        quote! {
            #[allow(unused_imports)]
            use ::tokentrace::__private::{RecordDebug as _, RecordDisplay as _, RecordOther as _};
            if let ::core::result::Result::Err(__tokentrace_err) = __tokentrace_result {
                (&&&::tokentrace::__private::ErrorRef(__tokentrace_err))
                    .__tokentrace_record(__tokentrace_span);
            }
        }
    } else {
        TokenStream::new()
    };
    let record_result = if args.capture_result {
        quote!(::tokentrace::__private::record_result(__tokentrace_span, __tokentrace_result);)
    } else {
        TokenStream::new()
    };
    let records = !record_err.is_empty() || !record_result.is_empty();
    let recorder = quote! {
        |__tokentrace_span: &::tokentrace::__private::Span, __tokentrace_result: &_| {
            #record_err
            #record_result
        }
    };

    let block = &func.block;
    let span = workflow_span(args, &span_name, &name, &kind);
    let prelude = quote! {
        static __TOKENTRACE_WORKFLOW: ::tokentrace::__private::Workflow =
            ::tokentrace::__private::Workflow::new(::tokentrace::__private::WorkflowMeta {
                name: #name,
                module_path: ::core::module_path!(),
            });
        let __tokentrace_span = if __TOKENTRACE_WORKFLOW.enabled() {
            #span
        } else {
            ::tokentrace::__private::Span::none()
        };
        #capture_args
    };

    let body = if func.sig.asyncness.is_some() {
        let fake_return = nameable.then(|| {
            quote! {
                #[allow(
                    unreachable_code,
                    clippy::diverging_sub_expression,
                    clippy::let_unit_value,
                    clippy::unreachable,
                    clippy::empty_loop
                )]
                if false {
                    let __tokentrace_fake_return: #ret_ty = loop {};
                    return __tokentrace_fake_return;
                }
            }
        });
        let recorder = if records {
            recorder
        } else {
            quote!(::tokentrace::__private::no_record)
        };
        let run = quote! {
            ::tokentrace::__private::instrument(
                ::core::clone::Clone::clone(&__tokentrace_span),
                async move { #fake_return #block },
                #recorder,
            )
            .await
        };
        if returns == Returns::Stream {
            quote! {
                #prelude
                let __tokentrace_stream = #run;
                ::tokentrace::__private::instrument_stream(__tokentrace_span, __tokentrace_stream)
            }
        } else {
            quote!( #prelude #run )
        }
    } else {
        let guards = quote! {
            let __tokentrace_panic = ::tokentrace::__private::PanicGuard::new(&__tokentrace_span);
            let __tokentrace_entered = __tokentrace_span.enter();
        };
        let let_ty = nameable.then(|| quote!(: #ret_ty));
        match returns {
            Returns::Stream => quote! {
                #prelude
                #guards
                let __tokentrace_stream = (move || #block)();
                ::core::mem::drop(__tokentrace_entered);
                ::core::mem::drop(__tokentrace_panic);
                ::tokentrace::__private::instrument_stream(__tokentrace_span, __tokentrace_stream)
            },
            _ if records => quote! {
                #prelude
                #guards
                #[allow(clippy::redundant_closure_call)]
                let __tokentrace_result #let_ty = (move || #block)();
                {
                    let __tokentrace_span = &__tokentrace_span;
                    let __tokentrace_result = &__tokentrace_result;
                    #record_err
                    #record_result
                }
                __tokentrace_result
            },
            _ => quote! {
                #prelude
                #guards
                #block
            },
        }
    };
    func.block = Box::new(syn::parse2(quote!({ #body }))?);
    Ok(func.into_token_stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        let item = item;
        expand(args, &item).to_string()
    }

    #[test]
    fn names_the_span_after_the_function_or_the_name_argument() {
        let out = expand_str(
            quote!(),
            quote!(
                fn answer_agent() {}
            ),
        );
        assert!(out.contains("\"workflow.answer_agent\""), "{out}");
        let out = expand_str(
            quote!(name = "pizza"),
            quote!(
                fn f() {}
            ),
        );
        assert!(out.contains("\"workflow.pizza\""), "{out}");
        assert!(out.contains("WorkflowKind :: Chain"), "{out}");
    }

    #[test]
    fn async_fns_are_instrumented_and_results_checked() {
        let out = expand_str(
            quote!(kind = "tool"),
            quote!(
                async fn f() -> Result<u8, String> {
                    Ok(1)
                }
            ),
        );
        assert!(out.contains("__private :: instrument"), "{out}");
        assert!(out.contains("ErrorRef"), "{out}");
        assert!(out.contains("WorkflowKind :: Tool"), "{out}");
    }

    #[test]
    fn stream_returns_are_wrapped() {
        let out = expand_str(
            quote!(),
            quote!(
                fn s() -> impl futures_core::Stream<Item = u8> {
                    todo_stream()
                }
            ),
        );
        assert!(out.contains("instrument_stream"), "{out}");
        assert!(!out.contains("__tokentrace_stream :"), "{out}");
    }

    #[test]
    fn errors_keep_the_original_item() {
        let out = expand_str(
            quote!(kind = "wizard"),
            quote!(
                fn keep_me() {}
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("fn keep_me"), "{out}");
        let out = expand_str(
            quote!(skip(nope)),
            quote!(
                fn g(a: u8) {}
            ),
        );
        assert!(out.contains("`nope` is not an argument"), "{out}");
    }

    #[test]
    fn captures_named_arguments_except_skipped_ones() {
        let out = expand_str(
            quote!(capture_args, skip(secret)),
            quote!(
                fn f(&self, q: &str, secret: String) {}
            ),
        );
        assert!(out.contains("(\"q\" , & q as & dyn"), "{out}");
        assert!(!out.contains("\"secret\""), "{out}");
    }
}
