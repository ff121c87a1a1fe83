//! `tokentrace traces`: the trace listing.

use tokentrace_store::TraceFilter;

use crate::cli::TracesArgs;
use crate::commands::{emit, emit_json, open_store};
use crate::output::{self, Align, Style, Table};
use crate::timefmt;

/// Runs `tokentrace traces`.
pub(crate) fn run(args: &TracesArgs) -> anyhow::Result<()> {
    let filter = filter(args, timefmt::now_ns())?;
    let store = open_store(&args.store.store)?;
    let page = store.traces(&filter)?;
    if args.json {
        return emit_json(&page);
    }
    if page.items.is_empty() {
        if filter == TraceFilter::new().page(filter.limit, filter.offset) && filter.offset == 0 {
            eprintln!("the store has no traces yet (try `tokentrace demo`)");
        } else {
            eprintln!(
                "no traces match ({} in total match the filters)",
                page.total
            );
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        ("started (UTC)", Align::Left),
        ("trace id", Align::Left),
        ("workflow", Align::Left),
        ("user", Align::Left),
        ("session", Align::Left),
        ("model", Align::Left),
        ("spans", Align::Right),
        ("errors", Align::Right),
        ("latency", Align::Right),
        ("tokens", Align::Right),
        ("cost", Align::Right),
    ]);
    let style = Style::detect();
    for t in &page.items {
        table.row(vec![
            timefmt::format_ns(t.start_ns),
            t.trace_id.clone(),
            output::opt(t.workflow.as_deref().or(Some(t.name.as_str()))),
            output::opt(t.user_id.as_deref()),
            output::opt(t.session_id.as_deref()),
            output::opt(t.model.as_deref()),
            t.span_count.to_string(),
            t.error_count.to_string(),
            output::millis(t.latency_ms),
            output::count(t.total_tokens),
            output::cost(t.cost_usd),
        ]);
        if t.error_count > 0 {
            table.red_last(7);
        }
    }
    emit(&table.render(style))?;
    let first = page.offset + 1;
    let last = page.offset + table.len() as u64;
    if last < page.total {
        eprintln!(
            "traces {first}-{last} of {} (more with --offset {last})",
            page.total
        );
    } else {
        eprintln!("traces {first}-{last} of {}", page.total);
    }
    Ok(())
}

/// The store filter for the command-line filters.
fn filter(args: &TracesArgs, now_ns: i64) -> anyhow::Result<TraceFilter> {
    let mut f = TraceFilter::new()
        .errors_only(args.errors)
        .page(args.limit.clamp(1, 1000), args.offset);
    if let Some(v) = &args.workflow {
        f = f.workflow(v);
    }
    if let Some(v) = &args.user {
        f = f.user_id(v);
    }
    if let Some(v) = &args.session {
        f = f.session_id(v);
    }
    if let Some(v) = &args.model {
        f = f.model(v);
    }
    if let Some(v) = &args.provider {
        f = f.provider(v);
    }
    if let Some(v) = &args.search {
        f = f.text(v);
    }
    if let Some(v) = &args.since {
        let since = timefmt::parse_since(v, now_ns).map_err(anyhow::Error::msg)?;
        f = f.time_range(Some(since), None);
    }
    if let Some(v) = &args.until {
        let until = timefmt::parse_since(v, now_ns).map_err(anyhow::Error::msg)?;
        let since = f.since_ns;
        f = f.time_range(since, Some(until));
    }
    Ok(f)
}
