//! The web dashboard: an axum [`Router`] over a [`Store`], HTML pages rendered
//! server-side with auto-escaping minijinja templates, charts as inline SVG,
//! one small script for auto-refresh, and a JSON API under `/api/` that returns
//! the store's own model types.
//!
//! Every asset is compiled into the binary (`include_str!`): no CDN, no build
//! step, works offline. Store reads are blocking SQLite calls and run on
//! tokio's blocking pool, never on the async workers.
//!
//! Security: every value shown comes from spans, which come from requests and
//! model output, so it is attacker-controlled. Templates escape everything
//! (minijinja's HTML auto-escape for `.html` templates, which also covers
//! attribute values and SVG text). The `Content-Security-Policy` forbids inline
//! script and inline style, so even a missed escape could not run code. See
//! [`auth`] for the token check used when serving beyond loopback.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;
use minijinja::value::{Serde, Value};
use serde::Serialize;
use tokentrace_store::{Store, StoreError, StoreErrorKind};

mod api;
pub(crate) mod auth;
mod budgets;
mod charts;
mod pages;
#[cfg(test)]
mod tests;
mod view;

/// Templates and static files, embedded at compile time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("assets/base.html")),
    ("macros.html", include_str!("assets/macros.html")),
    ("traces.html", include_str!("assets/traces.html")),
    ("trace.html", include_str!("assets/trace.html")),
    ("stats.html", include_str!("assets/stats.html")),
    ("sessions.html", include_str!("assets/sessions.html")),
    ("session.html", include_str!("assets/session.html")),
    ("error.html", include_str!("assets/error.html")),
    ("budgets.html", include_str!("assets/budgets.html")),
];
const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

/// No inline script or style at all; everything comes from this origin.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    store: Arc<Store>,
    templates: Arc<Environment<'static>>,
    /// The budget file (and Redis) `/budgets` shows, when configured.
    budgets: Option<Arc<crate::budget_state::Source>>,
}

/// Why a request failed, shown as an HTML page or a JSON error.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 404.
    NotFound(String),
    /// 400.
    BadRequest(String),
    /// 500.
    Internal(String),
}

impl Failure {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Self::NotFound(m) | Self::BadRequest(m) | Self::Internal(m) => m,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            StoreErrorKind::NotFound => Self::NotFound(e.to_string()),
            StoreErrorKind::InvalidTraceId => Self::BadRequest(e.to_string()),
            _ => {
                let mut msg = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    source = s.source();
                }
                Self::Internal(msg)
            }
        }
    }
}

impl AppState {
    /// State over `store` with the embedded templates.
    pub(crate) fn new(store: Store) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| anyhow::anyhow!("dashboard template {name} does not compile: {e}"))?;
        }
        Ok(Self {
            store: Arc::new(store),
            templates: Arc::new(env),
            budgets: None,
        })
    }

    /// Show `source`'s limits on `/budgets`.
    #[must_use]
    pub(crate) fn with_budgets(mut self, source: crate::budget_state::Source) -> Self {
        self.budgets = Some(Arc::new(source));
        self
    }

    /// Runs `f` on the blocking pool with the store.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, Failure> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| Failure::Internal(format!("store task failed: {e}")))?
    }

    /// Renders template `name` with `ctx`.
    pub(crate) fn render<C: Serialize>(&self, name: &str, ctx: &C) -> Response {
        let result = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(Value::from(Serde(ctx))));
        match result {
            Ok(html) => Html(html).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("template {name} failed: {e}"),
            )
                .into_response(),
        }
    }

    /// The error page for `failure`.
    pub(crate) fn error_page(&self, failure: &Failure) -> Response {
        #[derive(Serialize)]
        struct Ctx<'a> {
            title: String,
            message: &'a str,
            nav: &'static str,
        }
        let status = failure.status();
        let mut resp = self.render(
            "error.html",
            &Ctx {
                title: format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
                message: failure.message(),
                nav: "",
            },
        );
        *resp.status_mut() = status;
        resp
    }
}

/// The dashboard's routes and middleware, with the token check when `token` is set.
pub(crate) fn router(state: AppState, token: Option<&str>) -> Router {
    let mut app = Router::new()
        .route("/", get(pages::traces))
        .route("/traces/{id}", get(pages::trace))
        .route("/stats", get(pages::stats))
        .route("/sessions", get(pages::sessions))
        .route("/sessions/{id}", get(pages::session))
        .route("/budgets", get(budgets::page))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .nest("/api", api::router())
        .fallback(not_found)
        .with_state(state);
    if let Some(token) = token {
        app = app.layer(axum::middleware::from_fn_with_state(
            auth::Token::new(token),
            auth::require_token,
        ));
    }
    app.layer(axum::middleware::map_response(security_headers))
}

async fn not_found(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    state.error_page(&Failure::NotFound("no such page".to_owned()))
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS)
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

/// Headers on every response, errors and 401s included.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `?token=` may be in the URL: never send it anywhere in a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}
