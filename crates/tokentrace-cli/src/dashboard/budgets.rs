//! `/budgets`: spend against each configured limit (from the Redis state the
//! services share, when `tokentrace serve --budgets FILE --redis ADDR`), and
//! the budget decisions the services recorded in the store's `metrics` table
//! (the `tokentrace.budget.outcomes` counter). See docs/budgets.md.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use tokentrace_core::semconv;

use super::AppState;
use crate::budget_state::Source;
use crate::output;

#[derive(Serialize)]
struct LimitRow {
    limit: String,
    key: String,
    window: String,
    mode: &'static str,
    cap: String,
    spent: String,
    reserved: String,
    /// Spent + reserved as a percentage of the cap, for `<progress>` (0–100).
    used_pct: Option<f64>,
    used: String,
    refusals: String,
    over: bool,
}

#[derive(Serialize, Default)]
struct DecisionRow {
    limit: String,
    scope: String,
    reserved: u64,
    warned: u64,
    soft_threshold: u64,
    refused: u64,
    unavailable: u64,
    unavailable_refused: u64,
}

#[derive(Serialize)]
struct Ctx {
    title: &'static str,
    nav: &'static str,
    configured: bool,
    file_limits: usize,
    redis: Option<String>,
    limits: Vec<LimitRow>,
    /// Why the live state could not be read (Redis down, ...).
    state_error: Option<String>,
    decisions: Vec<DecisionRow>,
}

fn limit_rows(rows: Vec<crate::budget_state::Row>) -> Vec<LimitRow> {
    let dash = || "-".to_owned();
    rows.into_iter()
        .map(|r| {
            let committed = r
                .spent_usd
                .map(|s| s + r.reserved_usd.unwrap_or(0.0))
                .filter(|_| r.limit_usd > 0.0);
            let pct = committed.map(|c| c / r.limit_usd * 100.0);
            LimitRow {
                cap: output::cost(r.limit_usd),
                spent: r.spent_usd.map_or_else(dash, output::cost),
                reserved: r.reserved_usd.map_or_else(dash, output::cost),
                used_pct: pct.map(|p| p.clamp(0.0, 100.0)),
                used: pct.map_or_else(dash, |p| format!("{p:.1}%")),
                refusals: r.refusals.map_or_else(dash, output::count),
                over: pct.is_some_and(|p| p >= 100.0),
                limit: r.limit,
                key: r.key,
                window: r.window,
                mode: r.mode,
            }
        })
        .collect()
}

fn decision_rows(metrics: Vec<tokentrace_store::MetricSummary>) -> Vec<DecisionRow> {
    let mut by_limit: BTreeMap<(String, String), DecisionRow> = BTreeMap::new();
    for m in metrics
        .into_iter()
        .filter(|m| m.name == semconv::metrics::TOKENTRACE_BUDGET_OUTCOMES)
    {
        let get = |k: &str| m.attributes[k].as_str().unwrap_or("").to_owned();
        let (limit, scope) = (
            get(semconv::TOKENTRACE_BUDGET_LIMIT),
            get(semconv::TOKENTRACE_BUDGET_SCOPE),
        );
        let row = by_limit
            .entry((limit.clone(), scope.clone()))
            .or_insert_with(|| DecisionRow {
                limit,
                scope,
                ..DecisionRow::default()
            });
        // Sums of a monotonic counter: whole numbers.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = m.sum.max(0.0).round() as u64;
        let slot = match get(semconv::TOKENTRACE_BUDGET_OUTCOME).as_str() {
            "reserved" => &mut row.reserved,
            "warned" => &mut row.warned,
            "soft_threshold" => &mut row.soft_threshold,
            "refused" => &mut row.refused,
            "unavailable" => &mut row.unavailable,
            "unavailable_refused" => &mut row.unavailable_refused,
            _ => continue,
        };
        *slot = slot.saturating_add(n);
    }
    by_limit.into_values().collect()
}

/// `/budgets`.
pub(crate) async fn page(State(state): State<AppState>) -> Response {
    let metrics = match state.read(|store| Ok(store.metrics()?)).await {
        Ok(m) => m,
        Err(e) => return state.error_page(&e),
    };
    let (limits, state_error) = match state.budgets.as_deref() {
        Some(source) => match source.rows().await {
            Ok(rows) => (limit_rows(rows), None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        },
        None => (Vec::new(), None),
    };
    let source: Option<&Source> = state.budgets.as_deref();
    let ctx = Ctx {
        title: "Budgets",
        nav: "budgets",
        configured: source.is_some(),
        file_limits: source.map_or(0, |s| s.config.limits.len()),
        redis: source.and_then(|s| s.redis.clone()),
        limits,
        state_error,
        decisions: decision_rows(metrics),
    };
    state.render("budgets.html", &ctx)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
    use tokentrace_core::budget::BudgetConfig;
    use tokentrace_reqwest::budget::redis::RedisStore;
    use tokentrace_reqwest::budget::{BudgetKeys, Budgets};
    use tokentrace_store::{Store, StoreMetricExporter};
    use tower::ServiceExt as _;

    use super::*;
    use crate::dashboard::{AppState, router};

    const CONFIG: &str = r#"
[[limit]]
name = "user-daily"
scope = "user"
usd = 1.0
window = "day"

[[limit]]
name = "everything"
scope = "global"
usd = 50.0
window = "month"
mode = "warn"
"#;

    /// Records budget decisions into the store's `metrics` table the way
    /// `tokentrace::init()` does: a counter through `StoreMetricExporter`.
    fn record_decisions(path: &std::path::Path, decisions: &[(&str, &str, &str, u64)]) {
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(StoreMetricExporter::new(path).unwrap()).build())
            .build();
        let counter = provider
            .meter("tokentrace")
            .u64_counter(semconv::metrics::TOKENTRACE_BUDGET_OUTCOMES)
            .build();
        for (limit, scope, outcome, n) in decisions {
            counter.add(
                *n,
                &[
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_LIMIT, (*limit).to_owned()),
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_SCOPE, (*scope).to_owned()),
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_OUTCOME, (*outcome).to_owned()),
                ],
            );
        }
        provider.shutdown().unwrap();
    }

    async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
        let resp = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// The `<tr>` of `class` whose text holds `needle`.
    fn row<'a>(html: &'a str, class: &str, needle: &str) -> &'a str {
        html.split(&format!("<tr class=\"{class}"))
            .skip(1)
            .map(|r| r.split("</tr>").next().unwrap())
            .find(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("no {class} row with {needle} in {html}"))
    }

    fn cells(row: &str) -> Vec<String> {
        row.split("<td")
            .skip(1)
            .map(|c| {
                let inner = &c[c.find('>').unwrap() + 1..];
                inner.split("</td>").next().unwrap().trim().to_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn without_a_budget_file_the_page_shows_the_decisions_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.db");
        let store = Store::open(&path).unwrap();
        let app = router(AppState::new(store).unwrap(), None);
        let (status, html) = get(&app, "/budgets").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("No budget file"), "{html}");
        assert!(html.contains("No budget decisions"), "{html}");
        assert!(html.contains(r#"<a href="/budgets" class="active">Budgets</a>"#));

        record_decisions(
            &path,
            &[
                ("user-daily", "user", "reserved", 7),
                ("user-daily", "user", "refused", 2),
                ("user-daily", "user", "soft_threshold", 1),
                ("<script>x</script>", "global", "warned", 3),
            ],
        );
        let (_, html) = get(&app, "/budgets").await;
        let r = cells(row(&html, "decision-row", "user-daily"));
        assert_eq!(r, ["user-daily", "user", "7", "0", "1", "2", "0", "0"]);
        // Limit names come from files services read: escaped all the same.
        assert!(!html.contains("<script>x"), "{html}");
        let r = cells(row(&html, "decision-row", "&lt;script&gt;"));
        assert_eq!(&r[1..4], ["global", "0", "3"]);
    }

    /// With `--budgets` and `--redis`: each limit and key with spend,
    /// reservations, % used and refusals, read from a real `redis-server`
    /// (scripts/setup-redis) holding state written by the budget API.
    #[tokio::test]
    async fn with_redis_the_page_shows_spend_against_each_limit() {
        let server = tokentrace_test_support::redis_server();
        let addr = server.addr().to_owned();
        let redis = RedisStore::new(addr.clone());
        let prefix = "dash-test:";
        let budgets =
            Budgets::with_store(BudgetConfig::from_toml_str(CONFIG).unwrap(), redis).prefix(prefix);
        let u1 = BudgetKeys::new().user("u-1");
        budgets.reserve(&u1, 0.5).await.unwrap().settle(0.25);
        let _held = budgets.reserve(&u1, 0.5).await.unwrap();
        assert!(budgets.reserve(&u1, 0.5).await.is_err());
        let xss = BudgetKeys::new().user("<img src=x onerror=alert(1)>");
        budgets.reserve(&xss, 0.1).await.unwrap().settle(0.1);
        // Settlements land in the background.
        tokio::time::sleep(Duration::from_millis(200)).await;

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("budgets.toml");
        std::fs::write(&file, CONFIG).unwrap();
        let source = Source::load(&file, Some(addr), prefix.to_owned()).unwrap();
        let store = Store::open(dir.path().join("traces.db")).unwrap();
        let app = router(AppState::new(store).unwrap().with_budgets(source), None);
        let (status, html) = get(&app, "/budgets").await;
        assert_eq!(status, StatusCode::OK);
        let r = cells(row(&html, "budget-row", "user:u-1"));
        assert_eq!(
            [
                &r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7], &r[9]
            ],
            [
                "user-daily",
                "user:u-1",
                "day",
                "enforce",
                "$0.250000",
                "$0.500000",
                "$1.00",
                "75.0%",
                "1"
            ]
        );
        assert!(
            r[8].contains(r#"<progress max="100" value="75.0">"#),
            "{}",
            r[8]
        );
        let g = cells(row(&html, "budget-row", "everything"));
        assert_eq!((g[2].as_str(), g[3].as_str()), ("month", "warn"));
        assert_eq!(g[4], "$0.350000");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(
            html.contains("user:&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );

        // Redis gone: the page still answers, saying why there is no state.
        drop(server);
        let started = Instant::now();
        let (status, html) = get(&app, "/budgets").await;
        assert_eq!(status, StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(html.contains("Cannot read the budget state"), "{html}");
    }

    #[tokio::test]
    async fn without_redis_the_limits_are_listed_without_spend() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("budgets.toml");
        std::fs::write(&file, CONFIG).unwrap();
        let source = Source::load(&file, None, "p:".to_owned()).unwrap();
        let store = Store::open(dir.path().join("traces.db")).unwrap();
        let app = router(AppState::new(store).unwrap().with_budgets(source), None);
        let (_, html) = get(&app, "/budgets").await;
        assert!(
            html.contains("No <code>--redis</code>: the 2 limits"),
            "{html}"
        );
        let r = cells(row(&html, "budget-row", "user-daily"));
        assert_eq!(
            [&r[1], &r[4], &r[5], &r[6], &r[7], &r[9]],
            ["user (each)", "-", "-", "$1.00", "-", "-"]
        );
        assert!(!r[8].contains("progress"));
    }
}
