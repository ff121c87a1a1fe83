//! View models: store types turned into what the templates print (formatted
//! strings and precomputed geometry), so templates hold no arithmetic.

use serde::Serialize;
use serde_json::Value as Json;
use tokentrace_core::semconv;
use tokentrace_store::{SpanRow, Trace, TraceSummary};

use crate::output;
use crate::timefmt;

/// Deepest indentation level the stylesheet has a class for.
const MAX_DEPTH: u32 = 15;
/// Lines of one span's JSON viewer before it is cut short.
const MAX_JSON_LINES: usize = 2000;
/// Characters of one JSON string value shown before it is cut short.
const MAX_JSON_STRING: usize = 20_000;
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

/// One line of the JSON viewer.
#[derive(Debug, Serialize)]
pub(crate) struct JsonLine {
    pub(crate) indent: usize,
    /// The object key, JSON-quoted.
    pub(crate) key: Option<String>,
    pub(crate) text: String,
    /// `string`, `number`, `bool`, `null` or `punct`.
    pub(crate) class: &'static str,
    pub(crate) comma: bool,
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
    pub(crate) attributes: Vec<JsonLine>,
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
    pub(crate) rows: Vec<WaterfallRow>,
    pub(crate) ticks: Vec<Tick>,
    pub(crate) spans: Vec<SpanDetail>,
}

fn is_workflow(s: &SpanRow) -> bool {
    s.span_type.as_deref() == Some(semconv::values::SPAN_TYPE_WORKFLOW)
}

fn tokens_label(s: &SpanRow) -> Option<String> {
    if is_workflow(s) {
        return None;
    }
    match (s.input_tokens, s.output_tokens, s.total_tokens) {
        (None, None, None) => None,
        (Some(i), Some(o), _) => Some(format!(
            "{} in · {} out",
            output::count(i),
            output::count(o)
        )),
        (_, _, Some(t)) => Some(format!("{} tokens", output::count(t))),
        (i, o, None) => Some(format!("{} tokens", output::count(i.or(o).unwrap_or(0)))),
    }
}

fn cost_label(s: &SpanRow) -> Option<String> {
    if is_workflow(s) {
        return None;
    }
    s.cost_usd.map(output::cost)
}

/// A string attribute of `s`.
fn attr_str<'a>(s: &'a SpanRow, key: &str) -> Option<&'a str> {
    s.attributes.get(key).and_then(Json::as_str)
}

/// Key/value pairs of a JSON-object-valued string attribute (`metadata`,
/// template variables); a value that is not a string is shown as JSON.
fn object_pairs(raw: Option<&Json>) -> Vec<(String, String)> {
    let parsed = match raw {
        Some(Json::String(s)) => serde_json::from_str::<Json>(s).ok(),
        Some(v @ Json::Object(_)) => Some(v.clone()),
        _ => None,
    };
    match parsed {
        Some(Json::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn prompt(s: &SpanRow) -> Option<PromptView> {
    let template = attr_str(s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE)?;
    Some(PromptView {
        template: template.to_owned(),
        version: attr_str(s, semconv::LLM_PROMPT_TEMPLATE_VERSION).map(str::to_owned),
        variables: object_pairs(s.attributes.get(semconv::LLM_PROMPT_TEMPLATE_VARIABLES)),
    })
}

impl TraceView {
    pub(crate) fn new(trace: &Trace) -> Self {
        let t0 = trace.start_ns;
        let end = trace.spans.iter().map(|s| s.end_ns).max().unwrap_or(t0);
        let total_ns = (end - t0).max(1) as f64;
        let scale =
            |ns: i64| ((ns - t0) as f64 / total_ns * WATERFALL_WIDTH).clamp(0.0, WATERFALL_WIDTH);
        let rows = trace
            .spans
            .iter()
            .map(|s| {
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
                let mut attributes = Vec::new();
                json_lines(&s.attributes, None, 0, true, &mut attributes);
                let mut events = Vec::new();
                json_lines(&s.events, None, 0, true, &mut events);
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
                    attributes,
                    events,
                    event_count: s.events.as_array().map_or(0, Vec::len),
                }
            })
            .collect();
        Self {
            trace_id: trace.trace_id.clone(),
            name: trace.name.clone(),
            workflow: trace.workflow.clone().unwrap_or_else(|| trace.name.clone()),
            started: timefmt::format_ns(trace.start_ns),
            latency: output::millis(trace.latency_ms),
            tokens: output::count(trace.total_tokens),
            cost: output::cost(trace.cost_usd),
            errors: trace.error_count,
            span_count: trace.spans.len(),
            llm_calls: trace
                .spans
                .iter()
                .filter(|s| s.span_type.as_deref() == Some(semconv::values::SPAN_TYPE_LLM))
                .count(),
            rows,
            ticks,
            spans,
        }
    }
}

/// Labels of `steps + 1` evenly spaced ticks from 0 to `total_ms`: the unit
/// (µs, ms or s) follows the span and the decimals follow the step, so two
/// neighbouring ticks never print the same text (a 0.4 ms trace reads
/// `0 µs, 100 µs, 200 µs…`, not `0.1 ms, 0.1 ms`).
pub(crate) fn axis_labels(total_ms: f64, steps: u32) -> Vec<String> {
    let steps = steps.max(1);
    let total_ms = if total_ms.is_finite() && total_ms > 0.0 {
        total_ms
    } else {
        0.0
    };
    let (unit, per_ms) = if total_ms >= 1000.0 {
        ("s", 1e-3)
    } else if total_ms >= 1.0 {
        ("ms", 1.0)
    } else {
        ("µs", 1e3)
    };
    let step = total_ms * per_ms / f64::from(steps);
    // Enough decimals that the step is at least one unit of the last digit:
    // then rounding keeps neighbours apart.
    let decimals = if step > 0.0 {
        (-step.log10()).ceil().clamp(0.0, 9.0) as usize
    } else {
        0
    };
    (0..=steps)
        .map(|i| format!("{:.*} {unit}", decimals, step * f64::from(i)))
        .collect()
}

pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Flattens `v` into indented, classed lines for the JSON viewer.
pub(crate) fn json_lines(
    v: &Json,
    key: Option<&str>,
    indent: usize,
    last: bool,
    out: &mut Vec<JsonLine>,
) {
    if out.len() >= MAX_JSON_LINES {
        if out.len() == MAX_JSON_LINES {
            out.push(JsonLine {
                indent,
                key: None,
                text: "… (truncated)".to_owned(),
                class: "punct",
                comma: false,
            });
        }
        return;
    }
    let line = |text: String, class: &'static str, key: Option<&str>, comma: bool| JsonLine {
        indent: indent.min(20),
        key: key.map(|k| Json::String(k.to_owned()).to_string()),
        text,
        class,
        comma,
    };
    match v {
        Json::Object(map) if !map.is_empty() => {
            out.push(line("{".to_owned(), "punct", key, false));
            let n = map.len();
            for (i, (k, v)) in map.iter().enumerate() {
                json_lines(v, Some(k), indent + 1, i + 1 == n, out);
            }
            out.push(line("}".to_owned(), "punct", None, !last));
        }
        Json::Array(items) if !items.is_empty() => {
            out.push(line("[".to_owned(), "punct", key, false));
            let n = items.len();
            for (i, v) in items.iter().enumerate() {
                json_lines(v, None, indent + 1, i + 1 == n, out);
            }
            out.push(line("]".to_owned(), "punct", None, !last));
        }
        Json::Object(_) => out.push(line("{}".to_owned(), "punct", key, !last)),
        Json::Array(_) => out.push(line("[]".to_owned(), "punct", key, !last)),
        Json::String(s) => {
            let shown: String = if s.chars().count() > MAX_JSON_STRING {
                let mut t: String = s.chars().take(MAX_JSON_STRING).collect();
                t.push('…');
                t
            } else {
                s.clone()
            };
            out.push(line(Json::String(shown).to_string(), "string", key, !last));
        }
        Json::Number(n) => out.push(line(n.to_string(), "number", key, !last)),
        Json::Bool(b) => out.push(line(b.to_string(), "bool", key, !last)),
        Json::Null => out.push(line("null".to_owned(), "null", key, !last)),
    }
}

/// Percent-encodes `s` for a URL path segment or query value (RFC 3986 unreserved kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`) of the non-empty pairs.
pub(crate) fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_viewer_lines_nest_and_end_with_commas_where_json_would() {
        let v = serde_json::json!({"a": 1, "b": [true, null], "c": {}});
        let mut out = Vec::new();
        json_lines(&v, None, 0, true, &mut out);
        let text: Vec<String> = out
            .iter()
            .map(|l| {
                format!(
                    "{}{}{}{}",
                    "  ".repeat(l.indent),
                    l.key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default(),
                    l.text,
                    if l.comma { "," } else { "" }
                )
            })
            .collect();
        let joined = text.join("\n");
        let reparsed: Json = serde_json::from_str(&joined).unwrap();
        assert_eq!(reparsed, v);
    }

    #[test]
    fn axis_ticks_adapt_their_precision_to_the_span() {
        let distinct = |labels: &[String]| labels.windows(2).all(|w| w[0] != w[1]);
        // The reported case: a sub-millisecond trace.
        let sub = axis_labels(0.4, 4);
        assert_eq!(sub, ["0 µs", "100 µs", "200 µs", "300 µs", "400 µs"]);
        let tiny = axis_labels(0.0042, 4);
        assert_eq!(tiny, ["0 µs", "1 µs", "2 µs", "3 µs", "4 µs"]);
        let ms = axis_labels(2.6, 4);
        assert_eq!(ms, ["0.0 ms", "0.7 ms", "1.3 ms", "2.0 ms", "2.6 ms"]);
        assert_eq!(
            axis_labels(0.04, 4),
            ["0 µs", "10 µs", "20 µs", "30 µs", "40 µs"]
        );
        assert_eq!(
            axis_labels(0.002, 4),
            ["0.0 µs", "0.5 µs", "1.0 µs", "1.5 µs", "2.0 µs"]
        );
        assert_eq!(
            axis_labels(480.0, 4),
            ["0 ms", "120 ms", "240 ms", "360 ms", "480 ms"]
        );
        assert_eq!(
            axis_labels(2500.0, 4),
            ["0.0 s", "0.6 s", "1.2 s", "1.9 s", "2.5 s"]
        );
        for total in [
            1e-6, 0.013, 0.1, 0.9999, 1.0, 3.3, 99.9, 999.0, 1000.0, 123_456.0,
        ] {
            let labels = axis_labels(total, 4);
            assert_eq!(labels.len(), 5);
            assert!(distinct(&labels), "{total} ms: {labels:?}");
        }
        // A zero-length trace has one meaningful tick, shown without noise.
        assert_eq!(axis_labels(0.0, 4)[4], "0 µs");
        assert_eq!(axis_labels(f64::NAN, 2), ["0 µs", "0 µs", "0 µs"]);
    }

    #[test]
    fn encode_keeps_unreserved_characters_only() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            query_string(&[
                ("x", Some("1".into())),
                ("y", None),
                ("z", Some(String::new()))
            ]),
            "?x=1"
        );
    }
}
