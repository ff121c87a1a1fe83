//! The JSON toolkit: every place tokentrace reads or writes JSON text.
//!
//! - `scan`: a push-based scanner that walks a body byte by byte as it
//!   arrives and copies out only the values a flavour asks for (the usage
//!   parsers' engine; no buffer grows with the body).
//! - `lite`: a small borrowed tree for the captured values (`usage` objects),
//!   a handful of allocations where `serde_json::Value` takes dozens.

pub(crate) mod lite;
pub(crate) mod scan;
