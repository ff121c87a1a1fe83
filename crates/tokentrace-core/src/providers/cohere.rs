//! Cohere: v2 chat, v1 chat / generate, embed and rerank.

use crate::detect::rule::{HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const COHERE_V2: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::CohereChat),
    rule(POST, "embed", Op::Embeddings, F::CohereMeta).unary(),
    rule(POST, "rerank", Op::Rerank, F::CohereMeta).unary(),
];

pub(crate) const COHERE_V1: &[Rule] = &[
    rule(POST, "chat", Op::Chat, F::CohereV1),
    rule(POST, "generate", Op::TextCompletion, F::CohereV1),
    rule(POST, "embed", Op::Embeddings, F::CohereMeta).unary(),
    rule(POST, "rerank", Op::Rerank, F::CohereMeta).unary(),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] = &[(
    Provider::Cohere,
    &[mount("/v2", COHERE_V2), mount("/v1", COHERE_V1)],
)];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
    (HostMatch::Exact("api.cohere.com"), Provider::Cohere),
    (HostMatch::Exact("api.cohere.ai"), Provider::Cohere),
];

// --- Response ---

use crate::json::lite::Json;
use crate::json::lite::Lite;
use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS},
    Pattern,
    Seg::Key as K,
};
use crate::parse::raw::{Raw, n};
use crate::parse::wire::{
    Doc, EVENT_TYPE, FINISH, FINISHED, ID, MESSAGE, META, Needle, Sticky, TYPE, USAGE, Verdict,
    Wire, pats,
};
use crate::usage::ResponseInfo;

const CHAT_PATTERNS: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    USAGE, C, [K("delta"), K("usage")];
    META, C, [K("meta")];
    ID, CS, [K("id")];
    FINISH, CS, [K("finish_reason")];
    FINISH, CS, [K("delta"), K("finish_reason")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
];

const V1_PATTERNS: &[Pattern] = pats![
    META, C, [K("meta")];
    META, C, [K("response"), K("meta")];
    ID, CS, [K("generation_id")];
    ID, CS, [K("response_id")];
    ID, CS, [K("response"), K("generation_id")];
    ID, CS, [K("response"), K("response_id")];
    FINISH, CS, [K("finish_reason")];
    FINISH, CS, [K("response"), K("finish_reason")];
    EVENT_TYPE, CS, [K("event_type")];
    FINISHED, CS, [K("is_finished")];
    MESSAGE, CS, [K("message")];
];

const META_PATTERNS: &[Pattern] = pats![
    META, C, [K("meta")];
    ID, CS, [K("id")];
    MESSAGE, CS, [K("message")];
];

const CHAT_NEEDLES: &[Needle] = {
    use Needle::{Any, Key, Sticky as S};
    &[
        Any(b"\"message-end\""),
        Key(b"\"message\""),
        Key(b"\"usage\""),
        Key(b"\"finish_reason\""),
        Key(b"\"meta\""),
        S(b"\"id\"", Sticky::Id),
    ]
};

const V1_NEEDLES: &[Needle] = {
    use Needle::{Any, Key, Sticky as S};
    &[
        Any(b"\"stream-end\""),
        Key(b"\"message\""),
        Key(b"\"meta\""),
        Key(b"\"finish_reason\""),
        Key(b"\"is_finished\""),
        S(b"\"generation_id\"", Sticky::Id),
        S(b"\"response_id\"", Sticky::Id),
    ]
};

/// v2 chat.
pub(crate) const CHAT: Wire = Wire {
    patterns: CHAT_PATTERNS,
    needles: CHAT_NEEDLES,
    end: chat_end,
    meta: Some(meta_tokens),
    ..Wire::BASE
};

/// v1 chat and generate.
pub(crate) const V1: Wire = Wire {
    patterns: V1_PATTERNS,
    needles: V1_NEEDLES,
    end: v1_end,
    meta: Some(meta_tokens),
    ..Wire::BASE
};

/// Embed and rerank (never streamed).
pub(crate) const META_ONLY: Wire = Wire {
    patterns: META_PATTERNS,
    end: meta_end,
    meta: Some(meta_with_images),
    ..Wire::BASE
};

fn chat_end(doc: Doc<'_>, v: &mut Verdict) {
    if doc.doc_type == Some("message-end") {
        v.terminal = true;
    }
    meta_end(doc, v);
}

fn v1_end(doc: Doc<'_>, v: &mut Verdict) {
    if doc.doc_type == Some("stream-end") {
        v.terminal = true;
    }
    meta_end(doc, v);
}

/// A top-level `message` is Cohere's error body.
fn meta_end(doc: Doc<'_>, v: &mut Verdict) {
    if let Some(m) = doc.message {
        v.error(Some("cohere_error".to_owned()), Some(m));
    }
}

/// `meta.billed_units` of chat and generate.
fn meta_tokens(v: &Lite<'_>, info: &mut ResponseInfo) -> Option<Raw> {
    billed_units(v, false, info)
}

/// `meta.billed_units` of embed and rerank: billed images count as input,
/// `search_units` are rerank's.
fn meta_with_images(v: &Lite<'_>, info: &mut ResponseInfo) -> Option<Raw> {
    billed_units(v, true, info)
}

fn billed_units(v: &Lite<'_>, images: bool, info: &mut ResponseInfo) -> Option<Raw> {
    let b = v.member("billed_units")?;
    let mut r = Raw {
        input: n(b, &["input_tokens"]),
        output: n(b, &["output_tokens"]),
        ..Raw::default()
    };
    if let Some(img) = n(b, &["images"]).or_else(|| n(b, &["image_tokens"]))
        && images
    {
        r.input = Some(r.input.unwrap_or(0).saturating_add(img));
    }
    if let Some(su) = n(b, &["search_units"]) {
        info.vector.search_units = Some(su);
    }
    (!r.is_empty()).then_some(r)
}

/// v2 chat `usage.billed_units` (bill on billed units).
pub(crate) fn usage<J: Json>(v: &J) -> Option<Raw> {
    let b = v.member("billed_units")?;
    // `cached_tokens` counts raw template tokens, not billed ones (it can
    // exceed billed input), so it is not a cache read of the billed input.
    Some(Raw {
        input: n(b, &["input_tokens"]),
        output: n(b, &["output_tokens"]),
        ..Raw::default()
    })
}
