//! The demo's summary, computed from the store: the traces this run
//! recorded, their LLM calls, tokens and cost, by model, user and workflow.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use tokentrace::store::{Store, TraceFilter};
use tokentrace_core::semconv;

use super::traffic::Outcome;
use crate::output::{self, Align, Style, Table};

/// Unix epoch nanoseconds now.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Totals for one group (a model, a user, a workflow).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Group {
    /// Model, user or workflow name.
    pub(crate) key: String,
    /// Provider (models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<String>,
    /// LLM calls (models), traces (users) or runs (workflows).
    pub(crate) count: u64,
    /// LLM calls beneath (users and workflows).
    pub(crate) llm_calls: u64,
    /// Input tokens.
    pub(crate) input_tokens: u64,
    /// Output tokens.
    pub(crate) output_tokens: u64,
    /// Total tokens.
    pub(crate) total_tokens: u64,
    /// Cost in USD.
    pub(crate) cost_usd: f64,
}

/// What `tokentrace demo` prints.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    /// The store written.
    pub(crate) store: String,
    /// The traffic as the client saw it.
    pub(crate) requests: Outcome,
    /// Traces this run recorded.
    pub(crate) traces: u64,
    /// Of those, traces with an error span.
    pub(crate) error_traces: u64,
    /// LLM calls (chat, embeddings, generate_content).
    pub(crate) llm_calls: u64,
    /// Vector-database calls.
    pub(crate) vector_calls: u64,
    /// Input tokens of all LLM calls.
    pub(crate) input_tokens: u64,
    /// Output tokens of all LLM calls.
    pub(crate) output_tokens: u64,
    /// Total tokens of all LLM calls.
    pub(crate) total_tokens: u64,
    /// Cost in USD of all LLM calls.
    pub(crate) cost_usd: f64,
    /// Per model.
    pub(crate) by_model: Vec<Group>,
    /// Per user.
    pub(crate) by_user: Vec<Group>,
    /// Per workflow span name (the request and its steps), from their roll-ups.
    pub(crate) by_workflow: Vec<Group>,
    /// Traces in the store before this run.
    pub(crate) earlier_traces: u64,
}

fn json_u64(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

impl Summary {
    /// Reads every trace that started at or after `since_ns`.
    pub(crate) fn from_store(
        store: &Store,
        since_ns: i64,
        path: &Path,
        requests: &Outcome,
    ) -> anyhow::Result<Self> {
        let mut s = Self {
            store: path.display().to_string(),
            requests: *requests,
            traces: 0,
            error_traces: 0,
            llm_calls: 0,
            vector_calls: 0,
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
            cost_usd: 0.0,
            by_model: Vec::new(),
            by_user: Vec::new(),
            by_workflow: Vec::new(),
            earlier_traces: store
                .traces(
                    &TraceFilter::new()
                        .time_range(None, Some(since_ns))
                        .page(1, 0),
                )?
                .total,
        };
        let mut models: BTreeMap<(String, Option<String>), Group> = BTreeMap::new();
        let mut users: BTreeMap<String, Group> = BTreeMap::new();
        let mut workflows: BTreeMap<String, Group> = BTreeMap::new();
        let mut offset = 0;
        loop {
            let page = store.traces(
                &TraceFilter::new()
                    .time_range(Some(since_ns), None)
                    .page(1000, offset),
            )?;
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len() as u64;
            for t in &page.items {
                s.traces += 1;
                s.error_traces += u64::from(t.error_count > 0);
                let user = users
                    .entry(t.user_id.clone().unwrap_or_else(|| "-".to_owned()))
                    .or_default();
                user.count += 1;
                let trace = store.get_trace(&t.trace_id)?;
                for span in &trace.spans {
                    match span.span_type.as_deref() {
                        Some("llm") => {
                            let (input, out, total, cost) = (
                                span.input_tokens.unwrap_or(0),
                                span.output_tokens.unwrap_or(0),
                                span.total_tokens.unwrap_or(0),
                                span.cost_usd.unwrap_or(0.0),
                            );
                            s.llm_calls += 1;
                            s.input_tokens += input;
                            s.output_tokens += out;
                            s.total_tokens += total;
                            s.cost_usd += cost;
                            for g in [
                                models
                                    .entry((
                                        span.model.clone().unwrap_or_else(|| "?".to_owned()),
                                        span.provider.clone(),
                                    ))
                                    .or_default(),
                                &mut *user,
                            ] {
                                g.llm_calls += 1;
                                g.input_tokens += input;
                                g.output_tokens += out;
                                g.total_tokens += total;
                                g.cost_usd += cost;
                            }
                        }
                        Some("vector") => s.vector_calls += 1,
                        Some("workflow") => {
                            let a = &span.attributes;
                            let w = workflows.entry(span.name.clone()).or_default();
                            w.count += 1;
                            w.llm_calls += json_u64(a, semconv::ROLLUP_LLM_CALLS);
                            w.input_tokens += json_u64(a, semconv::ROLLUP_INPUT_TOKENS);
                            w.output_tokens += json_u64(a, semconv::ROLLUP_OUTPUT_TOKENS);
                            w.total_tokens += json_u64(a, semconv::ROLLUP_TOTAL_TOKENS);
                            w.cost_usd += a
                                .get(semconv::ROLLUP_COST_USD)
                                .and_then(serde_json::Value::as_f64)
                                .unwrap_or(0.0);
                        }
                        _ => {}
                    }
                }
            }
        }
        s.by_model = models
            .into_iter()
            .map(|((key, provider), g)| Group {
                key,
                provider,
                count: g.llm_calls,
                ..g
            })
            .collect();
        s.by_user = users
            .into_iter()
            .map(|(key, g)| Group { key, ..g })
            .collect();
        s.by_workflow = workflows
            .into_iter()
            .map(|(key, g)| Group { key, ..g })
            .collect();
        Ok(s)
    }

    /// The summary as text: three tables and a totals line.
    pub(crate) fn render(&self, style: Style) -> String {
        let mut out = String::new();
        let r = &self.requests;
        let _ = writeln!(
            out,
            "\n{} {} requests ({} ok, {} failed) recorded {} traces in {}{}\n",
            style.bold("tokentrace demo:"),
            r.requests,
            r.ok,
            r.failed,
            self.traces,
            self.store,
            if self.earlier_traces > 0 {
                format!(" (which already held {} traces)", self.earlier_traces)
            } else {
                String::new()
            }
        );
        let money = |g: &Group| {
            vec![
                output::count(g.input_tokens),
                output::count(g.output_tokens),
                output::count(g.total_tokens),
                output::cost(g.cost_usd),
            ]
        };
        let tail = [
            ("input tok", Align::Right),
            ("output tok", Align::Right),
            ("total tok", Align::Right),
            ("cost", Align::Right),
        ];

        // Each table: its own leading columns, then the shared token and cost columns.
        let mut table =
            |head: [(&str, Align); 3], groups: &[Group], lead: &dyn Fn(&Group) -> [String; 3]| {
                let mut header: Vec<(&str, Align)> = head.to_vec();
                header.extend(tail);
                let mut t = Table::new(&header);
                for g in groups {
                    let mut row = lead(g).to_vec();
                    row.extend(money(g));
                    t.row(row);
                }
                let _ = writeln!(out, "{}", t.render(style));
            };
        table(
            [
                ("workflow", Align::Left),
                ("runs", Align::Right),
                ("LLM calls", Align::Right),
            ],
            &self.by_workflow,
            &|g| {
                [
                    g.key.clone(),
                    output::count(g.count),
                    output::count(g.llm_calls),
                ]
            },
        );
        table(
            [
                ("model", Align::Left),
                ("provider", Align::Left),
                ("calls", Align::Right),
            ],
            &self.by_model,
            &|g| {
                [
                    g.key.clone(),
                    output::opt(g.provider.as_deref()),
                    output::count(g.count),
                ]
            },
        );
        table(
            [
                ("user", Align::Left),
                ("traces", Align::Right),
                ("LLM calls", Align::Right),
            ],
            &self.by_user,
            &|g| {
                [
                    g.key.clone(),
                    output::count(g.count),
                    output::count(g.llm_calls),
                ]
            },
        );

        let _ = writeln!(
            out,
            "{} {} traces ({} with errors), {} LLM calls, {} vector queries, {} tokens ({} in, {} out), {}",
            style.bold("Total:"),
            output::count(self.traces),
            self.error_traces,
            output::count(self.llm_calls),
            output::count(self.vector_calls),
            output::count(self.total_tokens),
            output::count(self.input_tokens),
            output::count(self.output_tokens),
            output::cost(self.cost_usd),
        );
        out
    }
}
