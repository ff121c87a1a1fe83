//! Milvus / Zilliz vector database.

use crate::detect::rule::{HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const MILVUS: &[Rule] = &[
    rule(
        POST,
        "search|hybrid_search|advanced_search",
        Op::VectorQuery,
        F::Milvus,
    )
    .no_stream(),
    rule(POST, "query|get", Op::VectorFetch, F::Milvus).no_stream(),
    rule(POST, "insert|upsert", Op::VectorUpsert, F::Milvus).no_stream(),
    rule(POST, "delete", Op::VectorDelete, F::Milvus).no_stream(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] =
    &[(Provider::Milvus, &[mount("/v2/vectordb/entities", MILVUS)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Suffix(".zillizcloud.com"), Provider::Milvus)];

/// Any host on the default port of a self-hosted server (matched after
/// every hostname row).
pub(crate) const PORTS: &[(HostMatch, Provider)] = &[(HostMatch::Port(19530), Provider::Milvus)];

// --- Response ---

use crate::json::scan::{
    Mode::{CaptureScalar as CS, Count as N},
    Pattern,
    Seg::Key as K,
};
use crate::parse::wire::{CODE, COST_UNITS, COUNT, Doc, MESSAGE, Verdict, WRITTEN, Wire, pats};

const PATTERNS: &[Pattern] = pats![
    CODE, CS, [K("code")];
    MESSAGE, CS, [K("message")];
    COST_UNITS, CS, [K("cost")];
    COUNT, N, [K("data")];
    WRITTEN, CS, [K("data"), K("insertCount")];
    WRITTEN, CS, [K("data"), K("upsertCount")];
];

pub(crate) const WIRE: Wire = Wire {
    patterns: PATTERNS,
    end: error_end,
    ..Wire::BASE
};

/// Milvus answers HTTP 200 with `code` 0 (or 200) on success; any other code is an error.
fn error_end(doc: Doc<'_>, v: &mut Verdict) {
    if let Some(c) = doc.code.filter(|c| c != "0" && c != "200") {
        v.error(Some(c), doc.message);
    }
}

// --- Request ---

use crate::request::body::Body;
use crate::request::info::RequestInfo;

/// `limit`, `collectionName` and the `data` rows written.
pub(crate) fn peek(b: &Body, info: &mut RequestInfo) {
    info.vector_top_k = b.limit.as_u64();
    info.collection = b.collection_name.as_str().map(str::to_owned);
    info.batch_size = b.data.0;
}
