//! View models of the trace list and the trace page: table rows, the
//! waterfall, the header and each span's details.

use serde::Serialize;
use tokentrace_core::semconv;
use tokentrace_store::{SpanRow, Trace, TraceSummary};

use super::canonical::{canonical_attributes, denoise};
use super::format::{JsonLine, axis_labels, encode, json_lines, query_string, round1};
use super::messages::{Message, input_messages, output_messages};
use super::span::{
    Field, attr_str, cache_read, call_fields, cost_fields, cost_label, field, is_llm, object_pairs,
    reasoning, tokens_label, usage_fields,
};
use crate::output;
use crate::timefmt;

/// Deepest indentation level the stylesheet has a class for.
const MAX_DEPTH: u32 = 15;
/// Width of the waterfall's SVG coordinate system.
pub(crate) const WATERFALL_WIDTH: f64 = 1000.0;

/// One row of a trace table.
#[derive(Debug, Serialize)]
pub(crate) struct TraceRow {
    pub(crate) trace_id: String,
    pub(crate) href: String,
    pub(crate) started: String,
    pub(crate) name: String,
    pub(crate) workflow: String,
    pub(crate) user: String,
    pub(crate) session: String,
    pub(crate) session_href: Option<String>,
    pub(crate) model: String,
    pub(crate) spans: u64,
    pub(crate) errors: u64,
    pub(crate) latency: String,
    pub(crate) tokens: String,
    pub(crate) cost: String,
}

impl TraceRow {
    pub(crate) fn new(t: &TraceSummary) -> Self {
        Self {
            trace_id: t.trace_id.clone(),
            href: format!("/traces/{}", t.trace_id),
            started: timefmt::format_ns(t.start_ns),
            name: t.name.clone(),
            workflow: t.workflow.clone().unwrap_or_else(|| t.name.clone()),
            user: output::opt(t.user_id.as_deref()),
            session: output::opt(t.session_id.as_deref()),
            session_href: t
                .session_id
                .as_deref()
                .map(|s| format!("/sessions/{}", encode(s))),
            model: output::opt(t.model.as_deref()),
            spans: t.span_count,
            errors: t.error_count,
            latency: output::millis(t.latency_ms),
            tokens: output::count(t.total_tokens),
            cost: output::cost(t.cost_usd),
        }
    }
}

/// One bar of the waterfall.
#[derive(Debug, Serialize)]
pub(crate) struct WaterfallRow {
    pub(crate) span_id: String,
    pub(crate) name: String,
    pub(crate) depth: u32,
    /// The span's real depth (the indentation class stops at [`MAX_DEPTH`]).
    pub(crate) level: u32,
    /// Spans beneath this one (what collapsing it hides).
    pub(crate) descendants: usize,
    /// Its subtree is folded (`?collapse=`).
    pub(crate) collapsed: bool,
    /// Beneath a folded row.
    pub(crate) hidden: bool,
    /// `llm`, `vector`, `workflow` or `other`: the bar's colour.
    pub(crate) class: &'static str,
    pub(crate) error: bool,
    pub(crate) x: f64,
    pub(crate) w: f64,
    pub(crate) offset: String,
    pub(crate) duration: String,
    pub(crate) model: Option<String>,
    pub(crate) tokens: Option<String>,
    pub(crate) cost: Option<String>,
}

/// A tick on the waterfall's time axis.
#[derive(Debug, Serialize)]
pub(crate) struct Tick {
    pub(crate) x: f64,
    pub(crate) label: String,
}

/// The prompt template an LLM span was made from.
#[derive(Debug, Serialize)]
pub(crate) struct PromptView {
    pub(crate) template: String,
    pub(crate) version: Option<String>,
    pub(crate) variables: Vec<(String, String)>,
}

/// The detail panel of one span.
#[derive(Debug, Serialize)]
pub(crate) struct SpanDetail {
    pub(crate) span_id: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) span_type: String,
    pub(crate) status: String,
    pub(crate) status_message: Option<String>,
    pub(crate) offset: String,
    pub(crate) duration: String,
    pub(crate) model: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) tokens: Option<String>,
    pub(crate) cost: Option<String>,
    pub(crate) prompt: Option<PromptView>,
    pub(crate) metadata: Vec<(String, String)>,
    /// Token counts: input, cached, cache write, output, reasoning, total.
    pub(crate) usage: Vec<Field>,
    /// Cost and its parts, with where the price came from.
    pub(crate) costs: Vec<Field>,
    /// Finish reason, time to first token, streaming, response id.
    pub(crate) call: Vec<Field>,
    /// Captured input messages (opt-in content capture).
    pub(crate) input: Vec<Message>,
    /// Captured output messages.
    pub(crate) output: Vec<Message>,
    pub(crate) attributes: Vec<JsonLine>,
    /// Attribute names left out of the raw JSON because they repeat another
    /// attribute's value under another convention's name.
    pub(crate) mirrors: Vec<String>,
    pub(crate) events: Vec<JsonLine>,
    pub(crate) event_count: usize,
}

/// Everything the trace page shows.
#[derive(Debug, Serialize)]
pub(crate) struct TraceView {
    pub(crate) trace_id: String,
    pub(crate) name: String,
    pub(crate) workflow: String,
    pub(crate) started: String,
    pub(crate) latency: String,
    pub(crate) tokens: String,
    pub(crate) cost: String,
    pub(crate) errors: u64,
    pub(crate) span_count: usize,
    pub(crate) llm_calls: usize,
    pub(crate) user: Option<String>,
    pub(crate) user_href: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) session_href: Option<String>,
    /// Models of the LLM calls, in call order without repeats.
    pub(crate) models: Vec<String>,
    /// Input, output, cached and reasoning tokens over the LLM calls.
    pub(crate) breakdown: Vec<Field>,
    pub(crate) rows: Vec<WaterfallRow>,
    pub(crate) ticks: Vec<Tick>,
    pub(crate) spans: Vec<SpanDetail>,
}

fn prompt(s: &SpanRow) -> Option<PromptView> {
    let template = attr_str(s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE)?;
    Some(PromptView {
        template: template.to_owned(),
        version: attr_str(s, semconv::LLM_PROMPT_TEMPLATE_VERSION).map(str::to_owned),
        variables: object_pairs(s.attributes.get(semconv::LLM_PROMPT_TEMPLATE_VARIABLES)),
    })
}

/// The first non-empty string attribute `key` over the spans, root first.
fn trace_attr(trace: &Trace, keys: &[&str]) -> Option<String> {
    trace.spans.iter().find_map(|s| {
        keys.iter()
            .find_map(|k| attr_str(s, k))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// Tokens of the trace's LLM calls by kind.
fn breakdown(trace: &Trace) -> Vec<Field> {
    let llm: Vec<&SpanRow> = trace.spans.iter().filter(|s| is_llm(s)).collect();
    let sum = |f: &dyn Fn(&SpanRow) -> Option<u64>| llm.iter().filter_map(|s| f(s)).sum::<u64>();
    vec![
        field(
            "input_tokens",
            "input",
            output::count(sum(&|s| s.input_tokens)),
        ),
        field(
            "output_tokens",
            "output",
            output::count(sum(&|s| s.output_tokens)),
        ),
        field("cached_tokens", "cached", output::count(sum(&cache_read))),
        field(
            "reasoning_tokens",
            "reasoning",
            output::count(sum(&reasoning)),
        ),
    ]
}

/// Folds the subtrees of `rows` that `collapse` names: `all` (every row
/// with spans beneath but the roots) or comma-separated span ids; rows
/// beneath a folded one are hidden, as the script does on a click.
pub(crate) fn fold(rows: &mut [WaterfallRow], collapse: &str) {
    let ids: Vec<&str> = collapse.split(',').map(str::trim).collect();
    for r in rows.iter_mut() {
        r.collapsed = r.descendants > 0
            && if collapse.trim() == "all" {
                r.level > 0
            } else {
                ids.contains(&r.span_id.as_str())
            };
    }
    let mut hide_below = u32::MAX;
    for r in rows.iter_mut() {
        if r.level > hide_below {
            r.hidden = true;
            continue;
        }
        r.hidden = false;
        hide_below = if r.collapsed { r.level } else { u32::MAX };
    }
}

/// How many spans follow each span in tree order before one at its depth or above.
fn descendants(spans: &[SpanRow]) -> Vec<usize> {
    (0..spans.len())
        .map(|i| {
            spans[i + 1..]
                .iter()
                .take_while(|s| s.depth > spans[i].depth)
                .count()
        })
        .collect()
}

impl TraceView {
    pub(crate) fn new(trace: &Trace) -> Self {
        let t0 = trace.start_ns;
        let end = trace.spans.iter().map(|s| s.end_ns).max().unwrap_or(t0);
        let total_ns = (end - t0).max(1) as f64;
        let scale =
            |ns: i64| ((ns - t0) as f64 / total_ns * WATERFALL_WIDTH).clamp(0.0, WATERFALL_WIDTH);
        let below = descendants(&trace.spans);
        let rows = trace
            .spans
            .iter()
            .zip(below)
            .map(|(s, descendants)| {
                let x = scale(s.start_ns);
                // A zero-length span still gets a visible sliver.
                let w = (scale(s.end_ns) - x)
                    .max(2.0)
                    .min(WATERFALL_WIDTH - x)
                    .max(1.0);
                WaterfallRow {
                    span_id: s.span_id.clone(),
                    name: s.name.clone(),
                    depth: s.depth.min(MAX_DEPTH),
                    level: s.depth,
                    descendants,
                    collapsed: false,
                    hidden: false,
                    class: match s.span_type.as_deref() {
                        Some(semconv::values::SPAN_TYPE_LLM) => "llm",
                        Some(semconv::values::SPAN_TYPE_VECTOR) => "vector",
                        Some(semconv::values::SPAN_TYPE_WORKFLOW) => "workflow",
                        _ => "other",
                    },
                    error: s.status_code == "error",
                    x: round1(x),
                    w: round1(w),
                    offset: output::millis((s.start_ns - t0) as f64 / 1e6),
                    duration: output::millis(s.duration_ms),
                    model: s.model.clone(),
                    tokens: tokens_label(s),
                    cost: cost_label(s),
                }
            })
            .collect();
        let ticks = axis_labels(total_ns / 1e6, 4)
            .into_iter()
            .enumerate()
            .map(|(i, label)| Tick {
                x: i as f64 * WATERFALL_WIDTH / 4.0,
                label,
            })
            .collect();
        let spans = trace
            .spans
            .iter()
            .map(|s| {
                let (canonical, mirrors) = canonical_attributes(&s.attributes);
                let mut attributes = Vec::new();
                json_lines(&canonical, None, 0, true, &mut attributes);
                let mut events = Vec::new();
                json_lines(&denoise(s.events.clone()), None, 0, true, &mut events);
                SpanDetail {
                    span_id: s.span_id.clone(),
                    name: s.name.clone(),
                    kind: s.kind.clone(),
                    span_type: s.span_type.clone().unwrap_or_else(|| "-".to_owned()),
                    status: s.status_code.clone(),
                    status_message: s.status_message.clone(),
                    offset: output::millis((s.start_ns - t0) as f64 / 1e6),
                    duration: output::millis(s.duration_ms),
                    model: s.model.clone(),
                    provider: s.provider.clone(),
                    tokens: tokens_label(s),
                    cost: cost_label(s),
                    prompt: prompt(s),
                    metadata: object_pairs(s.attributes.get(semconv::METADATA)),
                    usage: usage_fields(s),
                    costs: cost_fields(s),
                    call: call_fields(s),
                    input: input_messages(s),
                    output: output_messages(s),
                    attributes,
                    mirrors,
                    events,
                    event_count: s.events.as_array().map_or(0, Vec::len),
                }
            })
            .collect();
        let user = trace_attr(trace, &[semconv::USER_ID]);
        let session = trace_attr(
            trace,
            &[semconv::SESSION_ID, semconv::GEN_AI_CONVERSATION_ID],
        );
        let mut models: Vec<String> = Vec::new();
        for m in trace
            .spans
            .iter()
            .filter(|s| is_llm(s))
            .filter_map(|s| s.model.as_ref())
        {
            if !models.contains(m) {
                models.push(m.clone());
            }
        }
        Self {
            user_href: user
                .as_deref()
                .map(|u| format!("/{}", query_string(&[("user", Some(u.to_owned()))]))),
            session_href: session
                .as_deref()
                .map(|s| format!("/sessions/{}", encode(s))),
            user,
            session,
            models,
            breakdown: breakdown(trace),
            trace_id: trace.trace_id.clone(),
            name: trace.name.clone(),
            workflow: trace.workflow.clone().unwrap_or_else(|| trace.name.clone()),
            started: timefmt::format_ns(trace.start_ns),
            latency: output::millis(trace.latency_ms),
            tokens: output::count(trace.total_tokens),
            cost: output::cost(trace.cost_usd),
            errors: trace.error_count,
            span_count: trace.spans.len(),
            llm_calls: trace.spans.iter().filter(|s| is_llm(s)).count(),
            rows,
            ticks,
            spans,
        }
    }
}
