//! The writer's batch path: spans → `spans` rows, the batch's traces folded
//! into their `traces` summaries, `trace_keys` and `stats_agg`, in one
//! transaction.
//!
//! The common case touches each row once: a span is inserted with its
//! workflow already known, a trace's summary is updated from the batch's own
//! rows plus the stored summary, and the aggregates get the difference. A span
//! exported a second time (an upsert) takes a slow path that recomputes its
//! trace from the stored spans.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, TransactionBehavior, params};
use tokentrace_core::semconv;
// The column encoder writes JSON with core's writer (`query.rs` quotes with `write_str` too).
pub(crate) use tokentrace_core::json::write_str;
use tokentrace_core::json::{write_f64, write_i64};

use crate::agg::{self, AggDeltas, Contribution, Dim, TraceContribution};
use crate::exporter::{ResourceInfo, persist_counters, time_ns};
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

/// A batch whose JSON columns (attributes, events, links) are already
/// serialised: the encoder thread builds it, so the writer thread only binds
/// and inserts.
#[derive(Debug)]
pub(crate) struct EncodedBatch {
    resource: Arc<ResourceInfo>,
    spans: Vec<SpanData>,
    /// Every span's attributes, events and links JSON, back to back.
    json: String,
    /// Per span: where its attributes, events and links end in `json`.
    ends: Vec<[usize; 3]>,
    /// Per span: the attributes [`SpanRecord`] reads, as positions in its attributes.
    found: Vec<Found>,
}

/// Position in a span's attributes of each of [`KEYS`] ([`NOT_FOUND`] when absent).
type Found = [u32; KEYS.len()];
const NOT_FOUND: u32 = u32::MAX;

impl EncodedBatch {
    /// Serialises the JSON columns of `spans`; `order` is scratch space.
    pub(crate) fn encode(
        resource: Arc<ResourceInfo>,
        spans: Vec<SpanData>,
        order: &mut Vec<(u64, usize)>,
    ) -> Self {
        let mut json = String::with_capacity(spans.len() * 512);
        let mut ends = Vec::with_capacity(spans.len());
        let mut found = Vec::with_capacity(spans.len());
        for span in &spans {
            // One pass over the attributes; the last value of a key wins, as
            // an OTel span's later `set_attribute` does.
            let mut f = [NOT_FOUND; KEYS.len()];
            for (i, kv) in span.attributes.iter().enumerate() {
                if let Some(k) = KEYS.iter().position(|k| *k == kv.key.as_str()) {
                    f[k] = u32::try_from(i).unwrap_or(NOT_FOUND);
                }
            }
            found.push(f);
            write_attributes(&mut json, &span.attributes, order);
            let a = json.len();
            write_events(&mut json, span, order);
            let e = json.len();
            write_links(&mut json, span, order);
            ends.push([a, e, json.len()]);
        }
        Self {
            resource,
            spans,
            json,
            ends,
            found,
        }
    }

    /// Number of spans.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// One span of the transaction, with its batch's resource and its JSON.
struct Item<'a> {
    span: &'a SpanData,
    scope_name: &'a str,
    found: &'a Found,
    resource: &'a ResourceInfo,
    attributes: &'a str,
    events: &'a str,
    links: &'a str,
}

fn items<'a>(batches: &[&'a EncodedBatch]) -> Vec<Item<'a>> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.len()).sum());
    for b in batches {
        let mut start = 0;
        for ((span, &[a, e, l]), found) in b.spans.iter().zip(&b.ends).zip(&b.found) {
            out.push(Item {
                span,
                scope_name: span.instrumentation_scope.name(),
                found,
                resource: &b.resource,
                attributes: &b.json[start..a],
                events: &b.json[a..e],
                links: &b.json[e..l],
            });
            start = l;
        }
    }
    out
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

/// The attributes [`SpanRecord`] reads, by index.
const KEYS: [&str; 17] = [
    semconv::GEN_AI_USAGE_INPUT_TOKENS,
    semconv::LLM_TOKEN_COUNT_PROMPT,
    semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv::LLM_TOKEN_COUNT_COMPLETION,
    semconv::GEN_AI_USAGE_TOTAL_TOKENS,
    semconv::LLM_TOKEN_COUNT_TOTAL,
    semconv::GEN_AI_WORKFLOW_NAME,
    semconv::TOKENTRACE_SPAN_TYPE,
    semconv::GEN_AI_PROVIDER_NAME,
    semconv::GEN_AI_RESPONSE_MODEL,
    semconv::GEN_AI_REQUEST_MODEL,
    semconv::USER_ID,
    semconv::SESSION_ID,
    semconv::GEN_AI_CONVERSATION_ID,
    semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    semconv::COST_TOTAL_USD,
];

/// Index in [`KEYS`] of the `semconv` constant of the same name.
mod k {
    pub(super) const GEN_AI_USAGE_INPUT_TOKENS: usize = 0;
    pub(super) const LLM_TOKEN_COUNT_PROMPT: usize = 1;
    pub(super) const GEN_AI_USAGE_OUTPUT_TOKENS: usize = 2;
    pub(super) const LLM_TOKEN_COUNT_COMPLETION: usize = 3;
    pub(super) const GEN_AI_USAGE_TOTAL_TOKENS: usize = 4;
    pub(super) const LLM_TOKEN_COUNT_TOTAL: usize = 5;
    pub(super) const GEN_AI_WORKFLOW_NAME: usize = 6;
    pub(super) const TOKENTRACE_SPAN_TYPE: usize = 7;
    pub(super) const GEN_AI_PROVIDER_NAME: usize = 8;
    pub(super) const GEN_AI_RESPONSE_MODEL: usize = 9;
    pub(super) const GEN_AI_REQUEST_MODEL: usize = 10;
    pub(super) const USER_ID: usize = 11;
    pub(super) const SESSION_ID: usize = 12;
    pub(super) const GEN_AI_CONVERSATION_ID: usize = 13;
    pub(super) const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usize = 14;
    pub(super) const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usize = 15;
    pub(super) const COST_TOTAL_USD: usize = 16;
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

/// A span id as 16 lowercase hex digits, bound as TEXT without a `String`.
#[derive(Debug, Clone, Copy)]
struct Hex16([u8; 16]);

impl ToSql for Hex16 {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(&self.0)))
    }
}

/// Columns of [`INSERT_SPAN`].
const COLUMNS: usize = 29;
/// Positions in [`SpanRecord::values`] of the columns that usually repeat
/// from span to span (kind, status code, service, scope, events, links,
/// resource), ascending.
const REPEATING: [usize; 7] = [5, 6, 11, 12, 14, 15, 16];

/// 16 lowercase hex digits of `v`.
fn hex16(v: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = b"0123456789abcdef"[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// 32 lowercase hex digits of `v` (a trace id).
fn hex32(v: u128) -> String {
    let mut out = String::with_capacity(32);
    out.push_str(ascii(&hex16((v >> 64) as u64)));
    out.push_str(ascii(&hex16(v as u64)));
    out
}

fn ascii(hex: &[u8; 16]) -> &str {
    std::str::from_utf8(hex).expect("hex digits are ASCII")
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    // The last value wins, as an OTel span's later `set_attribute` does.
    attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        Value::F64(f) if f.is_finite() => Some(*f as i64),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::F64(f) => Some(*f),
        Value::I64(i) => Some(*i as f64),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

fn kind_str(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// A JSON array of the span's events: `{attributes, name, time_ns}` each.
fn write_events(out: &mut String, span: &SpanData, order: &mut Vec<(u64, usize)>) {
    out.push('[');
    for (i, e) in span.events.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"attributes\":");
        write_attributes(out, &e.attributes, order);
        out.push_str(",\"name\":");
        write_str(out, &e.name);
        out.push_str(",\"time_ns\":");
        write_i64(out, time_ns(e.timestamp));
        out.push('}');
    }
    out.push(']');
}

/// A JSON array of the span's links: `{attributes, span_id, trace_id}` each.
fn write_links(out: &mut String, span: &SpanData, order: &mut Vec<(u64, usize)>) {
    out.push('[');
    for (i, l) in span.links.links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"attributes\":");
        write_attributes(out, &l.attributes, order);
        let _ = write!(
            out,
            ",\"span_id\":\"{}\",\"trace_id\":\"{}\"}}",
            l.span_context.span_id(),
            l.span_context.trace_id()
        );
    }
    out.push(']');
}

/// A JSON object of `attributes`, keys sorted, the last value of a repeated
/// key winning (the layout `serde_json`'s map gave before).
pub(crate) fn write_attributes(
    out: &mut String,
    attributes: &[KeyValue],
    order: &mut Vec<(u64, usize)>,
) {
    order.clear();
    // Sorted by key; the first 8 bytes of a key, as a big-endian number, order
    // most pairs without a string comparison. Among equal keys the original
    // order stays (the index breaks ties), so the last is the latest.
    order.extend(attributes.iter().enumerate().map(|(i, kv)| {
        let mut prefix = [0u8; 8];
        let key = kv.key.as_str().as_bytes();
        let n = key.len().min(8);
        prefix[..n].copy_from_slice(&key[..n]);
        (u64::from_be_bytes(prefix), i)
    }));
    order.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb)
            .then_with(|| attributes[a].key.as_str().cmp(attributes[b].key.as_str()))
            .then(a.cmp(&b))
    });
    out.push('{');
    let mut first = true;
    for (n, &(_, i)) in order.iter().enumerate() {
        let key = attributes[i].key.as_str();
        if order
            .get(n + 1)
            .is_some_and(|&(_, next)| attributes[next].key.as_str() == key)
        {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_str(out, key);
        out.push(':');
        write_value(out, &attributes[i].value);
    }
    out.push('}');
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I64(i) => write_i64(out, *i),
        Value::F64(f) => write_f64(out, *f),
        Value::String(s) => write_str(out, s.as_str()),
        Value::Array(Array::Bool(a)) => write_array(out, a, |out, b| {
            out.push_str(if *b { "true" } else { "false" });
        }),
        Value::Array(Array::I64(a)) => write_array(out, a, |out, i| write_i64(out, *i)),
        Value::Array(Array::F64(a)) => write_array(out, a, |out, f| write_f64(out, *f)),
        Value::Array(Array::String(a)) => {
            write_array(out, a, |out, s: &StringValue| write_str(out, s.as_str()));
        }
        // `Value` and `Array` are non-exhaustive: keep a future variant as text.
        other => write_str(out, &other.as_str()),
    }
}

fn write_array<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_encode_as_json_that_reads_back() {
        let attrs = vec![
            KeyValue::new("z", "quote \" back\\slash \n\u{1} ünï"),
            KeyValue::new("a", 7_i64),
            KeyValue::new("f", 1.0),
            KeyValue::new("small", 4.2e-5),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("b", true),
            KeyValue::new("a", 8_i64),
            KeyValue::new("arr", Value::Array(Array::I64(vec![1, 2]))),
            KeyValue::new(
                "strs",
                Value::Array(Array::String(vec!["x".into(), "\"y\"".into()])),
            ),
        ];
        let mut out = String::new();
        write_attributes(&mut out, &attrs, &mut Vec::new());
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        let expected = serde_json::json!({
            "z": "quote \" back\\slash \n\u{1} ünï",
            "a": 8,
            "f": 1.0,
            "small": 4.2e-5,
            "nan": null,
            "b": true,
            "arr": [1, 2],
            "strs": ["x", "\"y\""],
        });
        assert_eq!(parsed, expected);
        assert!(parsed["f"].is_f64());
        assert!(parsed["a"].is_i64());
        // Keys sorted, each once.
        assert!(
            out.starts_with("{\"a\":8,\"arr\":[1,2],\"b\":true,"),
            "{out}"
        );
    }
}
