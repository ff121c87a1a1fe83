//! Real clients through the gateway: curl and the official Python `openai`
//! package (installed by `scripts/setup-python-clients`), unary and
//! streamed, their spans compared with the same calls made in-process.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::{
    Otel, attr, attrs, comparable, config_for, gateway, mocks, reference_app, run, serve,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the clients' virtual environment, set up on first use.
fn python() -> String {
    let out = std::process::Command::new(repo_root().join("scripts/setup-python-clients"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/setup-python-clients runs");
    assert!(out.status.success(), "python clients set-up failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .expect("the set-up prints the python path")
        .trim()
        .to_owned()
}

const PY: &str = r#"
import json, sys, openai
c = openai.OpenAI(base_url=sys.argv[1], api_key="sk-py-secret-42",
                  default_headers={"x-tt-user": "py-user", "x-tt-session": "py-sess"})
msgs = [{"role": "user", "content": "hello from python"}]
raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=msgs)
r = raw.parse()
out = {"trace_id": raw.headers.get("x-tt-trace-id"), "unary": r.choices[0].message.content,
       "unary_tokens": r.usage.total_tokens}
parts = []
for ch in c.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True,
                                    stream_options={"include_usage": True}):
    if ch.choices and ch.choices[0].delta.content:
        parts.append(ch.choices[0].delta.content)
    if ch.usage:
        out["stream_tokens"] = ch.usage.total_tokens
out["stream"] = "".join(parts)
try:
    openai.OpenAI(base_url=sys.argv[1].replace("/openai/", "/nope/"), api_key="x").models.list()
except openai.NotFoundError as e:
    out["not_found"] = e.body
print(json.dumps(out))
"#;

#[test]
fn python_openai_sdk_unary_and_streamed_spans_equal_in_process() {
    let py = python();
    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let reference = serve(reference_app(&mocks)).await;
        let out = tokio::process::Command::new(&py)
            .arg("-c")
            .arg(PY)
            .arg(format!("http://{gw}/openai/v1"))
            .stderr(Stdio::inherit())
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "python client failed");
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!got["unary"].as_str().unwrap().is_empty());
        assert!(!got["stream"].as_str().unwrap().is_empty());
        assert!(got["unary_tokens"].as_u64().unwrap() > 0);
        assert_eq!(got["unary_tokens"], got["stream_tokens"]);
        assert_eq!(got["not_found"]["code"], "unknown_route", "{got}");

        // The same two calls in-process, with the bodies the SDK sends.
        let http = reqwest::Client::new();
        let msgs = json!([{"role": "user", "content": "hello from python"}]);
        for body in [
            json!({"messages": msgs, "model": "gpt-4o-mini"}),
            json!({"messages": msgs, "model": "gpt-4o-mini", "stream": true,
                   "stream_options": {"include_usage": true}}),
        ] {
            let res = http
                .post(format!("http://{reference}/ref/chat/completions"))
                .header("x-tt-user", "py-user")
                .header("x-tt-session", "py-sess")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap();
        }
        let llm = otel.wait_for("chat gpt-4o-mini", 4).await;
        assert_eq!(llm.len(), 4);
        let gw_wf = otel.named("POST /openai/{*path}");
        let ref_wf = otel.named("POST /ref/{*path}");
        assert_eq!((gw_wf.len(), ref_wf.len()), (2, 2));
        let trace = got["trace_id"].as_str().unwrap();
        assert!(
            gw_wf
                .iter()
                .any(|w| w.span_context.trace_id().to_string() == trace)
        );
        for w in &gw_wf {
            assert_eq!(attr(w, "user.id").as_deref(), Some("py-user"));
            assert_eq!(attr(w, "session.id").as_deref(), Some("py-sess"));
        }
        let child_of = |wfs: &[opentelemetry_sdk::trace::SpanData], stream: bool| {
            llm.iter()
                .find(|s| {
                    wfs.iter()
                        .any(|w| w.span_context.span_id() == s.parent_span_id)
                        && (attr(s, "gen_ai.request.stream").as_deref() == Some("true")) == stream
                })
                .unwrap_or_else(|| {
                    panic!(
                        "no LLM span (stream {stream}): {:?}",
                        llm.iter().map(attrs).collect::<Vec<_>>()
                    )
                })
                .clone()
        };
        for stream in [false, true] {
            let g = child_of(&gw_wf, stream);
            let r = child_of(&ref_wf, stream);
            assert_eq!(comparable(&g, &[]), comparable(&r, &[]), "stream {stream}");
            assert!(attr(&g, "cost.total_usd").is_some());
        }
        for s in otel.spans() {
            for (k, v) in attrs(&s) {
                assert!(!v.contains("sk-py-secret"), "{k} = {v}");
            }
        }
    });
}

#[test]
fn curl_unary_and_streamed() {
    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let url = format!("http://{gw}/openai/v1/chat/completions");
        let curl = |body: Value| {
            tokio::process::Command::new("curl")
                .args([
                    "-sS",
                    "-N",
                    "-D",
                    "-",
                    "-H",
                    "content-type: application/json",
                ])
                .args(["-H", "authorization: Bearer sk-curl-secret-5"])
                .args(["-H", "x-tt-user: curl-user"])
                .args(["--data-binary", &body.to_string(), &url])
                .output()
        };
        let msgs = json!([{"role": "user", "content": "hello from curl"}]);
        let unary = curl(json!({"model": "gpt-4o-mini", "messages": msgs}))
            .await
            .unwrap();
        assert!(unary.status.success());
        let text = String::from_utf8(unary.stdout).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("x-tt-trace-id: "),
            "{head}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);

        let streamed = curl(
            json!({"model": "gpt-4o-mini", "messages": msgs, "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .await
        .unwrap();
        let text = String::from_utf8(streamed.stdout).unwrap();
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{text}"
        );
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

        let llm = otel.wait_for("chat gpt-4o-mini", 2).await;
        assert_eq!(llm.len(), 2);
        for s in &llm {
            assert_eq!(
                attr(s, "gen_ai.usage.input_tokens").as_deref(),
                Some("3"),
                "{:?}",
                s.attributes
            );
            assert!(attr(s, "cost.total_usd").is_some());
        }
        let wf = otel.wait_for("POST /openai/{*path}", 2).await;
        assert!(
            wf.iter()
                .all(|w| attr(w, "user.id").as_deref() == Some("curl-user"))
        );
        for s in otel.spans() {
            for (k, v) in attrs(&s) {
                assert!(!v.contains("sk-curl-secret"), "{k} = {v}");
            }
        }
    });
}

#[test]
fn async_openai_with_api_base_unary_and_streamed_spans_equal_in_process() {
    use async_openai::Client;
    use async_openai::config::OpenAIConfig;
    use async_openai::types::chat::{
        ChatCompletionRequestUserMessage, ChatCompletionStreamOptions,
        CreateChatCompletionRequestArgs,
    };
    use futures_util::StreamExt as _;

    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let reference = serve(reference_app(&mocks)).await;
        let config = OpenAIConfig::new()
            .with_api_base(format!("http://{gw}/openai/v1"))
            .with_api_key("sk-aoai-secret-3")
            .with_header("x-tt-user", "rust-user")
            .unwrap();
        let client = Client::with_config(config);
        let unary = CreateChatCompletionRequestArgs::default()
            .model("gpt-4o-mini")
            .messages([ChatCompletionRequestUserMessage::from("hello from async-openai").into()])
            .build()
            .unwrap();
        let res = client.chat().create(unary.clone()).await.unwrap();
        assert!(res.usage.unwrap().total_tokens > 0);
        let streamed = CreateChatCompletionRequestArgs::default()
            .model("gpt-4o-mini")
            .messages([ChatCompletionRequestUserMessage::from("hello from async-openai").into()])
            .stream(true)
            .stream_options(
                serde_json::from_value::<ChatCompletionStreamOptions>(
                    json!({"include_usage": true}),
                )
                .unwrap(),
            )
            .build()
            .unwrap();
        let mut stream = client.chat().create_stream(streamed.clone()).await.unwrap();
        let mut usage = None;
        while let Some(chunk) = stream.next().await {
            if let Some(u) = chunk.unwrap().usage {
                usage = Some(u.total_tokens);
            }
        }
        assert!(usage.unwrap() > 0);

        // The same bodies, in-process.
        let http = reqwest::Client::new();
        for body in [
            serde_json::to_string(&unary).unwrap(),
            serde_json::to_string(&streamed).unwrap(),
        ] {
            let res = http
                .post(format!("http://{reference}/ref/chat/completions"))
                .header("x-tt-user", "rust-user")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap();
        }
        let llm = otel.wait_for("chat gpt-4o-mini", 4).await;
        assert_eq!(llm.len(), 4);
        let gw_wf = otel.wait_for("POST /openai/{*path}", 2).await;
        let ref_wf = otel.wait_for("POST /ref/{*path}", 2).await;
        let pick = |wfs: &[opentelemetry_sdk::trace::SpanData], stream: bool| {
            llm.iter()
                .find(|s| {
                    wfs.iter()
                        .any(|w| w.span_context.span_id() == s.parent_span_id)
                        && (attr(s, "gen_ai.request.stream").as_deref() == Some("true")) == stream
                })
                .unwrap()
                .clone()
        };
        for stream in [false, true] {
            let g = pick(&gw_wf, stream);
            assert_eq!(comparable(&g, &[]), comparable(&pick(&ref_wf, stream), &[]));
            assert_eq!(attr(&g, "user.id").as_deref(), Some("rust-user"));
            assert!(attr(&g, "cost.total_usd").is_some());
        }
        for s in otel.spans() {
            for (k, v) in attrs(&s) {
                assert!(!v.contains("sk-aoai-secret"), "{k} = {v}");
            }
        }
    });
}
