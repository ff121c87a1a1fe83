//! Pinecone vector database.

use crate::detect::rule::{
    DELETE, GET, HostMatch, Mount, POST, Rule, mount, rule, starts_with_ignore_case,
};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const PINECONE: &[Rule] = &[
    rule(POST, "query", Op::VectorQuery, F::Pinecone).no_stream(),
    rule(POST, "vectors/upsert", Op::VectorUpsert, F::Pinecone).no_stream(),
    rule(GET, "vectors/fetch", Op::VectorFetch, F::Pinecone).no_stream(),
    rule(
        POST | DELETE,
        "vectors/delete",
        Op::VectorDelete,
        F::Pinecone,
    )
    .no_stream(),
    rule(POST, "vectors/update", Op::VectorUpdate, F::Pinecone).no_stream(),
    rule(GET, "vectors/list", Op::VectorOther, F::Pinecone).no_stream(),
    rule(
        GET | POST,
        "describe_index_stats",
        Op::VectorOther,
        F::Pinecone,
    )
    .no_stream(),
    rule(
        POST,
        "records/namespaces/{namespace}/search",
        Op::VectorQuery,
        F::Pinecone,
    )
    .no_stream(),
    rule(
        POST,
        "records/namespaces/{namespace}/upsert",
        Op::VectorUpsert,
        F::Pinecone,
    )
    .no_stream(),
    rule(
        POST,
        "namespaces/{namespace}/documents/upsert",
        Op::VectorUpsert,
        F::Pinecone,
    )
    .no_stream(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(Provider::Pinecone, &[mount("", PINECONE)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] =
    &[(HostMatch::Suffix(".pinecone.io"), Provider::Pinecone)];

/// The Pinecone index name from an index host
/// (`{index}-{project}.svc.{environment}.pinecone.io`).
pub(crate) fn index_from_host(host: &str) -> Option<String> {
    let (label, rest) = host.split_once('.')?;
    if !starts_with_ignore_case(rest, "svc.") {
        return None;
    }
    let index = match label.rsplit_once('-') {
        Some((index, project))
            if !index.is_empty()
                && (4..=10).contains(&project.len())
                && project.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            index
        }
        _ => label,
    };
    Some(index.to_ascii_lowercase())
}

// --- Response ---

use crate::json::lite::Lite;
use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS, Count as N},
    Pattern,
    Seg::Key as K,
};
use crate::parse::raw::{Raw, n};
use crate::parse::wire::{CODE, COUNT, Doc, ERROR, MESSAGE, USAGE, Verdict, WRITTEN, Wire, pats};
use crate::usage::ResponseInfo;

const PATTERNS: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    WRITTEN, CS, [K("upsertedCount")];
    COUNT, N, [K("matches")];
    COUNT, N, [K("result"), K("hits")];
    ERROR, C, [K("error")];
    MESSAGE, CS, [K("message")];
    CODE, CS, [K("code")];
];

pub(crate) const WIRE: Wire = Wire {
    patterns: PATTERNS,
    end: error_end,
    usage: Some(usage),
    ..Wire::BASE
};

/// A top-level `message` is an error (typed by `code`, else `pinecone_error`).
fn error_end(doc: Doc<'_>, v: &mut Verdict) {
    if let Some(m) = doc.message {
        let ty = doc
            .code
            .unwrap_or_else(|| format!("{}_error", doc.provider.slug()));
        v.error(Some(ty), Some(m));
    }
}

/// `usage`: read / write units, and the tokens of integrated embedding.
fn usage(v: &Lite<'_>, info: &mut ResponseInfo) -> Option<Raw> {
    if let Some(ru) = n(v, &["readUnits"]).or_else(|| n(v, &["read_units"])) {
        info.vector.read_units = Some(ru);
    }
    if let Some(wu) = n(v, &["writeUnits"]).or_else(|| n(v, &["write_units"])) {
        info.vector.write_units = Some(wu);
    }
    n(v, &["embed_total_tokens"]).map(|t| Raw {
        input: Some(t),
        ..Raw::default()
    })
}

// --- Request ---

use crate::request::body::Body;
use crate::request::info::RequestInfo;

/// `topK`, `namespace` and the `vectors` upserted.
pub(crate) fn peek(b: &Body, info: &mut RequestInfo) {
    info.vector_top_k = b.top_k_camel.as_u64();
    info.namespace = b.namespace.as_str().map(str::to_owned);
    info.batch_size = b.vectors.0;
}
