//! The response body tap: the application reads exactly the bytes on the
//! wire while core's parser sees them, and the span ends when the body ends,
//! fails or is dropped, exactly once.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokentrace_core::parse::ResponseParser;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::semconv::{self, values};
use tokentrace_core::{Provider, ResponseInfo};
use tracing::Span;

use crate::capture::OutputCapture;
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
    pub(crate) parser: Option<ResponseParser>,
    pub(crate) output: Option<OutputCapture>,
    pub(crate) prices: Arc<PriceCatalogue>,
    pub(crate) provider: Provider,
    /// Request model, then URL model: the price fallbacks after the response model.
    pub(crate) request_model: Option<String>,
    pub(crate) status: u16,
    pub(crate) streaming: bool,
    pub(crate) start: Instant,
    pub(crate) first_chunk: Option<Instant>,
    pub(crate) bytes: u64,
    pub(crate) finished: bool,
    /// The last chunk handed to the application, not parsed yet (see `on_chunk`).
    pub(crate) pending: Option<Bytes>,
}

impl CallGuard {
    /// A chunk is on its way to the application. Timing is taken now; the
    /// parsing waits until the next poll (or the end), so the application gets
    /// every chunk, the first one included, without waiting for the parser, and
    /// the parse overlaps the wait for the next chunk. Only this one chunk is
    /// held, by reference count: the application holds the same bytes.
    pub(crate) fn on_chunk(&mut self, data: &Bytes) {
        self.drain_pending();
        if self.first_chunk.is_none() {
            let now = Instant::now();
            self.first_chunk = Some(now);
            if self.streaming {
                self.span.record(
                    semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                    now.duration_since(self.start).as_secs_f64(),
                );
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
            if let Some(p) = self.parser.as_mut() {
                p.push(&data);
            }
            if let Some(o) = self.output.as_mut() {
                o.push(&data);
            }
        }
    }

    pub(crate) fn finish(&mut self, ending: Ending) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.drain_pending();
        let info = self
            .parser
            .as_mut()
            .map(ResponseParser::finish)
            .unwrap_or_default();
        let span = &self.span;
        span::record_response(span, &info);
        if let Some(model) = info
            .response_model
            .as_deref()
            .or(self.request_model.as_deref())
        {
            span.record(semconv::LLM_MODEL_NAME, model);
        }
        self.record_usage_and_cost(&info);
        if let Some(out) = self.output.take() {
            out.finish(span);
        }
        span.record(semconv::TOKENTRACE_RESPONSE_BYTES, span::int(self.bytes));
        let incomplete = match ending {
            // A JSON body that ended mid-value was cut short even though the
            // connection closed cleanly; streams may end without a marker.
            Ending::Eos => {
                !self.streaming && self.parser.is_some() && self.bytes > 0 && !info.complete
            }
            Ending::Error(_) => true,
            // A body dropped after its last byte arrived is not cut short.
            Ending::Dropped => self.parser.is_none() || !info.complete,
        };
        if incomplete {
            span.record(semconv::TOKENTRACE_STREAM_INCOMPLETE, true);
        }
        let error_type = match ending {
            Ending::Error(kind) => Some(kind.to_owned()),
            _ if self.status >= 400 => Some(
                info.error_type
                    .clone()
                    .unwrap_or_else(|| self.status.to_string()),
            ),
            _ => info.error_type.clone(),
        };
        if let Some(kind) = error_type {
            span::record_error(span, tokentrace_core::bound::truncate_utf8(&kind, 128));
            if let Some(msg) = &info.error_message {
                span.record(
                    semconv::EXCEPTION_MESSAGE,
                    tokentrace_core::bound::truncate_utf8(msg, 512),
                );
            }
        }
        span.record(
            semconv::PERFORMANCE_LATENCY_MS,
            self.start.elapsed().as_secs_f64() * 1000.0,
        );
        // tracing-opentelemetry ends a span at its last *exit*, not at its
        // close: the span was last entered around `next.run`, before the body
        // streamed, so touch it now to end it with the body. Close the LLM
        // span before its auto root so the root ends last.
        drop(self.span.enter());
        self.span = Span::none();
        if let Some(root) = self.root.take() {
            if incomplete || self.status >= 400 || matches!(ending, Ending::Error(_)) {
                root.record(semconv::OTEL_STATUS_CODE, "error");
            }
            drop(root.enter());
            drop(root);
        }
    }

    fn record_usage_and_cost(&self, info: &ResponseInfo) {
        let usage = &info.usage;
        span::record_usage(&self.span, usage);
        if let Some(total) = info.provider_cost_usd {
            span::record_provider_cost(&self.span, total, usage, values::COST_SOURCE_PROVIDER);
            return;
        }
        if usage.is_empty() {
            return;
        }
        let model = info
            .response_model
            .as_deref()
            .or(self.request_model.as_deref());
        let cost = model.and_then(|m| self.prices.cost(Some(self.provider), m, usage));
        let cost = match (cost, &info.response_model, &self.request_model) {
            // A dated or region-prefixed response model can miss where the
            // request model hits.
            (None, Some(_), Some(req)) => self.prices.cost(Some(self.provider), req, usage),
            (c, _, _) => c,
        };
        match cost {
            Some(cost) => {
                span::record_cost(&self.span, &cost, usage, cost.source.name());
            }
            None => {
                self.span.record(semconv::COST_UNKNOWN_MODEL, true);
            }
        }
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
        guard: CallGuard,
    }
}

impl<B> TracedBody<B> {
    pub(crate) fn new(inner: B, guard: CallGuard) -> Self {
        Self { inner, guard }
    }
}

impl<B> Body for TracedBody<B>
where
    B: Body<Data = Bytes, Error = reqwest::Error>,
{
    type Data = Bytes;
    type Error = reqwest::Error;

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
                if let Some(data) = frame.data_ref() {
                    this.guard.on_chunk(data);
                }
                // End the span with the last frame when the body knows it is
                // the last (content-length bodies), not on a later poll that
                // the application may never make.
                if this.inner.is_end_stream() {
                    this.guard.finish(Ending::Eos);
                }
            }
            Some(Err(err)) => this
                .guard
                .finish(Ending::Error(span::classify_reqwest(err))),
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
