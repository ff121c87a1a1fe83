//! Weaviate vector database.

use crate::detect::rule::{DELETE, GET, HostMatch, Mount, PATCH, POST, PUT, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const WEAVIATE: &[Rule] = &[
    rule(POST, "graphql", Op::VectorQuery, F::Weaviate).no_stream(),
    rule(POST, "objects", Op::VectorUpsert, F::Weaviate).no_stream(),
    rule(GET, "objects", Op::VectorFetch, F::Weaviate).no_stream(),
    rule(GET, "objects/{collection}/*", Op::VectorFetch, F::Weaviate).no_stream(),
    rule(
        DELETE,
        "objects/{collection}/*",
        Op::VectorDelete,
        F::Weaviate,
    )
    .no_stream(),
    rule(
        PUT | PATCH,
        "objects/{collection}/*",
        Op::VectorUpdate,
        F::Weaviate,
    )
    .no_stream(),
    rule(GET, "objects/*", Op::VectorFetch, F::Weaviate).no_stream(),
    rule(DELETE, "objects/*", Op::VectorDelete, F::Weaviate).no_stream(),
    rule(PUT | PATCH, "objects/*", Op::VectorUpdate, F::Weaviate).no_stream(),
    rule(POST, "batch/objects", Op::VectorUpsert, F::Weaviate).no_stream(),
    rule(DELETE, "batch/objects", Op::VectorDelete, F::Weaviate).no_stream(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] =
    &[(Provider::Weaviate, &[mount("/v1", WEAVIATE)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
    (HostMatch::Suffix(".weaviate.cloud"), Provider::Weaviate),
    (HostMatch::Suffix(".weaviate.network"), Provider::Weaviate),
];

/// Any host on the default port of a self-hosted server (matched after
/// every hostname row).
pub(crate) const PORTS: &[(HostMatch, Provider)] = &[(HostMatch::Port(8080), Provider::Weaviate)];

// --- Response ---

use crate::json::scan::{
    Mode::{Capture as C, Count as N},
    Pattern,
    Seg::{AnyKey as AnyK, Key as K},
};
use crate::parse::wire::{COUNT, ERROR, ERRORS, Wire, pats};

const PATTERNS: &[Pattern] = pats![
    COUNT, N, [K("data"), K("Get"), AnyK];
    ERRORS, C, [K("errors")];
    ERROR, C, [K("error")];
];

/// GraphQL `Get` answers one list per class: the result count is their sum.
pub(crate) const WIRE: Wire = Wire {
    patterns: PATTERNS,
    counts_add_up: true,
    ..Wire::BASE
};

// --- Request ---

use crate::request::body::Body;
use crate::request::info::RequestInfo;

/// `class` (or the class a GraphQL query reads) and the `objects` written.
pub(crate) fn peek(b: &Body, info: &mut RequestInfo) {
    info.collection = b
        .class
        .as_str()
        .or_else(|| b.query.as_str().and_then(graphql_class))
        .map(str::to_owned);
    info.batch_size = b.objects.0;
}

/// The class a Weaviate GraphQL query reads: the first field inside `Get { … }`
/// or `Aggregate { … }`.
pub(crate) fn graphql_class(query: &str) -> Option<&str> {
    for op in ["Get", "Aggregate"] {
        let mut search = query;
        while let Some(pos) = search.find(op) {
            let before_ok = search[..pos]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            let after = search[pos + op.len()..].trim_start();
            if before_ok && let Some(inner) = after.strip_prefix('{') {
                let inner = inner.trim_start();
                let end = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(inner.len());
                let name = &inner[..end];
                if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    return Some(name);
                }
            }
            search = &search[pos + op.len()..];
        }
    }
    None
}
