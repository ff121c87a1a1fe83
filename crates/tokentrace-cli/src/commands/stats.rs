//! `tokentrace stats --by ...`: aggregates per group.

use tokentrace_store::{GroupBy, StatsRow, TraceFilter};

use crate::cli::{By, StatsArgs};
use crate::commands::{emit, emit_json, open_store};
use crate::output::{self, Align, Style, Table};
use crate::timefmt;

/// The store's grouping for the command-line choice.
pub(crate) fn group_by(by: By) -> GroupBy {
    match by {
        By::Workflow => GroupBy::Workflow,
        By::Model => GroupBy::Model,
        By::Provider => GroupBy::Provider,
        By::User => GroupBy::User,
        By::Session => GroupBy::Session,
        By::Day => GroupBy::Day,
        By::Step => GroupBy::Step,
    }
}

/// The store filter for `stats`' filters.
fn filter(args: &StatsArgs, now_ns: i64) -> anyhow::Result<TraceFilter> {
    let mut f = TraceFilter::new();
    f.workflow.clone_from(&args.workflow);
    f.user_id.clone_from(&args.user);
    f.session_id.clone_from(&args.session);
    f.model.clone_from(&args.model);
    f.provider.clone_from(&args.provider);
    let time = |v: &Option<String>| {
        v.as_deref()
            .map(|v| timefmt::parse_since(v, now_ns).map_err(anyhow::Error::msg))
            .transpose()
    };
    Ok(f.time_range(time(&args.since)?, time(&args.until)?))
}

/// Runs `tokentrace stats`.
pub(crate) fn run(args: &StatsArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store.store)?;
    let f = filter(args, timefmt::now_ns())?;
    let mut rows = store.breakdown(&f, group_by(args.by))?;
    if args.by == By::Day {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
    }
    if args.json {
        return emit_json(&rows);
    }
    if rows.is_empty() {
        eprintln!("nothing to aggregate yet (try `tokentrace demo`)");
        return Ok(());
    }
    emit(&table(args.by, &rows).render(Style::detect()))
}

/// The stats rows as a table whose first column is named after the grouping.
pub(crate) fn table(by: By, rows: &[StatsRow]) -> Table {
    let (key, counted) = match by {
        By::Workflow => ("workflow", "traces"),
        By::Model => ("model", "calls"),
        By::Provider => ("provider", "calls"),
        By::User => ("user", "traces"),
        By::Session => ("session", "traces"),
        By::Day => ("day (UTC)", "traces"),
        By::Step => ("workflow step", "runs"),
    };
    let mut table = Table::new(&[
        (key, Align::Left),
        (counted, Align::Right),
        ("errors", Align::Right),
        ("p50", Align::Right),
        ("p95", Align::Right),
        ("input tok", Align::Right),
        ("output tok", Align::Right),
        ("total tok", Align::Right),
        ("cost", Align::Right),
    ]);
    for r in rows {
        table.row(vec![
            r.key.clone(),
            output::count(r.count),
            format!("{} ({:.1}%)", r.errors, r.error_rate * 100.0),
            output::millis(r.latency_p50_ms),
            output::millis(r.latency_p95_ms),
            output::count(r.input_tokens),
            output::count(r.output_tokens),
            output::count(r.total_tokens),
            output::cost(r.cost_usd),
        ]);
    }
    table
}
