//! W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage parsing.
//!
//! Pure and bounded: these functions take header values and return values or
//! typed errors, never panic, and never look at more than the specifications'
//! size limits. Specifications: <https://www.w3.org/TR/trace-context/> and
//! <https://www.w3.org/TR/baggage/>.
//!
//! ```
//! use tokentrace_core::propagation::{parse_baggage, BaggageLimits, TraceParent};
//!
//! let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
//! assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert!(tp.is_sampled());
//! assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//!
//! let bag = parse_baggage("user.id=alice%20b, bad key=1", BaggageLimits::default());
//! assert_eq!(bag.members, vec![("user.id".to_owned(), "alice b".to_owned())]);
//! assert_eq!(bag.dropped, 1);
//! ```

use std::fmt;
use std::str::FromStr;

use crate::bound::percent_decode;

/// Length of a version-00 `traceparent` value.
const TRACEPARENT_LEN: usize = 55;

/// A parsed `traceparent` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// 16-byte trace id (never all zero).
    pub trace_id: [u8; 16],
    /// 8-byte parent (span) id (never all zero).
    pub span_id: [u8; 8],
    /// Trace flags; bit 0 is `sampled`.
    pub flags: u8,
}

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Wrong length for its version (55 for version 00, at least 55 otherwise).
    #[error("traceparent has the wrong length")]
    Length,
    /// Version is not two lowercase hex digits, or is the forbidden `ff`.
    #[error("traceparent version is invalid")]
    Version,
    /// A field is not lowercase hex of the right width, or a separator is missing.
    #[error("traceparent is malformed")]
    Format,
    /// The trace id is all zeros.
    #[error("traceparent trace-id is all zeros")]
    ZeroTraceId,
    /// The parent id is all zeros.
    #[error("traceparent parent-id is all zeros")]
    ZeroSpanId,
}

impl TraceParent {
    /// The `sampled` trace flag.
    pub const FLAG_SAMPLED: u8 = 0x01;

    /// Parse a `traceparent` value. Version `00` must be exactly 55
    /// characters; a later version is accepted when its first 55 characters
    /// parse and are followed by the end or a `-` (the spec's forward
    /// compatibility rule); version `ff`, uppercase hex, wrong lengths and
    /// all-zero ids are refused. Surrounding spaces and tabs are ignored.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let s = value.trim_matches([' ', '\t']).as_bytes();
        if s.len() < 2 {
            return Err(TraceParentError::Length);
        }
        let version = hex_byte(s[0], s[1]).ok_or(TraceParentError::Version)?;
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        match (version, s.len()) {
            (0, TRACEPARENT_LEN) => {}
            (0, _) => return Err(TraceParentError::Length),
            (_, n) if n < TRACEPARENT_LEN => return Err(TraceParentError::Length),
            (_, n) if n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != b'-' => {
                return Err(TraceParentError::Format);
            }
            _ => {}
        }
        if s[2] != b'-' || s[35] != b'-' || s[52] != b'-' {
            return Err(TraceParentError::Format);
        }
        let mut trace_id = [0u8; 16];
        decode_hex(&s[3..35], &mut trace_id).ok_or(TraceParentError::Format)?;
        let mut span_id = [0u8; 8];
        decode_hex(&s[36..52], &mut span_id).ok_or(TraceParentError::Format)?;
        let flags = hex_byte(s[53], s[54]).ok_or(TraceParentError::Format)?;
        if trace_id == [0; 16] {
            return Err(TraceParentError::ZeroTraceId);
        }
        if span_id == [0; 8] {
            return Err(TraceParentError::ZeroSpanId);
        }
        Ok(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The version-00 header value: `00-{trace_id}-{span_id}-{flags}`.
    pub fn format(&self) -> String {
        self.to_string()
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The parent id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// True when the `sampled` flag is set.
    pub const fn is_sampled(&self) -> bool {
        self.flags & Self::FLAG_SAMPLED != 0
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.span_id_hex(),
            self.flags
        )
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Lowercase hex digit value (uppercase is invalid in trace context).
const fn lower_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    Some(lower_hex(hi)? << 4 | lower_hex(lo)?)
}

fn decode_hex(src: &[u8], dst: &mut [u8]) -> Option<()> {
    if src.len() != dst.len() * 2 {
        return None;
    }
    for (pair, out) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *out = hex_byte(pair[0], pair[1])?;
    }
    Some(())
}

/// Most list members a `tracestate` may carry.
pub const TRACESTATE_MAX_MEMBERS: usize = 32;
/// Longest `tracestate` value accepted, in bytes.
pub const TRACESTATE_MAX_LEN: usize = 512;

/// Why a `tracestate` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// Longer than [`TRACESTATE_MAX_LEN`].
    #[error("tracestate is longer than 512 bytes")]
    TooLong,
    /// More than [`TRACESTATE_MAX_MEMBERS`] members.
    #[error("tracestate has more than 32 members")]
    TooManyMembers,
    /// A member has no `=`.
    #[error("tracestate member has no '='")]
    MissingEquals,
    /// A key breaks the `simple-key` / `tenant@system` grammar.
    #[error("tracestate key is invalid")]
    InvalidKey,
    /// A value is empty, too long, or has a forbidden character.
    #[error("tracestate value is invalid")]
    InvalidValue,
    /// The same key appears twice.
    #[error("tracestate key is duplicated")]
    DuplicateKey,
}

/// Parse a `tracestate` value into its `(key, value)` members, in order.
/// Empty members (`a=1,,b=2`) are skipped, as the spec allows; any invalid
/// member makes the whole header invalid (the spec says not to propagate it).
pub fn parse_tracestate(value: &str) -> Result<Vec<(String, String)>, TraceStateError> {
    if value.len() > TRACESTATE_MAX_LEN {
        return Err(TraceStateError::TooLong);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        if out.len() == TRACESTATE_MAX_MEMBERS {
            return Err(TraceStateError::TooManyMembers);
        }
        let (key, val) = member
            .split_once('=')
            .ok_or(TraceStateError::MissingEquals)?;
        if !valid_tracestate_key(key) {
            return Err(TraceStateError::InvalidKey);
        }
        if !valid_tracestate_value(val) {
            return Err(TraceStateError::InvalidValue);
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(TraceStateError::DuplicateKey);
        }
        out.push((key.to_owned(), val.to_owned()));
    }
    Ok(out)
}

fn key_char(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// `simple-key = lcalpha 0*255(keychar)` or
/// `tenant-id "@" system-id` with `tenant-id = (lcalpha / DIGIT) 0*240(keychar)`
/// and `system-id = lcalpha 0*13(keychar)`.
fn valid_tracestate_key(key: &str) -> bool {
    let b = key.as_bytes();
    match key.split_once('@') {
        None => {
            !b.is_empty()
                && b.len() <= 256
                && b[0].is_ascii_lowercase()
                && b.iter().copied().all(key_char)
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().copied().all(key_char)
                && !s.is_empty()
                && s.len() <= 14
                && s[0].is_ascii_lowercase()
                && s.iter().copied().all(key_char)
        }
    }
}

/// `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`,
/// `chr = %x20 / nblk-chr`.
fn valid_tracestate_value(value: &str) -> bool {
    let b = value.as_bytes();
    let nblk = |c: u8| matches!(c, 0x21..=0x2B | 0x2D..=0x3C | 0x3E..=0x7E);
    !b.is_empty()
        && b.len() <= 256
        && b.last().copied().is_some_and(nblk)
        && b.iter().all(|&c| c == b' ' || nblk(c))
}

/// Limits for [`parse_baggage`]; the defaults are the W3C Baggage minimums a
/// platform must support (64 members, 8192 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaggageLimits {
    /// Most members kept. Default 64.
    pub max_members: usize,
    /// Bytes of the header considered; members ending past it are dropped. Default 8192.
    pub max_bytes: usize,
}

impl Default for BaggageLimits {
    fn default() -> Self {
        Self {
            max_members: 64,
            max_bytes: 8192,
        }
    }
}

/// The members of a `baggage` header, and how many were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    /// `(key, value)` pairs in header order, values percent-decoded, properties removed.
    pub members: Vec<(String, String)>,
    /// Members dropped: invalid key or value, value not UTF-8 once decoded,
    /// past [`BaggageLimits::max_members`], or past [`BaggageLimits::max_bytes`].
    pub dropped: usize,
}

/// Parse a `baggage` header. Never fails: invalid members are dropped and
/// counted in [`Baggage::dropped`], so one bad member does not lose the rest.
/// Member properties (`;prop=x`) are validated loosely and discarded.
pub fn parse_baggage(value: &str, limits: BaggageLimits) -> Baggage {
    let mut out = Baggage::default();
    let mut offset = 0usize;
    for raw in value.split(',') {
        let end = offset + raw.len();
        offset = end + 1;
        let member = raw.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        if end > limits.max_bytes || out.members.len() >= limits.max_members {
            out.dropped += 1;
            continue;
        }
        match parse_baggage_member(member) {
            Some(kv) => out.members.push(kv),
            None => out.dropped += 1,
        }
    }
    out
}

fn parse_baggage_member(member: &str) -> Option<(String, String)> {
    let kv = member.split(';').next().unwrap_or(member);
    let (key, val) = kv.split_once('=')?;
    let key = key.trim_matches([' ', '\t']);
    let val = val.trim_matches([' ', '\t']);
    if key.is_empty() || !key.bytes().all(is_tchar) {
        return None;
    }
    if !val.bytes().all(is_baggage_octet) {
        return None;
    }
    let decoded = percent_decode(val, false)?;
    Some((key.to_owned(), decoded.into_owned()))
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_valid() {
        let tp = TraceParent::parse(VALID).expect("valid");
        assert_eq!(tp.trace_id[0], 0x4b);
        assert_eq!(tp.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        assert_eq!(tp.format(), VALID);
        assert_eq!(" \t".to_owned() + VALID, format!(" \t{tp}"));
        assert_eq!(TraceParent::parse(&format!(" {VALID}\t")), Ok(tp));
        let unsampled =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .expect("valid");
        assert!(!unsampled.is_sampled());
        assert_eq!(VALID.parse::<TraceParent>(), Ok(tp));
    }

    #[test]
    fn traceparent_future_versions() {
        let tp = TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("future version, exact length");
        assert_eq!(tp.format(), VALID);
        assert!(
            TraceParent::parse(
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future"
            )
            .is_ok()
        );
        assert_eq!(
            TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"),
            Err(TraceParentError::Format)
        );
    }

    #[test]
    fn traceparent_invalid() {
        use TraceParentError as E;
        let cases: &[(&str, TraceParentError)] = &[
            ("", E::Length),
            ("0", E::Length),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                E::Version,
            ),
            (
                "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                E::Version,
            ),
            (
                "AA-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                E::Version,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                E::Length,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                E::Length,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                E::Format,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
                E::Format,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
                E::Format,
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                E::Format,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
                E::Format,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                E::ZeroTraceId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                E::ZeroSpanId,
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                E::Length,
            ),
        ];
        for (s, want) in cases {
            assert_eq!(TraceParent::parse(s), Err(*want), "{s}");
        }
        // non-ASCII must not panic on byte slicing
        assert!(
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01").is_err()
        );
    }

    #[test]
    fn tracestate_valid() {
        let ts = parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,\tvendor@sys=a b")
            .expect("ok");
        assert_eq!(
            ts,
            vec![
                ("rojo".to_owned(), "00f067aa0ba902b7".to_owned()),
                ("congo".to_owned(), "t61rcWkgMzE".to_owned()),
                ("vendor@sys".to_owned(), "a b".to_owned()),
            ]
        );
        assert_eq!(parse_tracestate(""), Ok(vec![]));
        assert_eq!(parse_tracestate("1tenant@sys=x").map(|v| v.len()), Ok(1));
    }

    #[test]
    fn tracestate_invalid() {
        use TraceStateError as E;
        assert_eq!(parse_tracestate("Rojo=1"), Err(E::InvalidKey));
        assert_eq!(parse_tracestate("1abc=1"), Err(E::InvalidKey));
        assert_eq!(parse_tracestate("a@1sys=1"), Err(E::InvalidKey));
        assert_eq!(parse_tracestate("a@syssyssyssyssys=1"), Err(E::InvalidKey));
        assert_eq!(parse_tracestate("a=b=c"), Err(E::InvalidValue));
        assert_eq!(parse_tracestate("a="), Err(E::InvalidValue));
        assert_eq!(
            parse_tracestate("a=trailing "),
            Ok(vec![("a".to_owned(), "trailing".to_owned())])
        );
        assert_eq!(parse_tracestate("a=x\u{7f}"), Err(E::InvalidValue));
        assert_eq!(parse_tracestate("novalue"), Err(E::MissingEquals));
        assert_eq!(parse_tracestate("a=1,a=2"), Err(E::DuplicateKey));
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_tracestate(&many.join(",")), Err(E::TooManyMembers));
        let ok: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_tracestate(&ok.join(",")).map(|v| v.len()), Ok(32));
        let long = format!("a={}", "x".repeat(511));
        assert_eq!(parse_tracestate(&long), Err(E::TooLong));
    }

    #[test]
    fn baggage_parsing() {
        let b = parse_baggage(
            "userId=alice, serverNode = DF%2028 ,isProduction=false;prop1;p2=x,emoji=%F0%9F%98%80,empty=",
            BaggageLimits::default(),
        );
        assert_eq!(
            b.members,
            vec![
                ("userId".to_owned(), "alice".to_owned()),
                ("serverNode".to_owned(), "DF 28".to_owned()),
                ("isProduction".to_owned(), "false".to_owned()),
                ("emoji".to_owned(), "😀".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
        );
        assert_eq!(b.dropped, 0);
    }

    #[test]
    fn baggage_drops_and_counts() {
        let b = parse_baggage(
            "good=1,bad key=2,noeq,quote=\"x\",bin=%FF,back=a\\b,ok2=2,,",
            BaggageLimits::default(),
        );
        assert_eq!(
            b.members,
            vec![
                ("good".to_owned(), "1".to_owned()),
                ("ok2".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(b.dropped, 5);

        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let b = parse_baggage(&many.join(","), BaggageLimits::default());
        assert_eq!((b.members.len(), b.dropped), (64, 6));

        let limits = BaggageLimits {
            max_members: 10,
            max_bytes: 8,
        };
        let b = parse_baggage("a=1,b=2,c=3", limits);
        assert_eq!(
            b.members,
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(b.dropped, 1);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = TraceParent::parse(&s);
            let _ = parse_tracestate(&s);
            let b = parse_baggage(&s, BaggageLimits::default());
            prop_assert!(b.members.len() <= 64);
        }

        #[test]
        fn traceparent_round_trips(
            trace_id in any::<[u8; 16]>(),
            span_id in any::<[u8; 8]>(),
            flags in any::<u8>(),
        ) {
            prop_assume!(trace_id != [0; 16] && span_id != [0; 8]);
            let tp = TraceParent { trace_id, span_id, flags };
            let s = tp.format();
            prop_assert_eq!(s.len(), 55);
            prop_assert_eq!(TraceParent::parse(&s), Ok(tp));
        }

        #[test]
        fn traceparent_string_round_trips(s in "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}") {
            match TraceParent::parse(&s) {
                Ok(tp) => prop_assert_eq!(tp.format(), s),
                Err(e) => prop_assert!(matches!(e, TraceParentError::ZeroTraceId | TraceParentError::ZeroSpanId)),
            }
        }

        #[test]
        fn tracestate_round_trips(entries in prop::collection::btree_map("[a-z][a-z0-9_*/-]{0,10}", "[!-+\\--<>-~]{1,10}", 0..10)) {
            let header = entries.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let parsed = parse_tracestate(&header).map_err(|e| TestCaseError::fail(format!("{e}: {header}")))?;
            prop_assert_eq!(parsed, entries.into_iter().collect::<Vec<_>>());
        }
    }
}
