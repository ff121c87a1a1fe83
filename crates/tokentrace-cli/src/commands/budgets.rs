//! `tokentrace budgets`: spend against each limit, and refusals, read from
//! the Redis state services share (docs/budgets.md).

use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokentrace_core::budget::{BudgetConfig, Mode};
use tokentrace_reqwest::budget::Budgets;
use tokentrace_reqwest::budget::redis::RedisStore;

use crate::cli::BudgetsArgs;
use crate::commands::{emit, emit_json};
use crate::output::{self, Align, Style, Table};

/// One row: a limit and one key it applies to.
#[derive(Debug, Serialize)]
struct Row {
    limit: String,
    key: String,
    window: String,
    mode: &'static str,
    limit_usd: f64,
    /// `None` without `--redis`.
    spent_usd: Option<f64>,
    reserved_usd: Option<f64>,
    refusals: Option<u64>,
}

const fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Warn => "warn",
        _ => "enforce",
    }
}

/// Runs `tokentrace budgets`.
pub(crate) async fn run(args: &BudgetsArgs) -> anyhow::Result<()> {
    let config = BudgetConfig::from_file(&args.config)
        .with_context(|| format!("cannot use the budget file {}", args.config.display()))?;
    let rows = match &args.redis {
        Some(addr) => {
            let store = RedisStore::new(addr.clone())
                .timeout(Duration::from_secs(2))
                .connect_timeout(Duration::from_secs(2));
            let budgets = Budgets::with_store(config, store).prefix(args.prefix.clone());
            budgets
                .status()
                .await
                .with_context(|| format!("cannot read budget state from Redis at {addr}"))?
                .into_iter()
                .map(|s| Row {
                    limit: s.limit,
                    key: s.key,
                    window: s.window,
                    mode: mode_name(s.mode),
                    limit_usd: s.limit_usd,
                    spent_usd: Some(s.spent_usd),
                    reserved_usd: Some(s.reserved_usd),
                    refusals: Some(s.refusals),
                })
                .collect::<Vec<_>>()
        }
        None => config
            .limits
            .iter()
            .map(|l| Row {
                limit: l.name.clone(),
                key: l.value.as_ref().map_or_else(
                    || format!("{} (each)", l.scope.name()),
                    |v| format!("{}:{v}", l.scope.name()),
                ),
                window: l.window.name(),
                mode: mode_name(l.mode),
                limit_usd: l.usd,
                spent_usd: None,
                reserved_usd: None,
                refusals: None,
            })
            .collect(),
    };
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
