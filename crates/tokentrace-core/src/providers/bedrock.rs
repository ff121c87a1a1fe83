//! AWS Bedrock runtime: Converse and InvokeModel, unary and as AWS event
//! streams.

use crate::detect::rule::{FormatHint, HostMatch, Mount, POST, Rule, mount, rule};
use crate::provider::{Flavor, Operation};
use crate::provider::{Flavor as F, Operation as Op, Provider};

// --- Detection ---

pub(crate) const BEDROCK: &[Rule] = &[
    rule(POST, "converse", Op::Chat, F::BedrockConverse).unary(),
    rule(POST, "converse-stream", Op::Chat, F::BedrockConverse)
        .streaming(FormatHint::AwsEventStream),
    rule(POST, "invoke", Op::Chat, F::BedrockInvoke).unary(),
    rule(
        POST,
        "invoke-with-response-stream",
        Op::Chat,
        F::BedrockInvoke,
    )
    .streaming(FormatHint::AwsEventStream),
];

pub(crate) const ROUTES: &[(Provider, &[Mount])] =
    &[(Provider::Bedrock, &[mount("/model/{model}", BEDROCK)])];

pub(crate) const HOSTS: &[(HostMatch, Provider)] = &[
    (
        HostMatch::Around("bedrock-runtime.", ".amazonaws.com"),
        Provider::Bedrock,
    ),
    (
        HostMatch::Around("bedrock-runtime-fips.", ".amazonaws.com"),
        Provider::Bedrock,
    ),
];

/// InvokeModel serves embedding models too (Titan, Cohere embed); only the
/// model id tells.
pub(crate) fn operation(flavor: Flavor, model: Option<&str>, operation: Operation) -> Operation {
    match (flavor, model) {
        (Flavor::BedrockInvoke, Some(m)) if m.contains("embed") => Operation::Embeddings,
        _ => operation,
    }
}

// --- Response ---

use crate::json::lite::Json;
use crate::json::scan::{
    Mode::{Capture as C, CaptureScalar as CS},
    Pattern,
    Seg::{AnyIndex as Ix, Key as K},
};
use crate::parse::raw::{Raw, n};
use crate::parse::wire::{
    ANTHROPIC_MESSAGE_USAGE, BEDROCK_METRICS, BYTES, Doc, FINISH, ID, IN_TOKENS, MESSAGE, MODEL,
    Needle, OUT_TOKENS, TYPE, USAGE, Verdict, Wire, pats,
};

const BEDROCK_CONVERSE: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    FINISH, CS, [K("stopReason")];
    MESSAGE, CS, [K("message")];
    MESSAGE, CS, [K("Message")];
];

const BEDROCK_INVOKE: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    ANTHROPIC_MESSAGE_USAGE, C, [K("message"), K("usage")];
    MODEL, CS, [K("model")];
    MODEL, CS, [K("message"), K("model")];
    ID, CS, [K("id")];
    ID, CS, [K("message"), K("id")];
    FINISH, CS, [K("stop_reason")];
    FINISH, CS, [K("stopReason")];
    FINISH, CS, [K("delta"), K("stop_reason")];
    FINISH, CS, [K("results"), Ix, K("completionReason")];
    FINISH, CS, [K("output"), K("completionReason")];
    IN_TOKENS, CS, [K("prompt_token_count")];
    IN_TOKENS, CS, [K("inputTextTokenCount")];
    OUT_TOKENS, CS, [K("generation_token_count")];
    OUT_TOKENS, CS, [K("results"), Ix, K("tokenCount")];
    BEDROCK_METRICS, C, [K("amazon-bedrock-invocationMetrics")];
    BYTES, CS, [K("bytes")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
    MESSAGE, CS, [K("Message")];
];

/// Converse and ConverseStream.
pub(crate) const CONVERSE: Wire = Wire {
    patterns: BEDROCK_CONVERSE,
    end: converse_end,
    ..Wire::BASE
};

/// InvokeModel (Anthropic, Titan, Llama, Cohere… bodies); a stream's
/// `chunk` events carry the model's own events base64-encoded in `bytes`,
/// read with these same patterns.
pub(crate) const INVOKE: Wire = Wire {
    patterns: BEDROCK_INVOKE,
    needles: INVOKE_NEEDLES,
    end: invoke_end,
    ..Wire::BASE
};

/// Anthropic's needles, plus the `message` / `Message` members an AWS error
/// body carries: an InvokeModel error event is never skipped unread.
const INVOKE_NEEDLES: &[Needle] =
    super::anthropic::anthropic_needles!(Needle::Key(b"\"message\""), Needle::Key(b"\"Message\""),);

/// Event-stream `:event-type`s that end a ConverseStream.
pub(crate) const STREAM_END_EVENTS: &[&str] = &["messageStop", "metadata"];

/// A `message` (or `Message`) member is an AWS error body; the type comes
/// from the `x-amzn-errortype` header or the event-stream exception.
fn converse_end(doc: Doc<'_>, v: &mut Verdict) {
    if let Some(m) = doc.message {
        v.error(doc.aws_error_type.map(str::to_owned), Some(m));
    }
}

/// Anthropic's `message_stop` ends an InvokeModel stream of Anthropic events.
fn invoke_end(doc: Doc<'_>, v: &mut Verdict) {
    if doc.doc_type == Some("message_stop") {
        v.terminal = true;
    }
    converse_end(doc, v);
}

/// Converse / Nova usage (camelCase; input excludes cache).
pub(crate) fn converse_usage<J: Json>(v: &J) -> Option<Raw> {
    if v.member("inputTokens").is_none() && v.member("outputTokens").is_none() {
        return None;
    }
    Some(Raw {
        input: n(v, &["inputTokens"]),
        input_excludes_cache: true,
        output: n(v, &["outputTokens"]),
        total: n(v, &["totalTokens"]),
        cache_read: n(v, &["cacheReadInputTokens"]).or_else(|| n(v, &["cacheReadInputTokenCount"])),
        cache_write: n(v, &["cacheWriteInputTokens"])
            .or_else(|| n(v, &["cacheWriteInputTokenCount"])),
        ..Raw::default()
    })
}

/// `amazon-bedrock-invocationMetrics` of InvokeModel streams (input excludes cache).
pub(crate) fn invocation_metrics<J: Json>(v: &J) -> Option<Raw> {
    if v.member("inputTokenCount").is_none() && v.member("outputTokenCount").is_none() {
        return None;
    }
    Some(Raw {
        input: n(v, &["inputTokenCount"]),
        input_excludes_cache: true,
        output: n(v, &["outputTokenCount"]),
        cache_read: n(v, &["cacheReadInputTokenCount"]),
        cache_write: n(v, &["cacheWriteInputTokenCount"]),
        ..Raw::default()
    })
}

/// A response header Bedrock reports InvokeModel usage or an error type in:
/// counts go to `raw`; the error type (`ValidationException` from
/// `ValidationException:http://internal.amazon.com/coral/...`) is returned.
pub(crate) fn header<'v>(name: &str, value: &'v str, raw: &mut Raw) -> Option<&'v str> {
    // Every response header comes through here: reject the others on their
    // prefix, and compare names without a lowercased copy (`http` gives them
    // in lowercase already; any other caller may not).
    const PREFIX: &str = "x-amzn-";
    if !name
        .get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
    {
        return None;
    }
    let is = |known: &str| name.eq_ignore_ascii_case(known);
    let value = value.trim();
    let num = || value.parse::<u64>().ok();
    if is("x-amzn-bedrock-input-token-count") {
        raw.input = num();
        raw.input_excludes_cache = true;
    } else if is("x-amzn-bedrock-output-token-count") {
        raw.output = num();
    } else if is("x-amzn-bedrock-cache-read-input-token-count") {
        raw.cache_read = num();
    } else if is("x-amzn-bedrock-cache-write-input-token-count") {
        raw.cache_write = num();
    } else if is("x-amzn-errortype") {
        let ty = value.split(':').next().unwrap_or(value);
        if !ty.is_empty() {
            return Some(ty);
        }
    }
    None
}

// --- Calls ---

use crate::detect::Detection;

/// Bedrock names the model (or inference profile / ARN) in the URL; a body
/// never names it.
pub(crate) fn model_from_url(d: &Detection) -> bool {
    matches!(d.flavor, Flavor::BedrockConverse | Flavor::BedrockInvoke) && d.model.is_some()
}

#[cfg(test)]
mod header_tests {
    use super::{Raw, header};

    #[test]
    fn usage_and_error_headers_in_any_case() {
        let mut raw = Raw::default();
        assert_eq!(
            header("X-Amzn-Bedrock-Input-Token-Count", " 12 ", &mut raw),
            None
        );
        assert_eq!(
            header("x-amzn-bedrock-output-token-count", "5", &mut raw),
            None
        );
        assert_eq!(
            header("X-AMZN-BEDROCK-CACHE-READ-INPUT-TOKEN-COUNT", "3", &mut raw),
            None
        );
        assert_eq!(
            header(
                "x-amzn-bedrock-cache-write-input-token-count",
                "x",
                &mut raw
            ),
            None
        );
        assert_eq!(
            (
                raw.input,
                raw.input_excludes_cache,
                raw.output,
                raw.cache_read,
                raw.cache_write
            ),
            (Some(12), true, Some(5), Some(3), None)
        );
        assert_eq!(
            header(
                "X-Amzn-ErrorType",
                "ThrottlingException:http://internal.amazon.com/coral/x",
                &mut raw
            ),
            Some("ThrottlingException")
        );
        assert_eq!(header("x-amzn-errortype", ":x", &mut raw), None);
    }

    #[test]
    fn other_headers_leave_the_counts_alone() {
        let mut raw = Raw::default();
        for name in [
            "content-type",
            "x-amzn",
            "x-amzn-requestid",
            "x-amzn-bedrock-input-token-countx",
            "é-amzn-bedrock",
        ] {
            assert_eq!(header(name, "7", &mut raw), None, "{name}");
        }
        assert_eq!(raw, Raw::default());
    }
}
