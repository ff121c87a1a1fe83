-- tokentrace store schema, version 7: nested workflow steps as keys and
-- aggregates, and sort indexes that include the tie-break.
--
-- `trace_keys` gains kind 'workflow': a trace's own workflow and the name of
-- every `#[workflow]` span in it, so a workflow filter (nested steps
-- included) walks one index instead of every span of that workflow.
-- `stats_agg` and `stats_hourly` gain the dimension 'step' (one contribution
-- per `#[workflow]` span, with its roll-ups), filled in Rust right after this
-- migration like the other aggregates.
INSERT OR IGNORE INTO trace_keys (trace_id, kind, value, start_ns)
SELECT trace_id, 'workflow', workflow, start_ns FROM traces WHERE workflow IS NOT NULL;
INSERT OR IGNORE INTO trace_keys (trace_id, kind, value, start_ns)
SELECT s.trace_id, 'workflow', s.workflow, t.start_ns
FROM spans s JOIN traces t ON t.trace_id = s.trace_id
WHERE s.span_type = 'workflow' AND s.workflow IS NOT NULL;

-- The trace list sorts by cost, latency or tokens with the trace id as the
-- tie-break: with it in the index, ORDER BY ... LIMIT walks the index.
DROP INDEX IF EXISTS traces_cost;
DROP INDEX IF EXISTS traces_duration;
DROP INDEX IF EXISTS traces_tokens;
CREATE INDEX traces_cost ON traces (cost_usd, trace_id);
CREATE INDEX traces_duration ON traces (duration_ms, trace_id);
CREATE INDEX traces_tokens ON traces (total_tokens, trace_id);
