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

// --- Response ---

use crate::json::scan::{
    Mode::{CaptureScalar as CS, Count as N},
    Pattern,
    Seg::{AnyIndex as Ix, Key as K},
};
use crate::parse::wire::{COUNT, Doc, ERROR, MESSAGE, Verdict, Wire, pats};

const PATTERNS: &[Pattern] = pats![
    COUNT, N, [K("ids"), Ix];
    ERROR, CS, [K("error")];
    MESSAGE, CS, [K("message")];
];

pub(crate) const WIRE: Wire = Wire {
    patterns: PATTERNS,
    end: error_end,
    error_member_on_failure_only: true,
    ..Wire::BASE
};

/// A failed call's `message` (typed by `code`, else `chroma_error`).
fn error_end(doc: Doc<'_>, v: &mut Verdict) {
    if let Some(m) = doc.message
        && doc.error_status
    {
        let ty = doc
            .code
            .unwrap_or_else(|| format!("{}_error", doc.provider.slug()));
        v.error(Some(ty), Some(m));
    }
}

// --- Request ---

use crate::request::body::Body;
use crate::request::info::RequestInfo;

/// `n_results` and the `ids` written.
pub(crate) fn peek(b: &Body, info: &mut RequestInfo) {
    info.vector_top_k = b.n_results.as_u64();
    info.batch_size = b.ids.0;
}
