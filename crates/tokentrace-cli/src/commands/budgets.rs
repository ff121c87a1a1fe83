//! `tokentrace budgets`: spend against each limit, and refusals, read from
//! the Redis state services share (docs/budgets.md).

use crate::budget_state::Source;
use crate::cli::BudgetsArgs;
use crate::commands::{emit, emit_json};
use crate::output::{self, Align, Style, Table};

/// Runs `tokentrace budgets`.
pub(crate) async fn run(args: &BudgetsArgs) -> anyhow::Result<()> {
    let source = Source::load(&args.config, args.redis.clone(), args.prefix.clone())?;
    let rows = source.rows().await?;
    if args.json {
        return emit_json(&rows);
    }
    if args.redis.is_none() {
        eprintln!(
            "no --redis: listing limits only (in-process budget state lives inside each service)"
        );
    }
    let mut table = Table::new(&[
        ("limit", Align::Left),
        ("key", Align::Left),
        ("window", Align::Left),
        ("mode", Align::Left),
        ("spent", Align::Right),
        ("reserved", Align::Right),
        ("cap", Align::Right),
        ("used", Align::Right),
        ("refusals", Align::Right),
    ]);
    let dash = || "-".to_owned();
    for r in &rows {
        table.row(vec![
            r.limit.clone(),
            r.key.clone(),
            r.window.clone(),
            r.mode.to_owned(),
            r.spent_usd.map_or_else(dash, output::cost),
            r.reserved_usd.map_or_else(dash, output::cost),
            output::cost(r.limit_usd),
            r.spent_usd
                .filter(|_| r.limit_usd > 0.0)
                .map_or_else(dash, |s| format!("{:.1}%", s / r.limit_usd * 100.0)),
            r.refusals.map_or_else(dash, output::count),
        ]);
    }
    emit(&table.render(Style::detect()))
}
