//! trybuild UI tests: `ui/pass` must compile, `ui/fail` must fail with the
//! exact `.stderr` next to each case (`TRYBUILD=overwrite` re-blesses them
//! when the toolchain changes the wording).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
