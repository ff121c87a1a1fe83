//! Budget state for the `budgets` command and the dashboard's `/budgets`
//! page: the budget file's limits and, with Redis, each key's spend.

use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokentrace_core::budget::{BudgetConfig, Mode};
use tokentrace_reqwest::budget::Budgets;
use tokentrace_reqwest::budget::redis::RedisStore;

/// One row: a limit and one key it applies to.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) limit: String,
    pub(crate) key: String,
    pub(crate) window: String,
    pub(crate) mode: &'static str,
    pub(crate) limit_usd: f64,
    /// `None` without `--redis`.
    pub(crate) spent_usd: Option<f64>,
    pub(crate) reserved_usd: Option<f64>,
    pub(crate) refusals: Option<u64>,
}

const fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Warn => "warn",
        _ => "enforce",
    }
}

/// Where budget state is read from: the budget file's limits, and the
/// Redis the services share (none: the limits alone).
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) config: BudgetConfig,
    pub(crate) redis: Option<String>,
    pub(crate) prefix: String,
}

impl Source {
    /// Reads the budget file at `path`.
    pub(crate) fn load(
        path: &std::path::Path,
        redis: Option<String>,
        prefix: String,
    ) -> anyhow::Result<Self> {
        let config = BudgetConfig::from_file(path)
            .with_context(|| format!("cannot use the budget file {}", path.display()))?;
        Ok(Self {
            config,
            redis,
            prefix,
        })
    }

    /// Every limit's rows: one per key seen in the current window with
    /// Redis, one per limit without.
    pub(crate) async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        let config = self.config.clone();
        Ok(match &self.redis {
            Some(addr) => {
                let store = RedisStore::new(addr.clone())
                    .timeout(Duration::from_secs(2))
                    .connect_timeout(Duration::from_secs(2));
                let budgets = Budgets::with_store(config, store).prefix(self.prefix.clone());
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
        })
    }
}
