//! Workflow spans in code: [`traced_run`] and [`TracedRun`].

use std::future::Future;

use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::__private::{self as private, new_workflow_span};
use crate::context::RemoteContext;
use crate::kind::WorkflowKind;

/// A value for [`TracedRun::attribute`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttributeValue {
    /// A string.
    String(String),
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}
impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}
impl From<i64> for AttributeValue {
    fn from(v: i64) -> Self {
        Self::I64(v)
    }
}
impl From<f64> for AttributeValue {
    fn from(v: f64) -> Self {
        Self::F64(v)
    }
}
impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<AttributeValue> for opentelemetry::Value {
    fn from(v: AttributeValue) -> Self {
        match v {
            AttributeValue::String(s) => s.into(),
            AttributeValue::I64(i) => i.into(),
            AttributeValue::F64(f) => f.into(),
            AttributeValue::Bool(b) => b.into(),
        }
    }
}

/// Runs `fut` inside a workflow span named `workflow.{name}`.
///
/// Everything `fut` does, across `.await`s, belongs to that workflow; a
/// `traced_run` inside another gives a child workflow. See [`TracedRun`] for
/// the kind, custom attributes and a remote parent.
///
/// ```
/// # async fn make_pizza() -> u32 { 1 }
/// # async fn demo() {
/// let pizzas = tokentrace::traced_run("pizza_workflow", async {
///     make_pizza().await
/// })
/// .await;
/// # assert_eq!(pizzas, 1);
/// # }
/// ```
pub fn traced_run<T>(
    name: impl Into<String>,
    fut: impl Future<Output = T>,
) -> impl Future<Output = T> {
    TracedRun::new(name).run(fut)
}

/// The builder form of [`traced_run`].
///
/// ```
/// use tokentrace::{TracedRun, WorkflowKind};
/// # async fn demo() {
/// let answer = TracedRun::new("support_agent")
///     .kind(WorkflowKind::Agent)
///     .attribute("customer", "Acme")
///     .attribute("priority", 2_i64)
///     .run(async { 42 })
///     .await;
/// # assert_eq!(answer, 42);
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TracedRun {
    name: String,
    kind: WorkflowKind,
    attributes: Vec<(String, AttributeValue)>,
    parent: Option<RemoteContext>,
}

impl TracedRun {
    /// A workflow named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: WorkflowKind::Chain,
            attributes: Vec::new(),
            parent: None,
        }
    }

    /// Sets the workflow kind.
    ///
    /// Defaults to [`WorkflowKind::Chain`].
    pub fn kind(mut self, kind: WorkflowKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds a custom attribute to the span.
    ///
    /// Defaults to none.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<AttributeValue>) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// Continues a trace received from another process (see
    /// [`extract`](crate::extract)) instead of the current span's.
    ///
    /// Defaults to the current span.
    pub fn parent(mut self, parent: RemoteContext) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Creates the span now, without running anything in it.
    pub fn span(self) -> Span {
        if !tokentrace_core::defaults::workflow_allowed(&self.name, None) {
            return Span::none();
        }
        let span_name = format!(
            "{}{}",
            tokentrace_core::semconv::span_names::WORKFLOW_PREFIX,
            self.name
        );
        // Made current while the span is created (rather than `set_parent`
        // afterwards) so the parent holds even if a layer starts the OTel
        // span in `on_new_span`.
        let attached = self.parent.map(|p| p.into_context().attach());
        let span = new_workflow_span(&span_name, &self.name, self.kind, None, None, None);
        drop(attached);
        for (key, value) in self.attributes {
            span.set_attribute(key, opentelemetry::Value::from(value));
        }
        span
    }

    /// Runs `fut` inside the workflow span.
    pub fn run<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        private::instrument(self.span(), fut, private::no_record)
    }
}
