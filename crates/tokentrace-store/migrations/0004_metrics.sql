-- tokentrace store schema, version 4: a running summary of the OpenTelemetry
-- metrics (gen_ai.client.token.usage, gen_ai.client.operation.duration,
-- time to first chunk, tokentrace.cost.usd), one row per metric and
-- attribute set. `StoreMetricExporter` adds each export's deltas.
CREATE TABLE IF NOT EXISTS metrics (
    name       TEXT    NOT NULL,
    attributes TEXT    NOT NULL,   -- JSON object, keys sorted
    kind       TEXT    NOT NULL,   -- histogram, sum, gauge
    count      INTEGER NOT NULL DEFAULT 0,   -- histograms: measurements
    sum        REAL    NOT NULL DEFAULT 0,   -- histograms and sums: total; gauges: last value
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (name, attributes)
) WITHOUT ROWID;
