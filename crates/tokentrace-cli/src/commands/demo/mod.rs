//! `tokentrace demo`: start the mock providers and the demo agent service
//! (both from `tokentrace-demo`) on 127.0.0.1, install telemetry writing to
//! the store, drive traffic ([`traffic`]), flush, summarise what the store
//! holds for this run ([`summary`]), then serve the dashboard.

mod summary;
mod traffic;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokentrace_demo::mocks::MockProviders;

use crate::commands::{emit, emit_json};
use crate::output::Style;

use crate::cli::DemoArgs;

/// Runs `tokentrace demo`.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if let Some(dir) = args.store.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
    }
    // Bind the dashboard port first, so a busy port fails before any traffic.
    let dashboard = if args.no_serve {
        None
    } else {
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for the dashboard (is it in use? try --port)")
        })?)
    };

    let telemetry = tokentrace::Telemetry::builder()
        .service_name("agent-service")
        .store(&args.store)
        .install()
        .context("cannot set up telemetry for the demo")?;

    let mocks = MockProviders::builder()
        .chunk_delay(Duration::from_millis(12))
        .start()
        .await
        .context("cannot start the mock providers on 127.0.0.1")?;
    let app = tokentrace_demo::service::app(tokentrace_demo::service::Config::mock(&mocks));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("cannot start the agent service on 127.0.0.1")?;
    let service_addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    eprintln!(
        "tokentrace demo: mock OpenAI, Anthropic, Gemini and Pinecone on {}, agent service on http://{service_addr}",
        mocks.base_url()
    );
    let started_ns = summary::now_ns();
    let outcome = traffic::drive(service_addr, args.requests).await;

    let _ = stop_tx.send(());
    let _ = service.await;
    mocks.shutdown().await;
    // Every span has ended (each response body was read to its end); write them all.
    telemetry.flush();

    let store = tokentrace::store::Store::open(&args.store)
        .with_context(|| format!("cannot open the trace store at {}", args.store.display()))?;
    let summary = summary::Summary::from_store(&store, started_ns, &args.store, &outcome)?;
    if args.json {
        emit_json(&summary)?;
    } else {
        emit(&summary.render(Style::detect()))?;
    }
    if telemetry.dropped_spans() > 0 {
        eprintln!(
            "warning: {} spans were dropped on the way to the store",
            telemetry.dropped_spans()
        );
    }

    if let Some(listener) = dashboard {
        crate::commands::serve::serve(listener, store, None, &args.store, None).await?;
    }
    drop(telemetry);
    Ok(())
}
