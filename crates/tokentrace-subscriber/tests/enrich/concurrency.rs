//! Guards follow the span tree across `.await`, thread hops, spawned tasks
//! and `join!` branches, and never cross between requests.

use std::time::Duration;

use tokentrace_core::semconv;
use tokentrace_subscriber::{metadata, prompt_template};
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use crate::support::{
    Call, Pipeline, attr, llm_span, plain_span, record_usage, str_attr, workflow_span,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .expect("runtime")
}

async fn llm_call_async(name: String) {
    let span = llm_span(&name);
    async {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    .instrument(span.clone())
    .await;
    record_usage(
        &span,
        Call {
            input: 1,
            output: 1,
            ..Call::default()
        },
    );
}

#[test]
fn a_hundred_concurrent_requests_keep_their_own_user_and_template() {
    let p = Pipeline::new();
    let rt = runtime();
    // The default dispatch is thread-local: tasks carry it with
    // `with_subscriber` / `with_current_subscriber` across worker threads.
    let dispatch = p.dispatch.clone();
    rt.block_on(
        async {
            let mut tasks = Vec::new();
            for i in 0..100_u32 {
                let request = async move {
                    let _m = metadata!(user_id = format!("user-{i}"), request = i);
                    tokio::task::yield_now().await;
                    let _t = prompt_template!("template {n}", version = format!("v{i}"), n = i);
                    tokio::time::sleep(Duration::from_millis(u64::from(i % 7))).await;
                    llm_call_async(format!("call-{i}-a")).await;
                    tokio::task::yield_now().await;
                    llm_call_async(format!("call-{i}-b")).await;
                }
                .instrument(workflow_span(&format!("request-{i}")));
                tasks.push(tokio::spawn(request.with_current_subscriber()));
            }
            for t in tasks {
                t.await.expect("task");
            }
        }
        .with_subscriber(dispatch),
    );
    drop(rt);

    for i in 0..100 {
        for suffix in ["a", "b"] {
            let s = p.span(&format!("call-{i}-{suffix}"));
            let user = format!("user-{i}");
            assert_eq!(
                str_attr(&s, semconv::USER_ID).as_deref(),
                Some(user.as_str())
            );
            let version = format!("v{i}");
            assert_eq!(
                str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VERSION).as_deref(),
                Some(version.as_str())
            );
            assert_eq!(
                crate::support::json_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VARIABLES),
                Some(serde_json::json!({ "n": i }))
            );
            assert_eq!(
                crate::support::json_attr(&s, semconv::METADATA),
                Some(serde_json::json!({ "request": i }))
            );
        }
        let root = p.span(&format!("request-{i}"));
        assert_eq!(
            crate::support::i64_attr(&root, semconv::ROLLUP_LLM_CALLS),
            Some(2)
        );
    }
}

#[test]
fn guards_reach_tasks_spawned_in_the_current_span_and_blocking_closures() {
    let p = Pipeline::new();
    let rt = runtime();
    let dispatch = p.dispatch.clone();
    rt.block_on(
        async {
            let _m = metadata!(user_id = "spawner");
            let _t = prompt_template!("spawned {x}", x = 1);
            let spawned = tokio::spawn(
                async {
                    tokio::task::yield_now().await;
                    llm_call_async("in spawned task".to_owned()).await;
                }
                .in_current_span()
                .with_current_subscriber(),
            );
            spawned.await.expect("spawned");

            // The span is the snapshot: move it into the blocking closure.
            let span = tracing::Span::current();
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            tokio::task::spawn_blocking(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let _e = span.enter();
                    let s = llm_span("in blocking closure");
                    record_usage(&s, Call::default());
                });
            })
            .await
            .expect("blocking");

            // A task spawned without the span is outside the guard's tree.
            tokio::spawn(
                async { llm_call_async("detached".to_owned()).await }
                    .instrument(tracing::info_span!(parent: None, "detached root"))
                    .with_current_subscriber(),
            )
            .await
            .expect("detached");
        }
        .instrument(p.run(|| workflow_span("request")))
        .with_subscriber(dispatch),
    );
    drop(rt);

    for name in ["in spawned task", "in blocking closure"] {
        let s = p.span(name);
        assert_eq!(
            str_attr(&s, semconv::USER_ID).as_deref(),
            Some("spawner"),
            "{name}"
        );
        assert_eq!(
            str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
            Some("spawned {x}"),
            "{name}"
        );
    }
    let detached = p.span("detached");
    assert!(attr(&detached, semconv::USER_ID).is_none());
    assert!(attr(&detached, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).is_none());
}

#[test]
fn join_branches_under_their_own_spans_do_not_see_each_other() {
    let p = Pipeline::new();
    let rt = runtime();
    let dispatch = p.dispatch.clone();
    rt.block_on(
        async {
            let branch = |label: &'static str| {
                async move {
                    let _t = prompt_template!("branch {label}", label = label);
                    let _m = metadata!(branch = label);
                    tokio::task::yield_now().await;
                    llm_call_async(format!("call {label}")).await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    llm_call_async(format!("second call {label}")).await;
                }
                .instrument(plain_span(label))
            };
            tokio::join!(branch("left"), branch("right"));
        }
        .instrument(p.run(|| workflow_span("request")))
        .with_subscriber(dispatch),
    );
    drop(rt);

    for label in ["left", "right"] {
        for prefix in ["call", "second call"] {
            let s = p.span(&format!("{prefix} {label}"));
            assert_eq!(
                str_attr(&s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE).as_deref(),
                Some("branch {label}")
            );
            assert_eq!(
                crate::support::json_attr(&s, semconv::LLM_PROMPT_TEMPLATE_VARIABLES),
                Some(serde_json::json!({ "label": label }))
            );
            assert_eq!(
                crate::support::json_attr(&s, semconv::METADATA),
                Some(serde_json::json!({ "branch": label }))
            );
        }
    }
}
