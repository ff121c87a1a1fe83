//! `tokentrace gateway`: the base-URL LLM gateway, recording to the store
//! (and OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set) like `init()`.

use anyhow::Context as _;
use tokentrace::gateway::{Gateway, GatewayConfig, issue_client_key};
use tokio::net::TcpListener;

use crate::cli::GatewayArgs;

/// Runs `tokentrace gateway` until Ctrl-C.
pub(crate) async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    if args.issue_key {
        let key = issue_client_key().context("cannot read the system's random source")?;
        return crate::commands::emit(&format!("{key}\n"));
    }
    let mut config = match &args.config {
        Some(path) => GatewayConfig::from_file(path)?,
        None => GatewayConfig::default(),
    };
    if let Some(file) = &args.budgets {
        config.budgets.file = Some(file.clone());
    }
    if let Some(addr) = &args.redis {
        config.budgets.redis = Some(addr.clone());
    }
    let bind = args.bind.unwrap_or(config.listen);
    let gateway = Gateway::new(&config)?;
    let mut telemetry = tokentrace::Telemetry::builder()
        .from_env()
        .service_name("tokentrace-gateway");
    telemetry = if args.no_store {
        telemetry.no_store()
    } else {
        telemetry.store(&args.store.store)
    };
    let _telemetry = telemetry
        .install()
        .context("cannot set up telemetry for the gateway")?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr().context("listener has no address")?;
    let mut text = format!("tokentrace gateway on http://{addr}/\n");
    for (name, url) in gateway.routes() {
        let segment = if url.contains("{resource}") {
            "/{resource}"
        } else {
            ""
        };
        text.push_str(&format!(
            "  http://{addr}/{name}{segment}/...  ->  {url}/...\n"
        ));
    }
    if let Some(file) = &config.budgets.file {
        text.push_str(&format!(
            "Budgets from {} ({}).\n",
            file.display(),
            config.budgets.redis.as_deref().map_or_else(
                || "state in this process".to_owned(),
                |r| format!("state in Redis at {r}")
            )
        ));
    }
    text.push_str("Press Ctrl-C to stop.\n");
    crate::commands::emit(&text)?;
    axum::serve(listener, gateway.router())
        .with_graceful_shutdown(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("the gateway server failed")
}
