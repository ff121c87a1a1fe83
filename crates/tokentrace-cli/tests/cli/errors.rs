//! A missing or corrupt store gives a clear error, not a panic or an empty listing.

use crate::support::{run_on, stderr};

#[test]
fn a_missing_store_suggests_the_demo_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere/traces.db");
    for args in [
        &["traces"][..],
        &["show", "0123456789abcdef0123456789abcdef"],
        &["stats"],
        &["clear", "--yes"],
        &["prices", "check"],
    ] {
        let o = run_on(&path, args);
        assert!(!o.status.success(), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("no trace store at"), "{args:?}: {err}");
        assert!(err.contains("tokentrace demo"), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    assert!(!path.exists(), "reading must not create a store");
    let o = crate::support::run(&[
        "serve",
        "--store",
        path.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no trace store at"));
}

#[test]
fn a_corrupt_store_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    std::fs::write(
        &path,
        b"this is definitely not a SQLite database, just some text bytes".repeat(100),
    )
    .unwrap();
    let o = run_on(&path, &["traces"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("cannot open the trace store"), "{err}");
    assert!(
        err.contains("not a database") || err.contains("corrupt"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn a_directory_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_on(dir.path(), &["traces"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is a directory"));
}

/// A SQLite file that is not a tokentrace store, and an empty file: every
/// read command refuses it and leaves it byte for byte as it was (no tables
/// added, no switch to WAL, no journal or WAL files beside it).
#[test]
fn read_commands_leave_a_foreign_or_empty_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("app.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');")
            .unwrap();
    }
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let listing = |d: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let before_files = listing(dir.path());
    for (path, says) in [
        (&foreign, "is a SQLite database but not a tokentrace store"),
        (&empty, "is an empty file, not a tokentrace store"),
    ] {
        let before = std::fs::read(path).unwrap();
        for args in [
            &["traces"][..],
            &["stats"],
            &["show", "0123456789abcdef0123456789abcdef"],
            &["prices", "check"],
            &["clear", "--yes"],
        ] {
            let o = run_on(path, args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let err = stderr(&o);
            assert!(err.starts_with("error: "), "{args:?}: {err}");
            assert!(err.contains(says), "{args:?}: {err}");
            assert_eq!(
                std::fs::read(path).unwrap(),
                before,
                "{args:?} changed {path:?}"
            );
        }
        let o = crate::support::run(&[
            "serve",
            "--store",
            path.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(says));
        assert_eq!(std::fs::read(path).unwrap(), before);
    }
    assert_eq!(
        listing(dir.path()),
        before_files,
        "no -wal/-shm/-journal left"
    );
}

/// A real store whose pages were damaged is reported as corrupt, not as an
/// allocation failure or a generic SQLite error.
#[test]
fn a_damaged_store_is_reported_as_corrupt() {
    let seeded = crate::support::seeded();
    let path = &seeded.path;
    // Fold the WAL into the file so the damage below hits the only copy.
    {
        // The seeding exporter's writer thread may still be closing its
        // connection: leaving WAL mode needs it gone.
        let c = rusqlite::Connection::open(path).unwrap();
        let mut tries = 0;
        while let Err(e) = c.pragma_update(None, "journal_mode", "DELETE") {
            tries += 1;
            assert!(tries < 200, "{e}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let mut bytes = std::fs::read(path).unwrap();
    let page = 16_384;
    assert!(bytes.len() > 4 * page, "{}", bytes.len());
    // Garble every page after the schema page: b-tree headers included.
    for b in &mut bytes[page..] {
        *b ^= 0xa5;
    }
    std::fs::write(path, &bytes).unwrap();
    for args in [&["traces"][..], &["stats"]] {
        let o = run_on(path, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("is corrupt"), "{args:?}: {err}");
        assert!(!err.contains("out of memory"), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}
