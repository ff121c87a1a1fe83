//! The interpretation of captured values: one [`Extractor`] per response,
//! driven by the flavour's [`Wire`] (patterns, needles, end/error rules),
//! which lives in its provider's module under `crate::providers`.
//!
//! Every stream shape reduces to one rule: each document (a JSON body, an SSE
//! event, an NDJSON line, an event-stream frame) yields the fields it carries,
//! and a field present in a later document overwrites the earlier value.
//! That is exactly right for Anthropic (`message_start` then cumulative
//! `message_delta`), Gemini (cumulative `usageMetadata` on every chunk), and
//! every provider that sends usage once at the end. Raw provider counts are
//! kept as sent and converted to OpenTelemetry accounting once, at the end
//! (see `raw.rs`).

use std::borrow::Cow;

use serde_json::Value;

use super::eventstream::FrameHeaders;
use super::raw::{Raw, get};
use super::wire::*;
use crate::json::lite::{Json, Lite};
use crate::json::scan::{Capture, Limits, Scanner, Sink};
use crate::provider::{Flavor, Provider};
use crate::providers::{self, bedrock, compat};
use crate::usage::ResponseInfo;

const MAX_TEXT: usize = 256;

/// A flavour's stream needles, searched for in one pass: a packed
/// multi-pattern (Teddy) searcher where the CPU has one, else one substring
/// finder per needle. Built once per process: building costs more than
/// searching a small event.
struct Needles {
    list: Vec<Needle>,
    search: Search,
}

enum Search {
    /// One pass for all needles (it handles haystacks shorter than its
    /// vectors itself).
    Packed(aho_corasick::packed::Searcher),
    /// One finder per needle, in `list` order.
    Each(Vec<memchr::memmem::Finder<'static>>),
}

fn needle_text(n: Needle) -> &'static [u8] {
    match n {
        Needle::Key(t) | Needle::Any(t) | Needle::Sticky(t, _) => t,
    }
}

impl Needles {
    fn new(list: &[Needle]) -> Self {
        Self::with_packing(list, true)
    }

    /// `pack: false` forces the one-finder-per-needle search (tests compare both).
    fn with_packing(list: &[Needle], pack: bool) -> Self {
        let packed = (pack && !list.is_empty())
            .then(|| {
                let mut b = aho_corasick::packed::Config::new()
                    .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                    .builder();
                for n in list {
                    b.add(needle_text(*n));
                }
                b.build()
            })
            .flatten();
        let search = match packed {
            Some(s) => Search::Packed(s),
            None => Search::Each(
                list.iter()
                    .map(|n| memchr::memmem::Finder::new(needle_text(*n)))
                    .collect(),
            ),
        };
        Self {
            list: list.to_vec(),
            search,
        }
    }

    /// Every occurrence of a needle in `data`, as (needle, end of the match),
    /// until `hit` says yes. Needles begin and end with a quote, so in JSON
    /// no two occurrences overlap and the leftmost-first pass sees them all.
    fn any(&self, data: &[u8], mut hit: impl FnMut(Needle, usize) -> bool) -> bool {
        match &self.search {
            Search::Packed(s) => s
                .find_iter(data)
                .any(|m| hit(self.list[m.pattern().as_usize()], m.end())),
            Search::Each(finders) => self.list.iter().zip(finders).any(|(n, f)| {
                let len = f.needle().len();
                f.find_iter(data).any(|at| hit(*n, at + len))
            }),
        }
    }
}

/// The sticky needles already satisfied, as a bit set (`Sticky::bit`).
type Known = usize;

impl Sticky {
    const fn bit(self) -> Known {
        match self {
            Self::Model => 1,
            Self::Id => 2,
            Self::Tier => 4,
        }
    }
}

/// A flavour's needles minus the sticky ones in `known`: once the response
/// model and id are known, their keys (on every chunk) are not searched for
/// at all. One searcher per flavour and subset, built on first use.
fn needles(flavor: Flavor, known: Known) -> &'static Needles {
    use std::sync::OnceLock;
    const SUBSETS: usize = 8;
    static ALL: OnceLock<Vec<[OnceLock<Needles>; SUBSETS]>> = OnceLock::new();
    static NONE: OnceLock<Needles> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        Flavor::ALL
            .iter()
            .map(|_| std::array::from_fn(|_| OnceLock::new()))
            .collect()
    });
    let Some(i) = Flavor::ALL.iter().position(|f| *f == flavor) else {
        return NONE.get_or_init(|| Needles::new(&[]));
    };
    all[i][known % SUBSETS].get_or_init(|| {
        let list: Vec<Needle> = providers::wire(flavor)
            .needles
            .iter()
            .copied()
            .filter(|n| !matches!(n, Needle::Sticky(_, w) if known & w.bit() != 0))
            .collect();
        Needles::new(&list)
    })
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
        return crate::json::lite::digits_u64(raw);
    }
    Lite::parse(raw).as_ref().and_then(Json::count)
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
    /// What the flavour's bodies mean (its provider module's rules).
    wire: &'static Wire,
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
            wire: providers::wire(flavor),
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
        if !self.prefilter
            || providers::wire(self.flavor).needles.is_empty()
            || self.error_status()
            || self.event.as_deref() == Some("error")
        {
            return true;
        }
        let known = [
            (self.info.response_model.is_some(), Sticky::Model),
            (self.info.response_id.is_some(), Sticky::Id),
            (self.info.service_tier.is_some(), Sticky::Tier),
        ]
        .iter()
        .filter(|(k, _)| *k)
        .fold(0, |m, (_, w)| m | w.bit());
        needles(self.flavor, known).any(data, |n, end| {
            let key_only = !matches!(n, Needle::Any(_));
            match member_value_set(data, end) {
                Some(set) => set,
                None => !key_only,
            }
        })
    }

    pub(crate) fn status(&mut self, status: u16) {
        self.status = Some(status);
    }

    pub(crate) fn header(&mut self, name: &str, value: &str) {
        if let Some(ty) = bedrock::header(name, value, &mut self.header_raw) {
            self.bedrock_error_header = Some(bounded(ty.to_owned()));
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
        if h.event_type
            .as_deref()
            .is_some_and(|t| bedrock::STREAM_END_EVENTS.contains(&t))
        {
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
                let ty = if self.wire.error_status_first {
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
            Box::new(Scanner::new(bedrock::INVOKE.patterns, Limits::default()).no_root_array())
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
        let mut doc_type: Option<Cow<'_, str>> = None;
        let mut object: Option<Cow<'_, str>> = None;
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
                TYPE | EVENT_TYPE => doc_type = text(raw),
                OBJECT => object = text(raw),
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
                    let Some(v) = Lite::parse(raw) else {
                        continue;
                    };
                    let hook = if c.slot == META {
                        self.wire.meta
                    } else {
                        self.wire.usage
                    };
                    if let Some(read) = hook {
                        if let Some(r) = read(&v, &mut self.info) {
                            doc_raw.merge(&r);
                            have_usage = true;
                        }
                        continue;
                    }
                    if let Some(cost) = get(&v, &["cost"]).and_then(Json::float)
                        && compat::reports_cost(self.provider, v.member("is_byok").is_some())
                    {
                        self.info.provider_cost_usd = Some(cost);
                    }
                    if let Some(r) = providers::read_usage(&v) {
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
                        || !self.wire.error_member_on_failure_only
                        || self.error_status()) =>
                {
                    self.error_object(raw);
                }
                MESSAGE => message = text(raw).map(Cow::into_owned),
                CODE => code = text(raw).map(Cow::into_owned),
                // A status object that carries an error (Qdrant); the Responses
                // API's `status` carries no finish reason.
                STATUS => {
                    if let Some((ty, msg)) = self.wire.status_error.and_then(|read| read(raw)) {
                        self.set_error(Some(ty), Some(msg));
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
                    self.info.vector.result_count = Some(if self.wire.counts_add_up {
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

        let aws_error_type = self
            .bedrock_error_header
            .as_deref()
            .or(self.exception.as_deref());
        let mut verdict = Verdict::default();
        (self.wire.end)(
            Doc {
                provider: self.provider,
                doc_type: doc_type.as_deref(),
                error_doc,
                message,
                code,
                incomplete_reason,
                error_status: self.error_status(),
                has_finish: !self.finish.is_empty(),
                aws_error_type,
            },
            &mut verdict,
        );
        if verdict.terminal {
            self.terminal = true;
        }
        if let Some((ty, message)) = verdict.error {
            self.set_error(ty, message);
        }
        if let Some(reason) = verdict.finish {
            self.finish = vec![(0, bounded(reason))];
        }
    }

    /// The final result.
    pub(crate) fn result(&mut self) -> ResponseInfo {
        self.build(false)
    }

    /// The final result, moving the state out instead of copying it: the
    /// extractor is not asked again.
    pub(crate) fn take_result(&mut self) -> ResponseInfo {
        self.build(true)
    }

    fn build(&mut self, take: bool) -> ResponseInfo {
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
        let mut info = if take {
            std::mem::take(&mut self.info)
        } else {
            self.info.clone()
        };
        if !raw.is_empty() {
            let mut raw = raw;
            if compat::reasoning_outside_output(self.provider) && raw.reasoning.is_some() {
                raw.reasoning_excluded = true;
            }
            info.usage = raw.to_usage();
            info.modalities = raw.modal;
        }
        let mut finish = if take {
            std::mem::take(&mut self.finish)
        } else {
            self.finish.clone()
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("fixtures dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(std::fs::read(&p).expect("fixture"));
            }
        }
    }

    #[test]
    fn needles_are_quoted_and_distinct() {
        for f in Flavor::ALL {
            let list = providers::wire(*f).needles;
            let mut seen = std::collections::HashSet::new();
            for n in list {
                let t = needle_text(*n);
                assert!(
                    t.len() >= 3 && t[0] == b'"' && t[t.len() - 1] == b'"',
                    "{f:?}"
                );
                assert!(!t[1..t.len() - 1].contains(&b'"'), "{f:?}");
                assert!(seen.insert(t), "{f:?} repeats a needle");
            }
        }
    }

    /// The packed one-pass search reports exactly the occurrences the
    /// per-needle search does, on every line of every recording (and on
    /// each line's prefixes, the way a cut stream presents them).
    #[test]
    fn packed_search_finds_what_per_needle_search_finds() {
        let mut bodies = Vec::new();
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            &mut bodies,
        );
        assert!(bodies.len() > 50);
        let mut compared = 0;
        for f in Flavor::ALL {
            let list = providers::wire(*f).needles;
            if list.is_empty() {
                continue;
            }
            let packed = Needles::with_packing(list, true);
            let plain = Needles::with_packing(list, false);
            assert!(matches!(plain.search, Search::Each(_)));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("ssse3") {
                assert!(
                    matches!(packed.search, Search::Packed(_)),
                    "{f:?}: no packed searcher"
                );
            }
            for body in &bodies {
                for line in body.split(|b| *b == b'\n') {
                    for cut in [line.len(), line.len() / 2, 17.min(line.len())] {
                        let data = &line[..cut];
                        let collect = |n: &Needles| {
                            let mut hits = Vec::new();
                            n.any(data, |needle, end| {
                                hits.push((needle_text(needle), end));
                                false
                            });
                            hits.sort();
                            hits
                        };
                        assert_eq!(collect(&packed), collect(&plain), "{f:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 1000);
    }
}
