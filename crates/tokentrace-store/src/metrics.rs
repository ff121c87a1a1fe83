//! A running summary of the OpenTelemetry metrics in the store's `metrics`
//! table (schema 4): one row per metric name and attribute set, to which each
//! export adds its deltas. It is what `tokentrace::init()` installs next to
//! the OTLP metric exporter, so token usage, durations and cost by
//! provider/model are kept locally even without a collector.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use rusqlite::{Connection, params};

use crate::encode::time_ns;
use crate::error::StoreError;
use crate::schema;

/// How long a metrics write waits for the span writer's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// An OpenTelemetry [`PushMetricExporter`] that adds every export (delta
/// temporality) to the `metrics` table. Runs on the periodic reader's own
/// thread; nothing it does is traced. `tokentrace::init()` installs it when
/// the store is on.
#[derive(Debug)]
pub struct StoreMetricExporter {
    conn: Mutex<Option<Connection>>,
}

/// One series of one export, ready to add to its row.
pub(crate) struct Row<'a> {
    name: &'a str,
    attributes: String,
    kind: &'static str,
    count: u64,
    sum: f64,
}

impl StoreMetricExporter {
    /// Open (and create or migrate) the store at `path` for metric summaries.
    ///
    /// # Errors
    ///
    /// The store cannot be opened or migrated.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = schema::open(path.as_ref(), BUSY_TIMEOUT)?;
        Ok(Self {
            conn: Mutex::new(Some(conn)),
        })
    }

    fn write(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut rows = Vec::new();
        for scope in metrics.scope_metrics() {
            for metric in scope.metrics() {
                collect(metric.name(), metric.data(), &mut rows);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("metrics connection poisoned".to_owned()))?;
        let Some(conn) = guard.as_mut() else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let now = time_ns(SystemTime::now());
        // Never traced: a span from here would come back through the exporters.
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            let tx = conn.transaction()?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO metrics (name, attributes, kind, count, sum, updated_ns)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (name, attributes) DO UPDATE SET
                       count = count + excluded.count,
                       sum = CASE WHEN excluded.kind = 'gauge' THEN excluded.sum
                                  ELSE sum + excluded.sum END,
                       updated_ns = excluded.updated_ns",
                )?;
                for r in &rows {
                    upsert.execute(params![
                        r.name,
                        r.attributes,
                        r.kind,
                        i64::try_from(r.count).unwrap_or(i64::MAX),
                        r.sum,
                        now
                    ])?;
                }
            }
            tx.commit()
        })
        .map_err(|e| OTelSdkError::InternalFailure(format!("metrics write failed: {e}")))
    }
}

fn attributes_json<'a>(attrs: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut pairs: Vec<(String, serde_json::Value)> = attrs
        .map(|kv| {
            let v = match &kv.value {
                opentelemetry::Value::I64(i) => serde_json::Value::from(*i),
                opentelemetry::Value::F64(f) => serde_json::Value::from(*f),
                opentelemetry::Value::Bool(b) => serde_json::Value::from(*b),
                other => serde_json::Value::from(other.as_str().into_owned()),
            };
            (kv.key.as_str().to_owned(), v)
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    serde_json::Value::Object(pairs.into_iter().collect()).to_string()
}

fn collect<'a>(name: &'a str, data: &AggregatedMetrics, rows: &mut Vec<Row<'a>>) {
    macro_rules! series {
        ($data:expr, $conv:expr) => {
            match $data {
                MetricData::Histogram(h) => {
                    for p in h.data_points() {
                        rows.push(Row {
                            name,
                            attributes: attributes_json(p.attributes()),
                            kind: "histogram",
                            count: p.count(),
                            sum: $conv(p.sum()),
                        });
                    }
                }
                MetricData::Sum(s) => {
                    for p in s.data_points() {
                        rows.push(Row {
                            name,
                            attributes: attributes_json(p.attributes()),
                            kind: "sum",
                            count: 0,
                            sum: $conv(p.value()),
                        });
                    }
                }
                MetricData::Gauge(g) => {
                    for p in g.data_points() {
                        rows.push(Row {
                            name,
                            attributes: attributes_json(p.attributes()),
                            kind: "gauge",
                            count: 0,
                            sum: $conv(p.value()),
                        });
                    }
                }
                MetricData::ExponentialHistogram(h) => {
                    for p in h.data_points() {
                        rows.push(Row {
                            name,
                            attributes: attributes_json(p.attributes()),
                            kind: "histogram",
                            count: p.count() as u64,
                            sum: $conv(p.sum()),
                        });
                    }
                }
            }
        };
    }
    // Integer measurements become f64 sums; token counts stay exact below 2^53.
    #[allow(clippy::cast_precision_loss)]
    match data {
        AggregatedMetrics::F64(d) => series!(d, |v: f64| v),
        AggregatedMetrics::U64(d) => series!(d, |v: u64| v as f64),
        AggregatedMetrics::I64(d) => series!(d, |v: i64| v as f64),
    }
}

impl PushMetricExporter for StoreMetricExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let result = self.write(metrics);
        async move { result }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if let Ok(mut guard) = self.conn.lock() {
            guard.take();
        }
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        // Each export carries what happened since the last one, which is
        // exactly what the table adds up.
        Temporality::Delta
    }
}
