//! `docs/attributes.md` is generated from `semconv::ALL`; this test fails when
//! they drift (`TOKENTRACE_BLESS=1` rewrites the file).

use tokentrace_core::semconv;

fn render() -> String {
    let mut out = String::from(
        "# Attributes\n\n\
         Every attribute name tokentrace emits, generated from\n\
         `tokentrace_core::semconv::ALL` (a test keeps this file in step: run\n\
         `TOKENTRACE_BLESS=1 cargo test -p tokentrace-core --test core docs` after\n\
         changing the constants). OpenTelemetry GenAI names come first; the\n\
         OpenInference mirrors let Arize Phoenix and other OpenInference readers\n\
         understand the same spans.\n\n\
         | name | convention | type | meaning |\n|---|---|---|---|\n",
    );
    for a in semconv::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            a.name,
            a.convention,
            a.value_type,
            a.brief.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn attributes_doc_matches_semconv() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/attributes.md");
    let want = render();
    if std::env::var_os("TOKENTRACE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/attributes.md is out of date: run TOKENTRACE_BLESS=1 cargo test -p tokentrace-core --test core docs"
    );
}
