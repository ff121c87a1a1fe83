//! Pinecone data plane `query` and `upsert` (`docs/providers.md`,
//! "Vector databases"; shape as in `fixtures/pinecone/test_pinecone_retrieval_2.json`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::text::hash;
use super::{Shared, bad_request, parse};

/// The mock index: a small support knowledge base.
const PASSAGES: &[(&str, &str)] = &[
    (
        "kb-billing-01",
        "Invoices are issued on the first day of each month and list usage per project.",
    ),
    (
        "kb-billing-02",
        "Usage above the plan quota is billed per thousand requests at the list price.",
    ),
    (
        "kb-billing-03",
        "Refunds for duplicate charges are processed within five business days.",
    ),
    (
        "kb-account-01",
        "Team owners can invite members and assign the viewer, editor or admin role.",
    ),
    (
        "kb-account-02",
        "Single sign-on is available on the business plan through SAML or OIDC.",
    ),
    (
        "kb-api-01",
        "API keys are scoped to a project and can be rotated without downtime.",
    ),
    (
        "kb-api-02",
        "Rate limits are applied per key; a 429 response carries a retry-after header.",
    ),
    (
        "kb-api-03",
        "Webhooks are retried with exponential backoff for up to twenty four hours.",
    ),
    (
        "kb-data-01",
        "Data is stored in the region chosen at project creation and never moved.",
    ),
    (
        "kb-data-02",
        "Exports are available as CSV or Parquet from the project settings page.",
    ),
    (
        "kb-ops-01",
        "Status updates and incident reports are published on the status page.",
    ),
    (
        "kb-ops-02",
        "Scheduled maintenance happens on Sundays between two and four UTC.",
    ),
];

pub(crate) async fn query(State(state): State<Shared>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(message) => return bad_request(&message),
    };
    let top_k = req["topK"]
        .as_u64()
        .unwrap_or(3)
        .clamp(1, PASSAGES.len() as u64);
    let include_metadata = req["includeMetadata"].as_bool() == Some(true);
    let include_values = req["includeValues"].as_bool() == Some(true);
    let vector: Vec<f64> = req["vector"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    let seed = hash(format!("{vector:?}").as_bytes());
    let start = usize::try_from(seed % PASSAGES.len() as u64).unwrap_or(0);
    let matches: Vec<Value> = (0..top_k)
        .map(|i| {
            let k = usize::try_from(i).unwrap_or(0);
            let (id, text) = PASSAGES[(start + k * 5) % PASSAGES.len()];
            let mut m = json!({
                "id": id,
                "score": (-0.037f64).mul_add(i as f64, 0.91) - (seed % 100) as f64 / 5000.0,
                "values": []
            });
            if include_values {
                m["values"] = json!(vector.iter().take(8).collect::<Vec<_>>());
            }
            if include_metadata {
                m["metadata"] = json!({"text": text, "source": "support-kb"});
            }
            m
        })
        .collect();
    let _ = state.next_id();
    // Read units: a base cost of 5 plus one per ten results, rounded up.
    super::json(
        StatusCode::OK,
        &json!({
            "results": [],
            "matches": matches,
            "namespace": req["namespace"].as_str().unwrap_or(""),
            "usage": {"readUnits": 5 + top_k.div_ceil(10)}
        }),
    )
}

pub(crate) async fn upsert(State(state): State<Shared>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(message) => return bad_request(&message),
    };
    let n = req["vectors"].as_array().map_or(0, Vec::len);
    let _ = state.next_id();
    super::json(StatusCode::OK, &json!({"upsertedCount": n}))
}
