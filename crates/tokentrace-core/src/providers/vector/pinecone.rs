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
