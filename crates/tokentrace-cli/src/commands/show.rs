//! `tokentrace show <trace-id>`: one trace as a span tree.

use anyhow::Context as _;
use tokentrace_store::{SpanRow, StoreErrorKind, Trace};

use crate::cli::ShowArgs;
use crate::commands::{emit, emit_json, open_store};
use crate::output::{self, Align, Style, Table};
use crate::timefmt;

/// Runs `tokentrace show`.
pub(crate) fn run(args: &ShowArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store.store)?;
    let given = args.trace_id.trim().to_ascii_lowercase();
    // A prefix (the dashboard shows 12 digits) is resolved to the one trace it names.
    let id = if given.len() == 32 {
        given
    } else {
        match store.resolve_trace_id(&given) {
            Ok(id) => id,
            Err(e) if e.kind() == StoreErrorKind::NotFound => anyhow::bail!(
                "no trace {given} in {} (list them with `tokentrace traces`)",
                args.store.store.display()
            ),
            Err(e) => return Err(e).context("cannot read the trace"),
        }
    };
    let trace = match store.get_trace(&id) {
        Ok(t) => t,
        Err(e) if e.kind() == StoreErrorKind::NotFound => anyhow::bail!(
            "no trace {id} in {} (list them with `tokentrace traces`)",
            args.store.store.display()
        ),
        Err(e) => return Err(e).context("cannot read the trace"),
    };
    if args.json {
        return emit_json(&trace);
    }
    emit(&render(&trace, Style::detect()))
}

/// The trace header and its span tree as text.
pub(crate) fn render(trace: &Trace, style: Style) -> String {
    let mut out = String::new();
    out.push_str(&style.bold(&format!(
        "trace {}  {}",
        trace.trace_id,
        output::sanitize(&trace.name)
    )));
    out.push('\n');
    out.push_str(&format!(
        "started {} UTC · {} · {} tokens · {} · {} spans · {} errors\n\n",
        timefmt::format_ns(trace.start_ns),
        output::millis(trace.latency_ms),
        output::count(trace.total_tokens),
        output::cost(trace.cost_usd),
        trace.spans.len(),
        trace.error_count,
    ));
    let mut table = Table::new(&[
        ("span", Align::Left),
        ("type", Align::Left),
        ("start", Align::Right),
        ("latency", Align::Right),
        ("model", Align::Left),
        ("tokens in/out", Align::Right),
        ("cost", Align::Right),
        ("status", Align::Left),
    ]);
    let prefixes = tree_prefixes(&trace.spans, style.fancy);
    for (span, prefix) in trace.spans.iter().zip(prefixes) {
        let offset_ms = (span.start_ns - trace.start_ns) as f64 / 1_000_000.0;
        let tokens = match (span.input_tokens, span.output_tokens, span.total_tokens) {
            (None, None, None) => String::new(),
            (i, o, _) => format!(
                "{}/{}",
                i.map_or_else(|| "-".to_owned(), output::count),
                o.map_or_else(|| "-".to_owned(), output::count)
            ),
        };
        let failed = span.status_code == "error";
        let status = if failed {
            match &span.status_message {
                Some(m) if !m.is_empty() => format!("error: {m}"),
                _ => "error".to_owned(),
            }
        } else {
            span.status_code.clone()
        };
        let is_workflow = span.span_type.as_deref() == Some("workflow");
        table.row(vec![
            format!("{prefix}{}", output::sanitize(&span.name)),
            span.span_type.clone().unwrap_or_else(|| span.kind.clone()),
            format!("+{}", output::millis(offset_ms)),
            output::millis(span.duration_ms),
            span.model.clone().unwrap_or_default(),
            if is_workflow { String::new() } else { tokens },
            match span.cost_usd {
                Some(c) if !is_workflow => output::cost(c),
                _ => String::new(),
            },
            status,
        ]);
        if failed {
            table.red_last(7);
        }
    }
    out.push_str(&table.render(style));
    out
}

/// Tree-drawing prefixes for spans in depth-first order (`├─ `, `└─ `, `│  `);
/// plain two-space indentation when `fancy` is off.
fn tree_prefixes(spans: &[SpanRow], fancy: bool) -> Vec<String> {
    if !fancy {
        return spans
            .iter()
            .map(|s| "  ".repeat(s.depth as usize))
            .collect();
    }
    // Whether the span at index i is the last child of its parent: no later
    // span at the same depth before the depth drops below it.
    let is_last = |i: usize| -> bool {
        let d = spans[i].depth;
        spans[i + 1..]
            .iter()
            .take_while(|s| s.depth >= d)
            .all(|s| s.depth != d)
    };
    let mut open: Vec<bool> = Vec::new(); // per ancestor depth: more siblings follow
    let mut out = Vec::with_capacity(spans.len());
    for (i, s) in spans.iter().enumerate() {
        let d = s.depth as usize;
        open.truncate(d);
        if d == 0 {
            out.push(String::new());
            open.push(false);
            continue;
        }
        let mut p = String::new();
        for &more in open.iter().skip(1) {
            p.push_str(if more { "│  " } else { "   " });
        }
        let last = is_last(i);
        p.push_str(if last { "└─ " } else { "├─ " });
        out.push(p);
        open.push(!last);
    }
    out
}
