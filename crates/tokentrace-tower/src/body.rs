use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tracing::Span;

use crate::status::WorkflowSpan;

pin_project! {
    /// Response body of [`WorkflowService`](crate::WorkflowService).
    ///
    /// Forwards every frame untouched and holds the workflow span until the
    /// body ends: at its last frame, at an error, or when it is dropped
    /// before the end (the client went away), whichever comes first; the
    /// span ends exactly once.
    pub struct WorkflowBody<B> {
        #[pin]
        inner: B,
        // The `tracing` span alone: its OpenTelemetry context is looked up
        // again only on the rare paths that record something (an error, a
        // disconnect), which keeps the body as small as a plain span wrapper.
        span: Option<Span>,
        enter: bool,
    }

    impl<B> PinnedDrop for WorkflowBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Every normal end takes the span in `poll_frame` (or earlier, in
            // the response future, for a body that is empty from the start),
            // so a span still here means the body was dropped mid-way.
            if let Some(span) = this.span.take() {
                let span = WorkflowSpan::of(span);
                span.record_client_disconnected();
                close(span.span);
            }
        }
    }
}

/// End the span now. tracing-opentelemetry takes a span's end time from its
/// last *exit*, not its close, so a span that was last entered when the
/// handler returned would otherwise end before its body did.
fn close(span: Span) {
    drop(span.entered());
}

impl<B> std::fmt::Debug for WorkflowBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowBody")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<B> WorkflowBody<B> {
    pub(crate) fn untraced(inner: B) -> Self {
        Self {
            inner,
            span: None,
            enter: false,
        }
    }

    pub(crate) fn traced(inner: B, span: Span, enter: bool) -> Self {
        Self {
            inner,
            span: Some(span),
            enter,
        }
    }
}

impl<B> Body for WorkflowBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let entered = if *this.enter {
            this.span.as_ref().map(Span::enter)
        } else {
            None
        };
        let frame = this.inner.as_mut().poll_frame(cx);
        // Exited now: when this was the last frame, that exit is the span's
        // end time already, and entering it again just to close it is not needed.
        let exited_now = entered.is_some();
        drop(entered);
        let end = |span: Span| {
            if exited_now {
                drop(span);
            } else {
                close(span);
            }
        };
        match &frame {
            Poll::Ready(None) => {
                if let Some(span) = this.span.take() {
                    end(span);
                }
            }
            Poll::Ready(Some(Ok(_))) => {
                // End at the last frame rather than waiting for a poll that
                // hyper may never make.
                if this.inner.is_end_stream()
                    && let Some(span) = this.span.take()
                {
                    end(span);
                }
            }
            Poll::Ready(Some(Err(err))) => {
                if let Some(span) = this.span.take() {
                    let span = WorkflowSpan::of(span);
                    span.record_error("body_error", err);
                    // Recorded after the exit: end it at this moment.
                    close(span.span);
                }
            }
            Poll::Pending => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_wrapper_adds_only_a_span_and_a_flag() {
        type Inner = http_body_util::Empty<bytes::Bytes>;
        let added = size_of::<WorkflowBody<Inner>>() - size_of::<Inner>();
        assert!(
            added <= size_of::<Option<Span>>() + size_of::<usize>(),
            "WorkflowBody adds {added} bytes"
        );
    }
}
