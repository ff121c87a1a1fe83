//! Budgets in the gateway: a refused call never reaches the upstream and
//! gets a 429 in the provider's error shape; the span records the refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use tokentrace_core::budget::{BudgetConfig, Limit, Scope, Window};
use tokentrace_gateway::{
    Budgets, BudgetsSection, Gateway, GatewayConfig, UpstreamConfig, client_key_id,
};

use crate::support::{Otel, attr, run, serve};

/// A loopback upstream that counts the requests it gets and answers each
/// with 10 input and 1000 output tokens (OpenAI or Anthropic shape).
async fn counting_upstream() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    async fn openai(State(n): State<Arc<AtomicUsize>>, req: Request) -> Response {
        n.fetch_add(1, Ordering::SeqCst);
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        json_response(&json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": v["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1000, "total_tokens": 1010},
        }))
    }
    async fn anthropic(State(n): State<Arc<AtomicUsize>>, req: Request) -> Response {
        n.fetch_add(1, Ordering::SeqCst);
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        json_response(&json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": v["model"],
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 1000},
        }))
    }
    let n = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .with_state(n.clone());
    (serve(app).await, n)
}

fn json_response(v: &Value) -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(v.to_string()))
        .unwrap()
}

fn chat(max_tokens: u64) -> String {
    json!({"model": "gpt-4o-mini", "max_tokens": max_tokens,
           "messages": [{"role": "user", "content": "hi"}]})
    .to_string()
}

fn has_event(span: &SpanData, name: &str) -> bool {
    span.events.iter().any(|e| e.name == name)
}

fn event_attr(span: &SpanData, event: &str, key: &str) -> Option<String> {
    span.events
        .iter()
        .find(|e| e.name == event)?
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// A per-user daily cap of $0.001 with gpt-4o-mini ($0.15 / $0.6 per
/// million tokens): a 1000-token answer costs $0.0006015, so the second
/// such call (estimated at about $0.0006) would cross it, a 100-token one
/// would not.
#[test]
fn a_per_user_cap_refuses_the_crossing_call_before_the_upstream() {
    let otel = Otel::install();
    run(async {
        let (up, upstream_calls) = counting_upstream().await;
        let cfg = GatewayConfig::default()
            .upstream_url("openai", format!("http://{up}"))
            .upstream_url("anthropic", format!("http://{up}"));
        let budgets = Budgets::new(
            BudgetConfig::new()
                .limit(Limit::new(Scope::User, 0.001, Window::Day).name("user-daily")),
        );
        let gw = serve(
            Gateway::with_budgets(&cfg, budgets.clone())
                .unwrap()
                .router(),
        )
        .await;
        let http = reqwest::Client::new();
        let call = |user: &'static str, body: String| {
            http.post(format!("http://{gw}/openai/v1/chat/completions"))
                .header("content-type", "application/json")
                .header("x-tt-user", user)
                .body(body)
                .send()
        };

        let res = call("u-1", chat(1000)).await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
        otel.wait_for("chat gpt-4o-mini", 1).await;

        // The crossing call: refused, never forwarded.
        let res = call("u-1", chat(1000)).await.unwrap();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers()["x-tt-gateway-error"], "budget_exceeded");
        assert_eq!(res.headers()["x-should-retry"], "false");
        assert_eq!(res.headers()["content-type"], "application/json");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["type"], "insufficient_quota");
        assert_eq!(v["error"]["code"], "budget_exceeded");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("user-daily") && msg.contains("user:u-1"),
            "{msg}"
        );
        assert_eq!(upstream_calls.load(Ordering::SeqCst), 1);

        // A cheaper call for the same user, and another user, still pass.
        let res = call("u-1", chat(100)).await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
        let res = call("u-2", chat(1000)).await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
        assert_eq!(upstream_calls.load(Ordering::SeqCst), 3);

        // Anthropic's route answers a refusal in Anthropic's shape.
        let anth = |user: &'static str| {
            http.post(format!("http://{gw}/anthropic/v1/messages"))
                .header("content-type", "application/json")
                .header("x-tt-user", user)
                .body(
                    json!({"model": "claude-3-haiku", "max_tokens": 1000,
                           "messages": [{"role": "user", "content": "hi"}]})
                    .to_string(),
                )
                .send()
        };
        let res = anth("u-2").await.unwrap();
        assert_eq!(res.status(), 429);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(upstream_calls.load(Ordering::SeqCst), 3);

        let counts = budgets.counts();
        assert_eq!((counts.refused, counts.reserved, counts.settled), (2, 3, 3));

        let spans = otel.wait_for("chat gpt-4o-mini", 4).await;
        assert_eq!(spans.len(), 4);
        let refused: Vec<&SpanData> = spans
            .iter()
            .filter(|s| attr(s, "tokentrace.budget.outcome").as_deref() == Some("refused"))
            .collect();
        assert_eq!(refused.len(), 1);
        let r = refused[0];
        assert_eq!(attr(r, "error.type").as_deref(), Some("budget_exceeded"));
        assert_eq!(
            attr(r, "tokentrace.budget.limit").as_deref(),
            Some("user-daily")
        );
        assert_eq!(
            attr(r, "tokentrace.budget.key").as_deref(),
            Some("user:u-1")
        );
        assert_eq!(
            attr(r, "tokentrace.budget.limit_usd").as_deref(),
            Some("0.001")
        );
        assert!(attr(r, "gen_ai.usage.output_tokens").is_none());
        assert!(has_event(r, "tokentrace.budget.refused"));
        let spent: f64 = attr(r, "tokentrace.budget.spent_usd")
            .unwrap()
            .parse()
            .unwrap();
        // $0.0006015 settled, kept in whole micro-dollars rounded up.
        assert!((spent - 0.000_602).abs() < 1e-12, "{spent}");
        for s in spans.iter().filter(|s| !std::ptr::eq(*s, r)) {
            assert_eq!(
                attr(s, "tokentrace.budget.outcome").as_deref(),
                Some("reserved")
            );
            assert_eq!(
                attr(s, "gen_ai.usage.output_tokens").as_deref(),
                Some("1000")
            );
        }
        // The gateway's inbound span carries the user the call was charged to.
        let a = otel.wait_for("chat claude-3-haiku", 1).await;
        assert_eq!(
            attr(&a[0], "tokentrace.budget.outcome").as_deref(),
            Some("refused")
        );
        assert_eq!(attr(&a[0], "user.id").as_deref(), Some("u-2"));
    });
}

/// A key file of our own in the temp directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tokentrace-gateway-budget-test-{}-{tag}",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// With held upstream keys, each gateway client key is its own `api_key`
/// budget, charged under its id (never the key); limits come from the
/// configuration's `[budgets]` file.
#[test]
fn client_keys_are_budgeted_by_id_from_the_budgets_file() {
    let otel = Otel::install();
    run(async {
        let (up, upstream_calls) = counting_upstream().await;
        let held = TempFile::new("held.key", "sk-upstream-held-secret\n");
        let limits = TempFile::new(
            "budgets.toml",
            "[[limit]]\nname = \"per-key\"\nscope = \"api_key\"\nusd = 0.001\nwindow = \"month\"\n",
        );
        let key_a = "ttgw-client-key-a-000000000000";
        let key_b = "ttgw-client-key-b-000000000000";
        let mut cfg = GatewayConfig::default().upstream(
            "openai",
            UpstreamConfig {
                url: Some(format!("http://{up}")),
                api_key_file: Some(held.0.clone()),
                ..UpstreamConfig::default()
            },
        );
        cfg.client_keys = vec![key_a.to_owned(), key_b.to_owned()];
        cfg.budgets = BudgetsSection {
            file: Some(limits.0.clone()),
            ..BudgetsSection::default()
        };
        let gw = serve(Gateway::new(&cfg).unwrap().router()).await;
        let http = reqwest::Client::new();
        let call = |key: &str| {
            http.post(format!("http://{gw}/openai/v1/chat/completions"))
                .header("content-type", "application/json")
                .bearer_auth(key)
                .body(chat(1000))
                .send()
        };
        let res = call(key_a).await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
        otel.wait_for("chat gpt-4o-mini", 1).await;
        let res = call(key_a).await.unwrap();
        assert_eq!(res.status(), 429);
        let v: Value = res.json().await.unwrap();
        let msg = v["error"]["message"].as_str().unwrap().to_owned();
        let id_a = client_key_id(key_a);
        assert!(msg.contains(&format!("api_key:{id_a}")), "{msg}");
        assert!(!msg.contains(key_a));
        let res = call(key_b).await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
        assert_eq!(upstream_calls.load(Ordering::SeqCst), 2);

        let spans = otel.wait_for("chat gpt-4o-mini", 3).await;
        let refused = spans
            .iter()
            .find(|s| attr(s, "tokentrace.budget.outcome").as_deref() == Some("refused"))
            .unwrap();
        assert_eq!(
            attr(refused, "tokentrace.budget.key"),
            Some(format!("api_key:{id_a}"))
        );
        assert_eq!(
            event_attr(
                refused,
                "tokentrace.budget.refused",
                "tokentrace.budget.limit"
            )
            .as_deref(),
            Some("per-key")
        );
        for s in &spans {
            for kv in &s.attributes {
                assert!(!kv.value.to_string().contains("ttgw-client-key"), "{kv:?}");
            }
        }
    });
}

#[test]
fn client_key_ids_are_stable_and_distinct() {
    let a = client_key_id("ttgw-aaaaaaaaaaaaaaaaaaaa");
    assert_eq!(a, client_key_id("ttgw-aaaaaaaaaaaaaaaaaaaa"));
    assert_ne!(a, client_key_id("ttgw-aaaaaaaaaaaaaaaaaaab"));
    assert!(a.starts_with("key-") && a.len() == 16, "{a}");
    assert!(!a.contains("aaaa"));
}

/// The `[budgets]` section: parsed from the gateway file, checked at start.
#[test]
fn the_budgets_section_is_parsed_and_checked() {
    let cfg = GatewayConfig::from_toml(
        "[budgets]\nfile = \"/nonexistent/budgets.toml\"\nredis = \"127.0.0.1:6379\"\nprefix = \"gw:\"\nredis_timeout_ms = 100\n",
    )
    .unwrap();
    assert_eq!(cfg.budgets.redis.as_deref(), Some("127.0.0.1:6379"));
    assert_eq!(cfg.budgets.redis_timeout_ms, Some(100));
    let err = Gateway::new(&cfg).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/budgets.toml"), "{err}");
    let no_file = GatewayConfig::from_toml("[budgets]\nredis = \"127.0.0.1:6379\"\n").unwrap();
    assert!(
        Gateway::new(&no_file)
            .unwrap_err()
            .to_string()
            .contains("no budget file")
    );
    assert!(GatewayConfig::from_toml("[budgets]\nlimits = 1\n").is_err());
}

/// Redis unreachable with `fail_closed`: 503 in the provider's shape, nothing
/// forwarded, bounded by the Redis timeout.
#[test]
fn an_unreachable_store_failing_closed_answers_503() {
    let otel = Otel::install();
    run(async {
        let (up, upstream_calls) = counting_upstream().await;
        let limits = TempFile::new(
            "closed.toml",
            "on_store_error = \"fail_closed\"\n[[limit]]\nscope = \"global\"\nusd = 10\nwindow = \"day\"\n",
        );
        // Port 1 on loopback: nothing listens, the connection is refused.
        let mut cfg = GatewayConfig::default().upstream_url("openai", format!("http://{up}"));
        cfg.budgets = BudgetsSection {
            file: Some(limits.0.clone()),
            redis: Some("127.0.0.1:1".to_owned()),
            redis_timeout_ms: Some(200),
            ..BudgetsSection::default()
        };
        let gw = serve(Gateway::new(&cfg).unwrap().router()).await;
        let started = std::time::Instant::now();
        let res = reqwest::Client::new()
            .post(format!("http://{gw}/openai/v1/chat/completions"))
            .body(chat(10))
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["x-tt-gateway-error"], "budget_unavailable");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "budget_unavailable");
        assert_eq!(upstream_calls.load(Ordering::SeqCst), 0);
        let s = otel.wait_for("chat gpt-4o-mini", 1).await;
        assert_eq!(
            attr(&s[0], "tokentrace.budget.outcome").as_deref(),
            Some("unavailable_refused")
        );
        assert_eq!(
            attr(&s[0], "error.type").as_deref(),
            Some("budget_unavailable")
        );
        assert!(has_event(&s[0], "tokentrace.budget.unavailable"));
    });
}

/// Two gateway replicas sharing one `redis-server` (scripts/setup-redis)
/// through `[budgets] redis` enforce one global cap together: whichever
/// replica a call lands on, the calls past the cap are refused and never
/// forwarded.
#[test]
fn two_replicas_sharing_redis_enforce_one_cap() {
    let _otel = Otel::install();
    run(async {
        let server = tokentrace_test_support::redis_server();
        let addr = server.addr().to_owned();
        let (up, upstream_calls) = counting_upstream().await;
        // Each call is estimated at about $0.0006 and settles at $0.000602:
        // a $0.002 cap fits three.
        let limits = TempFile::new(
            "fleet.toml",
            "[[limit]]\nname = \"fleet\"\nscope = \"global\"\nusd = 0.002\nwindow = \"day\"\n",
        );
        let mut cfg = GatewayConfig::default().upstream_url("openai", format!("http://{up}"));
        cfg.budgets = BudgetsSection {
            file: Some(limits.0.clone()),
            redis: Some(addr),
            prefix: Some(format!("gw-fleet-{}:", std::process::id())),
            redis_timeout_ms: Some(2000),
        };
        let a = serve(Gateway::new(&cfg).unwrap().router()).await;
        let b = serve(Gateway::new(&cfg).unwrap().router()).await;
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for i in 0..6 {
            let gw = if i % 2 == 0 { a } else { b };
            let res = http
                .post(format!("http://{gw}/openai/v1/chat/completions"))
                .header("content-type", "application/json")
                .body(chat(1000))
                .send()
                .await
                .unwrap();
            statuses.push(res.status().as_u16());
            res.text().await.unwrap();
            // Settlement runs in the background after the response ends.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
        assert_eq!(upstream_calls.load(Ordering::SeqCst), 3);
    });
}
