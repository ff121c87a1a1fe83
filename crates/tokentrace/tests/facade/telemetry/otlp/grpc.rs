//! OTLP over gRPC on the wire: a tonic OTLP receiver on 127.0.0.1 decodes the
//! real requests (spans and metrics); protocol selection from the
//! environment; a collector that refuses connections.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use tokentrace::{OtlpProtocol, Telemetry};
use tokentrace_core::semconv;
use tonic::metadata::MetadataMap;

use super::{assert_llm_spans, faulty_collector, llm_work, service_name};

#[derive(Debug, Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    trace_metadata: Vec<MetadataMap>,
    metric_metadata: Vec<MetadataMap>,
}

#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let (metadata, _, body) = request.into_parts();
        let mut r = self.0.lock().unwrap();
        r.trace_metadata.push(metadata);
        r.traces.push(body);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let (metadata, _, body) = request.into_parts();
        let mut r = self.0.lock().unwrap();
        r.metric_metadata.push(metadata);
        r.metrics.push(body);
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A tonic OTLP trace + metrics receiver on 127.0.0.1, on its own runtime.
struct GrpcReceiver {
    addr: SocketAddr,
    collector: Collector,
    runtime: Option<tokio::runtime::Runtime>,
}

impl GrpcReceiver {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let incoming = runtime
            .block_on(async {
                tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], 0).into())
            })
            .unwrap();
        let addr = incoming.local_addr().unwrap();
        let collector = Collector::default();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(incoming);
        runtime.spawn(server);
        Self {
            addr,
            collector,
            runtime: Some(runtime),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> Vec<Span> {
        self.collector
            .0
            .lock()
            .unwrap()
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }

    fn metric_names(&self) -> Vec<String> {
        self.collector
            .0
            .lock()
            .unwrap()
            .metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| m.name.clone())
            .collect()
    }

    fn first_trace_metadata(&self, key: &str) -> Option<String> {
        let r = self.collector.0.lock().unwrap();
        let value = r.trace_metadata.first()?.get(key)?;
        Some(value.to_str().unwrap().to_owned())
    }
}

impl Drop for GrpcReceiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[test]
fn spans_and_metrics_reach_a_grpc_collector() {
    let receiver = GrpcReceiver::start();
    let (dispatch, guard) = Telemetry::builder()
        .service_name("grpc-test")
        .no_store()
        .otlp_endpoint(receiver.url())
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_header("x-team", "llm")
        .otlp_header("authorization", "Bearer sk-test-1")
        .build()
        .unwrap();
    let out = tracing::dispatcher::with_default(&dispatch, || llm_work(1));
    assert_eq!(out, 2);
    guard.flush();
    assert_eq!(guard.dropped_spans(), 0);

    assert_llm_spans(&receiver.spans());
    assert_eq!(
        receiver.first_trace_metadata("x-team").as_deref(),
        Some("llm")
    );
    assert_eq!(
        receiver.first_trace_metadata("authorization").as_deref(),
        Some("Bearer sk-test-1")
    );
    {
        let r = receiver.collector.0.lock().unwrap();
        assert_eq!(
            service_name(&r.traces[0].resource_spans[0]),
            Some(Value::StringValue("grpc-test".to_owned()))
        );
        assert_eq!(
            r.metric_metadata[0]
                .get("x-team")
                .map(|v| v.to_str().unwrap()),
            Some("llm")
        );
    }
    // The GenAI client metrics of the LLM call, over the metrics service.
    let names = receiver.metric_names();
    for expected in [
        semconv::metrics::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
        semconv::metrics::GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
        semconv::metrics::GEN_AI_CLIENT_INFERENCE_DURATION,
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let started = Instant::now();
    drop(guard);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Built, used, flushed and dropped on a current-thread runtime's only
/// thread (as in `#[tokio::main(flavor = "current_thread")]`): the exporter
/// runs on its own runtime, so nothing needs the application's runtime.
#[test]
fn grpc_export_works_inside_a_current_thread_runtime() {
    let receiver = GrpcReceiver::start();
    let app = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = receiver.url();
    let out = app.block_on(async move {
        let (dispatch, guard) = Telemetry::builder()
            .no_store()
            .otlp_endpoint(endpoint)
            .otlp_protocol(OtlpProtocol::Grpc)
            .build()
            .unwrap();
        let out = tracing::dispatcher::with_default(&dispatch, || llm_work(1));
        tokio::task::yield_now().await;
        guard.flush();
        assert_eq!(guard.dropped_spans(), 0);
        drop(guard);
        out
    });
    assert_eq!(out, 2);
    assert_llm_spans(&receiver.spans());
    let names = receiver.metric_names();
    assert!(
        names
            .iter()
            .any(|n| n == semconv::metrics::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS),
        "{names:?}"
    );
}

/// Protocol and headers from the environment, read in a child process
/// (the environment of this one is shared by every test).
const CHILD_ENV: &str = "TOKENTRACE_FACADE_GRPC_ENV_CHILD";

/// Runs only as the child of [`the_environment_selects_grpc`].
#[test]
#[ignore = "child process of the_environment_selects_grpc"]
fn child_exports_as_the_environment_says() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let (dispatch, guard) = Telemetry::builder().from_env().build().unwrap();
    let out = tracing::dispatcher::with_default(&dispatch, || llm_work(1));
    assert_eq!(out, 2);
    guard.flush();
    assert_eq!(guard.dropped_spans(), 0);
}

#[test]
fn the_environment_selects_grpc() {
    let receiver = GrpcReceiver::start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "telemetry::otlp::grpc::child_exports_as_the_environment_says",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url())
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20sk-env-2,x-team=env",
        )
        .env("TOKENTRACE_STORE", "off")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SDK_DISABLED")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert_llm_spans(&receiver.spans());
    assert_eq!(
        receiver.first_trace_metadata("authorization").as_deref(),
        Some("Bearer sk-env-2")
    );
    assert_eq!(
        receiver.first_trace_metadata("x-team").as_deref(),
        Some("env")
    );
    // The credential reached the collector and nothing else.
    assert!(!stdout.contains("sk-env-2") && !stderr.contains("sk-env-2"));
}

#[test]
fn http_json_in_the_environment_is_refused_in_the_child() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "telemetry::otlp::grpc::child_exports_as_the_environment_says",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .env("TOKENTRACE_STORE", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    // The child's `unwrap()` of the typed error prints it.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("InvalidEnv") && stderr.contains("http/json is not supported"),
        "{stderr}"
    );
}

/// Nothing listens: the application's results and timing are unaffected,
/// every span is counted as lost, and dropping the guard returns promptly.
#[test]
fn a_refused_grpc_connection_is_counted_and_shutdown_is_prompt() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    faulty_collector(
        Telemetry::builder()
            .otlp_endpoint(format!("http://127.0.0.1:{port}"))
            .otlp_protocol(OtlpProtocol::Grpc),
        2000,
    );
}

/// The collector accepts the connection and never answers: each export
/// gives up at `otlp_timeout`, spans are counted, and dropping the guard
/// (flush, shutdown, final metrics export) stays bounded.
#[test]
fn a_silent_grpc_collector_is_counted_and_shutdown_is_bounded() {
    // Bound, never accepted: TCP connects (kernel backlog), HTTP/2 never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    faulty_collector(
        Telemetry::builder()
            .otlp_endpoint(format!("http://{}", silent.local_addr().unwrap()))
            .otlp_protocol(OtlpProtocol::Grpc),
        200,
    );
}
