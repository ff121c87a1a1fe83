-- tokentrace store schema, version 5: the `spans` table's token and cost
-- columns are indexed too (the last of the documented indexed columns), for
-- plain SQL such as "the most expensive LLM calls". Partial: only LLM spans
-- carry usage, so every other span costs no write in these indexes.
CREATE INDEX IF NOT EXISTS spans_total_tokens ON spans (total_tokens) WHERE total_tokens IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_cost_usd ON spans (cost_usd) WHERE cost_usd IS NOT NULL;
