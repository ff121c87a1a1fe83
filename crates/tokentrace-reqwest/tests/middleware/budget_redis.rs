//! Budgets in a real `redis-server` (started on a free loopback port,
//! stopped by pid): two independent instances enforce one limit, and a
//! server killed mid-test follows the store policy without hanging.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokentrace_core::budget::{BudgetConfig, Limit, Scope, StorePolicy, Window};
use tokentrace_core::semconv::{self as sc, events};
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_reqwest::budget::redis::RedisStore;
use tokentrace_reqwest::budget::{self, BudgetKeys, Budgets};

use crate::support::*;

const OPENAI: &str = "api.openai.com";
const MODEL: &str = "tt-budget-model";

/// A `redis-server` child on 127.0.0.1, killed by pid on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server not found: run scripts/setup-redis");
        let addr = format!("127.0.0.1:{port}");
        let probe = RedisStore::new(addr.clone());
        let deadline = Instant::now() + Duration::from_secs(10);
        while probe.ping().await.is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { child, addr }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn prices() -> std::sync::Arc<tokentrace_core::PriceCatalogue> {
    std::sync::Arc::new(
        tokentrace_core::PriceCatalogue::with_overrides_toml(&format!(
            "[models.\"{MODEL}\"]\ninput_per_mtok = 0.0\noutput_per_mtok = 10000.0\n"
        ))
        .unwrap(),
    )
}

fn reply() -> Reply {
    let body = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    });
    Reply {
        status: 200,
        content_type: "application/json".into(),
        body: serde_json::to_vec(&body).unwrap(),
        splits: vec![10],
        delay: Duration::from_millis(2),
        headers: Vec::new(),
    }
}

async fn call(
    client: &reqwest_middleware::ClientWithMiddleware,
    mock: &Mock,
) -> reqwest_middleware::Result<String> {
    let body = serde_json::json!({"model": MODEL, "max_tokens": 10, "messages": []});
    let resp = client
        .post(format!(
            "http://{OPENAI}:{}/v1/chat/completions",
            mock.addr.port()
        ))
        .with_extension(BudgetKeys::new().user("u-1"))
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await?;
    Ok(resp.text().await?)
}

fn instance(server: &Server, prefix: &str, policy: StorePolicy) -> Budgets {
    Budgets::with_store(
        BudgetConfig::new()
            .limit(Limit::new(Scope::User, 2.0, Window::Day).name("user-daily"))
            .on_store_error(policy),
        RedisStore::new(server.addr.clone()).timeout(Duration::from_millis(300)),
    )
    .prefix(prefix)
}

/// Wait until background settlements have landed.
async fn settled(b: &Budgets) -> tokentrace_reqwest::budget::LimitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = b.status().await.unwrap();
        let row = s.iter().find(|r| r.key == "user:u-1").cloned();
        if let Some(r) = row
            && r.reserved_usd == 0.0
        {
            return r;
        }
        assert!(Instant::now() < deadline, "settlements did not land: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_one_redis_enforce_one_limit() {
    let server = Server::start().await;
    let mock = mock(reply()).await;
    let a = instance(&server, "tt-test-shared:", StorePolicy::FailClosed);
    let b = instance(&server, "tt-test-shared:", StorePolicy::FailClosed);
    let ca = client(
        LlmMiddleware::new().prices(prices()).budgets(a.clone()),
        OPENAI,
        &mock,
    );
    let cb = client(
        LlmMiddleware::new().prices(prices()).budgets(b.clone()),
        OPENAI,
        &mock,
    );

    // 200 concurrent calls, half through each instance: $0.10 reserved and
    // $0.05 spent each, against one $2.00 cap.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let mock = mock.clone();
        tasks.push(tokio::spawn(async move { call(&c, &mock).await }));
    }
    let mut ok: u32 = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(budget::exceeded(&e).is_some(), "{e}"),
        }
    }
    assert!((20..=40).contains(&ok), "{ok} passed");
    assert_eq!(mock.requests.lock().unwrap().len(), ok as usize);
    let row = settled(&a).await;
    let want = f64::from(ok) * 0.05;
    assert!((row.spent_usd - want).abs() < 1e-9, "{row:?}");
    assert!(row.spent_usd <= 2.0);
    assert_eq!(row.refusals, 200 - u64::from(ok));
    // Both instances refused some and passed some: the limit is shared.
    let (na, nb) = (a.counts(), b.counts());
    assert_eq!(na.reserved + nb.reserved, u64::from(ok));
    assert!(na.reserved > 0 && nb.reserved > 0, "{na:?} {nb:?}");
    // Instance b sees what instance a settled.
    let rb = settled(&b).await;
    assert_eq!(rb.spent_usd, row.spent_usd);
}

#[tokio::test]
async fn redis_killed_mid_test_fails_open_or_closed_as_configured() {
    let otel = Otel::install();
    let mut server = Server::start().await;
    let mock = mock(reply()).await;
    let open = instance(&server, "tt-test-kill:", StorePolicy::FailOpen);
    let closed = instance(&server, "tt-test-kill:", StorePolicy::FailClosed);
    let c_open = client(
        LlmMiddleware::new().prices(prices()).budgets(open.clone()),
        OPENAI,
        &mock,
    );
    let c_closed = client(
        LlmMiddleware::new()
            .prices(prices())
            .budgets(closed.clone()),
        OPENAI,
        &mock,
    );
    call(&c_open, &mock).await.unwrap();
    call(&c_closed, &mock).await.unwrap();
    assert_eq!(settled(&open).await.spent_usd, 0.10);

    server.kill();

    let start = Instant::now();
    call(&c_open, &mock).await.unwrap();
    let err = call(&c_closed, &mock).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let u = budget::unavailable(&err).expect("a BudgetUnavailable");
    assert!(!u.reason.is_empty());
    assert!(budget::exceeded(&err).is_none());
    // Fail-open sent its call, fail-closed did not.
    assert_eq!(mock.requests.lock().unwrap().len(), 3);
    assert_eq!(open.counts().unavailable, 1);
    assert_eq!(closed.counts().unavailable, 1);
    assert_eq!(closed.counts().refused, 0);

    let spans: Vec<_> = otel
        .spans()
        .into_iter()
        .filter(|s| attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .collect();
    let outcomes: Vec<_> = spans
        .iter()
        .map(|s| attr_str(s, sc::TOKENTRACE_BUDGET_OUTCOME).unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["reserved", "reserved", "unavailable", "unavailable_refused"]
    );
    let refused = &spans[3];
    assert_eq!(
        attr_str(refused, sc::ERROR_TYPE).as_deref(),
        Some("budget_unavailable")
    );
    assert!(
        refused
            .events
            .iter()
            .any(|e| e.name == events::BUDGET_UNAVAILABLE)
    );
    assert!(
        spans[2]
            .events
            .iter()
            .any(|e| e.name == events::BUDGET_UNAVAILABLE)
    );
    assert_eq!(attr_str(&spans[2], sc::ERROR_TYPE), None);
}
