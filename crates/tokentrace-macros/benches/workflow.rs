//! `#[workflow]` vs `#[tracing::instrument]` vs a plain fn, with the
//! subscriber on, plus a `#[workflow]` filtered out by
//! `TOKENTRACE_WORKFLOWS`-style configuration. Two subscribers, each over an
//! SDK tracer whose processor drops finished spans: tracing-opentelemetry
//! with its defaults (busy/idle timings, thread and code location
//! attributes), and the one `tokentrace::init()` installs (`EnrichLayer`
//! inside, the OTel layer without those extras). Criterion then measures
//! under the second.
//!
//! `cargo bench -p tokentrace-macros --bench workflow`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
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

#[inline(never)]
fn plain(n: u64) -> u64 {
    black_box(n).wrapping_mul(3)
}

#[tracing::instrument]
#[inline(never)]
fn instrumented(n: u64) -> u64 {
    black_box(n).wrapping_mul(3)
}

#[tokentrace::workflow]
#[inline(never)]
fn workflow(n: u64) -> u64 {
    black_box(n).wrapping_mul(3)
}

mod filtered {
    #[tokentrace::workflow]
    #[inline(never)]
    pub(super) fn filtered_workflow(n: u64) -> u64 {
        std::hint::black_box(n).wrapping_mul(3)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Fns = [(&'static str, fn(u64) -> u64); 4];

const FNS: Fns = [
    ("plain fn", plain),
    ("#[instrument]", instrumented),
    ("#[workflow]", workflow),
    ("#[workflow] filtered out", filtered::filtered_workflow),
];

/// Variants in rounds, so machine drift hits them all alike.
fn interleaved(label: &str) {
    const ROUNDS: usize = 31;
    const ITERS: u32 = 20_000;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); FNS.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in FNS.iter().enumerate() {
            let start = Instant::now();
            for n in 0..u64::from(ITERS) {
                black_box(f(n));
            }
            samples[i].push(start.elapsed().as_secs_f64() * 1e9 / f64::from(ITERS));
        }
    }
    println!("{label}: interleaved ({ROUNDS} rounds, median ns/call):");
    let medians: Vec<f64> = samples.into_iter().map(median).collect();
    for ((name, _), m) in FNS.iter().zip(&medians) {
        println!("  {name:<26} {m:>8.0} ns");
    }
    println!(
        "  #[workflow] / #[instrument] = {:.2}",
        medians[2] / medians[1]
    );
}

fn main() {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(DropProcessor)
        .build();
    tokentrace::set_workflow_filter(
        tokentrace::WorkflowFilter::all().exclude_module(concat!(module_path!(), "::filtered")),
    );
    {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
        let _guard = tracing::subscriber::set_default(subscriber);
        interleaved("tracing-opentelemetry defaults");
    }
    let subscriber = tracing_subscriber::registry()
        .with(tokentrace::EnrichLayer::new())
        .with(
            tracing_opentelemetry::layer()
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_target(false)
                .with_tracer(provider.tracer("bench")),
        );
    let _guard = tracing::subscriber::set_default(subscriber);
    interleaved("tokentrace's subscriber");

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut g = c.benchmark_group("call");
    for (name, f) in FNS {
        g.bench_function(name, |b| {
            let mut n = 0u64;
            b.iter(|| {
                n += 1;
                f(n)
            });
        });
    }
    g.finish();
    c.final_summary();
}
