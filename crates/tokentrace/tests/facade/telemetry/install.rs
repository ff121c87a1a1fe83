//! `init()` installs global state, so it runs only in a child process.

use std::process::Command;

const CHILD_ENV: &str = "TOKENTRACE_FACADE_INSTALL_CHILD";

/// Runs only as the child of [`init_installs_the_global_pipeline_from_the_environment`].
#[test]
#[ignore = "child process of init_installs_the_global_pipeline_from_the_environment"]
fn child_calls_init() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let guard = tokentrace::init().unwrap();
    assert!(guard.is_enabled());
    // A second install fails cleanly (and leaves the first one's budget
    // observer in place).
    assert!(matches!(
        tokentrace::Telemetry::builder().no_store().install(),
        Err(tokentrace::TelemetryError::AlreadyInstalled(_))
    ));
    let fields: Vec<String> =
        opentelemetry::global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    assert!(fields.iter().any(|f| f == "traceparent"), "{fields:?}");
    assert!(fields.iter().any(|f| f == "baggage"), "{fields:?}");
    // The local price catalogue named by TOKENTRACE_PRICES_CATALOGUE is loaded
    // over the built-in prices.
    let prices = tokentrace::prices();
    let layers = prices.layers();
    assert_eq!(layers.len(), 2, "{layers:?}");
    assert_eq!(layers[1].kind, "local");
    assert_eq!(layers[1].as_of, "2026-12-24");
    let m = prices
        .lookup(None, "acme-local-model")
        .expect("local entry");
    assert!(m.local);
    assert_eq!(m.price.input_per_mtok, 1.5);
    assert!(
        prices.lookup(None, "gpt-4o").is_some(),
        "built-in entries stay"
    );
    tracing::info_span!("child work", otel.name = "workflow.child").in_scope(|| {});
    // Budget decisions reach the `tokentrace.budget.outcomes` counter.
    use tokentrace_core::budget::{BudgetOutcome, Scope, outcomes, report_outcome};
    for _ in 0..2 {
        report_outcome(&BudgetOutcome::new(
            "child-limit",
            Scope::User,
            outcomes::REFUSED,
        ));
    }
    report_outcome(&BudgetOutcome::new(
        "child-limit",
        Scope::User,
        outcomes::RESERVED,
    ));
    // Dropping the guard flushes (and removes the budget observer).
    drop(guard);
    report_outcome(&BudgetOutcome::new(
        "child-limit",
        Scope::User,
        outcomes::REFUSED,
    ));
}

#[test]
fn init_installs_the_global_pipeline_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("child.db");
    let catalogue = dir.path().join("prices.json");
    std::fs::write(
        &catalogue,
        r#"{"as_of":"2026-12-24","format":1,"generator":"tokentrace prices update",
            "sources":{"litellm":"test"},"models":[
            {"model":"acme-local-model","provider":"openai","source":"litellm","input":1.5,"output":3.0}]}"#,
    )
    .unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "telemetry::install::child_calls_init",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env("TOKENTRACE_STORE", &path)
        .env("OTEL_SERVICE_NAME", "child-service")
        .env("TOKENTRACE_PRICES_CATALOGUE", &catalogue)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SDK_DISABLED")
        .status()
        .unwrap();
    assert!(status.success());
    let store = tokentrace::store::Store::open(&path).unwrap();
    let page = store
        .traces(&tokentrace::store::TraceFilter::new())
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].name, "workflow.child");
    assert_eq!(page.items[0].service_name.as_deref(), Some("child-service"));
    let budget: Vec<_> = store
        .metrics()
        .unwrap()
        .into_iter()
        .filter(|m| m.name == "tokentrace.budget.outcomes")
        .map(|m| {
            (
                m.attributes["tokentrace.budget.outcome"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                m.attributes["tokentrace.budget.limit"].clone(),
                m.attributes["tokentrace.budget.scope"].clone(),
                m.kind,
                m.sum,
            )
        })
        .collect();
    assert_eq!(
        budget,
        vec![
            (
                "refused".to_owned(),
                "child-limit".into(),
                "user".into(),
                "sum".to_owned(),
                2.0
            ),
            (
                "reserved".to_owned(),
                "child-limit".into(),
                "user".into(),
                "sum".to_owned(),
                1.0
            ),
        ]
    );
}
