//! Retention: whole traces deleted by age or to a span budget, with what
//! they contributed taken out of the aggregates. The writer runs it in the
//! background; [`Store::apply_retention`](crate::Store::apply_retention) on demand.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::agg::{self, AggDeltas};
use crate::model::Retention;

/// Deletes whole traces: those that ended before `now - max_age`, then the
/// oldest until at most `max_spans` spans remain. The aggregates lose exactly
/// what the deleted traces and spans contributed.
pub(crate) fn apply(
    conn: &mut Connection,
    retention: &Retention,
    now_ns: i64,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut deleted = 0u64;
    if let Some(age) = retention.max_age {
        let age_ns = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = now_ns.saturating_sub(age_ns);
        deleted += delete_traces(&tx, "WHERE end_ns < ?1", cutoff)?;
    }
    if let Some(max) = retention.max_spans {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        // Start time of the newest trace that no longer fits: it and every
        // older trace go, so traces are never cut in half.
        let cutoff: Option<i64> = tx
            .query_row(
                "SELECT start_ns FROM (
                    SELECT start_ns, SUM(span_count) OVER (ORDER BY start_ns DESC, trace_id DESC) AS kept
                    FROM traces)
                 WHERE kept > ?1 ORDER BY start_ns DESC LIMIT 1",
                [max],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(cutoff) = cutoff {
            deleted += delete_traces(&tx, "WHERE start_ns <= ?1", cutoff)?;
        }
    }
    tx.commit()?;
    Ok(deleted)
}

/// Deletes the traces `where_sql` selects (with their spans and keys) and
/// takes them out of the aggregates; returns the number of spans deleted.
fn delete_traces(tx: &Connection, where_sql: &'static str, arg: i64) -> rusqlite::Result<u64> {
    let mut deltas = AggDeltas::default();
    agg::apply_traces(tx, &mut deltas, where_sql, [arg], -1)?;
    let in_traces = format!("trace_id IN (SELECT trace_id FROM traces {where_sql})");
    agg::apply_steps(
        tx,
        &mut deltas,
        &format!(
            "SELECT {} FROM spans WHERE {} AND {in_traces}",
            agg::step_columns(),
            agg::STEP_SPAN
        ),
        [arg],
        -1,
    )?;
    agg::apply_spans(
        tx,
        &mut deltas,
        &format!(
            "SELECT {} FROM spans
             WHERE (model IS NOT NULL OR provider IS NOT NULL) AND {} AND {in_traces}",
            agg::SPAN_CONTRIBUTION_COLUMNS,
            agg::COUNTED_SPAN
        ),
        [arg],
        -1,
    )?;
    let n = tx.execute(&format!("DELETE FROM spans WHERE {in_traces}"), [arg])?;
    tx.execute(&format!("DELETE FROM trace_keys WHERE {in_traces}"), [arg])?;
    tx.execute(&format!("DELETE FROM traces {where_sql}"), [arg])?;
    // After the traces are gone: a session's first/last start is recomputed from the rest.
    deltas.flush(tx)?;
    Ok(n as u64)
}
