//! Pass-through: bytes, headers, streaming, and spans equal to in-process.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{any, post};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokentrace_gateway::{Gateway, GatewayConfig, UpstreamConfig};

use crate::support::{
    Otel, attr, attrs, comparable, config_for, gateway, mocks, reference_app, run, serve,
};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// An upstream that answers with what it received: method, path, query,
/// headers and body (base64-free: the test sends ASCII).
pub(crate) async fn echo(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
        .collect();
    let out = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", "kept")
        .header("connection", "x-upstream-hop")
        .header("x-upstream-hop", "dropped")
        .body(Body::from(out.to_string()))
        .unwrap()
}

/// Streams `first`, then after 1.5 s `second`.
async fn slow_stream() -> Response {
    let s = futures_util::stream::iter([0u8, 1]).then(|i| async move {
        if i == 1 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(b"data: [DONE]\n\n"))
        } else {
            Ok(Bytes::from_static(b"data: {\"first\":true}\n\n"))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(s))
        .unwrap()
}

fn echo_upstream() -> Router {
    Router::new()
        .route("/slow", post(slow_stream))
        .route("/{*p}", any(echo))
}

#[test]
fn bytes_headers_and_query_pass_through_as_a_proxy_should() {
    let otel = Otel::install();
    run(async {
        let up = serve(echo_upstream()).await;
        let cfg = GatewayConfig::default().upstream(
            "echo",
            UpstreamConfig {
                url: Some(format!("http://{up}/base")),
                ..UpstreamConfig::default()
            },
        );
        let gw = gateway(cfg).await;
        let body = "{ \"model\" :\"m-1\",  \"messages\":[] }\n";
        let res = reqwest::Client::new()
            .post(format!(
                "http://{gw}/echo/v1/chat/completions?alt=sse&x=%2F1"
            ))
            .header("authorization", "Bearer sk-client-secret-1")
            .header("x-tt-user", "u-1")
            .header("x-tt-session", "s-1")
            .header("x-tt-tags", "a,b")
            .header("x-custom", "custom")
            // Names a recorder treats as secret (`token`, `auth`, `secret`,
            // `key`) are still ordinary headers to forward: that rule only
            // keeps them out of telemetry.
            .header("x-request-token-budget", "tok-val-7")
            .header("x-auth-context", "authctx-val-7")
            .header("openai-organization", "org-val-7")
            .header("anthropic-beta", "beta-val-7")
            .header("accept-encoding", "gzip")
            .header("te", "trailers")
            .header("connection", "x-client-hop")
            .header("x-client-hop", "dropped")
            .header(
                "traceparent",
                format!("00-{CLIENT_TRACE}-00f067aa0ba902b7-01"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-upstream"], "kept");
        assert!(res.headers().get("x-upstream-hop").is_none());
        assert_eq!(res.headers()["x-tt-trace-id"], CLIENT_TRACE);
        let got: Value = res.json().await.unwrap();
        assert_eq!(got["method"], "POST");
        assert_eq!(got["path"], "/base/v1/chat/completions");
        assert_eq!(got["query"], "alt=sse&x=%2F1");
        assert_eq!(got["body"], body, "request bytes unchanged");
        let h = &got["headers"];
        assert_eq!(h["authorization"], "Bearer sk-client-secret-1");
        assert_eq!(h["x-custom"], "custom");
        assert_eq!(h["x-request-token-budget"], "tok-val-7");
        assert_eq!(h["x-auth-context"], "authctx-val-7");
        assert_eq!(h["openai-organization"], "org-val-7");
        assert_eq!(h["anthropic-beta"], "beta-val-7");
        assert_eq!(h["content-length"], body.len().to_string());
        assert_eq!(h["host"], up.to_string());
        for gone in [
            "x-tt-user",
            "x-tt-session",
            "x-tt-tags",
            "accept-encoding",
            "te",
            "x-client-hop",
        ] {
            assert!(h.get(gone).is_none(), "{gone} forwarded: {h}");
        }
        // The upstream gets the gateway's LLM span as parent, in the client's trace.
        let tp = h["traceparent"].as_str().unwrap();
        assert!(tp.starts_with(&format!("00-{CLIENT_TRACE}-")), "{tp}");
        assert!(!tp.contains("00f067aa0ba902b7"), "{tp}");

        let wf = otel.wait_for("POST /echo/{*path}", 1).await;
        assert_eq!(wf.len(), 1);
        let wf = &wf[0];
        assert_eq!(wf.span_context.trace_id().to_string(), CLIENT_TRACE);
        assert_eq!(wf.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(attr(wf, "user.id").as_deref(), Some("u-1"));
        assert_eq!(attr(wf, "session.id").as_deref(), Some("s-1"));
        assert_eq!(attr(wf, "tag.tags").as_deref(), Some("[\"a\",\"b\"]"));
        assert_eq!(attr(wf, "http.route").as_deref(), Some("/echo/{*path}"));
        let llm = otel.wait_for("chat m-1", 1).await;
        assert_eq!(llm.len(), 1, "one LLM span");
        assert_eq!(llm[0].parent_span_id, wf.span_context.span_id());
        assert_eq!(
            attr(&llm[0], "gen_ai.provider.name").as_deref(),
            Some("openai_compatible")
        );
        for s in otel.spans() {
            for (k, v) in attrs(&s) {
                assert!(!v.contains("sk-client-secret"), "{k} = {v}");
                assert!(
                    !v.contains("-val-7"),
                    "a request header recorded: {k} = {v}"
                );
            }
        }
    });
}

#[test]
fn streams_are_not_buffered() {
    let _otel = Otel::install();
    run(async {
        let up = serve(echo_upstream()).await;
        let cfg = GatewayConfig::default().upstream_url("raw", format!("http://{up}"));
        let gw = gateway(cfg).await;
        let start = Instant::now();
        let res = reqwest::Client::new()
            .post(format!("http://{gw}/raw/slow"))
            .body("{}")
            .send()
            .await
            .unwrap();
        let mut stream = res.bytes_stream();
        let first = stream.next().await.unwrap().unwrap();
        let t_first = start.elapsed();
        assert_eq!(&first[..], b"data: {\"first\":true}\n\n");
        let mut rest = Vec::new();
        while let Some(c) = stream.next().await {
            rest.extend_from_slice(&c.unwrap());
        }
        let t_end = start.elapsed();
        assert_eq!(rest, b"data: [DONE]\n\n");
        assert!(
            t_first < Duration::from_millis(1000),
            "first chunk at {t_first:?}"
        );
        assert!(t_end >= Duration::from_millis(1400), "end at {t_end:?}");
    });
}

/// Sends `body` to the gateway and to the in-process reference, reads both
/// answers whole, and returns them.
async fn both(
    gw: std::net::SocketAddr,
    reference: std::net::SocketAddr,
    body: &Value,
) -> (String, String) {
    let http = reqwest::Client::new();
    let send = |url: String| {
        http.post(url)
            .header("authorization", "Bearer sk-test-secret-77")
            .header("content-type", "application/json")
            .header("x-tt-user", "user-9")
            .header("x-tt-session", "sess-9")
            .header("x-tt-tags", "prod,gw")
            .body(body.to_string())
            .send()
    };
    let a = send(format!("http://{gw}/openai/v1/chat/completions"))
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    let a = a.text().await.unwrap();
    let b = send(format!("http://{reference}/ref/chat/completions"))
        .await
        .unwrap();
    assert_eq!(b.status(), 200);
    (a, b.text().await.unwrap())
}

/// The gateway's two spans equal the in-process app's, attribute by
/// attribute, but for the route (the gateway's route is its own) and the
/// values that differ between any two calls.
fn assert_same_trace(otel: &Otel, model: &str) {
    let gw_wf = otel.named("POST /openai/{*path}");
    let ref_wf = otel.named("POST /ref/{*path}");
    assert_eq!((gw_wf.len(), ref_wf.len()), (1, 1));
    let route = ["http.route", "url.path", "gen_ai.workflow.name"];
    assert_eq!(
        comparable(&gw_wf[0], &route),
        comparable(&ref_wf[0], &route)
    );
    let llm = otel.named(&format!("chat {model}"));
    assert_eq!(llm.len(), 2, "one LLM span per call");
    let (g, r) = if llm[0].parent_span_id == gw_wf[0].span_context.span_id() {
        (&llm[0], &llm[1])
    } else {
        (&llm[1], &llm[0])
    };
    assert_eq!(g.parent_span_id, gw_wf[0].span_context.span_id());
    assert_eq!(r.parent_span_id, ref_wf[0].span_context.span_id());
    assert_eq!(g.span_kind, r.span_kind);
    assert_eq!(g.status, r.status);
    assert_eq!(comparable(g, &[]), comparable(r, &[]));
    // And the comparison compared something.
    let w = attrs(&gw_wf[0]);
    assert_eq!(w["user.id"], "user-9");
    assert_eq!(w["session.id"], "sess-9");
    assert_eq!(w["tag.tags"], "[\"prod\",\"gw\"]");
    assert_eq!(
        w["tokentrace.rollup.cost_usd"],
        attrs(g)["cost.total_usd"],
        "rolled up"
    );
    assert_eq!(w["tokentrace.rollup.llm_calls"], "1");
    let a = attrs(g);
    assert_eq!(a["gen_ai.request.model"], model);
    assert!(a["gen_ai.usage.input_tokens"].parse::<u64>().unwrap() > 0);
    assert!(a["gen_ai.usage.output_tokens"].parse::<u64>().unwrap() > 0);
    assert!(a["cost.total_usd"].parse::<f64>().unwrap() > 0.0);
    for s in otel.spans() {
        for (k, v) in attrs(&s) {
            assert!(!v.contains("sk-test-secret"), "{k} = {v}");
        }
    }
}

#[test]
fn unary_spans_equal_in_process() {
    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let reference = serve(reference_app(&mocks)).await;
        let body = json!({"model": "gpt-4o-mini", "temperature": 0.2,
            "messages": [{"role": "user", "content": "say hello to the gateway"}]});
        let (a, b) = both(gw, reference, &body).await;
        let (a, b): (Value, Value) = (
            serde_json::from_str(&a).unwrap(),
            serde_json::from_str(&b).unwrap(),
        );
        assert_eq!(a["choices"], b["choices"]);
        assert_eq!(a["usage"], b["usage"]);
        otel.wait_for("chat gpt-4o-mini", 2).await;
        otel.wait_for("POST /ref/{*path}", 1).await;
        assert_same_trace(&otel, "gpt-4o-mini");
    });
}

#[test]
fn streamed_spans_equal_in_process() {
    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let reference = serve(reference_app(&mocks)).await;
        let body = json!({"model": "gpt-4o-mini", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream hello through the gateway"}]});
        let (a, b) = both(gw, reference, &body).await;
        assert!(a.ends_with("data: [DONE]\n\n"), "{a}");
        assert_eq!(a.matches("data: ").count(), b.matches("data: ").count());
        otel.wait_for("chat gpt-4o-mini", 2).await;
        otel.wait_for("POST /ref/{*path}", 1).await;
        assert_same_trace(&otel, "gpt-4o-mini");
        let llm = otel.named("chat gpt-4o-mini");
        assert_eq!(
            attr(&llm[0], "gen_ai.request.stream").as_deref(),
            Some("true")
        );
    });
}

#[test]
fn anthropic_and_gemini_routes_are_priced() {
    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let http = reqwest::Client::new();
        let res = http
            .post(format!("http://{gw}/anthropic/v1/messages"))
            .header("x-api-key", "sk-ant-secret")
            .header("anthropic-version", "2023-06-01")
            .json(
                &json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
                "messages": [{"role": "user", "content": "hello claude"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("message_stop"));
        let res = http
            .post(format!(
                "http://{gw}/gemini/v1beta/models/gemini-2.5-flash:generateContent?key=g-secret-key"
            ))
            .json(&json!({"contents": [{"parts": [{"text": "hello gemini"}]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let a = otel.wait_for("chat claude-sonnet-4-5", 1).await;
        assert_eq!(
            attr(&a[0], "gen_ai.provider.name").as_deref(),
            Some("anthropic")
        );
        assert!(attr(&a[0], "cost.total_usd").is_some());
        let g = otel.wait_for("generate_content gemini-2.5-flash", 1).await;
        assert_eq!(
            g.len(),
            1,
            "{:?}",
            otel.spans()
                .iter()
                .map(|s| s.name.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            attr(&g[0], "gen_ai.provider.name").as_deref(),
            Some("gcp.gemini")
        );
        for s in otel.spans() {
            for (k, v) in attrs(&s) {
                assert!(
                    !v.contains("g-secret-key") && !v.contains("sk-ant-secret"),
                    "{k} = {v}"
                );
            }
        }
    });
}

#[test]
fn routes_cover_the_documented_upstreams_and_reject_bedrock() {
    let gw = Gateway::new(&GatewayConfig::default()).unwrap();
    let names: Vec<String> = gw.routes().into_iter().map(|(n, _)| n).collect();
    for n in [
        "anthropic",
        "azure",
        "deepseek",
        "gemini",
        "groq",
        "mistral",
        "ollama",
        "openai",
        "openrouter",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing: {names:?}");
    }
    let routes = gw.routes();
    let url = |n: &str| routes.iter().find(|(x, _)| x == n).unwrap().1.clone();
    assert_eq!(url("openai"), "https://api.openai.com");
    assert_eq!(url("ollama"), "http://127.0.0.1:11434");
    assert_eq!(url("azure"), "https://{resource}.openai.azure.com");
    let err = Gateway::new(&GatewayConfig::from_toml("[upstreams.b]\nurl = \"https://bedrock-runtime.us-east-1.amazonaws.com\"\nprovider = \"aws.bedrock\"\n").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("SigV4"), "{err}");
    let err = Gateway::new(
        &GatewayConfig::from_toml("[upstreams.\"Bad/Name\"]\nurl = \"http://x\"\n").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("upstream name"), "{err}");
    assert!(GatewayConfig::from_toml("nonsense = 1").is_err());
}
