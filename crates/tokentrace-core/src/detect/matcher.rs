//! Path matching: a URL path against a mount prefix plus a rule's pattern.

use std::borrow::Cow;

use crate::url::percent_decode;

#[derive(Debug, Default)]
pub(crate) struct Captures {
    pub(crate) model: Option<String>,
    pub(crate) deployment: Option<String>,
    pub(crate) collection: Option<String>,
    pub(crate) namespace: Option<String>,
}

impl Captures {
    pub(crate) fn set(&mut self, name: &str, value: &str) -> bool {
        let slot = match name {
            "model" => &mut self.model,
            "deployment" => &mut self.deployment,
            "collection" => &mut self.collection,
            "namespace" => &mut self.namespace,
            _ => return false,
        };
        *slot = Some(value.to_owned());
        true
    }
}

pub(crate) fn pattern_segments(pattern: &str) -> impl Iterator<Item = &str> + Clone {
    pattern.split('/').filter(|s| !s.is_empty())
}

fn segment_matches(pattern: &str, segment: &str, caps: &mut Captures) -> bool {
    if pattern == "*" {
        return !segment.is_empty();
    }
    if let Some(rest) = pattern.strip_prefix('{') {
        let Some((name, suffix)) = rest.split_once('}') else {
            return false;
        };
        let value = if suffix.is_empty() {
            segment
        } else {
            match segment.strip_suffix(suffix) {
                Some(v) => v,
                None => return false,
            }
        };
        return !value.is_empty() && caps.set(name, value);
    }
    pattern.split('|').any(|alt| alt == segment)
}

/// Match `prefix` + `path` patterns against the whole of `segments`.
pub(crate) fn match_path(prefix: &str, path: &str, segments: &[Cow<'_, str>]) -> Option<Captures> {
    let mut caps = Captures::default();
    let mut pats = pattern_segments(prefix).chain(pattern_segments(path));
    let mut segs = segments.iter();
    loop {
        match (pats.next(), segs.next()) {
            (None, None) => return Some(caps),
            (Some(p), Some(s)) if segment_matches(p, s, &mut caps) => {}
            _ => return None,
        }
    }
}

/// Percent-decoded path segments (a trailing slash ignored). A segment whose
/// decoding is not UTF-8 is kept as sent.
pub(crate) fn path_segments(path: &str) -> Vec<Cow<'_, str>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false).unwrap_or(Cow::Borrowed(s)))
        .collect()
}
