//! Per-flavour patterns and the interpretation of captured values.
//!
//! Every stream shape reduces to one rule: each document (a JSON body, an SSE
//! event, an NDJSON line, an event-stream frame) yields the fields it carries,
//! and a field present in a later document overwrites the earlier value.
//! That is exactly right for Anthropic (`message_start` then cumulative
//! `message_delta`), Gemini (cumulative `usageMetadata` on every chunk), and
//! every provider that sends usage once at the end. Raw provider counts are
//! kept as sent and converted to OpenTelemetry accounting once, at the end
//! (`providers.md` §0): Anthropic and Bedrock report input without cache
//! reads and writes, Gemini reports thoughts outside candidates, xAI reports
//! reasoning outside completion tokens.

use std::borrow::Cow;

use serde_json::Value;

use super::eventstream::FrameHeaders;
use crate::json::lite::{Json, Lite};
use crate::json::scan::{Capture, Limits, Mode, Pattern, Scanner, Seg, Sink};
use crate::provider::{Flavor, Provider};
use crate::usage::{ModalityUsage, ResponseInfo, Usage};

const MAX_TEXT: usize = 256;

// Slots: what a captured value means.
const USAGE: u8 = 0;
const MODEL: u8 = 1;
const ID: u8 = 2;
const FINISH: u8 = 3;
const INDEX: u8 = 4;
const ERROR: u8 = 5;
const TYPE: u8 = 6;
const MESSAGE: u8 = 7;
const STATUS: u8 = 8;
const TIER: u8 = 9;
const COUNT: u8 = 10;
const DONE: u8 = 11;
const IN_TOKENS: u8 = 12;
const OUT_TOKENS: u8 = 13;
const BEDROCK_METRICS: u8 = 14;
const BYTES: u8 = 15;
const CODE: u8 = 16;
const COST_UNITS: u8 = 17;
const TIME: u8 = 18;
const WRITTEN: u8 = 19;
const META: u8 = 20;
const ERRORS: u8 = 21;
const INCOMPLETE_REASON: u8 = 22;
const OBJECT: u8 = 23;
const EVENT_TYPE: u8 = 24;
const FINISHED: u8 = 25;
const ANTHROPIC_MESSAGE_USAGE: u8 = 26;

use Mode::{Capture as C, CaptureScalar as CS, Count as N};
use Seg::{AnyIndex as Ix, AnyKey as AnyK, Key as K};

macro_rules! pats {
    ($( $slot:expr, $mode:expr, [$($seg:expr),*] );* $(;)?) => {
        &[ $( Pattern { slot: $slot, mode: $mode, path: &[$($seg),*] } ),* ]
    };
}

const OPENAI_CHAT: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    USAGE, C, [K("x_groq"), K("usage")];
    MODEL, CS, [K("model")];
    ID, CS, [K("id")];
    FINISH, CS, [K("choices"), Ix, K("finish_reason")];
    INDEX, CS, [K("choices"), Ix, K("index")];
    ERROR, C, [K("error")];
    OBJECT, CS, [K("object")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
    CODE, CS, [K("code")];
    TIER, CS, [K("service_tier")];
];

const OPENAI_RESPONSES: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    USAGE, C, [K("response"), K("usage")];
    MODEL, CS, [K("model")];
    MODEL, CS, [K("response"), K("model")];
    ID, CS, [K("id")];
    ID, CS, [K("response"), K("id")];
    STATUS, CS, [K("status")];
    STATUS, CS, [K("response"), K("status")];
    INCOMPLETE_REASON, CS, [K("incomplete_details"), K("reason")];
    INCOMPLETE_REASON, CS, [K("response"), K("incomplete_details"), K("reason")];
    ERROR, C, [K("error")];
    ERROR, C, [K("response"), K("error")];
    TYPE, CS, [K("type")];
    CODE, CS, [K("code")];
    MESSAGE, CS, [K("message")];
    TIER, CS, [K("service_tier")];
    TIER, CS, [K("response"), K("service_tier")];
];

const OPENAI_EMBEDDINGS: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    MODEL, CS, [K("model")];
    ERROR, C, [K("error")];
    OBJECT, CS, [K("object")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
];

const ANTHROPIC: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    ANTHROPIC_MESSAGE_USAGE, C, [K("message"), K("usage")];
    MODEL, CS, [K("model")];
    MODEL, CS, [K("message"), K("model")];
    ID, CS, [K("id")];
    ID, CS, [K("message"), K("id")];
    FINISH, CS, [K("stop_reason")];
    FINISH, CS, [K("delta"), K("stop_reason")];
    TYPE, CS, [K("type")];
    ERROR, C, [K("error")];
    BEDROCK_METRICS, C, [K("amazon-bedrock-invocationMetrics")];
];

const GEMINI: &[Pattern] = pats![
    USAGE, C, [K("usageMetadata")];
    MODEL, CS, [K("modelVersion")];
    ID, CS, [K("responseId")];
    FINISH, CS, [K("candidates"), Ix, K("finishReason")];
    INDEX, CS, [K("candidates"), Ix, K("index")];
    ERROR, C, [K("error")];
    IN_TOKENS, CS, [K("predictions"), Ix, K("embeddings"), K("statistics"), K("token_count")];
];

const COHERE_CHAT: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    USAGE, C, [K("delta"), K("usage")];
    META, C, [K("meta")];
    ID, CS, [K("id")];
    FINISH, CS, [K("finish_reason")];
    FINISH, CS, [K("delta"), K("finish_reason")];
    TYPE, CS, [K("type")];
    MESSAGE, CS, [K("message")];
];

const COHERE_V1: &[Pattern] = pats![
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

const COHERE_META: &[Pattern] = pats![
    META, C, [K("meta")];
    ID, CS, [K("id")];
    MESSAGE, CS, [K("message")];
];

const OLLAMA: &[Pattern] = pats![
    IN_TOKENS, CS, [K("prompt_eval_count")];
    OUT_TOKENS, CS, [K("eval_count")];
    MODEL, CS, [K("model")];
    DONE, CS, [K("done")];
    FINISH, CS, [K("done_reason")];
    ERROR, C, [K("error")];
    USAGE, C, [K("usage")];
    FINISH, CS, [K("choices"), Ix, K("finish_reason")];
];

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

const PINECONE: &[Pattern] = pats![
    USAGE, C, [K("usage")];
    WRITTEN, CS, [K("upsertedCount")];
    COUNT, N, [K("matches")];
    COUNT, N, [K("result"), K("hits")];
    ERROR, C, [K("error")];
    MESSAGE, CS, [K("message")];
    CODE, CS, [K("code")];
];

const QDRANT: &[Pattern] = pats![
    TIME, CS, [K("time")];
    COUNT, N, [K("result")];
    COUNT, N, [K("result"), K("points")];
    STATUS, C, [K("status")];
];

const WEAVIATE: &[Pattern] = pats![
    COUNT, N, [K("data"), K("Get"), AnyK];
    ERRORS, C, [K("errors")];
    ERROR, C, [K("error")];
];

const CHROMA: &[Pattern] = pats![
    COUNT, N, [K("ids"), Ix];
    ERROR, CS, [K("error")];
    MESSAGE, CS, [K("message")];
];

const MILVUS: &[Pattern] = pats![
    CODE, CS, [K("code")];
    MESSAGE, CS, [K("message")];
    COST_UNITS, CS, [K("cost")];
    COUNT, N, [K("data")];
    WRITTEN, CS, [K("data"), K("insertCount")];
    WRITTEN, CS, [K("data"), K("upsertCount")];
];

/// What makes a stream event worth parsing (see `Extractor::interesting`).
#[derive(Debug, Clone, Copy)]
enum Needle {
    /// A member whose value is neither `null` nor `false` (`"usage":{…}` but
    /// not `"usage":null`; `"done":true` but not `"done":false`).
    Key(&'static [u8]),
    /// The text anywhere: a member name or a string value (`"message_stop"`).
    Any(&'static [u8]),
    /// Like `Key`, but only until the response model / id / tier is known
    /// (they repeat unchanged on every chunk).
    Sticky(&'static [u8], Sticky),
}

#[derive(Debug, Clone, Copy)]
enum Sticky {
    Model,
    Id,
    Tier,
}

/// Needles for a flavour's stream events: every captured member that can
/// change the result, by its last key.
fn needles(flavor: Flavor) -> &'static [Needle] {
    use Needle::{Any, Key, Sticky as S};
    match flavor {
        Flavor::OpenAiChat | Flavor::OpenAiEmbeddings => &[
            Any(b"\"error\""),
            Key(b"\"usage\""),
            Key(b"\"finish_reason\""),
            S(b"\"model\"", Sticky::Model),
            S(b"\"id\"", Sticky::Id),
            S(b"\"service_tier\"", Sticky::Tier),
        ],
        Flavor::OpenAiResponses => &[
            Any(b"\"error\""),
            Any(b"\"response.completed\""),
            Any(b"\"response.failed\""),
            Any(b"\"response.incomplete\""),
            Key(b"\"usage\""),
            Key(b"\"reason\""),
            S(b"\"model\"", Sticky::Model),
            S(b"\"id\"", Sticky::Id),
            S(b"\"service_tier\"", Sticky::Tier),
        ],
        Flavor::Anthropic | Flavor::BedrockInvoke => &[
            Any(b"\"error\""),
            Any(b"\"message_stop\""),
            Key(b"\"usage\""),
            Key(b"\"stop_reason\""),
            Key(b"\"stopReason\""),
            Key(b"\"amazon-bedrock-invocationMetrics\""),
            Key(b"\"bytes\""),
            Key(b"\"prompt_token_count\""),
            Key(b"\"generation_token_count\""),
            Key(b"\"tokenCount\""),
            Key(b"\"completionReason\""),
            S(b"\"model\"", Sticky::Model),
            S(b"\"id\"", Sticky::Id),
        ],
        Flavor::Gemini => &[
            Any(b"\"error\""),
            Key(b"\"usageMetadata\""),
            Key(b"\"finishReason\""),
            S(b"\"modelVersion\"", Sticky::Model),
            S(b"\"responseId\"", Sticky::Id),
        ],
        Flavor::CohereChat => &[
            Any(b"\"message-end\""),
            Key(b"\"message\""),
            Key(b"\"usage\""),
            Key(b"\"finish_reason\""),
            Key(b"\"meta\""),
            S(b"\"id\"", Sticky::Id),
        ],
        Flavor::CohereV1 => &[
            Any(b"\"stream-end\""),
            Key(b"\"message\""),
            Key(b"\"meta\""),
            Key(b"\"finish_reason\""),
            Key(b"\"is_finished\""),
            S(b"\"generation_id\"", Sticky::Id),
            S(b"\"response_id\"", Sticky::Id),
        ],
        Flavor::Ollama => &[
            Any(b"\"error\""),
            Key(b"\"prompt_eval_count\""),
            Key(b"\"eval_count\""),
            Key(b"\"done\""),
            Key(b"\"done_reason\""),
            Key(b"\"usage\""),
            Key(b"\"finish_reason\""),
            S(b"\"model\"", Sticky::Model),
        ],
        // Not streamed (or streamed only as AWS event streams, which are not
        // prefiltered): parse every document.
        Flavor::CohereMeta
        | Flavor::BedrockConverse
        | Flavor::Pinecone
        | Flavor::Qdrant
        | Flavor::Weaviate
        | Flavor::Chroma
        | Flavor::Milvus => &[],
    }
}

/// Prebuilt substring finders for a flavour's needles;
/// building a finder costs more than searching a small event, so it is done
/// once per process.
fn finders(flavor: Flavor) -> &'static [(memchr::memmem::Finder<'static>, Needle)] {
    use std::sync::OnceLock;
    static ALL: OnceLock<Vec<Vec<(memchr::memmem::Finder<'static>, Needle)>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        Flavor::ALL
            .iter()
            .map(|f| {
                let list = needles(*f);
                if list.is_empty() {
                    return Vec::new();
                }
                list.iter()
                    .map(|n| {
                        let text = match *n {
                            Needle::Key(t) | Needle::Any(t) | Needle::Sticky(t, _) => t,
                        };
                        (memchr::memmem::Finder::new(text), *n)
                    })
                    .collect()
            })
            .collect()
    });
    Flavor::ALL
        .iter()
        .position(|f| *f == flavor)
        .and_then(|i| all.get(i))
        .map_or(&[], Vec::as_slice)
}

/// After a member name at `at`, is its value something other than `null`/`false`?
/// `None` when the text at `at` is not followed by `:` (so it is a value).
fn member_value_set(data: &[u8], mut at: usize) -> Option<bool> {
    let skip_ws = |mut i: usize| {
        while i < data.len() && matches!(data[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i
    };
    at = skip_ws(at);
    if data.get(at) != Some(&b':') {
        return None;
    }
    let v = skip_ws(at + 1);
    let rest = &data[v.min(data.len())..];
    Some(!(rest.starts_with(b"null") || rest.starts_with(b"false")))
}

/// Patterns for a flavour.
pub(crate) fn patterns(flavor: Flavor) -> &'static [Pattern] {
    match flavor {
        Flavor::OpenAiChat => OPENAI_CHAT,
        Flavor::OpenAiResponses => OPENAI_RESPONSES,
        Flavor::OpenAiEmbeddings => OPENAI_EMBEDDINGS,
        Flavor::Anthropic => ANTHROPIC,
        Flavor::Gemini => GEMINI,
        Flavor::CohereChat => COHERE_CHAT,
        Flavor::CohereV1 => COHERE_V1,
        Flavor::CohereMeta => COHERE_META,
        Flavor::Ollama => OLLAMA,
        Flavor::BedrockConverse => BEDROCK_CONVERSE,
        Flavor::BedrockInvoke => BEDROCK_INVOKE,
        Flavor::Pinecone => PINECONE,
        Flavor::Qdrant => QDRANT,
        Flavor::Weaviate => WEAVIATE,
        Flavor::Chroma => CHROMA,
        Flavor::Milvus => MILVUS,
    }
}

/// Provider counts as sent, before conversion to OpenTelemetry accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Raw {
    /// Input tokens as the provider counts them.
    input: Option<u64>,
    /// True when `input` excludes cache reads and writes (Anthropic, Bedrock).
    input_excludes_cache: bool,
    output: Option<u64>,
    total: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    cache_write_1h: Option<u64>,
    reasoning: Option<u64>,
    /// True when `reasoning` is outside `output` (Gemini thoughts, xAI).
    reasoning_excluded: bool,
    /// Extra input outside `input` (Gemini tool-use prompt tokens).
    extra_input: Option<u64>,
    /// Counts by modality, where reported.
    modal: ModalityUsage,
}

fn set<T: Copy>(dst: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *dst = v;
    }
}

impl Raw {
    fn merge(&mut self, o: &Self) {
        if o.input.is_some() {
            self.input = o.input;
            self.input_excludes_cache = o.input_excludes_cache;
        }
        set(&mut self.output, o.output);
        set(&mut self.total, o.total);
        set(&mut self.cache_read, o.cache_read);
        set(&mut self.cache_write, o.cache_write);
        set(&mut self.cache_write_1h, o.cache_write_1h);
        if o.reasoning.is_some() {
            self.reasoning = o.reasoning;
            self.reasoning_excluded = o.reasoning_excluded;
        }
        set(&mut self.extra_input, o.extra_input);
        self.modal.merge(&o.modal);
    }

    fn is_empty(&self) -> bool {
        self.input.is_none() && self.output.is_none() && self.total.is_none()
    }

    fn to_usage(self, provider: Provider) -> Usage {
        let cache = self
            .cache_read
            .unwrap_or(0)
            .saturating_add(self.cache_write.unwrap_or(0));
        let input = self.input.map(|i| {
            let base = i.saturating_add(self.extra_input.unwrap_or(0));
            if self.input_excludes_cache {
                base.saturating_add(cache)
            } else {
                base
            }
        });
        let mut reasoning_excluded = self.reasoning_excluded;
        if provider == Provider::XAi && self.reasoning.is_some() {
            // xAI's completion_tokens exclude reasoning (genai-prices x-ai mapping).
            reasoning_excluded = true;
        }
        // OpenAI-compatible servers that count reasoning outside completion_tokens
        // (Gemini's OpenAI endpoint, xAI) show it in the total: trust the arithmetic.
        if let (Some(i), Some(o), Some(r), Some(t)) =
            (self.input, self.output, self.reasoning, self.total)
            && r > 0
            && !self.input_excludes_cache
            && i.checked_add(o).and_then(|x| x.checked_add(r)) == Some(t)
            && i.checked_add(o) != Some(t)
        {
            reasoning_excluded = true;
        }
        let output = self.output.map(|o| {
            if reasoning_excluded {
                o.saturating_add(self.reasoning.unwrap_or(0))
            } else {
                o
            }
        });
        let output = match (output, reasoning_excluded, self.reasoning) {
            (None, true, Some(r)) => Some(r),
            (o, _, _) => o,
        };
        let total = self.total.or(match (input, output) {
            (Some(i), Some(o)) => Some(i.saturating_add(o)),
            (Some(i), None) => Some(i),
            (None, Some(o)) => Some(o),
            (None, None) => None,
        });
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: self.cache_read,
            cache_write_tokens: self.cache_write,
            cache_write_1h_tokens: self.cache_write_1h,
            reasoning_tokens: self.reasoning,
            total_tokens: total,
        }
    }
}

fn get<'a, J: Json>(v: &'a J, path: &[&str]) -> Option<&'a J> {
    path.iter().try_fold(v, |v, k| v.member(k))
}

fn n<J: Json>(v: &J, path: &[&str]) -> Option<u64> {
    get(v, path).and_then(Json::count)
}

/// A modality count worth reporting: present and not zero.
fn nonzero(v: Option<u64>) -> Option<u64> {
    v.filter(|n| *n > 0)
}

/// OpenAI `{prompt,completion}_tokens_details` (and the Responses API's
/// `{input,output}_tokens_details`): `text_tokens`, `image_tokens`, `audio_tokens`.
fn openai_modalities<J: Json>(v: &J, input: &str, output: &str) -> ModalityUsage {
    let m = |side: &str, key: &str| nonzero(n(v, &[side, key]));
    ModalityUsage {
        text_input_tokens: m(input, "text_tokens"),
        image_input_tokens: m(input, "image_tokens"),
        audio_input_tokens: m(input, "audio_tokens"),
        text_output_tokens: m(output, "text_tokens"),
        image_output_tokens: m(output, "image_tokens"),
        audio_output_tokens: m(output, "audio_tokens"),
    }
}

/// Gemini `promptTokensDetails` / `candidatesTokensDetails`: arrays of
/// `{modality, tokenCount}` (`TEXT`, `IMAGE`, `AUDIO`; `VIDEO` and
/// `DOCUMENT` have no GenAI modality and stay in the totals only).
fn gemini_modalities<J: Json>(v: &J) -> ModalityUsage {
    let mut out = ModalityUsage::default();
    for (key, input) in [
        ("promptTokensDetails", true),
        ("candidatesTokensDetails", false),
    ] {
        let Some(list) = v.member(key) else { continue };
        for item in list.items() {
            let Some(count) = nonzero(n(item, &["tokenCount"])) else {
                continue;
            };
            let slot = match (item.member("modality").and_then(Json::string), input) {
                (Some("TEXT"), true) => &mut out.text_input_tokens,
                (Some("IMAGE"), true) => &mut out.image_input_tokens,
                (Some("AUDIO"), true) => &mut out.audio_input_tokens,
                (Some("TEXT"), false) => &mut out.text_output_tokens,
                (Some("IMAGE"), false) => &mut out.image_output_tokens,
                (Some("AUDIO"), false) => &mut out.audio_output_tokens,
                _ => continue,
            };
            *slot = Some(slot.unwrap_or(0).saturating_add(count));
        }
    }
    out
}

/// Read any provider's usage object into raw counts.
fn raw_usage<J: Json>(v: &J) -> Option<Raw> {
    if !v.is_obj() {
        return None;
    }
    let mut r = Raw::default();
    // OpenAI chat / legacy / embeddings and every OpenAI-compatible host.
    if let Some(p) = n(v, &["prompt_tokens"]) {
        r.input = Some(p);
        r.output = n(v, &["completion_tokens"]);
        r.total = n(v, &["total_tokens"]);
        r.cache_read = n(v, &["prompt_tokens_details", "cached_tokens"])
            .or_else(|| n(v, &["prompt_cache_hit_tokens"]));
        r.cache_write = n(v, &["prompt_tokens_details", "cache_write_tokens"]);
        r.reasoning = n(v, &["completion_tokens_details", "reasoning_tokens"]);
        r.modal = openai_modalities(v, "prompt_tokens_details", "completion_tokens_details");
        return Some(r);
    }
    // Gemini usageMetadata.
    if v.member("promptTokenCount").is_some()
        || v.member("candidatesTokenCount").is_some()
        || v.member("totalTokenCount").is_some()
    {
        r.input = n(v, &["promptTokenCount"]);
        r.extra_input = n(v, &["toolUsePromptTokenCount"]);
        r.output = n(v, &["candidatesTokenCount"]);
        r.total = n(v, &["totalTokenCount"]);
        r.cache_read = n(v, &["cachedContentTokenCount"]);
        r.reasoning = n(v, &["thoughtsTokenCount"]);
        r.reasoning_excluded = true;
        r.modal = gemini_modalities(v);
        if r.input.is_some() && r.output.is_none() && r.total.is_some() {
            // Fields are omitted when zero: an empty candidate list means 0 output.
            let known = r
                .input
                .unwrap_or(0)
                .saturating_add(r.extra_input.unwrap_or(0))
                .saturating_add(r.reasoning.unwrap_or(0));
            if r.total == Some(known) {
                r.output = Some(0);
            }
        }
        return Some(r);
    }
    // Bedrock Converse / Nova (camelCase, input excludes cache).
    if v.member("inputTokens").is_some() || v.member("outputTokens").is_some() {
        r.input = n(v, &["inputTokens"]);
        r.input_excludes_cache = true;
        r.output = n(v, &["outputTokens"]);
        r.total = n(v, &["totalTokens"]);
        r.cache_read =
            n(v, &["cacheReadInputTokens"]).or_else(|| n(v, &["cacheReadInputTokenCount"]));
        r.cache_write =
            n(v, &["cacheWriteInputTokens"]).or_else(|| n(v, &["cacheWriteInputTokenCount"]));
        return Some(r);
    }
    // Cohere v2 chat: bill on billed_units.
    if let Some(b) = v.member("billed_units") {
        r.input = n(b, &["input_tokens"]);
        r.output = n(b, &["output_tokens"]);
        // `cached_tokens` counts raw template tokens, not billed ones (it can
        // exceed billed input), so it is not a cache read of the billed input.
        return Some(r);
    }
    // Anthropic (input excludes cache) or OpenAI Responses (input includes cache).
    if v.member("input_tokens").is_some() || v.member("output_tokens").is_some() {
        r.input = n(v, &["input_tokens"]);
        r.output = n(v, &["output_tokens"]);
        r.total = n(v, &["total_tokens"]);
        if v.member("input_tokens_details").is_some()
            || v.member("output_tokens_details").is_some()
                && v.member("cache_read_input_tokens").is_none()
                && v.member("cache_creation_input_tokens").is_none()
        {
            // OpenAI Responses shape.
            r.cache_read = n(v, &["input_tokens_details", "cached_tokens"]);
            r.cache_write = n(v, &["input_tokens_details", "cache_write_tokens"]);
            r.reasoning = n(v, &["output_tokens_details", "reasoning_tokens"])
                .or_else(|| n(v, &["output_tokens_details", "thinking_tokens"]));
            r.modal = openai_modalities(v, "input_tokens_details", "output_tokens_details");
        } else {
            // Anthropic shape.
            r.input_excludes_cache = true;
            r.cache_read = n(v, &["cache_read_input_tokens"]);
            r.cache_write = n(v, &["cache_creation_input_tokens"]);
            r.cache_write_1h = n(v, &["cache_creation", "ephemeral_1h_input_tokens"]);
            r.reasoning = n(v, &["output_tokens_details", "thinking_tokens"]);
            if r.input.is_none() {
                // A message_delta that repeats only output must not reset input accounting.
                r.input_excludes_cache = false;
            }
        }
        return Some(r);
    }
    // Bedrock invocation metrics (InvokeModel streams): input excludes cache.
    if v.member("inputTokenCount").is_some() || v.member("outputTokenCount").is_some() {
        r.input = n(v, &["inputTokenCount"]);
        r.input_excludes_cache = true;
        r.output = n(v, &["outputTokenCount"]);
        r.cache_read = n(v, &["cacheReadInputTokenCount"]);
        r.cache_write = n(v, &["cacheWriteInputTokenCount"]);
        return Some(r);
    }
    None
}

/// A captured scalar as text. Plain strings (no escapes), the common case,
/// are borrowed without decoding; anything else goes through serde_json.
fn text(raw: &[u8]) -> Option<Cow<'_, str>> {
    if raw == b"null" {
        return None;
    }
    if raw.len() >= 2
        && raw[0] == b'"'
        && raw[raw.len() - 1] == b'"'
        && memchr::memchr(b'\\', raw).is_none()
    {
        let inner = std::str::from_utf8(&raw[1..raw.len() - 1]).ok()?;
        return (!inner.is_empty()).then_some(Cow::Borrowed(inner));
    }
    match serde_json::from_slice::<Value>(raw).ok()? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
    .map(Cow::Owned)
}

/// A captured non-negative integer, without a JSON parser for plain digits.
fn int(raw: &[u8]) -> Option<u64> {
    if !raw.is_empty() && raw.len() < 20 && raw.iter().all(u8::is_ascii_digit) {
        return raw.iter().try_fold(0u64, |a, d| {
            a.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
    }
    serde_json::from_slice::<Lite<'_>>(raw)
        .ok()
        .as_ref()
        .and_then(Json::count)
}

fn bounded(mut s: String) -> String {
    s.truncate(crate::bound::truncate_utf8(&s, MAX_TEXT).len());
    s
}

/// The running result of one response.
#[derive(Debug)]
pub(crate) struct Extractor {
    provider: Provider,
    flavor: Flavor,
    raw: Raw,
    header_raw: Raw,
    pub(crate) info: ResponseInfo,
    finish: Vec<(u32, String)>,
    /// SSE event name / event-stream `:event-type` of the document being read.
    event: Option<String>,
    exception: Option<String>,
    /// HTTP status, when the caller told us.
    status: Option<u16>,
    inner: Option<Box<Scanner>>,
    pub(crate) terminal: bool,
    pub(crate) bedrock_error_header: Option<String>,
    /// Skip stream events that carry none of the flavour's needles.
    pub(crate) prefilter: bool,
}

impl Extractor {
    pub(crate) fn new(provider: Provider, flavor: Flavor) -> Self {
        Self {
            provider,
            flavor,
            raw: Raw::default(),
            header_raw: Raw::default(),
            info: ResponseInfo::default(),
            finish: Vec::new(),
            event: None,
            exception: None,
            status: None,
            inner: None,
            terminal: false,
            bedrock_error_header: None,
            prefilter: true,
        }
    }

    /// Heap bytes held.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.finish.capacity() * std::mem::size_of::<(u32, String)>()
            + self.finish.iter().map(|(_, s)| s.capacity()).sum::<usize>()
            + self.inner.as_ref().map_or(0, |s| s.retained_bytes())
            + [
                &self.info.response_model,
                &self.info.response_id,
                &self.info.error_type,
                &self.info.error_message,
            ]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::capacity))
            .sum::<usize>()
    }

    /// Can this complete stream event change the result? Events that carry
    /// none of the flavour's needles (most content chunks) are skipped without
    /// being parsed. Conservative: a needle inside a string value only costs
    /// a parse. Error responses and `event: error` are always parsed.
    pub(crate) fn interesting(&self, data: &[u8]) -> bool {
        let list = finders(self.flavor);
        if !self.prefilter
            || list.is_empty()
            || self.error_status()
            || self.event.as_deref() == Some("error")
        {
            return true;
        }
        let found = |finder: &memchr::memmem::Finder<'_>, key_only: bool| {
            let len = finder.needle().len();
            finder
                .find_iter(data)
                .any(|at| match member_value_set(data, at + len) {
                    Some(set) => set,
                    None => !key_only,
                })
        };
        list.iter().any(|(finder, n)| match *n {
            Needle::Key(_) => found(finder, true),
            Needle::Any(_) => found(finder, false),
            Needle::Sticky(_, which) => {
                let known = match which {
                    Sticky::Model => self.info.response_model.is_some(),
                    Sticky::Id => self.info.response_id.is_some(),
                    Sticky::Tier => self.info.service_tier.is_some(),
                };
                !known && found(finder, true)
            }
        })
    }

    pub(crate) fn status(&mut self, status: u16) {
        self.status = Some(status);
    }

    pub(crate) fn header(&mut self, name: &str, value: &str) {
        let value = value.trim();
        let num = || value.parse::<u64>().ok();
        match name.to_ascii_lowercase().as_str() {
            "x-amzn-bedrock-input-token-count" => {
                self.header_raw.input = num();
                self.header_raw.input_excludes_cache = true;
            }
            "x-amzn-bedrock-output-token-count" => self.header_raw.output = num(),
            "x-amzn-bedrock-cache-read-input-token-count" => self.header_raw.cache_read = num(),
            "x-amzn-bedrock-cache-write-input-token-count" => self.header_raw.cache_write = num(),
            "x-amzn-errortype" => {
                // `ValidationException:http://internal.amazon.com/coral/...`
                let ty = value.split(':').next().unwrap_or(value);
                if !ty.is_empty() {
                    self.bedrock_error_header = Some(bounded(ty.to_owned()));
                }
            }
            _ => {}
        }
    }

    pub(crate) fn set_event(&mut self, name: Option<String>) {
        self.event = name;
    }

    pub(crate) fn frame(&mut self, h: &FrameHeaders) {
        self.event = h.event_type.clone();
        self.exception = if h.message_type.as_deref() == Some("exception") {
            h.exception_type
                .clone()
                .or_else(|| Some("exception".to_owned()))
        } else {
            None
        };
        if let Some(ex) = &self.exception {
            self.info.error_type = Some(bounded(ex.clone()));
        }
        if matches!(h.event_type.as_deref(), Some("messageStop" | "metadata")) {
            self.terminal = true;
        }
    }

    fn error_status(&self) -> bool {
        self.status.is_some_and(|s| s >= 400)
    }

    fn set_error(&mut self, ty: Option<String>, message: Option<String>) {
        if let Some(t) = ty {
            self.info.error_type.get_or_insert(bounded(t));
        }
        if let Some(m) = message {
            self.info.error_message.get_or_insert(bounded(m));
        }
    }

    fn error_object(&mut self, raw: &[u8]) {
        match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(o)) => {
                let pick = |k: &str| {
                    o.get(k).and_then(|v| match v {
                        Value::String(s) if !s.is_empty() => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                };
                // The value users filter on, per each provider's documented
                // error shape (docs/attributes.md, `error.type`): OpenAI and
                // the OpenAI-compatible hosts put it in the string `code`
                // (`rate_limit_exceeded`; `type` is the broader `requests`,
                // and `code` may be null), Anthropic in `type`
                // (`overloaded_error`), Gemini in `status` (`NOT_FOUND`; its
                // `code` is the HTTP status). A numeric code comes last.
                let named_code = o
                    .get("code")
                    .and_then(Value::as_str)
                    .filter(|c| !c.is_empty() && !c.bytes().all(|b| b.is_ascii_digit()))
                    .map(str::to_owned);
                let ty = if self.flavor == Flavor::Gemini {
                    pick("status").or_else(|| pick("type"))
                } else {
                    named_code
                        .or_else(|| pick("type"))
                        .or_else(|| pick("status"))
                }
                .or_else(|| pick("code"));
                self.set_error(ty, pick("message"));
            }
            Ok(Value::String(s)) if !s.is_empty() => self.set_error(None, Some(s)),
            _ => {}
        }
    }

    fn bedrock_chunk(&mut self, raw: &[u8]) {
        use base64::Engine as _;
        let Some(b64) = text(raw) else { return };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) else {
            self.info
                .parse_error
                .get_or_insert_with(|| "invalid base64 in a Bedrock chunk".to_owned());
            return;
        };
        let mut inner = self.inner.take().unwrap_or_else(|| {
            Box::new(Scanner::new(BEDROCK_INVOKE, Limits::default()).no_root_array())
        });
        inner.reset();
        inner.push(&decoded, self);
        if !inner.idle() {
            inner.flush_partial(self);
        }
        self.inner = Some(inner);
    }

    /// Interpret one document's captures.
    fn apply(&mut self, caps: &[Capture], arena: &[u8]) {
        let mut doc_type: Option<String> = None;
        let mut object: Option<String> = None;
        let mut doc_raw = Raw::default();
        let mut have_usage = false;
        let mut positions: Vec<(u32, u32)> = Vec::new(); // (position, index)
        let mut finishes: Vec<(u32, String)> = Vec::new();
        let mut message: Option<String> = None;
        let mut code: Option<String> = None;
        let mut incomplete_reason: Option<String> = None;
        let mut in_tokens: Option<u64> = None;
        let mut out_tokens: Option<u64> = None;

        for c in caps {
            let raw = &arena[c.start..c.end];
            match c.slot {
                TYPE => doc_type = text(raw).map(Cow::into_owned),
                OBJECT => object = text(raw).map(Cow::into_owned),
                EVENT_TYPE => doc_type = text(raw).map(Cow::into_owned),
                _ => {}
            }
        }
        let error_doc = doc_type.as_deref() == Some("error")
            || object.as_deref() == Some("error")
            || self.event.as_deref() == Some("error");

        for c in caps {
            let raw = &arena[c.start..c.end];
            match c.slot {
                USAGE | ANTHROPIC_MESSAGE_USAGE | BEDROCK_METRICS | META => {
                    if raw == b"null" {
                        // OpenAI chunks carry `"usage": null` until the last one.
                        continue;
                    }
                    let Ok(v) = serde_json::from_slice::<Lite<'_>>(raw) else {
                        continue;
                    };
                    if c.slot == META {
                        if let Some(b) = v.member("billed_units") {
                            let mut r = Raw {
                                input: n(b, &["input_tokens"]),
                                output: n(b, &["output_tokens"]),
                                ..Raw::default()
                            };
                            if let Some(img) = n(b, &["images"]).or_else(|| n(b, &["image_tokens"]))
                                && self.flavor == Flavor::CohereMeta
                            {
                                r.input = Some(r.input.unwrap_or(0).saturating_add(img));
                            }
                            if let Some(su) = n(b, &["search_units"]) {
                                self.info.vector.search_units = Some(su);
                            }
                            if !r.is_empty() {
                                doc_raw.merge(&r);
                                have_usage = true;
                            }
                        }
                        continue;
                    }
                    if self.flavor == Flavor::Pinecone {
                        if let Some(ru) = n(&v, &["readUnits"]).or_else(|| n(&v, &["read_units"])) {
                            self.info.vector.read_units = Some(ru);
                        }
                        if let Some(wu) = n(&v, &["writeUnits"]).or_else(|| n(&v, &["write_units"]))
                        {
                            self.info.vector.write_units = Some(wu);
                        }
                        if let Some(t) = n(&v, &["embed_total_tokens"]) {
                            doc_raw.merge(&Raw {
                                input: Some(t),
                                ..Raw::default()
                            });
                            have_usage = true;
                        }
                        continue;
                    }
                    if let Some(cost) = get(&v, &["cost"]).and_then(Json::float)
                        && (self.provider == Provider::OpenRouter || v.member("is_byok").is_some())
                    {
                        self.info.provider_cost_usd = Some(cost);
                    }
                    if let Some(r) = raw_usage(&v) {
                        doc_raw.merge(&r);
                        have_usage = true;
                    }
                    // Anthropic `usage.service_tier`, Gemini `serviceTier`, Vertex `trafficType`.
                    let tier = ["service_tier", "serviceTier", "trafficType"]
                        .iter()
                        .find_map(|k| v.member(k).and_then(Json::string));
                    if let Some(t) = tier.filter(|t| !t.is_empty()) {
                        self.info.service_tier = Some(bounded(t.to_owned()));
                    }
                }
                MODEL => {
                    if let Some(m) = text(raw)
                        && self.info.response_model.as_deref() != Some(&*m)
                    {
                        self.info.response_model = Some(bounded(m.into_owned()));
                    }
                }
                ID => {
                    if let Some(id) = text(raw)
                        && self.info.response_id.as_deref() != Some(&*id)
                    {
                        self.info.response_id = Some(bounded(id.into_owned()));
                    }
                }
                FINISH => {
                    if let Some(f) = text(raw) {
                        finishes.push((c.position, f.into_owned()));
                    }
                }
                INDEX => {
                    if let Some(i) = int(raw) {
                        positions.push((c.position, u32::try_from(i).unwrap_or(u32::MAX)));
                    }
                }
                ERROR
                    if (error_doc
                        || !matches!(self.flavor, Flavor::Chroma)
                        || self.error_status()) =>
                {
                    self.error_object(raw);
                }
                MESSAGE => message = text(raw).map(Cow::into_owned),
                CODE => code = text(raw).map(Cow::into_owned),
                // Qdrant reports failures as `"status": {"error": "..."}`; the
                // Responses API's `status` carries no finish reason (see flavor_rules).
                STATUS if self.flavor == Flavor::Qdrant => {
                    if let Ok(v) = serde_json::from_slice::<Value>(raw)
                        && let Some(e) = get(&v, &["error"]).and_then(Value::as_str)
                    {
                        self.set_error(Some("qdrant_error".to_owned()), Some(e.to_owned()));
                    }
                }
                INCOMPLETE_REASON => incomplete_reason = text(raw).map(Cow::into_owned),
                TIER => {
                    if let Some(t) = text(raw)
                        && self.info.service_tier.as_deref() != Some(&*t)
                    {
                        self.info.service_tier = Some(bounded(t.into_owned()));
                    }
                }
                COUNT if (c.position == 0 || self.info.vector.result_count.is_none()) => {
                    let prev = self.info.vector.result_count.unwrap_or(0);
                    self.info.vector.result_count = Some(if self.flavor == Flavor::Weaviate {
                        prev.saturating_add(c.count)
                    } else {
                        c.count
                    });
                }
                DONE if text(raw).as_deref() == Some("true") => {
                    self.terminal = true;
                }
                FINISHED if text(raw).as_deref() == Some("true") => {
                    self.terminal = true;
                }
                IN_TOKENS => {
                    if let Some(t) = int(raw) {
                        in_tokens = Some(in_tokens.unwrap_or(0).saturating_add(t));
                    }
                }
                OUT_TOKENS => {
                    if let Some(t) = int(raw) {
                        out_tokens = Some(out_tokens.unwrap_or(0).saturating_add(t));
                    }
                }
                TIME => {
                    self.info.vector.server_time_seconds = serde_json::from_slice::<Value>(raw)
                        .ok()
                        .and_then(|v| v.as_f64());
                }
                COST_UNITS => {
                    self.info.vector.cost_units = serde_json::from_slice::<Value>(raw)
                        .ok()
                        .and_then(|v| v.as_f64());
                }
                WRITTEN => {
                    self.info.vector.write_units = int(raw);
                }
                ERRORS => {
                    if let Ok(Value::Array(errs)) = serde_json::from_slice::<Value>(raw)
                        && !errs.is_empty()
                    {
                        let msg = errs
                            .first()
                            .and_then(|e| e.get("message"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        self.set_error(Some("graphql_error".to_owned()), msg);
                    }
                }
                BYTES => self.bedrock_chunk(raw),
                _ => {}
            }
        }

        if in_tokens.is_some() || out_tokens.is_some() {
            let r = Raw {
                input: in_tokens,
                output: out_tokens,
                ..Raw::default()
            };
            doc_raw.merge(&r);
            have_usage = true;
        }
        if have_usage {
            self.raw.merge(&doc_raw);
        }

        // Finish reasons: pair with the choice's own `index` when it has one.
        for (pos, reason) in finishes {
            let idx = positions
                .iter()
                .find(|(p, _)| *p == pos)
                .map_or(pos, |(_, i)| *i);
            match self.finish.iter_mut().find(|(i, _)| *i == idx) {
                Some(slot) => slot.1 = bounded(reason),
                None => {
                    if self.finish.len() < 128 {
                        self.finish.push((idx, bounded(reason)));
                    }
                }
            }
        }

        self.flavor_rules(
            doc_type.as_deref(),
            error_doc,
            message,
            code,
            incomplete_reason,
        );
    }

    fn flavor_rules(
        &mut self,
        doc_type: Option<&str>,
        error_doc: bool,
        message: Option<String>,
        code: Option<String>,
        incomplete_reason: Option<String>,
    ) {
        match self.flavor {
            Flavor::OpenAiChat | Flavor::OpenAiEmbeddings => {
                if error_doc {
                    self.set_error(
                        doc_type
                            .filter(|t| *t != "error")
                            .map(str::to_owned)
                            .or(code),
                        message,
                    );
                }
            }
            Flavor::OpenAiResponses => {
                match doc_type {
                    Some("response.completed" | "response.failed" | "response.incomplete") => {
                        self.terminal = true;
                    }
                    Some("error") => {
                        self.set_error(code.or_else(|| Some("error".to_owned())), message)
                    }
                    _ => {}
                }
                // The Responses API has no finish reason; an incomplete response
                // says why it stopped (`max_output_tokens`, `content_filter`).
                if let Some(reason) = incomplete_reason {
                    self.finish = vec![(0, bounded(reason))];
                }
            }
            Flavor::Anthropic | Flavor::BedrockInvoke => {
                if doc_type == Some("message_stop") {
                    self.terminal = true;
                }
                if self.flavor == Flavor::BedrockInvoke
                    && !self.raw.is_empty()
                    && self.event.as_deref() == Some("chunk")
                {
                    // invocation metrics arrive with the last chunk
                }
                if let Some(m) = message
                    && (self.flavor == Flavor::BedrockInvoke || error_doc)
                {
                    self.set_error(
                        self.bedrock_error_header
                            .clone()
                            .or_else(|| self.exception.clone()),
                        Some(m),
                    );
                }
            }
            Flavor::Gemini => {
                if !self.finish.is_empty() {
                    self.terminal = true;
                }
            }
            Flavor::CohereChat => {
                if doc_type == Some("message-end") {
                    self.terminal = true;
                }
                if let Some(m) = message {
                    self.set_error(Some("cohere_error".to_owned()), Some(m));
                }
            }
            Flavor::CohereV1 => {
                if doc_type == Some("stream-end") {
                    self.terminal = true;
                }
                if let Some(m) = message {
                    self.set_error(Some("cohere_error".to_owned()), Some(m));
                }
            }
            Flavor::CohereMeta => {
                if let Some(m) = message {
                    self.set_error(Some("cohere_error".to_owned()), Some(m));
                }
            }
            Flavor::BedrockConverse => {
                if let Some(m) = message {
                    self.set_error(
                        self.bedrock_error_header
                            .clone()
                            .or_else(|| self.exception.clone()),
                        Some(m),
                    );
                }
            }
            Flavor::Pinecone | Flavor::Chroma => {
                if let Some(m) = message
                    && (self.error_status() || self.flavor == Flavor::Pinecone)
                {
                    let ty = code.unwrap_or_else(|| format!("{}_error", self.provider.slug()));
                    self.set_error(Some(ty), Some(m));
                }
            }
            Flavor::Milvus => {
                if let Some(c) = code.filter(|c| c != "0" && c != "200") {
                    self.set_error(Some(c), message);
                }
            }
            Flavor::Ollama | Flavor::Qdrant | Flavor::Weaviate => {}
        }
    }

    /// The final result.
    pub(crate) fn result(&mut self) -> ResponseInfo {
        let mut raw = self.raw;
        if raw.is_empty() && !self.header_raw.is_empty() {
            raw = self.header_raw;
        } else if !self.header_raw.is_empty() {
            // Headers fill what the body left out (Bedrock InvokeModel).
            if raw.cache_read.is_none() {
                raw.cache_read = self.header_raw.cache_read;
            }
            if raw.cache_write.is_none() {
                raw.cache_write = self.header_raw.cache_write;
            }
        }
        if self.info.error_type.is_none()
            && self.info.error_message.is_some()
            && let Some(h) = self.bedrock_error_header.clone()
        {
            self.info.error_type = Some(h);
        }
        let mut info = self.info.clone();
        if !raw.is_empty() {
            info.usage = raw.to_usage(self.provider);
            info.modalities = raw.modal;
        }
        let mut finish = self.finish.clone();
        finish.sort_by_key(|(i, _)| *i);
        info.finish_reasons = finish.into_iter().map(|(_, r)| r).collect();
        info
    }
}

impl Sink for Extractor {
    fn document(&mut self, captures: &[Capture], arena: &[u8]) {
        self.apply(captures, arena);
    }
}
