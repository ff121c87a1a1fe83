//! 10,000 concurrent inbound requests, each making two outbound LLM calls
//! (JSON and streamed SSE): every request succeeds, every span arrives, every
//! LLM span hangs under its own request's workflow span, and no request's
//! metadata leaks onto another's spans.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use opentelemetry::trace::SpanId;
use tokentrace::Telemetry;
use tokentrace_core::semconv;
use tokentrace_tests::{RssSampler, SpanRecord, SpanSink, mib, runtime_with, serial};

use crate::support::{agent_service, call_agent, fast_mocks, load_client, rid, rids_in, serve};

/// Requests in flight at once: real concurrency without swamping 2 cores.
const IN_FLIGHT: usize = 512;

fn requests() -> u64 {
    std::env::var("TOKENTRACE_LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[derive(Default)]
struct PerRequest<'a> {
    workflow: Option<&'a SpanRecord>,
    chat: Option<&'a SpanRecord>,
    stream: Option<&'a SpanRecord>,
}

#[test]
fn ten_thousand_concurrent_requests_keep_their_spans_apart() {
    let _serial = serial();
    let n = requests();
    let sink = SpanSink::collecting();
    let (dispatch, guard) = Telemetry::builder()
        .service_name("e2e-load")
        .no_store()
        // Three spans per request, all of which may be queued at once.
        .queue_size(4 * n as usize)
        .export_delay(Duration::from_millis(100))
        .span_exporter(sink.clone())
        .build()
        .unwrap();
    let rt = runtime_with(&dispatch, 2).unwrap();
    let rss = RssSampler::start(Duration::from_millis(250));
    let started = Instant::now();
    let failures = tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let mocks = fast_mocks().await;
            let addr = serve(agent_service(&mocks)).await;
            let client = load_client(IN_FLIGHT);
            let results: Vec<Result<(), String>> = futures_util::stream::iter(0..n)
                .map(|i| {
                    let client = client.clone();
                    async move {
                        tokio::spawn(async move { call_agent(&client, addr, i).await })
                            .await
                            .unwrap_or_else(|e| Err(format!("task: {e}")))
                    }
                })
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
            results
                .into_iter()
                .filter_map(Result::err)
                .collect::<Vec<String>>()
        })
    });
    let elapsed = started.elapsed();
    guard.flush();
    let lost = guard.dropped_spans();
    let spans = sink.spans();
    let rss = rss.stop();
    eprintln!(
        "load: {n} requests ({IN_FLIGHT} in flight) in {:.1} s = {:.0} req/s; spans expected {}, \
         exported {}, lost {lost}; RSS start {:.1} MiB, peak {:.1} MiB, end {:.1} MiB",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        3 * n,
        spans.len(),
        mib(rss.start),
        mib(rss.peak),
        mib(rss.end),
    );
    assert!(
        failures.is_empty(),
        "{} of {n} requests failed, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // Every span either arrived or is counted as lost, and none was lost.
    assert_eq!(spans.len() as u64 + lost, 3 * n);
    assert_eq!(lost, 0);

    let mut by_request: HashMap<u64, PerRequest<'_>> = HashMap::new();
    for span in &spans {
        let owner = if span.name == "POST /chat" {
            let user = span
                .attr_str(semconv::USER_ID)
                .expect("workflow span has user.id");
            let ids = rids_in(&user);
            assert_eq!(ids.len(), 1, "user.id {user:?}");
            let e = by_request.entry(ids[0]).or_default();
            assert!(
                e.workflow.replace(span).is_none(),
                "two workflow spans for {user}"
            );
            ids[0]
        } else {
            let ids = rids_in(&span.name);
            assert_eq!(ids.len(), 1, "unexpected span {:?}", span.name);
            let e = by_request.entry(ids[0]).or_default();
            let slot = if span.name.starts_with("chat ") {
                &mut e.chat
            } else {
                assert!(span.name.starts_with("stream "), "{}", span.name);
                &mut e.stream
            };
            assert!(
                slot.replace(span).is_none(),
                "two spans named {}",
                span.name
            );
            ids[0]
        };
        // No other request's id anywhere on this span.
        for s in span.strings() {
            for other in rids_in(&s) {
                assert_eq!(
                    other, owner,
                    "span {} of request {owner} carries {s:?}",
                    span.name
                );
            }
        }
    }
    assert_eq!(by_request.len() as u64, n);
    for i in 0..n {
        let id = rid(i);
        let r = &by_request[&i];
        let wf = r
            .workflow
            .unwrap_or_else(|| panic!("no workflow span for {id}"));
        assert_eq!(
            wf.parent_span_id,
            SpanId::INVALID,
            "{id}: workflow is the root"
        );
        assert_eq!(
            wf.attr_str(semconv::SESSION_ID).as_deref(),
            Some(&*format!("sess-{id}"))
        );
        assert_eq!(
            wf.attr(semconv::ROLLUP_LLM_CALLS),
            Some(&opentelemetry::Value::I64(2)),
            "{id}: both calls rolled up"
        );
        for (what, llm) in [("chat", r.chat), ("stream", r.stream)] {
            let llm = llm.unwrap_or_else(|| panic!("no {what} span for {id}"));
            assert_eq!(llm.parent_span_id, wf.span_id, "{id}: {what} parent");
            assert_eq!(llm.trace_id, wf.trace_id, "{id}: {what} trace");
            assert!(!llm.error, "{id}: {what} failed");
            assert_eq!(
                llm.attr_str(semconv::USER_ID).as_deref(),
                Some(&*format!("user-{id}"))
            );
            assert_eq!(
                llm.attr_str(semconv::SESSION_ID).as_deref(),
                Some(&*format!("sess-{id}"))
            );
            assert!(
                matches!(llm.attr(semconv::GEN_AI_USAGE_OUTPUT_TOKENS), Some(opentelemetry::Value::I64(t)) if *t > 0),
                "{id}: {what} has output tokens"
            );
        }
    }
    drop(rt);
    drop(guard);
}
