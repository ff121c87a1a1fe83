//! JSON written into a byte budget: always valid, never longer than asked.
//!
//! [`truncate_json`] bounds captured request and response content (a whole
//! document, cut where it is deepest and longest); [`bounded_object`] writes
//! one object from named values (prompt-template variables, metadata),
//! shortening strings and dropping the rest of what does not fit. Both cut
//! strings on a character and mark every cut.

use std::fmt::Write as _;

use serde_json::Value;

use super::write::{escaped_len, write_escaped, write_escaped_prefix, write_str};

/// Marker appended by [`truncate_json`]: at the end of a shortened string, as
/// the last element of a shortened array, and as the last key (with value
/// `null`) of a shortened object.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// The smallest budget [`truncate_json`] honours exactly: below it the output
/// may be up to this many bytes (the marker alone, as a JSON string).
pub const MIN_JSON_BUDGET: usize = TRUNCATION_MARKER.len() + 2;

/// Bound captured JSON content to about `max_bytes` while keeping it valid JSON.
///
/// Returns the bounded JSON text and whether anything was cut. When `json`
/// fits it is returned unchanged; when it does not, it is re-serialised
/// compactly and, if still too long, long strings are shortened and trailing
/// array elements and object members dropped, each cut marked with
/// [`TRUNCATION_MARKER`]. Input that is not JSON at all is returned as a
/// (possibly shortened) JSON string. The result always parses with
/// `serde_json` and is at most `max(max_bytes, MIN_JSON_BUDGET)` bytes long.
/// Object members may come out sorted by key when the input is re-serialised.
///
/// ```
/// use tokentrace_core::json::{truncate_json, TRUNCATION_MARKER};
///
/// let (out, cut) = truncate_json(r#""a long, long answer""#, 20);
/// assert!(cut);
/// assert_eq!(out, format!(r#""a lo{TRUNCATION_MARKER}""#));
///
/// let (out, cut) = truncate_json(r#"{"text":"a long, long answer"}"#, 28);
/// assert!(cut);
/// assert_eq!(out, format!(r#"{{"{TRUNCATION_MARKER}":null}}"#));
/// ```
#[must_use]
pub fn truncate_json(json: &str, max_bytes: usize) -> (String, bool) {
    let budget = max_bytes.max(MIN_JSON_BUDGET);
    let value: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => {
            let as_string = Value::String(json.to_owned());
            let mut out = String::new();
            let written = write_value(&as_string, &mut out, budget);
            return finish(out, written);
        }
    };
    if json.len() <= max_bytes {
        return (json.to_owned(), false);
    }
    let compact = value.to_string();
    if compact.len() <= budget {
        return (compact, false);
    }
    let mut out = String::new();
    let written = write_value(&value, &mut out, budget);
    finish(out, written)
}

fn finish(out: String, written: Written) -> (String, bool) {
    match written {
        Written::Full => (out, false),
        Written::Partial => (out, true),
        Written::Nothing => {
            let mut marker = String::new();
            write_str(&mut marker, TRUNCATION_MARKER);
            (marker, true)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Full,
    Partial,
    Nothing,
}

/// Write `value` into `out` so that `out.len() <= limit` afterwards. On
/// `Nothing`, `out` is left as it was.
fn write_value(value: &Value, out: &mut String, limit: usize) -> Written {
    let start = out.len();
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => {
            let _ = write!(out, "{value}");
            if out.len() <= limit {
                Written::Full
            } else {
                out.truncate(start);
                Written::Nothing
            }
        }
        Value::String(s) => write_string(s, out, limit),
        Value::Array(items) => {
            // Room always kept for `,"<marker>"]`.
            let reserve = TRUNCATION_MARKER.len() + 4;
            if start + 1 + reserve > limit {
                return Written::Nothing;
            }
            out.push('[');
            let inner_limit = limit - reserve;
            let mut state = Written::Full;
            for (i, item) in items.iter().enumerate() {
                let before = out.len();
                if i > 0 {
                    out.push(',');
                }
                match write_value(item, out, inner_limit) {
                    Written::Full => {}
                    Written::Partial => {
                        state = Written::Partial;
                        break;
                    }
                    Written::Nothing => {
                        out.truncate(before);
                        if i > 0 {
                            out.push(',');
                        }
                        write_str(out, TRUNCATION_MARKER);
                        state = Written::Partial;
                        break;
                    }
                }
            }
            out.push(']');
            state
        }
        Value::Object(members) => {
            // Room always kept for `,"<marker>":null}`.
            let reserve = TRUNCATION_MARKER.len() + 9;
            if start + 1 + reserve > limit {
                return Written::Nothing;
            }
            out.push('{');
            let inner_limit = limit - reserve;
            let mut state = Written::Full;
            for (i, (key, item)) in members.iter().enumerate() {
                let before = out.len();
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                let written = if out.len() < inner_limit {
                    write_value(item, out, inner_limit)
                } else {
                    Written::Nothing
                };
                match written {
                    Written::Full => {}
                    Written::Partial => {
                        state = Written::Partial;
                        break;
                    }
                    Written::Nothing => {
                        out.truncate(before);
                        if i > 0 {
                            out.push(',');
                        }
                        write_str(out, TRUNCATION_MARKER);
                        out.push_str(":null");
                        state = Written::Partial;
                        break;
                    }
                }
            }
            out.push('}');
            state
        }
    }
}

fn write_string(s: &str, out: &mut String, limit: usize) -> Written {
    let start = out.len();
    write_str(out, s);
    if out.len() <= limit {
        return Written::Full;
    }
    out.truncate(start);
    // `"` + prefix + marker + `"`.
    let fixed = 2 + TRUNCATION_MARKER.len();
    if start + fixed > limit {
        return Written::Nothing;
    }
    out.push('"');
    write_escaped_prefix(out, s, limit - start - fixed);
    out.push_str(TRUNCATION_MARKER);
    out.push('"');
    Written::Partial
}

/// Serialise `entries` as one JSON object of at most `max_bytes` bytes
/// (never less than `{}`).
///
/// An entry that does not fit is shortened when it is a string (its value
/// cut on a character and `marker` appended) and dropped otherwise; later
/// entries that still fit are kept. Members are written in the order given,
/// values as `serde_json` writes them. Returns the text and the number of
/// entries cut or dropped. Writes straight into the one returned `String`.
///
/// ```
/// use serde_json::json;
/// use tokentrace_core::json::bounded_object;
///
/// let (long, n) = (json!("a long value"), json!(42));
/// let (out, damaged) = bounded_object([("n", &n), ("long", &long)], 22, "…");
/// assert_eq!(out, r#"{"n":42,"long":"a…"}"#);
/// assert_eq!(damaged, 1);
/// ```
#[must_use]
pub fn bounded_object<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a Value)>,
    max_bytes: usize,
    marker: &str,
) -> (String, u32) {
    let marker_len: usize = marker.chars().map(escaped_len).sum();
    let mut out = String::from("{");
    let mut damaged = 0u32;
    for (key, value) in entries {
        let entry = out.len();
        if entry > 1 {
            out.push(',');
        }
        write_str(&mut out, key);
        out.push(':');
        let head = out.len();
        let _ = write!(out, "{value}");
        // The closing `}` must still fit.
        if out.len() < max_bytes {
            continue;
        }
        damaged += 1;
        out.truncate(head);
        // Room for the value's quotes, the marker and the closing `}`.
        let room = max_bytes.checked_sub(head + 2 + marker_len + 1);
        match (value, room) {
            (Value::String(text), Some(room)) => {
                out.push('"');
                write_escaped_prefix(&mut out, text, room);
                write_escaped(&mut out, marker);
                out.push('"');
            }
            _ => out.truncate(entry),
        }
    }
    out.push('}');
    (out, damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn truncate_json_keeps_small_input_verbatim() {
        let json = r#"{ "b": 1,  "a": [1, 2] }"#;
        assert_eq!(truncate_json(json, 100), (json.to_owned(), false));
    }

    #[test]
    fn truncate_json_shortens_strings_and_arrays() {
        let long = "x".repeat(500);
        let json = format!(
            // `content` before `role`: the same key order whether serde_json
            // keeps insertion order (`preserve_order`, which rig-core turns
            // on) or sorts keys.
            r#"{{"messages":[{{"content":"{long}","role":"user"}},{{"content":"hi","role":"user"}}]}}"#
        );
        let (out, cut) = truncate_json(&json, 120);
        assert!(cut);
        assert!(out.len() <= 120, "{} > 120: {out}", out.len());
        let v: Value = serde_json::from_str(&out).expect("valid JSON");
        let content = v["messages"][0]["content"].as_str().expect("string kept");
        assert!(content.starts_with("xxx"));
        assert!(content.ends_with(TRUNCATION_MARKER));
    }

    #[test]
    fn truncate_json_cuts_strings_on_characters_and_escapes() {
        // `"` + 3 bytes of room + marker + `"`: `ab` and then neither half of
        // `é` nor half of `\n`.
        let budget = 2 + TRUNCATION_MARKER.len() + 3;
        for (input, kept) in [
            ("abé", "ab"),
            ("ab\nc", "ab"),
            ("日本", "日"),
            ("a\"b", "a\\\""),
        ] {
            let json = serde_json::to_string(&format!("{input}{}", "z".repeat(40))).unwrap();
            let (out, cut) = truncate_json(&json, budget);
            assert!(cut);
            assert_eq!(out, format!("\"{kept}{TRUNCATION_MARKER}\""), "{input}");
        }
    }

    #[test]
    fn truncate_json_drops_trailing_elements_with_marker() {
        let json = serde_json::to_string(&(0..200).collect::<Vec<u32>>()).expect("ser");
        let (out, cut) = truncate_json(&json, 60);
        assert!(cut);
        let v: Vec<Value> = serde_json::from_str(&out).expect("valid JSON array");
        assert_eq!(v[0], 0);
        assert_eq!(v.last(), Some(&Value::from(TRUNCATION_MARKER)));
        assert!(out.len() <= 60);
    }

    #[test]
    fn truncate_json_wraps_non_json() {
        let (out, cut) = truncate_json("not json", 100);
        assert!(!cut);
        assert_eq!(
            serde_json::from_str::<String>(&out).expect("string"),
            "not json"
        );
        let (out, cut) = truncate_json(&"y".repeat(300), 40);
        assert!(cut);
        assert!(out.len() <= 40);
        assert!(serde_json::from_str::<String>(&out).is_ok());
    }

    #[test]
    fn truncate_json_tiny_budget_gives_marker() {
        let (out, cut) = truncate_json(r#"[123456789012345678, 1, 2]"#, 3);
        assert!(cut);
        assert!(out.len() <= MIN_JSON_BUDGET);
        assert!(serde_json::from_str::<Value>(&out).is_ok());
    }

    #[test]
    fn bounded_object_keeps_everything_that_fits() {
        let (a, b) = (json!("x"), json!({"k": [1, null]}));
        let (s, damaged) = bounded_object([("a", &a), ("b\"", &b)], 100, "…");
        assert_eq!(s, r#"{"a":"x","b\"":{"k":[1,null]}}"#);
        assert_eq!(damaged, 0);
        // Exactly the length of the object fits; one byte less does not.
        assert_eq!(
            bounded_object([("a", &a)], 9, "…"),
            (r#"{"a":"x"}"#.to_owned(), 0)
        );
        assert_eq!(bounded_object([("a", &a)], 8, "…").1, 1);
    }

    #[test]
    fn bounded_object_cuts_strings_on_characters_and_drops_the_rest() {
        let long = json!("é\"quoted\"\n".repeat(20));
        let big = json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let ok = json!(true);
        let (s, damaged) = bounded_object([("big", &big), ("ok", &ok)], 16, "…");
        assert_eq!((s.as_str(), damaged), (r#"{"ok":true}"#, 1));
        // `{"l":"` is 6 bytes, `…"}` 5: room for `é\"` (4 bytes) at 15, not
        // for half of `\"` at 14 or half of `é` at 12.
        for (max, expect) in [
            (15, r#"{"l":"é\"…"}"#),
            (14, r#"{"l":"é…"}"#),
            (13, r#"{"l":"é…"}"#),
            (12, r#"{"l":"…"}"#),
            (11, r#"{"l":"…"}"#),
            (10, "{}"),
        ] {
            let (s, damaged) = bounded_object([("l", &long)], max, "…");
            assert_eq!((s.as_str(), damaged), (expect, 1), "{max}");
        }
        // The marker is escaped like any string.
        let (s, _) = bounded_object([("l", &long)], 12, "\"");
        assert_eq!(s, r#"{"l":"é\""}"#);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                // serde_json's default float parsing is not always exact; keep
                // floats that survive a print/parse round trip.
                .prop_filter("finite, round-trips", |f| {
                    f.is_finite()
                        && serde_json::from_str::<f64>(&Value::from(*f).to_string())
                            .is_ok_and(|g| g == *f)
                })
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn truncate_json_always_valid_and_bounded(v in arb_json(), max in 0usize..400) {
            let json = v.to_string();
            let (out, cut) = truncate_json(&json, max);
            let parsed: Value = serde_json::from_str(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert!(out.len() <= max.max(MIN_JSON_BUDGET), "{} > {}: {}", out.len(), max, out);
            if !cut {
                prop_assert_eq!(parsed, v);
            }
            if json.len() <= max {
                prop_assert!(!cut);
            }
        }

        #[test]
        fn truncate_json_any_string_is_valid(s in any::<String>(), max in 0usize..200) {
            let (out, _) = truncate_json(&s, max);
            prop_assert!(serde_json::from_str::<Value>(&out).is_ok());
            prop_assert!(out.len() <= max.max(MIN_JSON_BUDGET));
        }

        #[test]
        fn bounded_object_is_valid_and_bounded(
            entries in prop::collection::vec((any::<String>(), any::<String>()), 0..6),
            max in 0usize..200,
        ) {
            let values: Vec<(String, Value)> =
                entries.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let (out, damaged) =
                bounded_object(values.iter().map(|(k, v)| (k.as_str(), v)), max, "…");
            prop_assert!(out.len() <= max.max(2), "{} > {max}: {out}", out.len());
            let parsed: Value = serde_json::from_str(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert!(parsed.is_object());
            if damaged == 0 {
                let whole: String = values.iter().map(|(k, v)| format!("{}:{v}", Value::from(k.as_str()))).collect::<Vec<_>>().join(",");
                prop_assert_eq!(out, format!("{{{whole}}}"));
            }
        }
    }
}
