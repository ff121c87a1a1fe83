//! The `metrics` table: GenAI metric summaries added up export by export.

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use tokentrace_store::{Store, StoreMetricExporter};

#[test]
fn metric_exports_accumulate_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let exporter = StoreMetricExporter::new(&path).unwrap();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).build())
        .build();
    let meter = provider.meter("tokentrace");
    let tokens = meter.u64_histogram("gen_ai.client.token.usage").build();
    let cost = meter.f64_counter("tokentrace.cost.usd").build();
    let input = [
        KeyValue::new("gen_ai.token.type", "input"),
        KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
    ];
    tokens.record(120, &input);
    tokens.record(80, &input);
    cost.add(
        0.25,
        &[KeyValue::new("gen_ai.request.model", "gpt-4o-mini")],
    );
    provider.force_flush().unwrap();
    // A second export adds its deltas to the same rows.
    tokens.record(50, &input);
    cost.add(0.5, &[KeyValue::new("gen_ai.request.model", "gpt-4o-mini")]);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();

    let rows = Store::open(&path).unwrap().metrics().unwrap();
    let usage = rows
        .iter()
        .find(|r| r.name == "gen_ai.client.token.usage")
        .expect("token usage row");
    assert_eq!(usage.kind, "histogram");
    assert_eq!(usage.count, 3);
    assert!((usage.sum - 250.0).abs() < 1e-9, "{}", usage.sum);
    assert_eq!(usage.attributes["gen_ai.token.type"], "input");
    let spent = rows
        .iter()
        .find(|r| r.name == "tokentrace.cost.usd")
        .expect("cost row");
    assert_eq!(spent.kind, "sum");
    assert!((spent.sum - 0.75).abs() < 1e-12, "{}", spent.sum);
    assert_eq!(rows.len(), 2);
}
