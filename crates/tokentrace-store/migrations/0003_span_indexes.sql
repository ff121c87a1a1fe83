-- tokentrace store schema, version 3: the `spans` table's documented indexed
-- columns. Version 2 dropped these because the dashboard no longer needs
-- them (it reads `traces`, `trace_keys` and `stats_agg`), but `spans` is a
-- public table that users query with plain SQL by workflow, provider, user
-- and session, so they are indexed again. Each costs one index write per span
-- (see docs/store.md for the ingest figures with and without them).
CREATE INDEX IF NOT EXISTS spans_workflow ON spans (workflow, start_ns);
CREATE INDEX IF NOT EXISTS spans_provider ON spans (provider) WHERE provider IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_user_id ON spans (user_id, start_ns) WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_session_id ON spans (session_id, start_ns) WHERE session_id IS NOT NULL;
