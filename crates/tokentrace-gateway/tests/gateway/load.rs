//! Load: 1,000 concurrent streamed requests through the gateway; no span
//! lost, every span with its own request's user.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::json;

use crate::support::{Otel, attr, config_for, gateway, mocks, run};

const N: usize = 1000;

#[test]
fn a_thousand_concurrent_streams_lose_no_span_and_mix_no_user() {
    let otel = Otel::install();
    run(async {
        let mocks = mocks().await;
        let gw = gateway(config_for(&mocks)).await;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(N)
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let url = format!("http://{gw}/openai/v1/chat/completions");
        let calls = (0..N).map(|i| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let body = json!({"model": "gpt-4o-mini", "stream": true,
                    "stream_options": {"include_usage": true},
                    "messages": [{"role": "user", "content": format!("request number {i} please")}]});
                let res = http
                    .post(url)
                    .header("authorization", "Bearer sk-load")
                    .header("x-tt-user", format!("user-{i}"))
                    .header("x-tt-session", format!("sess-{i}"))
                    .body(body.to_string())
                    .send()
                    .await
                    .map_err(|e| format!("{i}: {e}"))?;
                let trace = res.headers()["x-tt-trace-id"].to_str().unwrap().to_owned();
                let mut s = res.bytes_stream();
                let mut last = Vec::new();
                while let Some(c) = s.next().await {
                    last = c.map_err(|e| format!("{i}: {e}"))?.to_vec();
                }
                if !last.ends_with(b"data: [DONE]\n\n") {
                    return Err(format!("{i}: stream did not end"));
                }
                Ok::<_, String>((trace, i))
            }
        });
        let results = futures_util::future::join_all(calls).await;
        let traces: HashMap<String, usize> = results
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("a request failed: {e}"));
        assert_eq!(traces.len(), N, "one distinct trace per request");

        let wfs = otel.wait_for("POST /openai/{*path}", N).await;
        let llms = otel.wait_for("chat gpt-4o-mini", N).await;
        assert_eq!((wfs.len(), llms.len()), (N, N), "0 spans lost");
        let mut wf_of_trace = HashMap::new();
        for w in &wfs {
            let i = traces[&w.span_context.trace_id().to_string()];
            assert_eq!(attr(w, "user.id"), Some(format!("user-{i}")));
            assert_eq!(attr(w, "session.id"), Some(format!("sess-{i}")));
            assert_eq!(attr(w, "tokentrace.rollup.llm_calls").as_deref(), Some("1"));
            wf_of_trace.insert(w.span_context.trace_id(), w.span_context.span_id());
        }
        for l in &llms {
            let i = traces[&l.span_context.trace_id().to_string()];
            assert_eq!(wf_of_trace[&l.span_context.trace_id()], l.parent_span_id);
            assert_eq!(attr(l, "user.id"), Some(format!("user-{i}")));
            // "request number {i} please": 4 words, the mock's token count.
            assert_eq!(attr(l, "gen_ai.usage.input_tokens").as_deref(), Some("4"));
            assert!(attr(l, "cost.total_usd").is_some());
            assert!(attr(l, "error.type").is_none());
        }
    });
}
