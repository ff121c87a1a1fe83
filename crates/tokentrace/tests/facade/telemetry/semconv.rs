//! GenAI convention versions on exported spans (`SemconvMode`,
//! `OTEL_SEMCONV_STABILITY_OPT_IN`), attribute by attribute, through the
//! in-memory exporter. Names are written out here on purpose: these are the
//! wire names the spec repository defines (see docs/attributes.md).

use std::time::Duration;

use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tokentrace::{SemconvMode, Telemetry};
use tokentrace_test_support::attr;

/// An LLM span as the reqwest middleware records it (tokentrace's own names).
fn export(mode: Option<SemconvMode>, rerank: bool, incomplete: bool) -> SpanData {
    let exporter = InMemorySpanExporter::default();
    let mut builder = Telemetry::builder()
        .no_store()
        .span_exporter(exporter.clone());
    if let Some(mode) = mode {
        builder = builder.semconv(mode);
    }
    let (dispatch, guard) = builder.build().unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "llm",
            otel.name = "chat gpt-4o",
            "gen_ai.operation.name" = if rerank { "rerank" } else { "chat" },
            "gen_ai.provider.name" = "openai",
            "gen_ai.request.model" = "gpt-4o",
            "gen_ai.response.model" = "gpt-4o-2024-08-06",
            "gen_ai.request.top_k" = 40.0_f64,
            "gen_ai.request.choice.count" = 2_i64,
            "gen_ai.usage.input_tokens" = 1200_i64,
            "gen_ai.usage.output_tokens" = 300_i64,
            "gen_ai.usage.cache_read.input_tokens" = 1000_i64,
            "gen_ai.usage.cache_creation.input_tokens" = 100_i64,
            "gen_ai.usage.total_tokens" = 1500_i64,
            "gen_ai.usage.cost" = 0.01_f64,
            "gen_ai.response.time_to_first_chunk" = 0.25_f64,
            "tokentrace.stream.incomplete" = incomplete,
            "cost.total_usd" = 0.01_f64,
            "cost.input_cost_usd" = 0.004_f64,
            "cost.cache_read_cost_usd" = 0.001_f64,
            "cost.cache_write_cost_usd" = 0.0005_f64,
            "cost.output_cost_usd" = 0.006_f64,
            "llm.cost.prompt_details.input" = 0.0025_f64,
            "llm.cost.completion_details.output" = 0.006_f64,
        );
        std::thread::sleep(Duration::from_millis(2));
        drop(span);
    });
    guard.flush();
    let mut spans = exporter.get_finished_spans().unwrap();
    let i = spans
        .iter()
        .position(|s| s.name == "chat gpt-4o")
        .expect("the LLM span");
    spans.swap_remove(i)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(Array::String(a))) => a.iter().map(|s| s.as_str().to_owned()).collect(),
        other => panic!("not a string array: {other:?}"),
    }
}

#[test]
fn latest_is_the_default_and_speaks_the_current_names() {
    for s in [
        export(None, false, false),
        export(Some(SemconvMode::Latest), false, false),
    ] {
        assert_eq!(
            attr(&s, "gen_ai.usage.cache_write.input_tokens"),
            Some(&Value::I64(100))
        );
        assert_eq!(attr(&s, "gen_ai.usage.cache_creation.input_tokens"), None);
        assert_eq!(attr(&s, "gen_ai.request.top_k"), Some(&Value::I64(40)));
        assert_eq!(attr(&s, "reranker.top_k"), None);
        assert_eq!(attr(&s, "gen_ai.usage.total_tokens"), None);
        assert_eq!(
            attr(&s, "tokentrace.usage.total_tokens"),
            Some(&Value::I64(1500))
        );
        assert_eq!(attr(&s, "gen_ai.usage.cost"), None);
        assert_eq!(
            attr(&s, "llm.cost.prompt_details.input"),
            Some(&Value::F64(0.0025))
        );
        // Unchanged names stay.
        assert_eq!(
            attr(&s, "gen_ai.usage.cache_read.input_tokens"),
            Some(&Value::I64(1000))
        );
        assert_eq!(
            attr(&s, "gen_ai.usage.input_tokens"),
            Some(&Value::I64(1200))
        );
        // A complete response gets no made-up finish reason.
        assert_eq!(attr(&s, "gen_ai.response.finish_reasons"), None);
    }
}

#[test]
fn dup_emits_current_and_previous_names_side_by_side() {
    let s = export(Some(SemconvMode::Duplicate), false, false);
    assert_eq!(
        attr(&s, "gen_ai.usage.cache_write.input_tokens"),
        Some(&Value::I64(100))
    );
    assert_eq!(
        attr(&s, "gen_ai.usage.cache_creation.input_tokens"),
        Some(&Value::I64(100))
    );
    assert_eq!(
        attr(&s, "gen_ai.usage.total_tokens"),
        Some(&Value::I64(1500))
    );
    assert_eq!(
        attr(&s, "tokentrace.usage.total_tokens"),
        Some(&Value::I64(1500))
    );
    assert_eq!(attr(&s, "gen_ai.usage.cost"), Some(&Value::F64(0.01)));
    // One key cannot carry two types: top_k is the spec's int.
    assert_eq!(attr(&s, "gen_ai.request.top_k"), Some(&Value::I64(40)));
}

#[test]
fn legacy_keeps_the_names_tokentrace_used_before() {
    let s = export(Some(SemconvMode::Legacy), true, true);
    assert_eq!(
        attr(&s, "gen_ai.usage.cache_creation.input_tokens"),
        Some(&Value::I64(100))
    );
    assert_eq!(attr(&s, "gen_ai.usage.cache_write.input_tokens"), None);
    assert_eq!(attr(&s, "gen_ai.request.top_k"), Some(&Value::F64(40.0)));
    assert_eq!(attr(&s, "reranker.top_k"), None);
    assert_eq!(
        attr(&s, "gen_ai.usage.total_tokens"),
        Some(&Value::I64(1500))
    );
    assert_eq!(attr(&s, "tokentrace.usage.total_tokens"), None);
    assert_eq!(attr(&s, "gen_ai.usage.cost"), Some(&Value::F64(0.01)));
    assert_eq!(attr(&s, "gen_ai.response.finish_reasons"), None);
}

#[test]
fn rerank_top_n_is_not_top_k() {
    let s = export(Some(SemconvMode::Latest), true, false);
    assert_eq!(attr(&s, "gen_ai.request.top_k"), None);
    assert_eq!(attr(&s, "reranker.top_k"), Some(&Value::I64(40)));
    let s = export(Some(SemconvMode::Duplicate), true, false);
    assert_eq!(attr(&s, "reranker.top_k"), Some(&Value::I64(40)));
    assert_eq!(attr(&s, "gen_ai.request.top_k"), Some(&Value::F64(40.0)));
}

#[test]
fn a_stream_cut_short_reports_error_for_each_choice() {
    for mode in [SemconvMode::Latest, SemconvMode::Duplicate] {
        let s = export(Some(mode), false, true);
        assert_eq!(
            strings(attr(&s, "gen_ai.response.finish_reasons")),
            ["error", "error"],
            "{mode:?}"
        );
    }
}

#[test]
fn openinference_model_names_and_langfuse_attributes_in_every_mode() {
    for mode in [
        SemconvMode::Latest,
        SemconvMode::Duplicate,
        SemconvMode::Legacy,
    ] {
        let s = export(Some(mode), false, false);
        assert_eq!(
            attr(&s, "llm.request.model_name"),
            Some(&Value::from("gpt-4o")),
            "{mode:?}"
        );
        assert_eq!(
            attr(&s, "llm.response.model_name"),
            Some(&Value::from("gpt-4o-2024-08-06"))
        );
        let Some(Value::String(details)) = attr(&s, "langfuse.observation.cost_details") else {
            panic!("no cost details")
        };
        assert_eq!(
            details.as_str(),
            r#"{"input":0.0025,"cache_read_input_tokens":0.001,"cache_creation_input_tokens":0.0005,"output":0.006,"total":0.01}"#
        );
        let Some(Value::String(start)) = attr(&s, "langfuse.observation.completion_start_time")
        else {
            panic!("no completion start time")
        };
        let start = start.as_str();
        assert_eq!(start.len(), "2026-12-06T18:20:00.123456Z".len(), "{start}");
        assert!(
            start.ends_with('Z') && start.as_bytes()[10] == b'T',
            "{start}"
        );
        // 250 ms after the span's start.
        let span_start: std::time::Duration =
            s.start_time.duration_since(std::time::UNIX_EPOCH).unwrap();
        let first = span_start + Duration::from_millis(250);
        let secs = first.as_secs() % 60;
        assert_eq!(&start[17..19], format!("{secs:02}"), "{start}");
        assert_eq!(
            &start[20..26],
            format!("{:06}", first.subsec_micros()),
            "{start}"
        );
    }
}

#[test]
fn same_request_and_response_model_adds_no_openinference_variants() {
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .no_store()
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!(
            "llm",
            otel.name = "chat m",
            "gen_ai.operation.name" = "chat",
            "gen_ai.provider.name" = "openai",
            "gen_ai.request.model" = "m",
            "gen_ai.response.model" = "m",
        )
        .in_scope(|| {});
    });
    guard.flush();
    let spans = exporter.get_finished_spans().unwrap();
    let s = spans.iter().find(|s| s.name == "chat m").unwrap();
    assert_eq!(attr(s, "llm.request.model_name"), None);
    assert_eq!(attr(s, "llm.response.model_name"), None);
    assert_eq!(attr(s, "langfuse.observation.cost_details"), None);
}

#[test]
fn the_opt_in_variable_values() {
    assert_eq!(
        SemconvMode::from_opt_in("gen_ai_latest_experimental"),
        Some(SemconvMode::Latest)
    );
    assert_eq!(
        SemconvMode::from_opt_in("http/dup, gen_ai_latest_experimental/dup"),
        Some(SemconvMode::Duplicate)
    );
    assert_eq!(
        SemconvMode::from_opt_in("gen_ai_latest_experimental,gen_ai_latest_experimental/dup"),
        Some(SemconvMode::Duplicate)
    );
    assert_eq!(SemconvMode::from_opt_in("http,database"), None);
    assert_eq!(SemconvMode::default(), SemconvMode::Latest);
}

/// The metric names the store's metric exporter received for one LLM call
/// under `mode` (the facade hands its mode to `EnrichLayer`).
fn metric_names(mode: Option<SemconvMode>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let mut builder = Telemetry::builder().store(&path);
    if let Some(mode) = mode {
        builder = builder.semconv(mode);
    }
    let (dispatch, guard) = builder.build().unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "llm",
            "tokentrace.span.type" = "llm",
            "gen_ai.operation.name" = "chat",
            "gen_ai.provider.name" = "openai",
            "gen_ai.request.model" = "gpt-4o",
            "gen_ai.usage.input_tokens" = 1200_i64,
            "gen_ai.usage.output_tokens" = 300_i64,
        );
        drop(span);
    });
    guard.flush();
    drop(guard);
    let store = tokentrace::store::Store::open(&path).unwrap();
    let mut names: Vec<String> = store
        .metrics()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn metric_names_follow_the_mode() {
    let latest = metric_names(None);
    assert!(
        latest
            .iter()
            .any(|n| n == "gen_ai.client.inference.usage.input_tokens"),
        "{latest:?}"
    );
    assert!(
        latest
            .iter()
            .any(|n| n == "gen_ai.client.inference.duration")
    );
    assert!(!latest.iter().any(|n| n == "gen_ai.client.token.usage"));
    assert!(
        !latest
            .iter()
            .any(|n| n == "gen_ai.client.operation.duration")
    );

    let legacy = metric_names(Some(SemconvMode::Legacy));
    assert!(
        legacy.iter().any(|n| n == "gen_ai.client.token.usage"),
        "{legacy:?}"
    );
    assert!(
        legacy
            .iter()
            .any(|n| n == "gen_ai.client.operation.duration")
    );
    assert!(
        !legacy
            .iter()
            .any(|n| n.starts_with("gen_ai.client.inference."))
    );

    let dup = metric_names(Some(SemconvMode::Duplicate));
    for name in [
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.inference.usage.input_tokens",
        "gen_ai.client.inference.operation.output_tokens",
        "gen_ai.client.inference.duration",
    ] {
        assert!(dup.iter().any(|n| n == name), "{name} in {dup:?}");
    }
}

/// `gen_ai.prompt.name`/`.version` always; `gen_ai.prompt.variable.<key>`
/// (opt-in in the spec) only with content capture on.
#[test]
fn prompt_variables_follow_content_capture() {
    for capture in [false, true] {
        let exporter = InMemorySpanExporter::default();
        let (dispatch, guard) = Telemetry::builder()
            .no_store()
            .capture_content(capture)
            .span_exporter(exporter.clone())
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            let root = tracing::info_span!("handler", "tokentrace.span.type" = "workflow");
            let _e = root.enter();
            let _t = tokentrace::prompt_template!(
                name = "greet",
                "Hello {who}",
                version = "3",
                who = "Ada"
            );
            let span = tracing::info_span!(
                "llm",
                otel.name = "chat gpt-4o",
                "tokentrace.span.type" = "llm",
                "gen_ai.operation.name" = "chat",
                "gen_ai.provider.name" = "openai",
                "gen_ai.request.model" = "gpt-4o",
            );
            drop(span);
        });
        guard.flush();
        let spans = exporter.get_finished_spans().unwrap();
        let s = spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
        assert_eq!(
            attr(s, "gen_ai.prompt.name"),
            Some(&Value::from("greet")),
            "capture {capture}"
        );
        assert_eq!(attr(s, "gen_ai.prompt.version"), Some(&Value::from("3")));
        assert_eq!(
            attr(s, "gen_ai.prompt.variable.who"),
            capture.then(|| Value::from("Ada")).as_ref()
        );
    }
}

/// The agent and tool workflow spans of one run, exported under `mode`.
fn workflow_spans(mode: Option<SemconvMode>) -> (SpanData, SpanData) {
    let exporter = InMemorySpanExporter::default();
    let mut builder = Telemetry::builder()
        .no_store()
        .span_exporter(exporter.clone());
    if let Some(mode) = mode {
        builder = builder.semconv(mode);
    }
    let (dispatch, guard) = builder.build().unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let agent = tokentrace::TracedRun::new("planner")
            .kind(tokentrace::WorkflowKind::Agent)
            .span();
        let _a = agent.enter();
        let tool = tokentrace::TracedRun::new("search_flights")
            .kind(tokentrace::WorkflowKind::Tool)
            .span();
        drop(tool);
    });
    guard.flush();
    let spans = exporter.get_finished_spans().unwrap();
    let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap().clone();
    (find("workflow.planner"), find("workflow.search_flights"))
}

#[test]
fn agent_and_tool_operations_under_each_mode() {
    for mode in [
        None,
        Some(SemconvMode::Latest),
        Some(SemconvMode::Duplicate),
    ] {
        let (agent, tool) = workflow_spans(mode);
        assert_eq!(
            attr(&agent, "gen_ai.operation.name"),
            Some(&Value::from("invoke_agent")),
            "{mode:?}"
        );
        assert_eq!(
            attr(&agent, "gen_ai.agent.name"),
            Some(&Value::from("planner"))
        );
        assert_eq!(
            attr(&tool, "gen_ai.operation.name"),
            Some(&Value::from("execute_tool"))
        );
        assert_eq!(
            attr(&tool, "gen_ai.tool.name"),
            Some(&Value::from("search_flights"))
        );
        assert_eq!(
            attr(&tool, "gen_ai.tool.type"),
            Some(&Value::from("function"))
        );
    }
    // Legacy: every workflow was invoke_workflow, and no gen_ai.tool.*.
    let (agent, tool) = workflow_spans(Some(SemconvMode::Legacy));
    assert_eq!(
        attr(&agent, "gen_ai.operation.name"),
        Some(&Value::from("invoke_workflow"))
    );
    assert_eq!(
        attr(&tool, "gen_ai.operation.name"),
        Some(&Value::from("invoke_workflow"))
    );
    assert_eq!(attr(&tool, "gen_ai.tool.name"), None);
    assert_eq!(attr(&tool, "gen_ai.tool.type"), None);
    assert_eq!(
        attr(&tool, "openinference.span.kind"),
        Some(&Value::from("TOOL"))
    );
}
