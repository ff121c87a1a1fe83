//! Adding `stream_options.include_usage` to an OpenAI-style streaming
//! request, every other byte kept.

use serde::Deserialize;

use super::lenient::Scalar;

/// For an OpenAI-style streaming request (`"stream": true`) that does not
/// set `stream_options.include_usage`, the same body with
/// `"stream_options":{"include_usage":true}` added, merged into an existing
/// `stream_options` object; every other byte is kept as it was. `None` when
/// not applicable: not a JSON object, `stream` not `true`, `include_usage`
/// already present (either value: an explicit `false` is respected), or a
/// `stream_options` that is not an object.
///
/// Changing the request body changes what the application sends, so callers
/// do this only when the user opted in, and only for OpenAI-chat-flavoured
/// endpoints that honour the option.
pub fn inject_include_usage(body: &[u8]) -> Option<Vec<u8>> {
    #[derive(Deserialize)]
    struct Check {
        #[serde(default)]
        stream: Scalar,
        #[serde(default)]
        stream_options: Option<serde_json::Map<String, serde_json::Value>>,
    }
    // A null `stream_options` deserialises as `None` too; tell the cases apart
    // by scanning, which also gives the byte offsets for the edit.
    let check: Check = serde_json::from_slice(body).ok()?;
    if check.stream.as_bool() != Some(true) {
        return None;
    }
    let scan = scan_top_level(body, "stream_options")?;
    let mut out = Vec::with_capacity(body.len() + 40);
    match (scan.matches.as_slice(), check.stream_options) {
        ([], _) => {
            out.extend_from_slice(&body[..scan.open]);
            out.extend_from_slice(br#""stream_options":{"include_usage":true},"#);
            out.extend_from_slice(&body[scan.open..]);
        }
        ([(start, end)], None) => {
            // `"stream_options": null`
            out.extend_from_slice(&body[..*start]);
            out.extend_from_slice(br#"{"include_usage":true}"#);
            out.extend_from_slice(&body[*end..]);
        }
        ([(start, _)], Some(map)) if !map.contains_key("include_usage") => {
            let inner = start + 1;
            out.extend_from_slice(&body[..inner]);
            out.extend_from_slice(br#""include_usage":true"#);
            if !map.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(&body[inner..]);
        }
        _ => return None,
    }
    Some(out)
}

/// Where the root object opens, and the value spans of every top-level member named `key`.
#[derive(Debug)]
struct TopLevelScan {
    /// Offset just after the root `{`.
    open: usize,
    matches: Vec<(usize, usize)>,
}

/// Scan a (valid) JSON document's root object for members named `key`.
fn scan_top_level(json: &[u8], key: &str) -> Option<TopLevelScan> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let open = i;
    let mut matches = Vec::new();
    loop {
        i = skip_ws(json, i);
        match json.get(i)? {
            b'}' => return Some(TopLevelScan { open, matches }),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(json, i)?;
        let raw_key = &json[i..key_end];
        let is_match = if raw_key.contains(&b'\\') {
            serde_json::from_slice::<String>(raw_key).ok()? == key
        } else {
            &raw_key[1..raw_key.len() - 1] == key.as_bytes()
        };
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(json, i + 1);
        let end = skip_value(json, start)?;
        if is_match {
            matches.push((start, end));
        }
        i = end;
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `json[i]` is `"`; the offset just past the closing quote.
fn skip_string(json: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match json.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

fn skip_value(json: &[u8], mut i: usize) -> Option<usize> {
    match json.get(i)? {
        b'"' => skip_string(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match json.get(i)? {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while !matches!(
                json.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans<'a>(json: &'a str, key: &str) -> Option<(usize, Vec<&'a str>)> {
        let scan = scan_top_level(json.as_bytes(), key)?;
        Some((
            scan.open,
            scan.matches.iter().map(|&(s, e)| &json[s..e]).collect(),
        ))
    }

    #[test]
    fn finds_top_level_members_only() {
        let json =
            r#" { "a" : {"so": {"b": 1}, "s": "}\"{"} , "b":[1,{"b":2}], "c":null, "b" :"x\"y" } "#;
        assert_eq!(
            spans(json, "b"),
            Some((2, vec![r#"[1,{"b":2}]"#, r#""x\"y""#]))
        );
        assert_eq!(
            spans(json, "a"),
            Some((2, vec![r#"{"so": {"b": 1}, "s": "}\"{"}"#]))
        );
        assert_eq!(spans(json, "c"), Some((2, vec!["null"])));
        assert_eq!(spans(json, "so"), Some((2, vec![])));
        assert_eq!(spans("{}", "a"), Some((1, vec![])));
        assert_eq!(spans(r#"{"n":-1.5e3}"#, "n"), Some((1, vec!["-1.5e3"])));
    }

    #[test]
    fn escaped_keys_compare_decoded() {
        assert_eq!(spans(r#"{"\u0062":true}"#, "b"), Some((1, vec!["true"])));
        assert_eq!(spans(r#"{"b\"":1,"b":2}"#, "b"), Some((1, vec!["2"])));
    }

    #[test]
    fn not_an_object_or_cut_short() {
        for json in [
            "[1]",
            "\"b\"",
            "",
            "{\"b\":1",
            "{\"b\" 1}",
            "{1:2}",
            "{\"b\":\"open",
        ] {
            assert_eq!(spans(json, "b"), None, "{json}");
        }
    }
}
