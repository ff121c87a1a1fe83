//! A small JSON tree for the captured `usage` objects.
//!
//! `serde_json::Value` gives every object a `BTreeMap` and every member name
//! its own `String`: a dozen allocations for one OpenAI `usage` object, on
//! every call. [`Lite`] keeps member names borrowed from the captured bytes
//! (unless they contain escapes) and an object's members in one `Vec`, and
//! answers the few questions the extractor asks: a member by name, a count, a
//! float, a string.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A parsed JSON value whose strings borrow from the input where they can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lite<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<Self>),
    /// Members in document order; a repeated name keeps its last value, as
    /// `serde_json` does.
    Object(Vec<(Cow<'a, str>, Self)>),
}

/// The questions the extractor asks of a JSON value, answered alike by
/// [`Lite`] and by `serde_json::Value`.
pub(crate) trait Json: Sized {
    /// The member `key` of an object.
    fn member(&self, key: &str) -> Option<&Self>;
    /// Whether this is an object.
    fn is_obj(&self) -> bool;
    /// A number value.
    fn number(&self) -> Option<&serde_json::Number>;
    /// A string value.
    fn string(&self) -> Option<&str>;
    /// The elements of an array (empty for anything else).
    fn items(&self) -> &[Self];

    /// A token count: a non-negative integer, a float rounded, or a numeric
    /// string.
    fn count(&self) -> Option<u64> {
        if let Some(n) = self.number() {
            return n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f.round() as u64)
            });
        }
        self.string().and_then(|s| s.trim().parse().ok())
    }

    /// A number as `f64`.
    fn float(&self) -> Option<f64> {
        self.number().and_then(serde_json::Number::as_f64)
    }
}

impl Json for Lite<'_> {
    fn member(&self, key: &str) -> Option<&Self> {
        match self {
            Self::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn is_obj(&self) -> bool {
        matches!(self, Self::Object(_))
    }
    fn number(&self) -> Option<&serde_json::Number> {
        match self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }
    fn string(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
    fn items(&self) -> &[Self] {
        match self {
            Self::Array(items) => items,
            _ => &[],
        }
    }
}

impl Json for Value {
    fn member(&self, key: &str) -> Option<&Self> {
        self.get(key)
    }
    fn is_obj(&self) -> bool {
        self.is_object()
    }
    fn number(&self) -> Option<&serde_json::Number> {
        match self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }
    fn string(&self) -> Option<&str> {
        self.as_str()
    }
    fn items(&self) -> &[Self] {
        self.as_array().map_or(&[], Vec::as_slice)
    }
}

/// A member name, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Lite<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LiteVisitor)
    }
}

struct LiteVisitor;

impl<'de> Visitor<'de> for LiteVisitor {
    type Value = Lite<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lite::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Lite::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Lite::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Lite::Number(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Lite::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // JSON has no NaN or infinity; serde_json never hands them over.
        Ok(serde_json::Number::from_f64(v).map_or(Lite::Null, Lite::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lite::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lite::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lite::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Lite::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).clamp(4, 64));
        while let Some(Key(k)) = map.next_key()? {
            let v: Lite<'de> = map.next_value()?;
            members.push((k, v));
        }
        Ok(Lite::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> (Lite<'_>, Value) {
        (
            serde_json::from_str(text).unwrap(),
            serde_json::from_str(text).unwrap(),
        )
    }

    #[test]
    fn answers_like_serde_json_values() {
        let text = r#"{"prompt_tokens": 19, "completion_tokens": 10.6, "total": "29 ",
            "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": null},
            "cost": 0.0125, "tier": "default", "esc\u0061ped": -4, "list": [1, {"a": 2}],
            "dup": 1, "dup": 2}"#;
        let (lite, value) = both(text);
        for key in [
            "prompt_tokens",
            "completion_tokens",
            "total",
            "cost",
            "tier",
            "escaped",
            "list",
            "dup",
            "missing",
        ] {
            let (l, v) = (lite.member(key), value.member(key));
            assert_eq!(l.is_some(), v.is_some(), "{key}");
            assert_eq!(l.and_then(Json::count), v.and_then(Json::count), "{key}");
            assert_eq!(l.and_then(Json::float), v.and_then(Json::float), "{key}");
            assert_eq!(l.and_then(Json::string), v.and_then(Json::string), "{key}");
        }
        let (l, v) = (
            lite.member("prompt_tokens_details"),
            value.member("prompt_tokens_details"),
        );
        assert!(l.unwrap().is_obj() && v.unwrap().is_obj());
        assert_eq!(
            l.and_then(|d| d.member("cached_tokens"))
                .and_then(Json::count),
            Some(3)
        );
        assert_eq!(lite.member("dup").and_then(Json::count), Some(2));
        assert_eq!(
            lite.member("completion_tokens").and_then(Json::count),
            Some(11)
        );
        assert_eq!(lite.member("escaped").and_then(Json::count), None);
    }

    #[test]
    fn member_names_borrow_unless_escaped() {
        let text = br#"{"plain": 1, "tab\tbed": 2}"#;
        let lite: Lite<'_> = serde_json::from_slice(text).unwrap();
        let Lite::Object(members) = lite else {
            panic!("an object")
        };
        assert!(matches!(members[0].0, Cow::Borrowed("plain")));
        assert!(matches!(&members[1].0, Cow::Owned(k) if k == "tab\tbed"));
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        for text in ["{", "{\"a\":}", "[1,", "nul", "{\"a\" 1}", ""] {
            assert!(serde_json::from_str::<Lite<'_>>(text).is_err(), "{text}");
        }
    }
}
