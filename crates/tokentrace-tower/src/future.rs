use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;
use tokentrace_core::semconv;

use crate::body::WorkflowBody;
use crate::config::Config;
use crate::status::WorkflowSpan;

pin_project! {
    /// Response future of [`WorkflowService`](crate::WorkflowService).
    ///
    /// Hands the span to the response body, records service errors, and
    /// records a handler panic (the future unwinding) or the request being
    /// dropped before a response (the client went away).
    pub struct WorkflowFuture<F> {
        #[pin]
        inner: F,
        span: Option<WorkflowSpan>,
        config: Option<Arc<Config>>,
        panicked: bool,
    }

    impl<F> PinnedDrop for WorkflowFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take()
                && !*this.panicked
            {
                span.record_client_disconnected();
            }
        }
    }
}

impl<F> std::fmt::Debug for WorkflowFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F> WorkflowFuture<F> {
    pub(crate) fn untraced(inner: F) -> Self {
        Self {
            inner,
            span: None,
            config: None,
            panicked: false,
        }
    }

    pub(crate) fn traced(inner: F, span: WorkflowSpan, config: Arc<Config>) -> Self {
        Self {
            inner,
            span: Some(span),
            config: Some(config),
            panicked: false,
        }
    }
}

/// Records a panic that unwinds out of the inner future's `poll`; the app's
/// `CatchPanic` layer turns it into a 500 outside this layer, so this is the
/// only place the span can learn about it.
struct PanicGuard<'a> {
    span: Option<&'a WorkflowSpan>,
    panicked: &'a mut bool,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if let Some(span) = self.span
            && std::thread::panicking()
        {
            *self.panicked = true;
            span.record_error("panic", &"handler panicked");
        }
    }
}

impl<F, B, E> Future for WorkflowFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    E: std::fmt::Display,
{
    type Output = Result<Response<WorkflowBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.as_ref().map(|s| s.span.enter());
        let result = {
            let _guard = PanicGuard {
                span: this.span.as_ref(),
                panicked: this.panicked,
            };
            ready!(this.inner.poll(cx))
        };
        drop(_entered);
        let Some(span) = this.span.take() else {
            return Poll::Ready(result.map(|res| res.map(WorkflowBody::untraced)));
        };
        match result {
            Ok(mut res) => {
                let status = res.status();
                span.record_status_code(status.as_u16());
                // OTel HTTP semconv: a server span's status is Error for 5xx
                // only; 4xx is the client's fault and stays unset.
                // <https://opentelemetry.io/docs/specs/semconv/http/http-spans/#status>
                if status.is_server_error() {
                    span.record_status(status.as_str());
                }
                if let Some(name) = this
                    .config
                    .as_ref()
                    .and_then(|c| c.trace_id_header.as_ref())
                {
                    let trace_id = span.trace_id();
                    if trace_id != opentelemetry::trace::TraceId::INVALID
                        && let Ok(v) = HeaderValue::from_str(&trace_id.to_string())
                    {
                        res.headers_mut().insert(name.clone(), v);
                    }
                }
                if res.body().is_end_stream() {
                    // Nothing left to send (HEAD, 204, an empty body): the
                    // server may never poll the body, so the span ends here.
                    return Poll::Ready(Ok(res.map(WorkflowBody::untraced)));
                }
                let enter = this.config.as_ref().is_none_or(|c| c.enter_in_body);
                Poll::Ready(Ok(
                    res.map(|body| WorkflowBody::traced(body, span.span, enter))
                ))
            }
            Err(err) => {
                span.record_error(semconv::values::ERROR_OTHER, &err);
                Poll::Ready(Err(err))
            }
        }
    }
}
