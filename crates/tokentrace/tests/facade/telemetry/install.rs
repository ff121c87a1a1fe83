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
    // A second install fails cleanly.
    assert!(matches!(
        tokentrace::Telemetry::builder().no_store().install(),
        Err(tokentrace::TelemetryError::AlreadyInstalled(_))
    ));
    let fields: Vec<String> =
        opentelemetry::global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    assert!(fields.iter().any(|f| f == "traceparent"), "{fields:?}");
    assert!(fields.iter().any(|f| f == "baggage"), "{fields:?}");
    tracing::info_span!("child work", otel.name = "workflow.child").in_scope(|| {});
    // Dropping the guard flushes.
    drop(guard);
}

#[test]
fn init_installs_the_global_pipeline_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("child.db");
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
}
