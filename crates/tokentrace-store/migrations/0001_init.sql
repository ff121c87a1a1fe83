-- tokentrace store schema, version 1.
--
-- `spans` is a public contract (docs/store.md): one row per OpenTelemetry span,
-- keyed by its ids; plain SQL against it is supported. `traces` is a summary
-- the writer maintains so the dashboard's listings do not aggregate every span.

CREATE TABLE spans (
    trace_id          TEXT    NOT NULL,          -- 32 lowercase hex digits
    span_id           TEXT    NOT NULL,          -- 16 lowercase hex digits
    parent_span_id    TEXT,                      -- NULL for a root
    is_root           INTEGER NOT NULL,          -- 1 when there is no local parent (none, or remote)
    name              TEXT    NOT NULL,
    kind              TEXT    NOT NULL,          -- internal, server, client, producer, consumer
    status_code       TEXT    NOT NULL,          -- unset, ok, error
    status_message    TEXT,
    start_ns          INTEGER NOT NULL,          -- Unix epoch nanoseconds
    end_ns            INTEGER NOT NULL,
    duration_ms       REAL    NOT NULL,
    service_name      TEXT,
    scope_name        TEXT,
    attributes        TEXT    NOT NULL DEFAULT '{}',  -- JSON object
    events            TEXT    NOT NULL DEFAULT '[]',  -- JSON array of {name, time_ns, attributes}
    links             TEXT    NOT NULL DEFAULT '[]',  -- JSON array of {trace_id, span_id, attributes}
    resource          TEXT    NOT NULL DEFAULT '{}',  -- JSON object
    -- denormalised from the attributes, indexed for the dashboard
    workflow          TEXT,
    span_type         TEXT,
    provider          TEXT,
    model             TEXT,
    user_id           TEXT,
    session_id        TEXT,
    input_tokens      INTEGER,
    output_tokens     INTEGER,
    cache_read_tokens INTEGER,
    reasoning_tokens  INTEGER,
    total_tokens      INTEGER,
    cost_usd          REAL,
    PRIMARY KEY (trace_id, span_id)
);

CREATE INDEX spans_start_ns ON spans (start_ns);
CREATE INDEX spans_workflow ON spans (workflow);
CREATE INDEX spans_model ON spans (model);
CREATE INDEX spans_provider ON spans (provider);
CREATE INDEX spans_user_id ON spans (user_id);
CREATE INDEX spans_session_id ON spans (session_id);

CREATE TABLE traces (
    trace_id      TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    workflow      TEXT,
    service_name  TEXT,
    start_ns      INTEGER NOT NULL,
    end_ns        INTEGER NOT NULL,
    duration_ms   REAL    NOT NULL,
    span_count    INTEGER NOT NULL,
    error_count   INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens  INTEGER NOT NULL,
    cost_usd      REAL    NOT NULL,
    user_id       TEXT,
    session_id    TEXT,
    model         TEXT,
    provider      TEXT
);

CREATE INDEX traces_start_ns ON traces (start_ns);
CREATE INDEX traces_workflow ON traces (workflow, start_ns);
CREATE INDEX traces_user_id ON traces (user_id, start_ns);
CREATE INDEX traces_session_id ON traces (session_id, start_ns);

-- Exporter counters (dropped and failed spans) the dashboard can read.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
