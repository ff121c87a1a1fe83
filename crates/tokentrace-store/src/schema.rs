//! Connection setup and schema migrations.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{StoreError, StoreErrorKind};

/// Migrations in order; the index + 1 is the schema version each produces.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_perf.sql"),
    include_str!("../migrations/0003_span_indexes.sql"),
    include_str!("../migrations/0004_metrics.sql"),
    include_str!("../migrations/0005_span_usage_indexes.sql"),
    include_str!("../migrations/0006_hourly_stats.sql"),
    include_str!("../migrations/0007_steps.sql"),
];

/// Page size of a new database file.
const PAGE_SIZE: i64 = 16_384;

/// Schema versions that introduced `stats_agg` and `stats_hourly`, filled in
/// Rust once every migration's SQL has run.
const AGGREGATE_VERSIONS: [i64; 3] = [2, 6, 7];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating if needed) the database at `path`, in WAL mode, migrated.
pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Io,
                format!("cannot create directory {}", parent.display()),
                e,
            )
        })?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(busy_timeout)?;
    // 16 KiB pages for a new file (an existing one keeps its page size: WAL
    // mode cannot change it): shallower B-trees and fewer page splits per
    // row; the writer measured 15-20% less CPU per span than with 4 KiB.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    // WAL lets readers (dashboard, sqlite3 CLI) run while the exporter writes.
    // synchronous=NORMAL in WAL mode is durable across a process crash (the
    // WAL is in the OS cache); only a power loss can lose the last commits.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Up to 64 MiB of page cache (allocated as used): the writer's B-tree
    // pages stay in memory instead of being re-read from the OS per batch,
    // and a group commit's dirty pages fit without spilling to the WAL
    // before the commit.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Truncate the WAL back to 64 MiB after a checkpoint instead of keeping
    // its high-water mark on disk.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    migrate(&conn)?;
    Ok(conn)
}

/// What a read-only open found.
pub(crate) enum ReadOnly {
    /// A store of this build's schema, opened read-only.
    Current(Connection),
    /// A tokentrace store of an older schema: it needs migrating (a write).
    Older,
}

/// Opens the existing store at `path` read-only, after checking that it is
/// one: a file that is empty, not SQLite, corrupt, or a SQLite database
/// without tokentrace's tables is refused and left byte for byte as it was
/// (no schema, no WAL switch, no journal).
pub(crate) fn open_read_only(path: &Path, busy_timeout: Duration) -> Result<ReadOnly, StoreError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        StoreError::with_source(
            StoreErrorKind::Io,
            format!("cannot read {}", path.display()),
            e,
        )
    })?;
    if meta.len() == 0 {
        return Err(StoreError::new(
            StoreErrorKind::NotAStore,
            format!(
                "{} is an empty file, not a tokentrace store",
                path.display()
            ),
        ));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(busy_timeout)?;
    // The first read of the schema is where SQLite finds a file that is not
    // a database or is damaged.
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master
         WHERE type = 'table' AND name IN ('spans', 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if tables < 2 {
        return Err(StoreError::new(
            StoreErrorKind::NotAStore,
            format!(
                "{} is a SQLite database but not a tokentrace store (no spans and schema_version tables); it was not changed",
                path.display()
            ),
        ));
    }
    let version = current_version(&conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::new(
            StoreErrorKind::Schema,
            format!(
                "database schema version {version} is newer than this build's {SCHEMA_VERSION}"
            ),
        ));
    }
    if version < SCHEMA_VERSION {
        return Ok(ReadOnly::Older);
    }
    Ok(ReadOnly::Current(conn))
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current = current_version(conn)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // IMMEDIATE serialises two processes opening a fresh file at once; the
    // version is re-read under the lock.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let current = current_version(&tx)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::new(
            StoreErrorKind::Schema,
            format!(
                "database schema version {current} is newer than this build's {SCHEMA_VERSION}"
            ),
        ));
    }
    let mut rebuild = false;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current {
            tx.execute_batch(sql)?;
            rebuild |= AGGREGATE_VERSIONS.contains(&version);
        }
    }
    if rebuild {
        crate::agg::rebuild(&tx)?;
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    let v: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?;
    Ok(v.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_keeps_one_schema_version_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/t.db");
        drop(open(&path, Duration::from_secs(1)).unwrap());
        let conn = open(&path, Duration::from_secs(1)).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path, Duration::from_secs(1)).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        let err = open(&path, Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Schema);
    }
}
