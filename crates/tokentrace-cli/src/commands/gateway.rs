//! `tokentrace gateway`: the base-URL LLM gateway, recording to the store
//! (and OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set) like `init()`.

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
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
    let mut telemetry = tokentrace::Telemetry::builder().from_env();
    if let Some(name) = default_service_name(std::env::var_os("OTEL_SERVICE_NAME").as_deref()) {
        telemetry = telemetry.service_name(name);
    }
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
    // Stream chunks go out as soon as the upstream's arrive, not held back
    // by Nagle's algorithm waiting for the client's ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
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

/// `service.name` is `tokentrace-gateway` unless `OTEL_SERVICE_NAME` names
/// it (then the environment's name stands, as in `init()`).
fn default_service_name(env: Option<&std::ffi::OsStr>) -> Option<&'static str> {
    match env.and_then(std::ffi::OsStr::to_str) {
        Some(v) if !v.trim().is_empty() => None,
        _ => Some("tokentrace-gateway"),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::default_service_name;

    #[test]
    fn otel_service_name_wins_over_the_gateways_default() {
        assert_eq!(default_service_name(None), Some("tokentrace-gateway"));
        assert_eq!(
            default_service_name(Some(OsStr::new(""))),
            Some("tokentrace-gateway")
        );
        assert_eq!(
            default_service_name(Some(OsStr::new("  "))),
            Some("tokentrace-gateway")
        );
        assert_eq!(default_service_name(Some(OsStr::new("gw-eu"))), None);
    }
}
