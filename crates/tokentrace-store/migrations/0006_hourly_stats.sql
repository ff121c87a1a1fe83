-- tokentrace store schema, version 6: hourly statistics for the dashboard's
-- time series and time-ranged breakdowns, and indexes for sorting traces.
--
-- `stats_hourly` holds, per UTC hour (`start_ns / 3600e9`, floored), the same
-- counters and latency histogram as `stats_agg` for the dimensions `all`
-- (every trace, key ''), `workflow`, `user` (traces) and `model`, `provider`
-- (LLM spans, by their own start). The writer maintains it with `stats_agg`;
-- it is filled from the existing rows right after this migration.
CREATE TABLE IF NOT EXISTS stats_hourly (
    dim           TEXT    NOT NULL,
    hour          INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    count         INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens  INTEGER NOT NULL,
    cost_usd      REAL    NOT NULL,
    latency_hist  BLOB    NOT NULL,
    PRIMARY KEY (dim, hour, key)
) WITHOUT ROWID;

-- The trace list sorts by cost, latency or tokens.
CREATE INDEX IF NOT EXISTS traces_cost ON traces (cost_usd);
CREATE INDEX IF NOT EXISTS traces_duration ON traces (duration_ms);
CREATE INDEX IF NOT EXISTS traces_tokens ON traces (total_tokens);
