//! Bad input: unknown routes, dead, slow and resetting upstreams, clients
//! that go away mid-stream. Each gives the client a clear answer and ends
//! each span once, with the fault.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::routing::post;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokentrace_gateway::{GatewayConfig, UpstreamConfig};

use crate::support::{Otel, attr, gateway, run, serve};

const CHAT: &str =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

/// A loopback port nothing listens on.
async fn dead_port() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

fn upstream(name: &str, url: String, provider: &str) -> GatewayConfig {
    GatewayConfig::default().upstream(
        name,
        UpstreamConfig {
            url: Some(url),
            provider: Some(provider.to_owned()),
            ..UpstreamConfig::default()
        },
    )
}

#[test]
fn unknown_route_is_a_404_in_openai_shape() {
    let otel = Otel::install();
    run(async {
        let gw = gateway(GatewayConfig::default()).await;
        for path in ["/nope/v1/chat/completions", "/", "/openai"] {
            let res = reqwest::Client::new()
                .post(format!("http://{gw}{path}"))
                .body(CHAT)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 404, "{path}");
            assert_eq!(res.headers()["x-tt-gateway-error"], "unknown_route");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unknown_route");
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert!(body["error"]["message"].is_string());
        }
        let res = reqwest::get(format!("http://{gw}/healthz")).await.unwrap();
        assert_eq!(res.text().await.unwrap(), "ok");
        let spans = otel.wait_for("POST", 3).await;
        assert_eq!(spans.len(), 3, "one workflow span per unknown request");
        assert!(
            spans
                .iter()
                .all(|s| attr(s, "http.response.status_code").as_deref() == Some("404"))
        );
        assert_eq!(otel.spans().len(), 3, "no LLM span, no span for /healthz");
    });
}

#[test]
fn dead_upstream_is_a_502_in_the_providers_shape() {
    let otel = Otel::install();
    run(async {
        let dead = dead_port().await;
        let cfg = upstream("oai", format!("http://{dead}"), "openai");
        let cfg = cfg.upstream(
            "ant",
            UpstreamConfig {
                url: Some(format!("http://{dead}")),
                provider: Some("anthropic".to_owned()),
                ..UpstreamConfig::default()
            },
        );
        let gw = gateway(cfg).await;
        let http = reqwest::Client::new();
        let res = http
            .post(format!("http://{gw}/oai/v1/chat/completions"))
            .body(CHAT)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 502);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_unreachable");
        assert_eq!(body["error"]["type"], "api_error");
        let res = http
            .post(format!("http://{gw}/ant/v1/messages"))
            .body(r#"{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 502);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "api_error");

        let llm = otel.wait_for("chat gpt-4o-mini", 1).await;
        assert_eq!(llm.len(), 1);
        assert_eq!(
            attr(&llm[0], "error.type").as_deref(),
            Some("connection_error")
        );
        let wf = otel.wait_for("POST /oai/{*path}", 1).await;
        assert_eq!(wf.len(), 1);
        assert_eq!(
            attr(&wf[0], "http.response.status_code").as_deref(),
            Some("502")
        );
        assert_eq!(attr(&wf[0], "error.type").as_deref(), Some("502"));
        assert_eq!(otel.named("chat claude-sonnet-4-5").len(), 1);
    });
}

#[test]
fn silent_upstream_is_a_504() {
    let otel = Otel::install();
    run(async {
        let slow = Router::new().route(
            "/v1/chat/completions",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let up = serve(slow).await;
        let mut cfg = upstream("oai", format!("http://{up}"), "openai");
        cfg.read_timeout_secs = 0.3;
        let gw = gateway(cfg).await;
        let res = reqwest::Client::new()
            .post(format!("http://{gw}/oai/v1/chat/completions"))
            .body(CHAT)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 504);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_timeout");
        let llm = otel.wait_for("chat gpt-4o-mini", 1).await;
        assert_eq!(llm.len(), 1);
        assert_eq!(attr(&llm[0], "error.type").as_deref(), Some("timeout"));
        let wf = otel.wait_for("POST /oai/{*path}", 1).await;
        assert_eq!(
            attr(&wf[0], "http.response.status_code").as_deref(),
            Some("504")
        );
    });
}

/// Streams one SSE chunk, then fails (hyper aborts the connection).
fn resetting() -> Router {
    Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            let s = futures_util::stream::iter([0u8, 1]).then(|i| async move {
                if i == 0 {
                    Ok(Bytes::from_static(
                        b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
                    ))
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(std::io::Error::other("reset"))
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(s))
                .unwrap()
        }),
    )
}

#[test]
fn upstream_reset_mid_stream_cuts_the_clients_stream() {
    let otel = Otel::install();
    run(async {
        let up = serve(resetting()).await;
        let gw = gateway(upstream("oai", format!("http://{up}"), "openai")).await;
        let res = reqwest::Client::new()
            .post(format!("http://{gw}/oai/v1/chat/completions"))
            .body(json!({"model": "gpt-4o-mini", "stream": true, "messages": []}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mut stream = res.bytes_stream();
        let first = stream.next().await.unwrap().unwrap();
        assert!(first.starts_with(b"data: {\"id\":\"c1\""));
        let mut failed = false;
        while let Some(c) = stream.next().await {
            if c.is_err() {
                failed = true;
            }
        }
        assert!(failed, "the client's stream is cut, not ended cleanly");
        let llm = otel.wait_for("chat gpt-4o-mini", 1).await;
        assert_eq!(llm.len(), 1);
        assert!(
            attr(&llm[0], "error.type").is_some(),
            "{:?}",
            llm[0].attributes
        );
        let wf = otel.wait_for("POST /oai/{*path}", 1).await;
        assert_eq!(wf.len(), 1);
        assert_eq!(attr(&wf[0], "error.type").as_deref(), Some("body_error"));
    });
}

#[test]
fn client_disconnect_mid_stream_ends_both_spans_once_and_drops_the_upstream() {
    let otel = Otel::install();
    run(async {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dropped);
        let app = Router::new().route(
            "/v1/chat/completions",
            post(move || {
                let flag = Arc::clone(&flag);
                async move {
                    struct OnDrop(Arc<AtomicBool>);
                    impl Drop for OnDrop {
                        fn drop(&mut self) {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                    let guard = OnDrop(flag);
                    let s = futures_util::stream::iter(0..1000u32).then(move |i| {
                        let _g = &guard;
                        async move {
                            if i > 0 {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Ok::<_, std::io::Error>(Bytes::from(format!(
                                "data: {{\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}}}}]}}\n\n"
                            )))
                        }
                    });
                    Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(Body::from_stream(s))
                        .unwrap()
                }
            }),
        );
        let up = serve(app).await;
        let gw = gateway(upstream("oai", format!("http://{up}"), "openai")).await;
        let res = reqwest::Client::new()
            .post(format!("http://{gw}/oai/v1/chat/completions"))
            .body(json!({"model": "gpt-4o-mini", "stream": true, "messages": []}).to_string())
            .send()
            .await
            .unwrap();
        let mut stream = res.bytes_stream();
        stream.next().await.unwrap().unwrap();
        drop(stream);
        let wf = otel.wait_for("POST /oai/{*path}", 1).await;
        assert_eq!(wf.len(), 1);
        assert_eq!(
            attr(&wf[0], "tokentrace.client_disconnected").as_deref(),
            Some("true")
        );
        let llm = otel.wait_for("chat gpt-4o-mini", 1).await;
        assert_eq!(llm.len(), 1);
        assert_eq!(
            attr(&llm[0], "tokentrace.stream.incomplete").as_deref(),
            Some("true"),
            "{:?}",
            llm[0].attributes
        );
        for _ in 0..200 {
            if dropped.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            dropped.load(Ordering::SeqCst),
            "the upstream stream was dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(otel.spans().len(), 2, "each span ended once");
    });
}
