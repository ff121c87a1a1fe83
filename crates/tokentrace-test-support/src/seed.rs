//! A seeded trace store for tests, written through the store's own exporter
//! (so the `traces` summary table is maintained exactly as in production).
//!
//! The CLI's unit tests (the dashboard) and its `tests/cli` integration
//! binary both assert against this one seed description. Feature `store`.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Event, SpanKind, Status};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use tokentrace_core::semconv;
use tokentrace_core::semconv::values::{SPAN_TYPE_LLM, SPAN_TYPE_VECTOR, SPAN_TYPE_WORKFLOW};
use tokentrace_store::StoreExporter;

/// Markup that must only ever be shown as text.
pub const XSS_SCRIPT: &str = "<script>document.title='pwned'</script>";
/// An attribute-breaking payload.
pub const XSS_IMG: &str = "\"><img src=x onerror=\"document.title='pwned'\">";

/// One LLM call of a seeded trace.
#[derive(Debug, Clone)]
pub struct SeedCall {
    /// `gen_ai.provider.name`.
    pub provider: &'static str,
    /// Request and response model.
    pub model: &'static str,
    /// Input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// `None` for an unpriced model.
    pub cost: Option<f64>,
    /// Whether the call ended with error status.
    pub error: bool,
}

/// A seeded trace, and what the store must report about it.
#[derive(Debug, Clone)]
pub struct SeedTrace {
    /// The trace id, as a number.
    pub n: u128,
    /// The root workflow's name.
    pub workflow: &'static str,
    /// `user.id`.
    pub user: &'static str,
    /// `session.id`.
    pub session: &'static str,
    /// Start, ns before "now" at seeding.
    pub age_ns: i64,
    /// Its LLM calls, in order.
    pub calls: Vec<SeedCall>,
    /// Adds a retrieval step with a vector query.
    pub retrieval: bool,
    /// Prompt template, version and variables on the LLM spans.
    pub template: &'static str,
    /// Prompt template variables (JSON).
    pub variables: &'static str,
    /// `metadata` (JSON).
    pub metadata: &'static str,
}

impl SeedTrace {
    /// 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.n)
    }
    /// Spans written: root + (retrieve step + vector query) + one per call.
    pub fn span_count(&self) -> usize {
        1 + if self.retrieval { 2 } else { 0 } + self.calls.len()
    }
    /// Input plus output tokens of every call.
    pub fn total_tokens(&self) -> u64 {
        self.calls.iter().map(|c| c.input + c.output).sum()
    }
    /// Summed cost of the priced calls.
    pub fn cost(&self) -> f64 {
        self.calls.iter().filter_map(|c| c.cost).sum()
    }
    /// Calls that failed.
    pub fn errors(&self) -> u64 {
        self.calls.iter().filter(|c| c.error).count() as u64
    }
}

const H: i64 = 3_600_000_000_000;

/// The seed: five traces over three days, one failing, one unpriced, one hostile.
pub fn seed_traces() -> Vec<SeedTrace> {
    let call = |provider, model, input, output, cost| SeedCall {
        provider,
        model,
        input,
        output,
        cost,
        error: false,
    };
    vec![
        SeedTrace {
            n: 0xa1,
            workflow: "answer_question",
            user: "alice",
            session: "sess-1",
            age_ns: 50 * H,
            calls: vec![call("openai", "gpt-4o-mini", 1200, 300, Some(0.000_36))],
            retrieval: true,
            template: "Answer using {context}: {question}",
            variables: r#"{"context":"the docs","question":"how do I reset?"}"#,
            metadata: r#"{"customer":"Acme","tier":"gold"}"#,
        },
        SeedTrace {
            n: 0xa2,
            workflow: "answer_question",
            user: "bob",
            session: "sess-2",
            age_ns: 26 * H,
            calls: vec![
                call(
                    "anthropic",
                    "claude-haiku-4-5-20251001",
                    800,
                    200,
                    Some(0.001_44),
                ),
                call("openai", "gpt-4o-mini", 100, 50, Some(0.000_045)),
            ],
            retrieval: true,
            template: "Answer using {context}: {question}",
            variables: r#"{"context":"faq","question":"pricing?"}"#,
            metadata: r#"{"customer":"Globex"}"#,
        },
        SeedTrace {
            n: 0xa3,
            workflow: "summarise",
            user: "alice",
            session: "sess-1",
            age_ns: 25 * H,
            calls: vec![SeedCall {
                error: true,
                ..call("openai", "gpt-4o-mini", 500, 0, Some(0.000_075))
            }],
            retrieval: false,
            template: "Summarise: {text}",
            variables: r#"{"text":"long text"}"#,
            metadata: "{}",
        },
        SeedTrace {
            n: 0xa4,
            workflow: "summarise",
            user: "carol",
            session: "sess-3",
            age_ns: 3 * H,
            calls: vec![call("openai", "my-private-finetune-xyz", 400, 100, None)],
            retrieval: false,
            template: "Summarise: {text}",
            variables: r#"{"text":"notes"}"#,
            metadata: "{}",
        },
        SeedTrace {
            n: 0xa5,
            workflow: "xss<script>alert(1)</script>",
            user: XSS_IMG,
            session: "sess-x",
            age_ns: H / 6,
            calls: vec![call("openai", "gpt-4o-mini", 10, 5, Some(0.000_004_5))],
            retrieval: false,
            template: XSS_SCRIPT,
            variables: r#"{"q":"\"><img src=x onerror=\"document.title='pwned'\">"}"#,
            metadata: r#"{"note":"\"><img src=x onerror=\"document.title='pwned'\">","html":"<script>document.title='pwned'</script>"}"#,
        },
    ]
}

fn at(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).expect("seed times are after 1970"))
}

fn span(t: u128, s: u64, parent: u64, name: String, start_ns: i64, dur_ms: i64) -> SpanData {
    let mut span = crate::span_data(
        t,
        s,
        parent,
        name,
        (at(start_ns), at(start_ns + dur_ms * 1_000_000)),
        "tokentrace-cli-tests",
    );
    if parent == 0 {
        span.span_kind = SpanKind::Server;
    }
    span
}

/// Input messages of the rich call (trace `0xa2`'s first call).
pub const RICH_INPUT: &str = r#"[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What does the pro plan cost?"}]}]"#;
/// Its output, as Anthropic content blocks.
pub const RICH_OUTPUT: &str = r#"[{"type":"text","text":"The pro plan is $20 a month."}]"#;

/// What a fully instrumented, priced, streamed call with content capture
/// carries besides the basics: cache and reasoning tokens, the cost split,
/// finish reasons, time to first chunk, messages, and mirrored names (one
/// of them with binary float noise).
fn rich_call_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new(semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 600),
        KeyValue::new(semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 64),
        KeyValue::new(semconv::COST_INPUT_COST_USD, 0.000_64),
        KeyValue::new(semconv::COST_CACHE_READ_COST_USD, 0.000_06),
        KeyValue::new(semconv::COST_OUTPUT_COST_USD, 0.000_8),
        KeyValue::new(semconv::COST_REASONING_COST_USD, 0.000_256),
        KeyValue::new(semconv::COST_SOURCE, "catalogue"),
        KeyValue::new(semconv::COST_MODEL_NAME, "claude-haiku-4-5"),
        KeyValue::new(semconv::LLM_COST_TOTAL, 0.001_44),
        KeyValue::new(semconv::GEN_AI_USAGE_COST, 0.001_44),
        KeyValue::new(semconv::LLM_TOKEN_COUNT_PROMPT, 800),
        KeyValue::new(semconv::LLM_MODEL_NAME, "claude-haiku-4-5-20251001"),
        KeyValue::new(
            semconv::LLM_COST_PROMPT_DETAILS_INPUT,
            6.749_999_999_999_999e-5,
        ),
        KeyValue::new(
            semconv::GEN_AI_RESPONSE_FINISH_REASONS,
            opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("end_turn")].into()),
        ),
        KeyValue::new(semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, 0.25),
        KeyValue::new(semconv::GEN_AI_REQUEST_STREAM, true),
        KeyValue::new(semconv::GEN_AI_INPUT_MESSAGES, RICH_INPUT),
        KeyValue::new(semconv::GEN_AI_OUTPUT_MESSAGES, RICH_OUTPUT),
    ]
}

/// Writes the seed into a new store at `path`; returns the seed with `now_ns`.
pub fn seed(path: &Path) -> (Vec<SeedTrace>, i64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64;
    let traces = seed_traces();
    let mut batch = Vec::new();
    for t in &traces {
        let t0 = now - t.age_ns;
        let mut next_id = (t.n as u64) << 8;
        let mut id = || {
            next_id += 1;
            next_id
        };
        let root = id();
        let mut cursor = t0 + 1_000_000;
        let mut children = Vec::new();
        if t.retrieval {
            let step = id();
            let mut s = span(t.n, step, root, "workflow.retrieve".to_owned(), cursor, 40);
            s.attributes = vec![
                KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, SPAN_TYPE_WORKFLOW),
                KeyValue::new(semconv::GEN_AI_WORKFLOW_NAME, "retrieve"),
            ];
            children.push(s);
            let mut q = span(
                t.n,
                id(),
                step,
                "query docs".to_owned(),
                cursor + 5_000_000,
                30,
            );
            q.span_kind = SpanKind::Client;
            q.attributes = vec![
                KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, SPAN_TYPE_VECTOR),
                KeyValue::new(semconv::DB_SYSTEM_NAME, "pinecone"),
                KeyValue::new(semconv::DB_COLLECTION_NAME, "docs"),
            ];
            children.push(q);
            cursor += 41_000_000;
        }
        for (i, c) in t.calls.iter().enumerate() {
            let mut s = span(t.n, id(), root, format!("chat {}", c.model), cursor, 120);
            s.span_kind = SpanKind::Client;
            let mut attrs = vec![
                KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, SPAN_TYPE_LLM),
                KeyValue::new(semconv::GEN_AI_OPERATION_NAME, "chat"),
                KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, c.provider),
                KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, c.model),
                KeyValue::new(semconv::GEN_AI_RESPONSE_MODEL, c.model),
                KeyValue::new(semconv::GEN_AI_USAGE_INPUT_TOKENS, c.input as i64),
                KeyValue::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, c.output as i64),
                KeyValue::new(
                    semconv::GEN_AI_USAGE_TOTAL_TOKENS,
                    (c.input + c.output) as i64,
                ),
                KeyValue::new(semconv::LLM_PROMPT_TEMPLATE_TEMPLATE, t.template),
                KeyValue::new(semconv::LLM_PROMPT_TEMPLATE_VERSION, "2.0"),
                KeyValue::new(semconv::LLM_PROMPT_TEMPLATE_VARIABLES, t.variables),
                KeyValue::new(semconv::METADATA, t.metadata),
                KeyValue::new(semconv::USER_ID, t.user),
                KeyValue::new(semconv::SESSION_ID, t.session),
            ];
            if t.n == 0xa2 && i == 0 {
                attrs.extend(rich_call_attributes());
            }
            if t.n == 0xa1 {
                attrs.push(KeyValue::new(semconv::INPUT_VALUE, "how do I reset?"));
                attrs.push(KeyValue::new(
                    semconv::OUTPUT_VALUE,
                    "Hold the button for 5 s.",
                ));
            }
            match c.cost {
                Some(cost) => attrs.push(KeyValue::new(semconv::COST_TOTAL_USD, cost)),
                None => attrs.push(KeyValue::new(semconv::COST_UNKNOWN_MODEL, true)),
            }
            s.attributes = attrs;
            if c.error {
                s.status = Status::error("upstream returned 500");
            }
            s.events.events.push(Event::new(
                "first token",
                at(cursor + 100_000_000),
                vec![KeyValue::new(semconv::LLM_FINISH_REASON, "stop")],
                0,
            ));
            children.push(s);
            cursor += 121_000_000;
        }
        let mut r = span(
            t.n,
            root,
            0,
            format!("POST /chat/{}", t.workflow),
            t0,
            (cursor - t0) / 1_000_000 + 2,
        );
        r.attributes = vec![
            KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, SPAN_TYPE_WORKFLOW),
            KeyValue::new(semconv::GEN_AI_WORKFLOW_NAME, t.workflow),
            KeyValue::new(semconv::USER_ID, t.user),
            KeyValue::new(semconv::SESSION_ID, t.session),
            KeyValue::new(semconv::METADATA, t.metadata),
        ];
        batch.push(r);
        batch.extend(children);
    }
    let exporter = StoreExporter::new(path).expect("the test store opens");
    {
        let mut export = std::pin::pin!(exporter.export(batch));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match export.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r.expect("the seed batch is accepted"),
            std::task::Poll::Pending => panic!("the store exporter accepts a batch at once"),
        }
    }
    exporter
        .flush_with_timeout(Duration::from_secs(20))
        .expect("the seed batch is written");
    drop(exporter);
    (traces, now)
}

/// Adds `traces` one-span traces carrying 4 KiB of input each to the store
/// at `path` (to make a file worth shrinking); trace `t`'s id is
/// `(0xb0000 + t) << 100`, unique in its first 7 hex digits.
pub fn bulk(path: &Path, traces: u128) {
    let exporter = StoreExporter::new(path).expect("the test store opens");
    let text = "x".repeat(4096);
    let batch: Vec<SpanData> = (0..traces)
        .map(|t| {
            let mut s = span(
                (0xb0000 + t) << 100,
                1,
                0,
                "bulk".to_owned(),
                1_000_000_000,
                1,
            );
            s.attributes = vec![KeyValue::new(semconv::INPUT_VALUE, text.clone())];
            s
        })
        .collect();
    let mut export = std::pin::pin!(exporter.export(batch));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(export.as_mut().poll(&mut cx).is_ready());
    exporter
        .flush_with_timeout(Duration::from_secs(20))
        .expect("the bulk batch is written");
}
