//! Request peek: model, stream flag and parameters from a JSON request body.
//!
//! The body is read once into a small typed struct holding only the fields
//! below; everything else is skipped by serde without being built. Every
//! field is read leniently: a value of an unexpected type is ignored rather
//! than failing the whole peek, and a body that is not a JSON object gives an
//! empty [`RequestInfo`].
//!
//! ```
//! use tokentrace_core::Flavor;
//! use tokentrace_core::request::{inject_include_usage, peek_request};
//!
//! let body = br#"{"model":"gpt-4o-mini","stream":true,"max_completion_tokens":64,"messages":[]}"#;
//! let info = peek_request(Flavor::OpenAiChat, body);
//! assert_eq!(info.model.as_deref(), Some("gpt-4o-mini"));
//! assert_eq!((info.stream, info.max_tokens, info.include_usage), (Some(true), Some(64), None));
//!
//! let patched = inject_include_usage(body).expect("streaming without include_usage");
//! assert!(std::str::from_utf8(&patched).unwrap().starts_with(r#"{"stream_options":{"include_usage":true},"model""#));
//! ```

pub(crate) mod body;
pub(crate) mod info;
mod inject;
pub(crate) mod lenient;
#[cfg(test)]
mod tests;

pub use info::RequestInfo;
pub use inject::inject_include_usage;

use crate::provider::Flavor;
use crate::providers::ollama;
use crate::providers::vector::{chroma, milvus, pinecone, qdrant, weaviate};
use body::Body;
use lenient::{Obj, Scalar, first_f64, first_u64};

/// Read model, stream flag and parameters from a request body. Never fails:
/// a body that is not JSON gives an empty [`RequestInfo`].
pub fn peek_request(flavor: Flavor, body: &[u8]) -> RequestInfo {
    let Ok(Obj(Some(b))) = serde_json::from_slice::<Obj<Body>>(body) else {
        return RequestInfo::default();
    };
    // What a vector database's body says (read first: the fields below are
    // moved out of the body).
    let mut tail = RequestInfo::default();
    match flavor {
        Flavor::Pinecone => pinecone::peek(&b, &mut tail),
        Flavor::Qdrant => qdrant::peek(&b, &mut tail),
        Flavor::Weaviate => weaviate::peek(&b, &mut tail),
        Flavor::Chroma => chroma::peek(&b, &mut tail),
        Flavor::Milvus => milvus::peek(&b, &mut tail),
        _ => {}
    }
    let gc = b.generation_config.0.unwrap_or_default();
    let ic = b.inference_config.0.unwrap_or_default();
    let op = b.options.0.unwrap_or_default();
    let cohere = matches!(
        flavor,
        Flavor::CohereChat | Flavor::CohereV1 | Flavor::CohereMeta
    );

    let mut info = RequestInfo {
        model: b.model.into_string(),
        stream: b.stream.as_bool(),
        include_usage: b.stream_options.0.and_then(|o| o.include_usage.as_bool()),
        max_tokens: first_u64(&[
            &b.max_tokens,
            &b.max_completion_tokens,
            &b.max_output_tokens,
            &gc.max_output_tokens,
            &ic.max_tokens,
            &ic.max_new_tokens,
            &op.num_predict,
            &b.max_gen_len,
        ]),
        temperature: first_f64(&[
            &b.temperature,
            &gc.temperature,
            &ic.temperature,
            &op.temperature,
        ]),
        top_p: first_f64(&[
            &b.top_p,
            &gc.top_p,
            &ic.top_p,
            &ic.top_p_snake,
            &op.top_p,
            if cohere { &b.p } else { &Scalar::Absent },
        ]),
        top_k: first_f64(&[
            &b.top_k,
            &gc.top_k,
            &ic.top_k,
            &op.top_k,
            if cohere { &b.k } else { &Scalar::Absent },
            if flavor == Flavor::CohereMeta {
                &b.top_n
            } else {
                &Scalar::Absent
            },
        ]),
        frequency_penalty: first_f64(&[
            &b.frequency_penalty,
            &gc.frequency_penalty,
            &op.frequency_penalty,
        ]),
        presence_penalty: first_f64(&[
            &b.presence_penalty,
            &gc.presence_penalty,
            &op.presence_penalty,
        ]),
        seed: [&b.seed, &gc.seed, &op.seed]
            .into_iter()
            .find_map(Scalar::as_i64),
        stop_sequences: [
            b.stop,
            b.stop_sequences,
            gc.stop_sequences,
            ic.stop_sequences,
            op.stop,
        ]
        .into_iter()
        .find(|l| !l.0.is_empty())
        .map(|l| l.0)
        .unwrap_or_default(),
        choice_count: first_u64(&[&b.n, &gc.candidate_count]),
        service_tier: b.service_tier.into_string(),
        encoding_formats: match b.encoding_format.into_string() {
            Some(f) => vec![f],
            None => b.embedding_types.0,
        },
        dimensions: first_u64(&[&b.dimensions, &b.output_dimension, &b.output_dimensionality]),
        ..tail
    };
    info.stream = ollama::default_stream(
        flavor,
        info.stream,
        b.messages.is_some() || b.prompt.is_some(),
    );

    info
}
