//! `tokentrace serve`: the web dashboard.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::commands::open_store;
use crate::dashboard::{self, AppState, auth};

/// Refuses to expose traces beyond this machine without a token.
pub(crate) fn check_exposure(bind: SocketAddr, token: Option<&str>) -> anyhow::Result<()> {
    if let Some(t) = token {
        auth::validate(t)?;
    } else if !bind.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve the dashboard on {bind} without --token: it is not a loopback address, \
             so anyone who can reach it could read your prompts, users and costs.\n  \
             hint: pass --token <T> (or set TOKENTRACE_TOKEN) and open http://<host>:{}/?token=<T>, \
             or bind 127.0.0.1",
            bind.port()
        );
    }
    Ok(())
}

/// Runs `tokentrace serve` until Ctrl-C.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    check_exposure(args.bind, args.token.as_deref())?;
    let store = open_store(&args.store.store)?;
    let budgets = args
        .budgets
        .as_deref()
        .map(|path| {
            crate::budget_state::Source::load(path, args.redis.clone(), args.budgets_prefix.clone())
        })
        .transpose()?;
    let listener = TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    serve(
        listener,
        store,
        args.token.as_deref(),
        &args.store.store,
        budgets,
    )
    .await
}

/// Serves the dashboard over `store` on `listener` until Ctrl-C. Prints the URL first.
pub(crate) async fn serve(
    listener: TcpListener,
    store: tokentrace_store::Store,
    token: Option<&str>,
    path: &Path,
    budgets: Option<crate::budget_state::Source>,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("listener has no local address")?;
    let mut state = AppState::new(store)?;
    if let Some(b) = budgets {
        state = state.with_budgets(b);
    }
    let app = dashboard::router(state, token);
    let auth_note = if token.is_some() {
        " (append ?token=<T> in a browser)"
    } else {
        ""
    };
    crate::commands::emit(&format!(
        "tokentrace dashboard for {} on http://{addr}/{auth_note}\nPress Ctrl-C to stop.\n",
        path.display()
    ))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // If the signal handler cannot be installed, serve until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("the dashboard server failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_but_anything_else_does() {
        let lo: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        let lo6: SocketAddr = "[::1]:7070".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:7070".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:7070".parse().unwrap();
        assert!(check_exposure(lo, None).is_ok());
        assert!(check_exposure(lo6, None).is_ok());
        let err = check_exposure(any, None).unwrap_err().to_string();
        assert!(err.contains("--token"), "{err}");
        assert!(check_exposure(lan, None).is_err());
        assert!(check_exposure(any, Some("s3cret-token")).is_ok());
        assert!(check_exposure(any, Some("")).is_err());
    }
}
