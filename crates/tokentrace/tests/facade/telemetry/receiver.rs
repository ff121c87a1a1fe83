//! A minimal OTLP/HTTP receiver on 127.0.0.1 that decodes protobuf
//! (gzip-compressed or not) with `opentelemetry-proto`.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    Accept,
    Status(u16),
    Hang,
}

#[derive(Debug, Default)]
pub(crate) struct Received {
    pub(crate) requests: Vec<ExportTraceServiceRequest>,
    pub(crate) headers: Vec<HeaderMap>,
}

pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    pub(crate) received: Arc<Mutex<Received>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    pub(crate) fn start(behaviour: Behaviour) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let state = Arc::clone(&received);
        let handler = move |headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&state);
            async move {
                match behaviour {
                    Behaviour::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        StatusCode::OK
                    }
                    Behaviour::Status(code) => StatusCode::from_u16(code).unwrap(),
                    Behaviour::Accept => {
                        let raw = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
                            let mut out = Vec::new();
                            flate2::read::GzDecoder::new(&body[..])
                                .read_to_end(&mut out)
                                .unwrap();
                            out
                        } else {
                            body.to_vec()
                        };
                        let request = ExportTraceServiceRequest::decode(&raw[..]).unwrap();
                        let mut r = state.lock().unwrap();
                        r.requests.push(request);
                        r.headers.push(headers);
                        StatusCode::OK
                    }
                }
            }
        };
        let app = axum::Router::new().route("/v1/traces", axum::routing::post(handler));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            received,
            _runtime: runtime,
        }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Hung handlers must not block the test's end.
        let rt = std::mem::replace(
            &mut self._runtime,
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        );
        rt.shutdown_background();
    }
}
