//! Formatting for the pages: durations, axis labels, the JSON viewer's
//! lines, URL encoding and query strings.

use serde::Serialize;
use serde_json::Value as Json;

use crate::output;

/// Lines of one span's JSON viewer before it is cut short.
const MAX_JSON_LINES: usize = 2000;
/// Characters of one JSON string value shown before it is cut short.
const MAX_JSON_STRING: usize = 20_000;

/// One line of the JSON viewer.
#[derive(Debug, Serialize)]
pub(crate) struct JsonLine {
    pub(crate) indent: usize,
    /// The object key, JSON-quoted.
    pub(crate) key: Option<String>,
    pub(crate) text: String,
    /// `string`, `number`, `bool`, `null` or `punct`.
    pub(crate) class: &'static str,
    pub(crate) comma: bool,
}

/// Labels of `steps + 1` evenly spaced ticks from 0 to `total_ms`: the unit
/// (µs, ms or s) follows the span and the decimals follow the step, so two
/// neighbouring ticks never print the same text (a 0.4 ms trace reads
/// `0 µs, 100 µs, 200 µs…`, not `0.1 ms, 0.1 ms`).
pub(crate) fn axis_labels(total_ms: f64, steps: u32) -> Vec<String> {
    let steps = steps.max(1);
    let total_ms = if total_ms.is_finite() && total_ms > 0.0 {
        total_ms
    } else {
        0.0
    };
    let (unit, per_ms) = if total_ms >= 1000.0 {
        ("s", 1e-3)
    } else if total_ms >= 1.0 {
        ("ms", 1.0)
    } else {
        ("µs", 1e3)
    };
    let step = total_ms * per_ms / f64::from(steps);
    // Enough decimals that the step is at least one unit of the last digit:
    // then rounding keeps neighbours apart.
    let decimals = if step > 0.0 {
        (-step.log10()).ceil().clamp(0.0, 9.0) as usize
    } else {
        0
    };
    (0..=steps)
        .map(|i| format!("{:.*} {unit}", decimals, step * f64::from(i)))
        .collect()
}

/// A duration for people: `480.0 ms`, `12.35 s`, then `4 min 12 s`,
/// `25 h 3 min`, `2 d 3 h` (a session can span days).
pub(crate) fn human_duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 60_000.0 {
        return output::millis(ms.max(0.0));
    }
    let secs = (ms / 1000.0).round() as u64;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {s} s")
    }
}

pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Flattens `v` into indented, classed lines for the JSON viewer.
pub(crate) fn json_lines(
    v: &Json,
    key: Option<&str>,
    indent: usize,
    last: bool,
    out: &mut Vec<JsonLine>,
) {
    if out.len() >= MAX_JSON_LINES {
        if out.len() == MAX_JSON_LINES {
            out.push(JsonLine {
                indent,
                key: None,
                text: "… (truncated)".to_owned(),
                class: "punct",
                comma: false,
            });
        }
        return;
    }
    let line = |text: String, class: &'static str, key: Option<&str>, comma: bool| JsonLine {
        indent: indent.min(20),
        key: key.map(|k| Json::String(k.to_owned()).to_string()),
        text,
        class,
        comma,
    };
    match v {
        Json::Object(map) if !map.is_empty() => {
            out.push(line("{".to_owned(), "punct", key, false));
            let n = map.len();
            for (i, (k, v)) in map.iter().enumerate() {
                json_lines(v, Some(k), indent + 1, i + 1 == n, out);
            }
            out.push(line("}".to_owned(), "punct", None, !last));
        }
        Json::Array(items) if !items.is_empty() => {
            out.push(line("[".to_owned(), "punct", key, false));
            let n = items.len();
            for (i, v) in items.iter().enumerate() {
                json_lines(v, None, indent + 1, i + 1 == n, out);
            }
            out.push(line("]".to_owned(), "punct", None, !last));
        }
        Json::Object(_) => out.push(line("{}".to_owned(), "punct", key, !last)),
        Json::Array(_) => out.push(line("[]".to_owned(), "punct", key, !last)),
        Json::String(s) => {
            let shown: String = if s.chars().count() > MAX_JSON_STRING {
                let mut t: String = s.chars().take(MAX_JSON_STRING).collect();
                t.push('…');
                t
            } else {
                s.clone()
            };
            out.push(line(Json::String(shown).to_string(), "string", key, !last));
        }
        Json::Number(n) => out.push(line(n.to_string(), "number", key, !last)),
        Json::Bool(b) => out.push(line(b.to_string(), "bool", key, !last)),
        Json::Null => out.push(line("null".to_owned(), "null", key, !last)),
    }
}

/// Percent-encodes `s` for a URL path segment or query value (RFC 3986 unreserved kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`) of the non-empty pairs.
pub(crate) fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_viewer_lines_nest_and_end_with_commas_where_json_would() {
        let v = serde_json::json!({"a": 1, "b": [true, null], "c": {}});
        let mut out = Vec::new();
        json_lines(&v, None, 0, true, &mut out);
        let text: Vec<String> = out
            .iter()
            .map(|l| {
                format!(
                    "{}{}{}{}",
                    "  ".repeat(l.indent),
                    l.key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default(),
                    l.text,
                    if l.comma { "," } else { "" }
                )
            })
            .collect();
        let joined = text.join("\n");
        let reparsed: Json = serde_json::from_str(&joined).unwrap();
        assert_eq!(reparsed, v);
    }

    #[test]
    fn axis_ticks_adapt_their_precision_to_the_span() {
        let distinct = |labels: &[String]| labels.windows(2).all(|w| w[0] != w[1]);
        // The reported case: a sub-millisecond trace.
        let sub = axis_labels(0.4, 4);
        assert_eq!(sub, ["0 µs", "100 µs", "200 µs", "300 µs", "400 µs"]);
        let tiny = axis_labels(0.0042, 4);
        assert_eq!(tiny, ["0 µs", "1 µs", "2 µs", "3 µs", "4 µs"]);
        let ms = axis_labels(2.6, 4);
        assert_eq!(ms, ["0.0 ms", "0.7 ms", "1.3 ms", "2.0 ms", "2.6 ms"]);
        assert_eq!(
            axis_labels(0.04, 4),
            ["0 µs", "10 µs", "20 µs", "30 µs", "40 µs"]
        );
        assert_eq!(
            axis_labels(0.002, 4),
            ["0.0 µs", "0.5 µs", "1.0 µs", "1.5 µs", "2.0 µs"]
        );
        assert_eq!(
            axis_labels(480.0, 4),
            ["0 ms", "120 ms", "240 ms", "360 ms", "480 ms"]
        );
        assert_eq!(
            axis_labels(2500.0, 4),
            ["0.0 s", "0.6 s", "1.2 s", "1.9 s", "2.5 s"]
        );
        for total in [
            1e-6, 0.013, 0.1, 0.9999, 1.0, 3.3, 99.9, 999.0, 1000.0, 123_456.0,
        ] {
            let labels = axis_labels(total, 4);
            assert_eq!(labels.len(), 5);
            assert!(distinct(&labels), "{total} ms: {labels:?}");
        }
        // A zero-length trace has one meaningful tick, shown without noise.
        assert_eq!(axis_labels(0.0, 4)[4], "0 µs");
        assert_eq!(axis_labels(f64::NAN, 2), ["0 µs", "0 µs", "0 µs"]);
    }
    #[test]
    fn long_durations_read_in_minutes_hours_and_days() {
        assert_eq!(human_duration(480.0), "480.0 ms");
        assert_eq!(human_duration(12_345.0), "12.35 s");
        assert_eq!(human_duration(252_000.0), "4 min 12 s");
        assert_eq!(human_duration(90_000_120.0), "1 d 1 h");
        assert_eq!(human_duration(11_100_000.0), "3 h 5 min");
        assert_eq!(human_duration(183_600_000.0), "2 d 3 h");
    }

    #[test]
    fn encode_keeps_unreserved_characters_only() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            query_string(&[
                ("x", Some("1".into())),
                ("y", None),
                ("z", Some(String::new()))
            ]),
            "?x=1"
        );
    }
}
