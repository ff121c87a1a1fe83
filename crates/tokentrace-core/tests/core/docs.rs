//! `docs/attributes.md` is generated from `semconv::ALL`; this test fails when
//! they drift (`TOKENTRACE_BLESS=1` rewrites the file).

use tokentrace_core::semconv;

/// Starts the hand-written part of docs/attributes.md (not generated).
const MARKER: &str = "<!-- hand-written below: not generated -->";

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
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    // A hand-written part may follow the generated table, after MARKER.
    let tail = have.find(MARKER).map_or("", |i| &have[i..]);
    if std::env::var_os("TOKENTRACE_BLESS").is_some() {
        let sep = if tail.is_empty() { "" } else { "\n" };
        std::fs::write(&path, format!("{want}{sep}{tail}")).unwrap();
        return;
    }
    let generated = have
        .find(MARKER)
        .map_or(have.as_str(), |i| have[..i].trim_end_matches('\n'));
    assert!(
        generated == want.trim_end_matches('\n'),
        "docs/attributes.md is out of date: run TOKENTRACE_BLESS=1 cargo test -p tokentrace-core --test core docs"
    );
}
