//! Pre-aggregated statistics: the `stats_agg` table and its latency histograms.
//!
//! The writer keeps one row per (dimension, key) with counters and a latency
//! histogram, updated from each batch's own rows (a trace's previous summary
//! is subtracted, its new one added), so [`Store::stats`](crate::Store::stats)
//! and [`Store::sessions`](crate::Store::sessions) read a few thousand rows
//! instead of scanning every trace or span.
//!
//! Latency percentiles come from [`Histogram`]: exact (every value kept) up to
//! [`EXACT_MAX`] values per group, then fixed logarithmic buckets whose
//! estimate is within [`RELATIVE_ERROR`] of the exact nearest-rank percentile.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use tokentrace_core::semconv;

/// Groups with at most this many latencies keep them exactly.
pub(crate) const EXACT_MAX: usize = 64;
/// Relative error bound of a bucketed percentile (1%).
pub(crate) const RELATIVE_ERROR: f64 = 0.01;
/// Latencies below this (milliseconds; 1 µs) fall in the zero bucket, reported as 0.
const MIN_MS: f64 = 0.001;
/// Bucket index offset so indexes of latencies ≥ [`MIN_MS`] are positive.
const OFFSET: i64 = 400;

const MODE_EXACT: u8 = 0;
const MODE_BUCKETS: u8 = 1;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// Bucket `i` holds latencies in `(γ^(i-1-OFFSET), γ^(i-OFFSET)]`; 0 holds
/// everything below [`MIN_MS`].
fn bucket(ms: f64) -> u16 {
    if ms.is_nan() || ms < MIN_MS {
        return 0;
    }
    let i = ms.log(gamma()).ceil() as i64 + OFFSET;
    i.clamp(1, i64::from(u16::MAX)) as u16
}

/// The value reported for bucket `i`: `2γ^i / (γ + 1)`, within
/// [`RELATIVE_ERROR`] of every latency in the bucket.
fn bucket_value(i: u16) -> f64 {
    if i == 0 {
        return 0.0;
    }
    let g = gamma();
    2.0 * g.powi((i64::from(i) - OFFSET) as i32) / (g + 1.0)
}

/// A group's latency distribution: exact values while small, then buckets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Histogram {
    /// Every latency, unsorted.
    Exact(Vec<f64>),
    /// Bucket index → count, sorted by index, no zero counts.
    Buckets(Vec<(u16, u32)>),
}

impl Default for Histogram {
    fn default() -> Self {
        Self::Exact(Vec::new())
    }
}

impl Histogram {
    /// Decodes a stored blob; an empty or unreadable blob is an empty histogram.
    pub(crate) fn decode(blob: &[u8]) -> Self {
        match blob.split_first() {
            Some((&MODE_BUCKETS, rest)) => Self::Buckets(
                rest.chunks_exact(6)
                    .map(|c| {
                        (
                            u16::from_le_bytes([c[0], c[1]]),
                            u32::from_le_bytes([c[2], c[3], c[4], c[5]]),
                        )
                    })
                    .collect(),
            ),
            Some((_, rest)) => Self::Exact(
                rest.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("chunks_exact yields 8 bytes")))
                    .collect(),
            ),
            None => Self::default(),
        }
    }

    /// The blob stored in `stats_agg.latency_hist`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Self::Exact(values) => {
                let mut out = Vec::with_capacity(1 + values.len() * 8);
                out.push(MODE_EXACT);
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                out
            }
            Self::Buckets(buckets) => {
                let mut out = Vec::with_capacity(1 + buckets.len() * 6);
                out.push(MODE_BUCKETS);
                for (i, n) in buckets {
                    out.extend_from_slice(&i.to_le_bytes());
                    out.extend_from_slice(&n.to_le_bytes());
                }
                out
            }
        }
    }

    /// Adds one latency.
    pub(crate) fn add(&mut self, ms: f64) {
        match self {
            Self::Exact(values) if values.len() < EXACT_MAX => values.push(ms),
            Self::Exact(values) => {
                let mut buckets = Vec::new();
                for v in std::mem::take(values) {
                    bump(&mut buckets, bucket(v));
                }
                bump(&mut buckets, bucket(ms));
                *self = Self::Buckets(buckets);
            }
            Self::Buckets(buckets) => bump(buckets, bucket(ms)),
        }
    }

    /// Adds every latency of `other` (for summing groups, such as hours into a range).
    pub(crate) fn merge(&mut self, other: &Self) {
        match (&mut *self, other) {
            (_, Self::Exact(values)) => {
                for v in values {
                    self.add(*v);
                }
            }
            (Self::Buckets(mine), Self::Buckets(theirs)) => {
                for &(i, n) in theirs {
                    match mine.binary_search_by_key(&i, |b| b.0) {
                        Ok(at) => mine[at].1 = mine[at].1.saturating_add(n),
                        Err(at) => mine.insert(at, (i, n)),
                    }
                }
            }
            (Self::Exact(values), Self::Buckets(_)) => {
                let mut merged = other.clone();
                for v in std::mem::take(values) {
                    merged.add(v);
                }
                *self = merged;
            }
        }
    }

    /// Removes one latency previously added (a no-op when it is not there).
    pub(crate) fn remove(&mut self, ms: f64) {
        match self {
            Self::Exact(values) => {
                if let Some(i) = values.iter().position(|v| v.to_bits() == ms.to_bits()) {
                    values.swap_remove(i);
                }
            }
            Self::Buckets(buckets) => {
                if let Ok(i) = buckets.binary_search_by_key(&bucket(ms), |b| b.0) {
                    buckets[i].1 -= 1;
                    if buckets[i].1 == 0 {
                        buckets.remove(i);
                    }
                }
            }
        }
    }

    /// Nearest-rank percentile `p` (0..=1): exact in exact mode, within
    /// [`RELATIVE_ERROR`] otherwise; 0 when empty.
    pub(crate) fn percentile(&self, p: f64) -> f64 {
        match self {
            Self::Exact(values) => {
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                percentile(&sorted, p)
            }
            Self::Buckets(buckets) => {
                let n: u64 = buckets.iter().map(|b| u64::from(b.1)).sum();
                if n == 0 {
                    return 0.0;
                }
                let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
                let mut seen = 0u64;
                for &(i, count) in buckets {
                    seen += u64::from(count);
                    if seen >= rank {
                        return bucket_value(i);
                    }
                }
                buckets.last().map_or(0.0, |b| bucket_value(b.0))
            }
        }
    }
}

/// Nearest-rank percentile of an ascending slice.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn bump(buckets: &mut Vec<(u16, u32)>, i: u16) {
    match buckets.binary_search_by_key(&i, |b| b.0) {
        Ok(at) => buckets[at].1 = buckets[at].1.saturating_add(1),
        Err(at) => buckets.insert(at, (i, 1)),
    }
}

/// A `stats_agg` dimension (the `dim` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dim {
    Workflow,
    User,
    Session,
    Day,
    Model,
    Provider,
    /// `#[workflow]` spans, root and nested, by workflow name.
    Step,
}

impl Dim {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::User => "user",
            Self::Session => "session",
            Self::Day => "day",
            Self::Model => "model",
            Self::Provider => "provider",
            Self::Step => "step",
        }
    }

    /// The `stats_hourly` dimension this one also feeds, if any.
    pub(crate) fn hourly(self) -> Option<&'static str> {
        match self {
            Self::Workflow => Some("workflow"),
            Self::User => Some("user"),
            Self::Model => Some("model"),
            Self::Provider => Some("provider"),
            Self::Step => Some("step"),
            Self::Session | Self::Day => None,
        }
    }
}

/// What one trace (for workflow/user/session/day) or one LLM span (for
/// model/provider) contributes to its groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Contribution {
    pub(crate) latency_ms: f64,
    pub(crate) error: bool,
    pub(crate) input_tokens: i64,
    pub(crate) output_tokens: i64,
    pub(crate) total_tokens: i64,
    pub(crate) cost_usd: f64,
    pub(crate) start_ns: i64,
    pub(crate) user_id: Option<String>,
}

/// A trace summary's fields that feed the trace-level dimensions.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TraceContribution {
    pub(crate) workflow: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) c: Contribution,
}

#[derive(Debug, Default)]
struct Delta {
    count: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    total_tokens: i64,
    cost_usd: f64,
    added: Vec<f64>,
    removed: Vec<f64>,
    first_start_ns: Option<i64>,
    last_start_ns: Option<i64>,
    user_id: Option<String>,
}

/// Changes to `stats_agg` gathered over a batch, applied in one pass.
#[derive(Debug, Default)]
pub(crate) struct AggDeltas {
    map: HashMap<(Dim, String), Delta>,
    hourly: HashMap<(&'static str, i64, String), Delta>,
}

impl Delta {
    fn add(&mut self, c: &Contribution, sign: i64) {
        let d = self;
        d.count += sign;
        d.errors += sign * i64::from(c.error);
        d.input_tokens += sign * c.input_tokens;
        d.output_tokens += sign * c.output_tokens;
        d.total_tokens += sign * c.total_tokens;
        d.cost_usd += sign as f64 * c.cost_usd;
        if sign > 0 {
            d.added.push(c.latency_ms);
            d.first_start_ns = Some(d.first_start_ns.map_or(c.start_ns, |v| v.min(c.start_ns)));
            d.last_start_ns = Some(d.last_start_ns.map_or(c.start_ns, |v| v.max(c.start_ns)));
            if c.user_id > d.user_id {
                d.user_id.clone_from(&c.user_id);
            }
        } else {
            d.removed.push(c.latency_ms);
        }
    }

    /// The latencies to add and remove, with those added and removed within
    /// the same transaction (a span written, then re-exported, in one group
    /// commit) cancelled out: they were never in the stored histogram.
    fn apply_latencies(&self, hist: &mut Histogram) {
        let mut added = self.added.clone();
        let mut removed = Vec::with_capacity(self.removed.len());
        for v in &self.removed {
            match added.iter().position(|a| a.to_bits() == v.to_bits()) {
                Some(i) => {
                    added.swap_remove(i);
                }
                None => removed.push(*v),
            }
        }
        for v in removed {
            hist.remove(v);
        }
        for v in added {
            hist.add(v);
        }
    }
}

/// The `dim` of `stats_hourly` rows summing every trace (key `''`).
pub(crate) const HOURLY_ALL: &str = "all";

/// Nanoseconds per hour.
pub(crate) const HOUR_NS: i64 = 3_600_000_000_000;

/// The hour index (`stats_hourly.hour`) of a Unix-epoch-ns time.
pub(crate) fn hour_of(ns: i64) -> i64 {
    ns.div_euclid(HOUR_NS)
}

impl AggDeltas {
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty() && self.hourly.is_empty()
    }

    /// Adds (`sign = 1`) or removes (`sign = -1`) `c` from group `dim`/`key`
    /// (and from its hour's group, for the hourly dimensions).
    pub(crate) fn apply(&mut self, dim: Dim, key: &str, c: &Contribution, sign: i64) {
        let d = match self.map.get_mut(&(dim, key.to_owned())) {
            Some(d) => d,
            None => self.map.entry((dim, key.to_owned())).or_default(),
        };
        d.add(c, sign);
        if let Some(h) = dim.hourly() {
            self.apply_hourly(h, key, c, sign);
        }
    }

    fn apply_hourly(&mut self, dim: &'static str, key: &str, c: &Contribution, sign: i64) {
        self.hourly
            .entry((dim, hour_of(c.start_ns), key.to_owned()))
            .or_default()
            .add(c, sign);
    }

    /// Adds or removes a trace summary from its workflow, user, session and day.
    pub(crate) fn apply_trace(&mut self, t: &TraceContribution, sign: i64) {
        if let Some(k) = &t.workflow {
            self.apply(Dim::Workflow, k, &t.c, sign);
        }
        if let Some(k) = &t.user_id {
            self.apply(Dim::User, k, &t.c, sign);
        }
        if let Some(k) = &t.session_id {
            self.apply(Dim::Session, k, &t.c, sign);
        }
        self.apply(Dim::Day, &day_key(t.c.start_ns), &t.c, sign);
        self.apply_hourly(HOURLY_ALL, "", &t.c, sign);
    }

    /// Writes the gathered changes; run after the `traces` rows are final
    /// (a session that lost a trace has its first/last/user recomputed from them).
    pub(crate) fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut select = conn.prepare_cached(
            "SELECT count, errors, input_tokens, output_tokens, total_tokens, cost_usd,
                    latency_hist, first_start_ns, last_start_ns, user_id
             FROM stats_agg WHERE dim = ?1 AND key = ?2",
        )?;
        let mut upsert = conn.prepare_cached(
            "INSERT OR REPLACE INTO stats_agg (dim, key, count, errors, input_tokens,
                output_tokens, total_tokens, cost_usd, latency_hist, first_start_ns,
                last_start_ns, user_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut delete =
            conn.prepare_cached("DELETE FROM stats_agg WHERE dim = ?1 AND key = ?2")?;
        let mut session = conn.prepare_cached(
            "SELECT MIN(start_ns), MAX(start_ns), MAX(user_id) FROM traces WHERE session_id = ?1",
        )?;
        for ((dim, key), d) in self.map.drain() {
            if d.count == 0 && d.added.is_empty() && d.removed.is_empty() {
                continue;
            }
            let old = select
                .query_row(params![dim.as_str(), key], |r| {
                    Ok((
                        [
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                        ],
                        r.get::<_, f64>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                    ))
                })
                .optional()?;
            let (ints, cost, blob, first, last, user) =
                old.unwrap_or(([0; 5], 0.0, Vec::new(), None, None, None));
            let count = ints[0] + d.count;
            if count <= 0 {
                delete.execute(params![dim.as_str(), key])?;
                continue;
            }
            let mut hist = Histogram::decode(&blob);
            d.apply_latencies(&mut hist);
            let (first, last, user) = if dim != Dim::Session {
                (None, None, None)
            } else if d.removed.is_empty() {
                (
                    min_opt(first, d.first_start_ns),
                    max_opt(last, d.last_start_ns),
                    user.max(d.user_id),
                )
            } else {
                session.query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            };
            upsert.execute(params![
                dim.as_str(),
                key,
                count,
                ints[1] + d.errors,
                ints[2] + d.input_tokens,
                ints[3] + d.output_tokens,
                ints[4] + d.total_tokens,
                cost + d.cost_usd,
                hist.encode(),
                first,
                last,
                user,
            ])?;
        }
        self.flush_hourly(conn)
    }

    fn flush_hourly(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut select = conn.prepare_cached(
            "SELECT count, errors, input_tokens, output_tokens, total_tokens, cost_usd,
                    latency_hist
             FROM stats_hourly WHERE dim = ?1 AND hour = ?2 AND key = ?3",
        )?;
        let mut upsert = conn.prepare_cached(
            "INSERT OR REPLACE INTO stats_hourly (dim, hour, key, count, errors, input_tokens,
                output_tokens, total_tokens, cost_usd, latency_hist)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut delete = conn
            .prepare_cached("DELETE FROM stats_hourly WHERE dim = ?1 AND hour = ?2 AND key = ?3")?;
        for ((dim, hour, key), d) in self.hourly.drain() {
            if d.count == 0 && d.added.is_empty() && d.removed.is_empty() {
                continue;
            }
            let old = select
                .query_row(params![dim, hour, key], |r| {
                    Ok((
                        [
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                        ],
                        r.get::<_, f64>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                    ))
                })
                .optional()?;
            let (ints, cost, blob) = old.unwrap_or(([0; 5], 0.0, Vec::new()));
            let count = ints[0] + d.count;
            if count <= 0 {
                delete.execute(params![dim, hour, key])?;
                continue;
            }
            let mut hist = Histogram::decode(&blob);
            d.apply_latencies(&mut hist);
            upsert.execute(params![
                dim,
                hour,
                key,
                count,
                ints[1] + d.errors,
                ints[2] + d.input_tokens,
                ints[3] + d.output_tokens,
                ints[4] + d.total_tokens,
                cost + d.cost_usd,
                hist.encode(),
            ])?;
        }
        Ok(())
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.max(b)
}

/// The UTC day of `start_ns` as `YYYY-MM-DD`, as SQLite's
/// `strftime('%Y-%m-%d', start_ns / 1000000000, 'unixepoch')` gives it.
pub(crate) fn day_key(start_ns: i64) -> String {
    // Integer division truncates toward zero, as SQLite's does.
    let secs = start_ns / 1_000_000_000;
    let (y, m, d) = tokentrace_core::civil::civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Reads a `traces` row's contribution (`None` when the trace is not stored).
pub(crate) fn trace_contribution(
    conn: &Connection,
    trace_id: &str,
) -> rusqlite::Result<Option<TraceContribution>> {
    conn.prepare_cached(
        "SELECT workflow, user_id, session_id, duration_ms, error_count > 0, input_tokens,
                output_tokens, total_tokens, cost_usd, start_ns
         FROM traces WHERE trace_id = ?1",
    )?
    .query_row([trace_id], trace_contribution_row)
    .optional()
}

fn trace_contribution_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TraceContribution> {
    let user_id: Option<String> = r.get(1)?;
    Ok(TraceContribution {
        workflow: r.get(0)?,
        session_id: r.get(2)?,
        c: Contribution {
            latency_ms: r.get(3)?,
            error: r.get(4)?,
            input_tokens: r.get(5)?,
            output_tokens: r.get(6)?,
            total_tokens: r.get(7)?,
            cost_usd: r.get(8)?,
            start_ns: r.get(9)?,
            user_id: user_id.clone(),
        },
        user_id,
    })
}

/// An LLM span's contribution to its model and provider.
pub(crate) fn span_contribution(
    r: &rusqlite::Row<'_>,
    first: usize,
) -> rusqlite::Result<Contribution> {
    Ok(Contribution {
        latency_ms: r.get(first)?,
        error: r.get::<_, String>(first + 1)? == "error",
        input_tokens: r.get::<_, Option<i64>>(first + 2)?.unwrap_or(0),
        output_tokens: r.get::<_, Option<i64>>(first + 3)?.unwrap_or(0),
        total_tokens: r.get::<_, Option<i64>>(first + 4)?.unwrap_or(0),
        cost_usd: r.get::<_, Option<f64>>(first + 5)?.unwrap_or(0.0),
        start_ns: r.get(first + 6)?,
        user_id: None,
    })
}

/// The spans that are calls of their own and so count: tokentrace's LLM and
/// vector spans, and other libraries' GenAI spans EnrichLayer priced (typed
/// `llm`). Workflow spans carry roll-ups of those, `framework` spans (another
/// library's span over a tokentrace LLM span) describe calls counted beneath
/// them, and untyped spans are not calls: counting any of them would count a
/// call twice.
pub(crate) const COUNTED_SPAN: &str = "span_type IN ('llm', 'vector')";

/// Whether a span of this `tokentrace.span.type` counts (see [`COUNTED_SPAN`]).
pub(crate) fn is_counted(span_type: Option<&str>) -> bool {
    matches!(
        span_type,
        Some(semconv::values::SPAN_TYPE_LLM | semconv::values::SPAN_TYPE_VECTOR)
    )
}

/// Columns read by [`span_contribution`], after `model, provider`.
pub(crate) const SPAN_CONTRIBUTION_COLUMNS: &str = "model, provider, duration_ms, status_code, input_tokens, output_tokens, total_tokens, cost_usd, start_ns";

/// Adds or removes the LLM spans selected by `sql` (which selects
/// [`SPAN_CONTRIBUTION_COLUMNS`]) from their model and provider groups.
pub(crate) fn apply_spans(
    conn: &Connection,
    deltas: &mut AggDeltas,
    sql: &str,
    params: impl rusqlite::Params,
    sign: i64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        let model: Option<String> = r.get(0)?;
        let provider: Option<String> = r.get(1)?;
        let c = span_contribution(r, 2)?;
        if let Some(m) = &model {
            deltas.apply(Dim::Model, m, &c, sign);
        }
        if let Some(p) = &provider {
            deltas.apply(Dim::Provider, p, &c, sign);
        }
    }
    Ok(())
}

/// The `#[workflow]` spans that feed the `step` dimension.
pub(crate) const STEP_SPAN: &str = "span_type = 'workflow' AND workflow IS NOT NULL";

/// Columns read by [`apply_steps`]: the step's name, then what
/// [`span_contribution`] reads, tokens and cost from the span's roll-ups.
pub(crate) fn step_columns() -> String {
    let j = |k: &str, t: &str| format!("CAST(json_extract(attributes, '$.\"{k}\"') AS {t})");
    format!(
        "workflow, duration_ms, status_code, {}, {}, {}, {}, start_ns",
        j(semconv::ROLLUP_INPUT_TOKENS, "INTEGER"),
        j(semconv::ROLLUP_OUTPUT_TOKENS, "INTEGER"),
        j(semconv::ROLLUP_TOTAL_TOKENS, "INTEGER"),
        j(semconv::ROLLUP_COST_USD, "REAL"),
    )
}

/// Adds or removes the workflow spans selected by `sql` (which selects
/// [`step_columns`]) from their `step` groups.
pub(crate) fn apply_steps(
    conn: &Connection,
    deltas: &mut AggDeltas,
    sql: &str,
    params: impl rusqlite::Params,
    sign: i64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        let step: Option<String> = r.get(0)?;
        if let Some(step) = step {
            deltas.apply(Dim::Step, &step, &span_contribution(r, 1)?, sign);
        }
    }
    Ok(())
}

/// Adds or removes the traces selected by `sql` (a `WHERE` clause on `traces`).
pub(crate) fn apply_traces(
    conn: &Connection,
    deltas: &mut AggDeltas,
    where_sql: &str,
    params: impl rusqlite::Params,
    sign: i64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT workflow, user_id, session_id, duration_ms, error_count > 0, input_tokens,
                output_tokens, total_tokens, cost_usd, start_ns
         FROM traces {where_sql}"
    ))?;
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        deltas.apply_trace(&trace_contribution_row(r)?, sign);
    }
    Ok(())
}

/// Rebuilds `stats_agg` from `traces` and `spans` (after the migration that
/// creates it, on a store written by an older version).
pub(crate) fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM stats_agg", [])?;
    conn.execute("DELETE FROM stats_hourly", [])?;
    let mut deltas = AggDeltas::default();
    apply_traces(conn, &mut deltas, "", [], 1)?;
    apply_spans(
        conn,
        &mut deltas,
        &format!(
            "SELECT {SPAN_CONTRIBUTION_COLUMNS} FROM spans
             WHERE (model IS NOT NULL OR provider IS NOT NULL) AND {COUNTED_SPAN}"
        ),
        [],
        1,
    )?;
    apply_steps(
        conn,
        &mut deltas,
        &format!("SELECT {} FROM spans WHERE {STEP_SPAN}", step_columns()),
        [],
        1,
    )?;
    deltas.flush(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_percentile(values: &[f64], p: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        percentile(&v, p)
    }

    /// A deterministic spread of latencies from 2 µs to ~100 s.
    fn latencies(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                0.002 * (5e7f64).powf(u)
            })
            .collect()
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&[7.0], 0.95), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn small_groups_are_exact() {
        let mut h = Histogram::default();
        for v in [3.0, 1.0, 2.0] {
            h.add(v);
        }
        assert_eq!(h.percentile(0.5), 2.0);
        assert_eq!(h.percentile(0.95), 3.0);
        h.remove(3.0);
        assert_eq!(h.percentile(0.95), 2.0);
        assert_eq!(Histogram::decode(&h.encode()), h);
        assert_eq!(Histogram::default().percentile(0.5), 0.0);
    }

    #[test]
    fn bucketed_percentiles_are_within_the_stated_bound() {
        for seed in 1..6 {
            let values = latencies(5000, seed);
            let mut h = Histogram::default();
            for v in &values {
                h.add(*v);
            }
            assert!(matches!(h, Histogram::Buckets(_)));
            let h = Histogram::decode(&h.encode());
            for p in [0.01, 0.5, 0.9, 0.95, 0.99, 1.0] {
                let exact = exact_percentile(&values, p);
                let est = h.percentile(p);
                assert!(
                    (est - exact).abs() <= RELATIVE_ERROR.mul_add(exact, 1e-12),
                    "p{p}: {est} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn removing_from_buckets_matches_never_adding() {
        let values = latencies(1000, 9);
        let mut all = Histogram::default();
        for v in &values {
            all.add(*v);
        }
        for v in &values[500..] {
            all.remove(*v);
        }
        let mut half = Histogram::Buckets(Vec::new());
        for v in &values[..500] {
            half.add(*v);
        }
        assert_eq!(all, half);
    }

    #[test]
    fn sub_microsecond_latencies_report_zero() {
        let mut h = Histogram::Buckets(Vec::new());
        h.add(0.0);
        h.add(0.0004);
        assert_eq!(h.percentile(1.0), 0.0);
    }

    #[test]
    fn day_keys_match_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        for ns in [
            0_i64,
            1_735_689_600_000_000_000,
            1_735_689_599_999_999_999,
            951_782_400_000_000_000, // 2000-02-29
            4_102_444_800_000_000_000,
            1_709_251_199_000_000_000,
        ] {
            let sqlite: String = conn
                .query_row(
                    "SELECT strftime('%Y-%m-%d', ?1 / 1000000000, 'unixepoch')",
                    [ns],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(day_key(ns), sqlite, "{ns}");
        }
    }
}
