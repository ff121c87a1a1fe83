//! The vocabulary of the detection tables: methods, routes ([`Rule`]),
//! mounts ([`Mount`]) and host rows ([`HostMatch`]). Each provider's module
//! under `crate::providers` writes its own tables in these terms;
//! `tables.rs` gathers them.

use crate::provider::{Flavor, Operation};

/// Allowed methods, as a bit set.
pub(crate) type Methods = u8;
pub(crate) const POST: Methods = 1;
pub(crate) const GET: Methods = 2;
pub(crate) const PUT: Methods = 4;
pub(crate) const DELETE: Methods = 8;
pub(crate) const PATCH: Methods = 16;

pub(crate) fn method_bit(method: &str) -> Methods {
    const NAMES: [(&str, Methods); 5] = [
        ("POST", POST),
        ("GET", GET),
        ("PUT", PUT),
        ("DELETE", DELETE),
        ("PATCH", PATCH),
    ];
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(method))
        .map_or(0, |(_, bit)| *bit)
}

/// What the URL says about the response framing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FormatHint {
    /// Decided by the response `Content-Type`.
    Unknown,
    Json,
    Sse,
    AwsEventStream,
    /// Gemini `streamGenerateContent`: SSE with `alt=sse`, a JSON array otherwise.
    GeminiStream,
}

/// One route: methods + path pattern (relative to its mount) → meaning.
///
/// Pattern segments: a literal (`chat`), alternatives (`search|query`), `*`
/// (any one segment), a capture (`{model}`, `{deployment}`, `{collection}`,
/// `{namespace}`), or a capture with a literal suffix (`{model}:generateContent`).
/// Segments are percent-decoded before matching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) methods: Methods,
    pub(crate) path: &'static str,
    pub(crate) operation: Operation,
    pub(crate) flavor: Flavor,
    pub(crate) stream: Option<bool>,
    pub(crate) format: FormatHint,
}

pub(crate) const fn rule(
    methods: Methods,
    path: &'static str,
    operation: Operation,
    flavor: Flavor,
) -> Rule {
    Rule {
        methods,
        path,
        operation,
        flavor,
        stream: None,
        format: FormatHint::Unknown,
    }
}

impl Rule {
    /// The URL says the response never streams (JSON body).
    pub(crate) const fn unary(self) -> Self {
        Self {
            stream: Some(false),
            format: FormatHint::Json,
            ..self
        }
    }

    /// The URL says the response is not streamed; framing left to `Content-Type`.
    pub(crate) const fn no_stream(self) -> Self {
        Self {
            stream: Some(false),
            ..self
        }
    }

    /// The URL says the response streams, framed as `format`.
    pub(crate) const fn streaming(self, format: FormatHint) -> Self {
        Self {
            stream: Some(true),
            format,
            ..self
        }
    }
}

/// A group of rules under a path prefix (itself a pattern).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mount {
    pub(crate) prefix: &'static str,
    pub(crate) rules: &'static [Rule],
}

pub(crate) const fn mount(prefix: &'static str, rules: &'static [Rule]) -> Mount {
    Mount { prefix, rules }
}

/// How a host row matches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HostMatch {
    /// The host, exactly.
    Exact(&'static str),
    /// Any host ending with this (which starts with `.` or `-`), with a non-empty label before it.
    Suffix(&'static str),
    /// A host starting with the first string and ending with the second.
    Around(&'static str, &'static str),
    /// Any host on this explicit port (self-hosted defaults); only that provider's paths match.
    Port(u16),
}

impl HostMatch {
    pub(crate) fn matches(self, host: &str, port: Option<u16>) -> bool {
        match self {
            Self::Exact(h) => host.eq_ignore_ascii_case(h),
            Self::Suffix(s) => host.len() > s.len() && ends_with_ignore_case(host, s),
            Self::Around(p, s) => {
                host.len() > p.len() + s.len()
                    && starts_with_ignore_case(host, p)
                    && ends_with_ignore_case(host, s)
            }
            Self::Port(p) => port == Some(p),
        }
    }
}

pub(crate) fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}
