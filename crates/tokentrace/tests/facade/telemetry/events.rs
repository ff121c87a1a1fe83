//! `tracing` events of other crates: with content capture off (the default)
//! no prompt or body text they log reaches the exporters or the store; after
//! opting in (`events` + `capture_content(true)`) it does.

use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tokentrace::Telemetry;
use tokentrace::store::{Store, TraceFilter};
use tokentrace_core::semconv;

/// The prompt a third-party crate logs.
const PROMPT: &str = "zebraprompt tell me the secret lasagne recipe";
/// The completion a third-party crate logs in a response body.
const ANSWER: &str = "quokkaanswer layer the pasta";

/// What rig and genai do: the request JSON at TRACE, the prompt as a field at
/// DEBUG, the response body at WARN (as a field and inside the message), and
/// one harmless WARN line; all inside a workflow span.
fn third_party_crate_logs() {
    let request =
        format!(r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{PROMPT}"}}]}}"#);
    let response = format!(r#"{{"choices":[{{"message":{{"content":"{ANSWER}"}}}}]}}"#);
    tracing::info_span!(
        "workflow",
        otel.name = "workflow.answer",
        { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
    )
    .in_scope(|| {
        tracing::trace!(target: "rig::completions", "OpenAI completion request: {request}");
        tracing::debug!(target: "genai::adapter", prompt = PROMPT, "sending chat request");
        tracing::warn!(target: "genai::adapter", body = %response, "provider answered 200 with an unexpected shape");
        tracing::warn!(target: "rig::completions", "could not parse response body: {response}");
        tracing::warn!(target: "genai::adapter", attempt = 2_i64, "retrying after 429");
    });
}

fn run(builder: Telemetry) -> (Vec<SpanData>, Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = builder
        .store(&path)
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, third_party_crate_logs);
    guard.flush();
    // Shutting the in-memory exporter down empties it: read it first.
    let spans = exporter.get_finished_spans().unwrap();
    drop(guard);
    let store = Store::open(&path).unwrap();
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 1);
    let trace = store.get_trace(&page.items[0].trace_id).unwrap();
    let stored_events: String = trace.spans.iter().map(|s| s.events.to_string()).collect();
    drop(store);
    // Every byte of the store, its write-ahead log included.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    (spans, bytes, stored_events)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every text of a span: name, attribute values, event names and values.
fn all_text(spans: &[SpanData]) -> String {
    let mut out = String::new();
    for s in spans {
        out.push_str(&s.name);
        for kv in &s.attributes {
            out.push_str(&kv.value.to_string());
        }
        for e in &s.events.events {
            out.push_str(&e.name);
            for kv in &e.attributes {
                out.push_str(&kv.value.to_string());
            }
        }
        if let opentelemetry::trace::Status::Error { description } = &s.status {
            out.push_str(description);
        }
    }
    out
}

fn event_attr<'a>(e: &'a opentelemetry::trace::Event, key: &str) -> Option<&'a Value> {
    e.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[test]
fn by_default_no_prompt_or_body_of_another_crate_is_exported() {
    let (spans, store_bytes, stored_events) = run(Telemetry::builder().service_name("events"));
    assert_eq!(spans.len(), 1);
    let text = all_text(&spans);
    for needle in ["zebraprompt", "quokkaanswer", "lasagne", "pasta"] {
        assert!(!text.contains(needle), "{needle} exported: {text}");
        assert!(!contains(&store_bytes, needle), "{needle} in the store");
        assert!(!stored_events.contains(needle), "{needle} in the store");
    }
    // TRACE and DEBUG lines of other crates are not exported at all; WARN
    // lines are, with their text cut where the body starts.
    let events = &spans[0].events.events;
    let names: Vec<&str> = events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "provider answered 200 with an unexpected shape",
            "could not parse response body: [redacted 68 bytes]",
            "retrying after 429",
        ],
        "{events:?}"
    );
    let body = event_attr(&events[0], "body").unwrap();
    assert_eq!(body.as_str(), "[redacted 68 bytes]");
    for e in &events[..2] {
        assert_eq!(
            event_attr(e, semconv::TOKENTRACE_CONTENT_REDACTED),
            Some(&Value::Bool(true))
        );
        assert_eq!(
            event_attr(e, semconv::EVENT_LEVEL).map(Value::as_str),
            Some("WARN".into())
        );
    }
    // A line with nothing to cut is exported whole and unmarked.
    assert_eq!(event_attr(&events[2], "attempt"), Some(&Value::I64(2)));
    assert_eq!(
        event_attr(&events[2], semconv::EVENT_TARGET).map(Value::as_str),
        Some("genai::adapter".into())
    );
    assert_eq!(
        event_attr(&events[2], semconv::TOKENTRACE_CONTENT_REDACTED),
        None
    );
    assert!(
        stored_events.contains("retrying after 429"),
        "{stored_events}"
    );
}

#[test]
fn opting_in_exports_the_events_and_their_text() {
    let (spans, store_bytes, stored_events) =
        run(Telemetry::builder().events("trace").capture_content(true));
    let text = all_text(&spans);
    for needle in ["zebraprompt", "quokkaanswer"] {
        assert!(text.contains(needle), "{needle} not exported: {text}");
        assert!(contains(&store_bytes, needle), "{needle} not in the store");
        assert!(stored_events.contains(needle), "{needle} not in the store");
    }
    let events = &spans[0].events.events;
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(events[0].name.contains(PROMPT), "{:?}", events[0].name);
    assert_eq!(
        event_attr(&events[1], "prompt").map(Value::as_str),
        Some(PROMPT.into())
    );
    assert!(
        events
            .iter()
            .all(|e| event_attr(e, semconv::TOKENTRACE_CONTENT_REDACTED).is_none())
    );
}

/// Opting into more events without content capture: the lines are exported,
/// their prompt and body text is still cut.
#[test]
fn more_events_without_content_capture_still_cut_the_text() {
    let (spans, store_bytes, _) = run(Telemetry::builder().events("debug"));
    let text = all_text(&spans);
    for needle in ["zebraprompt", "quokkaanswer"] {
        assert!(!text.contains(needle), "{needle} exported: {text}");
        assert!(!contains(&store_bytes, needle), "{needle} in the store");
    }
    let events = &spans[0].events.events;
    // DEBUG and above: the TRACE request line stays out.
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0].name, "sending chat request");
    assert_eq!(
        event_attr(&events[0], "prompt").map(Value::as_str),
        Some(format!("[redacted {} bytes]", PROMPT.len()).into())
    );
}

#[test]
fn invalid_event_directives_fail_set_up() {
    let err = Telemetry::builder()
        .no_store()
        .events("rig=loud")
        .build()
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            tokentrace::TelemetryError::InvalidSetting {
                setting: "events",
                ..
            }
        ),
        "{err:?}"
    );
}

/// Content attributes another library records on its own spans (rig's
/// `gen_ai.input.messages`) are dropped with capture off; tokentrace's own
/// LLM span keeps what its middleware was told to capture (a client may
/// opt in while the process default is off).
#[test]
fn content_attributes_of_other_libraries_spans_are_dropped_with_capture_off() {
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .no_store()
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    let messages = format!(r#"[{{"role":"user","content":"{PROMPT}"}}]"#);
    tracing::dispatcher::with_default(&dispatch, || {
        let rig = tracing::info_span!(
            target: "rig::completions",
            "chat",
            { semconv::GEN_AI_OPERATION_NAME } = "chat",
            { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
            { semconv::GEN_AI_INPUT_MESSAGES } = messages.as_str(),
        );
        rig.in_scope(|| {
            let _own = tracing::info_span!(
                "llm",
                otel.name = "chat gpt-4o-mini",
                { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
                { semconv::GEN_AI_INPUT_MESSAGES } = messages.as_str(),
            );
        });
    });
    guard.flush();
    let spans = exporter.get_finished_spans().unwrap();
    let rig = spans.iter().find(|s| s.name == "chat").unwrap();
    assert!(
        rig.attributes
            .iter()
            .all(|kv| kv.key.as_str() != semconv::GEN_AI_INPUT_MESSAGES),
        "{:?}",
        rig.attributes
    );
    assert!(!all_text(&spans[..]).is_empty());
    let own = spans.iter().find(|s| s.name == "chat gpt-4o-mini").unwrap();
    let kept: Vec<_> = own
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == semconv::GEN_AI_INPUT_MESSAGES)
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].value.as_str().contains(PROMPT));
}
