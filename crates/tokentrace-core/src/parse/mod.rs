//! Usage parsers: one push/finish state machine for every body framing.
//!
//! [`ResponseParser`] takes a response body in chunks of any size, as the
//! application reads it, and keeps only what the final [`ResponseInfo`] needs:
//! memory does not grow with the body or the stream, and an SSE event or JSON
//! value of any size costs no buffer (see `json/scan.rs`). The same parser serves
//! plain JSON, SSE, NDJSON and the AWS event stream; the [`Flavor`] decides
//! which members are read and how provider counts map to OpenTelemetry
//! accounting.
//!
//! ```
//! use tokentrace_core::parse::ResponseParser;
//! use tokentrace_core::{BodyFormat, Flavor, Provider};
//!
//! let mut p = ResponseParser::new(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Sse);
//! p.push(b"data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\"}]}\n\n");
//! p.push(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_to");
//! p.push(b"kens\":3,\"total_tokens\":12}}\n\ndata: [DONE]\n\n");
//! let info = p.finish();
//! assert_eq!(info.usage.input_tokens, Some(9));
//! assert_eq!(info.usage.output_tokens, Some(3));
//! assert_eq!(info.finish_reasons, ["stop"]);
//! assert!(info.complete);
//! ```

mod eventstream;
mod extract;
mod ndjson;
pub(crate) mod raw;
mod sse;
pub(crate) mod wire;

pub use eventstream::encode_message as encode_event_stream_message;

use crate::json::scan::{Capture, Limits, Scanner, Sink};
use crate::provider::{BodyFormat, Flavor, Provider};
use crate::usage::ResponseInfo;
use eventstream::{EventStreamFramer, FrameHeaders, FrameSink};
use extract::Extractor;
use ndjson::{NdjsonFramer, NdjsonSink};
use sse::{SseFramer, SseSink};

/// Incremental response parser: feed it the body as it arrives, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct ResponseParser {
    format: BodyFormat,
    scanner: Scanner,
    framing: Framing,
    ex: Extractor,
    events: u64,
    done: bool,
    bytes: u64,
    /// Set by the first [`finish`](ResponseParser::finish): whether the body
    /// ended on a boundary. Later calls rebuild the same result from the
    /// final state rather than keeping a copy of it.
    finished: Option<bool>,
}

#[derive(Debug)]
enum Framing {
    Json,
    Ndjson(NdjsonFramer),
    Sse(SseFramer),
    EventStream(EventStreamFramer),
}

/// Routes scanner and framer callbacks to the extractor and counts events.
struct Route<'a> {
    ex: &'a mut Extractor,
    events: &'a mut u64,
    done: &'a mut bool,
}

const PARTIAL_EVENT: &str = "a stream event did not hold one whole JSON value";

impl Route<'_> {
    /// Record a malformed event at the moment it is seen, so the first error
    /// reported does not depend on where the body was split into chunks.
    fn partial(&mut self) {
        self.ex
            .info
            .parse_error
            .get_or_insert_with(|| PARTIAL_EVENT.to_owned());
    }
}

impl Sink for Route<'_> {
    fn document(&mut self, captures: &[Capture], arena: &[u8]) {
        self.ex.document(captures, arena);
    }
}

impl SseSink for Route<'_> {
    fn event_name(&mut self, name: &[u8]) {
        self.ex
            .set_event(Some(String::from_utf8_lossy(name).into_owned()));
    }

    fn interesting(&mut self, data: &[u8]) -> bool {
        self.ex.interesting(data)
    }

    fn event_end(&mut self, done: bool, incomplete: bool) {
        *self.events += 1;
        if done {
            *self.done = true;
        }
        if incomplete {
            self.partial();
        }
        self.ex.set_event(None);
    }
}

impl NdjsonSink for Route<'_> {
    fn interesting(&mut self, line: &[u8]) -> bool {
        self.ex.interesting(line)
    }

    fn line_seen(&mut self) {
        *self.events += 1;
    }

    fn malformed(&mut self) {
        self.partial();
    }
}

impl FrameSink for Route<'_> {
    fn frame_start(&mut self, headers: &FrameHeaders) {
        self.ex.frame(headers);
    }

    fn frame_end(&mut self, incomplete: bool) {
        *self.events += 1;
        if incomplete {
            self.partial();
        }
    }
}

impl ResponseParser {
    /// A parser for one response body.
    pub fn new(provider: Provider, flavor: Flavor, format: BodyFormat) -> Self {
        Self::with_event_buffer(provider, flavor, format, sse::EVENT_BUFFER)
    }

    /// A parser that holds at most `limit` bytes of a stream event for the
    /// skip prefilter (0 parses every event in full). For tests and tuning.
    #[doc(hidden)]
    pub fn with_event_buffer(
        provider: Provider,
        flavor: Flavor,
        format: BodyFormat,
        limit: usize,
    ) -> Self {
        let patterns = crate::providers::wire(flavor).patterns;
        let scanner = Scanner::new(patterns, Limits::default());
        let (scanner, framing) = match format {
            BodyFormat::Json => (scanner, Framing::Json),
            BodyFormat::Ndjson => (
                scanner.no_root_array(),
                Framing::Ndjson(NdjsonFramer::with_limit(limit)),
            ),
            BodyFormat::Sse => (
                scanner.no_root_array(),
                Framing::Sse(SseFramer::with_limit(limit)),
            ),
            BodyFormat::AwsEventStream => (
                scanner.no_root_array(),
                Framing::EventStream(EventStreamFramer::new()),
            ),
        };
        Self {
            format,
            scanner,
            framing,
            ex: Extractor::new(provider, flavor),
            events: 0,
            done: false,
            bytes: 0,
            finished: None,
        }
    }

    /// Parse every stream event in full instead of skipping the ones the
    /// prefilter proves cannot change the result. For tests and debugging.
    #[doc(hidden)]
    #[must_use]
    pub fn without_prefilter(mut self) -> Self {
        self.ex.prefilter = false;
        self
    }

    /// The response's HTTP status; a 4xx/5xx body is read as an error body.
    pub fn observe_status(&mut self, status: u16) {
        self.ex.status(status);
    }

    /// Offer a response header (Bedrock reports InvokeModel usage and error
    /// types in headers). Other headers are ignored.
    pub fn observe_header(&mut self, name: &str, value: &str) {
        self.ex.header(name, value);
    }

    /// Heap bytes the parser holds now. It does not grow with the body: it is
    /// bounded by the capture limit and the nesting limit whatever the input.
    pub fn retained_bytes(&self) -> usize {
        let framing = match &self.framing {
            Framing::Json => 0,
            Framing::Ndjson(f) => f.retained_bytes(),
            Framing::Sse(f) => f.retained_bytes(),
            Framing::EventStream(f) => f.retained_bytes(),
        };
        self.scanner.retained_bytes() + framing + self.ex.retained_bytes()
    }

    /// Bytes pushed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Feed the next chunk of the body. Never fails: malformed input is
    /// reported by [`finish`](Self::finish) as `parse_error`.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.finished.is_some() {
            return;
        }
        self.bytes += chunk.len() as u64;
        let mut route = Route {
            ex: &mut self.ex,
            events: &mut self.events,
            done: &mut self.done,
        };
        match &mut self.framing {
            Framing::Json => self.scanner.push(chunk, &mut route),
            Framing::Sse(f) => f.push(chunk, &mut self.scanner, &mut route),
            Framing::EventStream(f) => f.push(chunk, &mut self.scanner, &mut route),
            Framing::Ndjson(f) => f.push(chunk, &mut self.scanner, &mut route),
        }
    }

    /// Everything extracted; call at the end of the body, or when it is cut
    /// short (what arrived before the cut is kept). Later calls return the same result.
    pub fn finish(&mut self) -> ResponseInfo {
        let clean_end = match self.finished {
            Some(clean_end) => clean_end,
            None => {
                let clean_end = self.end_framing();
                self.finished = Some(clean_end);
                clean_end
            }
        };
        self.build(clean_end, false)
    }

    /// [`finish`](Self::finish) for the last time: the same result, built
    /// by moving the parser's state out instead of copying it.
    pub fn into_info(mut self) -> ResponseInfo {
        let clean_end = match self.finished {
            Some(clean_end) => clean_end,
            None => self.end_framing(),
        };
        self.build(clean_end, true)
    }

    /// Flush the framer and scanner at the end of the body; whether it ended
    /// on a boundary. Runs once.
    fn end_framing(&mut self) -> bool {
        let mut route = Route {
            ex: &mut self.ex,
            events: &mut self.events,
            done: &mut self.done,
        };
        let mut clean_end = true;
        match &mut self.framing {
            Framing::Json => {
                if !self.scanner.idle() {
                    clean_end = false;
                    self.scanner.flush_partial(&mut route);
                }
            }
            Framing::Sse(f) => f.finish(&mut self.scanner, &mut route),
            Framing::Ndjson(f) => clean_end = f.finish(&mut self.scanner, &mut route),
            Framing::EventStream(f) => {
                if !f.at_boundary() {
                    clean_end = false;
                    self.scanner.flush_partial(&mut route);
                }
            }
        }
        clean_end
    }

    /// The result from the final state; the same on every call (`take`:
    /// the last call, which may move the state out).
    fn build(&mut self, clean_end: bool, take: bool) -> ResponseInfo {
        let mut info = if take {
            self.ex.take_result()
        } else {
            self.ex.result()
        };
        info.events = if self.format == BodyFormat::Json {
            0
        } else {
            self.events
        };
        let framing_error = match &self.framing {
            Framing::EventStream(f) => f.error(),
            _ => None,
        };
        if let Some(e) = self.scanner.error().or(framing_error) {
            info.parse_error.get_or_insert_with(|| e.to_owned());
        }
        if self.scanner.oversized() {
            info.parse_error.get_or_insert_with(|| {
                "a usage value was larger than the capture limit".to_owned()
            });
        }
        info.complete = match self.format {
            BodyFormat::Json => {
                clean_end && self.scanner.error().is_none() && self.scanner.documents() > 0
            }
            _ => self.done || self.ex.terminal,
        };
        info
    }
}

/// Parse a whole body in one go.
pub fn parse_body(
    provider: Provider,
    flavor: Flavor,
    format: BodyFormat,
    body: &[u8],
) -> ResponseInfo {
    let mut p = ResponseParser::new(provider, flavor, format);
    p.push(body);
    p.into_info()
}

#[cfg(test)]
mod error_tests {
    use crate::provider::{BodyFormat, Flavor, Provider};

    fn error_of(provider: Provider, flavor: Flavor, status: u16, body: &str) -> (String, String) {
        let mut p = super::ResponseParser::new(provider, flavor, BodyFormat::Json);
        p.observe_status(status);
        p.push(body.as_bytes());
        let info = p.finish();
        (info.error_type.unwrap(), info.error_message.unwrap())
    }

    /// `error.type` is the value each provider documents for filtering:
    /// OpenAI's `code` (not the broader `type`), Anthropic's `type`,
    /// Gemini's `status` (not the numeric HTTP `code`).
    #[test]
    fn provider_error_codes_are_the_filterable_ones() {
        let openai_429 = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let (ty, msg) = error_of(Provider::OpenAi, Flavor::OpenAiChat, 429, openai_429);
        assert_eq!(ty, "rate_limit_exceeded");
        assert!(msg.starts_with("Rate limit reached"), "{msg}");

        let openai_null_code = r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#;
        let (ty, _) = error_of(Provider::OpenAi, Flavor::OpenAiChat, 500, openai_null_code);
        assert_eq!(ty, "server_error");

        let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        let (ty, msg) = error_of(Provider::Anthropic, Flavor::Anthropic, 529, anthropic);
        assert_eq!(
            (ty.as_str(), msg.as_str()),
            ("overloaded_error", "Overloaded")
        );

        let gemini = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#;
        let (ty, _) = error_of(Provider::Gemini, Flavor::Gemini, 429, gemini);
        assert_eq!(ty, "RESOURCE_EXHAUSTED");

        let azure = r#"{"error":{"code":"content_filter","message":"The response was filtered","param":"prompt","status":400}}"#;
        let (ty, _) = error_of(Provider::AzureOpenAi, Flavor::OpenAiChat, 400, azure);
        assert_eq!(ty, "content_filter");

        let azure_numeric = r#"{"error":{"code":"404","message":"Resource not found"}}"#;
        let (ty, _) = error_of(
            Provider::AzureOpenAi,
            Flavor::OpenAiChat,
            404,
            azure_numeric,
        );
        assert_eq!(ty, "404");
    }

    /// A second `finish` returns what the first did, and later pushes are
    /// ignored: a stream cut mid-event (partial flush, parse error), a JSON
    /// body cut short, and a Bedrock error type taken from a header.
    #[test]
    fn finish_twice_gives_the_same_result() {
        let mut sse =
            super::ResponseParser::new(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Sse);
        sse.push(b"data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\"}]}\n\n");
        sse.push(b"data: {\"usage\":{\"prompt_tokens\":4");
        let first = sse.finish();
        sse.push(b"}}\n\ndata: [DONE]\n\n");
        assert_eq!(sse.finish(), first);
        assert_eq!(first.finish_reasons, ["stop"]);
        assert!(!first.complete);
        assert!(first.parse_error.is_some());

        let mut json =
            super::ResponseParser::new(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Json);
        json.push(br#"{"id":"x","usage":{"prompt_tokens":2,"completion_tokens":1"#);
        let first = json.finish();
        assert_eq!(json.finish(), first);
        assert!(!first.complete);

        let mut bedrock =
            super::ResponseParser::new(Provider::Bedrock, Flavor::BedrockInvoke, BodyFormat::Json);
        bedrock.observe_status(400);
        bedrock.observe_header(
            "X-Amzn-ErrorType",
            "ValidationException:http://internal.amazon.com/coral/x",
        );
        bedrock.observe_header("x-amzn-bedrock-output-token-count", "7");
        bedrock.push(br#"{"message":"bad input"}"#);
        let first = bedrock.finish();
        assert_eq!(bedrock.finish(), first);
        assert_eq!(first.error_type.as_deref(), Some("ValidationException"));
        assert_eq!(first.usage.output_tokens, Some(7));
    }
}
