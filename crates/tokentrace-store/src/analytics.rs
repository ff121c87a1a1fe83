//! Filtered analytics: totals, breakdowns and time series over the traces a
//! [`TraceFilter`] selects, sessions pages, a session as a conversation,
//! trace-id prefixes and `VACUUM`.
//!
//! Two paths answer the same questions. A filter with nothing but a time range
//! on whole UTC hours (or nothing at all) reads the `stats_hourly` (and
//! `stats_agg`) rows the writer maintains, so its cost grows with hours ×
//! groups, not with spans. Any other filter scans the matching traces (and
//! their LLM or workflow spans) through the listing's indexes.

use std::collections::HashMap;

use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, params_from_iter};
use tokentrace_core::semconv;

use crate::agg::{HOUR_NS, HOURLY_ALL, Histogram};
use crate::error::{StoreError, StoreErrorKind};
use crate::model::{
    GroupBy, Interval, Page, SessionSummary, StatsRow, TimeBucket, TraceFilter, TraceTotals, Turn,
};
use crate::query::{Store, clean_cost};

/// Counters and latencies of one group.
#[derive(Debug, Default)]
struct Acc {
    count: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    total_tokens: u64,
    cost_usd: f64,
    hist: Histogram,
}

/// One contribution read by a scan (a trace, an LLM span or a workflow span).
#[derive(Debug)]
struct Item {
    start_ns: i64,
    latency_ms: f64,
    error: bool,
    input_tokens: u64,
    output_tokens: u64,
    total_tokens: u64,
    cost_usd: f64,
}

impl Acc {
    fn add(&mut self, it: &Item) {
        self.count += 1;
        self.errors += u64::from(it.error);
        self.input_tokens += it.input_tokens;
        self.output_tokens += it.output_tokens;
        self.total_tokens += it.total_tokens;
        self.cost_usd += it.cost_usd;
        self.hist.add(it.latency_ms);
    }

    fn merge(&mut self, o: &Self) {
        self.count += o.count;
        self.errors += o.errors;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.total_tokens += o.total_tokens;
        self.cost_usd += o.cost_usd;
        self.hist.merge(&o.hist);
    }

    fn row(&self, key: String) -> StatsRow {
        StatsRow {
            key,
            count: self.count,
            errors: self.errors,
            error_rate: if self.count == 0 {
                0.0
            } else {
                self.errors as f64 / self.count as f64
            },
            latency_p50_ms: self.hist.percentile(0.50),
            latency_p95_ms: self.hist.percentile(0.95),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            total_tokens: self.total_tokens,
            cost_usd: clean_cost(self.cost_usd),
        }
    }

    fn totals(&self) -> TraceTotals {
        TraceTotals {
            traces: self.count,
            errors: self.errors,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            total_tokens: self.total_tokens,
            cost_usd: clean_cost(self.cost_usd),
            latency_p50_ms: self.hist.percentile(0.50),
            latency_p95_ms: self.hist.percentile(0.95),
        }
    }
}

/// Where a grouping's contributions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// One per trace.
    Trace,
    /// One per LLM span (spans with a model or provider).
    Llm,
    /// One per `#[workflow]` span, with its roll-ups.
    Step,
}

fn level(g: GroupBy) -> Level {
    match g {
        GroupBy::Model | GroupBy::Provider => Level::Llm,
        GroupBy::Step => Level::Step,
        GroupBy::Workflow | GroupBy::User | GroupBy::Session | GroupBy::Day => Level::Trace,
    }
}

/// The `stats_hourly` dimension of a grouping, when it has one.
fn hourly_dim(g: Option<GroupBy>) -> Option<&'static str> {
    match g {
        None => Some(HOURLY_ALL),
        Some(GroupBy::Workflow) => Some("workflow"),
        Some(GroupBy::User) => Some("user"),
        Some(GroupBy::Model) => Some("model"),
        Some(GroupBy::Provider) => Some("provider"),
        Some(GroupBy::Session | GroupBy::Day | GroupBy::Step) => None,
    }
}

/// The hour range `[from, to)` a filter covers when the hourly aggregates can
/// answer it: no filter but a time range on whole hours.
fn hourly_range(f: &TraceFilter) -> Option<(i64, i64)> {
    let only_time = f.workflow.is_none()
        && f.user_id.is_none()
        && f.session_id.is_none()
        && f.model.is_none()
        && f.provider.is_none()
        && !f.errors_only
        && f.text.as_deref().is_none_or(str::is_empty);
    let aligned = |v: Option<i64>| v.is_none_or(|v| v.rem_euclid(HOUR_NS) == 0);
    (only_time && aligned(f.since_ns) && aligned(f.until_ns)).then(|| {
        (
            f.since_ns.map_or(i64::MIN, |v| v.div_euclid(HOUR_NS)),
            f.until_ns.map_or(i64::MAX, |v| v.div_euclid(HOUR_NS)),
        )
    })
}

fn to_u64(v: Option<i64>) -> u64 {
    v.map_or(0, |v| u64::try_from(v).unwrap_or(0))
}

/// Keeps `key` when the filter restricts the same dimension (a model
/// breakdown of a model-filtered set lists only the matching models).
fn keep_key(allowed: Option<&[String]>, key: Option<&str>) -> bool {
    match (allowed, key) {
        (None, _) => true,
        (Some(list), Some(k)) => list.iter().any(|v| v == k),
        (Some(_), None) => false,
    }
}

impl Store {
    /// Totals (traces, errors, tokens, cost, latency p50/p95) of the traces
    /// `filter` selects (its page and sort are ignored).
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn trace_totals(&self, filter: &TraceFilter) -> Result<TraceTotals, StoreError> {
        let groups = self.grouped(filter, None, None)?;
        let mut acc = Acc::default();
        for g in groups.values() {
            acc.merge(g);
        }
        Ok(acc.totals())
    }

    /// Aggregates of the traces `filter` selects, per group, most expensive
    /// first (then most counted, then by key).
    ///
    /// Trace-level groupings (workflow, user, session, day) count traces;
    /// model and provider count LLM spans (restricted to the filter's model
    /// or provider when it has one); [`GroupBy::Step`] counts `#[workflow]`
    /// spans, root and nested, by workflow name, with their roll-ups.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn breakdown(
        &self,
        filter: &TraceFilter,
        group_by: GroupBy,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let unfiltered = hourly_range(filter) == Some((i64::MIN, i64::MAX));
        let mut rows = if unfiltered && group_by != GroupBy::Step {
            self.stats(group_by)?
        } else {
            self.grouped(filter, Some(group_by), None)?
                .into_iter()
                .map(|((_, k), acc)| acc.row(k))
                .collect()
        };
        rows.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(rows)
    }

    /// Traces, errors, tokens, cost and latency p50/p95 per UTC hour or day
    /// of the traces `filter` selects, oldest first, with empty buckets
    /// between the first and last (or the filter's range, at most 2000
    /// buckets) included. With `stack`, each bucket also splits its cost by
    /// that grouping (model, provider, user, workflow, step or session).
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn timeseries(
        &self,
        filter: &TraceFilter,
        interval: Interval,
        stack: Option<GroupBy>,
    ) -> Result<Vec<TimeBucket>, StoreError> {
        let width = interval.nanos();
        let stack = stack.filter(|g| *g != GroupBy::Day);
        let totals = self.grouped(filter, None, Some(width))?;
        let stacked = match stack {
            Some(g) => self.grouped(filter, Some(g), Some(width))?,
            None => HashMap::new(),
        };
        let mut buckets: std::collections::BTreeMap<i64, TimeBucket> = totals
            .iter()
            .map(|((b, _), acc)| {
                let t = acc.totals();
                (
                    *b,
                    TimeBucket {
                        start_ns: *b,
                        traces: t.traces,
                        errors: t.errors,
                        total_tokens: t.total_tokens,
                        cost_usd: t.cost_usd,
                        latency_p50_ms: t.latency_p50_ms,
                        latency_p95_ms: t.latency_p95_ms,
                        stack: Vec::new(),
                    },
                )
            })
            .collect();
        for ((b, key), acc) in stacked {
            let bucket = buckets.entry(b).or_insert_with(|| empty_bucket(b));
            bucket.stack.push((key, clean_cost(acc.cost_usd)));
        }
        for b in buckets.values_mut() {
            b.stack
                .sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        }
        // Fill the gaps so a chart's x axis is time.
        let first = filter
            .since_ns
            .map(|v| v.div_euclid(width) * width)
            .or_else(|| buckets.keys().next().copied());
        let last = filter
            .until_ns
            .map(|v| (v - 1).div_euclid(width) * width)
            .or_else(|| buckets.keys().next_back().copied());
        if let (Some(first), Some(last)) = (first, last)
            && first <= last
            && (last - first) / width < 2000
        {
            let mut b = first;
            while b <= last {
                buckets.entry(b).or_insert_with(|| empty_bucket(b));
                b += width;
            }
        }
        Ok(buckets.into_values().collect())
    }

    /// Groups contributions by (time bucket, key): the bucket is 0 without
    /// `width`, the key `""` without `group_by`.
    fn grouped(
        &self,
        filter: &TraceFilter,
        group_by: Option<GroupBy>,
        width: Option<i64>,
    ) -> Result<HashMap<(i64, String), Acc>, StoreError> {
        if let (Some((from, to)), Some(dim)) = (hourly_range(filter), hourly_dim(group_by)) {
            return self.grouped_hourly(dim, from, to, width);
        }
        let (where_sql, args) = self.filter_sql(filter)?;
        let lvl = group_by.map_or(Level::Trace, level);
        let sql = match lvl {
            Level::Trace => format!(
                "SELECT t.start_ns, t.duration_ms, t.error_count > 0, t.input_tokens,
                        t.output_tokens, t.total_tokens, t.cost_usd, {}
                 FROM traces t{where_sql}",
                match group_by {
                    Some(GroupBy::Workflow) => "t.workflow",
                    Some(GroupBy::User) => "t.user_id",
                    Some(GroupBy::Session) => "t.session_id",
                    _ => "NULL",
                }
            ),
            Level::Llm => format!(
                "SELECT s.start_ns, s.duration_ms, s.status_code = 'error', s.input_tokens,
                        s.output_tokens, s.total_tokens, s.cost_usd, {}
                 FROM traces t JOIN spans s ON s.trace_id = t.trace_id
                     AND (s.model IS NOT NULL OR s.provider IS NOT NULL)
                     AND s.{}{where_sql}",
                if group_by == Some(GroupBy::Provider) {
                    "s.provider"
                } else {
                    "s.model"
                },
                crate::agg::COUNTED_SPAN,
            ),
            Level::Step => {
                let j = |k: &str| format!("json_extract(s.attributes, '$.\"{k}\"')");
                format!(
                    "SELECT s.start_ns, s.duration_ms, s.status_code = 'error', {}, {}, {}, {},
                            s.workflow
                     FROM traces t JOIN spans s ON s.trace_id = t.trace_id
                         AND s.span_type = 'workflow'{where_sql}",
                    j(semconv::ROLLUP_INPUT_TOKENS),
                    j(semconv::ROLLUP_OUTPUT_TOKENS),
                    j(semconv::ROLLUP_TOTAL_TOKENS),
                    j(semconv::ROLLUP_COST_USD),
                )
            }
        };
        let allowed = match group_by {
            Some(GroupBy::Model) => match &filter.model {
                Some(m) => Some(self.matching_models(m)?),
                None => None,
            },
            Some(GroupBy::Provider) => filter.provider.clone().map(|p| vec![p]),
            _ => None,
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        let mut out: HashMap<(i64, String), Acc> = HashMap::new();
        while let Some(r) = rows.next()? {
            let key: Option<String> = r.get(7)?;
            if !keep_key(allowed.as_deref(), key.as_deref()) {
                continue;
            }
            let it = Item {
                start_ns: r.get(0)?,
                latency_ms: r.get(1)?,
                error: r.get(2)?,
                input_tokens: to_u64(r.get(3)?),
                output_tokens: to_u64(r.get(4)?),
                total_tokens: to_u64(r.get(5)?),
                cost_usd: r.get::<_, Option<f64>>(6)?.unwrap_or(0.0),
            };
            let key = match group_by {
                None => String::new(),
                Some(GroupBy::Day) => crate::agg::day_key(it.start_ns),
                Some(_) => match key {
                    Some(k) => k,
                    None => continue,
                },
            };
            let b = width.map_or(0, |w| it.start_ns.div_euclid(w) * w);
            out.entry((b, key)).or_default().add(&it);
        }
        Ok(out)
    }

    fn grouped_hourly(
        &self,
        dim: &str,
        from: i64,
        to: i64,
        width: Option<i64>,
    ) -> Result<HashMap<(i64, String), Acc>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT hour, key, count, errors, input_tokens, output_tokens, total_tokens,
                    cost_usd, latency_hist
             FROM stats_hourly WHERE dim = ?1 AND hour >= ?2 AND hour < ?3",
        )?;
        let mut rows = stmt.query(rusqlite::params![dim, from, to])?;
        let mut out: HashMap<(i64, String), Acc> = HashMap::new();
        while let Some(r) = rows.next()? {
            let hour: i64 = r.get(0)?;
            let start = hour.saturating_mul(HOUR_NS);
            let b = width.map_or(0, |w| start.div_euclid(w) * w);
            let acc = Acc {
                count: to_u64(r.get(2)?),
                errors: to_u64(r.get(3)?),
                input_tokens: to_u64(r.get(4)?),
                output_tokens: to_u64(r.get(5)?),
                total_tokens: to_u64(r.get(6)?),
                cost_usd: r.get(7)?,
                hist: Histogram::decode(r.get_ref(8)?.as_blob().map_err(rusqlite::Error::from)?),
            };
            out.entry((b, r.get(1)?)).or_default().merge(&acc);
        }
        Ok(out)
    }

    /// Sessions, most recently active first, one page at a time. `filter`'s
    /// `text` matches a substring of the session or user id, `user_id` the
    /// user exactly; `since_ns`/`until_ns` keep sessions active in that range;
    /// `limit`/`offset` page. Other fields are ignored.
    ///
    /// # Errors
    ///
    /// When SQLite fails.
    pub fn sessions_page(&self, filter: &TraceFilter) -> Result<Page<SessionSummary>, StoreError> {
        let mut clauses = vec!["dim = 'session'".to_owned()];
        let mut args: Vec<Sql> = Vec::new();
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            clauses.push(
                "(key LIKE ?1 ESCAPE '\\' OR COALESCE(user_id, '') LIKE ?1 ESCAPE '\\')"
                    .replace("?1", &format!("?{}", args.len() + 1)),
            );
            args.push(Sql::Text(format!("%{}%", crate::query::escape_like(text))));
        }
        if let Some(u) = &filter.user_id {
            clauses.push(format!("user_id = ?{}", args.len() + 1));
            args.push(Sql::Text(u.clone()));
        }
        if let Some(v) = filter.since_ns {
            clauses.push(format!("last_start_ns >= ?{}", args.len() + 1));
            args.push(Sql::Integer(v));
        }
        if let Some(v) = filter.until_ns {
            clauses.push(format!("first_start_ns < ?{}", args.len() + 1));
            args.push(Sql::Integer(v));
        }
        let where_sql = clauses.join(" AND ");
        let limit = crate::query::page_limit(filter);
        let conn = self.conn();
        let total: i64 = conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM stats_agg WHERE {where_sql}"))?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
        let n = args.len();
        args.push(Sql::Integer(i64::from(limit)));
        args.push(Sql::Integer(
            i64::try_from(filter.offset).unwrap_or(i64::MAX),
        ));
        let items = conn
            .prepare_cached(&format!(
                "SELECT key, user_id, count, first_start_ns, last_start_ns, total_tokens, cost_usd
                 FROM stats_agg WHERE {where_sql}
                 ORDER BY last_start_ns DESC, key LIMIT ?{} OFFSET ?{}",
                n + 1,
                n + 2
            ))?
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(SessionSummary {
                    session_id: r.get(0)?,
                    user_id: r.get(1)?,
                    trace_count: to_u64(r.get(2)?),
                    first_start_ns: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    last_start_ns: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    total_tokens: to_u64(r.get(5)?),
                    cost_usd: clean_cost(r.get(6)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
            limit,
            offset: filter.offset,
        })
    }

    /// A session as a conversation: its traces in the order they started,
    /// each with the captured input and output (when content capture was on).
    ///
    /// # Errors
    ///
    /// [`NotFound`](crate::StoreErrorKind::NotFound) when no trace has that session id.
    pub fn conversation(&self, session_id: &str) -> Result<Vec<Turn>, StoreError> {
        let traces = self.session(session_id)?;
        let conn = self.conn();
        let content = |key: &str| format!("json_extract(attributes, '$.\"{key}\"')");
        let input_sql = format!(
            "SELECT COALESCE({}, {}) AS v FROM spans WHERE trace_id = ?1 AND v IS NOT NULL
             ORDER BY start_ns, span_id LIMIT 1",
            content(semconv::INPUT_VALUE),
            content(semconv::GEN_AI_INPUT_MESSAGES)
        );
        let output_sql = format!(
            "SELECT COALESCE({}, {}) AS v FROM spans WHERE trace_id = ?1 AND v IS NOT NULL
             ORDER BY end_ns DESC, span_id LIMIT 1",
            content(semconv::OUTPUT_VALUE),
            content(semconv::GEN_AI_OUTPUT_MESSAGES)
        );
        let mut input = conn.prepare_cached(&input_sql)?;
        let mut output = conn.prepare_cached(&output_sql)?;
        let mut turns = Vec::with_capacity(traces.len());
        for trace in traces {
            let text = |stmt: &mut rusqlite::CachedStatement<'_>| {
                stmt.query_row([&trace.trace_id], |r| {
                    let v = r.get_ref(0)?;
                    Ok(match v {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{:?}", other.data_type()),
                    })
                })
                .optional()
            };
            let i = text(&mut input)?;
            let o = text(&mut output)?;
            turns.push(Turn {
                input: i,
                output: o,
                trace,
            });
        }
        Ok(turns)
    }

    /// The full id of the one stored trace whose id starts with `prefix` (at
    /// least 4 hex digits, any case; the dashboard shows 12).
    ///
    /// # Errors
    ///
    /// [`InvalidTraceId`](crate::StoreErrorKind::InvalidTraceId) for fewer than
    /// 4 or more than 32 hex digits or a non-hex character;
    /// [`NotFound`](crate::StoreErrorKind::NotFound) when no trace matches;
    /// [`Ambiguous`](crate::StoreErrorKind::Ambiguous) when several do.
    pub fn resolve_trace_id(&self, prefix: &str) -> Result<String, StoreError> {
        let p = prefix.to_ascii_lowercase();
        if !(4..=32).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::new(
                StoreErrorKind::InvalidTraceId,
                format!("invalid trace id {prefix:?}: expected 4 to 32 hex digits"),
            ));
        }
        let conn = self.conn();
        let found: Vec<String> = conn
            .prepare_cached(
                "SELECT trace_id FROM traces WHERE trace_id >= ?1 AND trace_id < ?1 || 'g'
                 ORDER BY trace_id LIMIT 2",
            )?
            .query_map([&p], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        match &found[..] {
            [] => Err(StoreError::not_found("trace", prefix)),
            [one] => Ok(one.clone()),
            _ => Err(StoreError::new(
                StoreErrorKind::Ambiguous,
                format!("trace id prefix {prefix:?} matches several traces: give more digits"),
            )),
        }
    }

    /// Rewrites the database file without its free pages (SQLite `VACUUM`)
    /// and truncates the write-ahead log, so the file shrinks after
    /// [`clear`](Self::clear) or retention. Waits for the writer like any
    /// write; needs free disk space about the size of the database.
    ///
    /// # Errors
    ///
    /// When SQLite fails (locked past the busy timeout, disk full).
    pub fn vacuum(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn empty_bucket(start_ns: i64) -> TimeBucket {
    TimeBucket {
        start_ns,
        traces: 0,
        errors: 0,
        total_tokens: 0,
        cost_usd: 0.0,
        latency_p50_ms: 0.0,
        latency_p95_ms: 0.0,
        stack: Vec::new(),
    }
}
