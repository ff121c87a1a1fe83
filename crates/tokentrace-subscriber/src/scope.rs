//! Scope guards (`prompt_template!`, `metadata!`) and [`current_workflow`].
//!
//! A guard attaches its data to the span that is current when it is created,
//! inside that span's registry extensions (never a thread-local). Spans
//! created beneath that span while the guard lives take a snapshot of it when
//! they are created, so the guard follows the span tree across `.await`
//! points, thread hops and tasks spawned with the span, and stays invisible
//! outside that span's subtree.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tokentrace_core::semconv::span_names;
use tracing::Dispatch;
use tracing::dispatcher::WeakDispatch;
use tracing::span::Id;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use crate::data::{MetadataSet, Scope, ScopeKind, SpanKind, TemplateData, with_state};

static UNATTACHED_GUARDS: AtomicU64 = AtomicU64::new(0);

/// How many guards were opened where they could not attach to a span: no
/// span was current, or the current span's subscriber has no
/// [`EnrichLayer`](crate::EnrichLayer) on a [`Registry`]. Such a guard does
/// nothing (it never applies globally); this process-wide counter is how
/// the facade can report it.
pub fn unattached_guards() -> u64 {
    UNATTACHED_GUARDS.load(Ordering::Relaxed)
}

/// A value a scope guard can carry: text, numbers, booleans, JSON values,
/// options and lists of them. Wrap anything else in [`DisplayValue`] or
/// [`DebugValue`] (the macros do so for `%value` and `?value`).
pub trait ScopeValue {
    /// The value as JSON.
    fn into_scope_value(self) -> Value;
}

macro_rules! scope_value_via_from {
    ($($t:ty),* $(,)?) => {
        $(impl ScopeValue for $t {
            fn into_scope_value(self) -> Value {
                Value::from(self)
            }
        })*
    };
}

scope_value_via_from!(
    &str, String, bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, Value,
);

impl ScopeValue for &String {
    fn into_scope_value(self) -> Value {
        Value::String(self.clone())
    }
}

impl ScopeValue for Cow<'_, str> {
    fn into_scope_value(self) -> Value {
        Value::String(self.into_owned())
    }
}

impl ScopeValue for char {
    fn into_scope_value(self) -> Value {
        Value::String(self.to_string())
    }
}

impl ScopeValue for &Value {
    fn into_scope_value(self) -> Value {
        self.clone()
    }
}

impl<T: ScopeValue> ScopeValue for Option<T> {
    fn into_scope_value(self) -> Value {
        self.map_or(Value::Null, ScopeValue::into_scope_value)
    }
}

impl<T: ScopeValue> ScopeValue for Vec<T> {
    fn into_scope_value(self) -> Value {
        Value::Array(self.into_iter().map(ScopeValue::into_scope_value).collect())
    }
}

impl<T: ScopeValue, const N: usize> ScopeValue for [T; N] {
    fn into_scope_value(self) -> Value {
        Value::Array(self.into_iter().map(ScopeValue::into_scope_value).collect())
    }
}

impl<T: ScopeValue + Clone> ScopeValue for &[T] {
    fn into_scope_value(self) -> Value {
        Value::Array(
            self.iter()
                .cloned()
                .map(ScopeValue::into_scope_value)
                .collect(),
        )
    }
}

impl ScopeValue for Map<String, Value> {
    fn into_scope_value(self) -> Value {
        Value::Object(self)
    }
}

/// Carries a value by its [`Display`](fmt::Display) text (`%value` in the macros).
#[derive(Debug, Clone, Copy)]
pub struct DisplayValue<T>(pub T);

impl<T: fmt::Display> ScopeValue for DisplayValue<T> {
    fn into_scope_value(self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Carries a value by its [`Debug`](fmt::Debug) text (`?value` in the macros).
#[derive(Debug, Clone, Copy)]
pub struct DebugValue<T>(pub T);

impl<T: fmt::Debug> ScopeValue for DebugValue<T> {
    fn into_scope_value(self) -> Value {
        Value::String(format!("{:?}", self.0))
    }
}

fn into_text(v: impl ScopeValue) -> Option<String> {
    match v.into_scope_value() {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// A prompt template scope, built by [`prompt_template!`](crate::prompt_template)
/// or by hand:
///
/// ```
/// use tokentrace_subscriber::PromptTemplate;
/// let _guard = PromptTemplate::new("Answer using {context}: {question}")
///     .version("2.0")
///     .variable("context", "docs")
///     .variable("question", "why?")
///     .enter();
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "nothing happens until `enter()` is called"]
pub struct PromptTemplate {
    data: TemplateData,
}

impl PromptTemplate {
    /// A template with its text (`llm.prompt_template.template`).
    pub fn new(template: impl Into<String>) -> Self {
        Self {
            data: TemplateData {
                name: None,
                template: template.into(),
                version: None,
                variables: Vec::new(),
            },
        }
    }

    /// Names the template (`gen_ai.prompt.name`): the name that identifies
    /// it in a prompt registry, e.g. `answer-question`.
    pub fn name(mut self, name: impl ScopeValue) -> Self {
        self.data.name = into_text(name);
        self
    }

    /// Sets `llm.prompt_template.version` and `gen_ai.prompt.version`.
    pub fn version(mut self, version: impl ScopeValue) -> Self {
        self.data.version = into_text(version);
        self
    }

    /// Adds one variable to `llm.prompt_template.variables`; a repeated name
    /// replaces the earlier value.
    pub fn variable(mut self, name: impl Into<String>, value: impl ScopeValue) -> Self {
        let name = name.into();
        let value = value.into_scope_value();
        match self.data.variables.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.data.variables.push((name, value)),
        }
        self
    }

    /// Opens the scope on the current span; it ends when the guard drops.
    pub fn enter(self) -> ScopeGuard {
        ScopeGuard::open(ScopeKind::Template(self.data))
    }
}

/// A metadata scope, built by [`metadata!`](crate::metadata) or by hand:
///
/// ```
/// use tokentrace_subscriber::Metadata;
/// let _guard = Metadata::new()
///     .user_id("u-17")
///     .session_id("s-9")
///     .tags(["prod", "v2"])
///     .entry("customer", "Acme")
///     .enter();
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "nothing happens until `enter()` is called"]
pub struct Metadata {
    data: MetadataSet,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `user.id`.
    pub fn user_id(mut self, user: impl ScopeValue) -> Self {
        self.data.user_id = into_text(user);
        self
    }

    /// Sets `session.id` (mirrored to `gen_ai.conversation.id`).
    pub fn session_id(mut self, session: impl ScopeValue) -> Self {
        self.data.session_id = into_text(session);
        self
    }

    /// Adds tags to `tag.tags`: a list adds each element, a single value adds one tag.
    pub fn tags(mut self, tags: impl ScopeValue) -> Self {
        let mut push = |v: Value| {
            let tag = match v {
                Value::String(s) => s,
                Value::Null => return,
                other => other.to_string(),
            };
            if !self.data.tags.contains(&tag) {
                self.data.tags.push(tag);
            }
        };
        match tags.into_scope_value() {
            Value::Array(items) => items.into_iter().for_each(&mut push),
            one => push(one),
        }
        self
    }

    /// Adds one key to the `metadata` JSON object.
    pub fn entry(mut self, key: impl Into<String>, value: impl ScopeValue) -> Self {
        self.data.extra.insert(key.into(), value.into_scope_value());
        self
    }

    /// Opens the scope on the current span; it ends when the guard drops.
    pub fn enter(self) -> ScopeGuard {
        ScopeGuard::open(ScopeKind::Metadata(self.data))
    }
}

/// Keeps a [`prompt_template!`](crate::prompt_template) or
/// [`metadata!`](crate::metadata) scope open; dropping it ends the scope.
///
/// Spans created while it lives, beneath the span that was current when it
/// was created, are enriched; spans created earlier keep what they had,
/// spans created after the drop do not get it. Guards may be dropped in any
/// order. Bind it to a named variable (`let _t = …`): `let _ = …` drops it at
/// once.
#[must_use = "the scope ends when the guard is dropped; bind it with `let _guard = ...`"]
pub struct ScopeGuard {
    attached: Option<Attached>,
}

struct Attached {
    span: Id,
    dispatch: WeakDispatch,
    scope: Arc<Scope>,
}

impl fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("span", &self.attached.as_ref().map(|a| &a.span))
            .finish_non_exhaustive()
    }
}

impl ScopeGuard {
    fn open(kind: ScopeKind) -> Self {
        let scope = Arc::new(Scope::new(kind));
        let attached = tracing::Span::current()
            .with_subscriber(|(id, dispatch)| {
                attach(id, dispatch, &scope).then(|| Attached {
                    span: id.clone(),
                    dispatch: dispatch.downgrade(),
                    scope: Arc::clone(&scope),
                })
            })
            .flatten();
        if attached.is_none() {
            UNATTACHED_GUARDS.fetch_add(1, Ordering::Relaxed);
        }
        Self { attached }
    }

    /// Whether the guard attached to a span (see [`unattached_guards`]).
    pub fn is_attached(&self) -> bool {
        self.attached.is_some()
    }
}

fn attach(id: &Id, dispatch: &Dispatch, scope: &Arc<Scope>) -> bool {
    let Some(registry) = dispatch.downcast_ref::<Registry>() else {
        return false;
    };
    let Some(span) = registry.span(id) else {
        return false;
    };
    let Some(is_root) = with_state(&span, |state| {
        state.own.retain(|s| s.is_alive());
        state.own.push(Arc::clone(scope));
        if let ScopeKind::Metadata(m) = &scope.kind {
            state.apply_metadata(m);
        }
        state.is_root
    }) else {
        return false;
    };
    // The trace's root carries every metadata scope opened in its tree.
    if let ScopeKind::Metadata(m) = &scope.kind
        && !is_root
        && let Some(root) = span.scope().last()
    {
        with_state(&root, |st| st.apply_tree_metadata(m));
    }
    true
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let Some(a) = self.attached.take() else {
            return;
        };
        // Ending the scope is what matters; children hold snapshots and
        // check this flag when they pass it on.
        a.scope.end();
        // Also unlink it so a long-lived span opening many guards stays
        // small. The id may have been reused by another span after ours
        // closed; removing by pointer makes that harmless.
        if let Some(dispatch) = a.dispatch.upgrade()
            && let Some(registry) = dispatch.downcast_ref::<Registry>()
            && let Some(span) = registry.span(&a.span)
        {
            with_state(&span, |state| {
                state
                    .own
                    .retain(|s| !Arc::ptr_eq(s, &a.scope) && s.is_alive());
            });
        }
    }
}

/// The innermost workflow span at or above the current span.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowInfo {
    /// `gen_ai.workflow.name`, or the span name without its `workflow.` prefix.
    pub name: String,
    /// The OpenTelemetry trace id, 32 lowercase hex digits (all zeros when no
    /// OpenTelemetry layer is installed).
    pub trace_id: String,
    /// The workflow span's OpenTelemetry span id, 16 lowercase hex digits.
    pub span_id: String,
}

/// The innermost workflow span (`tokentrace.span.type = "workflow"`) at or
/// above the current span, or `None` when there is none (or no
/// [`EnrichLayer`](crate::EnrichLayer) is installed).
///
/// ```
/// assert!(tokentrace_subscriber::current_workflow().is_none());
/// ```
pub fn current_workflow() -> Option<WorkflowInfo> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let span = registry.span(id)?;
            let (workflow, name) = span.scope().find_map(|s| {
                let name = with_state(&s, |state| {
                    (state.kind == SpanKind::Workflow).then(|| state.workflow_name.clone())
                })??;
                let name = name.unwrap_or_else(|| {
                    let n = s.name();
                    n.strip_prefix(span_names::WORKFLOW_PREFIX)
                        .unwrap_or(n)
                        .to_owned()
                });
                Some((s.id(), name))
            })?;
            // No extensions lock is held here: get_otel_context takes them.
            let context = tracing_opentelemetry::get_otel_context(&workflow, dispatch)
                .map(|cx| cx.span().span_context().clone())
                .unwrap_or_else(opentelemetry::trace::SpanContext::empty_context);
            Some(WorkflowInfo {
                name,
                trace_id: context.trace_id().to_string(),
                span_id: context.span_id().to_string(),
            })
        })
        .flatten()
}

/// The budget keys of the current request, read from the span tree: the
/// innermost `user.id` and `session.id` (from `metadata!` guards and span
/// fields such as `WorkflowLayer`'s headers) and the innermost workflow's
/// name. `tokentrace::init()` installs it as
/// [`tokentrace_core::budget::set_keys_provider`], which is how
/// `LlmMiddleware` reads them without depending on this crate.
///
/// ```
/// assert_eq!(tokentrace_subscriber::current_budget_keys(), Default::default());
/// ```
pub fn current_budget_keys() -> tokentrace_core::budget::BudgetKeys {
    let found = tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let span = registry.span(id)?;
            let (mut user, mut session, mut workflow) = (None, None, None);
            for s in span.scope() {
                with_state(&s, |state| {
                    if let Some(m) = state.effective_metadata() {
                        if user.is_none() {
                            user.clone_from(&m.user_id);
                        }
                        if session.is_none() {
                            session.clone_from(&m.session_id);
                        }
                    }
                    if workflow.is_none() && state.kind == SpanKind::Workflow {
                        workflow = Some(state.workflow_name.clone().unwrap_or_else(|| {
                            let n = s.name();
                            n.strip_prefix(span_names::WORKFLOW_PREFIX)
                                .unwrap_or(n)
                                .to_owned()
                        }));
                    }
                });
                if user.is_some() && session.is_some() && workflow.is_some() {
                    break;
                }
            }
            Some((user, session, workflow))
        })
        .flatten();
    let mut keys = tokentrace_core::budget::BudgetKeys::new();
    if let Some((user, session, workflow)) = found {
        if let Some(u) = user {
            keys = keys.user(u);
        }
        if let Some(v) = session {
            keys = keys.session(v);
        }
        if let Some(w) = workflow {
            keys = keys.workflow(w);
        }
    }
    keys
}

/// Opens a prompt-template scope on the current span; returns a
/// [`ScopeGuard`].
///
/// Every LLM span (`tokentrace.span.type = "llm"`) started beneath the current
/// span while the guard lives carries `llm.prompt_template.template`,
/// `llm.prompt_template.version` and `llm.prompt_template.variables` (one
/// JSON object), and the GenAI names `gen_ai.prompt.name` (when the template
/// is named), `gen_ai.prompt.version` and, with
/// [`EnrichLayer::prompt_variables`](crate::EnrichLayer::prompt_variables),
/// `gen_ai.prompt.variable.<key>`. The innermost template wins.
///
/// An optional leading `name = ..,` names the template (`gen_ai.prompt.name`);
/// after the template text, `version` is the one reserved key and every other
/// `key = value` pair is a variable (so a variable may be called `name`).
/// Values are [`ScopeValue`]s; `%value` uses `Display`, `?value` uses `Debug`.
///
/// ```
/// # let (ctx, q) = ("the docs", "why?");
/// let _t = tokentrace_subscriber::prompt_template!(
///     name = "answer-question",
///     "Answer using {context}: {question}",
///     version = "2.0", context = ctx, question = q,
/// );
/// let n = 3;
/// let _inner = tokentrace_subscriber::prompt_template!("Count to {n}", n = %n);
/// ```
#[macro_export]
macro_rules! prompt_template {
    (name = $name:expr, $template:expr $(,)?) => {
        $crate::PromptTemplate::new($template).name($name).enter()
    };
    (name = $name:expr, $template:expr, $($rest:tt)+) => {{
        let __tokentrace_scope = $crate::PromptTemplate::new($template).name($name);
        let __tokentrace_scope = $crate::__template_kv!(__tokentrace_scope; $($rest)+);
        __tokentrace_scope.enter()
    }};
    ($template:expr $(,)?) => {
        $crate::PromptTemplate::new($template).enter()
    };
    ($template:expr, $($rest:tt)+) => {{
        let __tokentrace_scope = $crate::PromptTemplate::new($template);
        let __tokentrace_scope = $crate::__template_kv!(__tokentrace_scope; $($rest)+);
        __tokentrace_scope.enter()
    }};
}

/// Opens a metadata scope on the current span; returns a [`ScopeGuard`].
///
/// Every span started beneath the current span while the guard lives, the
/// current span itself, and the trace's root span carry `user.id`,
/// `session.id` (and `gen_ai.conversation.id`), `tag.tags` and `metadata` (one
/// JSON object with every other key). Nested scopes merge: inner values win,
/// tags add up. `user_id`, `session_id` and `tags` are the reserved keys.
///
/// ```
/// let _m = tokentrace_subscriber::metadata!(
///     user_id = "u-17", session_id = "s-9", tags = ["prod", "v2"], customer = "Acme",
/// );
/// ```
#[macro_export]
macro_rules! metadata {
    () => {
        $crate::Metadata::new().enter()
    };
    ($($rest:tt)+) => {{
        let __tokentrace_scope = $crate::Metadata::new();
        let __tokentrace_scope = $crate::__metadata_kv!(__tokentrace_scope; $($rest)+);
        __tokentrace_scope.enter()
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __template_kv {
    ($b:expr;) => { $b };
    ($b:expr; version = $v:expr $(, $($rest:tt)*)?) => {
        $crate::__template_kv!($b.version($v); $($($rest)*)?)
    };
    ($b:expr; $k:ident = % $v:expr $(, $($rest:tt)*)?) => {
        $crate::__template_kv!(
            $b.variable(stringify!($k), $crate::DisplayValue(&$v)); $($($rest)*)?
        )
    };
    ($b:expr; $k:ident = ? $v:expr $(, $($rest:tt)*)?) => {
        $crate::__template_kv!(
            $b.variable(stringify!($k), $crate::DebugValue(&$v)); $($($rest)*)?
        )
    };
    ($b:expr; $k:ident = $v:expr $(, $($rest:tt)*)?) => {
        $crate::__template_kv!($b.variable(stringify!($k), $v); $($($rest)*)?)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __metadata_kv {
    ($b:expr;) => { $b };
    ($b:expr; user_id = $v:expr $(, $($rest:tt)*)?) => {
        $crate::__metadata_kv!($b.user_id($v); $($($rest)*)?)
    };
    ($b:expr; session_id = $v:expr $(, $($rest:tt)*)?) => {
        $crate::__metadata_kv!($b.session_id($v); $($($rest)*)?)
    };
    ($b:expr; tags = $v:expr $(, $($rest:tt)*)?) => {
        $crate::__metadata_kv!($b.tags($v); $($($rest)*)?)
    };
    ($b:expr; $k:ident = % $v:expr $(, $($rest:tt)*)?) => {
        $crate::__metadata_kv!($b.entry(stringify!($k), $crate::DisplayValue(&$v)); $($($rest)*)?)
    };
    ($b:expr; $k:ident = ? $v:expr $(, $($rest:tt)*)?) => {
        $crate::__metadata_kv!($b.entry(stringify!($k), $crate::DebugValue(&$v)); $($($rest)*)?)
    };
    ($b:expr; $k:ident = $v:expr $(, $($rest:tt)*)?) => {
        $crate::__metadata_kv!($b.entry(stringify!($k), $v); $($($rest)*)?)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guard_without_a_span_does_nothing_and_is_counted() {
        let before = unattached_guards();
        let g = crate::metadata!(user_id = "u");
        assert!(!g.is_attached());
        assert!(unattached_guards() > before);
    }

    #[test]
    fn template_macro_collects_version_and_variables_in_order() {
        let ctx = String::from("docs");
        let n = 3_u8;
        let t = PromptTemplate::new("T {context} {n} {d}").version(2.5);
        let built = crate::__template_kv!(t; context = &ctx, n = %n, d = ?"x", flag = true,);
        assert_eq!(built.data.version.as_deref(), Some("2.5"));
        let vars: Vec<(&str, &Value)> = built
            .data
            .variables
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        assert_eq!(
            vars,
            [
                ("context", &json!("docs")),
                ("n", &json!("3")),
                ("d", &json!("\"x\"")),
                ("flag", &json!(true))
            ]
        );
    }

    #[test]
    fn metadata_macro_routes_reserved_keys() {
        let m = Metadata::new();
        let built = crate::__metadata_kv!(m; user_id = 17, session_id = "s", tags = ["a", "b", "a"], customer = "Acme", n = None::<u8>);
        assert_eq!(built.data.user_id.as_deref(), Some("17"));
        assert_eq!(built.data.session_id.as_deref(), Some("s"));
        assert_eq!(built.data.tags, ["a", "b"]);
        assert_eq!(built.data.extra["customer"], json!("Acme"));
        assert_eq!(built.data.extra["n"], Value::Null);
    }
}
