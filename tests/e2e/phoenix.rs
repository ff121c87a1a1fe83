//! Arize Phoenix, a real OTLP trace backend: the demo agent service exports
//! through the full pipeline (`Telemetry::build` with OTLP/HTTP protobuf), and
//! Phoenix's REST and GraphQL APIs must give back the same trace tree, the
//! same attributes, and a cost that agrees with ours.
//!
//! `scripts/phoenix-e2e` runs this inside a private network namespace, once
//! straight into Phoenix and once through a Rotel collector. Without
//! `TOKENTRACE_PHOENIX_URL` the test prints a skip line and passes.
//!
//! | variable | meaning |
//! |---|---|
//! | `TOKENTRACE_PHOENIX_URL` | Phoenix's HTTP base URL (REST, GraphQL, OTLP) |
//! | `TOKENTRACE_OTLP_ENDPOINT` | where spans are sent (a collector); default: Phoenix |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `openinference.project.name=<project>` picks the Phoenix project (else `default`) |
//! | `PHOENIX_API_KEY` | API key for Phoenix's REST and GraphQL reads when auth is on (Phoenix ≥ 21 turns it on by default); spans carry it through `OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<key>` |

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use serde_json::{Value, json};
use tokentrace_core::semconv;
use tokentrace_demo::mocks::{MockProviders, count_tokens, reply_tokens};
use tokentrace_demo::service::{Config, app};

/// Largest relative difference allowed between our cost and Phoenix's. Both
/// multiply the same token counts by per-token prices, but from different
/// catalogues (ours vs Phoenix's LiteLLM-derived manifest), which may be
/// updated at different times.
const COST_TOLERANCE: f64 = 0.10;
/// How long spans (and their costs) may take to show up in Phoenix.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(90);

/// One `POST /chat` the test sends.
struct Call {
    user: &'static str,
    session: String,
    message: &'static str,
}

/// What the service answered.
#[derive(Debug)]
struct Answered {
    user: &'static str,
    session: String,
    message: &'static str,
    trace_id: String,
    provider: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A client for Phoenix's APIs, sending `PHOENIX_API_KEY` as a bearer token when set.
fn phoenix_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = env("PHOENIX_API_KEY") {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
            .expect("PHOENIX_API_KEY is a valid header value");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

/// The project Phoenix files our spans under: the `openinference.project.name`
/// resource attribute if `OTEL_RESOURCE_ATTRIBUTES` sets one, else `default`.
fn project_from_env() -> String {
    env("OTEL_RESOURCE_ATTRIBUTES")
        .and_then(|attrs| {
            attrs.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == "openinference.project.name").then(|| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "default".to_owned())
}

#[test]
fn the_agent_service_arrives_in_phoenix_intact_and_priced() {
    let Some(phoenix) = env("TOKENTRACE_PHOENIX_URL") else {
        eprintln!(
            "phoenix e2e skipped: TOKENTRACE_PHOENIX_URL is not set (scripts/phoenix-e2e runs it)"
        );
        return;
    };
    let phoenix = phoenix.trim_end_matches('/').to_owned();
    let otlp = env("TOKENTRACE_OTLP_ENDPOINT").unwrap_or_else(|| phoenix.clone());
    let project = project_from_env();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let run = format!("{}-{nanos}", std::process::id());
    let service = format!("tokentrace-e2e-{run}");
    eprintln!(
        "phoenix e2e: OTLP to {otlp}, Phoenix at {phoenix}, project {project}, service.name {service}"
    );

    // The real pipeline, exporting over OTLP, plus an in-memory copy of
    // exactly what was exported, to compare with what Phoenix stored. Built
    // outside the runtime: the OTLP exporter's blocking HTTP client must not
    // be created inside one.
    let exported = InMemorySpanExporter::default();
    let (dispatch, guard) = tokentrace::Telemetry::builder()
        .from_env()
        .service_name(service)
        .no_store()
        .otlp_endpoint(otlp)
        .export_delay(Duration::from_millis(200))
        .span_exporter(exported.clone())
        .build()
        .expect("pipeline");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let calls = [
        Call {
            user: "u-ada",
            session: format!("s-{run}-1"),
            message: "How are invoices for extra usage calculated",
        },
        // Anthropic users: the first call writes the prompt cache, the
        // second reads it.
        Call {
            user: "u-grace",
            session: format!("s-{run}-2"),
            message: "Can I export my data as Parquet",
        },
        Call {
            user: "u-grace",
            session: format!("s-{run}-2"),
            message: "Where is my data stored",
        },
        Call {
            user: "u-linus",
            session: format!("s-{run}-3"),
            message: "How do I rotate my API key",
        },
    ];
    let started = Instant::now();
    // A current-thread runtime: the service, the mocks and the client all
    // run on this thread, so the thread-local default dispatch covers them.
    let answered = {
        let _default = tracing::dispatcher::set_default(&dispatch);
        rt.block_on(drive(&calls))
    };
    guard.flush();
    assert_eq!(guard.dropped_spans(), 0, "spans lost before export");
    let ours = exported.get_finished_spans().expect("in-memory spans");
    crate::support::assert_unique_keys(&ours);
    eprintln!(
        "phoenix e2e: {} requests, {} spans exported in {:.2?}",
        answered.len(),
        ours.len(),
        started.elapsed()
    );

    let client = phoenix_client();
    let mut costs = Vec::new();
    let mut sample = None;
    let mut repeated = BTreeSet::new();
    rt.block_on(async {
        for a in &answered {
            let mine: Vec<&SpanData> = ours
                .iter()
                .filter(|s| format!("{:032x}", s.span_context.trace_id()) == a.trace_id)
                .collect();
            let waited = Instant::now();
            let stored = wait_for_trace(&client, &phoenix, &project, &a.trace_id, mine.len()).await;
            eprintln!(
                "phoenix e2e: trace {} ({}): {} spans visible after {:.2?}",
                a.trace_id,
                a.provider,
                stored.len(),
                waited.elapsed()
            );
            repeated.extend(check_trace(a, &mine, &stored));
            if sample.is_none() {
                sample = stored
                    .iter()
                    .find(|s| {
                        s["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("chat gpt"))
                    })
                    .cloned();
            }
            costs.extend(check_costs(&client, &phoenix, &mine, &stored).await);
        }
    });

    // The cache write and read of the two Anthropic calls in one session.
    let claude: Vec<&SpanData> = {
        let mut v: Vec<&SpanData> = ours
            .iter()
            .filter(|s| s.name.starts_with("chat claude"))
            .collect();
        v.sort_by_key(|s| s.start_time);
        v
    };
    assert_eq!(claude.len(), 2, "two Anthropic chat spans");
    // Exported with the current GenAI names (SemconvMode::Latest, the default).
    let written = int_attr(claude[0], semconv::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS);
    assert!(written > 0, "the first Anthropic call wrote the cache");
    assert_eq!(
        int_attr(claude[1], semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        written,
        "the second read it"
    );

    eprintln!("phoenix e2e: cost comparison (USD; Phoenix from its own price table)");
    eprintln!(
        "  {:<42} {:>12} {:>12} {:>8}",
        "span", "tokentrace", "phoenix", "diff"
    );
    for c in &costs {
        eprintln!(
            "  {:<42} {:>12.9} {:>12} {:>8}",
            c.name,
            c.ours,
            c.phoenix.map_or("none".to_owned(), |p| format!("{p:.9}")),
            c.phoenix.map_or("-".to_owned(), |p| format!(
                "{:+.2}%",
                (p - c.ours) / c.ours * 100.0
            ))
        );
    }
    for model in ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"] {
        let priced: Vec<&Compared> = costs
            .iter()
            .filter(|c| c.name.contains(model) && c.phoenix.is_some())
            .collect();
        assert!(
            !priced.is_empty(),
            "Phoenix priced no {model} call: {costs:?}"
        );
    }
    for c in costs.iter().filter(|c| c.phoenix.is_some()) {
        let p = c.phoenix.unwrap_or_default();
        assert!(
            (p - c.ours).abs() <= COST_TOLERANCE * c.ours.max(p),
            "{}: Phoenix says ${p}, tokentrace ${}",
            c.name,
            c.ours
        );
    }

    if !repeated.is_empty() {
        eprintln!(
            "phoenix e2e: note: keys exported more than once on one span (receivers keep the last): {repeated:?}"
        );
    }
    if let Some(span) = sample {
        eprintln!("phoenix e2e: one LLM span as Phoenix stores it (REST):\n{span:#}");
    }
    drop(rt);
    drop(guard);
    eprintln!(
        "phoenix e2e: passed ({} traces; {} LLM spans priced by both)",
        answered.len(),
        costs.iter().filter(|c| c.phoenix.is_some()).count()
    );
}

/// Serves the agent service and sends every call; returns what each got.
async fn drive(calls: &[Call]) -> Vec<Answered> {
    let mocks = MockProviders::builder()
        .chunk_delay(Duration::ZERO)
        .start()
        .await
        .expect("mock providers");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app(Config::mock(&mocks))).await;
    });
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for call in calls {
        let resp = client
            .post(format!("http://{addr}/chat"))
            .header("x-user-id", call.user)
            .header("x-session-id", &call.session)
            .json(&json!({"message": call.message}))
            .send()
            .await
            .expect("POST /chat");
        assert_eq!(resp.status(), 200, "POST /chat for {}", call.user);
        let header = resp
            .headers()
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("x-trace-id header");
        let body: Value = resp.json().await.expect("JSON answer");
        assert_eq!(body["trace_id"].as_str(), Some(header.as_str()));
        out.push(Answered {
            user: call.user,
            session: call.session.clone(),
            message: call.message,
            trace_id: header,
            provider: body["provider"].as_str().unwrap_or_default().to_owned(),
        });
    }
    server.abort();
    out
}

/// Polls `GET /v1/projects/{project}/spans?trace_id=…` until `want` spans
/// are there; panics with what did arrive after [`ARRIVAL_TIMEOUT`].
async fn wait_for_trace(
    client: &reqwest::Client,
    phoenix: &str,
    project: &str,
    trace_id: &str,
    want: usize,
) -> Vec<Value> {
    // Hex trace id and a project name without reserved characters: no escaping needed.
    let url = format!("{phoenix}/v1/projects/{project}/spans?trace_id={trace_id}&limit=1000");
    let deadline = Instant::now() + ARRIVAL_TIMEOUT;
    loop {
        let resp = client.get(&url).send().await.expect("Phoenix REST");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let spans = body["data"].as_array().cloned().unwrap_or_default();
        if spans.len() >= want {
            assert_eq!(spans.len(), want, "more spans in Phoenix than exported");
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id}: {} of {want} spans in Phoenix project {project} after {ARRIVAL_TIMEOUT:?} (last answer {status}: {body})",
            spans.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn int_attr(span: &SpanData, key: &str) -> i64 {
    match span.attributes.iter().find(|kv| kv.key.as_str() == key) {
        Some(kv) => match &kv.value {
            opentelemetry::Value::I64(v) => *v,
            other => panic!("{key} on {} is not an int: {other:?}", span.name),
        },
        None => panic!("{key} missing on {}", span.name),
    }
}

fn f64_attr(span: &SpanData, key: &str) -> Option<f64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match &kv.value {
            opentelemetry::Value::F64(v) => Some(*v),
            _ => None,
        })
}

fn hex(id: SpanId) -> String {
    format!("{id:016x}")
}

/// Phoenix's attribute `key` of `span`, whether the REST answer keeps it
/// flat (`"llm.model_name"`) or nested (`{"llm": {"model_name": …}}`).
fn stored<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    let attrs = &span["attributes"];
    if let Some(v) = attrs.get(key) {
        return Some(v);
    }
    key.split('.').try_fold(attrs, |v, part| v.get(part))
}

fn stored_str<'a>(span: &'a Value, key: &str) -> &'a str {
    stored(span, key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} missing or not a string on {}", span["name"]))
}

fn stored_int(span: &Value, key: &str) -> i64 {
    stored(span, key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{key} missing or not an int on {}", span["name"]))
}

/// Does Phoenix's `got` hold our exported `want`?
fn same_value(want: &opentelemetry::Value, got: &Value) -> bool {
    use opentelemetry::{Array, Value as V};
    match (want, got) {
        (V::Bool(w), Value::Bool(g)) => w == g,
        (V::I64(w), g) => g.as_i64() == Some(*w),
        (V::F64(w), g) => g
            .as_f64()
            .is_some_and(|g| (g - w).abs() <= 1e-12_f64.max(w.abs() * 1e-9)),
        (V::String(w), Value::String(g)) => w.as_str() == g,
        (V::Array(Array::String(w)), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(w, g)| g.as_str() == Some(w.as_str()))
        }
        (V::Array(Array::I64(w)), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(w, g)| g.as_i64() == Some(*w))
        }
        _ => false,
    }
}

/// `None` when Phoenix stored our attribute `key` = `want`, else what differs.
/// Phoenix expands a string holding a JSON object (`metadata`,
/// `llm.prompt_template.variables`) into nested attributes, which its REST
/// answer flattens back to `key.field`: such a value must come back field by
/// field.
fn stored_differs(span: &Value, key: &str, want: &opentelemetry::Value) -> Option<String> {
    let got = stored(span, key);
    if got.is_some_and(|g| same_value(want, g)) {
        return None;
    }
    if got.is_none()
        && let opentelemetry::Value::String(text) = want
        && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text.as_str())
    {
        let wrong: Vec<String> = fields
            .iter()
            .filter(|(field, v)| stored(span, &format!("{key}.{field}")) != Some(*v))
            .map(|(field, v)| {
                format!(
                    "{key}.{field}: want {v}, stored {:?}",
                    stored(span, &format!("{key}.{field}"))
                )
            })
            .collect();
        return (!wrong.is_empty()).then(|| wrong.join("; "));
    }
    Some(format!("exported {want:?}, stored {got:?}"))
}

/// The stored trace against the exported one, span by span and attribute
/// by attribute, then the tree and the values a reader relies on. Returns
/// the `span / key` pairs we exported more than once.
fn check_trace(a: &Answered, mine: &[&SpanData], stored_spans: &[Value]) -> BTreeSet<String> {
    let by_id: HashMap<&str, &Value> = stored_spans
        .iter()
        .map(|s| {
            assert_eq!(
                s["context"]["trace_id"].as_str(),
                Some(a.trace_id.as_str()),
                "trace id of {}",
                s["name"]
            );
            (s["context"]["span_id"].as_str().expect("span id"), s)
        })
        .collect();
    let mut differences = BTreeMap::new();
    let mut repeated = BTreeSet::new();
    for span in mine {
        let id = hex(span.span_context.span_id());
        let s = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("span {} ({id}) not in Phoenix", span.name));
        assert_eq!(s["name"].as_str(), Some(span.name.as_ref()), "name of {id}");
        let parent = (span.parent_span_id != SpanId::INVALID).then(|| hex(span.parent_span_id));
        assert_eq!(
            s["parent_id"].as_str(),
            parent.as_deref(),
            "parent of {}",
            span.name
        );
        let status = match span.status {
            opentelemetry::trace::Status::Error { .. } => "ERROR",
            opentelemetry::trace::Status::Ok => "OK",
            opentelemetry::trace::Status::Unset => "UNSET",
        };
        assert_eq!(
            s["status_code"].as_str(),
            Some(status),
            "status of {}",
            span.name
        );
        // The OTel SDK keeps every `set_attribute` call, so a key recorded
        // twice (declared at creation, then updated) is exported twice and a
        // receiver keeps the last value, as Phoenix does.
        let mut last: BTreeMap<&str, &opentelemetry::Value> = BTreeMap::new();
        for kv in &span.attributes {
            if last.insert(kv.key.as_str(), &kv.value).is_some() {
                repeated.insert(format!("{} / {}", span.name, kv.key.as_str()));
            }
        }
        for (key, want) in last {
            if key == semconv::OPENINFERENCE_SPAN_KIND {
                // Phoenix moves it to `span_kind` (checked below).
                continue;
            }
            if let Some(diff) = stored_differs(s, key, want) {
                differences.insert(format!("{} / {key}", span.name), diff);
            }
        }
        // Phoenix's span kind is our OpenInference kind.
        if let Some(kind) = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == semconv::OPENINFERENCE_SPAN_KIND)
        {
            assert_eq!(
                s["span_kind"].as_str(),
                Some(kind.value.as_str().as_ref()),
                "span kind of {}",
                span.name
            );
        }
    }
    assert!(
        differences.is_empty(),
        "attributes Phoenix did not store as exported:\n{differences:#?}"
    );

    // The tree: inbound request → answer → steps → calls.
    let named = |prefix: &str| -> &Value {
        stored_spans
            .iter()
            .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no span named {prefix}… in trace {}", a.trace_id))
    };
    let id_of = |s: &Value| {
        s["context"]["span_id"]
            .as_str()
            .expect("span id")
            .to_owned()
    };
    let parent_of = |s: &Value| s["parent_id"].as_str().map(str::to_owned);
    let root = named("POST /chat");
    let answer = named("workflow.answer");
    let retrieve = named("workflow.retrieve");
    let generate = named("workflow.generate");
    let summarise = named("workflow.summarise");
    let embed = named("embeddings text-embedding-3-small");
    let chat = named("chat ");
    let gemini = named("generate_content gemini-2.5-flash");
    assert_eq!(parent_of(root), None, "the inbound request is the root");
    assert_eq!(parent_of(answer), Some(id_of(root)));
    for step in [retrieve, generate, summarise] {
        assert_eq!(parent_of(step), Some(id_of(answer)), "{}", step["name"]);
    }
    assert_eq!(parent_of(embed), Some(id_of(retrieve)));
    assert_eq!(parent_of(chat), Some(id_of(generate)));
    assert_eq!(parent_of(gemini), Some(id_of(summarise)));
    assert_eq!(
        stored_spans.len(),
        9,
        "8 named spans and the Pinecone query"
    );

    // Session and user on the root (Phoenix builds its sessions from these).
    assert_eq!(stored_str(root, semconv::SESSION_ID), a.session);
    assert_eq!(stored_str(root, semconv::USER_ID), a.user);
    // `metadata!` reaches the root and the calls, expanded the same way.
    let channel = format!("{}.channel", semconv::METADATA);
    assert_eq!(stored_str(root, &channel), "web");
    assert_eq!(stored_str(chat, &channel), "web");

    // The LLM call, as Phoenix reads it.
    assert_eq!(chat["span_kind"].as_str(), Some("LLM"));
    assert_eq!(gemini["span_kind"].as_str(), Some("LLM"));
    let (provider, model) = if a.provider == "anthropic" {
        ("anthropic", "claude-sonnet-4-5-20250929")
    } else {
        ("openai", "gpt-4o-mini-2024-07-18")
    };
    assert_eq!(stored_str(chat, semconv::LLM_PROVIDER), provider);
    assert_eq!(stored_str(chat, semconv::LLM_MODEL_NAME), model);
    assert_eq!(stored_str(gemini, semconv::LLM_PROVIDER), "google");
    let prompt = stored_int(chat, semconv::LLM_TOKEN_COUNT_PROMPT);
    let completion = stored_int(chat, semconv::LLM_TOKEN_COUNT_COMPLETION);
    assert_eq!(
        u64::try_from(completion).expect("non-negative"),
        reply_tokens(u64::try_from(prompt).expect("non-negative")).min(400),
        "the mock answers reply_tokens(prompt) words, at most max_tokens"
    );
    assert_eq!(
        stored_int(chat, semconv::LLM_TOKEN_COUNT_TOTAL),
        prompt + completion
    );
    assert_eq!(
        stored_int(embed, semconv::LLM_TOKEN_COUNT_PROMPT),
        i64::try_from(count_tokens(a.message)).expect("small"),
        "embedding tokens are the question's words"
    );
    if provider == "anthropic" {
        let cached = stored(chat, semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ)
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + stored(chat, semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE)
                .and_then(Value::as_i64)
                .unwrap_or(0);
        assert!(
            cached > 0 && cached < prompt,
            "Anthropic cache tokens ({cached}) are part of the prompt count ({prompt})"
        );
    }

    // The prompt templates of both LLM calls.
    assert!(stored_str(chat, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).contains("{question}"));
    assert_eq!(stored_str(chat, semconv::LLM_PROMPT_TEMPLATE_VERSION), "3");
    // Phoenix expands the JSON object of variables into one attribute each.
    let question = format!("{}.question", semconv::LLM_PROMPT_TEMPLATE_VARIABLES);
    assert_eq!(stored_str(chat, &question), a.message);
    assert!(stored_str(gemini, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).contains("{answer}"));
    assert_eq!(
        stored_str(gemini, semconv::LLM_PROMPT_TEMPLATE_VERSION),
        "1"
    );
    repeated
}

/// Our cost of one LLM span next to the one Phoenix computed.
#[derive(Debug)]
struct Compared {
    name: String,
    ours: f64,
    phoenix: Option<f64>,
}

/// Phoenix's own cost of every span we priced (GraphQL `costSummary`, by
/// the span's global id). Phoenix prices at ingestion; an unknown model has
/// no cost.
async fn check_costs(
    client: &reqwest::Client,
    phoenix: &str,
    mine: &[&SpanData],
    stored_spans: &[Value],
) -> Vec<Compared> {
    let mut out = Vec::new();
    for span in mine {
        let Some(ours) = f64_attr(span, semconv::LLM_COST_TOTAL) else {
            continue;
        };
        let id = hex(span.span_context.span_id());
        let s = stored_spans
            .iter()
            .find(|s| s["context"]["span_id"].as_str() == Some(id.as_str()))
            .expect("stored span");
        let gid = s["id"].as_str().expect("Phoenix global id");
        let query = json!({
            "query": "query($id: ID!) { node(id: $id) { ... on Span { costSummary { prompt { cost } completion { cost } total { cost tokens } } } } }",
            "variables": {"id": gid},
        });
        let answer: Value = client
            .post(format!("{phoenix}/graphql"))
            .json(&query)
            .send()
            .await
            .expect("Phoenix GraphQL")
            .json()
            .await
            .expect("GraphQL JSON");
        assert!(answer.get("errors").is_none(), "GraphQL: {answer}");
        let summary = &answer["data"]["node"]["costSummary"];
        out.push(Compared {
            name: span.name.to_string(),
            ours,
            phoenix: summary["total"]["cost"].as_f64(),
        });
    }
    out
}
