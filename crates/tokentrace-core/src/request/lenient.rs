//! Lenient field types for the request peek: a value of an unexpected type
//! reads as absent instead of failing the whole body.

use std::fmt;

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Most stop sequences / encoding formats kept from one request.
const MAX_LIST: usize = 32;

pub(crate) fn first_u64(candidates: &[&Scalar]) -> Option<u64> {
    candidates.iter().find_map(|s| s.as_u64())
}

pub(crate) fn first_f64(candidates: &[&Scalar]) -> Option<f64> {
    candidates.iter().find_map(|s| s.as_f64())
}

/// Any JSON value, keeping only scalars; containers are skipped unbuilt.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) enum Scalar {
    #[default]
    Absent,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    /// null, array or object.
    Other,
}

impl Scalar {
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U64(n) => Some(n),
            Self::I64(n) => u64::try_from(n).ok(),
            // Integral floats (`64.0`) only; the cast is exact below 2^53.
            Self::F64(f) if f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0 => {
                Some(f as u64)
            }
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::U64(n) => i64::try_from(n).ok(),
            Self::I64(n) => Some(n),
            Self::F64(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => Some(f as i64),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::U64(n) => Some(n as f64),
            Self::I64(n) => Some(n as f64),
            Self::F64(f) => Some(f),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::U64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::I64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::F64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, or the strings of a list (other elements skipped); at most [`MAX_LIST`].
#[derive(Debug, Default)]
pub(crate) struct StrList(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Scalar>()? {
                    if let (Scalar::Str(s), true) = (item, out.len() < MAX_LIST) {
                        out.push(s);
                    }
                }
                Ok(StrList(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrList, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StrList::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<StrList, E> {
                Ok(StrList::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The length of a list; `None` for anything else.
#[derive(Debug, Default)]
pub(crate) struct Count(pub(crate) Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0u64;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(Some(n)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object read as `T`; anything else (null, list, scalar) is skipped as `None`.
#[derive(Debug)]
pub(crate) struct Obj<T>(pub(crate) Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_scalars_and_skip_containers() {
        let read = |s: &str| serde_json::from_str::<Scalar>(s).unwrap();
        assert_eq!(read("true").as_bool(), Some(true));
        assert_eq!(read("64.0").as_u64(), Some(64));
        assert_eq!(read("64.5").as_u64(), None);
        assert_eq!(read("-3").as_i64(), Some(-3));
        assert_eq!(read("-3").as_u64(), None);
        assert_eq!(read("7").as_f64(), Some(7.0));
        assert_eq!(read(r#""x""#).into_string().as_deref(), Some("x"));
        for other in ["null", "[1,{}]", r#"{"a":[1]}"#] {
            assert_eq!(read(other), Scalar::Other, "{other}");
        }
    }

    #[test]
    fn lists_counts_and_objects_are_lenient() {
        let list = |s: &str| serde_json::from_str::<StrList>(s).unwrap().0;
        assert_eq!(list(r#""a""#), ["a"]);
        assert_eq!(list(r#"["a",1,null,"b"]"#), ["a", "b"]);
        assert!(list(r#"{"a":"b"}"#).is_empty());
        let many = serde_json::to_string(&vec!["s"; MAX_LIST + 5]).unwrap();
        assert_eq!(list(&many).len(), MAX_LIST);
        let count = |s: &str| serde_json::from_str::<Count>(s).unwrap().0;
        assert_eq!(count("[1,[2,3],{}]"), Some(3));
        assert_eq!(count(r#""abc""#), None);
        #[derive(Debug, Deserialize)]
        struct T {
            a: u8,
        }
        let obj = |s: &str| serde_json::from_str::<Obj<T>>(s).unwrap().0.map(|t| t.a);
        assert_eq!(obj(r#"{"a":1,"b":[]}"#), Some(1));
        assert_eq!(obj("[1]"), None);
        assert_eq!(obj("null"), None);
    }
}
