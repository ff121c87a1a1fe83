//! Workflow spans in code: [`traced_run`], [`TracedRun`], [`WorkflowKind`]
//! and the workflow filter.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::__private::{self as private, new_workflow_span};
use crate::context::RemoteContext;

/// What a workflow does, mapped to `openinference.span.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WorkflowKind {
    /// A sequence of steps (`CHAIN`).
    #[default]
    Chain,
    /// An agent (`AGENT`).
    Agent,
    /// A tool call (`TOOL`).
    Tool,
    /// A retrieval step (`RETRIEVER`).
    Retriever,
    /// An embedding step (`EMBEDDING`).
    Embedding,
    /// A reranking step (`RERANKER`).
    Reranker,
    /// A model call wrapped by hand (`LLM`).
    Llm,
    /// A guardrail check (`GUARDRAIL`).
    Guardrail,
}

impl WorkflowKind {
    /// The lowercase name (`chain`, `agent`, ...), as `tokentrace.workflow.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chain => "chain",
            Self::Agent => "agent",
            Self::Tool => "tool",
            Self::Retriever => "retriever",
            Self::Embedding => "embedding",
            Self::Reranker => "reranker",
            Self::Llm => "llm",
            Self::Guardrail => "guardrail",
        }
    }

    /// `gen_ai.operation.name` of a workflow of this kind: `invoke_agent`
    /// for agents, `execute_tool` for tools, `invoke_workflow` otherwise.
    pub fn operation_name(self) -> &'static str {
        use tokentrace_core::semconv::values;
        match self {
            Self::Agent => values::OPERATION_INVOKE_AGENT,
            Self::Tool => values::OPERATION_EXECUTE_TOOL,
            _ => values::OPERATION_INVOKE_WORKFLOW,
        }
    }

    /// The OpenInference span kind
    /// (<https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md>).
    pub fn openinference_kind(self) -> &'static str {
        use tokentrace_core::semconv::values;
        match self {
            Self::Chain => values::SPAN_KIND_CHAIN,
            Self::Agent => values::SPAN_KIND_AGENT,
            Self::Tool => values::SPAN_KIND_TOOL,
            Self::Retriever => values::SPAN_KIND_RETRIEVER,
            Self::Embedding => values::SPAN_KIND_EMBEDDING,
            Self::Reranker => values::SPAN_KIND_RERANKER,
            Self::Llm => values::SPAN_KIND_LLM,
            Self::Guardrail => values::SPAN_KIND_GUARDRAIL,
        }
    }
}

impl fmt::Display for WorkflowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`WorkflowKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workflow kind `{0}`")]
pub struct UnknownWorkflowKind(String);

impl FromStr for WorkflowKind {
    type Err = UnknownWorkflowKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Chain,
            Self::Agent,
            Self::Tool,
            Self::Retriever,
            Self::Embedding,
            Self::Reranker,
            Self::Llm,
            Self::Guardrail,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownWorkflowKind(s.to_owned()))
    }
}

/// Which workflows record spans.
///
/// Built from two environment variables, read once at start-up by
/// `Telemetry::install` (nothing else reads them):
///
/// | variable | value | effect |
/// |---|---|---|
/// | `TOKENTRACE_WORKFLOWS` | unset, empty or `on` | every workflow records |
/// | | `off` (or `false`, `0`) | no workflow span at all: `#[workflow]`, `traced_run` and `WorkflowLayer` |
/// | | `*_workflow,*_agent` | only workflows whose name matches one pattern (`*` matches any run of characters) |
/// | `TOKENTRACE_EXCLUDE_MODULES` | `my_app::noisy,other_crate` | `#[workflow]` functions in these modules (and their submodules) do not record |
///
/// A filtered-out workflow opens no span: its children attach to the
/// enclosing span, and the call costs one atomic load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct WorkflowFilter {
    off: bool,
    patterns: Vec<String>,
    excluded_modules: Vec<String>,
}

impl WorkflowFilter {
    /// Every workflow records (the default).
    pub fn all() -> Self {
        Self::default()
    }

    /// No workflow records.
    pub fn off() -> Self {
        Self {
            off: true,
            ..Self::default()
        }
    }

    /// Parses the values of `TOKENTRACE_WORKFLOWS` and
    /// `TOKENTRACE_EXCLUDE_MODULES` (see the table above). Never
    /// fails: empty list items are ignored.
    pub fn from_env_values(workflows: Option<&str>, exclude_modules: Option<&str>) -> Self {
        let mut filter = Self::default();
        match workflows.map(str::trim) {
            None | Some("") => {}
            Some(v)
                if ["off", "false", "0", "none"]
                    .iter()
                    .any(|o| v.eq_ignore_ascii_case(o)) =>
            {
                filter.off = true;
            }
            Some(v)
                if ["on", "true", "1", "all", "*"]
                    .iter()
                    .any(|o| v.eq_ignore_ascii_case(o)) => {}
            Some(v) => filter.patterns = split_list(v),
        }
        if let Some(m) = exclude_modules {
            filter.excluded_modules = split_list(m);
        }
        filter
    }

    /// Records only workflows whose name matches one of `patterns`.
    pub fn patterns<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Records no `#[workflow]` function defined in `module` or below it.
    pub fn exclude_module(mut self, module: impl Into<String>) -> Self {
        self.excluded_modules.push(module.into());
        self
    }

    /// Whether no workflow records at all.
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Whether the workflow `name`, defined in `module` when known, records.
    pub fn allows(&self, name: &str, module: Option<&str>) -> bool {
        if self.off {
            return false;
        }
        if let Some(module) = module {
            let excluded = self.excluded_modules.iter().any(|m| {
                module == m
                    || module
                        .strip_prefix(m.as_str())
                        .is_some_and(|rest| rest.starts_with("::"))
            });
            if excluded {
                return false;
            }
        }
        self.patterns.is_empty() || self.patterns.iter().any(|p| glob(p, name))
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

static FILTER: RwLock<Option<Arc<WorkflowFilter>>> = RwLock::new(None);
/// Bumped by every [`set_workflow_filter`]; call-sites cache their decision
/// against it. Starts at 1 so a zeroed cache entry is never current.
static GENERATION: AtomicU32 = AtomicU32::new(1);

/// Installs the process-wide workflow filter.
///
/// `Telemetry::install` calls it once with the environment's values; later
/// calls replace the filter, and every `#[workflow]` call-site re-reads it on
/// its next call. A filter that is [off](WorkflowFilter::is_off) also turns
/// off every `WorkflowLayer` (with the `tower` feature).
pub fn set_workflow_filter(filter: WorkflowFilter) {
    #[cfg(feature = "tower")]
    tokentrace_tower::set_enabled_globally(!filter.is_off());
    let mut slot = FILTER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = Some(Arc::new(filter));
    // Release pairs with the Acquire in `filter_generation`: a call-site that
    // sees the new generation also sees the new filter.
    GENERATION.fetch_add(1, Ordering::Release);
}

pub(crate) fn filter_generation() -> u32 {
    // Only 30 bits fit in a call-site's cache word beside its decision.
    GENERATION.load(Ordering::Acquire) & 0x3fff_ffff
}

pub(crate) fn workflow_allowed(name: &str, module: Option<&str>) -> bool {
    let slot = FILTER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    slot.as_ref().is_none_or(|f| f.allows(name, module))
}

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
        if !workflow_allowed(&self.name, None) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_prefixes_suffixes_and_middles() {
        assert!(glob("*_workflow", "pizza_workflow"));
        assert!(!glob("*_workflow", "pizza_agent"));
        assert!(glob("plan*", "planner"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("*", "anything"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn filter_parses_the_environment_values() {
        let f = WorkflowFilter::from_env_values(Some("OFF"), None);
        assert!(f.is_off() && !f.allows("x", None));
        let f = WorkflowFilter::from_env_values(Some(" *_workflow, *_agent ,"), Some("app::noisy"));
        assert!(f.allows("pizza_workflow", Some("app")));
        assert!(f.allows("answer_agent", None));
        assert!(!f.allows("helper", None));
        assert!(!f.allows("pizza_workflow", Some("app::noisy")));
        assert!(!f.allows("pizza_workflow", Some("app::noisy::deep")));
        assert!(f.allows("pizza_workflow", Some("app::noisy_not")));
        assert_eq!(
            WorkflowFilter::from_env_values(None, None),
            WorkflowFilter::all()
        );
        assert_eq!(
            WorkflowFilter::from_env_values(Some("on"), None),
            WorkflowFilter::all()
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in [
            "chain",
            "agent",
            "tool",
            "retriever",
            "embedding",
            "reranker",
            "llm",
            "guardrail",
        ] {
            assert_eq!(k.parse::<WorkflowKind>().unwrap().as_str(), k);
        }
        assert!("wizard".parse::<WorkflowKind>().is_err());
        assert_eq!(WorkflowKind::Retriever.openinference_kind(), "RETRIEVER");
    }
}
