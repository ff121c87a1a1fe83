//! Golden fixtures: real recorded provider responses (`tests/fixtures/`,
//! extracted by `tools/extract_fixtures.py`) parsed by [`ResponseParser`] and
//! compared with expected results derived by hand from the recordings
//! (`<case>.expected.json`, see `tests/fixtures/README.md`).
//!
//! * `golden_fixtures_match_expected`: one-shot parse == expected file.
//!   `TOKENTRACE_BLESS=1` rewrites the expected files from the parser instead
//!   (only for a deliberate, reviewed change of the expected values).
//! * `golden_results_do_not_depend_on_chunking`: the same body cut into two
//!   chunks, and into fixed-size chunks of every size from 1 to 64 bytes, gives
//!   exactly the one-shot result. The 1-byte pass makes every offset of every
//!   body a cut point; the two-chunk splits cover every offset of bodies up to
//!   about 1 KiB and, within a per-fixture budget ([`SPLIT_BUDGET`]), the
//!   offsets around the first and last event boundaries and the fields parsers
//!   read in larger ones. `TOKENTRACE_GOLDEN_SPLITS=all` splits every body at
//!   every offset (minutes in a debug build; meant for `--release`).
//! * `golden_detection_agrees_with_meta`: built-in detection of each
//!   recorded URL gives the fixture's provider and flavour.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokentrace_core::parse::ResponseParser;
use tokentrace_core::{BodyFormat, Endpoint, Flavor, Provider, ProviderRegistry, ResponseInfo};

/// Bytes parsed per fixture by the two-chunk splits (splits × body length).
/// Bodies up to about 1 KiB are split at every offset; a larger body gets
/// `SPLIT_BUDGET / len` splits at least, the must-test ones first. Every offset
/// of every body is still a cut point in the 1-byte chunk pass. Measured: a
/// window-based policy (every offset within 8 bytes of every event boundary)
/// took 66 s in a debug build, this budget a few seconds.
const SPLIT_BUDGET: usize = 1 << 19;
/// Must-test splits: every offset this close to the first and last event boundaries.
const BOUNDARY_WINDOW: usize = 4;
/// How many event boundaries at the start and at the end are must-test.
const EDGE_EVENTS: usize = 3;
/// Must-test splits in JSON bodies: this close to the first and last occurrences of a key.
const KEY_WINDOW: usize = 2;
/// Fixed chunk sizes tried on every body.
const MAX_CHUNK: usize = 64;
/// The extraction yields this many fixtures; fewer means files went missing.
const MIN_FIXTURES: usize = 90;

/// JSON member names that carry what the parsers extract.
const KEYS: &[&str] = &[
    "\"usage\"",
    "\"usageMetadata\"",
    "\"model\"",
    "\"modelVersion\"",
    "\"id\"",
    "\"responseId\"",
    "\"finish_reason\"",
    "\"finishReason\"",
    "\"stop_reason\"",
    "\"stopReason\"",
    "\"error\"",
    "\"message\"",
    "\"matches\"",
    "\"upsertedCount\"",
    "\"meta\"",
    "\"billed_units\"",
    "\"done\"",
    "\"done_reason\"",
    "\"service_tier\"",
    "\"serviceTier\"",
    "\"trafficType\"",
    "\"generation_id\"",
    "\"x_groq\"",
    "\"cost\"",
];

/// One extracted recording.
#[derive(Debug)]
struct Fixture {
    /// `<provider dir>/<case>`, for messages.
    name: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    provider: Provider,
    flavor: Flavor,
    format: BodyFormat,
    body: Vec<u8>,
    expected_path: PathBuf,
}

impl Fixture {
    fn parse_chunks<'a>(&self, chunks: impl IntoIterator<Item = &'a [u8]>) -> ResponseInfo {
        let mut parser = ResponseParser::new(self.provider, self.flavor, self.format);
        for (name, value) in &self.headers {
            parser.observe_header(name, value);
        }
        for chunk in chunks {
            parser.push(chunk);
        }
        parser.finish()
    }

    /// Like `parse_chunks`, ending with `into_info` instead of `finish`.
    fn parse_into_info(&self) -> ResponseInfo {
        let mut parser = ResponseParser::new(self.provider, self.flavor, self.format);
        for (name, value) in &self.headers {
            parser.observe_header(name, value);
        }
        parser.push(&self.body);
        parser.into_info()
    }

    fn parse_whole(&self) -> ResponseInfo {
        self.parse_chunks([self.body.as_slice()])
    }

    /// Every stream event parsed in full: no skip prefilter.
    fn parse_unfiltered(&self) -> ResponseInfo {
        let mut parser =
            ResponseParser::new(self.provider, self.flavor, self.format).without_prefilter();
        for (name, value) in &self.headers {
            parser.observe_header(name, value);
        }
        parser.push(&self.body);
        parser.finish()
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn str_field<'a>(meta: &'a Value, key: &str, file: &Path) -> &'a str {
    meta.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: `{key}` missing or not a string", file.display()))
}

fn load_fixtures() -> Vec<Fixture> {
    let dir = fixtures_dir();
    let mut metas = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures exists") {
        let sub = entry.expect("readable fixtures dir").path();
        if !sub.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&sub).expect("readable provider dir") {
            let path = file.expect("readable provider dir").path();
            if path.to_string_lossy().ends_with(".meta.json") {
                metas.push(path);
            }
        }
    }
    metas.sort();
    metas
        .iter()
        .map(|meta_path| {
            let text = std::fs::read_to_string(meta_path).expect("readable meta file");
            let meta: Value = serde_json::from_str(&text).expect("meta file is JSON");
            let stem = meta_path
                .to_string_lossy()
                .strip_suffix(".meta.json")
                .expect("meta suffix")
                .to_owned();
            let name = Path::new(&stem)
                .strip_prefix(&dir)
                .expect("under fixtures dir")
                .to_string_lossy()
                .replace('\\', "/");
            let format_name = str_field(&meta, "format", meta_path);
            let format = BodyFormat::from_name(format_name)
                .unwrap_or_else(|| panic!("{name}: unknown format {format_name:?}"));
            let ext = match format {
                BodyFormat::Json => "json",
                BodyFormat::Sse => "sse",
                BodyFormat::Ndjson => "ndjson",
                _ => "bin",
            };
            let provider_name = str_field(&meta, "provider", meta_path);
            let flavor_name = str_field(&meta, "flavor", meta_path);
            let headers = meta
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().expect("header value is a string").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body_path = PathBuf::from(format!("{stem}.{ext}"));
            Fixture {
                method: str_field(&meta, "method", meta_path).to_owned(),
                url: str_field(&meta, "url", meta_path).to_owned(),
                headers,
                provider: Provider::from_name(provider_name)
                    .unwrap_or_else(|| panic!("{name}: unknown provider {provider_name:?}")),
                flavor: Flavor::from_name(flavor_name)
                    .unwrap_or_else(|| panic!("{name}: unknown flavor {flavor_name:?}")),
                format,
                body: std::fs::read(&body_path)
                    .unwrap_or_else(|e| panic!("{}: {e}", body_path.display())),
                expected_path: PathBuf::from(format!("{stem}.expected.json")),
                name,
            }
        })
        .collect()
}

/// Every difference between two JSON values, one line each, with its path.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut String) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            for key in keys {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => diff(&sub, ev, av, out),
                    (Some(ev), None) => {
                        let _ = writeln!(out, "    {sub}: expected {ev}, parser gave nothing");
                    }
                    (None, Some(av)) => {
                        let _ = writeln!(out, "    {sub}: expected nothing, parser gave {av}");
                    }
                    (None, None) => {}
                }
            }
        }
        _ if expected == actual => {}
        _ => {
            let shown = if path.is_empty() { "(root)" } else { path };
            let _ = writeln!(
                out,
                "    {shown}: expected {expected}, parser gave {actual}"
            );
        }
    }
}

fn to_value(info: &ResponseInfo) -> Value {
    serde_json::to_value(info).expect("ResponseInfo serialises")
}

#[test]
fn golden_fixture_set_is_complete() {
    let fixtures = load_fixtures();
    assert!(
        fixtures.len() >= MIN_FIXTURES,
        "only {} fixtures found under {} (expected at least {MIN_FIXTURES}); run tools/extract_fixtures.py",
        fixtures.len(),
        fixtures_dir().display()
    );
    for f in &fixtures {
        assert!(!f.body.is_empty(), "{}: empty body", f.name);
        assert!(f.expected_path.exists(), "{}: no expected file", f.name);
    }
}

/// `into_info` (which moves the parser's state out) gives what `finish`
/// gives, on every recording, and so does a second `finish`.
#[test]
fn into_info_and_a_repeated_finish_give_the_same_result() {
    let fixtures = load_fixtures();
    assert!(fixtures.len() > 50);
    for f in &fixtures {
        let once = f.parse_whole();
        assert_eq!(f.parse_into_info(), once, "{}", f.name);
        let mut parser = ResponseParser::new(f.provider, f.flavor, f.format);
        for (name, value) in &f.headers {
            parser.observe_header(name, value);
        }
        parser.push(&f.body);
        let first = parser.finish();
        assert_eq!(parser.finish(), first, "{}", f.name);
        assert_eq!(parser.into_info(), first, "{}", f.name);
    }
}

#[test]
fn golden_fixtures_match_expected() {
    let bless = std::env::var_os("TOKENTRACE_BLESS").is_some_and(|v| v == "1");
    let fixtures = load_fixtures();
    let mut report = String::new();
    let mut failed = 0;
    for f in &fixtures {
        let actual = to_value(&f.parse_whole());
        if bless {
            let text = serde_json::to_string_pretty(&actual).expect("serialise") + "\n";
            std::fs::write(&f.expected_path, text).expect("write expected file");
            continue;
        }
        let text = std::fs::read_to_string(&f.expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", f.expected_path.display()));
        let expected: Value = serde_json::from_str(&text).expect("expected file is JSON");
        if expected != actual {
            failed += 1;
            let _ = writeln!(
                report,
                "  {} ({} {} {}):",
                f.name,
                f.provider.slug(),
                f.flavor.name(),
                f.format.name()
            );
            diff("", &expected, &actual, &mut report);
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} golden fixtures differ from their expected results:\n{report}\
         (expected values are derived by hand: fix the parser, or, for a reviewed change, \
         rerun with TOKENTRACE_BLESS=1)",
        fixtures.len()
    );
}

/// Offsets just after each event boundary (and the body end).
fn event_boundaries(format: BodyFormat, body: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    match format {
        BodyFormat::Sse => {
            let mut i = 0;
            while i < body.len() {
                if body[i..].starts_with(b"\r\n\r\n") {
                    out.push(i + 4);
                    i += 4;
                } else if body[i..].starts_with(b"\n\n") {
                    out.push(i + 2);
                    i += 2;
                } else {
                    i += 1;
                }
            }
        }
        BodyFormat::Ndjson => {
            out.extend(
                body.iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            );
        }
        BodyFormat::AwsEventStream => {
            let mut i = 0;
            while i + 4 <= body.len() {
                let len =
                    u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]) as usize;
                if len == 0 {
                    break;
                }
                i += len;
                out.push(i.min(body.len()));
            }
        }
        _ => {}
    }
    out
}

fn window(set: &mut BTreeSet<usize>, centre: usize, radius: usize, len: usize) {
    set.extend(centre.saturating_sub(radius)..=(centre + radius).min(len));
}

/// Where to cut a body in two: every offset when the budget allows, else the
/// must-test offsets (both ends, around the first and last event boundaries,
/// around the first and last occurrences of the keys parsers read) plus evenly
/// spaced ones up to the budget.
fn split_offsets(f: &Fixture, exhaustive: bool) -> BTreeSet<usize> {
    let len = f.body.len();
    let max_splits = SPLIT_BUDGET / len.max(1);
    if exhaustive || len < max_splits {
        return (0..=len).collect();
    }
    let mut set = BTreeSet::new();
    window(&mut set, 0, BOUNDARY_WINDOW, len);
    window(&mut set, len, BOUNDARY_WINDOW, len);
    let bounds = event_boundaries(f.format, &f.body);
    for &b in bounds
        .iter()
        .take(EDGE_EVENTS)
        .chain(bounds.iter().rev().take(EDGE_EVENTS + 1))
    {
        window(&mut set, b, BOUNDARY_WINDOW, len);
    }
    if f.format == BodyFormat::Json {
        for key in KEYS {
            let k = key.as_bytes();
            let hits: Vec<usize> = f
                .body
                .windows(k.len())
                .enumerate()
                .filter(|(_, w)| *w == k)
                .map(|(i, _)| i)
                .collect();
            for &i in hits
                .iter()
                .take(EDGE_EVENTS)
                .chain(hits.iter().rev().take(EDGE_EVENTS))
            {
                window(&mut set, i, KEY_WINDOW, len);
                window(&mut set, i + k.len(), KEY_WINDOW, len);
            }
        }
    }
    let spread = max_splits.saturating_sub(set.len()).max(16);
    set.extend((0..spread).map(|i| i * len / spread));
    set
}

/// The stream-event prefilter (skip events that cannot change the result)
/// agrees with parsing every event, on every real recording.
#[test]
fn golden_results_do_not_depend_on_the_event_prefilter() {
    let fixtures = load_fixtures();
    let mut streamed = 0;
    for f in &fixtures {
        if matches!(f.format, BodyFormat::Sse | BodyFormat::Ndjson) {
            streamed += 1;
            assert_eq!(f.parse_whole(), f.parse_unfiltered(), "{}", f.name);
        }
    }
    assert!(streamed >= 25, "only {streamed} streamed fixtures");
}

#[test]
fn golden_results_do_not_depend_on_chunking() {
    let exhaustive = std::env::var("TOKENTRACE_GOLDEN_SPLITS").is_ok_and(|v| v == "all");
    let fixtures = load_fixtures();
    let mut report = String::new();
    let mut failed = 0;
    let mut splits = 0_usize;
    for f in &fixtures {
        let whole = f.parse_whole();
        let mut problem = None;
        for at in split_offsets(f, exhaustive) {
            splits += 1;
            let (a, b) = f.body.split_at(at);
            let got = f.parse_chunks([a, b]);
            if got != whole {
                problem = Some((format!("split into two at byte {at}"), got));
                break;
            }
        }
        if problem.is_none() {
            for size in 1..=MAX_CHUNK {
                let got = f.parse_chunks(f.body.chunks(size));
                if got != whole {
                    problem = Some((format!("chunks of {size} bytes"), got));
                    break;
                }
            }
        }
        if let Some((how, got)) = problem {
            failed += 1;
            let _ = writeln!(
                report,
                "  {} ({}): {how} (first failure):",
                f.name,
                f.format.name()
            );
            diff("", &to_value(&whole), &to_value(&got), &mut report);
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} fixtures parse differently when chunked ({splits} two-chunk splits tried); \
         \"expected\" is the one-shot result:\n{report}",
        fixtures.len()
    );
}

/// `scheme://host[:port]/path[?query]` → its parts (host lowercased).
fn split_url(url: &str) -> (String, String, Option<u16>, String, Option<String>) {
    let (scheme, rest) = url.split_once("://").expect("absolute URL");
    let (authority, path_query) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse::<u16>().ok()),
        _ => (authority, None),
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (path_query, None),
    };
    (
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase(),
        port,
        path.to_owned(),
        query,
    )
}

#[test]
fn golden_detection_agrees_with_meta() {
    // Hard assertion on purpose: while `ProviderRegistry::detect` is still a
    // stub returning `None`, this test fails with "detected nothing" for every
    // fixture. It must pass once detection is implemented.
    let registry = ProviderRegistry::new();
    let fixtures = load_fixtures();
    let mut report = String::new();
    let mut failed = 0;
    for f in &fixtures {
        let (scheme, host, port, path, query) = split_url(&f.url);
        let endpoint = Endpoint {
            method: &f.method,
            scheme: &scheme,
            host: &host,
            port,
            path: &path,
            query: query.as_deref(),
        };
        let want = (f.provider, f.flavor);
        match registry.detect(&endpoint) {
            Some(d) if (d.provider, d.flavor) == want => {}
            Some(d) => {
                failed += 1;
                let _ = writeln!(
                    report,
                    "  {}: {} {} detected as {}/{}, fixture says {}/{}",
                    f.name,
                    f.method,
                    f.url,
                    d.provider.slug(),
                    d.flavor.name(),
                    want.0.slug(),
                    want.1.name()
                );
            }
            None => {
                failed += 1;
                let _ = writeln!(
                    report,
                    "  {}: {} {} detected nothing (DETECTION NOT IMPLEMENTED?), fixture says {}/{}",
                    f.name,
                    f.method,
                    f.url,
                    want.0.slug(),
                    want.1.name()
                );
            }
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} fixture URLs are detected differently from their meta:\n{report}",
        fixtures.len()
    );
}

#[test]
fn url_splitting_keeps_port_path_and_query() {
    assert_eq!(
        split_url("http://127.0.0.1:11434/api/chat"),
        (
            "http".to_owned(),
            "127.0.0.1".to_owned(),
            Some(11434),
            "/api/chat".to_owned(),
            None
        )
    );
    assert_eq!(
        split_url(
            "https://X.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-02-01"
        ),
        (
            "https".to_owned(),
            "x.openai.azure.com".to_owned(),
            None,
            "/openai/deployments/d/chat/completions".to_owned(),
            Some("api-version=2024-02-01".to_owned())
        )
    );
}

#[test]
fn diff_reports_each_difference_with_its_path() {
    let expected =
        serde_json::json!({"usage": {"input_tokens": 3, "output_tokens": 4}, "complete": true});
    let actual = serde_json::json!({"usage": {"input_tokens": 3}, "complete": false, "events": 2});
    let mut out = String::new();
    diff("", &expected, &actual, &mut out);
    assert_eq!(
        out,
        "    complete: expected true, parser gave false\n    \
         events: expected nothing, parser gave 2\n    \
         usage.output_tokens: expected 4, parser gave nothing\n"
    );
}

#[test]
fn event_boundaries_follow_each_framing() {
    assert_eq!(
        event_boundaries(BodyFormat::Sse, b"data: a\n\ndata: b\r\n\r\n"),
        vec![9, 20]
    );
    assert_eq!(
        event_boundaries(BodyFormat::Ndjson, b"{}\n{}\n"),
        vec![3, 6]
    );
    let mut frames = Vec::new();
    frames.extend_from_slice(&16_u32.to_be_bytes());
    frames.extend_from_slice(&[0; 12]);
    frames.extend_from_slice(&20_u32.to_be_bytes());
    frames.extend_from_slice(&[0; 16]);
    assert_eq!(
        event_boundaries(BodyFormat::AwsEventStream, &frames),
        vec![16, 36]
    );
    assert!(event_boundaries(BodyFormat::Json, b"{}").is_empty());
}
