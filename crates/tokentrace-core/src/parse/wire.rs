//! The vocabulary a provider module uses to tell the generic parser what its
//! bodies mean: capture slots, the `pats!` table macro, stream-event needles
//! and the end/error rules run after each document ([`Wire`]).
//!
//! Each flavour's [`Wire`] lives in its provider's module under
//! `crate::providers`; `extract.rs` reads it and knows no provider.

use super::raw::Raw;
use crate::json::lite::Lite;
use crate::json::scan::Pattern;
use crate::provider::Provider;
use crate::usage::ResponseInfo;

// Slots: what a captured value means.
pub(crate) const USAGE: u8 = 0;
pub(crate) const MODEL: u8 = 1;
pub(crate) const ID: u8 = 2;
pub(crate) const FINISH: u8 = 3;
pub(crate) const INDEX: u8 = 4;
pub(crate) const ERROR: u8 = 5;
pub(crate) const TYPE: u8 = 6;
pub(crate) const MESSAGE: u8 = 7;
pub(crate) const STATUS: u8 = 8;
pub(crate) const TIER: u8 = 9;
pub(crate) const COUNT: u8 = 10;
pub(crate) const DONE: u8 = 11;
pub(crate) const IN_TOKENS: u8 = 12;
pub(crate) const OUT_TOKENS: u8 = 13;
pub(crate) const BEDROCK_METRICS: u8 = 14;
pub(crate) const BYTES: u8 = 15;
pub(crate) const CODE: u8 = 16;
pub(crate) const COST_UNITS: u8 = 17;
pub(crate) const TIME: u8 = 18;
pub(crate) const WRITTEN: u8 = 19;
pub(crate) const META: u8 = 20;
pub(crate) const ERRORS: u8 = 21;
pub(crate) const INCOMPLETE_REASON: u8 = 22;
pub(crate) const OBJECT: u8 = 23;
pub(crate) const EVENT_TYPE: u8 = 24;
pub(crate) const FINISHED: u8 = 25;
pub(crate) const ANTHROPIC_MESSAGE_USAGE: u8 = 26;

/// A pattern table: `slot, mode, [segments]` rows.
macro_rules! pats {
    ($( $slot:expr, $mode:expr, [$($seg:expr),*] );* $(;)?) => {
        &[ $( $crate::json::scan::Pattern { slot: $slot, mode: $mode, path: &[$($seg),*] } ),* ]
    };
}
pub(crate) use pats;

/// What makes a stream event worth parsing (see `Extractor::interesting`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Needle {
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
pub(crate) enum Sticky {
    Model,
    Id,
    Tier,
}

/// What one document said that the end/error rules read.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    pub(crate) provider: Provider,
    /// `type` (or Cohere v1 `event_type`) of the document.
    pub(crate) doc_type: Option<&'a str>,
    /// The document is an error (`type`/`object`/SSE event `error`).
    pub(crate) error_doc: bool,
    pub(crate) message: Option<String>,
    pub(crate) code: Option<String>,
    /// OpenAI Responses `incomplete_details.reason`.
    pub(crate) incomplete_reason: Option<String>,
    /// The HTTP status said the call failed.
    pub(crate) error_status: bool,
    /// A finish reason is known (this document or an earlier one).
    pub(crate) has_finish: bool,
    /// AWS error type: the `x-amzn-errortype` header, else the event-stream exception.
    pub(crate) aws_error_type: Option<&'a str>,
}

/// What the end/error rules concluded from one document.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// The provider's end marker was seen: the response is complete.
    pub(crate) terminal: bool,
    /// `error.type` and message, each kept only if none is known yet.
    pub(crate) error: Option<(Option<String>, Option<String>)>,
    /// Replaces every finish reason (the Responses API's incomplete reason).
    pub(crate) finish: Option<String>,
}

impl Verdict {
    pub(crate) fn error(&mut self, ty: Option<String>, message: Option<String>) {
        self.error = Some((ty, message));
    }
}

/// Reads a usage-like object a provider shapes its own way.
pub(crate) type UsageHook = fn(&Lite<'_>, &mut ResponseInfo) -> Option<Raw>;

/// Everything a flavour tells the generic parser.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wire {
    /// Which members are captured, and what they mean.
    pub(crate) patterns: &'static [Pattern],
    /// Stream events without one of these are skipped unparsed (empty: parse all).
    pub(crate) needles: &'static [Needle],
    /// End and error rules, run after each document.
    pub(crate) end: fn(Doc<'_>, &mut Verdict),
    /// Reads the `USAGE` object instead of the generic usage readers (Pinecone units).
    pub(crate) usage: Option<UsageHook>,
    /// Reads the `META` object (Cohere `billed_units`).
    pub(crate) meta: Option<UsageHook>,
    /// Reads a `STATUS` object that carries an error (Qdrant): `(type, message)`.
    pub(crate) status_error: Option<fn(&[u8]) -> Option<(String, String)>>,
    /// `error.status` names the error before `error.code` / `error.type` (Gemini).
    pub(crate) error_status_first: bool,
    /// An `error` member counts only in a failed or error document (Chroma
    /// puts `error` in successful bodies too).
    pub(crate) error_member_on_failure_only: bool,
    /// Result counts of several captures add up (Weaviate: one list per class).
    pub(crate) counts_add_up: bool,
}

/// No end rules.
pub(crate) fn no_rules(_: Doc<'_>, _: &mut Verdict) {}

impl Wire {
    /// The defaults a flavour's [`Wire`] starts from.
    pub(crate) const BASE: Self = Self {
        patterns: &[],
        needles: &[],
        end: no_rules,
        usage: None,
        meta: None,
        status_error: None,
        error_status_first: false,
        error_member_on_failure_only: false,
        counts_add_up: false,
    };
}
