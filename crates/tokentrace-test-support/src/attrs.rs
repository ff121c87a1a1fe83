//! Attribute lookup on exported spans.

use std::collections::{BTreeMap, HashSet};

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

/// Every value of `key` on `span` (more than one is a duplicate key).
#[must_use]
pub fn values<'a>(span: &'a SpanData, key: &str) -> Vec<&'a Value> {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
        .collect()
}

/// The value of `key` on `span`, if present.
///
/// # Panics
///
/// `span` carries `key` more than once.
#[must_use]
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    let v = values(span, key);
    assert!(
        v.len() <= 1,
        "duplicate attribute {key} on {}: {v:?}",
        span.name
    );
    v.first().copied()
}

/// The value of `key` as a string (any value type, formatted).
#[must_use]
pub fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

/// The value of `key`, which must be an `i64` when present.
///
/// # Panics
///
/// The value has another type.
#[must_use]
pub fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    attr(span, key).map(|v| match v {
        Value::I64(n) => *n,
        other => panic!("{key} on {} is not an i64: {other:?}", span.name),
    })
}

/// The value of `key`, which must be an `f64` when present.
///
/// # Panics
///
/// The value has another type.
#[must_use]
pub fn attr_f64(span: &SpanData, key: &str) -> Option<f64> {
    attr(span, key).map(|v| match v {
        Value::F64(n) => *n,
        other => panic!("{key} on {} is not an f64: {other:?}", span.name),
    })
}

/// The value of `key`, which must be a bool when present.
///
/// # Panics
///
/// The value has another type.
#[must_use]
pub fn attr_bool(span: &SpanData, key: &str) -> Option<bool> {
    attr(span, key).map(|v| match v {
        Value::Bool(b) => *b,
        other => panic!("{key} on {} is not a bool: {other:?}", span.name),
    })
}

/// A span's attributes as sorted `key -> value` strings.
#[must_use]
pub fn attrs(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// The attribute keys `span` carries more than once (OTLP requires unique keys).
#[must_use]
pub fn duplicate_keys(span: &SpanData) -> Vec<String> {
    let mut seen = HashSet::new();
    span.attributes
        .iter()
        .filter(|kv| !seen.insert(kv.key.as_str()))
        .map(|kv| kv.key.as_str().to_owned())
        .collect()
}

/// OTLP requires an attribute key to be unique within a span.
///
/// # Panics
///
/// A span of `spans` carries a key twice.
pub fn assert_unique_keys(spans: &[SpanData]) {
    for s in spans {
        let dups = duplicate_keys(s);
        assert!(
            dups.is_empty(),
            "span {:?} exports the attribute {:?} twice: {:?}",
            s.name,
            dups[0],
            s.attributes
        );
    }
}
