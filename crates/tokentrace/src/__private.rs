//! Runtime support for `#[tokentrace::workflow]` expansions.
//!
//! **Not public API.** Everything here exists only for the code the macro
//! generates; it is exempt from semantic versioning and may change in any
//! release.

use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
pub use tokentrace_core::semconv;
pub use tracing;
pub use tracing::Span;

use tokentrace_core::defaults::{
    workflow_allowed, workflow_filter_generation as filter_generation,
};

pub use crate::kind::WorkflowKind;

/// Longest `Debug` text recorded for captured arguments, results and errors.
pub const MAX_CAPTURE_LEN: usize = 1024;

/// What the workflow filter needs to know about one annotated function (the
/// span itself is a callsite the macro expands in place).
#[derive(Debug)]
pub struct WorkflowMeta {
    /// The workflow name.
    pub name: &'static str,
    /// `module_path!()` at the function.
    pub module_path: &'static str,
}

/// One annotated function: its metadata and a cached filter decision.
#[derive(Debug)]
pub struct Workflow {
    meta: WorkflowMeta,
    /// `generation << 2 | decision` (0 unknown, 1 on, 2 off): the decision
    /// is re-made only when [`crate::set_workflow_filter`] bumps the
    /// generation, so an enabled or disabled call costs one atomic load.
    state: AtomicU32,
}

const UNKNOWN: u32 = 0;
const ON: u32 = 1;
const OFF: u32 = 2;

impl Workflow {
    /// A call-site with no cached decision.
    pub const fn new(meta: WorkflowMeta) -> Self {
        Self {
            meta,
            state: AtomicU32::new(UNKNOWN),
        }
    }

    /// Whether the workflow filter lets this function record.
    pub fn enabled(&self) -> bool {
        let generation = filter_generation();
        let state = self.state.load(Ordering::Relaxed);
        if state >> 2 == generation && state & 3 != UNKNOWN {
            return state & 3 == ON;
        }
        let on = workflow_allowed(self.meta.name, Some(self.meta.module_path));
        self.state.store(
            (generation << 2) | if on { ON } else { OFF },
            Ordering::Relaxed,
        );
        on
    }
}

/// Creates a `traced_run` workflow span (the contract in
/// `docs/architecture.md`). `#[workflow]` expands a callsite of the same
/// shape in place (`tokentrace-macros`' `workflow_span`), named by its
/// callsite rather than by `otel.name`.
pub(crate) fn new_workflow_span(
    span_name: &str,
    name: &str,
    kind: WorkflowKind,
    agent_name: Option<&str>,
    agent_role: Option<&str>,
    task: Option<&str>,
) -> Span {
    use tracing::field::Empty;
    tracing::info_span!(
        target: "tokentrace::workflow",
        "workflow",
        { semconv::OTEL_NAME } = span_name,
        { semconv::OTEL_KIND } = "internal",
        { semconv::OTEL_STATUS_CODE } = Empty,
        { semconv::OTEL_STATUS_DESCRIPTION } = Empty,
        { semconv::TOKENTRACE_SPAN_TYPE } = semconv::values::SPAN_TYPE_WORKFLOW,
        { semconv::GEN_AI_WORKFLOW_NAME } = name,
        { semconv::GEN_AI_OPERATION_NAME } = kind.operation_name(),
        { semconv::OPENINFERENCE_SPAN_KIND } = kind.openinference_kind(),
        { semconv::TOKENTRACE_WORKFLOW_KIND } = (kind != WorkflowKind::Chain).then(|| kind.as_str()),
        // An agent's name: the one given, else the workflow's.
        { semconv::GEN_AI_AGENT_NAME } = agent_name.or((kind == WorkflowKind::Agent).then_some(name)),
        { semconv::GEN_AI_TOOL_NAME } = (kind == WorkflowKind::Tool).then_some(name),
        { semconv::GEN_AI_TOOL_TYPE } = (kind == WorkflowKind::Tool).then_some(semconv::values::TOOL_TYPE_FUNCTION),
        { semconv::AGENT_NAME } = agent_name,
        { semconv::GEN_AI_AGENT_DESCRIPTION } = agent_role.or(task),
        { semconv::TOKENTRACE_AGENT_ROLE } = agent_role,
        { semconv::TOKENTRACE_AGENT_TASK } = task,
        { semconv::TOKENTRACE_FUNCTION_ARGS } = Empty,
        { semconv::TOKENTRACE_FUNCTION_RESULT } = Empty,
        { semconv::ERROR_TYPE } = Empty,
        { semconv::EXCEPTION_MESSAGE } = Empty,
    )
}

/// A `fmt::Write` that keeps the first `MAX_CAPTURE_LEN` bytes and then
/// stops formatting (returning an error ends `Debug` early, so a huge value
/// costs no more than the bound).
struct Bounded {
    buf: String,
    truncated: bool,
}

impl Bounded {
    fn new() -> Self {
        Self {
            buf: String::new(),
            truncated: false,
        }
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_CAPTURE_LEN - self.buf.len();
        if s.len() <= room {
            self.buf.push_str(s);
            return Ok(());
        }
        self.buf
            .push_str(tokentrace_core::bound::truncate_utf8(s, room));
        self.truncated = true;
        Err(fmt::Error)
    }
}

/// `Debug` text of `value`, cut to [`MAX_CAPTURE_LEN`] bytes with a `…` marker.
pub fn bounded_debug(value: &dyn fmt::Debug) -> String {
    let mut w = Bounded::new();
    let _ = write!(w, "{value:?}");
    finish(w)
}

fn bounded_display(value: &dyn fmt::Display) -> String {
    let mut w = Bounded::new();
    let _ = write!(w, "{value}");
    finish(w)
}

fn finish(mut w: Bounded) -> String {
    if w.truncated {
        w.buf.push('…');
    }
    w.buf
}

/// Records `capture_args`: `name=Debug` pairs, bounded as a whole.
pub fn record_args(span: &Span, args: &[(&str, &dyn fmt::Debug)]) {
    let mut w = Bounded::new();
    for (i, (name, value)) in args.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        if write!(w, "{sep}{name}={value:?}").is_err() {
            break;
        }
    }
    span.record(semconv::TOKENTRACE_FUNCTION_ARGS, finish(w).as_str());
}

/// Records `capture_result`.
pub fn record_result<T: fmt::Debug>(span: &Span, result: &T) {
    if !span.is_disabled() {
        span.record(
            semconv::TOKENTRACE_FUNCTION_RESULT,
            bounded_debug(result).as_str(),
        );
    }
}

/// Marks `span` as failed.
pub(crate) fn record_error(span: &Span, error_type: &str, message: &str) {
    // A provider's raw JSON error body inside the message becomes its message.
    let message = tokentrace_core::bound::readable_error(message);
    tokentrace_core::status::SpanError::new()
        .error_type(error_type)
        .message(&message)
        .record(|k, v| {
            span.record(k, v);
        });
}

/// A borrowed `Err` value; the `Record*` traits pick the best text for it at
/// the expansion site (autoref specialisation: `Display`, then `Debug`, then
/// a fixed text), so `Err` types need no particular trait.
#[derive(Debug)]
pub struct ErrorRef<'a, E>(pub &'a E);

/// Records an error through `Display`.
pub trait RecordDisplay {
    /// Marks `span` as failed with this error.
    fn __tokentrace_record(&self, span: &Span);
}

/// Records an error through `Debug`.
pub trait RecordDebug {
    /// Marks `span` as failed with this error.
    fn __tokentrace_record(&self, span: &Span);
}

/// Records an error with neither `Display` nor `Debug`.
pub trait RecordOther {
    /// Marks `span` as failed with this error.
    fn __tokentrace_record(&self, span: &Span);
}

impl<E: fmt::Display> RecordDisplay for &&ErrorRef<'_, E> {
    fn __tokentrace_record(&self, span: &Span) {
        if !span.is_disabled() {
            record_error(span, semconv::values::ERROR_OTHER, &bounded_display(self.0));
        }
    }
}

impl<E: fmt::Debug> RecordDebug for &ErrorRef<'_, E> {
    fn __tokentrace_record(&self, span: &Span) {
        if !span.is_disabled() {
            record_error(span, semconv::values::ERROR_OTHER, &bounded_debug(self.0));
        }
    }
}

impl<E> RecordOther for ErrorRef<'_, E> {
    fn __tokentrace_record(&self, span: &Span) {
        record_error(span, semconv::values::ERROR_OTHER, "error");
    }
}

/// Records a panic unwinding through the scope it lives in.
#[derive(Debug)]
pub struct PanicGuard<'a> {
    span: &'a Span,
}

impl<'a> PanicGuard<'a> {
    /// Guards `span`.
    pub fn new(span: &'a Span) -> Self {
        Self { span }
    }
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.span.is_disabled() {
            record_error(self.span, "panic", "panicked");
        }
    }
}

/// The recorder for functions whose outcome is not inspected.
pub fn no_record<T>(_span: &Span, _output: &T) {}

pin_project! {
    /// A future run inside a workflow span: the span is entered on every
    /// poll, a panic is recorded, and the output is handed to a recorder.
    pub struct Instrumented<F, R> {
        #[pin]
        inner: F,
        span: Span,
        recorder: Option<R>,
    }
}

impl<F, R> fmt::Debug for Instrumented<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

/// Runs `fut` inside `span`, handing its output to `recorder`.
pub fn instrument<F, R>(span: Span, fut: F, recorder: R) -> Instrumented<F, R>
where
    F: Future,
    R: FnOnce(&Span, &F::Output),
{
    Instrumented {
        inner: fut,
        span,
        recorder: Some(recorder),
    }
}

impl<F, R> Future for Instrumented<F, R>
where
    F: Future,
    R: FnOnce(&Span, &F::Output),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = PanicGuard::new(this.span);
        let _entered = this.span.enter();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Some(recorder) = this.recorder.take() {
            recorder(this.span, &out);
        }
        Poll::Ready(out)
    }
}

pin_project! {
    /// A stream that keeps its workflow span open until it ends or is
    /// dropped; the span is entered on every poll.
    pub struct InstrumentedStream<S> {
        #[pin]
        inner: S,
        span: Option<Span>,
    }
}

impl<S> fmt::Debug for InstrumentedStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedStream")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

/// Keeps `span` open for the life of `stream`.
pub fn instrument_stream<S: futures_core::Stream>(span: Span, stream: S) -> InstrumentedStream<S> {
    InstrumentedStream {
        inner: stream,
        span: Some(span),
    }
}

impl<S: futures_core::Stream> futures_core::Stream for InstrumentedStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(span) = this.span.as_ref() else {
            return this.inner.poll_next(cx);
        };
        let item = {
            let _guard = PanicGuard::new(span);
            let _entered = span.enter();
            this.inner.poll_next(cx)
        };
        if let Poll::Ready(None) = item {
            // The stream is over: end the span now, not when the consumer
            // gets round to dropping the stream.
            this.span.take();
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_debug_cuts_at_a_char_boundary_and_marks_it() {
        let long = "é".repeat(MAX_CAPTURE_LEN);
        let s = bounded_debug(&long);
        assert!(s.len() <= MAX_CAPTURE_LEN + '…'.len_utf8());
        assert!(s.ends_with('…'));
        assert_eq!(bounded_debug(&"short"), "\"short\"");
    }
}
