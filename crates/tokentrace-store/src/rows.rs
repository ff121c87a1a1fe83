//! Rows and summaries: the writer's batch path from encoded spans to
//! `spans` rows, the batch's traces folded into their `traces` summaries,
//! `trace_keys`, `stats_agg` and the `meta` counters, in one transaction.
//!
//! The common case touches each row once: a span is inserted with its
//! workflow already known, a trace's summary is updated from the batch's own
//! rows plus the stored summary, and the aggregates get the difference. A span
//! exported a second time (an upsert) takes a slow path that recomputes its
//! trace from the stored spans.

use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry::Value;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, TransactionBehavior, params};
use tokentrace_core::semconv;

use crate::agg::{self, AggDeltas, Contribution, Dim, TraceContribution};
use crate::encode::{
    EncodedBatch, Found, Hex16, Item, ResourceInfo, as_f64, as_i64, find, hex16, hex32, items, k,
    kind_str, time_ns,
};
use crate::model::ExportStats;

/// Plain insert; a conflict (the span was stored before) falls back to [`UPSERT_SPAN`].
const INSERT_SPAN: &str = "INSERT INTO spans (
    trace_id, span_id, parent_span_id, is_root, name, kind, status_code, status_message,
    start_ns, end_ns, duration_ms, service_name, scope_name, attributes, events, links, resource,
    workflow, span_type, provider, model, user_id, session_id,
    input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, total_tokens, cost_usd
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
          ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)
ON CONFLICT (trace_id, span_id) DO NOTHING";

const UPSERT_SPAN: &str = "INSERT INTO spans (
    trace_id, span_id, parent_span_id, is_root, name, kind, status_code, status_message,
    start_ns, end_ns, duration_ms, service_name, scope_name, attributes, events, links, resource,
    workflow, span_type, provider, model, user_id, session_id,
    input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, total_tokens, cost_usd
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
          ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)
ON CONFLICT (trace_id, span_id) DO UPDATE SET
    parent_span_id = excluded.parent_span_id, is_root = excluded.is_root, name = excluded.name,
    kind = excluded.kind, status_code = excluded.status_code,
    status_message = excluded.status_message, start_ns = excluded.start_ns,
    end_ns = excluded.end_ns, duration_ms = excluded.duration_ms,
    service_name = excluded.service_name, scope_name = excluded.scope_name,
    attributes = excluded.attributes, events = excluded.events, links = excluded.links,
    resource = excluded.resource, workflow = excluded.workflow, span_type = excluded.span_type,
    provider = excluded.provider, model = excluded.model, user_id = excluded.user_id,
    session_id = excluded.session_id, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, cache_read_tokens = excluded.cache_read_tokens,
    reasoning_tokens = excluded.reasoning_tokens, total_tokens = excluded.total_tokens,
    cost_usd = excluded.cost_usd";

/// Spans below a root inherit the root's workflow when they carry none
/// (for spans stored before their root arrived).
const FILL_WORKFLOW: &str = "UPDATE spans SET workflow = (
    SELECT r.workflow FROM spans r
    WHERE r.trace_id = ?1 AND r.is_root = 1 AND r.workflow IS NOT NULL
    ORDER BY r.start_ns LIMIT 1)
WHERE trace_id = ?1 AND workflow IS NULL";

/// Recomputes one trace's summary row from its spans (the slow path, after an
/// upsert). Token and cost sums count LLM and vector spans only (see
/// `agg::COUNTED_SPAN`): workflow spans carry roll-ups of those, framework
/// spans describe calls counted beneath them.
const RECOMPUTE_TRACE: &str = "INSERT OR REPLACE INTO traces (
    trace_id, name, workflow, service_name, start_ns, end_ns, duration_ms, span_count,
    error_count, input_tokens, output_tokens, total_tokens, cost_usd, user_id, session_id,
    model, provider, name_is_root, name_start_ns)
SELECT ?1, n.name, n.workflow, n.service_name,
    MIN(s.start_ns), MAX(s.end_ns), (MAX(s.end_ns) - MIN(s.start_ns)) / 1000000.0, COUNT(*),
    SUM(s.status_code = 'error'),
    COALESCE(SUM(CASE WHEN s.span_type IN ('llm', 'vector') THEN s.input_tokens END), 0),
    COALESCE(SUM(CASE WHEN s.span_type IN ('llm', 'vector') THEN s.output_tokens END), 0),
    COALESCE(SUM(CASE WHEN s.span_type IN ('llm', 'vector') THEN s.total_tokens END), 0),
    COALESCE(SUM(CASE WHEN s.span_type IN ('llm', 'vector') THEN s.cost_usd END), 0.0),
    MAX(s.user_id), MAX(s.session_id), MAX(s.model), MAX(s.provider), n.is_root, n.start_ns
FROM spans s,
    (SELECT r.name, r.workflow, r.service_name, r.is_root, r.start_ns FROM spans r
     WHERE r.trace_id = ?1 ORDER BY r.is_root DESC, r.start_ns LIMIT 1) AS n
WHERE s.trace_id = ?1";

const REKEY_TRACE: &str = "INSERT OR IGNORE INTO trace_keys (trace_id, kind, value, start_ns)
SELECT k.trace_id, k.kind, k.value, t.start_ns
FROM (SELECT trace_id, 'user_id' AS kind, user_id AS value FROM spans
      WHERE trace_id = ?1 AND user_id IS NOT NULL
      UNION SELECT trace_id, 'session_id', session_id FROM spans
      WHERE trace_id = ?1 AND session_id IS NOT NULL
      UNION SELECT trace_id, 'model', model FROM spans WHERE trace_id = ?1 AND model IS NOT NULL
      UNION SELECT trace_id, 'provider', provider FROM spans
      WHERE trace_id = ?1 AND provider IS NOT NULL
      UNION SELECT trace_id, 'workflow', workflow FROM spans
      WHERE trace_id = ?1 AND span_type = 'workflow' AND workflow IS NOT NULL
      UNION SELECT trace_id, 'workflow', workflow FROM traces
      WHERE trace_id = ?1 AND workflow IS NOT NULL) AS k
JOIN traces t ON t.trace_id = k.trace_id";

const SELECT_TRACE: &str = "SELECT name, workflow, service_name, start_ns, end_ns, span_count,
    error_count, input_tokens, output_tokens, total_tokens, cost_usd, user_id, session_id,
    model, provider, name_is_root, name_start_ns
FROM traces WHERE trace_id = ?1";

const INSERT_TRACE: &str = "INSERT OR REPLACE INTO traces (
    trace_id, name, workflow, service_name, start_ns, end_ns, duration_ms, span_count,
    error_count, input_tokens, output_tokens, total_tokens, cost_usd, user_id, session_id,
    model, provider, name_is_root, name_start_ns)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";

const UPDATE_TRACE: &str = "UPDATE traces SET name = ?2, workflow = ?3, service_name = ?4,
    start_ns = ?5, end_ns = ?6, duration_ms = ?7, span_count = ?8, error_count = ?9,
    input_tokens = ?10, output_tokens = ?11, total_tokens = ?12, cost_usd = ?13, user_id = ?14,
    session_id = ?15, model = ?16, provider = ?17, name_is_root = ?18, name_start_ns = ?19
WHERE trace_id = ?1";

/// Drops a trace's workflow key `?2` unless one of its workflow spans is named so.
const DROP_WORKFLOW_KEY: &str = "DELETE FROM trace_keys
WHERE trace_id = ?1 AND kind = 'workflow' AND value = ?2 AND NOT EXISTS (
    SELECT 1 FROM spans WHERE trace_id = ?1 AND span_type = 'workflow' AND workflow = ?2)";

const INSERT_KEY: &str = "INSERT OR IGNORE INTO trace_keys (trace_id, kind, value, start_ns)
VALUES (?1, ?2, ?3, ?4)";

/// A trace's summary, as stored in `traces` (without the id).
#[derive(Debug, Clone, Default)]
struct Summary {
    name: String,
    workflow: Option<String>,
    service_name: Option<String>,
    start_ns: i64,
    end_ns: i64,
    span_count: i64,
    error_count: i64,
    input_tokens: i64,
    output_tokens: i64,
    total_tokens: i64,
    cost_usd: f64,
    user_id: Option<String>,
    session_id: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    name_is_root: bool,
    name_start_ns: i64,
}

impl Summary {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            name: r.get(0)?,
            workflow: r.get(1)?,
            service_name: r.get(2)?,
            start_ns: r.get(3)?,
            end_ns: r.get(4)?,
            span_count: r.get(5)?,
            error_count: r.get(6)?,
            input_tokens: r.get(7)?,
            output_tokens: r.get(8)?,
            total_tokens: r.get(9)?,
            cost_usd: r.get(10)?,
            user_id: r.get(11)?,
            session_id: r.get(12)?,
            model: r.get(13)?,
            provider: r.get(14)?,
            name_is_root: r.get(15)?,
            name_start_ns: r.get(16)?,
        })
    }

    fn duration_ms(&self) -> f64 {
        (self.end_ns - self.start_ns) as f64 / 1_000_000.0
    }

    fn contribution(&self) -> TraceContribution {
        TraceContribution {
            workflow: self.workflow.clone(),
            user_id: self.user_id.clone(),
            session_id: self.session_id.clone(),
            c: Contribution {
                latency_ms: self.duration_ms(),
                error: self.error_count > 0,
                input_tokens: self.input_tokens,
                output_tokens: self.output_tokens,
                total_tokens: self.total_tokens,
                cost_usd: self.cost_usd,
                start_ns: self.start_ns,
                user_id: self.user_id.clone(),
            },
        }
    }

    /// Folds `other` (a batch's partial summary of the same trace) in.
    fn merge(&mut self, other: &Self) {
        // The naming span: a root before a non-root, then the earliest.
        if (other.name_is_root, std::cmp::Reverse(other.name_start_ns))
            > (self.name_is_root, std::cmp::Reverse(self.name_start_ns))
        {
            self.name.clone_from(&other.name);
            self.workflow.clone_from(&other.workflow);
            self.service_name.clone_from(&other.service_name);
            self.name_is_root = other.name_is_root;
            self.name_start_ns = other.name_start_ns;
        }
        self.start_ns = self.start_ns.min(other.start_ns);
        self.end_ns = self.end_ns.max(other.end_ns);
        self.span_count += other.span_count;
        self.error_count += other.error_count;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
        self.cost_usd += other.cost_usd;
        max_into(&mut self.user_id, &other.user_id);
        max_into(&mut self.session_id, &other.session_id);
        max_into(&mut self.model, &other.model);
        max_into(&mut self.provider, &other.provider);
    }

    fn write(
        &self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        trace_id: &str,
    ) -> rusqlite::Result<usize> {
        stmt.execute(params![
            trace_id,
            self.name,
            self.workflow,
            self.service_name,
            self.start_ns,
            self.end_ns,
            self.duration_ms(),
            self.span_count,
            self.error_count,
            self.input_tokens,
            self.output_tokens,
            self.total_tokens,
            self.cost_usd,
            self.user_id,
            self.session_id,
            self.model,
            self.provider,
            self.name_is_root,
            self.name_start_ns,
        ])
    }
}

fn max_into(into: &mut Option<String>, other: &Option<String>) {
    if *other > *into {
        into.clone_from(other);
    }
}

/// One trace of the batch.
#[derive(Debug)]
struct TraceWork {
    hex: String,
    stored: Option<Summary>,
    /// The batch's own spans, summarised (`None` until the first span).
    batch: Option<Summary>,
    /// Workflow of the earliest root, stored or in the batch: children
    /// without one inherit it.
    root_workflow: Option<(i64, String)>,
    /// `(kind, value)` pairs seen on the batch's spans.
    keys: Vec<(&'static str, String)>,
    /// A span was stored before: recompute from the stored spans.
    dirty: bool,
}

/// Writes batches (one, or several queued ones: a group commit) in one
/// transaction, with the counters' increase since `persisted` (so the `meta`
/// table accumulates across processes).
pub(crate) fn write_batch(
    conn: &mut Connection,
    batches: &[&EncodedBatch],
    persisted: &ExportStats,
    target: &ExportStats,
) -> rusqlite::Result<()> {
    let spans = items(batches);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut deltas = AggDeltas::default();
    let mut traces: Vec<TraceWork> = Vec::new();
    let mut index: HashMap<u128, usize> = HashMap::new();
    let mut span_trace: Vec<usize> = Vec::with_capacity(spans.len());
    let mut rebuild_aggregates = false;
    {
        // Pass 1: the batch's traces, their stored summaries and root workflows.
        let mut select = tx.prepare_cached(SELECT_TRACE)?;
        for item in &spans {
            let span = item.span;
            let id = u128::from_be_bytes(span.span_context.trace_id().to_bytes());
            let at = match index.get(&id) {
                Some(&at) => at,
                None => {
                    let hex = hex32(id);
                    let stored = select.query_row([&hex], Summary::from_row).optional()?;
                    let root_workflow = stored
                        .as_ref()
                        .filter(|s| s.name_is_root)
                        .and_then(|s| Some((s.name_start_ns, s.workflow.clone()?)));
                    traces.push(TraceWork {
                        hex,
                        stored,
                        batch: None,
                        root_workflow,
                        keys: Vec::new(),
                        dirty: false,
                    });
                    index.insert(id, traces.len() - 1);
                    traces.len() - 1
                }
            };
            span_trace.push(at);
            if is_root(span) {
                let start = time_ns(span.start_time);
                let t = &mut traces[at];
                if t.root_workflow.as_ref().is_none_or(|(s, _)| start < *s) {
                    t.root_workflow = Some((start, root_workflow(span)));
                }
            }
        }

        // Pass 2: the rows.
        let mut insert = tx.prepare_cached(INSERT_SPAN)?;
        // SQLite keeps a statement's bindings across executions: columns
        // that repeat from span to span (kind, status, service, scope, empty
        // events and links, the resource) are bound again only when they change.
        let mut last: [Option<Option<&str>>; REPEATING.len()] = [None; REPEATING.len()];
        for (i, (item, &at)) in spans.iter().zip(&span_trace).enumerate() {
            let (span, resource) = (item.span, item.resource);
            let t = &mut traces[at];
            let mut row = SpanRecord::from_span(span, item.found);
            if row.workflow.is_none() {
                row.workflow = t.root_workflow.as_ref().map(|(_, w)| Cow::Owned(w.clone()));
            }
            let values = row.values(&t.hex, item);
            let repeating: [Option<&str>; REPEATING.len()] = [
                Some(row.kind),
                Some(row.status_code),
                resource.service_name.as_deref(),
                Some(item.scope_name),
                Some(item.events),
                Some(item.links),
                Some(&resource.json),
            ];
            let mut r = 0;
            for (k, v) in values.iter().enumerate() {
                if REPEATING.get(r) == Some(&k) {
                    r += 1;
                    if last[r - 1] == Some(repeating[r - 1]) {
                        continue;
                    }
                    last[r - 1] = Some(repeating[r - 1]);
                }
                insert.raw_bind_parameter(k + 1, v)?;
            }
            if insert.raw_execute()? == 0 {
                // Stored before: take the old row out of the model/provider
                // groups, replace it, and recompute the trace afterwards.
                agg::apply_spans(
                    &tx,
                    &mut deltas,
                    &format!(
                        "SELECT {} FROM spans WHERE trace_id = ?1 AND span_id = ?2 AND {}",
                        agg::SPAN_CONTRIBUTION_COLUMNS,
                        agg::COUNTED_SPAN
                    ),
                    params![t.hex, row.span_id],
                    -1,
                )?;
                agg::apply_steps(
                    &tx,
                    &mut deltas,
                    &format!(
                        "SELECT {} FROM spans WHERE trace_id = ?1 AND span_id = ?2 AND {}",
                        agg::step_columns(),
                        agg::STEP_SPAN
                    ),
                    params![t.hex, row.span_id],
                    -1,
                )?;
                tx.prepare_cached(UPSERT_SPAN)?.execute(&values[..])?;
                t.dirty = true;
                // A stored span without a stored summary (deleted by hand) and
                // not from this batch: the aggregates cannot be patched, so
                // they are rebuilt from the tables.
                let ctx = &span.span_context;
                rebuild_aggregates |= t.stored.is_none()
                    && !spans[..i].iter().any(|s| {
                        let s = s.span;
                        s.span_context.trace_id() == ctx.trace_id()
                            && s.span_context.span_id() == ctx.span_id()
                    });
            }
            row.add_to(t, resource, span, &mut deltas);
        }

        // Pass 3: the summaries, keys and aggregates.
        let mut fill = tx.prepare_cached(FILL_WORKFLOW)?;
        let mut insert_trace = tx.prepare_cached(INSERT_TRACE)?;
        let mut update_trace = tx.prepare_cached(UPDATE_TRACE)?;
        let mut insert_key = tx.prepare_cached(INSERT_KEY)?;
        for t in &traces {
            let Some(batch) = &t.batch else { continue };
            let old = t.stored.as_ref().map(Summary::contribution);
            let new = if t.dirty {
                fill.execute([&t.hex])?;
                tx.prepare_cached(RECOMPUTE_TRACE)?.execute([&t.hex])?;
                tx.prepare_cached("DELETE FROM trace_keys WHERE trace_id = ?1")?
                    .execute([&t.hex])?;
                tx.prepare_cached(REKEY_TRACE)?.execute([&t.hex])?;
                agg::trace_contribution(&tx, &t.hex)?
            } else {
                let summary = match &t.stored {
                    Some(stored) => {
                        // Spans stored before their first root get its workflow now.
                        if !stored.name_is_root && batch.name_is_root {
                            fill.execute([&t.hex])?;
                        }
                        let mut s = stored.clone();
                        s.merge(batch);
                        s.write(&mut update_trace, &t.hex)?;
                        // The workflow key of a summary named by a span other than
                        // the root until now goes with that name, unless a step has it.
                        if let Some(old) = &stored.workflow
                            && s.workflow.as_ref() != Some(old)
                            && !t.keys.iter().any(|(k, v)| *k == "workflow" && v == old)
                        {
                            tx.prepare_cached(DROP_WORKFLOW_KEY)?
                                .execute(params![t.hex, old])?;
                        }
                        if s.start_ns != stored.start_ns {
                            tx.prepare_cached(
                                "UPDATE trace_keys SET start_ns = ?2 WHERE trace_id = ?1",
                            )?
                            .execute(params![t.hex, s.start_ns])?;
                        }
                        s
                    }
                    None => {
                        batch.write(&mut insert_trace, &t.hex)?;
                        batch.clone()
                    }
                };
                // Model and provider: every value. User and session: values
                // other than the summary's own (which its indexed column holds),
                // including a previous summary value it no longer shows.
                let own = |kind: &str| match kind {
                    "user_id" => summary.user_id.as_deref(),
                    "session_id" => summary.session_id.as_deref(),
                    _ => None,
                };
                for (kind, value) in &t.keys {
                    if own(kind) != Some(value.as_str()) {
                        insert_key.execute(params![t.hex, kind, value, summary.start_ns])?;
                    }
                }
                // Workflow: the trace's own too (the filter walks these keys alone).
                if let Some(w) = &summary.workflow {
                    insert_key.execute(params![t.hex, "workflow", w, summary.start_ns])?;
                }
                if let Some(stored) = &t.stored {
                    for (kind, old) in [
                        ("user_id", &stored.user_id),
                        ("session_id", &stored.session_id),
                    ] {
                        if let Some(old) = old
                            && own(kind) != Some(old.as_str())
                        {
                            insert_key.execute(params![t.hex, kind, old, summary.start_ns])?;
                        }
                    }
                }
                Some(summary.contribution())
            };
            if let Some(old) = old {
                deltas.apply_trace(&old, -1);
            }
            if let Some(new) = new {
                deltas.apply_trace(&new, 1);
            }
        }
    }
    if rebuild_aggregates {
        agg::rebuild(&tx)?;
    } else if !deltas.is_empty() {
        deltas.flush(&tx)?;
    }
    persist_counters(&tx, persisted, target)?;
    tx.commit()
}

fn is_root(span: &SpanData) -> bool {
    span.parent_span_id == opentelemetry::trace::SpanId::INVALID || span.parent_span_is_remote
}

/// A root's workflow: `gen_ai.workflow.name`, else its name.
fn root_workflow(span: &SpanData) -> String {
    find(&span.attributes, semconv::GEN_AI_WORKFLOW_NAME)
        .map_or_else(|| span.name.to_string(), |v| v.as_str().into_owned())
}

/// One span's denormalised columns, borrowing from the span where it can.
#[derive(Debug)]
struct SpanRecord<'a> {
    span_id: Hex16,
    parent_span_id: Option<Hex16>,
    is_root: bool,
    kind: &'static str,
    status_code: &'static str,
    status_message: Option<&'a str>,
    start_ns: i64,
    end_ns: i64,
    duration_ms: f64,
    workflow: Option<Cow<'a, str>>,
    span_type: Option<Cow<'a, str>>,
    provider: Option<Cow<'a, str>>,
    model: Option<Cow<'a, str>>,
    user_id: Option<Cow<'a, str>>,
    session_id: Option<Cow<'a, str>>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read_tokens: Option<i64>,
    reasoning_tokens: Option<i64>,
    total_tokens: Option<i64>,
    cost_usd: Option<f64>,
}

impl<'a> SpanRecord<'a> {
    fn from_span(span: &'a SpanData, found: &Found) -> Self {
        let has_parent = span.parent_span_id != opentelemetry::trace::SpanId::INVALID;
        let is_root = is_root(span);
        let attr = |key: usize| span.attributes.get(found[key] as usize).map(|kv| &kv.value);
        let string = |key: usize| attr(key).map(Value::as_str);
        let int = |key: usize| attr(key).and_then(as_i64);
        let start_ns = time_ns(span.start_time);
        let end_ns = time_ns(span.end_time).max(start_ns);
        let (status_code, status_message) = match &span.status {
            Status::Unset => ("unset", None),
            Status::Ok => ("ok", None),
            Status::Error { description } => ("error", Some(description.as_ref())),
        };
        let input_tokens =
            int(k::GEN_AI_USAGE_INPUT_TOKENS).or_else(|| int(k::LLM_TOKEN_COUNT_PROMPT));
        let output_tokens =
            int(k::GEN_AI_USAGE_OUTPUT_TOKENS).or_else(|| int(k::LLM_TOKEN_COUNT_COMPLETION));
        let total_tokens = int(k::GEN_AI_USAGE_TOTAL_TOKENS)
            .or_else(|| int(k::LLM_TOKEN_COUNT_TOTAL))
            .or(match (input_tokens, output_tokens) {
                (None, None) => None,
                (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
            });
        let workflow = string(k::GEN_AI_WORKFLOW_NAME)
            .or_else(|| is_root.then(|| Cow::Borrowed(span.name.as_ref())));
        Self {
            span_id: Hex16(hex16(u64::from_be_bytes(
                span.span_context.span_id().to_bytes(),
            ))),
            parent_span_id: has_parent
                .then(|| Hex16(hex16(u64::from_be_bytes(span.parent_span_id.to_bytes())))),
            is_root,
            kind: kind_str(&span.span_kind),
            status_code,
            status_message,
            start_ns,
            end_ns,
            duration_ms: (end_ns - start_ns) as f64 / 1_000_000.0,
            workflow,
            span_type: string(k::TOKENTRACE_SPAN_TYPE),
            provider: string(k::GEN_AI_PROVIDER_NAME),
            model: string(k::GEN_AI_RESPONSE_MODEL).or_else(|| string(k::GEN_AI_REQUEST_MODEL)),
            user_id: string(k::USER_ID),
            session_id: string(k::SESSION_ID).or_else(|| string(k::GEN_AI_CONVERSATION_ID)),
            input_tokens,
            output_tokens,
            cache_read_tokens: int(k::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            reasoning_tokens: int(k::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            total_tokens,
            cost_usd: attr(k::COST_TOTAL_USD).and_then(as_f64),
        }
    }

    /// The `spans` columns, in [`INSERT_SPAN`]'s order.
    fn values<'r>(
        &'r self,
        trace_hex: &'r dyn ToSql,
        item: &'r Item<'_>,
    ) -> [&'r dyn ToSql; COLUMNS] {
        [
            trace_hex,
            &self.span_id,
            &self.parent_span_id,
            &self.is_root,
            &item.span.name,
            &self.kind,
            &self.status_code,
            &self.status_message,
            &self.start_ns,
            &self.end_ns,
            &self.duration_ms,
            &item.resource.service_name,
            &item.scope_name,
            &item.attributes,
            &item.events,
            &item.links,
            &item.resource.json,
            &self.workflow,
            &self.span_type,
            &self.provider,
            &self.model,
            &self.user_id,
            &self.session_id,
            &self.input_tokens,
            &self.output_tokens,
            &self.cache_read_tokens,
            &self.reasoning_tokens,
            &self.total_tokens,
            &self.cost_usd,
        ]
    }

    /// Folds this span into its trace's batch summary, keys and the
    /// model/provider aggregates.
    fn add_to(
        &self,
        t: &mut TraceWork,
        resource: &ResourceInfo,
        span: &SpanData,
        deltas: &mut AggDeltas,
    ) {
        let counted = agg::is_counted(self.span_type.as_deref());
        let error = self.status_code == "error";
        if counted && (self.model.is_some() || self.provider.is_some()) {
            let c = Contribution {
                latency_ms: self.duration_ms,
                error,
                input_tokens: self.input_tokens.unwrap_or(0),
                output_tokens: self.output_tokens.unwrap_or(0),
                total_tokens: self.total_tokens.unwrap_or(0),
                cost_usd: self.cost_usd.unwrap_or(0.0),
                start_ns: self.start_ns,
                user_id: None,
            };
            if let Some(m) = &self.model {
                deltas.apply(Dim::Model, m, &c, 1);
            }
            if let Some(p) = &self.provider {
                deltas.apply(Dim::Provider, p, &c, 1);
            }
        }
        let step = self
            .workflow
            .as_ref()
            .filter(|_| self.span_type.as_deref() == Some(semconv::values::SPAN_TYPE_WORKFLOW));
        if let Some(name) = step {
            let int = |k: &str| find(&span.attributes, k).and_then(as_i64).unwrap_or(0);
            let c = Contribution {
                latency_ms: self.duration_ms,
                error,
                input_tokens: int(semconv::ROLLUP_INPUT_TOKENS),
                output_tokens: int(semconv::ROLLUP_OUTPUT_TOKENS),
                total_tokens: int(semconv::ROLLUP_TOTAL_TOKENS),
                cost_usd: find(&span.attributes, semconv::ROLLUP_COST_USD)
                    .and_then(as_f64)
                    .unwrap_or(0.0),
                start_ns: self.start_ns,
                user_id: None,
            };
            deltas.apply(Dim::Step, name, &c, 1);
        }
        for (kind, value) in [
            ("user_id", self.user_id.as_ref()),
            ("session_id", self.session_id.as_ref()),
            ("model", self.model.as_ref()),
            ("provider", self.provider.as_ref()),
            ("workflow", step),
        ] {
            if let Some(v) = value
                && !t.keys.iter().any(|(k, x)| *k == kind && x == v)
            {
                t.keys.push((kind, v.clone().into_owned()));
            }
        }
        let b = t.batch.get_or_insert_with(|| Summary {
            name: span.name.to_string(),
            workflow: self.workflow.as_deref().map(str::to_owned),
            service_name: resource.service_name.clone(),
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            name_is_root: self.is_root,
            name_start_ns: self.start_ns,
            ..Summary::default()
        });
        // The naming span: a root before a non-root, then the earliest.
        if (self.is_root, std::cmp::Reverse(self.start_ns))
            > (b.name_is_root, std::cmp::Reverse(b.name_start_ns))
        {
            span.name.as_ref().clone_into(&mut b.name);
            b.workflow = self.workflow.as_deref().map(str::to_owned);
            b.name_is_root = self.is_root;
            b.name_start_ns = self.start_ns;
        }
        b.start_ns = b.start_ns.min(self.start_ns);
        b.end_ns = b.end_ns.max(self.end_ns);
        b.span_count += 1;
        b.error_count += i64::from(error);
        if counted {
            b.input_tokens += self.input_tokens.unwrap_or(0);
            b.output_tokens += self.output_tokens.unwrap_or(0);
            b.total_tokens += self.total_tokens.unwrap_or(0);
            b.cost_usd += self.cost_usd.unwrap_or(0.0);
        }
        max_str_into(&mut b.user_id, self.user_id.as_deref());
        max_str_into(&mut b.session_id, self.session_id.as_deref());
        max_str_into(&mut b.model, self.model.as_deref());
        max_str_into(&mut b.provider, self.provider.as_deref());
    }
}

fn max_str_into(into: &mut Option<String>, other: Option<&str>) {
    if let Some(o) = other
        && into.as_deref().is_none_or(|i| o > i)
    {
        *into = Some(o.to_owned());
    }
}

/// Columns of [`INSERT_SPAN`].
const COLUMNS: usize = 29;
/// Positions in [`SpanRecord::values`] of the columns that usually repeat
/// from span to span (kind, status code, service, scope, events, links,
/// resource), ascending.
const REPEATING: [usize; 7] = [5, 6, 11, 12, 14, 15, 16];

const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2)
ON CONFLICT (key) DO UPDATE SET value = value + excluded.value";

/// Adds the counters' increase since `persisted` to the `meta` table (so it
/// accumulates across processes), inside the caller's transaction.
pub(crate) fn persist_counters(
    tx: &rusqlite::Transaction<'_>,
    persisted: &ExportStats,
    target: &ExportStats,
) -> rusqlite::Result<()> {
    let mut meta = tx.prepare_cached(UPSERT_META)?;
    let pairs = [
        (
            "written_spans",
            target.written_spans,
            persisted.written_spans,
        ),
        (
            "dropped_spans",
            target.dropped_spans,
            persisted.dropped_spans,
        ),
        ("failed_spans", target.failed_spans, persisted.failed_spans),
        (
            "failed_batches",
            target.failed_batches,
            persisted.failed_batches,
        ),
        (
            "upstream_dropped_spans",
            target.upstream_dropped_spans,
            persisted.upstream_dropped_spans,
        ),
        (
            "retention_deleted_spans",
            target.retention_deleted_spans,
            persisted.retention_deleted_spans,
        ),
    ];
    for (key, now, before) in pairs {
        let delta = now.saturating_sub(before);
        if delta > 0 {
            meta.execute(params![key, delta as i64])?;
        }
    }
    Ok(())
}
