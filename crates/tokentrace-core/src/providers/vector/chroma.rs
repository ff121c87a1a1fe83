//! Chroma vector database.

use crate::detect::rule::{GET, HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const CHROMA: &[Rule] = &[
    rule(POST, "query", Op::VectorQuery, F::Chroma).no_stream(),
    rule(POST, "add|upsert", Op::VectorUpsert, F::Chroma).no_stream(),
    rule(POST, "get", Op::VectorFetch, F::Chroma).no_stream(),
    rule(POST, "delete", Op::VectorDelete, F::Chroma).no_stream(),
    rule(POST, "update", Op::VectorUpdate, F::Chroma).no_stream(),
    rule(GET, "count", Op::VectorOther, F::Chroma).no_stream(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::Chroma,
    &[
        mount(
            "/api/v2/tenants/*/databases/*/collections/{collection}",
            CHROMA,
        ),
        mount("/api/v1/collections/{collection}", CHROMA),
    ],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Exact("api.trychroma.com"), Provider::Chroma)];

/// Any host on the default port of a self-hosted server (matched after
/// every hostname row).
pub(crate) const PORTS: &[(HostMatch, Provider)] = &[(HostMatch::Port(8000), Provider::Chroma)];
