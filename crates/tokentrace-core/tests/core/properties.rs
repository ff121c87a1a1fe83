//! Property tests: arbitrary and mutated input never panics any parser, a
//! body split anywhere parses the same, and memory stays bounded.

use proptest::prelude::*;
use tokentrace_core::parse::{ResponseParser, encode_event_stream_message};
use tokentrace_core::{BodyFormat, Flavor, Provider};

const FORMATS: [BodyFormat; 4] = [
    BodyFormat::Json,
    BodyFormat::Sse,
    BodyFormat::Ndjson,
    BodyFormat::AwsEventStream,
];

fn parse_chunks(flavor: Flavor, format: BodyFormat, chunks: &[&[u8]]) -> serde_json::Value {
    let mut p = ResponseParser::new(Provider::OpenAi, flavor, format);
    for c in chunks {
        p.push(c);
    }
    serde_json::to_value(p.finish()).unwrap()
}

/// Byte strings that look like the real thing often enough to reach deep states.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        &b"{"[..],
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"usage\"",
        b"\"model\"",
        b"\"choices\"",
        b"\"finish_reason\"",
        b"\"prompt_tokens\"",
        b"12",
        b"-1.5e3",
        b"null",
        b"true",
        b"\"\\\"\"",
        b"\"x\"",
        b"data: ",
        b"event: ",
        b"\n",
        b"\r\n",
        b"\n\n",
        b"[DONE]",
        b"\xff",
        b" ",
        b"\"usageMetadata\"",
        b"\"message\"",
        b"\"delta\"",
        b"\\",
    ]);
    prop::collection::vec(atoms, 0..200).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), cut in 0usize..2048) {
        let cut = cut.min(bytes.len());
        for flavor in Flavor::ALL {
            for format in FORMATS {
                let _ = parse_chunks(*flavor, format, &[&bytes[..cut], &bytes[cut..]]);
            }
        }
    }

    #[test]
    fn jsonish_input_parses_the_same_at_any_split(bytes in jsonish(), cut in 0usize..4096) {
        let cut = cut.min(bytes.len());
        for flavor in Flavor::ALL {
            for format in [BodyFormat::Json, BodyFormat::Sse, BodyFormat::Ndjson] {
                let whole = parse_chunks(*flavor, format, &[&bytes]);
                let split = parse_chunks(*flavor, format, &[&bytes[..cut], &bytes[cut..]]);
                prop_assert_eq!(whole, split);
            }
        }
    }

    #[test]
    fn event_stream_frames_survive_any_split(payloads in prop::collection::vec(jsonish(), 1..6), cut in 0usize..8192) {
        let mut body = Vec::new();
        for p in &payloads {
            body.extend(encode_event_stream_message(&[(":event-type", "chunk"), (":message-type", "event")], p));
        }
        let cut = cut.min(body.len());
        let whole = parse_chunks(Flavor::BedrockConverse, BodyFormat::AwsEventStream, &[&body]);
        let split = parse_chunks(Flavor::BedrockConverse, BodyFormat::AwsEventStream, &[&body[..cut], &body[cut..]]);
        prop_assert_eq!(whole, split);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The skip prefilter never changes what is extracted: parsing every
    /// event in full gives the same answer. (A skipped event is not validated,
    /// so a malformed one is not reported as a parse error.)
    #[test]
    fn the_event_prefilter_changes_nothing(bytes in jsonish(), cut in 0usize..4096) {
        let cut = cut.min(bytes.len());
        for flavor in Flavor::ALL {
            for format in [BodyFormat::Sse, BodyFormat::Ndjson] {
                let mut filtered = parse_chunks(*flavor, format, &[&bytes[..cut], &bytes[cut..]]);
                let mut p = ResponseParser::new(Provider::OpenAi, *flavor, format).without_prefilter();
                p.push(&bytes);
                let mut full = serde_json::to_value(p.finish()).unwrap();
                filtered.as_object_mut().unwrap().remove("parse_error");
                full.as_object_mut().unwrap().remove("parse_error");
                prop_assert_eq!(filtered, full);
            }
        }
    }

    /// Events larger than the prefilter's buffer stream into the scanner and
    /// give the same answer as buffered ones.
    #[test]
    fn tiny_event_buffers_change_nothing(bytes in jsonish(), limit in 0usize..64) {
        for flavor in Flavor::ALL {
            for format in [BodyFormat::Sse, BodyFormat::Ndjson] {
                let mut a = ResponseParser::new(Provider::OpenAi, *flavor, format).without_prefilter();
                a.push(&bytes);
                let mut b = ResponseParser::with_event_buffer(Provider::OpenAi, *flavor, format, limit).without_prefilter();
                b.push(&bytes);
                let (a, b) = (a.finish(), b.finish());
                // `[DONE]` is only recognised in a buffered event.
                if !bytes.windows(6).any(|w| w == b"[DONE]") {
                    prop_assert_eq!(a, b);
                }
            }
        }
    }
}

#[test]
fn memory_does_not_grow_with_stream_length() {
    let event = b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello world \"},\"finish_reason\":null}],\"usage\":null}\n\n";
    let mut p = ResponseParser::new(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Sse);
    let mut peak = 0;
    for i in 0..10_000 {
        p.push(event);
        if i == 100 {
            peak = p.retained_bytes();
        }
        assert!(
            p.retained_bytes() <= peak.max(4096),
            "event {i}: {} bytes held",
            p.retained_bytes()
        );
    }
    p.push(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":10000,\"total_tokens\":10005}}\n\ndata: [DONE]\n\n");
    let info = p.finish();
    assert_eq!(info.usage.output_tokens, Some(10_000));
    assert_eq!(info.events, 10_002);
}

#[test]
fn a_huge_sse_event_is_not_buffered() {
    // One 8 MiB event whose usage sits after megabytes of text.
    let mut p = ResponseParser::new(Provider::OpenAi, Flavor::OpenAiResponses, BodyFormat::Sse);
    p.push(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r1\",\"output\":[{\"text\":\"");
    let filler = vec![b'a'; 64 * 1024];
    for _ in 0..128 {
        p.push(&filler);
        assert!(
            p.retained_bytes() < 64 * 1024,
            "held {}",
            p.retained_bytes()
        );
    }
    p.push(b"\"}],\"usage\":{\"input_tokens\":7,\"output_tokens\":9,\"total_tokens\":16}}}\n\n");
    let info = p.finish();
    assert_eq!(info.usage.total_tokens, Some(16));
    assert_eq!(info.response_id.as_deref(), Some("r1"));
    assert!(info.complete);
}

#[test]
fn a_body_cut_short_keeps_what_arrived() {
    let body = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hel";
    let mut p = ResponseParser::new(Provider::Anthropic, Flavor::Anthropic, BodyFormat::Sse);
    p.push(body);
    let info = p.finish();
    assert_eq!(info.usage.input_tokens, Some(15));
    assert_eq!(info.usage.output_tokens, Some(1));
    assert!(!info.complete);
    assert!(info.parse_error.is_some());
}

#[test]
fn truncated_and_invalid_json_is_recorded_not_raised() {
    let mut p = ResponseParser::new(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Json);
    p.push(b"{\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7},\"choices\":[{\"message\":\"\xff\xfe");
    let info = p.finish();
    assert_eq!(info.usage.total_tokens, Some(7));
    assert!(!info.complete);

    let info = tokentrace_core::parse::parse_body(
        Provider::OpenAi,
        Flavor::OpenAiChat,
        BodyFormat::Json,
        b"<html>502 Bad Gateway</html>",
    );
    assert!(info.parse_error.is_some());
    assert!(info.usage.is_empty());
}

/// Inputs the fuzzer (`scripts/fuzz`) once crashed on, replayed the way the
/// fuzz targets run them. The first four pinned a scanner bug: a syntax error
/// after a completed capture discarded that capture's bytes while keeping it;
/// `parse_json-5bcc…` pinned an overflow when summing huge token counts (now
/// saturating).
#[test]
fn fuzz_regressions_replay_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let format = match name.split('-').next().unwrap() {
            "parse_json" => BodyFormat::Json,
            "parse_sse" => BodyFormat::Sse,
            "parse_ndjson" => BodyFormat::Ndjson,
            "parse_eventstream" => BodyFormat::AwsEventStream,
            other => panic!("unknown regression target {other}"),
        };
        let data = std::fs::read(&path).unwrap();
        let Some((&selector, body)) = data.split_first() else {
            continue;
        };
        let flavor = Flavor::ALL[usize::from(selector) % Flavor::ALL.len()];
        let cut = if body.is_empty() {
            0
        } else {
            usize::from(selector) * 31 % (body.len() + 1)
        };
        let whole = parse_chunks(flavor, format, &[body]);
        let split = parse_chunks(flavor, format, &[&body[..cut], &body[cut..]]);
        assert_eq!(whole, split, "{name}");
        n += 1;
    }
    assert!(n >= 5, "regression inputs missing");
}
