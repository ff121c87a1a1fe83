//! A process killed with SIGKILL mid-write leaves a database that opens and
//! holds every committed batch, each whole.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokentrace_store::{Store, StoreExporter};

use crate::support::{S, export};

const CHILD_ENV: &str = "TOKENTRACE_STORE_KILL_CHILD_DB";
const SPANS_PER_TRACE: u64 = 10;

/// Runs only as the child of [`sigkill_mid_write_leaves_a_consistent_database`].
#[test]
#[ignore = "child process of sigkill_mid_write_leaves_a_consistent_database"]
fn child_writes_until_killed() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let exporter = StoreExporter::new(path).unwrap();
    for t in 1u128.. {
        let batch = (1..=SPANS_PER_TRACE)
            .map(|s| S::new(t, s, if s == 1 { 0 } else { 1 }, "w", s, 1).build())
            .collect();
        export(&exporter, batch);
    }
}

#[test]
fn sigkill_mid_write_leaves_a_consistent_database() {
    let (_d, path) = crate::support::tempdb();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "kill::child_writes_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        assert!(Instant::now() < deadline, "the child never wrote");
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(n) = Store::open(&path).and_then(|s| s.span_count())
            && n >= 200
        {
            break n;
        }
    };
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let store = Store::open(&path).unwrap();
    let conn = crate::support::sqlite(&path);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let total = store.span_count().unwrap();
    assert!(total >= seen, "{total} < {seen} committed before the kill");
    // Every batch is whole: no trace has a partial set of spans.
    let partial: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (SELECT trace_id FROM spans GROUP BY trace_id HAVING COUNT(*) != ?1)",
            [SPANS_PER_TRACE as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(partial, 0);
    let summaries: i64 = conn
        .query_row("SELECT SUM(span_count) FROM traces", [], |r| r.get(0))
        .unwrap();
    assert_eq!(summaries as u64, total);
}
