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
