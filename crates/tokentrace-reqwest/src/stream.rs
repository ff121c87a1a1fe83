//! The response body tap: the application reads exactly the bytes on the
//! wire while core's parser sees them, and the span ends when the body ends,
//! fails or is dropped, exactly once.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokentrace_core::call::{self, BodyEnd};
use tokentrace_core::parse::ResponseParser;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::semconv::{self, values};
use tokentrace_core::{Provider, ResponseInfo};
use tracing::Span;

use crate::capture::OutputCapture;
use crate::decode::Inflate;
use crate::span;

/// How a call's response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The body reached its end.
    Eos,
    /// Reading the body failed with this `error.type`.
    Error(&'static str),
    /// The application dropped the body (or the response) before its end.
    Dropped,
}

/// Everything needed to finish a call's span. Finishing consumes it, and its
/// `Drop` finishes a call nobody finished, so the span ends exactly once.
#[derive(Debug)]
pub(crate) struct CallGuard {
    pub(crate) span: Span,
    /// The auto root, closed right after `span`.
    pub(crate) root: Option<Span>,
    /// Boxed: a parser is ~1.5 KiB, and the guard lives in the middleware's
    /// future and in the response body, both heap-allocated by their owners.
    pub(crate) parser: Option<Box<ResponseParser>>,
    pub(crate) output: Option<OutputCapture>,
    pub(crate) prices: Arc<PriceCatalogue>,
    pub(crate) provider: Provider,
    /// Request model, then URL model: the price fallbacks after the response model.
    pub(crate) request_model: Option<String>,
    pub(crate) status: u16,
    pub(crate) streaming: bool,
    pub(crate) start: Instant,
    pub(crate) first_chunk: Option<Instant>,
    /// When the latest chunk arrived (streams), for [`Self::chunk_gaps`].
    pub(crate) last_chunk: Option<Instant>,
    /// Seconds between chunks after the first (streams): handed to the
    /// span's extensions at the end for `time_per_output_chunk`.
    pub(crate) chunk_gaps: tokentrace_core::timing::ChunkGaps,
    pub(crate) bytes: u64,
    pub(crate) finished: bool,
    /// The body's last frame went out: the span's end time is stamped, and
    /// the rest of the finish waits for the next poll or the drop.
    pub(crate) stamped: bool,
    /// The last chunk handed to the application, not parsed yet (see `on_chunk`).
    pub(crate) pending: Option<Bytes>,
    /// The body is gzip or deflate: the parser and the output capture see it decoded.
    pub(crate) inflate: Option<Box<Inflate>>,
    /// Why the body is not parsed (`tokentrace.response.unparsed`), when it is not.
    pub(crate) unparsed: Option<String>,
    /// Captured request content was cut to its bound. Recorded with the
    /// output's own cut as one `tokentrace.content.truncated` at the end.
    pub(crate) content_truncated: bool,
    /// An OpenAI-style stream requested without `stream_options.include_usage`.
    pub(crate) usage_not_requested: bool,
    /// A vector-database call (no token usage expected).
    pub(crate) vector: bool,
    /// The budget reservation to settle (or release) when the call ends.
    pub(crate) reservation: Option<crate::budget::Reservation>,
}

impl CallGuard {
    /// The guard of a call whose span was just created: nothing received,
    /// nothing parsed, no reservation. The middleware and the Bedrock
    /// interceptor set the call's flags on it.
    pub(crate) fn new(
        span: Span,
        root: Option<Span>,
        prices: Arc<PriceCatalogue>,
        provider: Provider,
        request_model: Option<String>,
    ) -> Self {
        Self {
            span,
            root,
            parser: None,
            output: None,
            prices,
            provider,
            request_model,
            status: 0,
            streaming: false,
            start: Instant::now(),
            first_chunk: None,
            last_chunk: None,
            chunk_gaps: Default::default(),
            bytes: 0,
            finished: false,
            stamped: false,
            pending: None,
            inflate: None,
            unparsed: None,
            content_truncated: false,
            usage_not_requested: false,
            vector: false,
            reservation: None,
        }
    }

    /// A chunk is on its way to the application. Timing is taken now; the
    /// parsing waits until the next poll (or the end), so the application gets
    /// every chunk, the first one included, without waiting for the parser, and
    /// the parse overlaps the wait for the next chunk. Only this one chunk is
    /// held, by reference count: the application holds the same bytes.
    pub(crate) fn on_chunk(&mut self, data: &Bytes) {
        self.drain_pending();
        if self.streaming {
            let now = Instant::now();
            if let Some(prev) = self.last_chunk.replace(now) {
                self.chunk_gaps
                    .push(now.saturating_duration_since(prev).as_secs_f64());
            }
        }
        if self.first_chunk.is_none() {
            let now = self.last_chunk.unwrap_or_else(Instant::now);
            self.first_chunk = Some(now);
            if self.streaming
                && let Some(f) = span::llm_fields(&self.span)
            {
                self.span
                    .record(&f.ttfc, now.duration_since(self.start).as_secs_f64());
            }
        }
        self.bytes += data.len() as u64;
        if self.parser.is_some() || self.output.is_some() {
            self.pending = Some(data.clone());
        }
    }

    /// Parse the chunk held back by `on_chunk`.
    pub(crate) fn drain_pending(&mut self) {
        if let Some(data) = self.pending.take() {
            match self.inflate.as_mut() {
                None => self.parse(&data),
                Some(inflate) => {
                    let (parser, output) = (&mut self.parser, &mut self.output);
                    let mut sink = |decoded: &[u8]| parse_into(parser, output, decoded);
                    if !inflate.push(&data, &mut sink) {
                        self.decode_failed();
                    }
                }
            }
        }
    }

    fn parse(&mut self, data: &[u8]) {
        parse_into(&mut self.parser, &mut self.output, data);
    }

    /// The compressed body cannot be decoded: stop parsing it and say so.
    fn decode_failed(&mut self) {
        if let Some(inflate) = &self.inflate {
            self.unparsed = Some(inflate.failure().to_owned());
        }
        self.parser = None;
        self.output = None;
        self.inflate = None;
    }

    /// The body handed out its last frame. The span's end time is taken
    /// now (tracing-opentelemetry ends a span at its last exit), but the
    /// parse, the records and the export wait for the next poll (which
    /// `bytes()`, `json()` and `chunk()` loops make at once) or the drop, so
    /// the application gets the frame without waiting for them.
    pub(crate) fn stamp_end(&mut self) {
        if !self.stamped && !self.finished {
            self.stamped = true;
            drop(self.span.enter());
            if let Some(root) = &self.root {
                drop(root.enter());
            }
        }
    }

    pub(crate) fn finish(&mut self, ending: Ending) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        // Dropped after its last frame went out: the body ended.
        let ending = if self.stamped && ending == Ending::Dropped {
            Ending::Eos
        } else {
            ending
        };
        self.drain_pending();
        // At the body's end the compressed stream must be whole; a body cut
        // short is reported as such below, not as undecodable.
        if ending == Ending::Eos
            && let Some(inflate) = self.inflate.as_mut()
        {
            let (parser, output) = (&mut self.parser, &mut self.output);
            let mut sink = |decoded: &[u8]| parse_into(parser, output, decoded);
            if !inflate.finish(&mut sink) {
                self.decode_failed();
            }
        }
        let parsed = self.parser.is_some();
        let info = self
            .parser
            .take()
            .map(|p| p.into_info())
            .unwrap_or_default();
        let end = call::CallEnd {
            info: &info,
            end: match ending {
                Ending::Eos => BodyEnd::Complete,
                Ending::Error(_) => BodyEnd::Failed,
                Ending::Dropped => BodyEnd::Dropped,
            },
            status: self.status,
            streaming: self.streaming,
            parsed,
            unreadable: self.unparsed.is_some(),
            bytes: self.bytes,
            vector: self.vector,
            usage_not_requested: self.usage_not_requested,
        };
        let incomplete = end.incomplete();
        let error_type = end.error_type(match ending {
            Ending::Error(kind) => Some(kind),
            _ => None,
        });
        let model = call::response_model(&info, self.request_model.as_deref());
        let usage_missing = end.usage_missing();
        let error_message = error_type
            .as_deref()
            .map(|kind| readable_error(ending, self.status, kind, &info));
        let cost = call::price(
            &self.prices,
            self.provider,
            &info,
            self.request_model.as_deref(),
        );
        if let Some(r) = self.reservation.take() {
            let actual = info
                .provider_cost_usd
                .or_else(|| cost.as_ref().map(|c| c.total_usd));
            let failed = matches!(ending, Ending::Error(_)) || self.status >= 400;
            match (failed, actual, ending) {
                (true, _, _) => r.release(),
                (false, Some(usd), _) => r.settle(usd),
                // A successful answer whose usage could not be read or
                // priced: keep the estimate as the spend.
                (false, None, Ending::Eos) if !info.usage.is_empty() || !incomplete => {
                    let estimate = r.estimate_usd();
                    r.settle(estimate);
                }
                (false, None, _) => r.release(),
            }
        }
        let priced = match (&info.provider_cost_usd, &cost) {
            (Some(total), _) => span::Priced::Provider(*total, values::COST_SOURCE_PROVIDER),
            (None, _) if info.usage.is_empty() => span::Priced::Nothing,
            (None, Some(cost)) => span::Priced::Catalogue(cost, cost.source.name()),
            (None, None) => span::Priced::UnknownModel,
        };
        span::record_outcome(
            &self.span,
            &span::Outcome {
                info: &info,
                model,
                priced,
                bytes: self.bytes,
                incomplete,
                unparsed: self.unparsed.as_deref(),
                usage_missing,
                error_message: error_message.as_deref(),
                error_type: error_type
                    .as_deref()
                    .map(|kind| tokentrace_core::bound::truncate_utf8(kind, 128)),
                latency_ms: self.start.elapsed().as_secs_f64() * 1000.0,
            },
        );
        if !self.chunk_gaps.is_empty() {
            hand_chunk_gaps(&self.span, std::mem::take(&mut self.chunk_gaps));
        }
        if let Some(out) = self.output.take() {
            self.content_truncated |= out.finish(&self.span);
        }
        if self.content_truncated {
            self.span
                .record(semconv::TOKENTRACE_CONTENT_TRUNCATED, true);
        }
        // tracing-opentelemetry ends a span at its last *exit*, not at its
        // close: the span was last entered around `next.run`, before the body
        // streamed, so touch it now to end it with the body. Close the LLM
        // span before its auto root so the root ends last.
        if !self.stamped {
            drop(self.span.enter());
        }
        self.span = Span::none();
        if let Some(root) = self.root.take() {
            if incomplete || self.status >= 400 || matches!(ending, Ending::Error(_)) {
                tokentrace_core::status::SpanError::new()
                    .description(
                        error_message
                            .as_deref()
                            .unwrap_or("the response body ended before the provider finished"),
                    )
                    .record(|k, v| {
                        root.record(k, v);
                    });
            }
            if !self.stamped {
                drop(root.enter());
            }
            drop(root);
        }
    }
}

/// Leaves a stream's chunk gaps in its span's extensions, where
/// `EnrichLayer` reads them at close (see `tokentrace_core::timing`). Does
/// nothing when the span lives in a subscriber that is not a
/// `tracing_subscriber` registry.
fn hand_chunk_gaps(span: &Span, gaps: tokentrace_core::timing::ChunkGaps) {
    use tracing_subscriber::registry::LookupSpan as _;
    span.with_subscriber(|(id, dispatch)| {
        if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
            && let Some(data) = registry.span(id)
        {
            data.extensions_mut().replace(gaps);
        }
    });
}

/// Longest `otel.status_description` / `exception.message`, in bytes.
const MAX_ERROR_MESSAGE: usize = 256;

/// A short message a person can read for a failed call: the provider's own
/// `error.message` when the body had one, else what failed in words.
fn readable_error(ending: Ending, status: u16, kind: &str, info: &ResponseInfo) -> String {
    if let Some(msg) = info.error_message.as_deref().map(str::trim)
        && !msg.is_empty()
    {
        return tokentrace_core::bound::truncate_utf8(msg, MAX_ERROR_MESSAGE).to_owned();
    }
    let text = match ending {
        Ending::Error(span::ERROR_TIMEOUT) => "the request timed out".to_owned(),
        Ending::Error(span::ERROR_CONNECT) => "could not connect to the provider".to_owned(),
        Ending::Error(span::ERROR_BODY) => "the response body failed before its end".to_owned(),
        Ending::Error(span::ERROR_REQUEST) => "the request could not be sent".to_owned(),
        Ending::Error(_) => "the call failed".to_owned(),
        _ if status >= 400 && kind != status.to_string() => format!("HTTP {status}: {kind}"),
        _ if status >= 400 => format!("HTTP {status}"),
        _ => kind.to_owned(),
    };
    tokentrace_core::bound::truncate_utf8(&text, MAX_ERROR_MESSAGE).to_owned()
}

/// Hand (decoded) body bytes to the parser and the output capture.
fn parse_into(
    parser: &mut Option<Box<ResponseParser>>,
    output: &mut Option<OutputCapture>,
    data: &[u8],
) {
    if let Some(p) = parser.as_mut() {
        p.push(data);
    }
    if let Some(o) = output.as_mut() {
        o.push(data);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.finish(Ending::Dropped);
    }
}

pin_project_lite::pin_project! {
    /// A response body that feeds every data frame to a [`CallGuard`] on its
    /// way to the application.
    #[derive(Debug)]
    pub(crate) struct TracedBody<B> {
        #[pin]
        inner: B,
        guard: Box<CallGuard>,
        // Bytes still to come of a body with a `Content-Length` and no
        // `Content-Encoding`: the last frame is known even when the body
        // below cannot say so (reqwest built with a decompression feature
        // wraps every body in a layer that never reports its end early).
        remaining: Option<u64>,
    }
}

impl<B> TracedBody<B> {
    pub(crate) fn new(inner: B, guard: Box<CallGuard>, content_length: Option<u64>) -> Self {
        Self {
            inner,
            guard,
            remaining: content_length,
        }
    }
}

/// How a failed body frame is typed on the span (`error.type`).
pub(crate) trait BodyError {
    fn error_type(&self) -> &'static str;
}

impl BodyError for reqwest::Error {
    fn error_type(&self) -> &'static str {
        span::classify_reqwest(self)
    }
}

/// The AWS SDK's body error (`aws_smithy_types::body::Error`).
impl BodyError for Box<dyn std::error::Error + Send + Sync> {
    fn error_type(&self) -> &'static str {
        span::ERROR_BODY
    }
}

impl<B> Body for TracedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: BodyError,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        // The previous chunk is the application's already: parse it while
        // the next one is (usually) still on the wire.
        this.guard.drain_pending();
        let polled = ready!(this.inner.as_mut().poll_frame(cx));
        match &polled {
            Some(Ok(frame)) => {
                let mut last = false;
                if let Some(data) = frame.data_ref() {
                    this.guard.on_chunk(data);
                    if let Some(left) = this.remaining.as_mut() {
                        *left = left.saturating_sub(data.len() as u64);
                        last = *left == 0;
                    }
                }
                // Stamp the span's end with the last frame when the body
                // knows it is the last (content-length bodies), not on a
                // later poll that the application may never make.
                if last || this.inner.is_end_stream() {
                    this.guard.stamp_end();
                }
            }
            Some(Err(err)) => this.guard.finish(Ending::Error(err.error_type())),
            None => this.guard.finish(Ending::Eos),
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
