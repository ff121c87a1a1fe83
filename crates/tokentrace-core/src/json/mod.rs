//! The JSON toolkit: every place tokentrace reads or writes JSON text.
//!
//! - `scan.rs`: a push-based scanner that walks a body byte by byte as it
//!   arrives and copies out only the values a flavour asks for (the usage
//!   parsers' engine; no buffer grows with the body).
//! - `lite.rs`: a small borrowed tree for the captured values (`usage` objects),
//!   a handful of allocations where `serde_json::Value` takes dozens.
//! - `write.rs`: string literals, integers and floats written straight into
//!   a `String`, escaped exactly as `serde_json` escapes; the store's column
//!   encoder writes span attributes with it.
//! - `bounded.rs`: JSON that must fit a byte budget and stay valid:
//!   [`truncate_json`] for captured content, [`bounded_object`] for
//!   prompt-template variables and metadata.
//!
//! The request peek's lenient serde readers (`request/lenient.rs`) and the
//! byte-exact `include_usage` edit (`request/inject.rs`) stay beside the
//! request code that is their only user.
//!
//! Cutting plain text on a character boundary is [`crate::bound::truncate_utf8`].

mod bounded;
pub(crate) mod lite;
pub(crate) mod scan;
mod write;

pub use bounded::{MIN_JSON_BUDGET, TRUNCATION_MARKER, bounded_object, truncate_json};
pub use write::{
    escaped_len, needs_escape, write_escaped, write_escaped_prefix, write_f64, write_i64, write_str,
};
