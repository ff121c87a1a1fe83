//! WorkflowLayer vs bare axum vs tower-http `TraceLayer`, in process.
//!
//! Every variant is an axum `Router` driven with `tower::ServiceExt::oneshot`
//! and its body collected, on a current-thread runtime. The traced variants
//! share one subscriber over an SDK tracer whose processor drops finished
//! spans (no hyper, so no hyper/h2 internals to filter); the interleaved run
//! is made under two: tracing-opentelemetry with its defaults (busy/idle
//! timings, thread and code location attributes), and the one
//! `tokentrace::init()` installs (`EnrichLayer` inside, the OTel layer
//! without those extras); criterion measures under the second. Two
//! responses: a small JSON body and a 50-chunk SSE stream.
//!
//! First an interleaved run (variants alternate in rounds, so drift hits
//! them all alike) prints medians and the added-time ratio
//! `(WorkflowLayer - bare) / (TraceLayer - bare)`; then criterion measures
//! each variant on its own. `cargo bench -p tokentrace-tower --bench layer`.
//!
//! Instruction counts: `TOKENTRACE_LAYER_CALLS=<variant>,<json|sse50>,<n>`
//! (variant: `bare`, `WorkflowLayer`, `TraceLayer`, `floor`) runs only `n` requests of
//! one variant under tokentrace's subscriber (after 20 warm-up requests) and
//! exits, for `valgrind --tool=callgrind`; see `scripts/overhead-instructions`.
//! `floor` is `TraceLayer` without events around a span that carries only
//! the fields other layers read from a workflow span. The variants
//! `span:plain` and `span:workflow` make no request: each of the `n`
//! iterations creates one span, enters it three times and closes it (see
//! `lone_span`), which is the floor of the span itself.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use criterion::Criterion;
use http::Request;
use http_body_util::BodyExt;
use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use tokentrace_tower::WorkflowLayer;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct DropProcessor;

impl SpanProcessor for DropProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn routes() -> Router {
    Router::new()
        .route(
            "/chat/{id}",
            get(|| async {
                axum::Json(serde_json::json!({"id": "c-1", "answer": "hello", "tokens": 42}))
            }),
        )
        .route(
            "/stream",
            get(|| async {
                let events = futures_util::stream::iter(
                    (0..50)
                        .map(|i| Ok::<_, Infallible>(Event::default().data(format!("chunk {i}")))),
                );
                Sse::new(events)
            }),
        )
}

fn variants() -> Vec<(&'static str, Router)> {
    vec![
        ("bare", routes()),
        (
            "WorkflowLayer",
            routes().layer(
                WorkflowLayer::new()
                    .user_header("x-user-id")
                    .session_header("x-session-id"),
            ),
        ),
        (
            "TraceLayer",
            routes().layer(tower_http::trace::TraceLayer::new_for_http()),
        ),
        (
            "WorkflowLayer (body not entered)",
            routes().layer(
                WorkflowLayer::new()
                    .user_header("x-user-id")
                    .session_header("x-session-id")
                    .enter_span_in_body(false),
            ),
        ),
        ("floor", routes().layer(floor_layer())),
    ]
}

/// The floor of a workflow span through this subscriber: tower-http's
/// `TraceLayer` with no events, whose span carries only the fields
/// `EnrichLayer` and tracing-opentelemetry read from a workflow span (name,
/// kind, type, workflow name, user, session), entered where `WorkflowLayer`
/// enters its span (the call, the response future, each body poll).
fn floor_layer() -> tower_http::trace::TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> tracing::Span + Clone,
    (),
    (),
    (),
    (),
    (),
> {
    tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let route = req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or("", axum::extract::MatchedPath::as_str);
            let name = format!("{} {route}", req.method());
            tracing::info_span!(
                target: "tokentrace::workflow",
                "workflow",
                otel.name = name.as_str(),
                otel.kind = "server",
                tokentrace.span.type = "workflow",
                gen_ai.workflow.name = name.as_str(),
                user.id = header("x-user-id"),
                session.id = header("x-session-id"),
            )
        })
        .on_request(())
        .on_response(())
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// One span created, entered three times (as a layer enters it in its call,
/// its response future and the body's one poll) and closed, through the
/// subscriber: `plain` has no fields, `workflow` the ones `WorkflowLayer`'s
/// span declares for the bench's requests (name, kind, type, workflow name,
/// user, session).
fn lone_span(shape: &str) {
    let span = match shape {
        "plain" => tracing::info_span!(target: "tokentrace::workflow", "workflow"),
        "workflow" => {
            let name = black_box("GET /chat/{id}").to_owned();
            tracing::info_span!(
                target: "tokentrace::workflow",
                "workflow",
                otel.name = name.as_str(),
                otel.kind = "server",
                tokentrace.span.type = "workflow",
                gen_ai.workflow.name = name.as_str(),
                user.id = black_box("u-17"),
                session.id = black_box("s-9"),
            )
        }
        other => panic!("unknown span shape {other:?}"),
    };
    for _ in 0..3 {
        drop(black_box(span.enter()));
    }
}

fn request(path: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header("x-user-id", "u-17")
        .header("x-session-id", "s-9")
        .body(Body::empty())
        .expect("valid request")
}

async fn call(app: &Router, path: &str) -> usize {
    let res = app
        .clone()
        .oneshot(request(path))
        .await
        .expect("infallible");
    res.into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .len()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn interleaved(rt: &tokio::runtime::Runtime, apps: &[(&'static str, Router)], subscriber: &str) {
    const ROUNDS: usize = 31;
    for (path, label, iters) in [("/chat/7", "JSON", 2_000), ("/stream", "SSE x50", 300)] {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); apps.len()];
        for _ in 0..ROUNDS {
            for (i, (_, app)) in apps.iter().enumerate() {
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        black_box(call(app, path).await);
                    }
                });
                samples[i].push(start.elapsed().as_secs_f64() * 1e9 / f64::from(iters));
            }
        }
        let medians: Vec<f64> = samples.into_iter().map(median).collect();
        println!("{subscriber}: interleaved {label} ({ROUNDS} rounds, median ns/request):");
        for ((name, _), m) in apps.iter().zip(&medians) {
            println!(
                "  {name:<34} {m:>10.0} ns  (+{:>7.0} ns over bare)",
                m - medians[0]
            );
        }
        let added_trace = medians[2] - medians[0];
        for i in [1, 3] {
            println!(
                "  added-time ratio {} / TraceLayer = {:.2}",
                apps[i].0,
                (medians[i] - medians[0]) / added_trace
            );
        }
    }
}

/// The subscriber `tokentrace::init()` installs: registry, `EnrichLayer`,
/// tracing-opentelemetry as the facade configures it.
fn tokentrace_subscriber(provider: &SdkTracerProvider) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry()
        .with(tokentrace_subscriber::EnrichLayer::new())
        .with(
            tracing_opentelemetry::layer()
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_target(false)
                .with_tracer(provider.tracer("bench")),
        )
}

fn main() {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(DropProcessor)
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let apps = variants();
    if let Ok(spec) = std::env::var("TOKENTRACE_LAYER_CALLS") {
        let subscriber = tokentrace_subscriber(&provider);
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut parts = spec.split(',');
        let name = parts.next().expect("variant");
        if let Some(shape) = name.strip_prefix("span:") {
            // The span alone, no HTTP: its instructions per iteration are
            // the floor of any tracing-native workflow span here.
            let n: usize = parts
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("call count");
            for _ in 0..20 + n {
                lone_span(shape);
            }
            return;
        }
        let (_, app) = apps
            .iter()
            .find(|(n, _)| *n == name)
            .expect("known variant");
        let path = match parts.next() {
            Some("json") => "/chat/7",
            Some("sse50") => "/stream",
            other => panic!("unknown mode {other:?}"),
        };
        let n: usize = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("call count");
        rt.block_on(async {
            for _ in 0..20 + n {
                black_box(call(app, path).await);
            }
        });
        return;
    }
    {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
        let _guard = tracing::subscriber::set_default(subscriber);
        interleaved(&rt, &apps, "tracing-opentelemetry defaults");
    }
    let subscriber = tokentrace_subscriber(&provider);
    let _guard = tracing::subscriber::set_default(subscriber);
    interleaved(&rt, &apps, "tokentrace's subscriber");

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (path, group) in [("/chat/7", "json"), ("/stream", "sse50")] {
        let mut g = c.benchmark_group(group);
        for (name, app) in &apps {
            g.bench_function(*name, |b| b.iter(|| rt.block_on(call(app, path))));
        }
        g.finish();
    }
    c.final_summary();
}
