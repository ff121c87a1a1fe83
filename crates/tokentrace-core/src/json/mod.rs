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
//! - `members.rs`: the byte span of a top-level member's value, for edits
//!   that keep every other byte of a request body (`include_usage`).
//!
//! - `lenient.rs`: serde readers that turn a value of the wrong type into
//!   "absent" and skip unread containers unbuilt (`peek_request`'s fields).
//!
//! Cutting plain text on a character boundary is [`crate::bound::truncate_utf8`].

mod bounded;
pub(crate) mod lenient;
pub(crate) mod lite;
pub(crate) mod members;
pub(crate) mod scan;
mod write;

pub use bounded::{MIN_JSON_BUDGET, TRUNCATION_MARKER, bounded_object, truncate_json};
pub use write::{
    escaped_len, needs_escape, write_escaped, write_escaped_prefix, write_f64, write_i64, write_str,
};
