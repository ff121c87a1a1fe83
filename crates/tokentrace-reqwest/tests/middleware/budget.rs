//! Budgets through the middleware: refusals before sending, warn mode, soft
//! thresholds, window roll-over, release on errors and drops, and 1,000
//! concurrent calls against one cap.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::PriceCatalogue;
use tokentrace_core::budget::{BudgetConfig, Limit, Mode, Scope, Window};
use tokentrace_core::semconv::{self as sc, events};
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_reqwest::budget::{self, BudgetKeys, Budgets, LimitStatus};
use tracing::Instrument;

use crate::support::*;

const OPENAI: &str = "api.openai.com";
/// Priced at $0.01 per output token and nothing per input token, so a
/// call's estimate is `max_tokens` cents and its actual cost is its
/// completion tokens in cents.
const MODEL: &str = "tt-budget-model";

fn prices() -> Arc<PriceCatalogue> {
    Arc::new(
        PriceCatalogue::with_overrides_toml(&format!(
            "[models.\"{MODEL}\"]\ninput_per_mtok = 0.0\noutput_per_mtok = 10000.0\n"
        ))
        .unwrap(),
    )
}

fn body(max_tokens: u64, stream: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": MODEL,
        "max_tokens": max_tokens,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }))
    .unwrap()
}

/// A JSON answer that used 5 output tokens: $0.05.
fn reply(status: u16) -> Reply {
    let body = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    });
    Reply {
        status,
        content_type: "application/json".into(),
        body: serde_json::to_vec(&body).unwrap(),
        splits: Vec::new(),
        delay: Duration::ZERO,
        headers: Vec::new(),
    }
}

fn url(mock: &Mock) -> String {
    format!("http://{OPENAI}:{}/v1/chat/completions", mock.addr.port())
}

fn mw(budgets: &Budgets) -> LlmMiddleware {
    LlmMiddleware::new()
        .prices(prices())
        .budgets(budgets.clone())
}

async fn call(
    client: &reqwest_middleware::ClientWithMiddleware,
    mock: &Mock,
    user: &str,
    max_tokens: u64,
) -> reqwest_middleware::Result<String> {
    let resp = client
        .post(url(mock))
        .with_extension(BudgetKeys::new().user(user))
        .body(body(max_tokens, false))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await?;
    Ok(resp.text().await?)
}

fn row<'a>(status: &'a [LimitStatus], limit: &str, key: &str) -> &'a LimitStatus {
    status
        .iter()
        .find(|s| s.limit == limit && s.key == key)
        .unwrap_or_else(|| panic!("no status row {limit} {key} in {status:?}"))
}

fn llm_spans(otel: &Otel) -> Vec<SpanData> {
    otel.spans()
        .into_iter()
        .filter(|s| attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .collect()
}

fn event_attr(span: &SpanData, event: &str, key: &str) -> Option<opentelemetry::Value> {
    span.events
        .iter()
        .find(|e| e.name == event)?
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn a_per_user_daily_cap_refuses_the_crossing_call_and_only_it() {
    let otel = Otel::install();
    let mock = mock(reply(200)).await;
    let budgets = Budgets::new(
        BudgetConfig::new().limit(Limit::new(Scope::User, 0.30, Window::Day).name("daily")),
    );
    let client = client(mw(&budgets), OPENAI, &mock);

    // Each call reserves $0.10 and settles at $0.05: five fit (0.25 spent).
    for _ in 0..5 {
        call(&client, &mock, "u-1", 10).await.unwrap();
    }
    assert_eq!(mock.requests.lock().unwrap().len(), 5);
    let err = call(&client, &mock, "u-1", 10).await.unwrap_err();
    let e = budget::exceeded(&err).expect("a BudgetExceeded");
    assert_eq!(
        (e.limit.as_str(), e.scope, e.key.as_str()),
        ("daily", Scope::User, "u-1")
    );
    assert!(close(e.limit_usd, 0.30) && close(e.spent_usd, 0.25) && close(e.requested_usd, 0.10));
    // Refused before sending: the provider never saw it.
    assert_eq!(mock.requests.lock().unwrap().len(), 5);
    // A call that still fits, and another user, pass.
    call(&client, &mock, "u-1", 5).await.unwrap();
    call(&client, &mock, "u-2", 10).await.unwrap();
    assert_eq!(mock.requests.lock().unwrap().len(), 7);

    let status = budgets.status().await.unwrap();
    let u1 = row(&status, "daily", "user:u-1");
    assert!(close(u1.spent_usd, 0.30), "{u1:?}");
    assert_eq!((u1.reserved_usd, u1.refusals), (0.0, 1));
    assert!(close(row(&status, "daily", "user:u-2").spent_usd, 0.05));
    let c = budgets.counts();
    assert_eq!((c.reserved, c.refused, c.settled, c.released), (7, 1, 7, 0));

    let spans = llm_spans(&otel);
    assert_eq!(spans.len(), 8);
    let refused: Vec<_> = spans
        .iter()
        .filter(|s| attr_str(s, sc::TOKENTRACE_BUDGET_OUTCOME).as_deref() == Some("refused"))
        .collect();
    assert_eq!(refused.len(), 1);
    let r = refused[0];
    assert_eq!(
        attr_str(r, sc::ERROR_TYPE).as_deref(),
        Some("budget_exceeded")
    );
    assert_eq!(
        attr_str(r, sc::TOKENTRACE_BUDGET_LIMIT).as_deref(),
        Some("daily")
    );
    assert_eq!(
        attr_str(r, sc::TOKENTRACE_BUDGET_KEY).as_deref(),
        Some("user:u-1")
    );
    assert!(close(
        attr_f64(r, sc::TOKENTRACE_BUDGET_LIMIT_USD).unwrap(),
        0.30
    ));
    assert!(close(
        attr_f64(r, sc::TOKENTRACE_BUDGET_SPENT_USD).unwrap(),
        0.25
    ));
    assert!(close(
        attr_f64(r, sc::TOKENTRACE_BUDGET_ESTIMATE_USD).unwrap(),
        0.10
    ));
    assert_eq!(
        event_attr(r, events::BUDGET_REFUSED, sc::TOKENTRACE_BUDGET_LIMIT).map(|v| v.to_string()),
        Some("daily".into())
    );
    assert_eq!(attr_i64(r, sc::HTTP_RESPONSE_STATUS_CODE), None);
    for s in spans.iter().filter(|s| !std::ptr::eq(*s, r)) {
        assert_eq!(
            attr_str(s, sc::TOKENTRACE_BUDGET_OUTCOME).as_deref(),
            Some("reserved")
        );
        assert_eq!(attr_str(s, sc::ERROR_TYPE), None);
    }
}

#[tokio::test]
async fn warn_mode_lets_the_call_through_and_records_it() {
    let otel = Otel::install();
    let mock = mock(reply(200)).await;
    let budgets = Budgets::new(
        BudgetConfig::new().limit(
            Limit::new(Scope::Model, 0.12, Window::Hour)
                .name("model-hourly")
                .mode(Mode::Warn)
                .soft(0.5),
        ),
    );
    let client = client(mw(&budgets), OPENAI, &mock);
    call(&client, &mock, "u-1", 10).await.unwrap(); // 0 -> 0.10 reserved: crosses 50%
    call(&client, &mock, "u-1", 10).await.unwrap(); // 0.05 + 0.10 > 0.12: warned
    assert_eq!(mock.requests.lock().unwrap().len(), 2);
    let c = budgets.counts();
    assert_eq!((c.refused, c.warned), (0, 1));

    let mut spans = llm_spans(&otel);
    spans.sort_by_key(|s| s.start_time);
    let (first, second) = (&spans[0], &spans[1]);
    assert_eq!(
        attr_str(first, sc::TOKENTRACE_BUDGET_OUTCOME).as_deref(),
        Some("reserved")
    );
    assert_eq!(
        event_attr(
            first,
            events::BUDGET_SOFT_THRESHOLD,
            sc::TOKENTRACE_BUDGET_THRESHOLD
        ),
        Some(opentelemetry::Value::F64(0.5))
    );
    assert_eq!(
        event_attr(
            first,
            events::BUDGET_SOFT_THRESHOLD,
            sc::TOKENTRACE_BUDGET_KEY
        )
        .map(|v| v.to_string()),
        Some(format!("model:{MODEL}"))
    );
    assert_eq!(
        attr_str(second, sc::TOKENTRACE_BUDGET_OUTCOME).as_deref(),
        Some("warned")
    );
    assert_eq!(
        event_attr(
            second,
            events::BUDGET_WARNING,
            sc::TOKENTRACE_BUDGET_SPENT_USD
        ),
        Some(opentelemetry::Value::F64(0.05))
    );
    assert!(
        first
            .events
            .iter()
            .all(|e| e.name != events::BUDGET_WARNING)
    );
    assert_eq!(attr_str(second, sc::ERROR_TYPE), None);
}

#[tokio::test]
async fn a_new_window_starts_from_zero() {
    let _otel = Otel::install();
    let mock = mock(reply(200)).await;
    // 2026-12-06T23:59:00Z, then one minute later the next day.
    let now = Arc::new(AtomicI64::new(1_796_601_540_000));
    let clock = now.clone();
    let budgets =
        Budgets::new(BudgetConfig::new().limit(Limit::new(Scope::User, 0.10, Window::Day)))
            .clock(move || clock.load(Ordering::SeqCst));
    let client = client(mw(&budgets), OPENAI, &mock);
    call(&client, &mock, "u-1", 10).await.unwrap();
    let err = call(&client, &mock, "u-1", 10).await.unwrap_err();
    assert!(close(budget::exceeded(&err).unwrap().spent_usd, 0.05));
    now.fetch_add(60_000, Ordering::SeqCst);
    call(&client, &mock, "u-1", 10).await.unwrap();
    let status = budgets.status().await.unwrap();
    assert!(close(row(&status, "user.day", "user:u-1").spent_usd, 0.05));
    assert_eq!(mock.requests.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_provider_error_releases_the_reservation() {
    let otel = Otel::install();
    let mock = mock(reply(500)).await;
    let budgets =
        Budgets::new(BudgetConfig::new().limit(Limit::new(Scope::Global, 1.0, Window::Day)));
    let client = client(mw(&budgets), OPENAI, &mock);
    let text = call(&client, &mock, "u-1", 10).await.unwrap();
    assert!(text.contains("chatcmpl-1"));
    let status = budgets.status().await.unwrap();
    let g = row(&status, "global.day", "global");
    assert_eq!((g.spent_usd, g.reserved_usd), (0.0, 0.0));
    assert_eq!(budgets.counts().released, 1);
    assert_eq!(
        attr_str(&llm_spans(&otel)[0], sc::ERROR_TYPE).as_deref(),
        Some("500")
    );
}

#[tokio::test]
async fn an_early_drop_of_a_stream_releases_the_reservation() {
    let _otel = Otel::install();
    let f = fixture("openai/test_chat_tools_streaming");
    let mut r = Reply::from_fixture(&f);
    r.splits = (1..20).map(|i| i * f.body.len() / 20).collect();
    r.delay = Duration::from_millis(20);
    let mock = mock(r).await;
    let budgets =
        Budgets::new(BudgetConfig::new().limit(Limit::new(Scope::Global, 1.0, Window::Day)));
    let client = client(mw(&budgets), OPENAI, &mock);
    let mut resp = client
        .post(url(&mock))
        .body(body(10, true))
        .send()
        .await
        .unwrap();
    assert!(resp.chunk().await.unwrap().is_some());
    let status = budgets.status().await.unwrap();
    assert!(close(
        row(&status, "global.day", "global").reserved_usd,
        0.10
    ));
    drop(resp);
    let status = budgets.status().await.unwrap();
    let g = row(&status, "global.day", "global");
    assert_eq!((g.spent_usd, g.reserved_usd), (0.0, 0.0));
    assert_eq!(budgets.counts().released, 1);
}

#[tokio::test]
async fn the_gateway_api_checks_reserves_settles_and_releases() {
    let budgets = Budgets::new(
        BudgetConfig::new().limit(Limit::new(Scope::ApiKey, 1.0, Window::Month).name("key")),
    );
    let keys = BudgetKeys::new().api_key("client-7");
    budgets.check(&keys, 0.6).await.unwrap();
    let a = budgets.reserve(&keys, 0.6).await.unwrap();
    let budget::BudgetError::Exceeded(e) = budgets.check(&keys, 0.6).await.unwrap_err() else {
        panic!("expected Exceeded");
    };
    assert!(close(e.spent_usd, 0.6));
    assert_eq!(budgets.counts().refused, 0, "check counts nothing");
    a.settle(0.2);
    let b = budgets.reserve(&keys, 0.6).await.unwrap();
    drop(b); // released
    let c = budgets.reserve(&keys, 0.8).await.unwrap();
    c.release();
    let status = budgets.status().await.unwrap();
    let k = row(&status, "key", "api_key:client-7");
    assert!(close(k.spent_usd, 0.2) && k.reserved_usd == 0.0);
    let body = e.provider_error_body(tokentrace_core::Provider::OpenAi);
    assert_eq!(body["error"]["code"], "budget_exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_never_overspend_the_cap() {
    let mut r = reply(200);
    r.delay = Duration::from_millis(5);
    r.splits = vec![10];
    let mock = mock(r).await;
    let budgets =
        Budgets::new(BudgetConfig::new().limit(Limit::new(Scope::Global, 5.0, Window::Day)));
    let client = client(mw(&budgets), OPENAI, &mock);
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let client = client.clone();
        let mock = mock.clone();
        tasks.push(tokio::spawn(async move {
            call(&client, &mock, &format!("u-{i}"), 10).await
        }));
    }
    let mut ok = 0u64;
    let mut refused = 0u64;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(budget::exceeded(&e).is_some(), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!(ok + refused, 1000);
    // Reservations cap what is in flight: at least cap/estimate calls pass,
    // at most cap/actual.
    assert!((50..=100).contains(&ok), "{ok} passed");
    assert_eq!(mock.requests.lock().unwrap().len() as u64, ok);
    let status = budgets.status().await.unwrap();
    let g = row(&status, "global.day", "global");
    assert!(g.spent_usd <= 5.0 + 1e-9, "{g:?}");
    assert!(close(g.spent_usd, ok as f64 * 0.05), "{g:?}");
    assert_eq!(g.reserved_usd, 0.0);
    assert_eq!(g.refusals, refused);
}

/// Keys come from the span tree (a `user.id` span field as WorkflowLayer
/// records it, a `metadata!` guard, the workflow's name) through the keys
/// provider `tokentrace::init()` installs, without this crate depending on
/// the subscriber crate.
#[tokio::test]
async fn keys_come_from_workflow_spans_and_metadata_guards() {
    use tracing_subscriber::layer::SubscriberExt;
    tokentrace_core::budget::set_keys_provider(tokentrace_subscriber::current_budget_keys);
    let _sub = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(tokentrace_subscriber::EnrichLayer::new().no_metrics()),
    );
    let mock = mock(reply(200)).await;
    let budgets = Budgets::new(
        BudgetConfig::new()
            .limit(Limit::new(Scope::Workflow, 0.12, Window::Day).value("answer"))
            .limit(Limit::new(Scope::Session, 10.0, Window::Session))
            .limit(Limit::new(Scope::User, 0.18, Window::Day)),
    );
    let client = client(mw(&budgets), OPENAI, &mock);
    let send = |client: reqwest_middleware::ClientWithMiddleware| {
        let url = url(&mock);
        async move {
            client
                .post(url)
                .body(body(10, false))
                .send()
                .await?
                .text()
                .await
                .map_err(reqwest_middleware::Error::from)
        }
    };
    let request = tracing::info_span!("POST /chat", { sc::USER_ID } = "u-9");
    let workflow = tracing::info_span!(
        parent: &request,
        "workflow.answer",
        { sc::TOKENTRACE_SPAN_TYPE } = "workflow"
    );
    let _m = {
        let _e = workflow.enter();
        tokentrace_subscriber::metadata!(session_id = "s-3")
    };
    let keys = workflow.in_scope(tokentrace_subscriber::current_budget_keys);
    assert_eq!(
        keys,
        BudgetKeys::new()
            .user("u-9")
            .session("s-3")
            .workflow("answer")
    );
    send(client.clone())
        .instrument(workflow.clone())
        .await
        .unwrap();
    // The workflow limit ($0.12) refuses the second call in "answer".
    let err = send(client.clone())
        .instrument(workflow.clone())
        .await
        .unwrap_err();
    let e = budget::exceeded(&err).unwrap();
    assert_eq!((e.scope, e.key.as_str()), (Scope::Workflow, "answer"));
    // Outside the workflow, the user's limit still counts the first call.
    let other = tracing::info_span!(parent: &request, "other");
    send(client.clone())
        .instrument(other.clone())
        .await
        .unwrap();
    let err = send(client.clone()).instrument(other).await.unwrap_err();
    let e = budget::exceeded(&err).unwrap();
    assert_eq!((e.scope, e.key.as_str()), (Scope::User, "u-9"));
    assert!(close(e.spent_usd, 0.10));
    let status = budgets.status().await.unwrap();
    assert!(close(
        row(&status, "session.session", "session:s-3").spent_usd,
        0.10
    ));
}

/// Sums of the `tokentrace.budget.outcomes` counter by (limit, scope, outcome).
fn outcome_counts(
    reader: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
) -> std::collections::BTreeMap<(String, String, String), u64> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    let mut out = std::collections::BTreeMap::new();
    for rm in reader.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm
                .metrics()
                .filter(|m| m.name() == sc::metrics::TOKENTRACE_BUDGET_OUTCOMES)
            {
                if let AggregatedMetrics::U64(MetricData::Sum(s)) = m.data() {
                    assert!(s.is_monotonic());
                    for p in s.data_points() {
                        let get = |k: &str| {
                            p.attributes()
                                .find(|kv| kv.key.as_str() == k)
                                .map(|kv| kv.value.to_string())
                                .unwrap_or_default()
                        };
                        assert_eq!(
                            p.attributes().count(),
                            3,
                            "no other attribute (no user ids)"
                        );
                        out.insert(
                            (
                                get(sc::TOKENTRACE_BUDGET_LIMIT),
                                get(sc::TOKENTRACE_BUDGET_SCOPE),
                                get(sc::TOKENTRACE_BUDGET_OUTCOME),
                            ),
                            p.value(),
                        );
                    }
                }
            }
        }
    }
    out
}

/// The observer the facade installs counts every decision per limit in the
/// `tokentrace.budget.outcomes` counter: reservations, refusals, warnings
/// and soft thresholds. Limit names unique to this test keep other tests'
/// decisions (the observer is process-wide) out of the sums.
#[tokio::test]
async fn decisions_are_counted_in_the_outcomes_metric() {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    let _otel = Otel::install();
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    tokentrace_core::budget::set_outcome_observer(Some(
        tokentrace_subscriber::budget_outcome_observer(&provider.meter("tokentrace")),
    ));
    let mock = mock(reply(200)).await;
    let budgets = Budgets::new(
        BudgetConfig::new()
            .limit(
                Limit::new(Scope::User, 0.30, Window::Day)
                    .name("metric-test-daily")
                    .soft(0.5),
            )
            .limit(
                Limit::new(Scope::Model, 0.12, Window::Day)
                    .name("metric-test-model")
                    .mode(Mode::Warn),
            ),
    );
    let client = client(mw(&budgets), OPENAI, &mock);
    // $0.10 reserved, $0.05 settled each: 0, 0.05, ..., 0.25 before the calls.
    for _ in 0..5 {
        call(&client, &mock, "u-1", 10).await.unwrap();
    }
    assert!(call(&client, &mock, "u-1", 10).await.is_err());
    // A check is a dry run: not counted.
    budgets
        .check(&BudgetKeys::new().user("u-1"), 0.01)
        .await
        .unwrap();
    provider.force_flush().unwrap();
    tokentrace_core::budget::set_outcome_observer(None);

    let counts = outcome_counts(&exporter);
    let get = |l: &str, s: &str, o: &str| {
        counts
            .get(&(l.to_owned(), s.to_owned(), o.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(
        get("metric-test-daily", "user", "reserved"),
        5,
        "{counts:?}"
    );
    assert_eq!(get("metric-test-daily", "user", "refused"), 1, "{counts:?}");
    // The $0.15 mark (0.5 of $0.30) is crossed by a reservation starting
    // below it and ending at or above it: the second call (0.05 + 0.10)
    // and, since it settled at 0.05, the third (0.10 + 0.10) too.
    assert_eq!(
        get("metric-test-daily", "user", "soft_threshold"),
        2,
        "{counts:?}"
    );
    // The warn limit: $0.12 is passed from the second call on (0.05 + 0.10
    // > 0.12): one reserved, four warned; the refused call never got to it.
    assert_eq!(
        get("metric-test-model", "model", "reserved"),
        1,
        "{counts:?}"
    );
    assert_eq!(get("metric-test-model", "model", "warned"), 4, "{counts:?}");
    let ours: u64 = counts
        .iter()
        .filter(|((l, _, _), _)| l.starts_with("metric-test"))
        .map(|(_, v)| *v)
        .sum();
    assert_eq!(ours, 13, "{counts:?}");
}
