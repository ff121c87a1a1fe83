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
