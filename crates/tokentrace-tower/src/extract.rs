//! Where a request's user, session, tags and metadata come from.

use std::collections::BTreeMap;

use http::request::Parts;
use tokentrace_core::bound::{Rejected, bounded_value};

/// Limits applied to every value that becomes a span attribute.
///
/// Header values are attacker-controlled: a value that is too long, contains a
/// control character or bidi override, or is not UTF-8 is dropped (checked by
/// [`tokentrace_core::bound::bounded_value`]) (never truncated, never
/// recorded raw) and counted. Values beyond the count limits are dropped and
/// counted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Longest accepted value, in bytes.
    pub max_value_len: usize,
    /// Most tags recorded per request.
    pub max_tags: usize,
    /// Most metadata entries recorded per request.
    pub max_metadata_entries: usize,
}

impl Bounds {
    /// The defaults: values up to 256 bytes, 16 tags, 16 metadata entries.
    pub const DEFAULT: Self = Self {
        max_value_len: 256,
        max_tags: 16,
        max_metadata_entries: 16,
    };
}

impl Default for Bounds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The workflow attributes gathered for one request, each value checked
/// against the layer's [`Bounds`] as it is set.
///
/// [`ExtractMetadata`] hooks receive it after the configured headers were
/// read, so a hook can override a header value (for example with the user id
/// an authentication layer put in the request extensions).
#[derive(Debug)]
pub struct WorkflowMetadata {
    bounds: Bounds,
    pub(crate) workflow_name: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) dropped: u64,
}

impl WorkflowMetadata {
    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            workflow_name: None,
            user_id: None,
            session_id: None,
            tags: Vec::new(),
            metadata: BTreeMap::new(),
            dropped: 0,
        }
    }

    fn check(&mut self, raw: &[u8]) -> Option<String> {
        match bounded_value(raw, self.bounds.max_value_len) {
            Ok(s) => Some(s.to_owned()),
            // An absent value is not an attack: nothing to count.
            Err(Rejected::Empty) => None,
            Err(_) => {
                self.dropped += 1;
                None
            }
        }
    }

    /// Sets `user.id`. A value breaking the bounds is dropped and counted.
    pub fn set_user_id(&mut self, value: impl AsRef<[u8]>) -> &mut Self {
        if let Some(v) = self.check(value.as_ref()) {
            self.user_id = Some(v);
        }
        self
    }

    /// Sets `session.id`. A value breaking the bounds is dropped and counted.
    pub fn set_session_id(&mut self, value: impl AsRef<[u8]>) -> &mut Self {
        if let Some(v) = self.check(value.as_ref()) {
            self.session_id = Some(v);
        }
        self
    }

    /// Overrides `gen_ai.workflow.name` (the span name stays `{METHOD} {route}`).
    pub fn set_workflow_name(&mut self, value: impl AsRef<[u8]>) -> &mut Self {
        if let Some(v) = self.check(value.as_ref()) {
            self.workflow_name = Some(v);
        }
        self
    }

    /// Adds one tag to `tag.tags`; duplicates are ignored. A tag breaking the
    /// bounds, or beyond [`Bounds::max_tags`], is dropped and counted.
    pub fn add_tag(&mut self, value: impl AsRef<[u8]>) -> &mut Self {
        let Some(v) = self.check(value.as_ref()) else {
            return self;
        };
        if self.tags.contains(&v) {
            return self;
        }
        if self.tags.len() >= self.bounds.max_tags {
            self.dropped += 1;
        } else {
            self.tags.push(v);
        }
        self
    }

    /// Inserts `key: value` into the `metadata` JSON object. Both key and
    /// value are bounded; an entry beyond [`Bounds::max_metadata_entries`] is
    /// dropped and counted.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        let Some(k) = self.check(key.as_ref()) else {
            return self;
        };
        let Some(v) = self.check(value.as_ref()) else {
            return self;
        };
        if !self.metadata.contains_key(&k)
            && self.metadata.len() >= self.bounds.max_metadata_entries
        {
            self.dropped += 1;
        } else {
            self.metadata.insert(k, v);
        }
        self
    }

    /// The user id set so far.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The session id set so far.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The tags set so far.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Values dropped so far for breaking the bounds.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// `tag.tags`: a JSON array of strings, written straight from the list.
    pub(crate) fn tags_json(&self) -> Option<String> {
        if self.tags.is_empty() {
            return None;
        }
        serde_json::to_string(&self.tags).ok()
    }

    /// `metadata`: a JSON object of strings, keys in order, written straight
    /// from the map.
    pub(crate) fn metadata_json(&self) -> Option<String> {
        if self.metadata.is_empty() {
            return None;
        }
        serde_json::to_string(&self.metadata).ok()
    }
}

/// A hook that fills a request's [`WorkflowMetadata`] from its head.
///
/// Runs once per traced request, after the headers configured on the layer
/// were read. Implemented for `()` (does nothing, the default), and for every
/// `Fn(&http::request::Parts, &mut WorkflowMetadata)` closure.
///
/// ```
/// use tokentrace_tower::{WorkflowLayer, WorkflowMetadata};
///
/// #[derive(Clone)]
/// struct AuthUser(String);
///
/// let layer = WorkflowLayer::new().extract_with(
///     |parts: &http::request::Parts, meta: &mut WorkflowMetadata| {
///         if let Some(user) = parts.extensions.get::<AuthUser>() {
///             meta.set_user_id(&user.0);
///         }
///     },
/// );
/// # let _ = layer;
/// ```
pub trait ExtractMetadata {
    /// Reads what it needs from `parts` into `meta`.
    fn extract(&self, parts: &Parts, meta: &mut WorkflowMetadata);
}

impl ExtractMetadata for () {
    fn extract(&self, _parts: &Parts, _meta: &mut WorkflowMetadata) {}
}

impl<F> ExtractMetadata for F
where
    F: Fn(&Parts, &mut WorkflowMetadata),
{
    fn extract(&self, parts: &Parts, meta: &mut WorkflowMetadata) {
        self(parts, meta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_breaking_bounds_are_dropped_and_counted() {
        let mut m = WorkflowMetadata::new(Bounds {
            max_value_len: 8,
            max_tags: 2,
            max_metadata_entries: 1,
        });
        m.set_user_id("way-too-long-user");
        m.set_session_id(b"s\x01");
        m.set_session_id([0xff, 0xfe]);
        m.add_tag("a").add_tag("b").add_tag("a").add_tag("c");
        m.insert("k", "v").insert("k2", "v2").insert("k", "v3");
        assert_eq!(m.user_id(), None);
        assert_eq!(m.session_id(), None);
        assert_eq!(m.tags(), ["a", "b"]);
        assert_eq!(m.metadata_json().as_deref(), Some(r#"{"k":"v3"}"#));
        assert_eq!(m.tags_json().as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(m.dropped(), 5);
    }

    #[test]
    fn tags_and_metadata_json_match_serde_json_values() {
        let mut m = WorkflowMetadata::new(Bounds::DEFAULT);
        m.add_tag(r#"a "quoted" tag"#)
            .add_tag(r"back\slash")
            .add_tag("é ✓");
        m.insert("z", "last")
            .insert(r#"k"ey"#, r"v\")
            .insert("a", "π");
        let tags = serde_json::Value::from(m.tags.clone()).to_string();
        let metadata = serde_json::Value::Object(
            m.metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect(),
        )
        .to_string();
        assert_eq!(m.tags_json(), Some(tags));
        assert_eq!(m.metadata_json(), Some(metadata));
        assert_eq!(
            m.metadata_json().as_deref(),
            Some(r#"{"a":"π","k\"ey":"v\\","z":"last"}"#)
        );
    }

    #[test]
    fn empty_values_are_ignored_without_counting() {
        let mut m = WorkflowMetadata::new(Bounds::DEFAULT);
        m.set_user_id("  ");
        assert_eq!(m.user_id(), None);
        assert_eq!(m.dropped(), 0);
    }
}
