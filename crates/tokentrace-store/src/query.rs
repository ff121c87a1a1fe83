//! Read queries over the store (and `clear`; retention is in [`crate::retention`]).
//!
//! Every statement is a constant string or assembled from constant fragments;
//! user input only ever travels as bound parameters.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Row, TransactionBehavior, params_from_iter};

use crate::agg::{self, Dim, Histogram};
use crate::error::{StoreError, check_trace_id};
use crate::model::{
    ExportStats, GroupBy, ModelSeen, Page, Retention, SessionSummary, SpanRow, StatsRow, Trace,
    TraceFilter, TraceSort, TraceSummary,
};
use crate::{retention, schema};

const GET_TRACE_SQL: &str = "SELECT trace_id, span_id, parent_span_id, name, kind, status_code,
    status_message, start_ns, end_ns, duration_ms, service_name, attributes, events, workflow,
    span_type, provider, model, input_tokens, output_tokens, total_tokens, cost_usd
FROM spans WHERE trace_id = ?1 ORDER BY start_ns, span_id";

/// One dimension of the pre-aggregated statistics, in key order.
const STATS_SQL: &str = "SELECT key, count, errors, input_tokens, output_tokens, total_tokens,
    cost_usd, latency_hist
FROM stats_agg WHERE dim = ?1 ORDER BY key";

const SESSIONS_SQL: &str = "SELECT key, user_id, count, first_start_ns, last_start_ns,
    total_tokens, cost_usd
FROM stats_agg WHERE dim = 'session' ORDER BY last_start_ns DESC, key";

fn session_sql() -> String {
    format!(
        "SELECT {TRACE_COLUMNS} FROM traces t WHERE t.session_id = ?1 OR t.trace_id IN
         (SELECT k.trace_id FROM trace_keys k WHERE k.kind = 'session_id' AND k.value = ?1)
         ORDER BY t.start_ns, t.trace_id"
    )
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1000;

/// A handle on a tokentrace SQLite database, for reading (and clearing) it.
///
/// Opening never blocks the exporter: the database is in WAL mode, so readers
/// and the writer proceed concurrently. `Store` is `Send + Sync`; its one
/// connection is behind a mutex (open several `Store`s for parallel readers).
///
/// ```no_run
/// use tokentrace_store::{GroupBy, Store, TraceFilter};
///
/// let store = Store::open(".tokentrace/traces.db")?;
/// let page = store.traces(&TraceFilter::new().errors_only(true))?;
/// for t in &page.items {
///     let trace = store.get_trace(&t.trace_id)?;
///     println!("{} {:.1} ms ${:.4}", trace.name, trace.latency_ms, trace.cost_usd);
/// }
/// let by_model = store.stats(GroupBy::Model)?;
/// # Ok::<(), tokentrace_store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens the database at `path`, creating the file, its parent
    /// directories and the schema when missing.
    ///
    /// # Errors
    ///
    /// When the file cannot be created or opened ([`Io`](crate::StoreErrorKind::Io),
    /// [`Sqlite`](crate::StoreErrorKind::Sqlite)) or has a newer schema
    /// ([`Schema`](crate::StoreErrorKind::Schema)).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = schema::open(path.as_ref(), Duration::from_secs(5))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing store for reading, without changing the file: the
    /// connection is read-only, and a file that is not a tokentrace store is
    /// refused before anything is written (the CLI's `traces`, `show`,
    /// `stats`, `serve` use this). A store written by an older tokentrace is
    /// migrated once, as [`open`](Self::open) would.
    ///
    /// # Errors
    ///
    /// [`Io`](crate::StoreErrorKind::Io) when the file is missing or
    /// unreadable; [`NotAStore`](crate::StoreErrorKind::NotAStore) for an
    /// empty file or a SQLite database without tokentrace's tables;
    /// [`Corrupt`](crate::StoreErrorKind::Corrupt) for a damaged file or one
    /// that is not SQLite; [`Schema`](crate::StoreErrorKind::Schema) for a
    /// newer schema.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        match schema::open_read_only(path, Duration::from_secs(5))? {
            schema::ReadOnly::Current(conn) => Ok(Self {
                conn: Mutex::new(conn),
            }),
            schema::ReadOnly::Older => Self::open(path),
        }
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-query leaves no partial state in the connection that
        // matters to the next query.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One trace: totals and every span in tree order.
    ///
    /// # Errors
    ///
    /// [`InvalidTraceId`](crate::StoreErrorKind::InvalidTraceId) unless
    /// `trace_id` is 32 lowercase hex digits;
    /// [`NotFound`](crate::StoreErrorKind::NotFound) when no span has it.
    pub fn get_trace(&self, trace_id: &str) -> Result<Trace, StoreError> {
        check_trace_id(trace_id)?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(GET_TRACE_SQL)?;
        let rows = stmt
            .query_map([trace_id], span_row)?
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            return Err(StoreError::not_found("trace", trace_id));
        }
        let mut spans = Vec::with_capacity(rows.len());
        for (row, attributes, events) in rows {
            spans.push(SpanRow {
                attributes: serde_json::from_str(&attributes)?,
                events: serde_json::from_str(&events)?,
                ..row
            });
        }
        Ok(build_trace(trace_id, spans))
    }

    /// Traces matching `filter`, newest first, one page at a time.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn traces(&self, filter: &TraceFilter) -> Result<Page<TraceSummary>, StoreError> {
        let only_keys = filter.user_id.is_none()
            && filter.session_id.is_none()
            && filter.text.as_deref().is_none_or(str::is_empty)
            && !filter.errors_only
            && filter.sort == TraceSort::Newest;
        let keyed = [&filter.model, &filter.provider, &filter.workflow]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if only_keys && keyed == 1 {
            let (kind, values) = match (&filter.model, &filter.provider, &filter.workflow) {
                (Some(m), _, _) => ("model", self.matching_models(m)?),
                (_, Some(p), _) => ("provider", vec![p.clone()]),
                (_, _, Some(w)) => ("workflow", vec![w.clone()]),
                _ => unreachable!("exactly one of model, provider and workflow is set"),
            };
            if let [value] = &values[..] {
                return self.traces_by_key(kind, value, filter);
            }
        }
        let (where_sql, args) = self.filter_sql(filter)?;
        self.count_and_page(
            &traces_count_sql(&where_sql),
            &traces_page_sql(&where_sql, filter.sort),
            args,
            filter,
        )
    }

    /// The `WHERE` clause (empty, or starting with ` WHERE`) over `traces t`
    /// selecting the traces `filter` matches (its paging and sort aside), and
    /// its arguments.
    pub(crate) fn filter_sql(
        &self,
        filter: &TraceFilter,
    ) -> Result<(String, Vec<Sql>), StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<Sql> = Vec::new();
        // Binds `v` to every `?` of `clause`.
        let mut push = |clause: &str, v: Sql| {
            for _ in 1..clause.matches('?').count() {
                args.push(v.clone());
            }
            clauses.push(clause.to_owned());
            args.push(v);
        };
        if let Some(v) = &filter.workflow {
            // With a user or session (a few hundred traces), those drive and
            // the workflow is a key lookup per trace; otherwise the
            // workflow's keys drive.
            let clause = if filter.user_id.is_some() || filter.session_id.is_some() {
                WORKFLOW_EXISTS
            } else {
                WORKFLOW_CLAUSE
            };
            push(clause, Sql::Text(v.clone()));
        }
        for (kind, v) in [
            ("user_id", &filter.user_id),
            ("session_id", &filter.session_id),
            ("provider", &filter.provider),
        ] {
            if let Some(v) = v {
                push(key_clause(kind), Sql::Text(v.clone()));
            }
        }
        if let Some(v) = filter.since_ns {
            push("t.start_ns >= ?", Sql::Integer(v));
        }
        if let Some(v) = filter.until_ns {
            push("t.start_ns < ?", Sql::Integer(v));
        }
        if let Some(m) = &filter.model {
            let models = self.matching_models(m)?;
            let marks = vec!["?"; models.len()].join(", ");
            clauses.push(format!(
                "t.trace_id IN (SELECT k.trace_id FROM trace_keys k
                 WHERE k.kind = 'model' AND k.value IN ({marks}))"
            ));
            args.extend(models.into_iter().map(Sql::Text));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            // Names are plain text; attribute values sit in the JSON column
            // escaped (`"` as `\"`, `\` as `\\`), so they are matched in that form.
            let mut quoted = String::with_capacity(text.len() + 2);
            crate::encode::write_str(&mut quoted, text);
            let json_text = &quoted[1..quoted.len() - 1];
            clauses.push(
                "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id
                 AND (s.name LIKE ? ESCAPE '\\' OR s.attributes LIKE ? ESCAPE '\\'))"
                    .to_owned(),
            );
            args.push(Sql::Text(format!("%{}%", escape_like(text))));
            args.push(Sql::Text(format!("%{}%", escape_like(json_text))));
        }
        if filter.errors_only {
            clauses.push("t.error_count > 0".to_owned());
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        Ok((where_sql, args))
    }

    /// The stored models a model filter selects: the name itself, and dated
    /// versions of it (`gpt-4o` → `gpt-4o-2024-08-06`; `claude-sonnet-4-5` →
    /// `claude-sonnet-4-5-20250929`), but not other models sharing the prefix
    /// (`gpt-4o-mini`). Never empty: an unknown name stands for itself.
    pub(crate) fn matching_models(&self, model: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT key FROM stats_agg WHERE dim = 'model' AND key > ?1 AND key < ?1 || '.'",
        )?;
        let mut out = vec![model.to_owned()];
        for key in stmt.query_map([model], |r| r.get::<_, String>(0))? {
            let key = key?;
            if key
                .strip_prefix(model)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(is_version_suffix)
            {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Run a count query and a page query over the same arguments (the page
    /// query takes `LIMIT ? OFFSET ?` after them).
    fn count_and_page(
        &self,
        count_sql: &str,
        page_sql: &str,
        mut args: Vec<Sql>,
        filter: &TraceFilter,
    ) -> Result<Page<TraceSummary>, StoreError> {
        let limit = page_limit(filter);
        let conn = self.conn();
        let total: i64 = conn
            .prepare_cached(count_sql)?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
        args.push(Sql::Integer(i64::from(limit)));
        args.push(Sql::Integer(
            i64::try_from(filter.offset).unwrap_or(i64::MAX),
        ));
        let mut items = conn
            .prepare_cached(page_sql)?
            .query_map(params_from_iter(args.iter()), trace_summary)?
            .collect::<Result<Vec<_>, _>>()?;
        fill_models(&conn, &mut items)?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
            limit,
            offset: filter.offset,
        })
    }

    /// [`traces`](Self::traces) with one model or provider filter
    /// (and maybe a time range): walks `trace_keys` in start order, so
    /// neither the count nor the page touches non-matching traces.
    fn traces_by_key(
        &self,
        kind: &'static str,
        value: &str,
        filter: &TraceFilter,
    ) -> Result<Page<TraceSummary>, StoreError> {
        let mut where_sql = String::from("k.kind = ? AND k.value = ?");
        let mut args: Vec<Sql> = vec![Sql::Text(kind.to_owned()), Sql::Text(value.to_owned())];
        if let Some(v) = filter.since_ns {
            where_sql.push_str(" AND k.start_ns >= ?");
            args.push(Sql::Integer(v));
        }
        if let Some(v) = filter.until_ns {
            where_sql.push_str(" AND k.start_ns < ?");
            args.push(Sql::Integer(v));
        }
        self.count_and_page(
            &key_count_sql(&where_sql),
            &key_page_sql(&where_sql),
            args,
            filter,
        )
    }

    /// Aggregates per group: count, error rate, latency p50/p95, tokens, cost,
    /// ordered by key.
    ///
    /// Workflow, user, session and day group traces; model and provider group
    /// LLM spans (spans with a model or provider).
    ///
    /// Reads the `stats_agg` table the writer maintains, so the cost grows
    /// with the number of groups, not of spans. Percentiles are nearest-rank:
    /// exact while a group has held at most 64 latencies, then from a
    /// logarithmic histogram, within 1% of the exact value.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn stats(&self, group_by: GroupBy) -> Result<Vec<StatsRow>, StoreError> {
        let dim = match group_by {
            GroupBy::Workflow => Dim::Workflow,
            GroupBy::User => Dim::User,
            GroupBy::Session => Dim::Session,
            GroupBy::Day => Dim::Day,
            GroupBy::Model => Dim::Model,
            GroupBy::Provider => Dim::Provider,
            GroupBy::Step => {
                let mut rows = self.breakdown(&TraceFilter::new(), GroupBy::Step)?;
                rows.sort_by(|a, b| a.key.cmp(&b.key));
                return Ok(rows);
            }
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(STATS_SQL)?;
        let rows = stmt
            .query_map([dim.as_str()], |r| {
                let count = u64_col(r, 1)?;
                let errors = u64_col(r, 2)?;
                let hist = Histogram::decode(r.get_ref(7)?.as_blob()?);
                Ok(StatsRow {
                    key: r.get(0)?,
                    count,
                    errors,
                    error_rate: if count == 0 {
                        0.0
                    } else {
                        errors as f64 / count as f64
                    },
                    latency_p50_ms: hist.percentile(0.50),
                    latency_p95_ms: hist.percentile(0.95),
                    input_tokens: u64_col(r, 3)?,
                    output_tokens: u64_col(r, 4)?,
                    total_tokens: u64_col(r, 5)?,
                    cost_usd: clean_cost(r.get(6)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Workflows ordered by p95 latency, slowest first.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn slowest_workflows(&self, limit: usize) -> Result<Vec<StatsRow>, StoreError> {
        let mut rows = self.stats(GroupBy::Workflow)?;
        rows.sort_by(|a, b| {
            b.latency_p95_ms
                .total_cmp(&a.latency_p95_ms)
                .then_with(|| a.key.cmp(&b.key))
        });
        rows.truncate(limit);
        Ok(rows)
    }

    /// Every session, most recently active first.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn sessions(&self) -> Result<Vec<SessionSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(SESSIONS_SQL)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionSummary {
                    session_id: r.get(0)?,
                    user_id: r.get(1)?,
                    trace_count: u64_col(r, 2)?,
                    first_start_ns: r.get(3)?,
                    last_start_ns: r.get(4)?,
                    total_tokens: u64_col(r, 5)?,
                    cost_usd: clean_cost(r.get(6)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// A session's traces in the order they started.
    ///
    /// # Errors
    ///
    /// [`NotFound`](crate::StoreErrorKind::NotFound) when no trace has that session id.
    pub fn session(&self, session_id: &str) -> Result<Vec<TraceSummary>, StoreError> {
        let conn = self.conn();
        let sql = session_sql();
        let mut rows = conn
            .prepare_cached(&sql)?
            .query_map([session_id], trace_summary)?
            .collect::<Result<Vec<_>, _>>()?;
        fill_models(&conn, &mut rows)?;
        if rows.is_empty() {
            return Err(StoreError::not_found("session", session_id));
        }
        Ok(rows)
    }

    /// Models seen on stored spans with their span counts, for checking the price catalogue.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn models_seen(&self) -> Result<Vec<ModelSeen>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT provider, model, COUNT(*),
                    SUM(json_extract(attributes, '$.\"cost.unknown_model\"') = 1)
             FROM spans WHERE model IS NOT NULL AND span_type IN ('llm', 'vector')
             GROUP BY provider, model ORDER BY model, provider",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ModelSeen {
                    provider: r.get(0)?,
                    model: r.get(1)?,
                    spans: u64_col(r, 2)?,
                    unpriced_spans: u64_col(r, 3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The metric summaries [`StoreMetricExporter`](crate::StoreMetricExporter)
    /// keeps, by name then attributes.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn metrics(&self) -> Result<Vec<crate::MetricSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT name, attributes, kind, count, sum FROM metrics ORDER BY name, attributes",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let attributes: String = r.get(1)?;
                Ok(crate::MetricSummary {
                    name: r.get(0)?,
                    attributes: serde_json::from_str(&attributes)
                        .unwrap_or(serde_json::Value::Null),
                    kind: r.get(2)?,
                    count: u64_col(r, 3)?,
                    sum: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The exporter counters persisted in the `meta` table (summed over every
    /// process that wrote to this file).
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn export_stats(&self) -> Result<ExportStats, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key, value FROM meta")?;
        let map = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, u64_col(r, 1)?)))?
            .collect::<Result<HashMap<_, _>, _>>()?;
        let get = |k: &str| map.get(k).copied().unwrap_or(0);
        Ok(ExportStats {
            written_spans: get("written_spans"),
            dropped_spans: get("dropped_spans"),
            failed_spans: get("failed_spans"),
            failed_batches: get("failed_batches"),
            upstream_dropped_spans: get("upstream_dropped_spans"),
            retention_deleted_spans: get("retention_deleted_spans"),
        })
    }

    /// Number of spans stored.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn span_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        Ok(conn.query_row("SELECT COUNT(*) FROM spans", [], |r| u64_col(r, 0))?)
    }

    /// Deletes every span and trace; returns the number of spans deleted.
    ///
    /// # Errors
    ///
    /// When SQLite fails (for example the writer holds the lock past the busy timeout).
    pub fn clear(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM spans", [])?;
        tx.execute("DELETE FROM traces", [])?;
        tx.execute("DELETE FROM trace_keys", [])?;
        tx.execute("DELETE FROM stats_agg", [])?;
        tx.execute("DELETE FROM stats_hourly", [])?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Applies `retention` now; returns the number of spans deleted. The
    /// exporter does this in the background when given a retention.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn apply_retention(&self, retention: &Retention) -> Result<u64, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Ok(retention::apply(&mut self.conn(), retention, now)?)
    }
}

fn traces_count_sql(where_sql: &str) -> String {
    format!("SELECT COUNT(*) FROM traces t{where_sql}")
}

fn traces_page_sql(where_sql: &str, sort: TraceSort) -> String {
    format!(
        "SELECT {TRACE_COLUMNS} FROM traces t{where_sql}
         ORDER BY {} LIMIT ? OFFSET ?",
        sort.order_sql()
    )
}

/// [`WORKFLOW_CLAUSE`] as a lookup per trace (for when another filter drives).
const WORKFLOW_EXISTS: &str = "EXISTS (SELECT 1 FROM trace_keys k
     WHERE k.trace_id = t.trace_id AND k.kind = 'workflow' AND k.value = ?)";

/// A trace whose workflow is `?`, or with a nested `#[workflow]` step named `?`
/// (`trace_keys` holds both under kind `workflow`).
const WORKFLOW_CLAUSE: &str = "t.trace_id IN (SELECT k.trace_id FROM trace_keys k
     WHERE k.kind = 'workflow' AND k.value = ?)";

/// A model-name suffix that marks a version of the same model: a date
/// (`2024-08-06`, `20250929`), a short version number (`001`), or `latest`.
fn is_version_suffix(rest: &str) -> bool {
    rest == "latest"
        || (!rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            && rest.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

/// A cost as reported: never negative or `-0.0` (sums that cancel out in
/// floating point leave `-0.0` or `-1e-20`).
pub(crate) fn clean_cost(v: f64) -> f64 {
    if v > 0.0 { v } else { 0.0 }
}

fn key_count_sql(where_sql: &str) -> String {
    format!("SELECT COUNT(*) FROM trace_keys k WHERE {where_sql}")
}

/// CROSS JOIN keeps trace_keys outer: its (kind, value, start_ns, trace_id)
/// index yields the rows already in page order.
fn key_page_sql(where_sql: &str) -> String {
    format!(
        "SELECT {TRACE_COLUMNS} FROM trace_keys k CROSS JOIN traces t
         ON t.trace_id = k.trace_id WHERE {where_sql}
         ORDER BY k.start_ns DESC, k.trace_id DESC LIMIT ? OFFSET ?"
    )
}

/// `traces` filter: some span of the trace has `kind` = the bound value
/// (bound once per `?`).
fn key_clause(kind: &'static str) -> &'static str {
    match kind {
        "user_id" => {
            "(t.user_id = ? OR t.trace_id IN (SELECT k.trace_id FROM trace_keys k
             WHERE k.kind = 'user_id' AND k.value = ?))"
        }
        "session_id" => {
            "(t.session_id = ? OR t.trace_id IN (SELECT k.trace_id FROM trace_keys k
             WHERE k.kind = 'session_id' AND k.value = ?))"
        }
        "model" => {
            "t.trace_id IN (SELECT k.trace_id FROM trace_keys k
             WHERE k.kind = 'model' AND k.value = ?)"
        }
        _ => {
            "t.trace_id IN (SELECT k.trace_id FROM trace_keys k
             WHERE k.kind = 'provider' AND k.value = ?)"
        }
    }
}

const TRACE_COLUMNS: &str = "t.trace_id, t.name, t.workflow, t.service_name, t.start_ns,
    t.duration_ms, t.span_count, t.error_count, t.input_tokens, t.output_tokens,
    t.total_tokens, t.cost_usd, t.user_id, t.session_id, t.model, t.provider";

fn trace_summary(r: &Row<'_>) -> rusqlite::Result<TraceSummary> {
    Ok(TraceSummary {
        trace_id: r.get(0)?,
        name: r.get(1)?,
        workflow: r.get(2)?,
        service_name: r.get(3)?,
        start_ns: r.get(4)?,
        latency_ms: r.get(5)?,
        span_count: u64_col(r, 6)?,
        error_count: u64_col(r, 7)?,
        input_tokens: u64_col(r, 8)?,
        output_tokens: u64_col(r, 9)?,
        total_tokens: u64_col(r, 10)?,
        cost_usd: clean_cost(r.get(11)?),
        user_id: r.get(12)?,
        session_id: r.get(13)?,
        model: r.get(14)?,
        provider: r.get(15)?,
        models: Vec::new(),
    })
}

/// Sets each summary's `models` (main model first: most cost, then most
/// calls, then name) and `model` (the main one).
pub(crate) fn fill_models(conn: &Connection, items: &mut [TraceSummary]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT model, SUM(COALESCE(cost_usd, 0)) AS c, COUNT(*) AS n FROM spans
         WHERE trace_id = ?1 AND model IS NOT NULL AND span_type IN ('llm', 'vector')
         GROUP BY model ORDER BY c DESC, n DESC, model",
    )?;
    for t in items {
        t.models = stmt
            .query_map([&t.trace_id], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        t.model = t.models.first().cloned();
    }
    Ok(())
}

fn u64_col(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, Option<i64>>(i)?
        .map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

fn opt_u64(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    Ok(r.get::<_, Option<i64>>(i)?
        .map(|v| u64::try_from(v).unwrap_or(0)))
}

fn span_row(r: &Row<'_>) -> rusqlite::Result<(SpanRow, String, String)> {
    Ok((
        SpanRow {
            trace_id: r.get(0)?,
            span_id: r.get(1)?,
            parent_span_id: r.get(2)?,
            depth: 0,
            name: r.get(3)?,
            kind: r.get(4)?,
            status_code: r.get(5)?,
            status_message: r.get(6)?,
            start_ns: r.get(7)?,
            end_ns: r.get(8)?,
            duration_ms: r.get(9)?,
            service_name: r.get(10)?,
            attributes: serde_json::Value::Null,
            events: serde_json::Value::Null,
            workflow: r.get(13)?,
            span_type: r.get(14)?,
            provider: r.get(15)?,
            model: r.get(16)?,
            input_tokens: opt_u64(r, 17)?,
            output_tokens: opt_u64(r, 18)?,
            total_tokens: opt_u64(r, 19)?,
            cost_usd: r.get(20)?,
        },
        r.get(11)?,
        r.get(12)?,
    ))
}

/// Orders `spans` (sorted by start) depth first and computes the totals.
fn build_trace(trace_id: &str, spans: Vec<SpanRow>) -> Trace {
    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.parent_span_id.as_deref().and_then(|p| index.get(p)) {
            Some(&p) if p != i => children[p].push(i),
            // No parent, a remote parent, or a parent not (yet) stored.
            _ => roots.push(i),
        }
    }
    let mut order: Vec<(usize, u32)> = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    let mut stack: Vec<(usize, u32)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[i], true) {
            continue;
        }
        order.push((i, depth));
        for &c in children[i].iter().rev() {
            stack.push((c, depth + 1));
        }
    }
    // A parent cycle (corrupt data) leaves spans unvisited: list them as roots.
    for (i, seen) in visited.iter().enumerate() {
        if !seen {
            order.push((i, 0));
        }
    }
    let start_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end_ns = spans.iter().map(|s| s.end_ns).max().unwrap_or(start_ns);
    let counted = |s: &&SpanRow| agg::is_counted(s.span_type.as_deref());
    let total_tokens = spans
        .iter()
        .filter(counted)
        .filter_map(|s| s.total_tokens)
        .sum();
    let cost_usd = spans
        .iter()
        .filter(counted)
        .filter_map(|s| s.cost_usd)
        .sum();
    let error_count = spans.iter().filter(|s| s.status_code == "error").count() as u64;
    let (name, workflow) = roots
        .first()
        .map(|&r| (spans[r].name.clone(), spans[r].workflow.clone()))
        .unwrap_or_default();
    let mut slots: Vec<Option<SpanRow>> = spans.into_iter().map(Some).collect();
    let ordered = order
        .into_iter()
        .filter_map(|(i, depth)| {
            slots[i].take().map(|mut s| {
                s.depth = depth;
                s
            })
        })
        .collect();
    Trace {
        trace_id: trace_id.to_owned(),
        name,
        workflow,
        start_ns,
        latency_ms: (end_ns - start_ns) as f64 / 1_000_000.0,
        total_tokens,
        cost_usd: clean_cost(cost_usd),
        error_count,
        spans: ordered,
    }
}

pub(crate) fn page_limit(filter: &TraceFilter) -> u32 {
    match filter.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every dashboard query reads through an index (or the aggregate
    /// table's key): no plain `SCAN` of a table.
    #[test]
    fn dashboard_queries_use_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db")).unwrap();
        let conn = store.conn();
        let where_ = |c: &str| format!(" WHERE {c}");
        let mut queries = vec![
            GET_TRACE_SQL.to_owned(),
            STATS_SQL.to_owned(),
            SESSIONS_SQL.to_owned(),
            session_sql(),
            key_count_sql("k.kind = ? AND k.value = ?"),
            key_page_sql("k.kind = ? AND k.value = ? AND k.start_ns >= ?"),
        ];
        for w in [
            String::new(),
            where_("t.workflow = ?"),
            where_("t.error_count > 0"),
            where_("t.start_ns >= ? AND t.start_ns < ?"),
            where_(key_clause("user_id")),
            where_(key_clause("session_id")),
            where_(&format!("{} AND {WORKFLOW_CLAUSE}", key_clause("provider"))),
            where_(&format!("{} AND {WORKFLOW_EXISTS}", key_clause("user_id"))),
            where_(&format!(
                "{} AND {WORKFLOW_EXISTS}",
                key_clause("session_id")
            )),
        ] {
            queries.push(traces_count_sql(&w));
            for sort in TraceSort::ALL {
                queries.push(traces_page_sql(&w, sort));
            }
        }
        for sql in &queries {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let nulls = vec![Sql::Null; stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(nulls), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(!plan.is_empty());
            for step in &plan {
                let full_scan = step.starts_with("SCAN") && !step.contains("INDEX");
                assert!(!full_scan, "{step}\nin the plan of\n{sql}\n{plan:#?}");
            }
        }
    }

    #[test]
    fn costs_are_never_negative_zero() {
        for v in [-0.0, 0.0, -1e-20, f64::NAN] {
            let c = clean_cost(v);
            assert!(c == 0.0 && c.is_sign_positive(), "{v}");
        }
        assert_eq!(clean_cost(1.8e-7), 1.8e-7);
        assert_eq!(
            serde_json::to_string(&clean_cost(0.1 + 0.2 - 0.3 - 5.551115123125783e-17)).unwrap(),
            "0.0"
        );
    }

    #[test]
    fn version_suffixes_are_dates_or_numbers() {
        for ok in ["2024-08-06", "20250929", "001", "latest"] {
            assert!(is_version_suffix(ok), "{ok}");
        }
        for no in ["mini", "mini-2024-07-18", "", "-1", "2024-08-06-preview"] {
            assert!(!is_version_suffix(no), "{no}");
        }
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
