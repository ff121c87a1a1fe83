-- tokentrace store schema, version 2: faster ingest and dashboard queries.
--
-- `spans` keeps its columns (the public contract). Its secondary indexes on
-- workflow, provider, user_id, session_id and start_ns cost an index write per
-- span and no dashboard query uses them any more: trace filters go through
-- `trace_keys`, statistics through `stats_agg`. Models keep a partial index
-- (LLM spans only) for `models_seen` and hand-written SQL.

DROP INDEX IF EXISTS spans_start_ns;
DROP INDEX IF EXISTS spans_workflow;
DROP INDEX IF EXISTS spans_model;
DROP INDEX IF EXISTS spans_provider;
DROP INDEX IF EXISTS spans_user_id;
DROP INDEX IF EXISTS spans_session_id;
CREATE INDEX spans_model ON spans (model, provider) WHERE model IS NOT NULL;

-- The span that names the trace (a root if any, else the earliest), so the
-- writer can update the summary from a batch without re-reading every span.
ALTER TABLE traces ADD COLUMN name_is_root INTEGER NOT NULL DEFAULT 0;
ALTER TABLE traces ADD COLUMN name_start_ns INTEGER NOT NULL DEFAULT 0;
UPDATE traces SET (name_is_root, name_start_ns) = (
    SELECT r.is_root, r.start_ns FROM spans r WHERE r.trace_id = traces.trace_id
    ORDER BY r.is_root DESC, r.start_ns LIMIT 1);

-- Error traces only: "errors only" listings walk this instead of every trace.
CREATE INDEX traces_errors ON traces (start_ns) WHERE error_count > 0;

-- Which traces have a span with a given model or provider: one row per
-- (trace, kind, value), with the trace's start for ordering. For user_id and
-- session_id the `traces` columns (indexed) hold the trace's value; rows here
-- only record other values seen on the same trace (rare), so a user or session
-- filter is `traces.user_id = ? OR trace_id IN (trace_keys rows)`.
CREATE TABLE trace_keys (
    trace_id TEXT    NOT NULL,
    kind     TEXT    NOT NULL,   -- user_id, session_id, model, provider
    value    TEXT    NOT NULL,
    start_ns INTEGER NOT NULL,   -- = traces.start_ns
    PRIMARY KEY (trace_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX trace_keys_value ON trace_keys (kind, value, start_ns, trace_id);

INSERT OR IGNORE INTO trace_keys (trace_id, kind, value, start_ns)
SELECT k.trace_id, k.kind, k.value, t.start_ns
FROM (SELECT trace_id, 'user_id' AS kind, user_id AS value FROM spans WHERE user_id IS NOT NULL
      UNION SELECT trace_id, 'session_id', session_id FROM spans WHERE session_id IS NOT NULL
      UNION SELECT trace_id, 'model', model FROM spans WHERE model IS NOT NULL
      UNION SELECT trace_id, 'provider', provider FROM spans WHERE provider IS NOT NULL) AS k
JOIN traces t ON t.trace_id = k.trace_id;

-- Statistics per group, maintained by the writer (filled from the existing
-- rows right after this migration). Trace-level dimensions (workflow, user,
-- session, day) count traces; model and provider count LLM spans.
-- latency_hist is a binary histogram (see docs/store.md); first/last start
-- and user are kept for the session dimension only.
CREATE TABLE stats_agg (
    dim            TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    count          INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    total_tokens   INTEGER NOT NULL,
    cost_usd       REAL    NOT NULL,
    latency_hist   BLOB    NOT NULL,
    first_start_ns INTEGER,
    last_start_ns  INTEGER,
    user_id        TEXT,
    PRIMARY KEY (dim, key)
) WITHOUT ROWID;
