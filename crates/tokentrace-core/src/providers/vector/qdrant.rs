//! Qdrant vector database.

use crate::detect::rule::{HostMatch, Mount, POST, PUT, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const QDRANT: &[Rule] = &[
    rule(
        POST,
        "points/search|query|recommend|discover",
        Op::VectorQuery,
        F::Qdrant,
    )
    .no_stream(),
    rule(
        POST,
        "points/search|query|recommend|discover/batch|groups",
        Op::VectorQuery,
        F::Qdrant,
    )
    .no_stream(),
    rule(POST, "points/scroll", Op::VectorFetch, F::Qdrant).no_stream(),
    rule(POST, "points/delete", Op::VectorDelete, F::Qdrant).no_stream(),
    rule(PUT, "points", Op::VectorUpsert, F::Qdrant).no_stream(),
    rule(POST, "points", Op::VectorFetch, F::Qdrant).no_stream(),
    rule(
        POST | PUT,
        "points/payload|vectors",
        Op::VectorUpdate,
        F::Qdrant,
    )
    .no_stream(),
    rule(
        POST,
        "points/payload|vectors/delete|clear",
        Op::VectorUpdate,
        F::Qdrant,
    )
    .no_stream(),
    rule(POST, "points/count", Op::VectorOther, F::Qdrant).no_stream(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::Qdrant,
    &[mount("/collections/{collection}", QDRANT)],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Suffix(".cloud.qdrant.io"), Provider::Qdrant)];

/// Any host on the default port of a self-hosted server (matched after
/// every hostname row).
pub(crate) const PORTS: &[(HostMatch, Provider)] = &[(HostMatch::Port(6333), Provider::Qdrant)];

// --- Response ---

use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS, Count as N},
    Pattern,
    Seg::Key as K,
};
use crate::parse::wire::{COUNT, STATUS, TIME, Wire, pats};

const PATTERNS: &[Pattern] = pats![
    TIME, CS, [K("time")];
    COUNT, N, [K("result")];
    COUNT, N, [K("result"), K("points")];
    STATUS, C, [K("status")];
];

pub(crate) const WIRE: Wire = Wire {
    patterns: PATTERNS,
    status_error: Some(status_error),
    ..Wire::BASE
};

/// Qdrant reports failures as `"status": {"error": "..."}`.
fn status_error(raw: &[u8]) -> Option<(String, String)> {
    let v = serde_json::from_slice::<serde_json::Value>(raw).ok()?;
    let e = v.get("error")?.as_str()?;
    Some(("qdrant_error".to_owned(), e.to_owned()))
}

// --- Request ---

use crate::request::body::Body;
use crate::request::info::RequestInfo;

/// `limit`, and the `points` (or `batch.ids`) written.
pub(crate) fn peek(b: &Body, info: &mut RequestInfo) {
    info.vector_top_k = b.limit.as_u64();
    info.batch_size = b
        .points
        .0
        .or_else(|| b.batch.0.as_ref().and_then(|x| x.ids.0));
}
