//! Usage parsers: one push/finish state machine for every body framing.

use crate::provider::{BodyFormat, Flavor, Provider};
use crate::usage::ResponseInfo;

/// Incremental response parser: feed it the body as it arrives, then `finish`.
#[derive(Debug)]
pub struct ResponseParser {
    provider: Provider,
    flavor: Flavor,
    format: BodyFormat,
}

impl ResponseParser {
    /// A parser for one response body.
    pub fn new(provider: Provider, flavor: Flavor, format: BodyFormat) -> Self {
        Self {
            provider,
            flavor,
            format,
        }
    }

    /// Offer a response header (Bedrock reports InvokeModel usage in headers).
    pub fn observe_header(&mut self, name: &str, value: &str) {
        let _ = (name, value);
    }

    /// Feed the next chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        let _ = chunk;
    }

    /// Everything extracted so far; call once at end of body (or when it is cut short).
    pub fn finish(&mut self) -> ResponseInfo {
        let _ = (self.provider, self.flavor, self.format);
        ResponseInfo::default()
    }
}

/// Parse a whole body in one go.
pub fn parse_body(
    provider: Provider,
    flavor: Flavor,
    format: BodyFormat,
    body: &[u8],
) -> ResponseInfo {
    let mut p = ResponseParser::new(provider, flavor, format);
    p.push(body);
    p.finish()
}
