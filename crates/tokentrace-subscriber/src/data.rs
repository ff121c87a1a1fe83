//! Per-span state kept in the registry's span extensions, and the scope data
//! the guards attach to spans.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::{Map, Value};
use tokentrace_core::bound::truncate_utf8;
use tokentrace_core::json::bounded_object;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

pub(crate) use crate::llm_fields::LlmFields;
use crate::rollup::Rollup;

/// What a span is, from its `tokentrace.span.type` field (docs/architecture.md,
/// "The span contract between crates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Workflow,
    Llm,
    Vector,
    /// The one-off span [`crate::verify_layer_order`] creates.
    Probe,
    Other,
}

/// Attribute keys a span already carries as its own recorded field. The
/// OpenTelemetry SDK appends attributes without de-duplicating them, so
/// EnrichLayer never writes a key the span already exported itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recorded(u16);

impl Recorded {
    pub(crate) const USER_ID: u16 = 1;
    pub(crate) const SESSION_ID: u16 = 1 << 1;
    pub(crate) const CONVERSATION_ID: u16 = 1 << 2;
    pub(crate) const TAGS: u16 = 1 << 3;
    pub(crate) const METADATA: u16 = 1 << 4;
    pub(crate) const TEMPLATE: u16 = 1 << 5;
    pub(crate) const TEMPLATE_VERSION: u16 = 1 << 6;
    pub(crate) const TEMPLATE_VARIABLES: u16 = 1 << 7;
    pub(crate) const LATENCY: u16 = 1 << 8;
    pub(crate) const DROPPED: u16 = 1 << 9;
    pub(crate) const PROMPT_NAME: u16 = 1 << 10;
    pub(crate) const PROMPT_VERSION: u16 = 1 << 11;

    pub(crate) fn set(&mut self, bit: u16) {
        self.0 |= bit;
    }

    pub(crate) fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn union(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

/// A prompt template opened by [`crate::PromptTemplate::enter`] or `prompt_template!`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateData {
    /// `gen_ai.prompt.name`, when the template has one.
    pub(crate) name: Option<String>,
    pub(crate) template: String,
    pub(crate) version: Option<String>,
    /// In the order the user wrote them.
    pub(crate) variables: Vec<(String, Value)>,
}

/// Workflow metadata opened by [`crate::Metadata::enter`], `metadata!`, or the
/// `user.id`/`session.id`/`tag.tags`/`metadata` fields of a span.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MetadataSet {
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) extra: Map<String, Value>,
}

impl MetadataSet {
    pub(crate) fn is_empty(&self) -> bool {
        self.user_id.is_none()
            && self.session_id.is_none()
            && self.tags.is_empty()
            && self.extra.is_empty()
    }

    /// Merges `inner` over `self`: inner scalar values and keys win, tags are
    /// a union in first-seen order.
    pub(crate) fn merge(&mut self, inner: &Self) {
        if inner.user_id.is_some() {
            self.user_id.clone_from(&inner.user_id);
        }
        if inner.session_id.is_some() {
            self.session_id.clone_from(&inner.session_id);
        }
        for tag in &inner.tags {
            if !self.tags.contains(tag) {
                self.tags.push(tag.clone());
            }
        }
        for (k, v) in &inner.extra {
            self.extra.insert(k.clone(), v.clone());
        }
    }
}

/// The payload of one scope.
#[derive(Debug)]
pub(crate) enum ScopeKind {
    Template(TemplateData),
    Metadata(MetadataSet),
}

/// One opened scope. It is shared (`Arc`) between the span it was opened on
/// and the snapshots of every span created beneath while it was alive.
#[derive(Debug)]
pub(crate) struct Scope {
    alive: AtomicBool,
    pub(crate) kind: ScopeKind,
}

impl Scope {
    pub(crate) fn new(kind: ScopeKind) -> Self {
        Self {
            alive: AtomicBool::new(true),
            kind,
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        // Relaxed is enough: a span racing with the guard's drop on another
        // thread may see either value, both are correct orders of events.
        self.alive.load(Ordering::Relaxed)
    }

    pub(crate) fn end(&self) {
        self.alive.store(false, Ordering::Relaxed);
    }
}

/// EnrichLayer's extension on every span it sees.
///
/// The state sits behind its own mutex so that, once inserted, it is only
/// ever reached through a *shared* `extensions()` borrow (the pattern of
/// tracing-opentelemetry's `OtelDataLock`): another layer may hold the same
/// span's extensions while a field's `Debug` re-enters EnrichLayer (records a
/// field, opens a guard, calls [`crate::current_workflow`]); an
/// `extensions_mut()` there would deadlock. The mutex is only held for plain
/// data updates, never across a call that can re-enter tracing.
#[derive(Debug)]
pub(crate) struct StateCell(Mutex<Option<SpanState>>);

impl StateCell {
    pub(crate) fn new(state: SpanState) -> Self {
        Self(Mutex::new(Some(state)))
    }
}

/// Runs `f` on `span`'s state, if EnrichLayer saw the span and it is not closed.
pub(crate) fn with_state<'a, R, S>(
    span: &SpanRef<'a, S>,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Option<R>
where
    S: LookupSpan<'a>,
{
    let ext = span.extensions();
    let cell = ext.get::<StateCell>()?;
    // A panic while holding the mutex cannot leave the plain data invalid.
    let mut guard = cell.0.lock().unwrap_or_else(PoisonError::into_inner);
    guard.as_mut().map(f)
}

/// Takes `span`'s state out (at close).
pub(crate) fn take_state<'a, S>(span: &SpanRef<'a, S>) -> Option<SpanState>
where
    S: LookupSpan<'a>,
{
    let ext = span.extensions();
    let cell = ext.get::<StateCell>()?;
    cell.0.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// EnrichLayer's per-span data (inside a [`StateCell`]).
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) kind: SpanKind,
    pub(crate) is_root: bool,
    pub(crate) workflow_name: Option<String>,
    pub(crate) start: Instant,
    /// Scopes alive on the ancestors when this span was created, outermost
    /// first. A snapshot: the span keeps them after their guards drop.
    pub(crate) inherited: Vec<Arc<Scope>>,
    /// Scopes opened on this span that are still alive, outermost first.
    /// A guard removes its scope when it drops, so this list stays short.
    pub(crate) own: Vec<Arc<Scope>>,
    /// Metadata of every scope ever opened on this span (the span lived
    /// under them, so it carries them even after their guards dropped).
    /// Not kept on a root: its `tree` holds the same, in order.
    pub(crate) applied: Option<MetadataSet>,
    /// Root only: metadata of every scope opened anywhere in the trace,
    /// the root's own included.
    pub(crate) tree: Option<MetadataSet>,
    pub(crate) recorded: Recorded,
    /// Field values that could not be used (see [`crate::visit`]).
    pub(crate) dropped: u32,
    pub(crate) llm: Option<Box<LlmFields>>,
    /// Only meaningful on workflow and root spans.
    pub(crate) rollup: Rollup,
    /// The span declared `tokentrace.span.type` (any value): it is
    /// tokentrace's own or says what it is, never a foreign GenAI span.
    pub(crate) typed: bool,
    /// An LLM call closed beneath this span (a tokentrace LLM span or a
    /// priced foreign one): a foreign GenAI span with this set only
    /// describes calls counted there (see [`crate::foreign`]).
    pub(crate) covered: bool,
}

impl SpanState {
    pub(crate) fn new(kind: SpanKind, is_root: bool, inherited: Vec<Arc<Scope>>) -> Self {
        Self {
            kind,
            is_root,
            workflow_name: None,
            start: Instant::now(),
            inherited,
            own: Vec::new(),
            applied: None,
            tree: None,
            recorded: Recorded::default(),
            dropped: 0,
            llm: None,
            rollup: Rollup::default(),
            typed: false,
            covered: false,
        }
    }

    /// The scopes a child created now inherits: every still-alive scope of
    /// this span's snapshot, then the ones opened on this span.
    pub(crate) fn scopes_for_child(&self) -> Vec<Arc<Scope>> {
        self.inherited
            .iter()
            .chain(&self.own)
            .filter(|s| s.is_alive())
            .cloned()
            .collect()
    }

    /// Records metadata opened on this span (a guard or the span's own fields).
    pub(crate) fn apply_metadata(&mut self, m: &MetadataSet) {
        let set = if self.is_root {
            &mut self.tree
        } else {
            &mut self.applied
        };
        set.get_or_insert_with(MetadataSet::default).merge(m);
    }

    /// Records metadata opened somewhere beneath this (root) span.
    pub(crate) fn apply_tree_metadata(&mut self, m: &MetadataSet) {
        self.tree.get_or_insert_with(MetadataSet::default).merge(m);
    }

    /// The innermost template this span lives under, if any.
    pub(crate) fn effective_template(&self) -> Option<&TemplateData> {
        self.own
            .iter()
            .rev()
            .chain(self.inherited.iter().rev())
            .find_map(|s| match &s.kind {
                ScopeKind::Template(t) => Some(t),
                ScopeKind::Metadata(_) => None,
            })
    }

    /// Metadata of the scopes this span lives under, merged outer to inner;
    /// borrowed when a single set applies (a root's own fields, one guard).
    pub(crate) fn effective_metadata(&self) -> Option<Cow<'_, MetadataSet>> {
        let mut sources = self
            .inherited
            .iter()
            .filter_map(|s| match &s.kind {
                ScopeKind::Metadata(m) => Some(m),
                ScopeKind::Template(_) => None,
            })
            .chain(self.applied.as_ref())
            .chain(self.tree.as_ref());
        let first = sources.next()?;
        let merged = match sources.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut merged = first.clone();
                merged.merge(second);
                for m in sources {
                    merged.merge(m);
                }
                Cow::Owned(merged)
            }
        };
        (!merged.is_empty()).then_some(merged)
    }
}

/// Size bounds applied when scope data becomes attributes. Guard values and
/// span fields can come from request headers, so every default is bounded
/// (ARCHITECTURE.md "Conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_value_chars: usize,
    pub(crate) max_tags: usize,
    pub(crate) max_metadata_bytes: usize,
    pub(crate) max_variables_bytes: usize,
    pub(crate) max_template_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_value_chars: 256,
            max_tags: 32,
            max_metadata_bytes: 4096,
            max_variables_bytes: 4096,
            max_template_bytes: 16 * 1024,
        }
    }
}

const ELLIPSIS: char = '…';

/// Cuts `s` to at most `max_chars` characters, marking a cut with `…`.
/// Returns whether it cut.
pub(crate) fn truncate_chars(s: &str, max_chars: usize) -> (String, bool) {
    match s.char_indices().nth(max_chars) {
        None => (s.to_owned(), false),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
            out.push_str(&s[..end]);
            out.push(ELLIPSIS);
            (out, true)
        }
    }
}

/// Cuts `s` to at most `max_bytes` bytes on a char boundary, marking a cut with `…`.
pub(crate) fn truncate_bytes(s: &str, max_bytes: usize) -> (String, bool) {
    if s.len() <= max_bytes {
        return (s.to_owned(), false);
    }
    let kept = truncate_utf8(s, max_bytes.saturating_sub(ELLIPSIS.len_utf8()));
    let mut out = String::with_capacity(kept.len() + ELLIPSIS.len_utf8());
    out.push_str(kept);
    if max_bytes >= ELLIPSIS.len_utf8() {
        out.push(ELLIPSIS);
    }
    (out, true)
}

/// Serialises `entries` as one JSON object of at most `max_bytes` bytes
/// (never less than `{}`). An entry that does not fit is shortened when it is
/// a string (its value cut and marked with `…`) and dropped otherwise; later
/// entries that still fit are kept. The result is always valid JSON. Returns
/// the text and the number of entries cut or dropped. Written by core's
/// [`bounded_object`].
pub(crate) fn bounded_json_object<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a Value)>,
    max_bytes: usize,
) -> (String, u32) {
    bounded_object(entries, max_bytes, "…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounded_json_object_keeps_everything_that_fits() {
        let a = json!("x");
        let b = json!(3);
        let (s, damaged) = bounded_json_object([("a", &a), ("b", &b)], 100);
        assert_eq!(s, r#"{"a":"x","b":3}"#);
        assert_eq!(damaged, 0);
    }

    #[test]
    fn bounded_json_object_cuts_long_strings_and_stays_valid() {
        let long = json!("é\"quoted\"\n".repeat(200));
        let small = json!(1);
        for max in [2, 5, 10, 16, 33, 64, 100, 255] {
            let (s, damaged) = bounded_json_object([("long", &long), ("n", &small)], max);
            assert!(s.len() <= max.max(2), "{max}: {} > max ({s})", s.len());
            let parsed: Value = serde_json::from_str(&s).expect("valid JSON");
            assert!(parsed.is_object());
            assert!(damaged >= 1, "{max}");
        }
        let (s, _) = bounded_json_object([("long", &long)], 64);
        let parsed: Value = serde_json::from_str(&s).expect("valid JSON");
        let text = parsed["long"].as_str().expect("cut string kept");
        assert!(text.ends_with('…'));
        assert!(text.starts_with("é\"quoted"));
    }

    #[test]
    fn bounded_json_object_drops_non_strings_that_do_not_fit() {
        let big = json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let small = json!(true);
        let (s, damaged) = bounded_json_object([("big", &big), ("ok", &small)], 16);
        assert_eq!(s, r#"{"ok":true}"#);
        assert_eq!(damaged, 1);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 10), ("héllo".to_owned(), false));
        assert_eq!(truncate_chars("héllo", 3), ("hé…".to_owned(), true));
        let (s, cut) = truncate_bytes("ééééé", 6);
        assert!(cut);
        assert!(s.len() <= 6, "{s}");
        assert!(s.ends_with('…'));
    }

    #[test]
    fn metadata_merge_inner_wins_and_tags_union() {
        let mut outer = MetadataSet {
            user_id: Some("u-1".into()),
            session_id: Some("s-1".into()),
            tags: vec!["a".into(), "b".into()],
            extra: Map::from_iter([("k".to_owned(), json!("outer")), ("o".to_owned(), json!(1))]),
        };
        let inner = MetadataSet {
            user_id: Some("u-2".into()),
            session_id: None,
            tags: vec!["b".into(), "c".into()],
            extra: Map::from_iter([("k".to_owned(), json!("inner"))]),
        };
        outer.merge(&inner);
        assert_eq!(outer.user_id.as_deref(), Some("u-2"));
        assert_eq!(outer.session_id.as_deref(), Some("s-1"));
        assert_eq!(outer.tags, ["a", "b", "c"]);
        assert_eq!(outer.extra["k"], json!("inner"));
        assert_eq!(outer.extra["o"], json!(1));
    }
}
