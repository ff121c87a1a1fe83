//! Budgets in a real `redis-server` (started on a free loopback port,
//! stopped by pid): two independent instances, and two separate processes,
//! enforce one limit, and a server killed mid-test follows the store policy
//! without hanging.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokentrace_core::budget::{BudgetConfig, Limit, Scope, StorePolicy, Window};
use tokentrace_core::semconv::{self as sc, events};
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_reqwest::budget::redis::RedisStore;
use tokentrace_reqwest::budget::{self, BudgetKeys, Budgets};
use tokentrace_test_support::{RedisServer, redis_server};

use crate::support::*;

const OPENAI: &str = "api.openai.com";
const MODEL: &str = "tt-budget-model";

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

fn instance(server: &RedisServer, prefix: &str, policy: StorePolicy) -> Budgets {
    instance_with_timeout(server, prefix, policy, Duration::from_millis(300))
}

/// As [`instance`], with the Redis command timeout given: the sharing test
/// runs 200 calls at once on a loaded CI machine, where 300 ms can pass
/// before Redis answers and fail-closed would refuse with `BudgetUnavailable`.
fn instance_with_timeout(
    server: &RedisServer,
    prefix: &str,
    policy: StorePolicy,
    timeout: Duration,
) -> Budgets {
    Budgets::with_store(
        BudgetConfig::new()
            .limit(Limit::new(Scope::User, 2.0, Window::Day).name("user-daily"))
            .on_store_error(policy),
        RedisStore::new(server.addr()).timeout(timeout),
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
    let server = redis_server();
    let mock = mock(reply()).await;
    let slow = Duration::from_secs(3);
    let a = instance_with_timeout(&server, "tt-test-shared:", StorePolicy::FailClosed, slow);
    let b = instance_with_timeout(&server, "tt-test-shared:", StorePolicy::FailClosed, slow);
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
    let mut server = redis_server();
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

/// A folder of this test's own for the start signals, removed on drop.
struct SyncDir(std::path::PathBuf);

impl SyncDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "tt-budget-processes-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for SyncDir {
    fn drop(&mut self) {
        for name in ["ready-a", "ready-b", "go"] {
            let _ = std::fs::remove_file(self.0.join(name));
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Set in the child processes of
/// [`two_processes_sharing_one_redis_enforce_one_limit`]:
/// `redis-addr|mock-port|prefix|sync-dir|child-id`.
const CHILD_ENV: &str = "TOKENTRACE_BUDGET_REDIS_CHILD";
const CHILD_CALLS: u32 = 60;

/// Runs only as a child of [`two_processes_sharing_one_redis_enforce_one_limit`]:
/// its own `Budgets` on the shared Redis, calls one at a time, then reports
/// `passed` / `refused` on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of two_processes_sharing_one_redis_enforce_one_limit"]
async fn child_spends_against_the_shared_redis() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let [addr, port, prefix, dir, id]: [&str; 5] =
        spec.split('|').collect::<Vec<_>>().try_into().unwrap();
    let dir = std::path::Path::new(dir);
    let budgets = Budgets::with_store(
        BudgetConfig::new()
            .limit(Limit::new(Scope::User, 2.0, Window::Day).name("user-daily"))
            .on_store_error(StorePolicy::FailClosed),
        RedisStore::new(addr.to_owned()).timeout(Duration::from_millis(1000)),
    )
    .prefix(prefix);
    let mock = Mock {
        addr: ([127, 0, 0, 1], port.parse::<u16>().unwrap()).into(),
        requests: std::sync::Arc::default(),
    };
    let c = client(
        LlmMiddleware::new()
            .prices(prices())
            .budgets(budgets.clone()),
        OPENAI,
        &mock,
    );
    // Start together: say ready, wait for the parent's go.
    std::fs::write(dir.join(format!("ready-{id}")), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("go").exists() {
        assert!(Instant::now() < deadline, "no go from the parent");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (mut passed, mut refused) = (0u32, 0u32);
    for _ in 0..CHILD_CALLS {
        match call(&c, &mock).await {
            Ok(_) => passed += 1,
            Err(e) => {
                assert!(budget::exceeded(&e).is_some(), "{e}");
                refused += 1;
            }
        }
    }
    let counts = budgets.counts();
    assert_eq!(counts.reserved, u64::from(passed));
    assert_eq!(counts.refused, u64::from(refused));
    assert_eq!(counts.settled, u64::from(passed));
    // Settlements are written in the background: wait until no reservation
    // is in flight (this process's and the other's) before exiting; the
    // parent then checks that none was left behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = budgets.status().await.unwrap();
        if rows
            .iter()
            .any(|r| r.key == "user:u-1" && r.reserved_usd == 0.0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "settlements did not land: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("CHILD-RESULT passed={passed} refused={refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_one_redis_enforce_one_limit() {
    let server = redis_server();
    let mock = mock(reply()).await;
    let dir = SyncDir::new();
    let prefix = "tt-test-processes:";
    let spawn = |id: &'static str| {
        let spec = format!(
            "{}|{}|{prefix}|{}|{id}",
            server.addr(),
            mock.addr.port(),
            dir.0.display()
        );
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "budget_redis::child_spends_against_the_shared_redis",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn("a"), spawn("b")];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(dir.0.join("ready-a").exists() && dir.0.join("ready-b").exists()) {
        assert!(Instant::now() < deadline, "the children did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::write(dir.0.join("go"), b"").unwrap();
    let mut results = Vec::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "{stdout}");
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("CHILD-RESULT "))
            .unwrap_or_else(|| panic!("no result: {stdout}"));
        let field = |name: &str| -> u32 {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .unwrap()
                .parse()
                .unwrap()
        };
        let (passed, refused) = (field("passed"), field("refused"));
        assert_eq!(passed + refused, CHILD_CALLS);
        results.push((passed, refused));
    }
    eprintln!("(passed, refused) per process: {results:?}");
    let passed: u32 = results.iter().map(|r| r.0).sum();
    let refused: u32 = results.iter().map(|r| r.1).sum();
    // Each process had calls let through, and together they were refused
    // once the one cap was reached: $0.10 reserved and $0.05 spent per call
    // against $2.00 lets 20 to 40 through, far fewer than the 120 tried.
    assert!(results.iter().all(|r| r.0 > 0), "{results:?}");
    assert!(refused > 0, "{results:?}");
    assert!((20..=40).contains(&passed), "{results:?}");
    // Only the calls let through reached the provider.
    assert_eq!(mock.requests.lock().unwrap().len(), passed as usize);
    // What Redis holds, read by a third instance: every call settled at its
    // cost, within the cap, no reservation left, every refusal counted.
    let observer = instance(&server, prefix, StorePolicy::FailClosed);
    let rows = observer.status().await.unwrap();
    let row = rows
        .iter()
        .find(|r| r.key == "user:u-1")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(row.reserved_usd, 0.0, "{row:?}");
    let want = f64::from(passed) * 0.05;
    assert!((row.spent_usd - want).abs() < 1e-9, "{row:?}");
    assert!(row.spent_usd <= 2.0, "{row:?}");
    assert_eq!(row.refusals, u64::from(refused));
}
