//! Store benchmarks: batched ingest through the `StoreExporter` writer path
//! (a `SpanData` batch in, rows committed), in spans per second, and the
//! dashboard's queries on 1,000,000 stored spans (p50/p95 per query).
//!
//! Run with `cargo bench -p tokentrace-store --bench store` (add `-- ingest`
//! or `-- queries` to run one part; `BENCH_SPANS` sets the query data size).
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::borrow::Cow;
use std::time::{Duration, Instant, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use tokentrace_core::semconv;
use tokentrace_store::{GroupBy, Interval, Store, StoreExporter, TraceFilter, TraceSort};

const SPANS_PER_TRACE: u64 = 10;
/// The id of the one trace whose 12-digit prefix the `resolve_prefix` case looks up.
const LONE_TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const BATCH: u64 = 2000;
const MODELS: [&str; 4] = [
    "gpt-4o-mini",
    "gpt-4o",
    "claude-3-5-sonnet",
    "gemini-2.0-flash",
];

/// Trace ids: sequential (B-tree appends, the best case) or scattered like
/// the random ids real tracers generate.
static RANDOM_IDS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `BENCH_MIX=small`: LLM spans with 7 attributes (the bench's spans before
/// they were made realistic) instead of 48.
static SMALL_SPANS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn trace_id(trace: u64) -> TraceId {
    let n = u128::from(trace) + 1;
    if RANDOM_IDS.load(std::sync::atomic::Ordering::Relaxed) {
        // A bijective mix (odd multiplier, xor-shift) of the sequence number.
        let x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        TraceId::from(x ^ (x >> 64))
    } else {
        TraceId::from(n)
    }
}

fn span(scope: &InstrumentationScope, trace: u64, s: u64) -> SpanData {
    let start = UNIX_EPOCH + Duration::from_millis(1_735_689_600_000 + trace * 100 + s);
    let root = s == 1;
    let user = format!("u{}", trace % 500);
    let session = format!("s{}", trace % 5000);
    let mut attributes = vec![KeyValue::new(semconv::USER_ID, user)];
    if root {
        // A workflow span as WorkflowLayer + EnrichLayer leave it: type,
        // name, session and the roll-ups of its LLM calls.
        attributes.extend([
            KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"),
            KeyValue::new(semconv::GEN_AI_WORKFLOW_NAME, format!("wf{}", trace % 20)),
            KeyValue::new(semconv::SESSION_ID, session),
            KeyValue::new(semconv::OPENINFERENCE_SPAN_KIND, "CHAIN"),
            KeyValue::new(semconv::ROLLUP_INPUT_TOKENS, 360_i64),
            KeyValue::new(semconv::ROLLUP_OUTPUT_TOKENS, 120_i64),
            KeyValue::new(semconv::ROLLUP_TOTAL_TOKENS, 480_i64),
            KeyValue::new(semconv::ROLLUP_COST_USD, 0.000_126),
            KeyValue::new(semconv::ROLLUP_LLM_CALLS, 3_i64),
            KeyValue::new(semconv::ROLLUP_ERRORS, 0_i64),
            KeyValue::new(semconv::PERFORMANCE_LATENCY_MS, 912.5),
        ]);
    } else if s.is_multiple_of(3) && SMALL_SPANS.load(std::sync::atomic::Ordering::Relaxed) {
        // The earlier, smaller LLM span (`BENCH_MIX=small`), for comparison
        // with figures measured before the bench's spans were made realistic.
        let model = MODELS[(trace % 4) as usize];
        attributes.extend([
            KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"),
            KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, "openai"),
            KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, model),
            KeyValue::new(semconv::GEN_AI_USAGE_INPUT_TOKENS, 120_i64),
            KeyValue::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 40_i64),
            KeyValue::new(semconv::COST_TOTAL_USD, 0.000_042),
        ]);
    } else if s.is_multiple_of(3) {
        // An LLM span as LlmMiddleware records a streamed OpenAI chat call
        // (content capture off): 48 attributes with the user id, GenAI and OpenInference names.
        let model = MODELS[(trace % 4) as usize];
        attributes.extend([
            KeyValue::new(semconv::SESSION_ID, session),
            KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"),
            KeyValue::new(semconv::OPENINFERENCE_SPAN_KIND, "LLM"),
            KeyValue::new(semconv::GEN_AI_OPERATION_NAME, "chat"),
            KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, "openai"),
            KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, model),
            KeyValue::new(semconv::GEN_AI_RESPONSE_MODEL, model),
            KeyValue::new(semconv::GEN_AI_REQUEST_STREAM, true),
            KeyValue::new(semconv::GEN_AI_REQUEST_TEMPERATURE, 0.2),
            KeyValue::new(semconv::GEN_AI_REQUEST_MAX_TOKENS, 1024_i64),
            KeyValue::new(semconv::GEN_AI_REQUEST_TOP_P, 1.0),
            KeyValue::new(
                semconv::GEN_AI_RESPONSE_ID,
                format!("chatcmpl-{trace:016x}{s:04x}"),
            ),
            KeyValue::new(
                semconv::GEN_AI_RESPONSE_FINISH_REASONS,
                opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("stop")].into()),
            ),
            KeyValue::new(semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, 0.348),
            KeyValue::new(semconv::OPENAI_RESPONSE_SERVICE_TIER, "default"),
            KeyValue::new(semconv::SERVER_ADDRESS, "api.openai.com"),
            KeyValue::new(semconv::SERVER_PORT, 443_i64),
            KeyValue::new(semconv::HTTP_REQUEST_METHOD, "POST"),
            KeyValue::new(
                semconv::URL_FULL,
                "https://api.openai.com/v1/chat/completions",
            ),
            KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, 200_i64),
            KeyValue::new(semconv::GEN_AI_USAGE_INPUT_TOKENS, 120_i64),
            KeyValue::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 40_i64),
            KeyValue::new(semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 64_i64),
            KeyValue::new(semconv::GEN_AI_USAGE_TOTAL_TOKENS, 160_i64),
            KeyValue::new(semconv::LLM_PROVIDER, "openai"),
            KeyValue::new(semconv::LLM_SYSTEM, "openai"),
            KeyValue::new(semconv::LLM_MODEL_NAME, model),
            KeyValue::new(
                semconv::LLM_INVOCATION_PARAMETERS,
                r#"{"max_tokens":1024,"stream":true,"temperature":0.2,"top_p":1.0}"#,
            ),
            KeyValue::new(semconv::LLM_FINISH_REASON, "stop"),
            KeyValue::new(semconv::LLM_TOKEN_COUNT_PROMPT, 120_i64),
            KeyValue::new(semconv::LLM_TOKEN_COUNT_COMPLETION, 40_i64),
            KeyValue::new(semconv::LLM_TOKEN_COUNT_TOTAL, 160_i64),
            KeyValue::new(semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ, 64_i64),
            KeyValue::new(semconv::LLM_COST_PROMPT, 0.000_018),
            KeyValue::new(semconv::LLM_COST_COMPLETION, 0.000_024),
            KeyValue::new(semconv::LLM_COST_TOTAL, 0.000_042),
            KeyValue::new(semconv::COST_TOTAL_USD, 0.000_042),
            KeyValue::new(semconv::COST_INPUT_COST_USD, 0.000_018),
            KeyValue::new(semconv::COST_OUTPUT_COST_USD, 0.000_024),
            KeyValue::new(semconv::COST_MODEL_NAME, model),
            KeyValue::new(semconv::COST_PROMPT_TOKENS, 120_i64),
            KeyValue::new(semconv::COST_COMPLETION_TOKENS, 40_i64),
            KeyValue::new(semconv::COST_TOTAL_TOKENS, 160_i64),
            KeyValue::new(semconv::COST_SOURCE, "catalogue"),
            KeyValue::new(semconv::TOKENTRACE_STREAM_EVENTS, 42_i64),
            KeyValue::new(semconv::TOKENTRACE_RESPONSE_BYTES, 8_123_i64),
            KeyValue::new(semconv::PERFORMANCE_LATENCY_MS, 611.25),
        ]);
    }
    SpanData {
        span_context: SpanContext::new(
            trace_id(trace),
            SpanId::from(s),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: if root {
            SpanId::INVALID
        } else {
            SpanId::from(1)
        },
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(if root {
            format!("workflow.wf{}", trace % 20)
        } else {
            format!("step {s}")
        }),
        start_time: start,
        end_time: start + Duration::from_millis(5 + (trace * 7 + s) % 900),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: if trace.is_multiple_of(50) && s == 2 {
            Status::error("boom")
        } else {
            Status::Unset
        },
        instrumentation_scope: scope.clone(),
    }
}

/// `spans` spans starting at trace `first_trace`, 10 per trace.
fn batch(scope: &InstrumentationScope, first_trace: u64, spans: u64) -> Vec<SpanData> {
    (0..spans)
        .map(|i| {
            span(
                scope,
                first_trace + i / SPANS_PER_TRACE,
                i % SPANS_PER_TRACE + 1,
            )
        })
        .collect()
}

fn export(exporter: &StoreExporter, b: Vec<SpanData>) {
    let mut f = std::pin::pin!(exporter.export(b));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = f.as_mut().poll(&mut cx);
}

/// Exports `total` spans from trace `first_trace` on in batches of
/// [`BATCH`], built beforehand, and returns the time from the first export
/// to the last commit.
fn ingest_spans(exporter: &StoreExporter, first_trace: u64, total: u64) -> Duration {
    let scope = InstrumentationScope::builder("bench").build();
    let batches: Vec<Vec<SpanData>> = (0..total / BATCH)
        .map(|i| batch(&scope, first_trace + i * BATCH / SPANS_PER_TRACE, BATCH))
        .collect();
    let t = Instant::now();
    for b in batches {
        export(exporter, b);
    }
    exporter
        .flush_with_timeout(Duration::from_secs(600))
        .unwrap();
    t.elapsed()
}

/// The `/proc/self/task/<tid>` folders of this process's threads whose name
/// starts with `prefix`; `None` where /proc is missing.
fn threads_named(prefix: &str) -> Option<Vec<std::path::PathBuf>> {
    let mut dirs = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.starts_with(prefix) {
            dirs.push(dir);
        }
    }
    Some(dirs)
}

/// CPU seconds (user + system) used so far by this process's threads whose
/// name starts with `prefix` (`tokentrace-stor` is the writer,
/// `tokentrace-enc` its JSON encoder, `tokentrace-ckpt` its checkpointer), from /proc; `None` where /proc is
/// missing. Reported beside wall-clock figures because the machine this runs
/// on is shared: wall time mostly measures the load.
fn thread_cpu_secs(prefix: &str) -> Option<f64> {
    let mut total = 0u64;
    for dir in threads_named(prefix)? {
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        total += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    // Clock ticks; USER_HZ is 100 on Linux.
    Some(total as f64 / 100.0)
}

/// Bytes written (`wchar`: to the WAL, for the writer) and read (`rchar`)
/// through syscalls by this process's threads named `prefix*`, from /proc.
fn thread_io_bytes(prefix: &str) -> Option<(u64, u64)> {
    let (mut w, mut r) = (0u64, 0u64);
    for dir in threads_named(prefix)? {
        let io = std::fs::read_to_string(dir.join("io")).ok()?;
        for line in io.lines() {
            let value = |l: &str| l.split(':').nth(1)?.trim().parse::<u64>().ok();
            if line.starts_with("wchar:") {
                w += value(line)?;
            } else if line.starts_with("rchar:") {
                r += value(line)?;
            }
        }
    }
    Some((w, r))
}

fn ingest(random_ids: bool) {
    RANDOM_IDS.store(random_ids, std::sync::atomic::Ordering::Relaxed);
    let ids = if random_ids { "random" } else { "sequential" };
    // `BENCH_KEEP=1` keeps the ingest database (its path is printed) for analysis.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ingest.db");
    let exporter = StoreExporter::builder(&path)
        .queue_capacity(1024)
        .build()
        .unwrap();
    // `BENCH_DROP=spans_user_id,...` drops those indexes first (to measure
    // what each costs; the writer re-prepares its statements).
    if let Ok(drop) = std::env::var("BENCH_DROP") {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for index in drop.split(',').filter(|i| !i.is_empty()) {
            conn.execute_batch(&format!("DROP INDEX {index}")).unwrap();
        }
    }
    let per_round = 100_000u64;
    let rounds: u64 = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut rates = Vec::new();
    let cpu_before = thread_cpu_secs("tokentrace-stor");
    let ckpt_before = thread_cpu_secs("tokentrace-ckpt");
    let enc_before = thread_cpu_secs("tokentrace-enc");
    let io_before = thread_io_bytes("tokentrace-stor");
    for round in 0..rounds {
        let elapsed = ingest_spans(&exporter, round * per_round / SPANS_PER_TRACE, per_round);
        rates.push(per_round as f64 / elapsed.as_secs_f64());
    }
    let cpu = thread_cpu_secs("tokentrace-stor")
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    let ckpt = thread_cpu_secs("tokentrace-ckpt")
        .zip(ckpt_before)
        .map(|(a, b)| a - b);
    let enc = thread_cpu_secs("tokentrace-enc")
        .zip(enc_before)
        .map(|(a, b)| a - b);
    let io = thread_io_bytes("tokentrace-stor")
        .zip(io_before)
        .map(|(a, b)| (a.0 - b.0, a.1 - b.1));
    assert_eq!(exporter.stats().dropped_spans, 0);
    assert_eq!(exporter.stats().failed_spans, 0);
    // Joins the writer (and its helper threads), so the next pass's CPU
    // figures never include this one's threads.
    exporter.shutdown().unwrap();
    let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "ingest, {ids} trace ids, batches of {BATCH}, {rounds} rounds of {per_round} spans: median {:.0} spans/s wall (rounds: {})",
        rates[rates.len() / 2],
        shown.join(", ")
    );
    if let (Some(cpu), Some(ckpt), Some(enc)) = (cpu, ckpt, enc) {
        let spans = (rounds * per_round) as f64;
        println!(
            "  writer thread {cpu:.2} s CPU: {:.0} spans per CPU-second; encoder thread {enc:.2} s; checkpoint thread {ckpt:.2} s; all three: {:.0} spans per CPU-second",
            spans / cpu,
            spans / (cpu + enc + ckpt)
        );
    }
    drop(exporter);
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let bytes = size(&path) + size(&dir.path().join("ingest.db-wal"));
    println!(
        "  database {:.1} MiB: {:.0} bytes per span",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / (rounds * per_round) as f64
    );
    if let Some((written, read)) = io {
        let spans = (rounds * per_round) as f64;
        println!(
            "  writer wrote {:.0} bytes per span (WAL), read {:.0}",
            written as f64 / spans,
            read as f64 / spans
        );
    }
    if std::env::var_os("BENCH_KEEP").is_some() {
        println!("  kept {}", dir.keep().join("ingest.db").display());
    }
}

fn queries() {
    RANDOM_IDS.store(false, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("query.db");
    let exporter = StoreExporter::builder(&path)
        .queue_capacity(1024)
        .build()
        .unwrap();
    let total: u64 = std::env::var("BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // Seed in chunks so the pre-built batches never all sit in memory.
    let mut setup = Duration::ZERO;
    let chunk = 100_000u64.min(total);
    for i in 0..total / chunk {
        setup += ingest_spans(&exporter, i * chunk / SPANS_PER_TRACE, chunk);
    }
    // One trace with a random-looking id, as real tracers make them: the
    // seeded ids are sequential (all-zero prefixes), so none of them can be
    // resolved from the 12 digits the dashboard shows.
    let mut lone = span(&InstrumentationScope::builder("bench").build(), total, 1);
    lone.span_context = SpanContext::new(
        TraceId::from(LONE_TRACE),
        SpanId::from(1),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    export(&exporter, vec![lone]);
    exporter
        .flush_with_timeout(Duration::from_secs(60))
        .unwrap();
    assert_eq!(exporter.stats().written_spans, total + 1);
    println!(
        "seeded {total} spans in {setup:.2?} ({:.0} spans/s)",
        total as f64 / setup.as_secs_f64()
    );
    drop(exporter);
    let store = Store::open(&path).unwrap();
    let some_trace = format!("{:032x}", 12_346);
    // 2025-01-01T00:00Z, where the seed starts: a range on whole hours.
    let hour0: i64 = 1_735_689_600_000_000_000;

    let cases: Vec<(&str, Box<dyn Fn()>)> = vec![
        (
            "traces_page",
            Box::new(|| drop(store.traces(&TraceFilter::new()).unwrap())),
        ),
        (
            "traces_page_6",
            Box::new(|| drop(store.traces(&TraceFilter::new().page(50, 250)).unwrap())),
        ),
        (
            "traces_by_workflow",
            Box::new(|| drop(store.traces(&TraceFilter::new().workflow("wf7")).unwrap())),
        ),
        (
            "traces_by_user",
            Box::new(|| drop(store.traces(&TraceFilter::new().user_id("u42")).unwrap())),
        ),
        (
            "traces_by_session",
            Box::new(|| drop(store.traces(&TraceFilter::new().session_id("s42")).unwrap())),
        ),
        (
            "traces_errors",
            Box::new(|| drop(store.traces(&TraceFilter::new().errors_only(true)).unwrap())),
        ),
        (
            "traces_by_model",
            Box::new(|| drop(store.traces(&TraceFilter::new().model("gpt-4o")).unwrap())),
        ),
        (
            "traces_by_provider",
            Box::new(|| {
                drop(
                    store
                        .traces(&TraceFilter::new().provider("openai"))
                        .unwrap(),
                )
            }),
        ),
        (
            "get_trace",
            Box::new(|| drop(store.get_trace(&some_trace).unwrap())),
        ),
        ("session", Box::new(|| drop(store.session("s42").unwrap()))),
        (
            "stats_workflow",
            Box::new(|| drop(store.stats(GroupBy::Workflow).unwrap())),
        ),
        (
            "stats_model",
            Box::new(|| drop(store.stats(GroupBy::Model).unwrap())),
        ),
        (
            "stats_provider",
            Box::new(|| drop(store.stats(GroupBy::Provider).unwrap())),
        ),
        (
            "stats_user",
            Box::new(|| drop(store.stats(GroupBy::User).unwrap())),
        ),
        (
            "stats_session",
            Box::new(|| drop(store.stats(GroupBy::Session).unwrap())),
        ),
        (
            "stats_day",
            Box::new(|| drop(store.stats(GroupBy::Day).unwrap())),
        ),
        (
            "slowest_workflows",
            Box::new(|| drop(store.slowest_workflows(10).unwrap())),
        ),
        ("sessions", Box::new(|| drop(store.sessions().unwrap()))),
        (
            "sessions_page",
            Box::new(|| drop(store.sessions_page(&TraceFilter::new()).unwrap())),
        ),
        (
            "traces_sort_cost",
            Box::new(|| {
                drop(
                    store
                        .traces(&TraceFilter::new().sort(TraceSort::CostDesc))
                        .unwrap(),
                )
            }),
        ),
        (
            "traces_sort_latency",
            Box::new(|| {
                drop(
                    store
                        .traces(&TraceFilter::new().sort(TraceSort::LatencyDesc))
                        .unwrap(),
                )
            }),
        ),
        (
            "traces_by_workflow_user",
            Box::new(|| {
                drop(
                    store
                        .traces(&TraceFilter::new().workflow("wf2").user_id("u42"))
                        .unwrap(),
                )
            }),
        ),
        (
            "totals_all",
            Box::new(|| {
                std::hint::black_box(store.trace_totals(&TraceFilter::new()).unwrap());
            }),
        ),
        (
            "totals_by_user",
            Box::new(|| {
                std::hint::black_box(
                    store
                        .trace_totals(&TraceFilter::new().user_id("u42"))
                        .unwrap(),
                );
            }),
        ),
        (
            "breakdown_model_hours",
            Box::new(|| {
                drop(
                    store
                        .breakdown(
                            &TraceFilter::new().time_range(Some(hour0), None),
                            GroupBy::Model,
                        )
                        .unwrap(),
                )
            }),
        ),
        (
            "breakdown_user_all",
            Box::new(|| drop(store.breakdown(&TraceFilter::new(), GroupBy::User).unwrap())),
        ),
        (
            "breakdown_model_by_user",
            Box::new(|| {
                drop(
                    store
                        .breakdown(&TraceFilter::new().user_id("u42"), GroupBy::Model)
                        .unwrap(),
                )
            }),
        ),
        (
            "timeseries_hour_model",
            Box::new(|| {
                drop(
                    store
                        .timeseries(&TraceFilter::new(), Interval::Hour, Some(GroupBy::Model))
                        .unwrap(),
                )
            }),
        ),
        (
            "timeseries_day_user",
            Box::new(|| {
                drop(
                    store
                        .timeseries(&TraceFilter::new(), Interval::Day, Some(GroupBy::User))
                        .unwrap(),
                )
            }),
        ),
        (
            "timeseries_by_session",
            Box::new(|| {
                drop(
                    store
                        .timeseries(
                            &TraceFilter::new().session_id("s42"),
                            Interval::Hour,
                            Some(GroupBy::Model),
                        )
                        .unwrap(),
                )
            }),
        ),
        (
            "breakdown_step_all",
            Box::new(|| drop(store.breakdown(&TraceFilter::new(), GroupBy::Step).unwrap())),
        ),
        (
            "breakdown_step_user",
            Box::new(|| {
                drop(
                    store
                        .breakdown(&TraceFilter::new().user_id("u42"), GroupBy::Step)
                        .unwrap(),
                )
            }),
        ),
        (
            "resolve_prefix",
            Box::new(|| {
                let id = store.resolve_trace_id("4bf92f3577b3").unwrap();
                assert_eq!(id, format!("{LONE_TRACE:032x}"));
            }),
        ),
        (
            "conversation",
            Box::new(|| drop(store.conversation("s42").unwrap())),
        ),
    ];
    for (name, f) in &cases {
        f(); // warm the page cache and the statement cache
        let mut samples: Vec<Duration> = (0..30)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        samples.sort();
        println!(
            "{name:>20}: p50 {:>9.2?}  p95 {:>9.2?}",
            samples[14], samples[28]
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument selects a part.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    SMALL_SPANS.store(
        std::env::var("BENCH_MIX").is_ok_and(|m| m == "small"),
        std::sync::atomic::Ordering::Relaxed,
    );
    let wants = |part: &str| only.is_empty() || only.iter().any(|o| part.contains(o.as_str()));
    // `BENCH_IDS=sequential` or `random` runs one of the two ingest passes.
    let ids = std::env::var("BENCH_IDS").unwrap_or_default();
    if wants("ingest") {
        if ids != "random" {
            ingest(false);
        }
        if ids != "sequential" {
            ingest(true);
        }
    }
    if wants("queries") {
        queries();
    }
}
