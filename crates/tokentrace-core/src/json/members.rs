//! Finding a top-level member's value by byte offsets, without parsing the
//! document into a tree: for edits that must keep every other byte of a
//! request body as it was (`request::inject_include_usage`). The document is
//! assumed valid (callers check it with serde first); a malformed one gives
//! `None` or a wrong span, never a panic.

/// Where the root object opens, and the value spans of every top-level member named `key`.
#[derive(Debug)]
pub(crate) struct TopLevelScan {
    /// Offset just after the root `{`.
    pub(crate) open: usize,
    /// `(start, end)` byte offsets of each matching member's value.
    pub(crate) matches: Vec<(usize, usize)>,
}

/// Scan a (valid) JSON document's root object for members named `key`.
pub(crate) fn scan_top_level(json: &[u8], key: &str) -> Option<TopLevelScan> {
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
