//! The `#[workflow]` attribute of [tokentrace](https://docs.rs/tokentrace).
//!
//! Use it through the facade, `#[tokentrace::workflow]`: the expansion calls
//! `::tokentrace::__private`, so a crate needs only `tokentrace` in its
//! `Cargo.toml`. See [`macro@workflow`].
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

use proc_macro::TokenStream;

mod args;
mod expand;

/// Runs the function inside a tokentrace workflow span named
/// `workflow.{name}`.
///
/// Works on sync and `async` functions, methods, generic functions, and
/// functions returning `impl Stream` (the span then covers the whole stream,
/// until it ends or is dropped). Each call opens its own span, recursive
/// calls included; nested workflows become child spans.
///
/// The span follows the workflow-span contract (`tokentrace.span.type =
/// workflow`, `gen_ai.workflow.name`, `openinference.span.kind`,
/// `otel.kind = internal`). A returned `Err` (for a return type spelled
/// `...Result<..>`) or a panic sets `otel.status_code = error` and records
/// the error's `Display` (else `Debug`) text, bounded, as `exception.message`.
///
/// # Arguments
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `name = "..."` | workflow name | the function's name |
/// | `kind = "..."` | `chain`, `agent`, `tool`, `retriever`, `embedding`, `reranker`, `llm` or `guardrail` | `chain` |
/// | `capture_args` | record the arguments' `Debug` text, bounded, as `tokentrace.function.args` | off |
/// | `capture_result` | record the return value's `Debug` text, bounded, as `tokentrace.function.result` | off |
/// | `skip(a, b)` | leave these arguments out of `capture_args` | none |
/// | `agent_name = "..."` | `gen_ai.agent.name` and `agent.name` | none |
/// | `agent_role = "..."` | `tokentrace.agent.role` (and `gen_ai.agent.description`) | none |
/// | `task = "..."` | `tokentrace.agent.task` | none |
///
/// `self` is never captured. Functions whose names are excluded by the
/// workflow filter (`TOKENTRACE_WORKFLOWS`) skip the span at the cost of one
/// atomic load.
///
/// # Examples
///
/// ```
/// #[tokentrace::workflow]
/// async fn answer_agent(question: &str) -> Result<String, std::io::Error> {
///     Ok(format!("answer to {question}"))
/// }
///
/// #[tokentrace::workflow(name = "retrieve", kind = "retriever", capture_args, capture_result)]
/// fn retrieve(query: &str, top_k: usize) -> Vec<String> {
///     vec![query.to_owned(); top_k]
/// }
/// # assert_eq!(retrieve("q", 2).len(), 2);
/// ```
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), &item.into()).into()
}
