//! Column encoding: a batch of spans turned into what the `spans` columns
//! hold before the writer's transaction starts.
//!
//! The encoder thread serialises each span's attributes, events and links as
//! JSON (keys sorted, the layout `serde_json`'s map gave), notes where the
//! attributes that become columns of their own sit ([`KEYS`]), and the
//! resource is serialised once per exporter rather than per span. Also the
//! small value helpers the rows use: hex ids, attribute lookups, timestamps.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};
use tokentrace_core::semconv;
// JSON text is written with core's writer (`query.rs` quotes with `write_str` too).
pub(crate) use tokentrace_core::json::write_str;
use tokentrace_core::json::{write_f64, write_i64};

/// The resource, pre-serialised once rather than per span.
#[derive(Debug)]
pub(crate) struct ResourceInfo {
    pub(crate) service_name: Option<String>,
    pub(crate) json: String,
}

impl ResourceInfo {
    pub(crate) fn from_resource(resource: &Resource) -> Self {
        let service_name = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|v| v.as_str().into_owned());
        let attributes: Vec<KeyValue> = resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let mut json = String::new();
        write_attributes(&mut json, &attributes, &mut Vec::new());
        Self { service_name, json }
    }
}

/// A time as nanoseconds since the Unix epoch (0 before it, saturating after 2262).
pub(crate) fn time_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A batch whose JSON columns (attributes, events, links) are already
/// serialised: the encoder thread builds it, so the writer thread only binds
/// and inserts.
#[derive(Debug)]
pub(crate) struct EncodedBatch {
    resource: Arc<ResourceInfo>,
    spans: Vec<SpanData>,
    /// Every span's attributes, events and links JSON, back to back.
    json: String,
    /// Per span: where its attributes, events and links end in `json`.
    ends: Vec<[usize; 3]>,
    /// Per span: the attributes [`SpanRecord`] reads, as positions in its attributes.
    found: Vec<Found>,
}

/// Position in a span's attributes of each of [`KEYS`] ([`NOT_FOUND`] when absent).
pub(crate) type Found = [u32; KEYS.len()];
const NOT_FOUND: u32 = u32::MAX;

impl EncodedBatch {
    /// Serialises the JSON columns of `spans`; `order` is scratch space.
    pub(crate) fn encode(
        resource: Arc<ResourceInfo>,
        spans: Vec<SpanData>,
        order: &mut Vec<(u64, usize)>,
    ) -> Self {
        let mut json = String::with_capacity(spans.len() * 512);
        let mut ends = Vec::with_capacity(spans.len());
        let mut found = Vec::with_capacity(spans.len());
        for span in &spans {
            // One pass over the attributes; the last value of a key wins, as
            // an OTel span's later `set_attribute` does.
            let mut f = [NOT_FOUND; KEYS.len()];
            for (i, kv) in span.attributes.iter().enumerate() {
                if let Some(k) = KEYS.iter().position(|k| *k == kv.key.as_str()) {
                    f[k] = u32::try_from(i).unwrap_or(NOT_FOUND);
                }
            }
            found.push(f);
            write_attributes(&mut json, &span.attributes, order);
            let a = json.len();
            write_events(&mut json, span, order);
            let e = json.len();
            write_links(&mut json, span, order);
            ends.push([a, e, json.len()]);
        }
        Self {
            resource,
            spans,
            json,
            ends,
            found,
        }
    }

    /// Number of spans.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// One span of the transaction, with its batch's resource and its JSON.
pub(crate) struct Item<'a> {
    pub(crate) span: &'a SpanData,
    pub(crate) scope_name: &'a str,
    pub(crate) found: &'a Found,
    pub(crate) resource: &'a ResourceInfo,
    pub(crate) attributes: &'a str,
    pub(crate) events: &'a str,
    pub(crate) links: &'a str,
}

pub(crate) fn items<'a>(batches: &[&'a EncodedBatch]) -> Vec<Item<'a>> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.len()).sum());
    for b in batches {
        let mut start = 0;
        for ((span, &[a, e, l]), found) in b.spans.iter().zip(&b.ends).zip(&b.found) {
            out.push(Item {
                span,
                scope_name: span.instrumentation_scope.name(),
                found,
                resource: &b.resource,
                attributes: &b.json[start..a],
                events: &b.json[a..e],
                links: &b.json[e..l],
            });
            start = l;
        }
    }
    out
}

/// The attributes [`SpanRecord`] reads, by index.
pub(crate) const KEYS: [&str; 17] = [
    semconv::GEN_AI_USAGE_INPUT_TOKENS,
    semconv::LLM_TOKEN_COUNT_PROMPT,
    semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv::LLM_TOKEN_COUNT_COMPLETION,
    semconv::GEN_AI_USAGE_TOTAL_TOKENS,
    semconv::LLM_TOKEN_COUNT_TOTAL,
    semconv::GEN_AI_WORKFLOW_NAME,
    semconv::TOKENTRACE_SPAN_TYPE,
    semconv::GEN_AI_PROVIDER_NAME,
    semconv::GEN_AI_RESPONSE_MODEL,
    semconv::GEN_AI_REQUEST_MODEL,
    semconv::USER_ID,
    semconv::SESSION_ID,
    semconv::GEN_AI_CONVERSATION_ID,
    semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    semconv::COST_TOTAL_USD,
];

/// Index in [`KEYS`] of the `semconv` constant of the same name.
pub(crate) mod k {
    pub(crate) const GEN_AI_USAGE_INPUT_TOKENS: usize = 0;
    pub(crate) const LLM_TOKEN_COUNT_PROMPT: usize = 1;
    pub(crate) const GEN_AI_USAGE_OUTPUT_TOKENS: usize = 2;
    pub(crate) const LLM_TOKEN_COUNT_COMPLETION: usize = 3;
    pub(crate) const GEN_AI_USAGE_TOTAL_TOKENS: usize = 4;
    pub(crate) const LLM_TOKEN_COUNT_TOTAL: usize = 5;
    pub(crate) const GEN_AI_WORKFLOW_NAME: usize = 6;
    pub(crate) const TOKENTRACE_SPAN_TYPE: usize = 7;
    pub(crate) const GEN_AI_PROVIDER_NAME: usize = 8;
    pub(crate) const GEN_AI_RESPONSE_MODEL: usize = 9;
    pub(crate) const GEN_AI_REQUEST_MODEL: usize = 10;
    pub(crate) const USER_ID: usize = 11;
    pub(crate) const SESSION_ID: usize = 12;
    pub(crate) const GEN_AI_CONVERSATION_ID: usize = 13;
    pub(crate) const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usize = 14;
    pub(crate) const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usize = 15;
    pub(crate) const COST_TOTAL_USD: usize = 16;
}

/// A span id as 16 lowercase hex digits, bound as TEXT without a `String`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hex16(pub(crate) [u8; 16]);

impl ToSql for Hex16 {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(&self.0)))
    }
}

/// 16 lowercase hex digits of `v`.
pub(crate) fn hex16(v: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = b"0123456789abcdef"[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// 32 lowercase hex digits of `v` (a trace id).
pub(crate) fn hex32(v: u128) -> String {
    let mut out = String::with_capacity(32);
    out.push_str(ascii(&hex16((v >> 64) as u64)));
    out.push_str(ascii(&hex16(v as u64)));
    out
}

fn ascii(hex: &[u8; 16]) -> &str {
    std::str::from_utf8(hex).expect("hex digits are ASCII")
}

pub(crate) fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    // The last value wins, as an OTel span's later `set_attribute` does.
    attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        Value::F64(f) if f.is_finite() => Some(*f as i64),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::F64(f) => Some(*f),
        Value::I64(i) => Some(*i as f64),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

pub(crate) fn kind_str(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// A JSON array of the span's events: `{attributes, name, time_ns}` each.
fn write_events(out: &mut String, span: &SpanData, order: &mut Vec<(u64, usize)>) {
    out.push('[');
    for (i, e) in span.events.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"attributes\":");
        write_attributes(out, &e.attributes, order);
        out.push_str(",\"name\":");
        write_str(out, &e.name);
        out.push_str(",\"time_ns\":");
        write_i64(out, time_ns(e.timestamp));
        out.push('}');
    }
    out.push(']');
}

/// A JSON array of the span's links: `{attributes, span_id, trace_id}` each.
fn write_links(out: &mut String, span: &SpanData, order: &mut Vec<(u64, usize)>) {
    out.push('[');
    for (i, l) in span.links.links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"attributes\":");
        write_attributes(out, &l.attributes, order);
        let _ = write!(
            out,
            ",\"span_id\":\"{}\",\"trace_id\":\"{}\"}}",
            l.span_context.span_id(),
            l.span_context.trace_id()
        );
    }
    out.push(']');
}

/// A JSON object of `attributes`, keys sorted, the last value of a repeated
/// key winning (the layout `serde_json`'s map gave before).
pub(crate) fn write_attributes(
    out: &mut String,
    attributes: &[KeyValue],
    order: &mut Vec<(u64, usize)>,
) {
    order.clear();
    // Sorted by key; the first 8 bytes of a key, as a big-endian number, order
    // most pairs without a string comparison. Among equal keys the original
    // order stays (the index breaks ties), so the last is the latest.
    order.extend(attributes.iter().enumerate().map(|(i, kv)| {
        let mut prefix = [0u8; 8];
        let key = kv.key.as_str().as_bytes();
        let n = key.len().min(8);
        prefix[..n].copy_from_slice(&key[..n]);
        (u64::from_be_bytes(prefix), i)
    }));
    order.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb)
            .then_with(|| attributes[a].key.as_str().cmp(attributes[b].key.as_str()))
            .then(a.cmp(&b))
    });
    out.push('{');
    let mut first = true;
    for (n, &(_, i)) in order.iter().enumerate() {
        let key = attributes[i].key.as_str();
        if order
            .get(n + 1)
            .is_some_and(|&(_, next)| attributes[next].key.as_str() == key)
        {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_str(out, key);
        out.push(':');
        write_value(out, &attributes[i].value);
    }
    out.push('}');
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I64(i) => write_i64(out, *i),
        Value::F64(f) => write_f64(out, *f),
        Value::String(s) => write_str(out, s.as_str()),
        Value::Array(Array::Bool(a)) => write_array(out, a, |out, b| {
            out.push_str(if *b { "true" } else { "false" });
        }),
        Value::Array(Array::I64(a)) => write_array(out, a, |out, i| write_i64(out, *i)),
        Value::Array(Array::F64(a)) => write_array(out, a, |out, f| write_f64(out, *f)),
        Value::Array(Array::String(a)) => {
            write_array(out, a, |out, s: &StringValue| write_str(out, s.as_str()));
        }
        // `Value` and `Array` are non-exhaustive: keep a future variant as text.
        other => write_str(out, &other.as_str()),
    }
}

fn write_array<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_encode_as_json_that_reads_back() {
        let attrs = vec![
            KeyValue::new("z", "quote \" back\\slash \n\u{1} ünï"),
            KeyValue::new("a", 7_i64),
            KeyValue::new("f", 1.0),
            KeyValue::new("small", 4.2e-5),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("b", true),
            KeyValue::new("a", 8_i64),
            KeyValue::new("arr", Value::Array(Array::I64(vec![1, 2]))),
            KeyValue::new(
                "strs",
                Value::Array(Array::String(vec!["x".into(), "\"y\"".into()])),
            ),
        ];
        let mut out = String::new();
        write_attributes(&mut out, &attrs, &mut Vec::new());
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        let expected = serde_json::json!({
            "z": "quote \" back\\slash \n\u{1} ünï",
            "a": 8,
            "f": 1.0,
            "small": 4.2e-5,
            "nan": null,
            "b": true,
            "arr": [1, 2],
            "strs": ["x", "\"y\""],
        });
        assert_eq!(parsed, expected);
        assert!(parsed["f"].is_f64());
        assert!(parsed["a"].is_i64());
        // Keys sorted, each once.
        assert!(
            out.starts_with("{\"a\":8,\"arr\":[1,2],\"b\":true,"),
            "{out}"
        );
    }
}
